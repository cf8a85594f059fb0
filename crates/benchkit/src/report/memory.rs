//! What each model holds: memory as PSS and as peak RSS, why the two differ for procs
//! (from the measured numbers), and each model's worker threads and peak OS threads.

use super::format::{bytes, mib, unique};
use super::inputs::{Cell, Fit, Measure};
use std::fmt::Write as _;

/// "## Memory: PSS and peak RSS": the two figures defined, then procs against them.
pub fn section(cells: &[Cell], fits: Option<&[Fit]>) -> String {
    let mut md = String::from("## Memory: PSS and peak RSS\n\n");
    md += "Both figures are counted by each model over all of its processes. **PSS** (proportional set size) is the largest sum of PSS sampled while the model ran: a page shared by k processes counts 1/k in each, so the binary's code and libc count once in all. It is what the machine pays. **Peak RSS** is each process's own high-water mark of resident memory (`VmHWM`), summed over the processes: a shared page counts once in every process that maps it.\n\n";
    let procs: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.model == "procs" && c.ok && c.pss.is_some())
        .collect();
    if procs.is_empty() {
        md += "These CSVs have no PSS for procs (they were written before the models reported it), so every memory figure in them is peak RSS; `make bench` records both.\n\n";
    } else {
        md += &procs_paragraph(cells, &procs);
    }
    if let Some(text) = fits.and_then(procs_fit) {
        md += &text;
    }
    md
}

/// procs' two figures on each workload, why they differ, and a one-process model beside.
fn procs_paragraph(cells: &[Cell], procs: &[&Cell]) -> String {
    let figures: Vec<String> = procs
        .iter()
        .map(|c| {
            let pss = c.pss.unwrap_or(0.0);
            format!(
                "on {} (N={}: {} worker processes and their parent), peak RSS summed {} against a PSS of {} ({:.1}x)",
                c.workload,
                c.n,
                c.workers.unwrap_or(c.n),
                mib(c.rss),
                mib(pss),
                c.rss / pss,
            )
        })
        .collect();
    let mut text = format!(
        "procs runs every task in a worker process of its own: {}. Every worker is the same binary, so its code and the C library's pages are shared with every other worker: RSS counts them once per process, so summed over the workers they count once per worker; PSS divides each shared page among the processes sharing it, so they count once in all. What remains in PSS is what each worker really adds (its heap, stack and private pages).",
        figures.join("; ")
    );
    let threads = procs.iter().find_map(|p| {
        cells
            .iter()
            .find(|c| c.model == "threads" && c.workload == p.workload && c.ok)
            .filter(|c| c.pss.is_some())
    });
    if let Some(t) = threads {
        let _ = write!(
            text,
            " In one process the two are close: threads on {}, peak RSS {}, PSS {}.",
            t.workload,
            mib(t.rss),
            mib(t.pss.unwrap_or(0.0))
        );
    }
    text + "\n\n"
}

/// procs' memory per waiting task by both fits, when the sweep fitted on PSS.
fn procs_fit(fits: &[Fit]) -> Option<String> {
    let f = fits
        .iter()
        .find(|f| f.model == "procs" && f.workload == "sleep" && f.on == Measure::Pss)?;
    Some(format!(
        "In the scale sweep, one more waiting procs task costs {} by PSS and {} by summed peak RSS (slopes of each against N).\n\n",
        bytes(f.per_task),
        bytes(f.rss_per_task?)
    ))
}

/// "## Threads per model": workers and peak OS threads, per workload.
pub fn threads_table(cells: &[Cell]) -> String {
    let mut md = String::from("## Threads per model\n\n");
    md += "**Workers**: the threads (or processes) the model's scheduler runs tasks on, as the model set it up: a runtime's or pool's worker threads, or one per task. **Peak threads**: the largest number of OS threads sampled over the model's processes while it ran, blocking pools and helper threads included.\n\n";
    if cells
        .iter()
        .all(|c| c.workers.is_none() && c.peak_threads.is_none())
    {
        md += "These CSVs were written before the models reported their threads; `make bench` records them.\n\n";
        return md;
    }
    md += "| model | cpu: workers | cpu: peak threads | io: workers | io: peak threads |\n| --- | --- | --- | --- | --- |\n";
    let count = |x: Option<u64>| x.map(|x| x.to_string()).unwrap_or_else(|| "–".into());
    for model in unique(cells.iter().map(|c| c.model.as_str())) {
        let of = |workload: &str| {
            cells
                .iter()
                .find(|c| c.model == model && c.workload == workload && c.ok)
                .map(|c| (count(c.workers), count(c.peak_threads)))
                .unwrap_or_else(|| ("–".into(), "–".into()))
        };
        let ((cpu_w, cpu_t), (io_w, io_t)) = (of("cpu"), of("io"));
        let _ = writeln!(md, "| {model} | {cpu_w} | {cpu_t} | {io_w} | {io_t} |");
    }
    md.push('\n');
    md
}
