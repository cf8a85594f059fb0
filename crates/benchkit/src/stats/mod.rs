//! The statistics the sweeps and the report share.
//!
//! - [`fit`]: a least-squares line, for memory per task and for the cost of a task;
//! - [`compare`]: whether one figure is below another beyond the noise of its runs, the
//!   rule behind every "fastest", "cheaper" and "Nx" of the report, and its form
//!   for knees found step by step ("within one step").

pub mod compare;
pub mod fit;
