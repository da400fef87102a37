//! `ratios.svg`: a horizontal bar chart, hand-written SVG, of every implementation's ratio to
//! the floor per workload and size (the floor itself is the dashed line at ×1).

use super::{Report, FLOOR};
use std::fmt::Write;

/// Bar colours, by implementation position (the floor has none: it is the ×1 line).
const PALETTE: &[&str] = &[
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
];

const WIDTH: f64 = 960.0;
const LABEL_WIDTH: f64 = 230.0;
const RIGHT_MARGIN: f64 = 70.0;
const BAR_HEIGHT: f64 = 12.0;
const BAR_GAP: f64 = 2.0;
const ROW_GAP: f64 = 12.0;
const TOP: f64 = 70.0;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A "nice" axis maximum at or above `max`: 1, 1.5, 2, 3, 5, 10, 15, 20, …
fn axis_max(max: f64) -> f64 {
    let mut scale = 1.0;
    loop {
        for step in [1.0, 1.5, 2.0, 3.0, 5.0] {
            if step * scale >= max {
                return step * scale;
            }
        }
        scale *= 10.0;
    }
}

/// The chart as an SVG document.
pub fn ratios_svg(report: &Report) -> String {
    let groups = report.groups();
    // Implementations with at least one ratio (groups without the floor have none).
    let implementations: Vec<String> = report
        .implementations()
        .into_iter()
        .filter(|name| name != FLOOR)
        .filter(|name| {
            groups.iter().any(|group| {
                report
                    .parameters(group)
                    .iter()
                    .any(|parameter| report.ratio(group, name, parameter).is_some())
            })
        })
        .collect();
    // (label, [(implementation index, ratio)])
    let mut rows: Vec<(String, Vec<(usize, f64)>)> = Vec::new();
    for group in &groups {
        for parameter in report.parameters(group) {
            let bars: Vec<(usize, f64)> = implementations
                .iter()
                .enumerate()
                .filter_map(|(i, name)| Some((i, report.ratio(group, name, &parameter)?)))
                .collect();
            if !bars.is_empty() {
                rows.push((format!("{group} / {parameter}"), bars));
            }
        }
    }
    let max = rows
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|&(_, ratio)| ratio))
        .fold(1.0_f64, f64::max);
    let axis = axis_max(max * 1.05);
    let plot = WIDTH - LABEL_WIDTH - RIGHT_MARGIN;
    let x = |ratio: f64| LABEL_WIDTH + plot * ratio / axis;
    let rows_height: f64 = rows
        .iter()
        .map(|(_, bars)| bars.len() as f64 * (BAR_HEIGHT + BAR_GAP) + ROW_GAP)
        .sum();
    let height = TOP + rows_height.max(40.0) + 40.0;

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="20" font-size="15" font-weight="bold">Median time relative to tokio_postgres (×1 = the floor; lower is better)</text>"#,
        LABEL_WIDTH - 200.0
    );
    // Legend.
    let mut legend_x = LABEL_WIDTH;
    for (i, name) in implementations.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let _ = writeln!(
            svg,
            r#"<rect x="{legend_x}" y="32" width="12" height="12" fill="{color}"/><text x="{}" y="42">{}</text>"#,
            legend_x + 16.0,
            escape(name)
        );
        legend_x += 24.0 + 7.0 * name.len() as f64;
    }
    // Grid and axis labels.
    let steps = if axis <= 3.0 { axis * 2.0 } else { 5.0 };
    let bottom = TOP + rows_height;
    for k in 0..=steps as usize {
        let ratio = axis * k as f64 / steps;
        let gx = x(ratio);
        let _ = writeln!(
            svg,
            r##"<line x1="{gx:.1}" y1="{}" x2="{gx:.1}" y2="{bottom}" stroke="#ddd"/><text x="{gx:.1}" y="{}" text-anchor="middle" fill="#555">×{}</text>"##,
            TOP - 8.0,
            bottom + 14.0,
            (ratio * 100.0).round() / 100.0
        );
    }
    // Bars.
    let mut y = TOP;
    for (label, bars) in &rows {
        let block = bars.len() as f64 * (BAR_HEIGHT + BAR_GAP);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL_WIDTH - 8.0,
            y + block / 2.0 + 4.0,
            escape(label)
        );
        for &(i, ratio) in bars {
            let color = PALETTE[i % PALETTE.len()];
            let end = x(ratio);
            let _ = writeln!(
                svg,
                r##"<rect x="{LABEL_WIDTH}" y="{y:.1}" width="{:.1}" height="{BAR_HEIGHT}" fill="{color}"><title>{} {label}: ×{ratio:.2}</title></rect><text x="{:.1}" y="{:.1}" fill="#333">×{ratio:.2}</text>"##,
                (end - LABEL_WIDTH).max(0.5),
                escape(&implementations[i]),
                end + 3.0,
                y + BAR_HEIGHT - 2.0
            );
            y += BAR_HEIGHT + BAR_GAP;
        }
        y += ROW_GAP;
    }
    let one = x(1.0);
    let _ = writeln!(
        svg,
        r##"<line x1="{one:.1}" y1="{}" x2="{one:.1}" y2="{bottom}" stroke="#000" stroke-dasharray="4 3"/>"##,
        TOP - 4.0
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(axis_max(0.5), 1.0);
        assert_eq!(axis_max(1.2), 1.5);
        assert_eq!(axis_max(2.7), 3.0);
        assert_eq!(axis_max(7.0), 10.0);
        assert_eq!(axis_max(12.0), 15.0);
    }

    #[test]
    fn escapes_text() {
        assert_eq!(escape("a<b & c>"), "a&lt;b &amp; c&gt;");
    }
}
