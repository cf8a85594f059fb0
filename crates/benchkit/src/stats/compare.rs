//! Whether one measured figure is below or above another beyond the noise of the runs
//! behind them: the one rule every ranking in the report follows ("fastest", "slowest",
//! "cheaper", "Nx").
//!
//! Each figure comes with its spread: the fastest and slowest of its runs (min_s and
//! max_s of a CSV), or for a fitted slope the range its fits span. Two figures are ranked
//! only when their spreads do not overlap; otherwise they are a tie, and the text gives
//! both figures. A figure from one run has no spread to judge by: it is never ranked
//! against another.
//!
//! A knee found by raising a rate step by step ([`Knee`]) has no runs to spread over: the
//! rate a server sustains is known only to lie between the last step within budget and
//! the step where the budget broke. Two knees are ranked only when those intervals do not
//! overlap ([`compare_knees`]); otherwise they are "within one step".

/// A measured figure and the spread of the runs behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The figure the report prints (a median, a fitted slope).
    pub value: f64,
    /// The lowest and highest the runs (or fits) gave.
    pub lo: f64,
    pub hi: f64,
    /// Runs behind the figure; 1: one run, not ranked.
    pub runs: u64,
}

impl Spread {
    /// A figure of `runs` runs that spanned `min` to `max`.
    pub fn of_runs(value: f64, min: f64, max: f64, runs: u64) -> Spread {
        Spread {
            value,
            lo: min.min(value),
            hi: max.max(value),
            runs,
        }
    }

    /// A slope fitted through `points` points with this r², and the slope of a second fit
    /// of the same cells (through their medians, say): the spread runs from one standard
    /// error below the lower to one above the higher. The standard error of a slope is
    /// |slope| x sqrt((1 - r²) / (r² (points - 2))).
    pub fn of_fit(slope: f64, r2: f64, points: u64, other: Option<f64>) -> Spread {
        let error = if points > 2 && r2 > 0.0 {
            slope.abs() * ((1.0 - r2).max(0.0) / (r2 * (points - 2) as f64)).sqrt()
        } else {
            f64::INFINITY
        };
        let (lo, hi) = match other {
            Some(o) => (slope.min(o), slope.max(o)),
            None => (slope, slope),
        };
        Spread {
            value: slope,
            lo: lo - error,
            hi: hi + error,
            runs: points,
        }
    }
}

/// Where `a` stands against `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Every run of `a` below every run of `b` (for times: `a` is faster).
    Below,
    Above,
    /// The spreads overlap: within the noise.
    Tie,
    /// One of the two is a single run: not ranked.
    OneRun,
}

pub fn compare(a: &Spread, b: &Spread) -> Order {
    if a.runs < 2 || b.runs < 2 {
        Order::OneRun
    } else if a.hi < b.lo {
        Order::Below
    } else if b.hi < a.lo {
        Order::Above
    } else {
        Order::Tie
    }
}

/// The lowest of these figures (by value) and every other it is not ranked below: the
/// indices of the group that shares first place, the lowest first. One index: a clear
/// lowest. `highest` turns it round (the slowest, the costliest).
pub fn first_place(spreads: &[Spread], highest: bool) -> Vec<usize> {
    let key = |i: &usize| spreads[*i].value;
    let mut order: Vec<usize> = (0..spreads.len()).collect();
    order.sort_by(|a, b| key(a).total_cmp(&key(b)));
    if highest {
        order.reverse();
    }
    let Some(&top) = order.first() else {
        return order;
    };
    let beaten = if highest { Order::Above } else { Order::Below };
    order
        .into_iter()
        .filter(|&i| i == top || compare(&spreads[top], &spreads[i]) != beaten)
        .collect()
}

/// The rate a server sustains, as a step sweep finds it: `knee`, the highest rate offered
/// within budget (0 when even the first step broke it), and `broke_at`, the rate at which
/// the budget broke (None when the top step was reached). The true rate lies between
/// them; the sweep cannot say where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knee {
    pub knee: f64,
    pub broke_at: Option<f64>,
}

/// Where knee `a` stands against `b`: above only when `a` sustained a rate at or beyond
/// the one at which `b` broke (`a.knee >= b.broke_at`), below the other way round, and a
/// tie ("within one step") when their intervals overlap. A knee that never broke has no
/// upper end, so nothing is ranked above it.
pub fn compare_knees(a: &Knee, b: &Knee) -> Order {
    if b.broke_at.is_some_and(|broke| a.knee >= broke) {
        Order::Above
    } else if a.broke_at.is_some_and(|broke| b.knee >= broke) {
        Order::Below
    } else {
        Order::Tie
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(value: f64, lo: f64, hi: f64) -> Spread {
        Spread::of_runs(value, lo, hi, 3)
    }

    #[test]
    fn overlapping_runs_are_a_tie_and_apart_they_rank() {
        // smol-async 0.414 s (0.413-0.416) against tokio-async 0.415 s (0.414-0.417).
        let smol = runs(0.414, 0.413, 0.416);
        let tokio = runs(0.415, 0.414, 0.417);
        assert_eq!(compare(&smol, &tokio), Order::Tie);
        let sync = runs(4.08, 4.079, 4.083);
        assert_eq!(compare(&smol, &sync), Order::Below);
        assert_eq!(compare(&sync, &smol), Order::Above);
    }

    #[test]
    fn a_single_run_is_never_ranked() {
        // tokio-async 0.79 s against async-std-async 0.80 s, one run each, and against a
        // figure far away: still one run.
        let one = |v| Spread::of_runs(v, v, v, 1);
        assert_eq!(compare(&one(0.79), &one(0.80)), Order::OneRun);
        assert_eq!(compare(&one(0.79), &runs(19.0, 18.0, 20.0)), Order::OneRun);
    }

    #[test]
    fn first_place_is_shared_by_every_figure_within_the_noise() {
        let spreads = [
            runs(0.276, 0.270, 0.292),
            runs(0.271, 0.262, 0.290),
            runs(0.400, 0.390, 0.410),
        ];
        assert_eq!(first_place(&spreads, false), [1, 0]);
        assert_eq!(first_place(&spreads, true), [2]);
        assert_eq!(first_place(&spreads[..1], false), [0]);
        assert!(first_place(&[], false).is_empty());
    }

    /// A fit's spread: one standard error either side of both fits; an exact line has
    /// none, a loose one a wide one.
    #[test]
    fn a_fit_spreads_by_its_standard_error_and_its_second_fit() {
        let exact = Spread::of_fit(10.0, 1.0, 6, None);
        assert_eq!((exact.lo, exact.hi), (10.0, 10.0));
        // r² 0.9 over 6 points: 10 x sqrt(0.1 / 3.6) = 1.667.
        let loose = Spread::of_fit(10.0, 0.9, 6, Some(11.0));
        assert!((loose.lo - 8.333).abs() < 1e-3 && (loose.hi - 12.667).abs() < 1e-3);
        assert_eq!(compare(&exact, &loose), Order::Tie);
        assert_eq!(
            compare(&Spread::of_fit(1.0, 0.99, 6, Some(1.1)), &exact),
            Order::Below
        );
    }

    /// Knees found step by step: a rate sustained at or beyond where the other broke ranks
    /// above it; overlapping intervals are within one step, however far apart the knees.
    #[test]
    fn knees_rank_only_when_their_steps_do_not_overlap() {
        let knee = |knee, broke_at| Knee { knee, broke_at };
        // python-asyncio sustained 800 where python-sync broke at 50: above.
        let (asyncio, sync) = (knee(800.0, Some(1000.0)), knee(40.0, Some(50.0)));
        assert_eq!(compare_knees(&asyncio, &sync), Order::Above);
        assert_eq!(compare_knees(&sync, &asyncio), Order::Below);
        // Sustained exactly the rate at which the other broke: still above.
        assert_eq!(compare_knees(&knee(50.0, Some(64.0)), &sync), Order::Above);
        // 1,000 against 1,250 on steps of 1.25x: uvloop's knee is higher, but asyncio's
        // interval (1,000 to 1,250) reaches it: within one step.
        let (uvloop, asyncio) = (knee(1250.0, Some(1560.0)), knee(1000.0, Some(1300.0)));
        assert_eq!(compare_knees(&uvloop, &asyncio), Order::Tie);
        assert_eq!(compare_knees(&asyncio, &uvloop), Order::Tie);
        // A knee that reached the top step may lie anywhere above it: nothing beats it,
        // and it beats what broke below its knee.
        let top = knee(5000.0, None);
        assert_eq!(compare_knees(&knee(9000.0, Some(9500.0)), &top), Order::Tie);
        assert_eq!(compare_knees(&top, &asyncio), Order::Above);
        // Broke at the first step (no knee): below whatever sustained that step.
        let none = knee(0.0, Some(100.0));
        assert_eq!(
            compare_knees(&none, &knee(100.0, Some(125.0))),
            Order::Below
        );
        assert_eq!(compare_knees(&none, &knee(50.0, Some(100.0))), Order::Tie);
    }
}
