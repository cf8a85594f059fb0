//! Least-squares straight line, for memory per task: the slope of peak memory against N
//! (as jimblandy/context-switch measures it), not total memory divided by N.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Bytes per task.
    pub slope: f64,
    /// The fixed base: bytes at N = 0.
    pub intercept: f64,
    /// Coefficient of determination: 1 is a perfect line.
    pub r2: f64,
}

/// Fit y = intercept + slope x. None for fewer than two distinct x.
pub fn linear_fit(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    if points.len() < 2 || sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let r2 = if syy == 0.0 {
        1.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    Some(Fit {
        slope,
        intercept,
        r2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_line_is_recovered() {
        let f = linear_fit(&[(10.0, 1100.0), (100.0, 2000.0), (1000.0, 11000.0)]).unwrap();
        assert!(
            (f.slope - 10.0).abs() < 1e-9
                && (f.intercept - 1000.0).abs() < 1e-6
                && (f.r2 - 1.0).abs() < 1e-12
        );
    }

    #[test]
    fn noise_lowers_r2_and_degenerate_input_has_no_fit() {
        let f = linear_fit(&[(1.0, 1.0), (2.0, 5.0), (3.0, 2.0), (4.0, 6.0)]).unwrap();
        assert!(f.r2 < 0.9 && f.r2 > 0.0);
        assert!(linear_fit(&[(1.0, 1.0)]).is_none());
        assert!(linear_fit(&[(2.0, 1.0), (2.0, 3.0)]).is_none());
    }
}
