//! Bars per model for one workload of `make bench`: the mean with its min-max whisker,
//! and the ideal time of each group's own baseline.

use super::err;
use anyhow::Result;
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
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

/// A bar chart's drawing area: one segment per bar, seconds up.
type Chart<'a> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<SegmentedCoord<RangedCoordusize>, RangedCoordf64>>;

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
    draw_groups(&mut chart, groups)?;
    draw_whiskers(&mut chart, &bars, top)?;
    if draw_ideals(&mut chart, groups)? || several {
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

/// Each group's bars, at their place in the row of all bars, named in the legend when
/// there are several groups.
fn draw_groups(chart: &mut Chart, groups: &[Group]) -> Result<()> {
    let several = groups.len() > 1;
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
    Ok(())
}

/// The min-max whisker of every measured bar, and "failed" where a model has no bar.
fn draw_whiskers(chart: &mut Chart, bars: &[&Bar], top: f64) -> Result<()> {
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
    Ok(())
}

/// Each group's ideal time as a red line over its own bars; whether any was drawn (it
/// then needs the legend).
fn draw_ideals(chart: &mut Chart, groups: &[Group]) -> Result<bool> {
    let several = groups.len() > 1;
    let mut first = 0;
    let mut drawn = false;
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
        drawn = true;
    }
    Ok(drawn)
}
