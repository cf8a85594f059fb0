//! Reading the CSVs back: a small RFC 4180 reader whose errors name the file and line.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;

/// A CSV file as rows of named fields.
pub struct Table {
    pub path: String,
    pub rows: Vec<Row>,
}

pub struct Row {
    /// 1-based line number in the file, for error messages.
    pub line: usize,
    fields: HashMap<String, String>,
    path: String,
}

impl Row {
    /// A field as text ("" when empty).
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }

    /// A field that must be a number.
    pub fn num(&self, name: &str) -> Result<f64> {
        let text = self.get(name);
        text.parse::<f64>().with_context(|| {
            format!(
                "{}:{}: column {name} is {text:?}, not a number",
                self.path, self.line
            )
        })
    }

    /// A field that may be empty (a skipped or failed cell), else a number.
    pub fn opt(&self, name: &str) -> Result<Option<f64>> {
        if self.get(name).is_empty() {
            Ok(None)
        } else {
            self.num(name).map(Some)
        }
    }
}

impl Table {
    /// Read `path`, which must have a header with every column in `required`.
    pub fn read(path: &Path, required: &[&str]) -> Result<Table> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Table::parse(&path.display().to_string(), &text, required)
    }

    pub fn parse(path: &str, text: &str, required: &[&str]) -> Result<Table> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            bail!("{path}: empty file, expected a header line")
        };
        let header = split(header).with_context(|| format!("{path}:1: bad header"))?;
        for column in required {
            if !header.iter().any(|h| h == column) {
                bail!("{path}:1: no column {column} in the header");
            }
        }
        let mut rows = Vec::new();
        for (i, line) in lines {
            let values = split(line).with_context(|| format!("{path}:{}: bad quoting", i + 1))?;
            if values.len() != header.len() {
                bail!(
                    "{path}:{}: {} fields, the header has {}",
                    i + 1,
                    values.len(),
                    header.len()
                );
            }
            rows.push(Row {
                line: i + 1,
                fields: header.iter().cloned().zip(values).collect(),
                path: path.to_string(),
            });
        }
        Ok(Table {
            path: path.to_string(),
            rows,
        })
    }
}

/// Split one CSV line into fields, honouring double quotes.
fn split(line: &str) -> Result<Vec<String>> {
    let (mut fields, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        bail!("unterminated quote");
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_numbers() {
        let t = Table::parse("x.csv", "a,b,c\n1,\"x, \"\"y\"\"\",\n", &["a", "c"]).unwrap();
        assert_eq!(t.rows[0].get("b"), "x, \"y\"");
        assert_eq!(t.rows[0].num("a").unwrap(), 1.0);
        assert_eq!(t.rows[0].opt("c").unwrap(), None);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = Table::parse("r/summary.csv", "a,b\n1,2\n3\n", &[])
            .err()
            .unwrap()
            .to_string();
        assert_eq!(e, "r/summary.csv:3: 1 fields, the header has 2");
        let e = Table::parse("r/s.csv", "a,b\n1,zz\n", &[]).unwrap().rows[0]
            .num("b")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "r/s.csv:2: column b is \"zz\", not a number");
        let e = Table::parse("r/s.csv", "a\n1\n", &["mean_s"])
            .err()
            .unwrap()
            .to_string();
        assert_eq!(e, "r/s.csv:1: no column mean_s in the header");
        assert!(Table::parse("r/s.csv", "", &[]).is_err());
    }
}
