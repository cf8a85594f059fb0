//! mixed.csv of the mixed sweep, read as the sweep wrote it and checked: a measured cell
//! has every latency and time, none negative or not a number.

use crate::table::Table;
use anyhow::{bail, Result};
use std::path::Path;

pub use crate::sweep::mixed::Row as MixedRow;

/// Read mixed.csv: one row per (model, variant, purpose).
pub fn read_mixed(path: &Path) -> Result<Vec<MixedRow>> {
    let required = [
        "model", "variant", "purpose", "status", "p50_ms", "p99_ms", "max_ms", "reason",
    ];
    let table = Table::<MixedRow>::read(path, &required)?;
    table.refuse_duplicates(|r| format!("{} {:?} ({})", r.model, r.variant, r.purpose))?;
    if table.rows.is_empty() {
        bail!("{}: no rows", table.path);
    }
    let rows = table.checked(|r, check| {
        match r.status.as_str() {
            "ok" => {
                for (name, x) in [
                    ("p50_ms", r.p50_ms),
                    ("p90_ms", r.p90_ms),
                    ("p99_ms", r.p99_ms),
                    ("p999_ms", r.p999_ms),
                    ("max_ms", r.max_ms),
                    ("jobs_ms", r.jobs_ms),
                    ("job_ms", r.job_ms),
                    ("wall_ms", r.wall_ms),
                ] {
                    check.non_negative(name, x)?;
                }
            }
            "failed" | "not-offered" => {}
            other => {
                return Err(check.error(format!(
                    "status is {other:?}, not ok, failed or not-offered"
                )))
            }
        }
        Ok(())
    })?;
    Ok(rows)
}
