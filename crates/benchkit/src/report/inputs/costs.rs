//! costs.csv and costs-fit.csv of the costs sweep, read as the sweep wrote them (its own
//! row types) and checked: a cost is above 0, r² lies between 0 and 1, a measured cell
//! has its times.

use crate::table::check::Check;
use crate::table::Table;
use anyhow::Result;
use std::path::Path;

pub use crate::sweep::costs::{Cell as CostCell, Fit as CostFit};

/// Read costs-fit.csv: per (model, workload) the fitted cost, or why there is none.
pub fn read_cost_fits(path: &Path) -> Result<Vec<CostFit>> {
    let required = ["model", "workload", "cost_us", "r2", "points", "reason"];
    let table = Table::<CostFit>::read(path, &required)?;
    table.refuse_duplicates(|r| format!("{} {}", r.model, r.workload))?;
    let rows = table.checked(|r, check| {
        check.optional("cost_us", r.cost_us, Check::time)?;
        check.optional("median_cost_us", r.median_cost_us, Check::time)?;
        // The intercept may be below 0: a line through the fastest runs, not a time.
        check.optional("base_ms", r.base_ms, Check::finite)?;
        check.optional("r2", r.r2, Check::r2)?;
        check.optional("median_r2", r.median_r2, Check::r2)?;
        if r.cost_us.is_some() && r.r2.is_none() {
            return Err(check.error("r2 is empty in a fitted row"));
        }
        Ok(())
    })?;
    Ok(rows)
}

/// Read costs.csv: every cell of the sweep, probes included.
pub fn read_cost_cells(path: &Path) -> Result<Vec<CostCell>> {
    let required = ["model", "workload", "units", "stage", "status", "min_ms"];
    let table = Table::<CostCell>::read(path, &required)?;
    let rows = table.checked(|r, check| {
        if r.status == "ok" {
            check.time("wall_ms", r.wall_ms)?;
            check.time("min_ms", r.min_ms)?;
            check.time("max_ms", r.max_ms)?;
        }
        Ok(())
    })?;
    Ok(rows)
}
