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

use std::collections::BTreeMap;
use std::path::Path;

/// The I/O driver a model is named for: `monoio-async` is the thread-per-core model on
/// io_uring (its twin `monoio-epoll` runs the same code on epoll). Where io_uring is
/// missing (Docker's default seccomp profile, `kernel.io_uring_disabled`) monoio falls back
/// to epoll, and a row of `monoio-async` would then be epoll under the io_uring name: the
/// report leaves such rows out and says so ([`wrong_driver`]). None: any driver, or none.
pub fn named_driver(model: &str) -> Option<&'static str> {
    match model {
        "monoio-async" => Some("io_uring"),
        "monoio-epoll" => Some("epoll"),
        _ => None,
    }
}

/// Whether a row of `model` that ran `driver` (the summary line's `driver`, empty where a
/// file predates the column or the model names none) measured another driver than the
/// one its name stands for.
pub fn wrong_driver(model: &str, driver: &str) -> bool {
    !driver.is_empty() && named_driver(model).is_some_and(|named| named != driver)
}

/// The sentence for rows left out by [`wrong_driver`]: `what` names them ("serve.csv: 12
/// steps of monoio-async").
pub fn wrong_driver_note(what: &str, model: &str, driver: &str) -> String {
    format!(
        "_{what} ran on {driver}, not on {}, the driver its name stands for (io_uring was not available: see io_uring_disabled in the run's settings): left out here; `monoio-epoll` measures that driver._\n\n",
        named_driver(model).unwrap_or("its driver")
    )
}

/// `rows` split in two: those measured on the driver their model's name stands for (or
/// on any, for a model that names none), which the report shows, and those it leaves out
/// ([`wrong_driver`]), which it names with [`left_out_notes`]. `of` gives a row's model
/// and driver.
pub fn split_wrong_driver<T>(rows: Vec<T>, of: impl Fn(&T) -> (&str, &str)) -> (Vec<T>, Vec<T>) {
    rows.into_iter().partition(|r| {
        let (model, driver) = of(r);
        !wrong_driver(model, driver)
    })
}

/// What a section says of the rows it left out: one [`wrong_driver_note`] per (model,
/// driver), naming the file and how many cells ("scale.csv: 14 cells of monoio-async");
/// empty when none was left out.
pub fn left_out_notes<'a>(
    file: &str,
    left_out: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for key in left_out {
        *counts.entry(key).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((model, driver), n)| {
            let cells = if n == 1 { "cell" } else { "cells" };
            wrong_driver_note(&format!("{file}: {n} {cells} of {model}"), model, driver)
        })
        .collect()
}

#[cfg(test)]
mod driver_tests {
    use super::*;

    #[test]
    fn a_monoio_async_row_that_ran_epoll_is_the_wrong_driver() {
        assert!(wrong_driver("monoio-async", "epoll"));
        assert!(!wrong_driver("monoio-async", "io_uring"));
        assert!(wrong_driver("monoio-epoll", "io_uring"));
        assert!(!wrong_driver("monoio-epoll", "epoll"));
        // A file from before the column, and models that name no driver.
        assert!(!wrong_driver("monoio-async", ""));
        assert!(!wrong_driver("tokio-async", "epoll"));
    }
}

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
