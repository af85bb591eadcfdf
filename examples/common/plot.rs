//! The demos' plots, drawn with `plotters` into SVG strings: line charts with a legend, and
//! 2-D optimizer paths over a shaded function.
#![allow(dead_code)]

use plotters::prelude::*;

/// One colour per series, all distinct (up to 16 series; the demo has 13 optimizers).
pub const COLORS: [RGBColor; 16] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(170, 51, 119),
    RGBColor(0, 0, 160),
    RGBColor(102, 204, 238),
    RGBColor(153, 102, 0),
    RGBColor(0, 110, 90),
];

const SIZE: (u32, u32) = (860, 480);

fn color(k: usize) -> RGBColor {
    assert!(k < COLORS.len(), "more series than distinct colours");
    COLORS[k]
}

/// Draws `series` into a built chart, with a legend.
fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[(String, Vec<(f64, f64)>)],
) where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (k, (name, p)) in series.iter().enumerate() {
        let pts = p.iter().copied().filter(|(_, y)| y.is_finite());
        chart
            .draw_series(LineSeries::new(pts, color(k).stroke_width(2)))
            .expect("series")
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color(k).stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .expect("legend");
}

/// A line chart of `series` (name, points), with a log-scale y axis if `log_y`.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_y: bool,
) -> String {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in series.iter().flat_map(|(_, p)| p.iter()).filter(|(_, y)| y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).expect("draw");
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70);
        if log_y {
            let mut chart =
                builder.build_cartesian_2d(x0..x1, (y0.max(1e-12)..y1).log_scale()).expect("chart");
            chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().expect("mesh");
            draw_lines(&mut chart, series);
        } else {
            let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).expect("chart");
            chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().expect("mesh");
            draw_lines(&mut chart, series);
        }
        root.present().expect("svg");
    }
    svg
}

/// Paths of 2-D optimizers over `f` on `[x0, x1] × [y0, y1]`, the function shown as shaded
/// bands of `log(1 + f − f_min)`; each path is drawn until it leaves the frame, its start as a
/// black dot.
pub fn trajectories(
    title: &str,
    f: &dyn Fn(f64, f64) -> f64,
    (x0, x1, y0, y1): (f64, f64, f64, f64),
    paths: &[(String, Vec<(f64, f64)>)],
) -> String {
    let (cells_x, cells_y) = (96, 60);
    let (dx, dy) = ((x1 - x0) / cells_x as f64, (y1 - y0) / cells_y as f64);
    let corner = |n: usize| (x0 + (n % cells_x) as f64 * dx, y0 + (n / cells_x) as f64 * dy);
    let vals: Vec<f64> = (0..cells_x * cells_y)
        .map(|n| {
            let (x, y) = corner(n);
            f(x + 0.5 * dx, y + 0.5 * dy)
        })
        .collect();
    let lo = vals.iter().copied().fold(f64::MAX, f64::min);
    let hi = vals.iter().map(|v| (1.0 + v - lo).ln()).fold(f64::MIN, f64::max).max(1e-12);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).expect("draw");
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, y0..y1)
            .expect("chart");
        chart.configure_mesh().disable_mesh().draw().expect("mesh");
        let shade = vals.iter().enumerate().map(|(n, v)| {
            let band = ((1.0 + v - lo).ln() / hi * 12.0).floor() / 12.0;
            let (g, b) = ((255.0 - 150.0 * band) as u8, (255.0 - 60.0 * band) as u8);
            let (x, y) = corner(n);
            Rectangle::new([(x, y), (x + dx, y + dy)], RGBColor(g, g, b).filled())
        });
        chart.draw_series(shade).expect("shading");
        let inside = |&(x, y): &(f64, f64)| (x0..=x1).contains(&x) && (y0..=y1).contains(&y);
        let clipped: Vec<(String, Vec<(f64, f64)>)> = paths
            .iter()
            .map(|(name, p)| {
                let shown = p.iter().position(|q| !inside(q)).map_or(p.len(), |i| i + 1);
                let pts = p[..shown].iter().map(|&(x, y)| (x.clamp(x0, x1), y.clamp(y0, y1)));
                (name.clone(), pts.collect())
            })
            .collect();
        let starts = paths.iter().filter_map(|(_, p)| p.first().copied());
        chart.draw_series(starts.map(|s| Circle::new(s, 4, BLACK.filled()))).expect("starts");
        draw_lines(&mut chart, &clipped);
        root.present().expect("svg");
    }
    svg
}
