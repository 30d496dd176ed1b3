//! A small line chart rendered to PNG without system fonts: stacked panels of time series
//! (one colour per series), tick labels and a legend drawn with a built-in 5×7 bitmap font.
//! Used by the soak for `bench/soak.png`.

use std::path::Path;

/// One line of a panel.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points, in order of `x`.
    pub points: Vec<(f64, f64)>,
}

/// One panel: a title and its series, sharing the chart's x axis.
pub struct Panel {
    /// Shown at the top left of the panel.
    pub title: String,
    /// The lines.
    pub series: Vec<Series>,
}

/// Line colours, in series order.
pub const COLOURS: [[u8; 3]; 6] = [
    [0x1f, 0x77, 0xb4],
    [0xd6, 0x27, 0x28],
    [0x2c, 0xa0, 0x2c],
    [0xff, 0x7f, 0x0e],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
];

const WIDTH: usize = 1000;
const PANEL_H: usize = 330;
const LEFT: usize = 90;
const RIGHT: usize = 40;
const TOP: usize = 34;
const BOTTOM: usize = 50;
const SCALE: usize = 2;

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let i = (y as usize * self.w + x as usize) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut e) = (x0, y0, dx + dy);
        loop {
            self.rect(x, y, 2, 2, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * e;
            if e2 >= dy {
                e += dy;
                x += sx;
            }
            if e2 <= dx {
                e += dx;
                y += sy;
            }
        }
    }

    /// Text (upper-cased) with its top left corner at `(x, y)`.
    fn text(&mut self, x: i64, y: i64, s: &str, c: [u8; 3]) {
        for (i, ch) in s.chars().enumerate() {
            let g = glyph(ch.to_ascii_uppercase());
            let gx = x + (i * 6 * SCALE) as i64;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        self.rect(
                            gx + (col * SCALE) as i64,
                            y + (row * SCALE) as i64,
                            SCALE as i64,
                            SCALE as i64,
                            c,
                        );
                    }
                }
            }
        }
    }
}

/// Width in pixels of `s` in the chart's font.
fn text_width(s: &str) -> usize {
    s.chars().count() * 6 * SCALE
}

/// A round step giving about `n` ticks over `range`.
fn nice_step(range: f64, n: f64) -> f64 {
    let raw = (range / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn label(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{v:.0}")
    } else if step >= 0.1 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Draws `panels` over a shared x axis labelled `x_label`, with a dashed vertical marker at
/// `marker_x` (e.g. the end of a warm-up), and writes the PNG to `path`.
pub fn render(
    path: &Path,
    panels: &[Panel],
    x_label: &str,
    marker_x: Option<f64>,
) -> Result<(), String> {
    let h = PANEL_H * panels.len();
    let mut cv = Canvas {
        w: WIDTH,
        h,
        px: vec![0xff; WIDTH * h * 3],
    };
    let (grey, dark, light) = ([0x99; 3], [0x22; 3], [0xe4; 3]);
    let all = panels
        .iter()
        .flat_map(|p| p.series.iter().flat_map(|s| &s.points));
    let x_max = all.clone().map(|p| p.0).fold(0.0f64, f64::max).max(1e-9);
    let x_min = all.map(|p| p.0).fold(f64::INFINITY, f64::min).min(0.0);
    let x_step = nice_step(x_max - x_min, 10.0);
    for (k, panel) in panels.iter().enumerate() {
        let top = k * PANEL_H + TOP;
        let plot_h = PANEL_H - TOP - BOTTOM;
        let plot_w = WIDTH - LEFT - RIGHT;
        let ys = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1));
        let (mut y_min, mut y_max) = ys
            .clone()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                (a.min(y), b.max(y))
            });
        if !y_min.is_finite() {
            (y_min, y_max) = (0.0, 1.0);
        }
        // Start the axis at zero when that does not squash the lines flat.
        if y_min > 0.0 && y_min < (y_max - y_min) * 2.0 {
            y_min = 0.0;
        }
        if y_max - y_min < 1e-9 {
            y_max = y_min + 1.0;
        }
        let y_step = nice_step(y_max - y_min, 5.0);
        let y_lo = (y_min / y_step).floor() * y_step;
        let y_hi = (y_max / y_step).ceil() * y_step;
        let px = |x: f64| LEFT as i64 + ((x - x_min) / (x_max - x_min) * plot_w as f64) as i64;
        let py = |y: f64| {
            (top + plot_h) as i64 - ((y - y_lo) / (y_hi - y_lo) * plot_h as f64).round() as i64
        };
        // Grid and tick labels.
        let mut y = y_lo;
        while y <= y_hi + y_step * 0.01 {
            cv.rect(LEFT as i64, py(y), plot_w as i64, 1, light);
            let l = label(y, y_step);
            cv.text((LEFT - 8 - text_width(&l)) as i64, py(y) - 7, &l, dark);
            y += y_step;
        }
        let mut x = (x_min / x_step).ceil() * x_step;
        while x <= x_max + x_step * 0.01 {
            cv.rect(px(x), top as i64, 1, plot_h as i64, light);
            let l = label(x, x_step);
            cv.text(
                px(x) - text_width(&l) as i64 / 2,
                (top + plot_h + 6) as i64,
                &l,
                dark,
            );
            x += x_step;
        }
        cv.rect(LEFT as i64, top as i64, 1, plot_h as i64, grey);
        cv.rect(LEFT as i64, (top + plot_h) as i64, plot_w as i64, 1, grey);
        if let Some(m) = marker_x {
            let mut yy = top as i64;
            while yy < (top + plot_h) as i64 {
                cv.rect(px(m), yy, 2, 5, grey);
                yy += 10;
            }
        }
        // Title and legend.
        cv.text(LEFT as i64, (top - 24) as i64, &panel.title, dark);
        let mut lx = LEFT + text_width(&panel.title) + 40;
        for (i, s) in panel.series.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            cv.rect(lx as i64, (top - 22) as i64, 22, 10, c);
            cv.text((lx + 28) as i64, (top - 24) as i64, &s.name, dark);
            lx += 28 + text_width(&s.name) + 30;
        }
        if k + 1 == panels.len() {
            let w = text_width(x_label);
            cv.text(
                (WIDTH - RIGHT - w) as i64,
                (top + plot_h + 30) as i64,
                x_label,
                dark,
            );
        }
        for (i, s) in panel.series.iter().enumerate() {
            let c = COLOURS[i % COLOURS.len()];
            for w in s.points.windows(2) {
                cv.line((px(w[0].0), py(w[0].1)), (px(w[1].0), py(w[1].1)), c);
            }
            if let [only] = s.points.as_slice() {
                cv.rect(px(only.0) - 2, py(only.1) - 2, 5, 5, c);
            }
        }
    }
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), WIDTH as u32, h as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writer
        .write_image_data(&cv.px)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writer
        .finish()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The 5×7 glyph of `c` (rows top to bottom, bit 4 = leftmost column); unknown characters
/// are blank.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        _ => [0; 7],
    }
}
