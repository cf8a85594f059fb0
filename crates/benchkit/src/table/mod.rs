//! The CSVs in results/, read and written with the `csv` crate: each row is a typed
//! record (serde) whose struct is the file's schema, and every error names the file and
//! the line, so a hand-edited or truncated CSV is found at once.
//!
//! Columns added later (peak PSS, worker threads) are `Option`s, which serde fills with
//! `None` when an older file has no such column: old results stay readable.

pub mod check;

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use std::path::Path;

/// The rows of one CSV file, each with its line number for later error messages.
pub struct Table<T> {
    pub path: String,
    pub rows: Vec<Line<T>>,
}

/// One row and the 1-based line it starts on.
pub struct Line<T> {
    pub line: u64,
    pub row: T,
}

impl<T> Line<T> {
    /// "path:line: message", for checks that go beyond the types.
    pub fn error(&self, path: &str, message: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{path}:{}: {message}", self.line)
    }
}

impl<T: DeserializeOwned> Table<T> {
    /// Read `path`, whose header must name every column in `required`.
    pub fn read(path: &Path, required: &[&str]) -> Result<Table<T>> {
        let text =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Table::parse(&path.display().to_string(), &text, required)
    }

    /// Parse CSV text; `path` only names it in errors.
    pub fn parse(path: &str, text: &[u8], required: &[&str]) -> Result<Table<T>> {
        let mut reader = csv::Reader::from_reader(text);
        let header = reader.headers().map_err(|e| located(path, &e))?.clone();
        if header.is_empty() {
            bail!("{path}: empty file, expected a header line");
        }
        for column in required {
            if !header.iter().any(|h| h == *column) {
                bail!("{path}:1: no column {column} in the header");
            }
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| located(path, &e))?;
            let line = record.position().map_or(0, |p| p.line());
            let row = record
                .deserialize(Some(&header))
                .map_err(|e| match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => {
                        field_error(path, line, &header, &record, err)
                    }
                    _ => located(path, &e),
                })?;
            rows.push(Line { line, row });
        }
        Ok(Table {
            path: path.to_string(),
            rows,
        })
    }
}

impl<T> Table<T> {
    /// Every row checked by `each`, with a [`check::Check`] whose errors name the file and
    /// the line, then the rows alone: the shape every reader of results/ shares.
    pub fn checked(self, each: impl Fn(&T, &check::Check<T>) -> Result<()>) -> Result<Vec<T>> {
        for line in &self.rows {
            each(
                &line.row,
                &check::Check {
                    path: &self.path,
                    line,
                },
            )?;
        }
        Ok(self.rows.into_iter().map(|l| l.row).collect())
    }

    /// Refuse a second row for the same cell, as "path:line: a second row for KEY (the
    /// first is on line N)": each reader names what makes one of its rows unique.
    pub fn refuse_duplicates<K: PartialEq + std::fmt::Display>(
        &self,
        key: impl Fn(&T) -> K,
    ) -> Result<()> {
        for (i, later) in self.rows.iter().enumerate() {
            let k = key(&later.row);
            if let Some(first) = self.rows[..i].iter().find(|r| key(&r.row) == k) {
                return Err(later.error(
                    &self.path,
                    format!("a second row for {k} (the first is on line {})", first.line),
                ));
            }
        }
        Ok(())
    }
}

/// A csv error as "path:line: what".
fn located(path: &str, e: &csv::Error) -> anyhow::Error {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => anyhow::anyhow!("{path}:{line}: {len} fields, the header has {expected_len}"),
        _ => anyhow::anyhow!("{path}:{line}: {e}"),
    }
}

/// A field that did not fit its type, named by column and value.
fn field_error(
    path: &str,
    line: u64,
    header: &csv::StringRecord,
    record: &csv::StringRecord,
    err: &csv::DeserializeError,
) -> anyhow::Error {
    let index = err.field().map(|i| i as usize);
    let column = index.and_then(|i| header.get(i)).unwrap_or("?");
    let value = index.and_then(|i| record.get(i)).unwrap_or("");
    match err.kind() {
        csv::DeserializeErrorKind::ParseFloat(_) | csv::DeserializeErrorKind::ParseInt(_) => {
            anyhow::anyhow!("{path}:{line}: column {column} is {value:?}, not a number")
        }
        // A type's own check (a status that is no status) names its column itself.
        kind if index.is_none() => anyhow::anyhow!("{path}:{line}: {kind}"),
        kind => anyhow::anyhow!("{path}:{line}: column {column}: {kind}"),
    }
}

/// Write `rows` under a header made of the record's field names.
pub fn write<'a, T: Serialize + 'a>(
    path: &Path,
    rows: impl IntoIterator<Item = &'a T>,
) -> Result<()> {
    let text = to_text(rows)?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The CSV text of `rows`, header first.
pub fn to_text<'a, T: Serialize + 'a>(rows: impl IntoIterator<Item = &'a T>) -> Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row).context("cannot write a CSV row")?;
    }
    let bytes = writer.into_inner().context("cannot write CSV")?;
    // Every field serialised is a Rust `String` or a number, so the text is UTF-8.
    Ok(String::from_utf8(bytes)?)
}

/// Serialise an optional number with `D` decimals ("" when absent), so the CSVs read
/// like a table (0.450249, not 0.45024883242).
pub fn fixed<const D: usize, S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(x) => s.serialize_str(&format!("{x:.D$}")),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Row {
        a: f64,
        b: String,
        #[serde(serialize_with = "fixed::<2, _>")]
        c: Option<f64>,
        /// A column that older files lack.
        #[serde(default)]
        d: Option<u64>,
    }

    /// A field with a comma, a double quote and a newline goes out quoted and comes back
    /// whole, on the line where its record starts.
    #[test]
    fn a_field_with_comma_quote_and_newline_round_trips() {
        let rows = [
            Row {
                a: 1.0,
                b: "worker 3 failed, \"badly\"\nsecond line".into(),
                c: Some(0.126),
                d: None,
            },
            Row {
                a: 2.5,
                b: "plain".into(),
                c: None,
                d: Some(7),
            },
        ];
        let text = to_text(&rows).unwrap();
        assert_eq!(
            text,
            "a,b,c,d\n1.0,\"worker 3 failed, \"\"badly\"\"\nsecond line\",0.13,\n2.5,plain,,7\n"
        );
        let back: Table<Row> = Table::parse("x.csv", text.as_bytes(), &["a", "b"]).unwrap();
        assert_eq!(back.rows[0].row.b, rows[0].b);
        assert_eq!(back.rows[0].row.c, Some(0.13));
        assert_eq!(back.rows[1].row, rows[1]);
        assert_eq!((back.rows[0].line, back.rows[1].line), (2, 4));
    }

    #[test]
    fn older_files_without_the_new_column_are_read() {
        let t: Table<Row> = Table::parse("old.csv", b"a,b,c\n1,x,\n", &["a"]).unwrap();
        assert_eq!(t.rows[0].row.d, None);
        assert_eq!(t.rows[0].row.c, None);
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = |text: &str, required: &[&str]| {
            Table::<Row>::parse("r/s.csv", text.as_bytes(), required)
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            err("a,b,c\n1,x,\n3\n", &[]),
            "r/s.csv:3: 1 fields, the header has 3"
        );
        assert_eq!(
            err("a,b,c\n1,x,\nzz,y,\n", &[]),
            "r/s.csv:3: column a is \"zz\", not a number"
        );
        assert_eq!(
            err("a,b,c\n1,x,\n", &["mean_s"]),
            "r/s.csv:1: no column mean_s in the header"
        );
        assert_eq!(err("", &[]), "r/s.csv: empty file, expected a header line");
    }
}
