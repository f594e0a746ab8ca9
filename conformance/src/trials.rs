//! The `cargo test` front end: one libtest-mimic trial per `<lane>/<libc>/<family>/<case>`.
//!
//! Filters, `--list`, `--exact`, `--skip` and `--ignored` behave as with the built-in harness.
//! A cell that cannot run here (missing tool, fixture restricted to other lanes) is reported as
//! ignored with its reason, never as passed; with `ELFVISOR_REQUIRE_LANES` set, a missing tool
//! fails the trial instead.

use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::golden::{self, Verdict};
use crate::harness::{Cell, Harness, Judged};
use crate::lane::Lane;

/// Entry point of the `conformance` test target.
pub fn main() -> ExitCode {
    let args = Arguments::from_args();
    let harness = match Harness::load() {
        Ok(harness) => Arc::new(harness),
        Err(e) => {
            eprintln!("error: cannot load the conformance fixtures: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cells = harness.cells();
    let trials: Vec<Trial> = cells.iter().map(|&cell| trial(&harness, cell)).collect();
    // Boot the linux lane only for the cells this invocation will actually run.
    let selected = cells.iter().zip(&trials).filter(|(_, t)| !args.is_filtered_out(t));
    harness.select_linux(selected.map(|(cell, _)| *cell).collect::<Vec<_>>());
    libtest_mimic::run(&args, trials).exit_code()
}

fn trial(harness: &Arc<Harness>, cell: Cell) -> Trial {
    let harness = Arc::clone(harness);
    Trial::ignorable_test(harness.cell_name(cell), move || run_cell(&harness, cell))
}

/// Set (as `.ci/run` does) to make a missing lane tool fail its trials instead of ignoring them,
/// so a gate can never go green on lanes that did not run.
pub const REQUIRE_LANES_ENV: &str = "ELFVISOR_REQUIRE_LANES";

fn run_cell(harness: &Harness, cell: Cell) -> Result<Completion, Failed> {
    if let Some(reason) = harness.skip_reason(cell) {
        let restricted = !harness.cases[cell.case].runs_in(cell.lane.id(), cell.libc.id());
        if std::env::var_os(REQUIRE_LANES_ENV).is_some() && !restricted {
            return Err(
                format!("{REQUIRE_LANES_ENV} is set, but this cell cannot run: {reason}").into()
            );
        }
        return Ok(Completion::ignored_with(reason));
    }
    if cell.lane != Lane::Linux {
        return outcome(&harness.judge(cell));
    }
    // The gold lane records and checks goldens through insta, so `cargo insta review` works.
    let (text, run) = harness.transcript(cell).map_err(Failed::from)?;
    if let Some(message) = harness.libc_disagreement(cell, &text) {
        return Err(message.into());
    }
    let case = &harness.cases[cell.case];
    std::panic::catch_unwind(AssertUnwindSafe(|| golden::assert_linux_golden(case, &text)))
        .map_err(|_| {
            let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
            Failed::from(format!(
                "the linux transcript of {} differs from its golden snapshot {} (insta's report \
                 is above; accept a deliberate change with `cargo insta review`){}",
                case.id(),
                case.golden_path().display(),
                stderr_tail(&stderr)
            ))
        })?;
    Ok(Completion::Completed)
}

/// Turns a judged cell into a trial outcome: failures carry the diff and the guest's stderr.
pub fn outcome(judged: &Judged) -> Result<Completion, Failed> {
    match &judged.verdict {
        Verdict::Pass | Verdict::XFail { .. } => Ok(Completion::Completed),
        Verdict::Ignored { reason } => Ok(Completion::ignored_with(reason)),
        failure => Err(format!("{}{}", failure.message(), stderr_tail(&judged.stderr)).into()),
    }
}

fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(20)..];
    format!("\nguest stderr (last {} lines):\n{}", tail.len(), tail.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const GOLDEN: &str = "ok a\nok b\nverdict: PASS (2 checks)\n--- exit 0\n";

    fn judged(actual: &str, fixture_extra: &str) -> Judged {
        let text = format!("doc: self-test\n{fixture_extra}");
        let case = crate::fixture::parse(&text, Path::new("f/t/c.yaml"), "t", "c").unwrap();
        let verdict = golden::evaluate(&case, "qemu-user", "musl", Some(GOLDEN), actual);
        Judged {
            verdict,
            transcript: Some(actual.into()),
            golden: Some(GOLDEN.into()),
            stderr: "guest said this\n".into(),
        }
    }

    /// Runs trials through libtest-mimic itself, as `cargo test` would, logging to a file so the
    /// nested run's report does not mix with the real one. Returns the conclusion and the log.
    fn run_trials(trials: Vec<Trial>) -> (libtest_mimic::Conclusion, String) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let args = Arguments {
            test_threads: Some(1),
            logfile: Some(log.to_string_lossy().into_owned()),
            ..Arguments::default()
        };
        let conclusion = libtest_mimic::run(&args, trials);
        (conclusion, std::fs::read_to_string(&log).unwrap())
    }

    #[test]
    fn test_one_line_regression_fails_the_trial_with_its_diff() {
        let actual = GOLDEN.replace("ok b", "FAIL b: got 0, want 1");
        let judged = judged(&actual, "");
        let Err(err) = outcome(&judged) else { panic!("a regression must fail the trial") };
        let message = err.message().unwrap();
        assert!(message.contains("-ok b\n+FAIL b: got 0, want 1\n"), "{message}");
        assert!(message.contains("guest said this"), "stderr is attached: {message}");

        let (conclusion, log) =
            run_trials(vec![Trial::ignorable_test("qemu-user/musl/t/c", move || outcome(&judged))]);
        assert_eq!((conclusion.num_failed, conclusion.num_passed), (1, 0));
        assert!(log.contains("qemu-user/musl/t/c"), "{log}");
        assert!(log.contains("+FAIL b: got 0, want 1"), "the report shows the diff: {log}");
    }

    #[test]
    fn test_matching_transcript_passes_and_stale_xfail_fails() {
        let pass = judged(GOLDEN, "");
        let stale = judged(GOLDEN, "xfail:\n  qemu-user: fixed long ago\n");
        let (conclusion, _) = run_trials(vec![
            Trial::ignorable_test("pass", move || outcome(&pass)),
            Trial::ignorable_test("stale", move || outcome(&stale)),
        ]);
        assert_eq!((conclusion.num_passed, conclusion.num_failed), (1, 1));
    }

    #[test]
    fn test_ignored_cells_are_not_passes() {
        let ignored = Judged {
            verdict: Verdict::Ignored { reason: "qemu-aarch64 is not installed".into() },
            transcript: None,
            golden: None,
            stderr: String::new(),
        };
        let (conclusion, log) =
            run_trials(vec![Trial::ignorable_test("x", move || outcome(&ignored))]);
        assert_eq!((conclusion.num_ignored, conclusion.num_passed), (1, 0));
        assert!(log.contains("qemu-aarch64 is not installed"), "the reason is shown: {log}");
    }
}
