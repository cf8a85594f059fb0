//! spawn and switch in sync: neither can run, and each says why (exit 2).
//!
//! sync has no tasks to start: it calls each unit of work in turn on its one thread, so a
//! "task" costs a function call, too little to fit against N. Nor has it a second task to
//! hand a token to: a ring of one thread handing itself a token measures a loop, not a
//! switch. Both exit 2 with one line, as for a bad argument; the report records the
//! reason in sync's row. Every other model's `costs.rs` runs both.

use anyhow::Result;
use workload::costs::Unsupported;
use workload::{SpawnArgs, SwitchArgs, Tally};

/// No task to start: each unit of work is a function call on the one thread.
pub fn run_spawn(_args: &SpawnArgs) -> Result<Tally> {
    Err(Unsupported(
        "sync starts no tasks: it calls each one in turn on its one thread, a function call each",
    )
    .into())
}

/// No other task to hand the token to: one thread cannot switch to itself.
pub fn run_switch(_args: &SwitchArgs) -> Result<Tally> {
    Err(Unsupported(
        "sync has one thread and no other task to hand a token to, so nothing to switch between",
    )
    .into())
}
