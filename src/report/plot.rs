//! PNG line plots (demagnetization curves with anchor points, loss curves) and parity plots,
//! drawn with plotters' bitmap backend and the embedded DejaVu Sans font.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::label_placement::{Obstacles, PixelBox, place_marker_labels, sample_polyline};
use super::text::{DEJAVU_SANS, GlyphBackend};

/// The backend every PNG is drawn on: plotters' bitmap backend with this crate's text layout.
pub(crate) type Png<'a> = GlyphBackend<BitMapBackend<'a>>;

/// Errors producing a plot.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Plots are written as PNG; the path must end in `.png`.
    #[error("plot path `{path}` must end in .png")]
    NotPng {
        /// The offending path.
        path: PathBuf,
    },
    /// The embedded font could not be registered with plotters.
    #[error("the embedded DejaVu Sans font could not be loaded")]
    Font,
    /// Nothing drawable was given.
    #[error("nothing to plot: {0}")]
    NoData(String),
    /// Plotters failed while drawing or writing the file.
    #[error("drawing `{path}` failed: {message}")]
    Drawing {
        /// The output file.
        path: PathBuf,
        /// Plotters' error message.
        message: String,
    },
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStyle {
    /// Points joined by straight lines.
    Line,
    /// Unjoined circles.
    Markers,
}

/// One named data series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points; non-finite points (and non-positive `y` on a log axis) are skipped.
    pub points: Vec<(f64, f64)>,
    /// Line or markers.
    pub style: SeriesStyle,
}

/// A labelled point drawn on top of the series (e.g. an anchor point of a demag curve).
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Text next to the point.
    pub label: String,
    /// x position (data units).
    pub x: f64,
    /// y position (data units).
    pub y: f64,
}

/// A line chart: axes labels, series, labelled markers, optional logarithmic y axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Data series, drawn in order with the palette's colours.
    pub series: Vec<Series>,
    /// Labelled points drawn on top.
    pub markers: Vec<Marker>,
    /// Logarithmic y axis (for loss curves).
    pub log_y: bool,
}

/// Pixel size of line charts.
pub const LINE_CHART_SIZE: (u32, u32) = (960, 640);
/// Pixel size of the square plotting area of parity plots.
pub const PARITY_PLOT_SIZE: u32 = 640;

/// Colour-blind-friendly palette (Tableau 10).
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

pub(crate) const TITLE_FONT: u32 = 26;
pub(crate) const LABEL_FONT: u32 = 20;
pub(crate) const TICK_FONT: u32 = 16;

/// Registers the embedded font with plotters once per process.
pub(crate) fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// Checks the extension and registers the font; call before creating a backend.
pub(crate) fn prepare_png(path: &Path) -> Result<(), PlotError> {
    let is_png = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !is_png {
        return Err(PlotError::NotPng {
            path: path.to_path_buf(),
        });
    }
    ensure_font()
}

/// Wraps a plotters error with the output path.
pub(crate) fn drawing_error<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> PlotError + '_ {
    move |e| PlotError::Drawing {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// `[min, max]` of the finite values, padded by `fraction` of the span (or ±0.5 / ±10% when
/// the span is zero).
fn padded_range(values: impl Iterator<Item = f64>, fraction: f64) -> Option<Range<f64>> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return None;
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * fraction
    } else if lo != 0.0 {
        lo.abs() * 0.1
    } else {
        0.5
    };
    Some(lo - pad..hi + pad)
}

/// Writes a line chart to `path` (PNG, [`LINE_CHART_SIZE`]), series `k` in palette colour `k`.
pub fn line_plot(path: &Path, chart: &LineChart) -> Result<(), PlotError> {
    line_plot_colored(path, chart, &[])
}

/// [`line_plot`] with series `k` in palette colour `colors[k]` (series beyond `colors` in colour
/// `k`), so that series that belong together (a prediction and its simulation) share a colour.
pub fn line_plot_colored(
    path: &Path,
    chart: &LineChart,
    colors: &[usize],
) -> Result<(), PlotError> {
    prepare_png(path)?;
    let y_ok = |y: f64| y.is_finite() && (!chart.log_y || y > 0.0);
    let series_points = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .chain(chart.markers.iter().map(|m| (m.x, m.y)))
        .filter(|&(x, y)| x.is_finite() && y_ok(y));
    let points: Vec<(f64, f64)> = series_points.collect();
    let skipped = chart.series.iter().map(|s| s.points.len()).sum::<usize>() + chart.markers.len()
        - points.len();
    if skipped > 0 {
        tracing::warn!(path = %path.display(), skipped, "line plot skips points it cannot draw");
    }
    let x_range = padded_range(points.iter().map(|p| p.0), 0.03)
        .ok_or_else(|| PlotError::NoData(format!("no drawable point for `{}`", path.display())))?;
    let root = GlyphBackend(BitMapBackend::new(path, LINE_CHART_SIZE)).into_drawing_area();
    root.fill(&WHITE).map_err(drawing_error(path))?;
    if chart.log_y {
        let (lo, hi) = points.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
        // Round out to whole decades (a hair wider, so that rounding cannot drop the end
        // ticks) to give the axis labelled ticks at both ends.
        let lo_decade = lo.log10().floor();
        let hi_decade = hi.log10().ceil().max(lo_decade + 1.0);
        let y_range = 10f64.powf(lo_decade) * 0.999..10f64.powf(hi_decade) * 1.001;
        draw_line_chart(
            &root,
            path,
            chart,
            colors,
            x_range,
            y_range.log_scale(),
            0.0,
        )?;
    } else {
        let y_range = padded_range(points.iter().map(|p| p.1), 0.05)
            .expect("x range found a point, so y has one too");
        let y_span = y_range.end - y_range.start;
        draw_line_chart(&root, path, chart, colors, x_range, y_range, y_span)?;
    }
    root.present().map_err(drawing_error(path))
}

fn draw_line_chart<Y>(
    root: &DrawingArea<Png<'_>, Shift>,
    path: &Path,
    spec: &LineChart,
    colors: &[usize],
    x_range: Range<f64>,
    y_range: Y,
    y_span: f64,
) -> Result<(), PlotError>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let err = drawing_error(path);
    let y_ok = |y: f64| y.is_finite() && (!spec.log_y || y > 0.0);
    let x_span = x_range.end - x_range.start;
    let mut chart = ChartBuilder::on(root)
        .caption(&spec.title, ("sans-serif", TITLE_FONT))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(x_range, y_range)
        .map_err(&err)?;
    chart
        .configure_mesh()
        .x_desc(spec.x_label.as_str())
        .y_desc(spec.y_label.as_str())
        .axis_desc_style(("sans-serif", LABEL_FONT))
        .label_style(("sans-serif", TICK_FONT))
        .y_label_formatter(&|v| format_tick(*v, y_span))
        .x_label_formatter(&|v| format_tick(*v, x_span))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(&err)?;
    for (k, series) in spec.series.iter().enumerate() {
        let color = PALETTE[colors.get(k).copied().unwrap_or(k) % PALETTE.len()];
        let points = series
            .points
            .iter()
            .copied()
            .filter(|&(x, y)| x.is_finite() && y_ok(y));
        let drawn = match series.style {
            SeriesStyle::Line => chart.draw_series(LineSeries::new(points, color.stroke_width(2))),
            SeriesStyle::Markers => {
                chart.draw_series(points.map(|p| Circle::new(p, 3, color.filled())))
            }
        };
        let style = series.style;
        drawn
            .map_err(&err)?
            .label(series.name.as_str())
            .legend(move |(x, y)| {
                let symbol: DynElement<'static, Png<'_>, (i32, i32)> = match style {
                    SeriesStyle::Line => {
                        PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                            .into_dyn()
                    }
                    SeriesStyle::Markers => Circle::new((x + 12, y), 4, color.filled()).into_dyn(),
                };
                symbol
            });
    }
    // Marker labels and the legend go where they hide the least data.
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let bounds = PixelBox {
        x0: x_px.start,
        y0: y_px.start,
        x1: x_px.end,
        y1: y_px.end,
    };
    let mut data_px = Vec::new();
    for series in &spec.series {
        let px: Vec<(i32, i32)> = series
            .points
            .iter()
            .filter(|&&(x, y)| x.is_finite() && y_ok(y))
            .map(|p| chart.backend_coord(p))
            .collect();
        match series.style {
            SeriesStyle::Line => data_px.extend(sample_polyline(&px, 3)),
            SeriesStyle::Markers => data_px.extend(px),
        }
    }
    let markers: Vec<&Marker> = spec
        .markers
        .iter()
        .filter(|m| m.x.is_finite() && y_ok(m.y))
        .collect();
    let marker_px: Vec<(i32, i32)> = markers
        .iter()
        .map(|m| chart.backend_coord(&(m.x, m.y)))
        .collect();
    let label_font = ("sans-serif", TICK_FONT).into_font().color(&BLACK);
    let text_size = |text: &str| {
        root.estimate_text_size(text, &label_font)
            .map(|(w, h)| (w as i32, h as i32))
    };
    let sizes = markers
        .iter()
        .map(|m| text_size(&m.label))
        .collect::<Result<Vec<_>, _>>()
        .map_err(&err)?;
    let label_boxes = place_marker_labels(&marker_px, &sizes, &data_px, bounds);
    chart
        .draw_series(markers.iter().map(|m| {
            EmptyElement::at((m.x, m.y))
                + Circle::new((0, 0), 6, BLACK.filled())
                + Circle::new((0, 0), 3, WHITE.filled())
        }))
        .map_err(&err)?;
    for (m, b) in markers.iter().zip(&label_boxes) {
        root.draw(&Text::new(
            m.label.as_str(),
            (b.x0, b.y0),
            label_font.clone(),
        ))
        .map_err(&err)?;
    }
    if !spec.series.is_empty() {
        // Legend box as plotters lays it out: 10 px margins, a 30 px symbol column, lines
        // 1.25 font heights apart.
        let widths = spec
            .series
            .iter()
            .map(|s| text_size(&s.name).map(|(w, _)| w))
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        let lines = spec.series.len() as i32;
        let size = (
            widths.iter().copied().max().unwrap_or(0) + 50,
            (f64::from(TICK_FONT) * (1.25 * f64::from(lines - 1) + 1.0)) as i32 + 20,
        );
        let (x0, y0, x1, y1) = (bounds.x0 + 5, bounds.y0 + 5, bounds.x1 - 5, bounds.y1 - 5);
        let (xm, ym) = ((x0 + x1 - size.0) / 2, (y0 + y1 - size.1) / 2);
        let corners = [
            (x0, y0),
            (x1 - size.0, y0),
            (x1 - size.0, y1 - size.1),
            (x0, y1 - size.1),
            (xm, y0),
            (xm, y1 - size.1),
            (x1 - size.0, ym),
            (x0, ym),
        ];
        let obstacles = Obstacles {
            data: &data_px,
            markers: &marker_px,
            taken: &label_boxes,
            bounds,
        };
        let legend = obstacles
            .best(corners.map(|(x, y)| PixelBox::at(x, y, size)))
            .expect("eight candidates");
        chart
            .configure_series_labels()
            .label_font(("sans-serif", TICK_FONT))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .position(SeriesLabelPosition::Coordinate(
                legend.x0 - bounds.x0,
                legend.y0 - bounds.y0,
            ))
            .draw()
            .map_err(&err)?;
    }
    Ok(())
}

/// Tick label: plain for moderate magnitudes, scientific for very small/large ones; values
/// within `span`·1e-9 of zero (rounding residue of tick positions) print as `0`.
pub(crate) fn format_tick(v: f64, span: f64) -> String {
    let a = v.abs();
    if a <= span.abs() * 1e-9 {
        "0".to_string()
    } else if (1e-3..1e5).contains(&a) {
        let text = format!("{v:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_string()
        } else {
            text.to_string()
        }
    } else {
        let text = format!("{v:.2e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    }
}

/// Writes a parity plot of computed (x) against predicted (y) values to `path`: train and test
/// points in two colours, the line y = x, equal axes on a square plotting area. `quantity` names
/// the plotted value in the axis labels, e.g. `"Hc / HA"`.
pub fn parity_plot(
    path: &Path,
    title: &str,
    quantity: &str,
    train: &[(f64, f64)],
    test: &[(f64, f64)],
) -> Result<(), PlotError> {
    prepare_png(path)?;
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all = train.iter().chain(test).filter(finite);
    let range = padded_range(all.flat_map(|&(x, y)| [x, y]), 0.05)
        .ok_or_else(|| PlotError::NoData(format!("no finite pair for `{}`", path.display())))?;
    let err = drawing_error(path);
    // Fixed decorations around a PARITY_PLOT_SIZE square: caption on top, labels left/bottom.
    let (margin, caption, x_area, y_area) = (20u32, 50u32, 70u32, 90u32);
    let size = (
        PARITY_PLOT_SIZE + y_area + 2 * margin,
        PARITY_PLOT_SIZE + x_area + caption + 2 * margin,
    );
    let root = GlyphBackend(BitMapBackend::new(path, size)).into_drawing_area();
    root.fill(&WHITE).map_err(&err)?;
    let (title_area, body) = root.split_vertically(caption + margin);
    title_area
        .draw_text(
            title,
            &("sans-serif", TITLE_FONT).into_font().color(&BLACK).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ),
            ),
            (
                i32::try_from(size.0 / 2).unwrap_or(0),
                ((caption + margin) / 2) as i32,
            ),
        )
        .map_err(&err)?;
    let mut chart = ChartBuilder::on(&body)
        .margin(margin)
        .margin_top(0)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(range.clone(), range.clone())
        .map_err(&err)?;
    chart
        .configure_mesh()
        .x_desc(format!("computed {quantity}"))
        .y_desc(format!("predicted {quantity}"))
        .axis_desc_style(("sans-serif", LABEL_FONT))
        .label_style(("sans-serif", TICK_FONT))
        .x_label_formatter(&|v| format_tick(*v, range.end - range.start))
        .y_label_formatter(&|v| format_tick(*v, range.end - range.start))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(&err)?;
    chart
        .draw_series(LineSeries::new(
            [(range.start, range.start), (range.end, range.end)],
            BLACK.mix(0.6).stroke_width(1),
        ))
        .map_err(&err)?
        .label("y = x")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.6)));
    for (k, (name, pairs)) in [("train", train), ("test", test)].into_iter().enumerate() {
        let color = PALETTE[k];
        let points: Vec<(f64, f64)> = pairs.iter().filter(finite).copied().collect();
        let label = format!(
            "{name} (n = {}, RMSE = {})",
            points.len(),
            rmse_text(&points)
        );
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 3, color.mix(0.7).filled())),
            )
            .map_err(&err)?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 12, y), 4, color.filled()));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", TICK_FONT))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(&err)?;
    root.present().map_err(&err)
}

/// Root-mean-square of `predicted − computed`, summed in input order; "—" for no points.
fn rmse_text(points: &[(f64, f64)]) -> String {
    if points.is_empty() {
        return "—".to_string();
    }
    let sum: f64 = points.iter().map(|(x, y)| (y - x) * (y - x)).sum();
    crate::report::table::format_significant((sum / points.len() as f64).sqrt(), 3)
}

#[cfg(test)]
#[path = "plot_tests.rs"]
pub(crate) mod tests;
