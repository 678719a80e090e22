//! The eviction benchmark's hit ratio over time as an SVG line chart
//! (`eviction-hit-ratio.svg` beside report.md): one panel per trace (Zipf,
//! scan-polluted), one line per policy and server (mapcache solid, the other
//! server dashed), one point per twentieth of the trace. Written by hand: a few
//! dozen elements do not need a plotting crate.

use std::fmt::Write;

use crate::report::RunResult;

const PANEL_W: f64 = 420.0;
const PANEL_H: f64 = 260.0;
const MARGIN_L: f64 = 50.0;
const MARGIN_T: f64 = 40.0;
const MARGIN_B: f64 = 40.0;
const GAP: f64 = 40.0;
const LEGEND_H: f64 = 45.0;

/// A policy's colour (the same for both servers).
fn colour(policy: &str) -> &'static str {
    match policy {
        p if p.ends_with("-lru") => "#1f77b4",
        p if p.ends_with("-lfu") => "#d62728",
        p if p.ends_with("-random") => "#2ca02c",
        _ => "#7f7f7f",
    }
}

/// One line: the trace, the policy, the server and its hit ratio per window.
struct Series {
    trace: &'static str,
    policy: String,
    target: String,
    points: Vec<f64>,
}

/// The series of the eviction runs in `results` (scenarios `eviction-TRACE-POLICY`
/// with `hit_ratio_wNN` figures).
fn series(results: &[RunResult]) -> Vec<Series> {
    let mut out = Vec::new();
    for r in results {
        let Some(rest) = r.scenario.strip_prefix("eviction-") else {
            continue;
        };
        let (trace, policy) = match rest.split_once('-') {
            Some(("zipf", p)) => ("zipf", p),
            Some(("scan", p)) => ("scan", p),
            _ => continue,
        };
        let points: Vec<f64> = (0..)
            .map_while(|w| r.extra.get(&format!("hit_ratio_w{w:02}")).copied())
            .collect();
        if points.len() >= 2 {
            out.push(Series {
                trace,
                policy: policy.to_string(),
                target: r.target.clone(),
                points,
            });
        }
    }
    out
}

/// The chart, or `None` when `results` hold no eviction run.
pub fn eviction_svg(results: &[RunResult]) -> Option<String> {
    let all = series(results);
    if all.is_empty() {
        return None;
    }
    let traces: Vec<&str> = ["zipf", "scan"]
        .into_iter()
        .filter(|t| all.iter().any(|s| s.trace == *t))
        .collect();
    let width = MARGIN_L + traces.len() as f64 * (PANEL_W + GAP);
    let height = MARGIN_T + PANEL_H + MARGIN_B + LEGEND_H;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, trace) in traces.iter().enumerate() {
        let x0 = MARGIN_L + i as f64 * (PANEL_W + GAP);
        panel(
            &mut svg,
            x0,
            trace,
            all.iter().filter(|s| s.trace == *trace),
        );
    }
    legend(&mut svg, &all, MARGIN_T + PANEL_H + MARGIN_B);
    svg.push_str("</svg>\n");
    Some(svg)
}

/// One trace's axes, grid and lines, its plot area starting at `x0`.
fn panel<'a>(svg: &mut String, x0: f64, trace: &str, lines: impl Iterator<Item = &'a Series>) {
    let title = match trace {
        "zipf" => "Zipf (s = 0.99): hit ratio per twentieth of the trace",
        _ => "Scan-polluted: hit ratio per twentieth of the trace",
    };
    let (y0, y1) = (MARGIN_T, MARGIN_T + PANEL_H);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{title}</text>"#,
        x0 + PANEL_W / 2.0,
        MARGIN_T - 15.0
    );
    for tick in 0..=10 {
        let v = tick as f64 / 10.0;
        let y = y1 - v * PANEL_H;
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y}" x2="{}" y2="{y}" stroke="#e0e0e0"/><text x="{}" y="{}" text-anchor="end">{v:.1}</text>"##,
            x0 + PANEL_W,
            x0 - 5.0,
            y + 4.0
        );
    }
    for pct in [0, 25, 50, 75, 100] {
        let x = x0 + pct as f64 / 100.0 * PANEL_W;
        let _ = writeln!(
            svg,
            r#"<text x="{x}" y="{}" text-anchor="middle">{pct}%</text>"#,
            y1 + 15.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">position in the trace</text>"#,
        x0 + PANEL_W / 2.0,
        y1 + 32.0
    );
    let _ = writeln!(
        svg,
        r#"<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="black"/>"#
    );
    for s in lines {
        let n = s.points.len() as f64;
        let pts: Vec<String> = s
            .points
            .iter()
            .enumerate()
            .map(|(w, v)| {
                // Each point sits in the middle of its window.
                let x = x0 + (w as f64 + 0.5) / n * PANEL_W;
                let y = y1 - v.clamp(0.0, 1.0) * PANEL_H;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let dash = if s.target == "mapcache" {
            ""
        } else {
            r#" stroke-dasharray="6,4""#
        };
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}><title>{} {}</title></polyline>"#,
            pts.join(" "),
            colour(&s.policy),
            s.target,
            s.policy
        );
    }
}

/// A row of legend entries (policy and server) below the panels, from `top`.
fn legend(svg: &mut String, all: &[Series], top: f64) {
    let mut seen: Vec<(String, String)> = Vec::new();
    for s in all {
        let k = (s.policy.clone(), s.target.clone());
        if !seen.contains(&k) {
            seen.push(k);
        }
    }
    for (i, (policy, target)) in seen.iter().enumerate() {
        let (col, row) = (i % 4, i / 4);
        let x = MARGIN_L + col as f64 * 200.0;
        let y = top + 15.0 + row as f64 * 18.0;
        let dash = if target == "mapcache" {
            ""
        } else {
            r#" stroke-dasharray="6,4""#
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}">{target} {policy}</text>"#,
            x + 30.0,
            colour(policy),
            x + 36.0,
            y + 4.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::eviction_svg;
    use crate::report::RunResult;

    fn run(scenario: &str, target: &str, ratios: &[f64]) -> RunResult {
        let mut r = RunResult::new(scenario, target);
        for (w, v) in ratios.iter().enumerate() {
            r.extra.insert(format!("hit_ratio_w{w:02}"), *v);
        }
        r
    }

    #[test]
    fn one_line_per_policy_and_server_in_the_panel_of_its_trace() {
        let results = [
            run("eviction-zipf-allkeys-lru", "mapcache", &[0.5, 0.7, 0.8]),
            run("eviction-zipf-allkeys-lru", "redis", &[0.4, 0.6, 0.8]),
            run("eviction-scan-allkeys-lfu", "mapcache", &[0.2, 0.3, 0.3]),
            run("sustained", "mapcache", &[]),
        ];
        let svg = eviction_svg(&results).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(
            svg.matches("stroke-dasharray").count(),
            2,
            "redis: dashed line and legend"
        );
        assert!(svg.contains("Zipf") && svg.contains("Scan-polluted"));
        assert!(svg.contains("<title>redis allkeys-lru</title>"));
        // A hit ratio of 0.8 in a 260-pixel panel below a 40-pixel margin: y = 92.
        assert!(svg.contains(",92.0"), "{svg}");
    }

    #[test]
    fn no_chart_without_an_eviction_run() {
        assert!(eviction_svg(&[run("sustained", "mapcache", &[0.1, 0.2])]).is_none());
    }
}
