//! A minimal SVG chart writer for the demos: line charts with axes, ticks and a legend, and
//! 2-D paths over a shaded function. Plain text output, no dependencies.
#![allow(dead_code)]

use std::fmt::Write;

/// Distinct colours for series.
pub const COLORS: [&str; 12] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#000000", "#aa3377",
];

const W: f64 = 760.0;
const H: f64 = 460.0;
const L: f64 = 70.0;
const R: f64 = 190.0;
const T: f64 = 40.0;
const B: f64 = 50.0;

fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= n as f64)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + 1e-9 * span {
        out.push(t);
        t += step;
    }
    out
}

/// A line chart of `series` (name, points) with a log-scale y axis if `log_y`.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_y: bool,
) -> String {
    let ty = |y: f64| if log_y { y.max(1e-12).log10() } else { y };
    let pts = series.iter().flat_map(|(_, p)| p.iter()).filter(|(_, y)| y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(ty(y));
        y1 = y1.max(ty(y));
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let sx = |x: f64| L + (x - x0) / (x1 - x0) * (W - L - R);
    let sy = |y: f64| H - B - (ty(y) - y0) / (y1 - y0) * (H - T - B);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    write!(s, r#"<rect width="{W}" height="{H}" fill="white"/><text x="{}" y="24" font-size="16" text-anchor="middle">{title}</text>"#, (W - R + L) / 2.0).unwrap();
    write!(
        s,
        r#"<rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        W - L - R,
        H - T - B
    )
    .unwrap();
    for t in nice_ticks(x0, x1, 8) {
        let x = sx(t);
        write!(s, r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="black"/><text x="{x:.1}" y="{}" text-anchor="middle">{t}</text>"#, H - B, H - B + 5.0, H - B + 18.0).unwrap();
    }
    let y_ticks = if log_y && y1 - y0 >= 1.0 {
        (y0.ceil() as i32..=y1.floor() as i32).map(f64::from).collect()
    } else {
        nice_ticks(y0, y1, 6)
    };
    for t in y_ticks {
        let y = H - B - (t - y0) / (y1 - y0) * (H - T - B);
        let label = if log_y { format!("{:.3}", 10f64.powf(t)) } else { format!("{t:.3}") };
        write!(s, r##"<line x1="{}" y1="{y:.1}" x2="{L}" y2="{y:.1}" stroke="black"/><line x1="{L}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##, L - 5.0, W - R, L - 8.0, y + 4.0).unwrap();
    }
    write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{x_label}</text>"#,
        (W - R + L) / 2.0,
        H - 10.0
    )
    .unwrap();
    write!(s, r#"<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">{y_label}</text>"#, (H - B + T) / 2.0, (H - B + T) / 2.0).unwrap();
    for (k, (name, p)) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let path: Vec<String> = p
            .iter()
            .filter(|(_, y)| y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
            path.join(" ")
        )
        .unwrap();
        let ly = T + 10.0 + 18.0 * k as f64;
        write!(s, r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{name}</text>"#, W - R + 10.0, W - R + 30.0, W - R + 35.0, ly + 4.0).unwrap();
    }
    s.push_str("</svg>\n");
    s
}

/// Paths of 2-D optimizers over `f` on `[x0, x1] × [y0, y1]`, the function shown as shaded
/// bands of `log(1 + f − f_min)`.
pub fn trajectories(
    title: &str,
    f: &dyn Fn(f64, f64) -> f64,
    (x0, x1, y0, y1): (f64, f64, f64, f64),
    paths: &[(String, Vec<(f64, f64)>)],
) -> String {
    let (w, h) = (W - R, H - B);
    let (cells_x, cells_y) = (96, 60);
    let sx = |x: f64| 40.0 + (x - x0) / (x1 - x0) * (w - 40.0);
    let sy = |y: f64| h - (y - y0) / (y1 - y0) * (h - T);
    let mut vals = Vec::new();
    for j in 0..cells_y {
        for i in 0..cells_x {
            let x = x0 + (i as f64 + 0.5) / cells_x as f64 * (x1 - x0);
            let y = y0 + (j as f64 + 0.5) / cells_y as f64 * (y1 - y0);
            vals.push(f(x, y));
        }
    }
    let lo = vals.iter().cloned().fold(f64::MAX, f64::min);
    let hi = vals.iter().map(|v| (1.0 + v - lo).ln()).fold(f64::MIN, f64::max);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    write!(s, r#"<rect width="{W}" height="{H}" fill="white"/><text x="{}" y="24" font-size="16" text-anchor="middle">{title}</text>"#, w / 2.0 + 20.0).unwrap();
    let (cw, ch) = ((w - 40.0) / cells_x as f64, (h - T) / cells_y as f64);
    for j in 0..cells_y {
        for i in 0..cells_x {
            let t = (1.0 + vals[j * cells_x + i] - lo).ln() / hi.max(1e-12);
            let band = (t * 12.0).floor() / 12.0;
            let g = (255.0 - 150.0 * band) as u8;
            let b = (255.0 - 60.0 * band) as u8;
            write!(s, r#"<rect x="{:.1}" y="{:.1}" width="{:.2}" height="{:.2}" fill="rgb({g},{g},{b})"/>"#, 40.0 + i as f64 * cw, h - (j + 1) as f64 * ch, cw + 0.3, ch + 0.3).unwrap();
        }
    }
    for (k, (name, p)) in paths.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        // The path until it leaves the frame (an escaping path is drawn to its exit point).
        let inside = |&&(x, y): &&(f64, f64)| (x0..=x1).contains(&x) && (y0..=y1).contains(&y);
        let shown = p.iter().position(|q| !inside(&q)).map_or(p.len(), |i| i + 1);
        let pts: Vec<String> = p[..shown]
            .iter()
            .map(|&(x, y)| (x.clamp(x0, x1), y.clamp(y0, y1)))
            .map(|(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{}"/>"#,
            pts.join(" ")
        )
        .unwrap();
        if let Some(&(x, y)) = p.first() {
            write!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="black"/>"#, sx(x), sy(y))
                .unwrap();
        }
        let ly = T + 10.0 + 18.0 * k as f64;
        write!(s, r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"/><text x="{}" y="{}">{name}</text>"#, w + 10.0, w + 30.0, w + 35.0, ly + 4.0).unwrap();
    }
    s.push_str("</svg>\n");
    s
}
