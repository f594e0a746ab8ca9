//! Running the system call fuzzer (`guest-src/fuzz/fuzz.c`) under elfvisor or on the gold
//! kernel, judging a run, and shrinking a failing batch to the calls that still fail.
//!
//! The guest makes its calls in batches, each in a forked child, and prints one line per batch
//! that ended other than by exiting or by a signal a kernel sends for what the calls did
//! (`batch N (seed S): …`). A run fails when it prints such a line, when the emulator prints a
//! panic message or a Rust backtrace, when any process of the run dies of `SIGABRT` (the top one
//! by its status, a batch child through the guest's line), when the run overstays its time
//! limit, or when the emulator's peak resident memory passes [`RSS_BOUND_KIB`]. The arena is a
//! 1 TiB reservation, so an address-space limit (`prlimit --as`) cannot bound the emulator's own
//! allocations; its peak resident set, which the kernel keeps for every reaped descendant, can.
//! The same seed makes the same calls, so a failure is replayed by its seed, batch and calls.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};

use crate::guest::{GuestBuilder, Libc};
use crate::lane::Status;

/// Calls per batch (the guest's default).
pub const BATCH: u32 = 200;

/// The bound on the peak resident set of any emulator process of a run, in KiB. A fuzz batch
/// maps at most a few MiB that it touches; an emulator near this bound allocated on the
/// strength of a guest-supplied size.
pub const RSS_BOUND_KIB: i64 = 1 << 20;

/// The fork strategies the fuzzer runs under.
pub const STRATEGIES: [&str; 3] = ["host", "respawn-copy", "respawn-snapshot"];

/// Which calls of a run are made: all, one batch, or some calls of one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Only {
    All,
    Batch(u32),
    Calls(u32, Vec<u32>),
}

impl Only {
    /// The guest's fourth argument, if any.
    fn arg(&self) -> Option<String> {
        match self {
            Only::All => None,
            Only::Batch(b) => Some(b.to_string()),
            Only::Calls(b, calls) => Some(format!(
                "{b}:{}",
                calls.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
            )),
        }
    }
}

/// One fuzzer run: what the guest is asked to do, and where.
#[derive(Debug, Clone)]
pub struct Run {
    pub strategy: String,
    pub libc: Libc,
    pub seed: u64,
    pub iterations: u64,
    pub only: Only,
}

impl Run {
    /// The guest's arguments after argv[0].
    pub fn guest_args(&self) -> Vec<String> {
        let mut args = vec![self.seed.to_string(), self.iterations.to_string(), BATCH.to_string()];
        args.extend(self.only.arg());
        args
    }

    /// Calls the run makes.
    pub fn calls(&self) -> u64 {
        match &self.only {
            Only::All => self.iterations,
            Only::Batch(_) => u64::from(BATCH).min(self.iterations),
            Only::Calls(_, calls) => calls.len() as u64,
        }
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} fuzz {}", self.strategy, self.libc, self.guest_args().join(" "))
    }
}

/// What a run showed.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Why the run failed; empty when it did not.
    pub failures: Vec<String>,
    /// The batches the guest reported as ending badly.
    pub bad_batches: Vec<u32>,
    /// The last lines of the emulator's standard error, for a report.
    pub stderr_tail: String,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }
}

/// The fuzzer built for `libc` (cached like every guest).
pub fn guest(builder: &GuestBuilder, libc: Libc) -> Result<PathBuf, String> {
    let source = crate::paths::guest_src().join("fuzz").join("fuzz.c");
    builder.build(libc, &source, "fuzz").map_err(|e| e.to_string())
}

/// The largest peak resident set, in KiB, of any reaped descendant of this process.
fn children_peak_rss_kib() -> i64 {
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0, |u| u.max_rss())
}

/// Runs `run` under `elfvisor` with `fuzz` (the guest built for the run's libc) and judges it.
/// The run's time limit covers every batch's own 10 s bound with room to spare.
pub fn run(elfvisor: &Path, fuzz: &Path, run: &Run) -> Result<Outcome, String> {
    let mut cmd = Command::new(elfvisor);
    cmd.arg("--fork-strategy").arg(&run.strategy).arg("--argv0").arg("fuzz").arg(fuzz);
    cmd.args(run.guest_args());
    cmd.env_clear().envs(crate::fixture::BASE_ENV);
    let batches = run.calls().div_ceil(u64::from(BATCH)).max(1);
    let limit = Duration::from_secs(30 + 12 * batches);
    let rss_before = children_peak_rss_kib();
    let out = crate::hostrun::run_captured(cmd, b"", limit).map_err(|e| e.to_string())?;
    let rss_after = children_peak_rss_kib();
    Ok(judge(&out.stdout, &out.stderr, &out.status, rss_before, rss_after))
}

/// The verdict on one run's output (see the module's documentation).
pub fn judge(
    stdout: &[u8],
    stderr: &[u8],
    status: &Status,
    rss_before: i64,
    rss_after: i64,
) -> Outcome {
    let stdout = String::from_utf8_lossy(stdout);
    let stderr = String::from_utf8_lossy(stderr);
    let mut outcome = Outcome::default();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("batch ") {
            let number = rest.split(' ').next().and_then(|n| n.parse().ok());
            if let Some(n) = number {
                outcome.bad_batches.push(n);
            }
            outcome.failures.push(format!("the guest reports: {line}"));
        }
    }
    for marker in ["panicked at", "stack backtrace:", "RUST_BACKTRACE", "fatal runtime error"] {
        if let Some(line) = stderr.lines().find(|l| l.contains(marker)) {
            outcome.failures.push(format!("the emulator printed: {line}"));
        }
    }
    match status {
        Status::Exited(0) => {}
        Status::Exited(code) => outcome.failures.push(format!("the run exited with {code}")),
        Status::Signaled(sig) => {
            outcome.failures.push(format!("the run was killed by signal {sig}"));
        }
        Status::TimedOut => outcome.failures.push("the run overstayed its time limit".into()),
    }
    if rss_after > RSS_BOUND_KIB && rss_before <= RSS_BOUND_KIB {
        outcome.failures.push(format!(
            "an emulator process peaked at {rss_after} KiB resident (bound {RSS_BOUND_KIB} KiB)"
        ));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    outcome.stderr_tail = lines[lines.len().saturating_sub(20)..].join("\n");
    outcome
}

/// Shrinks a failing batch to calls that still fail (Zeller's ddmin over the batch's call
/// numbers): `fails` replays a candidate set; the result is 1-minimal for a deterministic
/// failure, and for a flaky one it is still a set that failed when last tried.
pub fn minimise(calls: Vec<u32>, mut fails: impl FnMut(&[u32]) -> bool) -> Vec<u32> {
    let mut current = calls;
    let mut parts = 2usize;
    while current.len() >= 2 {
        let chunk = current.len().div_ceil(parts);
        let subsets: Vec<Vec<u32>> = current.chunks(chunk).map(<[u32]>::to_vec).collect();
        let mut reduced = false;
        for subset in &subsets {
            if fails(subset) {
                current = subset.clone();
                parts = 2;
                reduced = true;
                break;
            }
        }
        if !reduced && subsets.len() > 2 {
            for i in 0..subsets.len() {
                let complement: Vec<u32> = subsets
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .flat_map(|(_, s)| s.iter().copied())
                    .collect();
                if fails(&complement) {
                    current = complement;
                    parts = (parts - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if parts >= current.len() {
                break;
            }
            parts = (parts * 2).min(current.len());
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_minimise_finds_the_two_calls_that_fail_together() {
        let all: Vec<u32> = (0..200).collect();
        let mut tries = 0;
        let found = minimise(all, |set| {
            tries += 1;
            set.contains(&17) && set.contains(&150)
        });
        assert_eq!(found, vec![17, 150]);
        assert!(tries < 200, "ddmin took {tries} tries");
    }

    #[test]
    fn test_minimise_finds_one_call() {
        let found = minimise((0..200).collect(), |set| set.contains(&199));
        assert_eq!(found, vec![199]);
    }

    #[test]
    fn test_judge_reports_a_bad_batch_a_panic_and_an_abort() {
        let out = judge(
            b"batch 3 (seed 9): killed by signal 6\n1 batches, some ended badly\n",
            b"thread 'main' panicked at src/x.rs:1:1:\n",
            &Status::Signaled(6),
            0,
            0,
        );
        assert_eq!(out.bad_batches, vec![3]);
        assert_eq!(out.failures.len(), 3, "{:?}", out.failures);
    }

    #[test]
    fn test_judge_passes_a_clean_run_and_flags_memory_over_the_bound() {
        let clean =
            judge(b"5 batches, every one ended as a batch may\n", b"", &Status::Exited(0), 0, 9);
        assert!(!clean.failed());
        let big = judge(b"", b"", &Status::Exited(0), 10, RSS_BOUND_KIB + 1);
        assert!(big.failed());
        // Already over before the run: the peak cannot be blamed on it.
        let before = judge(b"", b"", &Status::Exited(0), RSS_BOUND_KIB + 1, RSS_BOUND_KIB + 2);
        assert!(!before.failed());
    }

    #[test]
    fn test_only_spells_the_guest_argument() {
        let run = Run {
            strategy: "host".into(),
            libc: Libc::Musl,
            seed: 7,
            iterations: 1000,
            only: Only::Calls(2, vec![4, 19]),
        };
        assert_eq!(run.guest_args(), ["7", "1000", "200", "2:4,19"]);
        assert_eq!(run.calls(), 2);
    }
}
