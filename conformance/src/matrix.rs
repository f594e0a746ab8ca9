//! The `cargo xtask conformance` front end: every cell of the lane × case matrix, with progress,
//! a printed matrix, a summary line and the HTML/JSON report.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::golden::Verdict;
use crate::guest::Libc;
use crate::harness::{Cell, Harness, Judged, parallel_map};
use crate::lane::Lane;

/// How many of a failing elfvisor cell's `--strace` lines the report shows.
pub const STRACE_TAIL_LINES: usize = 40;

/// Everything a matrix run found.
#[derive(Debug)]
pub struct MatrixRun {
    pub cells: BTreeMap<Cell, Judged>,
    /// Wall time per lane.
    pub lane_time: BTreeMap<Lane, Duration>,
    pub elapsed: Duration,
}

impl MatrixRun {
    /// Counts cells by verdict label.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for judged in self.cells.values() {
            *counts.entry(judged.verdict.label()).or_default() += 1;
        }
        counts
    }

    pub fn failures(&self) -> usize {
        self.cells.values().filter(|j| j.verdict.is_failure()).count()
    }

    /// `112 cells: 108 ok, 2 xfail, 2 skip — 0 failed`.
    pub fn summary(&self) -> String {
        let counts = self.counts();
        let parts: Vec<String> = ["ok", "xfail", "FAIL", "XPASS", "no-gold", "ERROR", "skip"]
            .iter()
            .filter_map(|label| counts.get(label).map(|n| format!("{n} {label}")))
            .collect();
        let times: Vec<String> = self
            .lane_time
            .iter()
            .map(|(lane, t)| format!("{lane} {:.1}s", t.as_secs_f64()))
            .collect();
        let times =
            if times.is_empty() { String::new() } else { format!("{}; ", times.join(", ")) };
        format!(
            "{} cells: {} — {} failed ({times}total {:.1}s)",
            self.cells.len(),
            parts.join(", "),
            self.failures(),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Runs every cell whose name contains `filter` (all when `None`), printing progress to `out`.
pub fn run(harness: &Harness, filter: Option<&str>, out: &mut (dyn Write + Send)) -> MatrixRun {
    let started = Instant::now();
    let cells: Vec<Cell> = harness
        .cells()
        .into_iter()
        .filter(|&c| filter.is_none_or(|f| harness.cell_name(c).contains(f)))
        .collect();
    harness.select_linux(cells.iter().copied());
    let total = cells.len();
    let done = Mutex::new((0usize, out));
    let report = |cell: Cell, judged: &Judged, took: Duration| {
        let mut guard = done.lock().unwrap_or_else(|e| e.into_inner());
        guard.0 += 1;
        let n = guard.0;
        let _ = writeln!(
            guard.1,
            "[{n:>3}/{total}] {:<52} {:<7} {:>6.2}s",
            harness.cell_name(cell),
            judged.verdict.label(),
            took.as_secs_f64()
        );
    };
    let (linux, others): (Vec<Cell>, Vec<Cell>) = cells.iter().partition(|c| c.lane == Lane::Linux);
    let mut results = BTreeMap::new();
    let mut lane_time = BTreeMap::new();
    std::thread::scope(|scope| {
        let linux_thread = scope.spawn(|| {
            let begun = Instant::now();
            if !linux.is_empty() {
                let mut guard = done.lock().unwrap_or_else(|e| e.into_inner());
                let _ = writeln!(
                    guard.1,
                    "linux: one boot of the arm64 kernel for {} cells",
                    linux.len()
                );
            }
            let judged: Vec<(Cell, Judged)> = linux
                .iter()
                .map(|&cell| {
                    let t = Instant::now();
                    let j = harness.judge(cell);
                    report(cell, &j, t.elapsed());
                    (cell, j)
                })
                .collect();
            (judged, begun.elapsed())
        });
        let mut by_lane: BTreeMap<Lane, Vec<Cell>> = BTreeMap::new();
        for cell in others {
            by_lane.entry(cell.lane).or_default().push(cell);
        }
        for (lane, lane_cells) in by_lane {
            let begun = Instant::now();
            let judged = parallel_map(&lane_cells, |&cell| {
                let t = Instant::now();
                let mut j = harness.judge(cell);
                if j.verdict.needs_detail() {
                    j.strace_tail = harness.strace_tail(cell, STRACE_TAIL_LINES);
                }
                report(cell, &j, t.elapsed());
                j
            });
            lane_time.insert(lane, begun.elapsed());
            results.extend(lane_cells.into_iter().zip(judged));
        }
        let (judged, took) = linux_thread.join().expect("the linux lane thread does not panic");
        if !judged.is_empty() {
            lane_time.insert(Lane::Linux, took);
        }
        results.extend(judged);
    });
    MatrixRun { cells: results, lane_time, elapsed: started.elapsed() }
}

/// The matrix as text: one row per case, one column per lane/libc.
pub fn render_table(harness: &Harness, run: &MatrixRun) -> String {
    let columns: Vec<(Lane, Libc)> = Lane::ALL
        .iter()
        .flat_map(|&lane| Libc::ALL.iter().map(move |&libc| (lane, libc)))
        .filter(|&(lane, libc)| run.cells.keys().any(|c| c.lane == lane && c.libc == libc))
        .collect();
    let width = harness.cases.iter().map(|c| c.id().len()).max().unwrap_or(4).max(4);
    let mut text = format!("{:<width$}", "case");
    for (lane, libc) in &columns {
        text.push_str(&format!("  {:<15}", format!("{lane}/{libc}")));
    }
    text.truncate(text.trim_end().len());
    text.push('\n');
    for (index, case) in harness.cases.iter().enumerate() {
        // A case without a cell in some column (a prebuilt program has one libc) shows `-`.
        let row: Vec<Option<&Judged>> = columns
            .iter()
            .map(|&(lane, libc)| run.cells.get(&Cell { lane, libc, case: index }))
            .collect();
        if row.iter().all(Option::is_none) {
            continue;
        }
        text.push_str(&format!("{:<width$}", case.id()));
        for judged in row {
            text.push_str(&format!("  {:<15}", judged.map_or("-", |j| j.verdict.label())));
        }
        text.truncate(text.trim_end().len());
        text.push('\n');
    }
    text
}

/// Failing cells with their messages, for the end of a run.
pub fn render_failures(harness: &Harness, run: &MatrixRun) -> String {
    let mut text = String::new();
    for (cell, judged) in &run.cells {
        if matches!(judged.verdict, Verdict::Pass | Verdict::XFail { .. } | Verdict::Ignored { .. })
        {
            continue;
        }
        text.push_str(&format!(
            "\n=== {}\n{}\n",
            harness.cell_name(*cell),
            judged.verdict.message()
        ));
    }
    text
}
