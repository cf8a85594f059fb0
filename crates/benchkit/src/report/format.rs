//! How the report writes numbers: sizes, thousands, ratios, figures with their spread.

use crate::stats::compare::Spread;

pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / 1048576.0)
}

/// A size in the largest unit that keeps it above 1: B, KiB or MiB.
pub fn bytes(b: f64) -> String {
    if b.abs() >= 1048576.0 {
        format!("{:.1} MiB", b / 1048576.0)
    } else if b.abs() >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

/// 1000000 -> "1,000,000".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A speedup as "1.85x", or a dash where there is none.
pub fn ratio(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.2}x")).unwrap_or_else(|| "–".into())
}

/// "rayon 0.271 s (runs 0.262 to 0.290 s)": a figure with the spread of its runs, as a
/// tie gives it; "(one run)" for a single run.
pub fn with_spread(name: &str, s: &Spread) -> String {
    if s.runs < 2 {
        format!("{name} {:.3} s (one run)", s.value)
    } else {
        format!(
            "{name} {:.3} s (runs {:.3} to {:.3} s)",
            s.value, s.lo, s.hi
        )
    }
}

/// "a", "a and b", "a, b and c".
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The distinct values, in order of first appearance.
pub fn unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_a_table() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(bytes(431.0), "431 B");
        assert_eq!(bytes(8134.0), "7.9 KiB");
        assert_eq!(bytes(3_138_759.0), "3.0 MiB");
        assert_eq!(ratio(Some(1.845)), "1.84x");
        assert_eq!(ratio(None), "–");
        assert_eq!(unique(["a", "b", "a"].into_iter()), ["a", "b"]);
        let s = Spread::of_runs(0.271, 0.262, 0.29, 5);
        assert_eq!(
            with_spread("rayon", &s),
            "rayon 0.271 s (runs 0.262 to 0.290 s)"
        );
        let one = Spread::of_runs(0.79, 0.79, 0.79, 1);
        assert_eq!(
            with_spread("tokio-async", &one),
            "tokio-async 0.790 s (one run)"
        );
        let abc = ["a".to_string(), "b".into(), "c".into()];
        assert_eq!(and_list(&abc), "a, b and c");
    }
}
