//! The `cargo test` front end: one libtest-mimic trial per `<lane>/<libc>/<family>/<case>`.
//!
//! Filters, `--list`, `--exact`, `--skip` and `--ignored` behave as with the built-in harness.
//! A cell that cannot run here (missing tool, fixture restricted to other lanes) is reported as
//! ignored with its reason, never as passed; with `ELFVISOR_REQUIRE_LANES` set, a missing tool
//! fails the trial instead.
//!
//! Every trial runs under a watchdog ([`watchdog`]): one that outlives its limit — its case's own
//! time limit plus [`TRIAL_MARGIN`]; for the linux lane, the one boot's limit plus building its
//! guests — fails by its name and is abandoned, so no hang anywhere (a lane process, a pipe, a
//! build) can hold the binary. The elfvisor release binary is built once before the trials,
//! under a limit of its own.

use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::{Arc, mpsc};
use std::time::Duration;

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
    // The linux lane's trials go last: its boots start in the background before any trial
    // (below), so the other lanes' trials run while the virtual machines boot, and the linux
    // trials then only collect the boots' results rather than holding the test threads early.
    let mut cells = harness.cells();
    cells.sort_by_key(|c| c.lane == Lane::Linux);
    let trials: Vec<Trial> = cells.iter().map(|&cell| trial(&harness, cell)).collect();
    // Boot the linux lane only for the cells this invocation will actually run.
    let selected = cells.iter().zip(&trials).filter(|(_, t)| !args.is_filtered_out(t));
    let selected: Vec<Cell> = selected.map(|(cell, _)| *cell).collect();
    harness.select_linux(selected.iter().copied());
    if !args.list && selected.iter().any(|c| matches!(c.lane, Lane::Elfvisor(_))) {
        build_elfvisor_first();
    }
    if !args.list {
        Harness::start_linux_boots(&harness);
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// What a trial may take beyond its case's own time limit: building its guest (cached across
/// trials), starting the lane's process, judging the transcript, on a loaded machine.
pub const TRIAL_MARGIN: Duration = Duration::from_secs(120);

/// What the linux lane's one boot may take beyond its own limit ([`crate::linux::boot_limit`]):
/// building every selected guest and `/init` first.
pub const LINUX_BUILD_MARGIN: Duration = Duration::from_secs(600);

/// The limit of building the elfvisor release binary, once, before the trials.
pub const ELFVISOR_BUILD_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Builds the elfvisor binary before any trial, so that no trial's limit has to hold a build.
/// Past its limit the build is abandoned: the elfvisor trials then wait for it and fail by their
/// own limits, each by name. A failed build is reported by each of them.
fn build_elfvisor_first() {
    let built = watchdog(ELFVISOR_BUILD_LIMIT, || {
        crate::elfvisor_lane::binary().map(|_| Completion::Completed).map_err(Failed::from)
    });
    if let Err(failed) = built {
        eprintln!(
            "conformance: building the elfvisor binary failed: {}",
            failed.message().unwrap_or("(no message)")
        );
    }
}

fn trial(harness: &Arc<Harness>, cell: Cell) -> Trial {
    let harness = Arc::clone(harness);
    Trial::ignorable_test(harness.cell_name(cell), move || {
        let limit = trial_limit(&harness, cell);
        let harness = Arc::clone(&harness);
        watchdog(limit, move || run_cell(&harness, cell))
    })
}

/// How long a cell's trial may run: its case's limit plus [`TRIAL_MARGIN`]; a linux cell waits
/// for the one boot, so it gets the boot's whole limit.
fn trial_limit(harness: &Harness, cell: Cell) -> Duration {
    let own = Duration::from_secs(harness.cases[cell.case].fixture.timeout_s.into());
    match cell.lane {
        Lane::Linux => harness.linux_limit(cell.case, LINUX_BUILD_MARGIN) + TRIAL_MARGIN,
        _ => own + TRIAL_MARGIN,
    }
}

/// Runs a trial's `body` on a thread of its own and waits for it at most `limit`. A body that
/// runs longer fails the trial (libtest-mimic names it) and is abandoned — its thread ends with
/// the process — so a hang costs one trial its limit, never the whole binary. A body that
/// panics fails the trial with the panic's message.
pub fn watchdog(
    limit: Duration,
    body: impl FnOnce() -> Result<Completion, Failed> + Send + 'static,
) -> Result<Completion, Failed> {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(std::thread::current().name().unwrap_or("trial").to_owned())
        .spawn(move || {
            let _ = tx.send(body());
        })
        .map_err(|e| Failed::from(format!("cannot start the trial's thread: {e}")))?;
    match rx.recv_timeout(limit) {
        Ok(result) => {
            let _ = worker.join();
            result
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "the trial did not finish within its limit of {} s (its case's time limit plus the \
             harness's margin): abandoned so that the other trials go on",
            limit.as_secs()
        )
        .into()),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let why = match worker.join() {
                Err(payload) => payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".into()),
                Ok(()) => "it ended without a result".into(),
            };
            Err(format!("the trial panicked: {why}").into())
        }
    }
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
            strace_tail: None,
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
    fn test_a_trial_past_its_limit_fails_by_name_and_the_others_run() {
        let hangs = || {
            watchdog(Duration::from_millis(100), || {
                loop {
                    std::thread::park();
                }
            })
        };
        let quick = || watchdog(Duration::from_secs(600), || Ok(Completion::Completed));
        let (conclusion, log) = run_trials(vec![
            Trial::ignorable_test("linux/musl/demo/hangs", hangs),
            Trial::ignorable_test("qemu-user/musl/demo/quick", quick),
        ]);
        assert_eq!((conclusion.num_failed, conclusion.num_passed), (1, 1));
        assert!(log.contains("linux/musl/demo/hangs"), "{log}");
        assert!(log.contains("did not finish within its limit"), "{log}");
    }

    #[test]
    fn test_a_trial_that_panics_fails_with_the_message() {
        let Err(failed) = watchdog(Duration::from_secs(600), || panic!("the lane broke")) else {
            panic!("a panicking trial must fail");
        };
        assert!(failed.message().unwrap().contains("the lane broke"), "{failed:?}");
        let ok = watchdog(Duration::from_secs(600), || Ok(Completion::ignored_with("why")));
        assert!(ok.is_ok());
    }

    #[test]
    fn test_ignored_cells_are_not_passes() {
        let ignored = Judged {
            verdict: Verdict::Ignored { reason: "qemu-aarch64 is not installed".into() },
            transcript: None,
            golden: None,
            stderr: String::new(),
            strace_tail: None,
        };
        let (conclusion, log) =
            run_trials(vec![Trial::ignorable_test("x", move || outcome(&ignored))]);
        assert_eq!((conclusion.num_ignored, conclusion.num_passed), (1, 0));
        assert!(log.contains("qemu-aarch64 is not installed"), "the reason is shown: {log}");
    }
}
