//! The system call fuzzer in CI: a short run with fixed seeds under every fork strategy and both
//! C libraries (six runs of 400 calls, well under a minute). It fails on a batch that ended
//! other than by exiting or by a signal a kernel sends, an emulator panic message, Rust
//! backtrace or SIGABRT, a run over its time limit, or an emulator process whose peak resident
//! memory passes `fuzz::RSS_BOUND_KIB` (see `elfvisor_conformance::fuzz`). Nothing depends on
//! timing: a batch that overstays its own bound is killed, which the verdict allows.
//! `cargo xtask fuzz` runs the same checks with random seeds for as long as asked.

use elfvisor_conformance::fuzz::{self, Only, Run, STRATEGIES};
use elfvisor_conformance::guest::{GuestBuilder, Libc};

/// The seeds of the CI run, one per strategy; the same calls every time.
const SEEDS: [u64; 3] = [297621718, 1, 20261207];

#[test]
fn test_fuzzer_finds_nothing_on_any_strategy() {
    let elfvisor = elfvisor_conformance::elfvisor_lane::binary().expect("the elfvisor binary");
    let builder = GuestBuilder::new();
    let mut failures = Vec::new();
    let mut ran = 0;
    for libc in Libc::ALL {
        let guest = match fuzz::guest(&builder, libc) {
            Ok(guest) => guest,
            Err(why) => {
                eprintln!("skipping {libc}: {why}");
                continue;
            }
        };
        for (strategy, seed) in STRATEGIES.iter().zip(SEEDS) {
            let run = Run {
                strategy: strategy.to_string(),
                libc,
                seed,
                iterations: 400,
                only: Only::All,
            };
            let outcome = fuzz::run(&elfvisor, &guest, &run).expect("running the fuzzer");
            ran += 1;
            if outcome.failed() {
                failures.push(format!(
                    "{run}:\n  {}\n  stderr:\n{}",
                    outcome.failures.join("\n  "),
                    outcome.stderr_tail
                ));
            }
        }
    }
    assert!(ran > 0, "no C library toolchain: run `cargo xtask deps`");
    assert!(failures.is_empty(), "the fuzzer found:\n{}", failures.join("\n"));
}
