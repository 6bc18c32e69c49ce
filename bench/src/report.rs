//! BENCHMARKS.md: the command, the machine, one table of every scenario
//! with its baseline ratio and target, and the notes.

use std::fmt::Write;

use crate::scenarios::Row;

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

/// The whole report.
pub fn render(command: &str, machine: &str, started: &str, rows: &[Row], findings: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `{command}` on {started}. Machine: {machine}. Load generator: \
         `chatgate-bench`'s own (keep-alive HTTP/1.1 on loopback, same machine, same cores). \
         Every figure is for the release build with durable acknowledgements (SQLite \
         `synchronous=FULL`; PostgreSQL commits): nothing is answered before it is committed.\n"
    );
    let _ = writeln!(
        out,
        "**Baseline**: a bare axum handler answering 200 to the same requests, under the \
         same load generator, in the same run — the machine's own HTTP limit. *ratio* is \
         chatgate's rate over it. *p99 ½* is the 99th percentile latency at half of \
         chatgate's highest rate (open loop, counted from when each request was due). \
         *CPU* is chatgate's CPU seconds per 1 000 operations.\n"
    );
    let _ = writeln!(
        out,
        "| scenario | store | rate | baseline | ratio | p50 ms | p99 ms | p99 ½ ms | CPU s/1000 | peak RSS MB | target | met |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let ratio = row.baseline_rate.map(|b| row.rate / b * 100.0);
        let (target, met) = match &row.target {
            Some((target, met)) => (target.clone(), if *met { "yes" } else { "**no**" }),
            None => ("–".into(), "–"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.backend,
            row.rate,
            row.unit,
            opt(row.baseline_rate, 0),
            ratio.map_or_else(|| "–".into(), |r| format!("{r:.0} %")),
            opt(row.p50_ms, 2),
            opt(row.p99_ms, 2),
            opt(row.p99_half_ms, 2),
            opt(row.cpu_per_1000, 3),
            opt(row.peak_rss_mb, 0),
            target,
            met
        );
    }
    let notes: Vec<&Row> = rows.iter().filter(|r| !r.note.is_empty()).collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for row in notes {
            let _ = writeln!(out, "- **{}** ({}): {}", row.scenario, row.backend, row.note);
        }
    }
    if !findings.is_empty() {
        let _ = writeln!(out, "\n## What limits the figures\n\n{findings}");
    }
    out
}
