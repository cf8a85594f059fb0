//! The report's inputs: every CSV in results/, read through the one reader
//! ([`crate::table`]) into the figures the sections use, and checked for numbers no run
//! can produce ([`crate::table::check`]: NaN, infinity, a time of 0 or less, negative
//! memory, an empty measured field, a second row for the same cell), each refused with
//! "file:line: what".
//!
//! - [`bench`] reads summary.csv (and the kept runs', the Python models');
//! - [`scale`] reads scale.csv and scale-fit.csv;
//! - [`costs`] reads costs.csv and costs-fit.csv;
//! - [`mixed`] reads mixed.csv;
//! - [`serve`] reads serve.csv and serve-knees.csv.

mod bench;
mod costs;
mod mixed;
mod scale;
mod serve;

pub use bench::{read_bench, Cell, Python};
pub use costs::{read_cost_cells, read_cost_fits, CostCell, CostFit};
pub use mixed::{read_mixed, MixedRow};
pub use scale::{read_fits, read_scale, Fit, Measure, ScaleCell};
#[cfg(test)]
pub use serve::read_serve;
pub use serve::{KneeRow, Serve, ServeRow};

use std::path::Path;

/// A `key=value ...` text: what `make bench` recorded about itself (bench-settings.txt),
/// or the sweep's plan line (scale-limits.txt).
pub struct Settings {
    pub text: String,
}

impl Settings {
    /// The file's text, or none if it is missing (the figures it gives are then left out).
    pub fn read(path: &Path) -> Settings {
        Settings {
            text: std::fs::read_to_string(path).unwrap_or_default(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        self.text
            .split_whitespace()
            .find_map(|t| t.strip_prefix(prefix.as_str()))
    }

    pub fn num(&self, key: &str) -> Option<f64> {
        self.get(key)?.parse().ok()
    }
}

#[cfg(test)]
mod tests;
