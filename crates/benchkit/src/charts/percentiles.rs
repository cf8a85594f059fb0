//! Latency percentiles of every variant, one panel per model, on a log scale: the chart
//! of the report's "What blocks a scheduler" (mixed.csv).

use super::short;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// One line of a panel: a variant's latency percentiles in one model.
pub struct Percentiles {
    pub model: String,
    pub variant: String,
    /// p50, p90, p99, p99.9 and max, in ms; None where not measured.
    pub ms: [Option<f64>; 5],
}

/// Latency percentiles (p50, p90, p99, p99.9, max) of every variant, one panel per model,
/// on a log scale: each line is one variant.
pub fn percentiles(path: &Path, bench: &[Percentiles]) -> Result<()> {
    let mut models: Vec<&str> = bench.iter().map(|r| r.model.as_str()).collect();
    models.dedup();
    let (lo, hi) = bench
        .iter()
        .flat_map(|r| points(r).into_iter().map(|p| p.1))
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return Err(anyhow!("mixed chart: nothing measured to plot"));
    }
    // Headroom above the highest line for the legend.
    let (lo, hi) = (lo / 1.5, hi * 8.0);
    let root = SVGBackend::new(path, (1200, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "Request latency beside CPU jobs: percentiles per variant (log scale)",
            ("sans-serif", 20),
        )
        .map_err(err)?;
    let columns = models.len().clamp(1, 3);
    let panels = root.split_evenly((models.len().div_ceil(columns), columns));
    let labels = ["p50", "p90", "p99", "p99.9", "max"];
    for (panel, model) in panels.iter().zip(&models) {
        let mut chart = ChartBuilder::on(panel)
            .caption(*model, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(52)
            .build_cartesian_2d(-0.3f64..4.3, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(5)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && (0.0..5.0).contains(&i) {
                    labels[i as usize].to_string()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| {
                if *v >= 1000.0 {
                    format!("{} s", short(v / 1e3))
                } else {
                    format!("{} ms", short(*v))
                }
            })
            .draw()
            .map_err(err)?;
        for r in bench.iter().filter(|r| r.model == *model) {
            let color = color(&r.variant);
            chart
                .draw_series(LineSeries::new(points(r), color.stroke_width(2)))
                .map_err(err)?
                .label(r.variant.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points(r)
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// One colour per variant in every panel: the right way green, the traps warm.
fn color(variant: &str) -> RGBColor {
    match variant {
        "none" => BLACK,
        "offload" => RGBColor(0, 150, 60),
        "inline" => RGBColor(215, 40, 40),
        "yield" => RGBColor(30, 100, 220),
        "block" => RGBColor(240, 140, 0),
        "current-thread" => RGBColor(140, 40, 170),
        _ => RGBColor(120, 120, 120),
    }
}

fn points(r: &Percentiles) -> Vec<(f64, f64)> {
    r.ms.into_iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i as f64, v.filter(|v| *v > 0.0)?)))
        .collect()
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("mixed chart: {e}")
}
