use super::ladder::{next_confirming, next_rate, Bracket, Ladder, Progress, Verdict};
use super::oha;
use super::rows::{self, Bound, BrokeBy, KneeRow, Predictions, SkipRow, StepRow, YesNo};
use crate::table;

/// Every rate `next` asks for when the server breaks above `limit`.
fn tried(next: impl Fn(&[(f64, Verdict)]) -> Option<f64>, limit: f64) -> Vec<f64> {
    let mut steps = Vec::new();
    while let Some(rate) = next(&steps) {
        assert!(steps.len() < 50, "a ladder that does not end: {steps:?}");
        let verdict = if rate <= limit {
            Verdict::Within
        } else {
            Verdict::Broke
        };
        steps.push((rate, verdict));
    }
    steps.into_iter().map(|s| s.0).collect()
}

/// Every rate a ladder tries when the server breaks at `limit` (a step breaks above it).
fn climb(ladder: &Ladder, limit: f64) -> Vec<f64> {
    tried(|steps| next_rate(ladder, steps), limit)
}

/// x4 while within budget, then three bisections between the last good and the first
/// broken rate: sync's backend knee (20/s) is found from 10/s within 19%.
#[test]
fn a_ladder_climbs_by_its_factor_then_bisects() {
    let ladder = Ladder {
        start: 10.0,
        factor: 4.0,
        top: 10_240.0,
        refinements: 3,
    };
    assert_eq!(climb(&ladder, 20.0), [10.0, 40.0, 20.0, 28.0, 24.0]);
    // Never broken: up to the top (capped), and no bisection.
    assert_eq!(
        climb(&ladder, 1e9),
        [10.0, 40.0, 160.0, 640.0, 2560.0, 10_240.0]
    );
    // The first step broke: one step down by the factor, then bisection.
    assert_eq!(climb(&ladder, 5.0), [10.0, 3.0, 5.0, 7.0]);
    // Even that broke: done.
    assert_eq!(climb(&ladder, 1.0), [10.0, 3.0]);
    // A fixed rate is one step, whatever it shows.
    assert_eq!(climb(&Ladder::fixed(100.0), 1e9), [100.0]);
    assert_eq!(climb(&Ladder::fixed(100.0), 1.0), [100.0]);
}

/// Every rate a later round tries when the server breaks above `limit`, checking `earlier`.
fn confirm(ladder: &Ladder, earlier: Bracket, limit: f64) -> Vec<f64> {
    tried(|steps| next_confirming(ladder, earlier, steps), limit)
}

/// Round 2 checks round 1's knee: two steps where it repeats (the knee within budget, the
/// break broken). Where it does not, round 2 finds its own knee to the same resolution
/// (rates 19% apart), up from a knee that held past round 1's break, down from one that
/// broke, so that the report can set the two rounds side by side.
#[test]
fn a_later_round_checks_the_first_rounds_knee() {
    let ladder = Ladder {
        start: 250.0,
        factor: 4.0,
        top: 64_000.0,
        refinements: 3,
    };
    assert!((ladder.resolution() - 4f64.powf(0.125)).abs() < 1e-12);
    let limit = 17_000.0;
    let first = climb(&ladder, limit);
    assert_eq!(
        first,
        [250.0, 1000.0, 4000.0, 16_000.0, 64_000.0, 32_000.0, 22_627.0, 19_027.0]
    );
    let earlier = Bracket {
        knee: Some(16_000.0),
        broke: Some(19_027.0),
    };
    // The same server: the knee holds, the break breaks. Two steps.
    assert_eq!(confirm(&ladder, earlier, limit), [16_000.0, 19_027.0]);
    // Faster this time: up by the factor from round 1's break, then bisection.
    assert_eq!(
        confirm(&ladder, earlier, 40_000.0),
        [16_000.0, 19_027.0, 64_000.0, 34_896.0, 47_258.0, 40_609.0]
    );
    // Slower: down by the factor from round 1's knee, then bisection.
    assert_eq!(
        confirm(&ladder, earlier, 5_000.0),
        [16_000.0, 4_000.0, 8_000.0, 5_657.0, 4_757.0]
    );
    // Round 1 reached the top unbroken: the top again, once.
    let top = Bracket {
        knee: Some(64_000.0),
        broke: None,
    };
    assert_eq!(confirm(&ladder, top, 1e9), [64_000.0]);
    // Round 1 broke even one step under its start: that step again, and it breaks.
    let none = Bracket {
        knee: None,
        broke: Some(63.0),
    };
    assert_eq!(confirm(&ladder, none, 10.0), [63.0]);
    // One fixed rate: one step, whatever it shows.
    let fixed = Bracket {
        knee: Some(100.0),
        broke: None,
    };
    assert_eq!(confirm(&Ladder::fixed(100.0), fixed, 1.0), [100.0]);
    assert_eq!(confirm(&Ladder::fixed(100.0), fixed, 1e9), [100.0]);
}

/// In a later round a break where round 1 broke too has repeated already: it is not run
/// again. A break at or under round 1's knee contradicts it, and is.
#[test]
fn a_later_round_reruns_only_a_break_that_contradicts_the_first() {
    let ladder = Ladder {
        start: 250.0,
        factor: 4.0,
        top: 64_000.0,
        refinements: 3,
    };
    let earlier = Bracket {
        knee: Some(16_000.0),
        broke: Some(19_027.0),
    };
    let mut agrees = Progress::confirming(earlier);
    assert_eq!(agrees.next(&ladder), Some((16_000.0, false)));
    assert!(!agrees.record(16_000.0, Verdict::Within, false, true));
    assert_eq!(agrees.next(&ladder), Some((19_027.0, false)));
    assert!(!agrees.record(19_027.0, Verdict::Broke, false, true));
    assert_eq!(agrees.next(&ladder), None);
    let mut contradicts = Progress::confirming(earlier);
    assert_eq!(contradicts.next(&ladder), Some((16_000.0, false)));
    assert!(contradicts.record(16_000.0, Verdict::Broke, false, true));
    assert_eq!(contradicts.next(&ladder), Some((16_000.0, true)));
}

/// A step within budget but with the generator saturated ends the climb: a higher rate
/// would measure oha, not the server.
#[test]
fn a_saturated_generator_ends_the_ladder() {
    let ladder = Ladder {
        start: 250.0,
        factor: 4.0,
        top: 64_000.0,
        refinements: 3,
    };
    let steps = [(250.0, Verdict::Within), (1000.0, Verdict::Saturated)];
    assert_eq!(next_rate(&ladder, &steps), None);
    assert_eq!(next_rate(&ladder, &steps[..1]), Some(1000.0));
}

/// A break is run once more before the ladder believes it: a disturbed step (1,000/s
/// broke once, within budget the second time) does not end the climb, a real break (at
/// 16,000/s, twice) does, and a rerun is never run again. A break not worth a rerun is
/// believed at once.
#[test]
fn a_break_is_believed_only_when_it_repeats() {
    let ladder = Ladder {
        start: 250.0,
        factor: 4.0,
        top: 64_000.0,
        refinements: 1,
    };
    let mut progress = Progress::default();
    let mut tried = Vec::new();
    let mut disturbed_once = false;
    while let Some((rate, a_rerun)) = progress.next(&ladder) {
        assert!(tried.len() < 20, "a ladder that does not end: {tried:?}");
        tried.push((rate, a_rerun));
        let verdict = if rate == 1000.0 && !disturbed_once {
            disturbed_once = true;
            Verdict::Broke
        } else if rate > 10_000.0 {
            Verdict::Broke
        } else {
            Verdict::Within
        };
        progress.record(rate, verdict, a_rerun, true);
    }
    assert_eq!(
        tried,
        [
            (250.0, false),
            (1000.0, false),
            (1000.0, true),
            (4000.0, false),
            (16_000.0, false),
            (16_000.0, true),
            (8000.0, false),
        ]
    );
    assert_eq!(
        progress.verdicts,
        [
            (250.0, Verdict::Within),
            (1000.0, Verdict::Within),
            (4000.0, Verdict::Within),
            (16_000.0, Verdict::Broke),
            (8000.0, Verdict::Within),
        ]
    );
    // Not worth a rerun (the server fell far behind): believed at once.
    let mut progress = Progress::default();
    assert_eq!(progress.next(&ladder), Some((250.0, false)));
    assert!(!progress.record(250.0, Verdict::Broke, false, false));
    assert_eq!(progress.verdicts, [(250.0, Verdict::Broke)]);
    assert_eq!(progress.next(&ladder), Some((63.0, false)));
}

/// A break is worth a rerun unless the server answered under half the rate offered or the
/// generator was saturated.
#[test]
fn a_rerun_is_for_a_break_a_disturbance_could_explain() {
    assert!(super::worth_a_rerun(1000.0, 998.0, false));
    assert!(super::worth_a_rerun(1000.0, 500.0, false));
    assert!(!super::worth_a_rerun(64_000.0, 21_000.0, false));
    assert!(!super::worth_a_rerun(1000.0, 998.0, true));
}

fn step(rate: f64, within: bool) -> StepRow {
    StepRow {
        model: "procs".into(),
        scenario: "backend".into(),
        workers: Some(2),
        connections: 1000,
        keepalive: YesNo::Yes,
        offered_rps: Some(rate),
        requests: 100,
        ok: 100,
        error_rate: Some(0.0),
        p99_ms: Some(if within { 60.0 } else { 900.0 }),
        server_cpu_us_per_req: Some(if rate == 40.0 { 250.0 } else { 100.0 }),
        within_budget: within.into(),
        ..StepRow::default()
    }
}

/// The knee is the highest rate within budget, wherever it came in the ladder; broke_at
/// the lowest broken rate above it; the bound the lower prediction: procs with 2 workers
/// at 50 ms is 40/s by Little's law, against 4,000/s by its CPU at the knee (250 us).
#[test]
fn the_knee_sits_beside_the_lower_bound() {
    let steps = [
        step(10.0, true),
        step(160.0, false),
        step(40.0, true),
        step(80.0, false),
        step(57.0, false),
    ];
    let predictions = Predictions {
        little: Some((2.0, 0.05)),
        generator_ceiling_rps: Some(12_000.0),
    };
    let k = rows::knee(&steps, &predictions).unwrap();
    assert_eq!(k.knee_rps, Some(40.0));
    assert_eq!(k.broke_at_rps, Some(57.0));
    assert_eq!(k.broke_by, BrokeBy::P99);
    assert_eq!(k.cpu_us_per_req, Some(250.0));
    assert_eq!(k.cpu_bound_rps, Some(4000.0));
    assert_eq!(k.little_bound_rps, Some(40.0));
    assert_eq!(
        (k.bound, k.predicted_rps),
        (Some(Bound::Little), Some(40.0))
    );
    assert_eq!(k.workers, Some(2));

    // Without Little's law (not the backend scenario): the CPU bound.
    let cpu = rows::knee(
        &steps,
        &Predictions {
            little: None,
            generator_ceiling_rps: None,
        },
    )
    .unwrap();
    assert_eq!(
        (cpu.bound, cpu.predicted_rps),
        (Some(Bound::Cpu), Some(4000.0))
    );

    // Errors over 0.1% at the break: broke_by errors. The generator saturated at the
    // knee: the bound is the generator, predicted at its ceiling.
    let mut errors = steps.to_vec();
    errors[4].error_rate = Some(0.002);
    errors[4].p99_ms = Some(1.0);
    errors[2].generator_saturated = YesNo::Yes;
    let k = rows::knee(&errors, &predictions).unwrap();
    assert_eq!(k.broke_by, BrokeBy::Errors);
    assert_eq!(
        (k.bound, k.predicted_rps),
        (Some(Bound::Generator), Some(12_000.0))
    );

    // Nothing broke: broke_by none, no broke_at. Everything broke: no knee, no CPU bound.
    let k = rows::knee(&[step(10.0, true), step(40.0, true)], &predictions).unwrap();
    assert_eq!(
        (k.knee_rps, k.broke_at_rps, k.broke_by),
        (Some(40.0), None, BrokeBy::None)
    );
    let k = rows::knee(&[step(10.0, false), step(3.0, false)], &predictions).unwrap();
    assert_eq!(
        (k.knee_rps, k.broke_at_rps, k.cpu_bound_rps),
        (None, Some(3.0), None)
    );
    assert_eq!(k.bound, Some(Bound::Little));
    assert!(rows::knee(&[], &predictions).is_none());
}

/// A step that was run again is judged by its rerun: a break that did not repeat leaves
/// the knee where the rerun puts it, and when both runs broke the second is the one the
/// knee names (its generator share, its errors).
#[test]
fn the_knee_is_judged_by_the_rerun() {
    let predictions = Predictions {
        little: Some((2.0, 0.05)),
        generator_ceiling_rps: Some(12_000.0),
    };
    let disturbed = StepRow {
        rerun: YesNo::Yes,
        ..step(40.0, false)
    };
    let k = rows::knee(
        &[
            step(10.0, true),
            disturbed,
            step(40.0, true),
            step(160.0, false),
        ],
        &predictions,
    )
    .unwrap();
    assert_eq!((k.knee_rps, k.broke_at_rps), (Some(40.0), Some(160.0)));
    // Both runs broke: the second is the break. The first had errors, the second p99.
    let first = StepRow {
        rerun: YesNo::Yes,
        error_rate: Some(0.5),
        ..step(160.0, false)
    };
    let k = rows::knee(&[step(40.0, true), first, step(160.0, false)], &predictions).unwrap();
    assert_eq!((k.broke_at_rps, k.broke_by), (Some(160.0), BrokeBy::P99));
}

/// A break while the generator was busy (over GENERATOR_BUSY of its core) is the
/// generator's: the knee's bound says so and its prediction is the generator's ceiling.
#[test]
fn a_break_with_the_generator_busy_is_the_generators() {
    let predictions = Predictions {
        little: None,
        generator_ceiling_rps: Some(20_000.0),
    };
    let busy = |share: f64| StepRow {
        generator_cpu_share: Some(share),
        ..step(16_000.0, false)
    };
    let k = rows::knee(&[step(4000.0, true), busy(0.88)], &predictions).unwrap();
    assert_eq!(
        (k.bound, k.predicted_rps),
        (Some(Bound::Generator), Some(20_000.0))
    );
    let k = rows::knee(&[step(4000.0, true), busy(0.5)], &predictions).unwrap();
    assert_eq!(k.bound, Some(Bound::Cpu));
}

/// The CSVs' headers are the contract's columns, in its order; booleans are yes/no,
/// values that do not apply are empty, and what is written reads back the same.
#[test]
fn the_csvs_have_the_contracts_columns() {
    let dir = crate::test_dir("serve-csv");
    let mut row = step(40.0, true);
    row.step = 3;
    row.round = 2;
    row.driver = "epoll".into();
    row.error_kinds = "status_503:2;connection reset:1".into();
    let knee = rows::knee(
        &[row.clone()],
        &Predictions {
            little: Some((2.0, 0.05)),
            generator_ceiling_rps: None,
        },
    )
    .unwrap();
    let skip = SkipRow {
        model: "threads".into(),
        scenario: "connections".into(),
        workers: None,
        connections: 10_000,
        status: "skipped".into(),
        reason: "10000 threads, a lot, \"quoted\"".into(),
        round: 1,
    };
    rows::write_csvs(
        &dir,
        &[row.clone()],
        std::slice::from_ref(&knee),
        std::slice::from_ref(&skip),
    )
    .unwrap();
    let serve = std::fs::read_to_string(dir.join("serve.csv")).unwrap();
    let mut lines = serve.lines();
    assert_eq!(
        lines.next().unwrap(),
        "model,scenario,workers,connections,keepalive,step,offered_rps,achieved_rps,duration_s,\
requests,ok,errors,error_rate,error_kinds,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,\
server_cpu_ms,server_cpu_us_per_req,server_pss_bytes,server_threads,pss_per_conn_bytes,\
generator_cpu_share,generator_saturated,within_budget,rerun,round,driver"
    );
    assert_eq!(
        lines.next().unwrap(),
        "procs,backend,2,1000,yes,3,40,,,100,100,0,0.00000,status_503:2;connection reset:1,,,60.000,,,,250.00,,,,,no,yes,no,2,epoll"
    );
    let knees = std::fs::read_to_string(dir.join("serve-knees.csv")).unwrap();
    assert_eq!(
        knees,
        "model,scenario,workers,connections,knee_rps,broke_at_rps,broke_by,cpu_us_per_req,\
cpu_bound_rps,little_bound_rps,bound,predicted_rps,generator_ceiling_rps,round,driver\n\
procs,backend,2,1000,40,,none,250.00,4000,40,little,40,,2,epoll\n"
    );
    let back = table::Table::<StepRow>::read(&dir.join("serve.csv"), &[]).unwrap();
    assert_eq!(back.rows[0].row, row);
    let back = table::Table::<KneeRow>::read(&dir.join("serve-knees.csv"), &[]).unwrap();
    assert_eq!(back.rows[0].row, knee);
    let back = table::Table::<SkipRow>::read(&dir.join("serve-skips.csv"), &[]).unwrap();
    assert_eq!(back.rows[0].row, skip);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// oha 1.16's JSON, captured from real runs against the stand-in server
/// (target/release/serve-stand-in): percentiles in seconds become milliseconds; requests
/// still under way at the end (`aborted due to deadline`) are not counted as errors.
#[test]
fn ohas_json_is_read_from_real_runs() {
    // 100/s for 1 s of /backend/200 over 20 connections: 67 answered, 20 cut off.
    let m = oha::parse(include_str!("testdata/oha-1.16-backend.json")).unwrap();
    assert_eq!(
        (m.requests, m.answered, m.ok, m.errors(), m.cut_off),
        (67, 67, 67, 0, 20)
    );
    assert_eq!(m.error_rate(), Some(0.0));
    assert_eq!(m.error_kinds_cell(), "");
    assert_eq!(m.p50_ms, Some(249.177697));
    assert_eq!(m.p90_ms, Some(333.82956));
    assert_eq!(m.p99_ms, Some(341.801403));
    assert_eq!(m.p999_ms, Some(341.801403));
    assert_eq!(m.max_ms, Some(341.801403));
    assert_eq!(m.duration_s, 1.002432607);
    assert!((m.achieved_rps - 67.0 / 1.002432607).abs() < 1e-9);

    // An unknown route: every answer is an error, by status.
    let m = oha::parse(include_str!("testdata/oha-1.16-404.json")).unwrap();
    assert_eq!((m.requests, m.ok, m.errors()), (25, 0, 25));
    assert_eq!(m.error_kinds_cell(), "status_404:25");
    assert_eq!(m.error_rate(), Some(1.0));

    // A server gone: no answer, no percentile, oha's message as the kind (its `:` out).
    let m = oha::parse(include_str!("testdata/oha-1.16-refused.json")).unwrap();
    assert_eq!((m.requests, m.answered, m.errors()), (25, 0, 25));
    assert_eq!(m.error_kinds_cell(), "Connection refused (os error 111):25");
    assert_eq!((m.p50_ms, m.p99_ms, m.max_ms), (None, None, None));
    assert_eq!(m.achieved_rps, 0.0);

    let err = oha::parse("{\"summary\": {}}").unwrap_err();
    assert!(
        format!("{err:#}").starts_with("oha's JSON report: missing field"),
        "{err:#}"
    );
}

/// oha's command line: open loop at the rate with latency correction, keep-alive off
/// only when asked; the ceiling runs without a rate.
#[test]
fn ohas_command_line() {
    let load = oha::Load {
        url: "http://127.0.0.1:1/hello".into(),
        rate: Some(250.0),
        connections: 64,
        keepalive: false,
        duration: std::time::Duration::from_secs(2),
    };
    assert_eq!(
        load.args().join(" "),
        "--no-tui --output-format json -z 2000ms -c 64 -q 250 --latency-correction --disable-keepalive http://127.0.0.1:1/hello"
    );
    let ceiling = oha::Load {
        rate: None,
        keepalive: true,
        ..load
    };
    assert_eq!(
        ceiling.args().join(" "),
        "--no-tui --output-format json -z 2000ms -c 64 http://127.0.0.1:1/hello"
    );
}

/// Connections held open need a file each (and threads a thread each): past the
/// open-file limit, or half of min(pid_max, threads-max) for threads, a ladder is skipped
/// with the reason.
#[test]
fn guards_skip_what_the_limits_do_not_allow() {
    use super::{guard, Cell, Plan};
    use crate::models::Model;
    use crate::sweep::scale::Limits;
    let plan = Plan::full();
    let connections = plan
        .scenarios
        .iter()
        .find(|s| s.name == "connections")
        .unwrap();
    let model = |name: &str| Model {
        name: name.into(),
        kernel_task_per_task: false,
        command: None,
    };
    let limits = Limits {
        nofile: (10_400, 10_400),
        pid_max: 32_768,
        threads_max: 19_000,
        somaxconn: 4096,
        mem_available: 0,
    };
    let (tokio, threads) = (model("tokio-async"), model("threads"));
    let cell = |model, connections_held| Cell {
        model,
        scenario: connections,
        workers: None,
        connections: connections_held,
    };
    assert_eq!(guard(&cell(&tokio, 1_000), &limits), None);
    assert_eq!(
        guard(&cell(&tokio, 10_000), &limits).unwrap(),
        "10000 connections and 512 other files exceed the open-file limit 10400 (ulimit -n, raised to the hard limit)"
    );
    let roomy = Limits {
        nofile: (20_000, 20_000),
        ..limits
    };
    assert_eq!(guard(&cell(&tokio, 10_000), &roomy), None);
    assert_eq!(
        guard(&cell(&threads, 10_000), &roomy).unwrap(),
        "10000 threads (one per connection) would exceed half of min(pid_max 32768, threads-max 19000)"
    );
    // A server that closes each connection after its answer holds none: skipped, at any
    // count, where a ladder would only wait on its worker's header timeout.
    for name in ["sync", "procs", "rayon", "python-sync", "python-procs"] {
        let one_at_a_time = model(name);
        let held = Cell {
            model: &one_at_a_time,
            scenario: connections,
            workers: None,
            connections: 100,
        };
        assert!(
            guard(&held, &roomy)
                .unwrap()
                .contains("holds no idle connection"),
            "{name}"
        );
    }
}

/// A scenario measured at one fixed rate (connections) holds enough requests in each
/// round's step for its p99 to rest on five of them (500 requests), and in all rounds
/// together 1,000 or more. At 100/s a 2 s step held 200, and p99 was the second slowest:
/// one stall decided the claim.
#[test]
fn a_fixed_rate_step_holds_five_hundred_requests_a_round() {
    let plan = super::Plan::full();
    let fixed: Vec<_> = plan
        .scenarios
        .iter()
        .filter(|s| s.ladder.factor <= 1.0)
        .collect();
    assert!(!fixed.is_empty());
    for s in fixed {
        let requests = s.ladder.start * s.step.unwrap_or(plan.step).as_secs_f64();
        assert!(
            requests >= 500.0,
            "{}: {requests} requests in its step",
            s.name
        );
        assert!(
            requests * plan.rounds as f64 >= 1000.0,
            "{}: {requests} requests in each of {} rounds",
            s.name,
            plan.rounds
        );
    }
}

/// A later round checks every cell, but for the scenario that holds connections open: only
/// its fewest and its most (the two counts its claim compares), not the one between.
#[test]
fn a_later_round_checks_the_held_connections_at_the_ends_only() {
    let plan = super::Plan::full();
    let find = |name: &str| plan.scenarios.iter().find(|s| s.name == name).unwrap();
    let held = find("connections");
    assert_eq!(held.connections, [100, 1_000, 10_000]);
    let checked: Vec<bool> = held
        .connections
        .iter()
        .map(|c| held.checked_at(*c))
        .collect();
    assert_eq!(checked, [true, false, true]);
    assert!(find("backend").checked_at(1000));
}

/// Round 1's knee at the generator's limit, or at the ladder's top, is as high as the
/// sweep measures: a later round does not check it (it could only find it lower).
#[test]
fn a_knee_at_the_generators_limit_or_the_top_is_not_checked_again() {
    let mut k = KneeRow {
        bound: Some(Bound::Cpu),
        knee_rps: Some(4000.0),
        broke_at_rps: Some(4700.0),
        ..KneeRow::default()
    };
    assert!(!super::at_the_limit(&k));
    k.bound = Some(Bound::Generator);
    assert!(super::at_the_limit(&k));
    k.bound = Some(Bound::Cpu);
    k.broke_at_rps = None;
    assert!(super::at_the_limit(&k));
    // Only where a ladder climbs: the connections scenario's one fixed rate is checked
    // again whatever its knee (its claim compares p99 and memory by round).
    let plan = super::Plan::full();
    let climbs = |name: &str| {
        plan.scenarios
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .climbs()
    };
    assert!(climbs("hello") && climbs("backend") && !climbs("connections"));
}
