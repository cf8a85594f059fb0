//! The rates of one ladder: raised geometrically from `start` while every step keeps
//! within budget, then, once a step breaks, refined by bisection (in log space) between
//! the highest rate within budget and the lowest that broke. Also how one step is judged.

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
    let good = steps
        .iter()
        .filter(|s| s.1 != Verdict::Broke)
        .map(|s| s.0)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let first_break = steps.iter().position(|s| s.1 == Verdict::Broke);
    let Some(first_break) = first_break else {
        // Still climbing.
        if last >= ladder.top || ladder.factor <= 1.0 {
            return None;
        }
        return Some((last * ladder.factor).min(ladder.top).round());
    };
    let refined = (steps.len() - 1 - first_break) as u32;
    let bad = steps
        .iter()
        .filter(|s| s.1 == Verdict::Broke && good.is_none_or(|g| s.0 > g))
        .map(|s| s.0)
        .fold(f64::INFINITY, f64::min);
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
