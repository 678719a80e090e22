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
        let lines: Vec<&Series> = all.iter().filter(|s| s.trace == *trace).collect();
        panel(&mut svg, x0, trace, &lines);
    }
    legend(&mut svg, &all, MARGIN_T + PANEL_H + MARGIN_B);
    svg.push_str("</svg>\n");
    Some(svg)
}

/// The y axis of a panel: from the lowest point to the highest, rounded out to tenths
/// (so that two servers a point apart are told apart), and its tick step.
fn y_range(lines: &[&Series]) -> (f64, f64, f64) {
    let points = lines.iter().flat_map(|s| s.points.iter().copied());
    let (min, max) = points.fold((1.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let lo = ((min.clamp(0.0, 1.0) * 10.0).floor() / 10.0).min(0.9);
    let hi = ((max.clamp(0.0, 1.0) * 10.0).ceil() / 10.0).max(lo + 0.1);
    let step = if hi - lo <= 0.31 { 0.02 } else { 0.1 };
    (lo, hi, step)
}

/// One trace's axes, grid and lines, its plot area starting at `x0`.
fn panel(svg: &mut String, x0: f64, trace: &str, lines: &[&Series]) {
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
    let (lo, hi, step) = y_range(lines);
    let y_of = |v: f64| y1 - (v.clamp(lo, hi) - lo) / (hi - lo) * PANEL_H;
    let ticks = ((hi - lo) / step).round() as usize;
    for tick in 0..=ticks {
        let v = lo + tick as f64 * step;
        let y = y_of(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y}" x2="{}" y2="{y}" stroke="#e0e0e0"/><text x="{}" y="{}" text-anchor="end">{v:.2}</text>"##,
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
                let y = y_of(*v);
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

/// `cargo xtask plot-eviction REPORT OUT`: the chart of a saved report.json.
pub fn redraw(report: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(report).with_context(|| format!("reading {}", report.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let results: Vec<RunResult> = json["results"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let mut run = RunResult::new(
                r["scenario"].as_str().unwrap_or_default(),
                r["target"].as_str().unwrap_or_default(),
            );
            if let Some(extra) = r["extra"].as_object() {
                for (k, v) in extra {
                    if let Some(v) = v.as_f64() {
                        run.extra.insert(k.clone(), v);
                    }
                }
            }
            run
        })
        .collect();
    let svg = eviction_svg(&results).context("the report holds no eviction run")?;
    std::fs::write(out, svg).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
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
        // The Zipf panel's axis runs from 0.4 to 0.8 (its points rounded out to
        // tenths): 0.8 is its top (y = 40, the margin), 0.6 its middle (y = 170).
        assert!(svg.contains(",40.0") && svg.contains(",170.0"), "{svg}");
        assert!(svg.contains(">0.40<") && svg.contains(">0.80<"), "{svg}");
    }

    #[test]
    fn no_chart_without_an_eviction_run() {
        assert!(eviction_svg(&[run("sustained", "mapcache", &[0.1, 0.2])]).is_none());
    }
}
