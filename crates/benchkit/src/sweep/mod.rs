//! The sweeps: each runs every model over a range of sizes or variants and writes its
//! CSV into a run folder, rewritten after every cell so an interruption loses nothing.
//!
//! - [`scale`]: how far each model goes as N grows (scale.csv, scale-fit.csv);
//! - [`costs`]: what one task costs, spawn and switch, as fitted slopes (costs.csv,
//!   costs-fit.csv);
//! - [`mixed`]: request latency beside CPU jobs, per model and variant (mixed.csv);
//! - [`serve`]: every model as a server under open-loop load, rate raised until latency
//!   breaks (serve.csv, serve-knees.csv);
//! - [`syscalls`]: system calls per download and per served request, counted by the
//!   kernel in runs of their own (syscalls.csv);
//! - [`runner`]: one run of a model under a deadline, the one way every sweep starts one
//!   (the syscall step starts its own, under its counters).

pub mod costs;
pub mod mixed;
pub mod runner;
pub mod scale;
pub mod serve;
pub mod syscalls;
