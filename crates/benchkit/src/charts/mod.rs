//! SVG charts with plotters: bars per model for a workload, and log-log lines for the sweep.

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::path::Path;

/// One bar: a model's mean with its min-max whisker, or a failed model (no bar).
pub struct Bar {
    pub model: String,
    pub mean: Option<f64>,
    pub min: f64,
    pub max: f64,
}

/// Bars measured together (the Rust models, or the Python ones), drawn in one colour,
/// with the ideal time of their own baseline.
pub struct Group {
    /// The group's name ("Rust"), for its ideal line when the chart has several groups.
    pub name: String,
    /// The legend's entry for these bars when the chart has several groups.
    pub label: String,
    pub bars: Vec<Bar>,
    pub ideal: Option<f64>,
}

/// The colour of each group's bars: the first (Rust) blue, the next (Python) orange.
fn group_colour(i: usize) -> RGBAColor {
    [BLUE.mix(0.55), RGBColor(230, 120, 0).mix(0.75)][i % 2]
}

/// Mean time per model with min-max whiskers and the ideal time marked. One group: its
/// bars in blue and one ideal line. Several: side by side, each in its colour, named in
/// the legend, with its ideal line over its own bars.
pub fn bars(path: &Path, title: &str, groups: &[Group]) -> Result<()> {
    let bars: Vec<&Bar> = groups.iter().flat_map(|g| &g.bars).collect();
    let n = bars.len();
    let several = groups.len() > 1;
    // Head room above the tallest bar; with several groups, for the longer legend too.
    let room = if several { 1.5 } else { 1.15 };
    let top = bars
        .iter()
        .filter_map(|b| b.mean.map(|_| b.max))
        .chain(groups.iter().filter_map(|g| g.ideal))
        .fold(0.0, f64::max)
        * room;
    let top = if top > 0.0 { top } else { 1.0 };
    // Room for every model's name under its bar.
    let width = if several {
        (100 * n as u32).max(960)
    } else {
        960
    };
    let root = SVGBackend::new(path, (width, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((0..n).into_segmented(), 0f64..top)
        .map_err(err)?;
    let names: Vec<String> = bars.iter().map(|b| b.model.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_desc("seconds (mean, whisker min-max)")
        .draw()
        .map_err(err)?;
    // Each group's bars, at their place in the row of all bars.
    let mut first = 0;
    for (g, group) in groups.iter().enumerate() {
        let colour = group_colour(g);
        let series = chart
            .draw_series(group.bars.iter().enumerate().filter_map(|(i, b)| {
                let mean = b.mean?;
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(first + i), 0.0),
                        (SegmentValue::Exact(first + i + 1), mean),
                    ],
                    colour.filled(),
                );
                bar.set_margin(0, 0, 14, 14);
                Some(bar)
            }))
            .map_err(err)?;
        if several {
            series.label(group.label.clone()).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], colour.filled())
            });
        }
        first += group.bars.len();
    }
    chart
        .draw_series(
            bars.iter()
                .enumerate()
                .filter(|(_, b)| b.mean.is_some())
                .map(|(i, b)| {
                    PathElement::new(
                        vec![
                            (SegmentValue::CenterOf(i), b.min),
                            (SegmentValue::CenterOf(i), b.max),
                        ],
                        BLACK.stroke_width(2),
                    )
                }),
        )
        .map_err(err)?;
    chart
        .draw_series(
            bars.iter()
                .enumerate()
                .filter(|(_, b)| b.mean.is_none())
                .map(|(i, _)| {
                    Text::new(
                        "failed",
                        (SegmentValue::CenterOf(i), top * 0.05),
                        ("sans-serif", 14).into_font().color(&RED),
                    )
                }),
        )
        .map_err(err)?;
    let mut first = 0;
    let mut legend = several;
    for group in groups {
        let span = (first, first + group.bars.len());
        first = span.1;
        let Some(ideal) = group.ideal else { continue };
        let label = if several {
            format!("ideal, {}: {ideal:.3} s", group.name)
        } else {
            format!("ideal: {ideal:.3} s")
        };
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![
                    (SegmentValue::Exact(span.0), ideal),
                    (SegmentValue::Exact(span.1), ideal),
                ],
                RED.stroke_width(2),
            )))
            .map_err(err)?
            .label(label)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        legend = true;
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// One model's line in a sweep chart.
pub struct Line {
    pub model: String,
    /// Measured (N, value) points.
    pub points: Vec<(f64, f64)>,
    /// N of cells not measured: (N, true if failed, false if skipped).
    pub missing: Vec<(f64, bool)>,
}

/// Value against N, one line per model, on log-log axes (or linear ones). Cells that were
/// skipped (x) or failed (triangle) are marked at the top edge, at their N.
pub fn lines(
    path: &Path,
    title: &str,
    y_desc: &str,
    lines: &[Line],
    log: bool,
    reference: Option<Line>,
) -> Result<()> {
    let all = lines
        .iter()
        .chain(reference.as_ref())
        .flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    for &(x, _) in lines.iter().flat_map(|l| l.missing.iter()) {
        (x0, x1) = (x0.min(x), x1.max(x));
    }
    if x0 > x1 {
        return Err(anyhow!("{title}: nothing measured to plot"));
    }
    let (y_lo, y_hi, edge) = if log {
        (y0 / 2.0, y1 * 4.0, y1 * 2.5)
    } else {
        (0.0, y1 * 1.3, y1 * 1.2)
    };
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let caption = format!("{title}   (x skipped, triangle failed: at the top edge)");
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(80);
    let style = |i: usize| Palette99::pick(i).mix(0.95);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc("N (tasks)")
                .y_desc(y_desc)
                .y_label_formatter(&|v| short(*v))
                .x_label_formatter(&|v| short(*v))
                .draw()
                .map_err(err)?;
            for (i, line) in lines.iter().enumerate() {
                let color = style(i);
                chart
                    .draw_series(LineSeries::new(line.points.clone(), color.stroke_width(2)))
                    .map_err(err)?
                    .label(line.model.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(
                        line.points
                            .iter()
                            .map(|&p| Circle::new(p, 3, color.filled())),
                    )
                    .map_err(err)?;
                // Each model's markers sit a little to the right of the last one's, so that
                // markers of several models at one N stay visible side by side; past eight
                // models (the Python ones too), the steps shrink to keep the same span.
                let step = 8.0 / lines.len().max(8) as f64;
                let shift = |x: f64| {
                    if log {
                        x * (1.0 + 0.05 * step * i as f64)
                    } else {
                        x + 0.12 * step * i as f64
                    }
                };
                chart
                    .draw_series(
                        line.missing
                            .iter()
                            .filter(|m| !m.1)
                            .map(|&(x, _)| Cross::new((shift(x), edge), 5, color.stroke_width(2))),
                    )
                    .map_err(err)?;
                chart
                    .draw_series(
                        line.missing.iter().filter(|m| m.1).map(|&(x, _)| {
                            TriangleMarker::new((shift(x), edge), 6, color.filled())
                        }),
                    )
                    .map_err(err)?;
            }
            if let Some(reference) = &reference {
                chart
                    .draw_series(LineSeries::new(
                        reference.points.clone(),
                        BLACK.stroke_width(1),
                    ))
                    .map_err(err)?
                    .label(reference.model.clone())
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .border_style(BLACK)
                .background_style(WHITE.mix(0.9))
                .draw()
                .map_err(err)?;
        }};
    }
    if log {
        draw!(builder
            .build_cartesian_2d((x0 / 1.5..x1 * 1.8).log_scale(), (y_lo..y_hi).log_scale())
            .map_err(err)?);
    } else {
        draw!(builder
            .build_cartesian_2d(0f64..x1 * 1.05, y_lo..y_hi)
            .map_err(err)?);
    }
    root.present().map_err(err)
}

/// 1500 -> "1.5k", 2e6 -> "2M", 0.25 -> "0.25".
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("chart: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(2e6), "2M");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(10.0), "10");
    }
}
