//! Value against N, one line per model, on log-log (or linear) axes: the sweeps' charts,
//! and p99 against the offered rate of the serve sweep.

use super::{err, short};
use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use std::path::Path;

/// One model's line in a sweep chart.
pub struct Line {
    pub model: String,
    /// Measured (N, value) points.
    pub points: Vec<(f64, f64)>,
    /// N of cells not measured: (N, true if failed, false if skipped).
    pub missing: Vec<(f64, bool)>,
}

/// What every line of one chart is drawn with: its axis label, whether the axes are
/// logarithmic, and where the cells not measured are marked (the top edge).
struct Style<'a> {
    x_desc: &'a str,
    y_desc: &'a str,
    log: bool,
    edge: f64,
    /// Lines in the chart, for the spacing of the markers at one N.
    count: usize,
}

/// Value against N (or any `x_desc`), one line per model, on log-log axes (or linear
/// ones). Cells that were skipped (x) or failed (triangle) are marked at the top edge, at
/// their N.
pub fn lines(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    lines: &[Line],
    log: bool,
    reference: Option<Line>,
) -> Result<()> {
    let (x0, x1, y0, y1) = bounds(lines, reference.as_ref())
        .ok_or_else(|| anyhow!("{title}: nothing measured to plot"))?;
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
    let style = Style {
        x_desc,
        y_desc,
        log,
        edge,
        count: lines.len(),
    };
    if log {
        let mut chart = builder
            .build_cartesian_2d((x0 / 1.5..x1 * 1.8).log_scale(), (y_lo..y_hi).log_scale())
            .map_err(err)?;
        draw(&mut chart, &style, lines, reference.as_ref())?;
    } else {
        let mut chart = builder
            .build_cartesian_2d(0f64..x1 * 1.05, y_lo..y_hi)
            .map_err(err)?;
        draw(&mut chart, &style, lines, reference.as_ref())?;
    }
    root.present().map_err(err)
}

/// The smallest and largest N and value over every point (and N of every cell not
/// measured): None when there is nothing to plot.
fn bounds(lines: &[Line], reference: Option<&Line>) -> Option<(f64, f64, f64, f64)> {
    let all = lines.iter().chain(reference).flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    for &(x, _) in lines.iter().flat_map(|l| l.missing.iter()) {
        (x0, x1) = (x0.min(x), x1.max(x));
    }
    (x0 <= x1).then_some((x0, x1, y0, y1))
}

/// The mesh, every line, the reference line and the legend, on either kind of axes.
fn draw<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    style: &Style,
    lines: &[Line],
    reference: Option<&Line>,
) -> Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(style.x_desc)
        .y_desc(style.y_desc)
        .y_label_formatter(&|v| short(*v))
        .x_label_formatter(&|v| short(*v))
        .draw()
        .map_err(err)?;
    for (i, line) in lines.iter().enumerate() {
        draw_line(chart, style, i, line)?;
    }
    if let Some(reference) = reference {
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
        .map_err(err)
}

/// One model's line, its points, and its cells not measured at the top edge.
fn draw_line<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    style: &Style,
    i: usize,
    line: &Line,
) -> Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let color = Palette99::pick(i).mix(0.95);
    chart
        .draw_series(LineSeries::new(line.points.clone(), color.stroke_width(2)))
        .map_err(err)?
        .label(line.model.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    chart
        .draw_series(
            line.points
                .iter()
                .map(|&p| Circle::new(p, 3, color.filled())),
        )
        .map_err(err)?;
    // Each model's markers sit a little to the right of the last one's, so that markers
    // of several models at one N stay visible side by side; past eight models (the Python
    // ones too), the steps shrink to keep the same span.
    let step = 8.0 / style.count.max(8) as f64;
    let shift = |x: f64| {
        if style.log {
            x * (1.0 + 0.05 * step * i as f64)
        } else {
            x + 0.12 * step * i as f64
        }
    };
    let edge = style.edge;
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
            line.missing
                .iter()
                .filter(|m| m.1)
                .map(|&(x, _)| TriangleMarker::new((shift(x), edge), 6, color.filled())),
        )
        .map_err(err)?;
    Ok(())
}
