//! The statistics the sweeps and the report share.
//!
//! - [`fit`]: a least-squares line, for memory per task and for the cost of a task.

pub mod fit;
