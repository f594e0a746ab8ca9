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
table.matrix { border-collapse: collapse; margin-top: 16px; }
table.matrix th, table.matrix td { border: 1px solid #d0d0d5; padding: 3px 10px; text-align: left; }
table.matrix th { background: #f3f3f6; position: sticky; top: 0; }
td.case { font-family: ui-monospace, monospace; }
td.v { text-align: center; font-weight: 600; }
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
";

/// The human report: summary, matrix, then one section per cell that differs from the golden.
pub fn to_html(harness: &Harness, run: &MatrixRun) -> String {
    let columns = columns(run);
    let mut html = String::new();
    let bad = if run.failures() > 0 { " bad" } else { "" };
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>elfvisor conformance</title>\
         <style>{STYLE}</style></head><body><h1>elfvisor conformance matrix</h1>\
         <div class=\"summary{bad}\">{}</div><table class=\"matrix\"><tr><th>case</th>",
        escape(&run.summary())
    );
    for (lane, libc) in &columns {
        let _ = write!(html, "<th>{lane}/{libc}</th>");
    }
    html.push_str("</tr>");
    let mut details = String::new();
    for (index, case) in harness.cases.iter().enumerate() {
        let cells: Vec<(Cell, Option<&Judged>)> = columns
            .iter()
            .map(|&(lane, libc)| {
                let cell = Cell { lane, libc, case: index };
                (cell, run.cells.get(&cell))
            })
            .collect();
        if cells.iter().all(|(_, j)| j.is_none()) {
            continue;
        }
        let _ = write!(
            html,
            "<tr><td class=\"case\" title=\"{}\">{}</td>",
            escape(&case.fixture.doc),
            escape(&case.id())
        );
        for (cell, judged) in cells {
            // A prebuilt program runs with one libc: its other columns have no cell.
            let Some(judged) = judged else {
                html.push_str("<td class=\"v none\">-</td>");
                continue;
            };
            let label = judged.verdict.label();
            let anchor = harness.cell_name(cell).replace('/', "-");
            let needs_detail = !matches!(judged.verdict, Verdict::Pass | Verdict::Ignored { .. });
            if needs_detail {
                let _ =
                    write!(html, "<td class=\"v {label}\"><a href=\"#{anchor}\">{label}</a></td>");
                details.push_str(&detail_section(harness, cell, judged, &anchor));
            } else {
                let title = escape(&judged.verdict.message());
                let _ = write!(html, "<td class=\"v {label}\" title=\"{title}\">{label}</td>");
            }
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html.push_str(&details);
    html.push_str("</body></html>\n");
    html
}

fn detail_section(harness: &Harness, cell: Cell, judged: &Judged, anchor: &str) -> String {
    let case = &harness.cases[cell.case];
    let mut html = format!(
        "<h2 id=\"{anchor}\">{} — {}</h2><p class=\"doc\">{}</p><p>{}</p>",
        escape(&harness.cell_name(cell)),
        judged.verdict.label(),
        escape(&case.fixture.doc),
        escape(judged.verdict.message().lines().next().unwrap_or_default())
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
            "<details><summary>guest stderr</summary><pre>{}</pre></details>",
            escape(&judged.stderr)
        );
    }
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
