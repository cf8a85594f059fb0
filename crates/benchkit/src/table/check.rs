//! The checks every reader of results/ applies beyond the types: numbers no run can
//! produce (NaN, infinity, a time of 0 or less, negative memory, an empty field in a
//! measured row), each refused with "file:line: what", so a hand-edited or corrupted CSV
//! never reaches a table or a chart.

use super::Line;
use anyhow::Result;

/// Checks of one row's numbers, whose errors name the file, the line and the column.
pub struct Check<'a, T> {
    pub path: &'a str,
    pub line: &'a Line<T>,
}

impl<T> Check<'_, T> {
    /// "path:line: message".
    pub fn error(&self, message: impl std::fmt::Display) -> anyhow::Error {
        self.line.error(self.path, message)
    }

    /// A number that must be there and be finite.
    pub fn finite(&self, name: &str, x: Option<f64>) -> Result<f64> {
        match x {
            None => Err(self.error(format!("{name} is empty in a measured row"))),
            Some(x) if !x.is_finite() => {
                Err(self.error(format!("{name} is {x}, not a finite number")))
            }
            Some(x) => Ok(x),
        }
    }

    /// A measured time, or a cost: above 0 (a median of 0 would print a speedup of "inf").
    pub fn time(&self, name: &str, x: Option<f64>) -> Result<f64> {
        match self.finite(name, x)? {
            x if x <= 0.0 => {
                Err(self.error(format!("{name} is {x}: a measured time must be above 0")))
            }
            x => Ok(x),
        }
    }

    /// A rate (requests a second): above 0.
    pub fn rate(&self, name: &str, x: Option<f64>) -> Result<f64> {
        match self.finite(name, x)? {
            x if x <= 0.0 => Err(self.error(format!("{name} is {x}: a rate must be above 0"))),
            x => Ok(x),
        }
    }

    /// Memory, a latency or a spread: 0 or more.
    pub fn non_negative(&self, name: &str, x: Option<f64>) -> Result<f64> {
        match self.finite(name, x)? {
            x if x < 0.0 => Err(self.error(format!("{name} is {x}: it cannot be negative"))),
            x => Ok(x),
        }
    }

    /// Memory that older files lack: None when absent or 0 (not measured).
    pub fn optional_bytes(&self, name: &str, x: Option<f64>) -> Result<Option<f64>> {
        match x {
            None => Ok(None),
            some => Ok(Some(self.non_negative(name, some)?).filter(|b| *b > 0.0)),
        }
    }

    /// A number a row may leave empty, checked by `check` when it is there.
    pub fn optional(
        &self,
        name: &str,
        x: Option<f64>,
        check: impl Fn(&Self, &str, Option<f64>) -> Result<f64>,
    ) -> Result<Option<f64>> {
        x.map(|x| check(self, name, Some(x))).transpose()
    }

    /// A coefficient of determination: from 0 to 1.
    pub fn r2(&self, name: &str, x: Option<f64>) -> Result<f64> {
        match self.finite(name, x)? {
            x if !(0.0..=1.0).contains(&x) => {
                Err(self.error(format!("{name} is {x}: r² lies between 0 and 1")))
            }
            x => Ok(x),
        }
    }
}
