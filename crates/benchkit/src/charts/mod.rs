//! Every SVG chart of the report, drawn with plotters, one file per kind of chart:
//!
//! - [`bars`]: bars per model for a workload of `make bench`, with whiskers and the ideal;
//! - [`lines`]: value against N for the sweeps (scale, costs), log-log or linear;
//! - [`percentiles`]: latency percentiles per variant, one panel per model (mixed).

mod bars;
mod lines;
mod percentiles;

pub use bars::{bars, Bar, Group};
pub use lines::{lines, Line};
pub use percentiles::{percentiles, Percentiles};

use anyhow::anyhow;

/// 1500 -> "1.5k", 2e6 -> "2M", 0.25 -> "0.25".
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("chart: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(2e6), "2M");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(10.0), "10");
    }
}
