//! syscalls.csv: one row per (model, cell, round), the calls per unit (a download, a served
//! request) worked out from the two runs of the round, and both runs' raw counts.
//!
//! Per unit is a slope: (count of the larger run - count of the smaller) / (units of the
//! larger - units of the smaller). What a run spends whatever its size (loading the
//! binary, starting a runtime's threads, binding, the summary line) is in both runs and
//! cancels; what is left is what one more download or request costs.

use super::counter::{Counts, CALLS};
use anyhow::{Context, Result};
use std::path::Path;

/// The two cells.
pub const DOWNLOAD: &str = "download";
pub const REQUEST: &str = "request";

/// One round of one model in one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub model: String,
    /// The summary line's `driver` (a model that picks its I/O driver at start: monoio's
    /// `io_uring` or `epoll`); empty for the others.
    pub driver: String,
    /// [`DOWNLOAD`] or [`REQUEST`].
    pub cell: String,
    pub round: u64,
    /// The two runs: units (downloads or requests) and counts, smaller run first. None
    /// for a failed cell.
    pub runs: Option<[(u64, Counts); 2]>,
    /// Why the cell failed; empty when it was measured.
    pub reason: String,
}

/// The calls per unit of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerUnit {
    pub total: f64,
    pub calls: [f64; CALLS.len()],
    pub other: f64,
}

/// `(x - x_base) / (units - units_base)`: what one more unit costs. None unless the
/// larger run has more units.
pub fn slope(x_base: u64, x: u64, units_base: u64, units: u64) -> Option<f64> {
    (units > units_base).then(|| (x as f64 - x_base as f64) / (units - units_base) as f64)
}

impl Row {
    pub fn per_unit(&self) -> Option<PerUnit> {
        let [(ub, b), (u, c)] = self.runs?;
        let mut calls = [0.0; CALLS.len()];
        for (i, slot) in calls.iter_mut().enumerate() {
            *slot = slope(b.calls[i], c.calls[i], ub, u)?;
        }
        Some(PerUnit {
            total: slope(b.total, c.total, ub, u)?,
            calls,
            other: slope(b.other(), c.other(), ub, u)?,
        })
    }

    fn status(&self) -> &'static str {
        if self.runs.is_some() {
            "ok"
        } else {
            "failed"
        }
    }
}

/// The header: names, the two runs' units, the calls per unit, both runs' raw counts, the
/// reason.
pub fn header() -> Vec<String> {
    let mut h: Vec<String> = [
        "model",
        "driver",
        "cell",
        "round",
        "status",
        "units_base",
        "units",
    ]
    .map(String::from)
    .to_vec();
    h.push("total_per_unit".into());
    h.extend(CALLS.iter().map(|c| format!("{c}_per_unit")));
    h.push("other_per_unit".into());
    h.push("base_total".into());
    h.extend(CALLS.iter().map(|c| format!("base_{c}")));
    h.push("total".into());
    h.extend(CALLS.iter().map(|c| c.to_string()));
    h.push("reason".into());
    h
}

/// The fields of one row, in [`header`]'s order.
fn record(row: &Row) -> Vec<String> {
    let mut r = vec![
        row.model.clone(),
        row.driver.clone(),
        row.cell.clone(),
        row.round.to_string(),
        row.status().into(),
    ];
    let width = header().len() - r.len() - 1;
    match (row.runs, row.per_unit()) {
        (Some([(ub, base), (u, counts)]), Some(p)) => {
            r.extend([ub.to_string(), u.to_string()]);
            let fixed = |x: f64| format!("{x:.3}");
            r.push(fixed(p.total));
            r.extend(p.calls.iter().map(|x| fixed(*x)));
            r.push(fixed(p.other));
            for c in [base, counts] {
                r.push(c.total.to_string());
                r.extend(c.calls.iter().map(u64::to_string));
            }
        }
        _ => r.extend(std::iter::repeat_n(String::new(), width)),
    }
    r.push(row.reason.clone());
    r
}

/// Write `rows` to `path` (rewritten whole after every cell).
pub fn write(path: &Path, rows: &[Row]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header())?;
    for row in rows {
        writer.write_record(record(row))?;
    }
    let bytes = writer.into_inner().context("cannot write CSV")?;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::super::counter::index;
    use super::*;

    fn counts(total: u64, read: u64, futex: u64) -> Counts {
        let mut c = Counts {
            total,
            ..Counts::default()
        };
        c.calls[index("read").unwrap()] = read;
        c.calls[index("futex").unwrap()] = futex;
        c
    }

    /// Start-up cancels: 900 calls at 50 downloads and 2,900 at 250 are 10 per download,
    /// whatever the fixed 400; a call that fell is a negative slope, kept as measured.
    #[test]
    fn per_unit_is_the_slope_between_the_two_runs() {
        assert_eq!(slope(900, 2_900, 50, 250), Some(10.0));
        assert_eq!(slope(5, 4, 50, 250), Some(-0.005));
        assert_eq!(slope(1, 2, 50, 50), None);
        let row = Row {
            model: "sync".into(),
            driver: String::new(),
            cell: DOWNLOAD.into(),
            round: 1,
            runs: Some([(50, counts(900, 100, 20)), (250, counts(2_900, 500, 20))]),
            reason: String::new(),
        };
        let p = row.per_unit().unwrap();
        let call = |name| p.calls[index(name).unwrap()];
        assert_eq!((p.total, call("read"), call("futex")), (10.0, 2.0, 0.0));
        // 780 others at 50, 2,380 at 250: 8 per download; the parts add up to the total.
        assert_eq!(p.other, 8.0);
        assert_eq!(p.calls.iter().sum::<f64>() + p.other, p.total);
    }

    #[test]
    fn a_row_is_written_under_the_header_failed_ones_empty() {
        let ok = Row {
            model: "monoio-async".into(),
            driver: "io_uring".into(),
            cell: REQUEST.into(),
            round: 2,
            runs: Some([(200, counts(1_000, 0, 10)), (1_000, counts(3_000, 0, 810))]),
            reason: String::new(),
        };
        let failed = Row {
            model: "sync".into(),
            driver: String::new(),
            cell: REQUEST.into(),
            round: 1,
            runs: None,
            reason: "the server exited with exit status: 1: bind, failed".into(),
        };
        let d = crate::test_dir("syscalls-rows");
        let path = d.join("syscalls.csv");
        write(&path, &[ok, failed]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let h = header();
        assert_eq!(h.len(), 7 + 28 + 27 + 27 + 1);
        assert_eq!(lines[0], h.join(","));
        let ok: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(ok.len(), h.len());
        let at = |name: &str| ok[h.iter().position(|c| c == name).unwrap()];
        assert_eq!(
            (at("driver"), at("status"), at("units_base"), at("units")),
            ("io_uring", "ok", "200", "1000")
        );
        assert_eq!(
            (
                at("total_per_unit"),
                at("futex_per_unit"),
                at("other_per_unit")
            ),
            ("2.500", "1.000", "1.500")
        );
        assert_eq!(
            (at("base_futex"), at("futex"), at("total")),
            ("10", "810", "3000")
        );
        assert!(
            lines[2].starts_with("sync,,request,1,failed,,,"),
            "{}",
            lines[2]
        );
        assert!(lines[2].ends_with(",\"the server exited with exit status: 1: bind, failed\""));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
