//! `target/conformance/report.json` and `report.html`: the matrix, and for every cell that
//! differs from the golden transcript a side-by-side diff.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::{IoContext, Result};
use crate::golden::Verdict;
use crate::guest::Libc;
use crate::harness::{Cell, Harness, Judged};
use crate::lane::Lane;
use crate::matrix::MatrixRun;

fn columns(run: &MatrixRun) -> Vec<(Lane, Libc)> {
    Lane::ALL
        .iter()
        .flat_map(|&lane| Libc::ALL.iter().map(move |&libc| (lane, libc)))
        .filter(|&(lane, libc)| run.cells.keys().any(|c| c.lane == lane && c.libc == libc))
        .collect()
}

/// Writes both reports into `dir` and returns their paths (JSON, HTML).
pub fn write(harness: &Harness, run: &MatrixRun, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    let json_path = dir.join("report.json");
    let html_path = dir.join("report.html");
    let json = serde_json::to_string_pretty(&to_json(harness, run)).expect("JSON values serialise");
    std::fs::write(&json_path, json).context(|| format!("writing {}", json_path.display()))?;
    std::fs::write(&html_path, to_html(harness, run))
        .context(|| format!("writing {}", html_path.display()))?;
    Ok((json_path, html_path))
}

/// The machine-readable report.
pub fn to_json(harness: &Harness, run: &MatrixRun) -> serde_json::Value {
    let columns = columns(run);
    let cases: Vec<serde_json::Value> = harness
        .cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let mut cells = serde_json::Map::new();
            for &(lane, libc) in &columns {
                let Some(judged) = run.cells.get(&Cell { lane, libc, case: index }) else { continue };
                let diff = match &judged.verdict {
                    Verdict::Fail { diff } | Verdict::XFail { diff, .. } => Some(diff.clone()),
                    _ => None,
                };
                cells.insert(
                    format!("{lane}/{libc}"),
                    json!({
                        "verdict": judged.verdict.label(),
                        "failed": judged.verdict.is_failure(),
                        "message": judged.verdict.message(),
                        "diff": diff,
                        "transcript": judged.transcript,
                        "stderr": judged.stderr,
                        "strace_tail": judged.strace_tail,
                        "reproduce": reproduction(harness, Cell { lane, libc, case: index }),
                    }),
                );
            }
            json!({
                "id": case.id(),
                "doc": case.fixture.doc,
                "golden": run.cells.iter().find(|(c, _)| c.case == index).and_then(|(_, j)| j.golden.clone()),
                "cells": cells,
            })
        })
        .filter(|case| case["cells"].as_object().is_some_and(|c| !c.is_empty()))
        .collect();
    json!({
        "columns": columns.iter().map(|(lane, libc)| format!("{lane}/{libc}")).collect::<Vec<_>>(),
        "summary": {
            "text": run.summary(),
            "counts": run.counts(),
            "failed": run.failures(),
            "elapsed_s": run.elapsed.as_secs_f64(),
            "lane_s": run.lane_time.iter().map(|(l, t)| (l.id().to_string(), json!(t.as_secs_f64()))).collect::<serde_json::Map<_, _>>(),
        },
        "cases": cases,
    })
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// One row of a side-by-side diff: the golden line (left), the lane's line (right).
#[derive(Debug, PartialEq, Eq)]
pub struct SideBySideRow {
    pub left: Option<String>,
    pub right: Option<String>,
    pub changed: bool,
}

/// Pairs removed and added lines so that a changed line sits beside its replacement.
pub fn side_by_side(golden: &str, actual: &str) -> Vec<SideBySideRow> {
    let diff = similar::TextDiff::from_lines(golden, actual);
    let mut rows = Vec::new();
    let (mut removed, mut added): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let flush =
        |rows: &mut Vec<SideBySideRow>, removed: &mut Vec<String>, added: &mut Vec<String>| {
            for i in 0..removed.len().max(added.len()) {
                rows.push(SideBySideRow {
                    left: removed.get(i).cloned(),
                    right: added.get(i).cloned(),
                    changed: true,
                });
            }
            removed.clear();
            added.clear();
        };
    for change in diff.iter_all_changes() {
        let line = change.value().trim_end_matches('\n').to_owned();
        match change.tag() {
            similar::ChangeTag::Equal => {
                flush(&mut rows, &mut removed, &mut added);
                rows.push(SideBySideRow {
                    left: Some(line.clone()),
                    right: Some(line),
                    changed: false,
                });
            }
            similar::ChangeTag::Delete => removed.push(line),
            similar::ChangeTag::Insert => added.push(line),
        }
    }
    flush(&mut rows, &mut removed, &mut added);
    rows
}

const STYLE: &str = "
body { font: 14px system-ui, sans-serif; margin: 24px; color: #1d1d1f; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 32px; }
.summary { padding: 8px 12px; border-radius: 6px; background: #eef5ee; display: inline-block; }
.summary.bad { background: #fbeaea; }
.tools { margin-top: 16px; } #filter { font: inherit; padding: 4px 8px; width: 28em; }
#shown { color: #555; margin-left: 8px; }
table.matrix { border-collapse: collapse; margin-top: 12px; }
table.matrix th, table.matrix td { border: 1px solid #d0d0d5; padding: 3px 10px; text-align: left; }
table.matrix thead th { background: #f3f3f6; text-align: center; }
table.matrix thead tr.lanes th { position: sticky; top: 0; }
table.matrix tr.lane-summary td { font-size: 12px; text-align: center; background: #fafafc; }
td.case { font-family: ui-monospace, monospace; }
td.v { text-align: center; font-weight: 600; }
tr.failing td.case { font-weight: 700; color: #8b1111; }
.ok { background: #d8f0d8; color: #1f6b1f; } .xfail { background: #fff1c2; color: #7a5b00; }
.FAIL, .XPASS, .ERROR, .no-gold { background: #f6c9c9; color: #8b1111; }
.skip { background: #ececec; color: #666; } .none { color: #999; }
td.v a { color: inherit; }
table.diff { border-collapse: collapse; font: 12px ui-monospace, monospace; width: 100%; table-layout: fixed; }
table.diff td { padding: 1px 6px; white-space: pre-wrap; word-break: break-all; vertical-align: top; }
table.diff th { text-align: left; background: #f3f3f6; padding: 3px 6px; }
table.diff tr.changed td.l { background: #fbe3e3; } table.diff tr.changed td.r { background: #e0f3e0; }
table.diff td.l { border-right: 1px solid #d0d0d5; }
.doc { color: #555; } pre { background: #f6f6f8; padding: 8px; overflow-x: auto; }
section.cell:target h2 { background: #fbeaea; outline: 3px solid #c33; }
code.repro { background: #eef0f8; padding: 4px 8px; display: inline-block; user-select: all; }
";

/// The filter box: keeps the rows whose case name or verdicts contain its text (also read
/// from `?filter=` in the address, so a link can carry one).
const SCRIPT: &str = "
function applyFilter() {
  const q = document.getElementById('filter').value.trim().toLowerCase();
  let shown = 0;
  for (const row of document.querySelectorAll('tr.case-row')) {
    const keep = q === '' || row.dataset.case.toLowerCase().includes(q)
      || row.dataset.verdicts.toLowerCase().split(' ').includes(q);
    row.hidden = !keep;
    if (keep) shown++;
  }
  document.getElementById('shown').textContent = shown + ' of '
    + document.querySelectorAll('tr.case-row').length + ' cases';
}
document.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('filter');
  const wanted = new URLSearchParams(location.search).get('filter');
  if (wanted !== null) box.value = wanted;
  box.addEventListener('input', applyFilter);
  applyFilter();
});
";

/// The one command that reproduces a cell by hand.
pub fn reproduction(harness: &Harness, cell: Cell) -> String {
    format!("cargo xtask run {}", harness.cell_name(cell))
}

/// How many of a cell's stderr lines the report shows.
const STDERR_TAIL_LINES: usize = 30;

/// A row of the matrix: its cells, and how bad the worst of them is (failing rows first).
struct Row<'a> {
    case: usize,
    cells: Vec<(Cell, Option<&'a Judged>)>,
    rank: u8,
}

fn rows<'a>(harness: &Harness, run: &'a MatrixRun, columns: &[(Lane, Libc)]) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = (0..harness.cases.len())
        .filter_map(|case| {
            let cells: Vec<(Cell, Option<&Judged>)> = columns
                .iter()
                .map(|&(lane, libc)| {
                    let cell = Cell { lane, libc, case };
                    (cell, run.cells.get(&cell))
                })
                .collect();
            if cells.iter().all(|(_, j)| j.is_none()) {
                return None;
            }
            let judged = || cells.iter().filter_map(|(_, j)| *j);
            let rank = if judged().any(|j| j.verdict.is_failure()) {
                0
            } else if judged().any(|j| j.verdict.needs_detail()) {
                1
            } else {
                2
            };
            Some(Row { case, cells, rank })
        })
        .collect();
    // Stable: within a rank the cases keep their order.
    rows.sort_by_key(|r| r.rank);
    rows
}

/// The human report: summary, filter box, matrix (failing rows first, lanes grouped over
/// their libcs, a summary row per column), then one section per cell that differs from the
/// golden, with its reproduction command, stderr tail and (elfvisor) strace tail.
pub fn to_html(harness: &Harness, run: &MatrixRun) -> String {
    let columns = columns(run);
    let mut html = String::new();
    let bad = if run.failures() > 0 { " bad" } else { "" };
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>elfvisor conformance</title>\
         <style>{STYLE}</style><script>{SCRIPT}</script></head><body>\
         <h1>elfvisor conformance matrix</h1><div class=\"summary{bad}\">{}</div>\
         <div class=\"tools\"><input id=\"filter\" type=\"search\" \
         placeholder=\"filter: part of a case name, or a verdict (FAIL, xfail)\">\
         <span id=\"shown\"></span></div>\
         <table class=\"matrix\"><thead><tr class=\"lanes\"><th rowspan=\"2\">case</th>",
        escape(&run.summary())
    );
    let mut lanes: Vec<(Lane, usize)> = Vec::new();
    for &(lane, _) in &columns {
        match lanes.last_mut() {
            Some((last, n)) if *last == lane => *n += 1,
            _ => lanes.push((lane, 1)),
        }
    }
    for (lane, span) in &lanes {
        let _ = write!(html, "<th colspan=\"{span}\">{lane}</th>");
    }
    html.push_str("</tr><tr class=\"libcs\">");
    for (_, libc) in &columns {
        let _ = write!(html, "<th>{libc}</th>");
    }
    html.push_str("</tr><tr class=\"lane-summary\"><th>summary</th>");
    for &(lane, libc) in &columns {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for (cell, judged) in &run.cells {
            if cell.lane == lane && cell.libc == libc {
                *counts.entry(judged.verdict.label()).or_default() += 1;
            }
        }
        let failing = run
            .cells
            .iter()
            .any(|(c, j)| c.lane == lane && c.libc == libc && j.verdict.is_failure());
        let text: Vec<String> = ["ok", "xfail", "FAIL", "XPASS", "no-gold", "ERROR", "skip"]
            .iter()
            .filter_map(|label| counts.get(label).map(|n| format!("{n} {label}")))
            .collect();
        let class = if failing { " class=\"FAIL\"" } else { "" };
        let _ = write!(html, "<td{class}>{}</td>", text.join(" · "));
    }
    html.push_str("</tr></thead><tbody>");
    let mut details = String::new();
    for row in rows(harness, run, &columns) {
        let case = &harness.cases[row.case];
        let verdicts: Vec<&str> =
            row.cells.iter().filter_map(|(_, j)| j.map(|j| j.verdict.label())).collect();
        let class = match row.rank {
            0 => "case-row failing",
            1 => "case-row differs",
            _ => "case-row",
        };
        let _ = write!(
            html,
            "<tr class=\"{class}\" data-case=\"{}\" data-verdicts=\"{}\">\
             <td class=\"case\" title=\"{}\">{}</td>",
            escape(&case.id()),
            escape(&verdicts.join(" ")),
            escape(&case.fixture.doc),
            escape(&case.id())
        );
        for (cell, judged) in row.cells {
            // A prebuilt program runs with one libc: its other columns have no cell.
            let Some(judged) = judged else {
                html.push_str("<td class=\"v none\">-</td>");
                continue;
            };
            let label = judged.verdict.label();
            let anchor = harness.cell_name(cell).replace('/', "-");
            if judged.verdict.needs_detail() {
                let title = escape(&format!("{} — {}", harness.cell_name(cell), label));
                let _ = write!(
                    html,
                    "<td class=\"v {label}\" title=\"{title}\"><a href=\"#{anchor}\">{label}</a></td>"
                );
                details.push_str(&detail_section(harness, cell, judged, &anchor));
            } else {
                let title = escape(&judged.verdict.message());
                let _ = write!(html, "<td class=\"v {label}\" title=\"{title}\">{label}</td>");
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html.push_str(&details);
    html.push_str("</body></html>\n");
    html
}

fn detail_section(harness: &Harness, cell: Cell, judged: &Judged, anchor: &str) -> String {
    let case = &harness.cases[cell.case];
    let mut html = format!(
        "<section class=\"cell\" id=\"{anchor}\"><h2>{} — {}</h2><p class=\"doc\">{}</p>\
         <p>{}</p><p>Reproduce: <code class=\"repro\">{}</code></p>",
        escape(&harness.cell_name(cell)),
        judged.verdict.label(),
        escape(&case.fixture.doc),
        escape(judged.verdict.message().lines().next().unwrap_or_default()),
        escape(&reproduction(harness, cell)),
    );
    match (&judged.golden, &judged.transcript) {
        (Some(golden), Some(actual)) => {
            let _ = write!(
                html,
                "<table class=\"diff\"><tr><th>golden (linux)</th><th>{}</th></tr>",
                escape(&format!("{}/{}", cell.lane, cell.libc))
            );
            for row in side_by_side(&format!("{}\n", golden.trim_end()), actual) {
                let class = if row.changed { " class=\"changed\"" } else { "" };
                let _ = write!(
                    html,
                    "<tr{class}><td class=\"l\">{}</td><td class=\"r\">{}</td></tr>",
                    escape(row.left.as_deref().unwrap_or("")),
                    escape(row.right.as_deref().unwrap_or(""))
                );
            }
            html.push_str("</table>");
        }
        (None, Some(actual)) => {
            let _ = write!(
                html,
                "<p>No golden transcript yet. This lane printed:</p><pre>{}</pre>",
                escape(actual)
            );
        }
        _ => {
            let _ = write!(html, "<pre>{}</pre>", escape(&judged.verdict.message()));
        }
    }
    if !judged.stderr.trim().is_empty() {
        let _ = write!(
            html,
            "<details open class=\"stderr\"><summary>stderr (last {STDERR_TAIL_LINES} lines)</summary>\
             <pre>{}</pre></details>",
            escape(&crate::harness::tail(&judged.stderr, STDERR_TAIL_LINES))
        );
    }
    if let Some(trace) = &judged.strace_tail {
        let _ = write!(
            html,
            "<details open class=\"strace\"><summary>--strace tail (a re-run with --strace, at most \
             {} s)</summary><pre>{}</pre></details>",
            crate::harness::STRACE_RERUN_LIMIT.as_secs(),
            escape(trace)
        );
    }
    html.push_str("</section>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_side_by_side_pairs_a_changed_line() {
        let rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n");
        let pairs: Vec<(Option<&str>, Option<&str>, bool)> =
            rows.iter().map(|r| (r.left.as_deref(), r.right.as_deref(), r.changed)).collect();
        assert_eq!(
            pairs,
            vec![
                (Some("a"), Some("a"), false),
                (Some("b"), Some("B"), true),
                (Some("c"), Some("c"), false),
                (None, Some("d"), true),
            ]
        );
    }

    #[test]
    fn test_escape() {
        assert_eq!(escape("<a href=\"x\">&</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
    }
}
