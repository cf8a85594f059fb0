//! costs-fit.csv's rows: per (model, workload), a straight line through the fastest run
//! of every fitted size (its slope is the cost of one task), and the same through the
//! medians, or why there is no fit.

use super::{Cell, Fit};
use crate::stats::fit::linear_fit;

/// The fitted cost of every (model, workload) in `cells`, or why there is none.
pub fn fits(cells: &[Cell]) -> Vec<Fit> {
    let mut keys: Vec<(&str, &str)> = cells
        .iter()
        .map(|c| (c.model.as_str(), c.workload.as_str()))
        .collect();
    keys.dedup();
    keys.into_iter()
        .map(|(model, workload)| {
            let ladder: Vec<&Cell> = cells
                .iter()
                .filter(|c| c.model == model && c.workload == workload)
                .collect();
            let fitted: Vec<&&Cell> = ladder
                .iter()
                .filter(|c| c.stage == "fit" && c.status == "ok")
                .collect();
            let line = |y: fn(&Cell) -> Option<f64>| {
                let points: Vec<(f64, f64)> = fitted
                    .iter()
                    .filter_map(|c| Some((c.units as f64, y(c)? / 1e3)))
                    .collect();
                (points.len() >= 3).then(|| linear_fit(&points)).flatten()
            };
            let (fastest, middle) = (line(|c| c.min_ms), line(|c| c.wall_ms));
            let reason = match (&fastest, ladder.iter().find(|c| c.status != "ok")) {
                (Some(_), _) => String::new(),
                (None, Some(c)) => format!("{}: {}", c.status, c.reason),
                (None, None) => format!("{} sizes fitted, 3 needed", fitted.len()),
            };
            Fit {
                model: model.into(),
                workload: workload.into(),
                cost_us: fastest.map(|f| f.slope * 1e6),
                base_ms: fastest.map(|f| f.intercept * 1e3),
                r2: fastest.map(|f| f.r2),
                median_cost_us: middle.map(|f| f.slope * 1e6),
                median_r2: middle.map(|f| f.r2),
                points: fitted.len(),
                reason,
            }
        })
        .collect()
}
