//! The rates of one ladder: raised geometrically from `start` while every step keeps
//! within budget, then, once a step breaks, refined by bisection (in log space) between
//! the highest rate within budget and the lowest that broke. Also how one step is judged,
//! and a break run once more before the ladder believes it ([`Progress`]). A second round
//! of the same cell checks the first round's knee instead of climbing again
//! ([`next_confirming`]).

/// How the rate is raised for one scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ladder {
    pub start: f64,
    /// Each step's rate over the one before, until a step breaks.
    pub factor: f64,
    /// The highest rate tried.
    pub top: f64,
    /// Steps of bisection after the first break (each halves the gap, in log space).
    pub refinements: u32,
}

impl Ladder {
    /// One fixed rate: a single step.
    pub fn fixed(rate: f64) -> Ladder {
        Ladder {
            start: rate,
            factor: 1.0,
            top: rate,
            refinements: 0,
        }
    }
}

/// What one step showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// p99 and errors within budget.
    Within,
    /// Within budget, but the generator was saturated: a higher rate would measure oha.
    Saturated,
    /// p99 over budget, or too many errors.
    Broke,
}

/// The rate of the next step after `steps` (rate, verdict) so far, or None: the ladder is
/// done. Rates are whole requests per second.
pub fn next_rate(ladder: &Ladder, steps: &[(f64, Verdict)]) -> Option<f64> {
    let Some(&(last, last_verdict)) = steps.last() else {
        return Some(ladder.start.round().max(1.0));
    };
    if last_verdict == Verdict::Saturated {
        return None;
    }
    let good = highest_good(steps);
    let first_break = steps.iter().position(|s| s.1 == Verdict::Broke);
    let Some(first_break) = first_break else {
        // Still climbing.
        if last >= ladder.top || ladder.factor <= 1.0 {
            return None;
        }
        return Some((last * ladder.factor).min(ladder.top).round());
    };
    let refined = (steps.len() - 1 - first_break) as u32;
    let bad = lowest_bad(steps, good).unwrap_or(f64::INFINITY);
    match good {
        // Even the first rate broke: one step down, by the factor, then stop.
        None if refined == 0 && ladder.factor > 1.0 => {
            let lower = (bad / ladder.factor).round();
            (lower >= 1.0 && lower < bad).then_some(lower)
        }
        None => None,
        Some(good) if refined < ladder.refinements => {
            let mid = (good * bad).sqrt().round();
            // Stop when the gap is too small to split into a new whole rate.
            (mid > good && mid < bad).then_some(mid)
        }
        Some(_) => None,
    }
}

/// The highest rate not broken (within budget, or saturated), if any.
fn highest_good(steps: &[(f64, Verdict)]) -> Option<f64> {
    steps
        .iter()
        .filter(|s| s.1 != Verdict::Broke)
        .map(|s| s.0)
        .reduce(f64::max)
}

/// The lowest broken rate above `good` (any broken rate when there is no good one).
fn lowest_bad(steps: &[(f64, Verdict)], good: Option<f64>) -> Option<f64> {
    steps
        .iter()
        .filter(|s| s.1 == Verdict::Broke && good.is_none_or(|g| s.0 > g))
        .map(|s| s.0)
        .reduce(f64::min)
}

/// What an earlier round found for a cell: its knee (the highest rate within budget) and
/// the lowest rate above it that broke; either may be missing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bracket {
    pub knee: Option<f64>,
    pub broke: Option<f64>,
}

impl Ladder {
    /// The ratio of the two rates around a knee once the ladder has refined it: the factor
    /// halved (in log space) `refinements` times; 4^(1/8) ≈ 1.19 for x4 and three.
    pub fn resolution(&self) -> f64 {
        self.factor.powf(0.5f64.powi(self.refinements as i32))
    }
}

/// The rate of the next step of a later round, which checks an earlier round's bracket
/// rather than climbing from the start: its knee first, then the rate that broke. Where
/// both repeat (the knee within budget, the break broken), that is the whole round: two
/// steps. Where they do not, it searches on, as the first round did: up by the factor
/// from a knee that held past the earlier break, down by it from a knee that broke (no
/// lower than one factor under the ladder's start), then bisects until the two rates
/// around the knee are as close as the first round's ([`Ladder::resolution`]).
pub fn next_confirming(ladder: &Ladder, earlier: Bracket, steps: &[(f64, Verdict)]) -> Option<f64> {
    if steps.last().is_some_and(|s| s.1 == Verdict::Saturated) {
        return None;
    }
    let good = highest_good(steps);
    let bad = lowest_bad(steps, good);
    let floor = (ladder.start / ladder.factor).round().max(1.0);
    match (good, bad) {
        (None, None) => earlier.knee.or(earlier.broke),
        (Some(g), None) => {
            if let Some(b) = earlier.broke.filter(|b| *b > g) {
                return Some(b);
            }
            (g < ladder.top && ladder.factor > 1.0)
                .then(|| (g * ladder.factor).min(ladder.top).round())
        }
        (None, Some(b)) => {
            (b > floor && ladder.factor > 1.0).then(|| (b / ladder.factor).round().max(floor))
        }
        (Some(g), Some(b)) => {
            // Rates are whole: allow the first round's rounding.
            if b / g <= ladder.resolution() * 1.01 {
                return None;
            }
            let mid = (g * b).sqrt().round();
            (mid > g && mid < b).then_some(mid)
        }
    }
}

/// A ladder under way: the rates judged so far, and a break waiting to be run again.
///
/// A step that breaks is run once more at the same rate (the sweep gives it a fresh
/// server) before the ladder believes it, and the ladder judges the rate by that second
/// run alone: a burst of other work on the machine can break one step, but rarely two in
/// a row. A rerun is never run again, and a break not worth a rerun (see
/// [`Progress::record`]) is believed at once.
///
/// In a later round (`earlier` set) the rates come from [`next_confirming`], and a break
/// is run again only where it contradicts the earlier round (at or below its knee): a
/// break where the earlier round broke too has repeated already.
#[derive(Debug, Default)]
pub struct Progress {
    pub verdicts: Vec<(f64, Verdict)>,
    rerun: Option<f64>,
    earlier: Option<Bracket>,
}

impl Progress {
    /// A later round's ladder, checking what an earlier round found.
    pub fn confirming(earlier: Bracket) -> Progress {
        Progress {
            earlier: Some(earlier),
            ..Progress::default()
        }
    }

    /// The next step's rate, and whether it runs a break again; None: the ladder is done.
    pub fn next(&mut self, ladder: &Ladder) -> Option<(f64, bool)> {
        if let Some(rate) = self.rerun.take() {
            return Some((rate, true));
        }
        match self.earlier {
            Some(earlier) => next_confirming(ladder, earlier, &self.verdicts),
            None => next_rate(ladder, &self.verdicts),
        }
        .map(|rate| (rate, false))
    }

    /// Whether a break at `rate` contradicts an earlier round, or there is none: only such
    /// a break is worth running again.
    pub fn contradicts_earlier(&self, rate: f64) -> bool {
        self.earlier
            .is_none_or(|e| e.knee.is_some_and(|knee| rate <= knee))
    }

    /// Record what a step showed. `worth_a_rerun`: whether a break could have been a
    /// disturbance (not when the server fell far behind, or the generator was saturated).
    /// True when the step is to be run again (it broke, and it was not itself a rerun).
    pub fn record(
        &mut self,
        rate: f64,
        verdict: Verdict,
        a_rerun: bool,
        worth_a_rerun: bool,
    ) -> bool {
        if verdict == Verdict::Broke && !a_rerun && worth_a_rerun && self.contradicts_earlier(rate)
        {
            self.rerun = Some(rate);
            return true;
        }
        self.verdicts.push((rate, verdict));
        false
    }
}
