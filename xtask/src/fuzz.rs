//! `cargo xtask fuzz`: long runs of the system call fuzzer with random seeds.
//!
//! On elfvisor (the default lane) it runs `fuzz SEED ITERATIONS` round robin over the fork
//! strategies and C libraries until the time is up. A failing run is replayed batch by batch to
//! find the batch that fails alone, that batch is shrunk to the calls that still fail
//! (`elfvisor_conformance::fuzz::minimise`), and the result is saved as a regression case,
//! `fixtures/fuzz/seed_<seed>_<batch>.yaml`, which runs the fuzzer on just those calls in every
//! lane (record its golden on the linux lane). On the linux lane (`--lane linux`) the same seeds
//! run on the real arm64 kernel, in one boot per round, and a kernel oops or warning (the
//! kernel's taint flags changed, or an oops line on the console), a run that did not report or a
//! bad batch is a failure of the fuzzer itself.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use elfvisor_conformance::fuzz::{self, Only, Run};
use elfvisor_conformance::guest::{GuestBuilder, Libc};
use elfvisor_conformance::lane::Status;
use elfvisor_conformance::linux::{self, BatchCase, Executable};
use elfvisor_conformance::paths;

#[derive(Args)]
pub struct Options {
    /// How long to run, in minutes (the run in progress finishes first).
    #[arg(long, default_value_t = 5)]
    minutes: u64,
    /// Fork strategy to run under (repeatable; default: all three in turn).
    #[arg(long = "strategy")]
    strategies: Vec<String>,
    /// C library of the fuzzer (repeatable; default: musl and glibc in turn).
    #[arg(long = "libc")]
    libcs: Vec<String>,
    /// Run this seed (once per strategy and C library) instead of random ones.
    #[arg(long)]
    seed: Option<u64>,
    /// Calls per run.
    #[arg(long, default_value_t = 2000)]
    iterations: u64,
    /// `elfvisor` (default) or `linux`: the same seeds on the real arm64 kernel.
    #[arg(long, default_value = "elfvisor")]
    lane: String,
    /// Do not write regression cases for failures (report them only).
    #[arg(long)]
    no_save: bool,
}

/// One failure, minimised.
struct Found {
    run: Run,
    reasons: Vec<String>,
    /// The minimised replay, when one still failed alone.
    replay: Option<Run>,
    saved: Option<PathBuf>,
}

fn random_seed() -> Result<u64> {
    let mut bytes = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(u64::from(u32::from_le_bytes(bytes)))
}

fn libcs(opts: &Options) -> Result<Vec<Libc>> {
    if opts.libcs.is_empty() {
        return Ok(Libc::ALL.to_vec());
    }
    opts.libcs
        .iter()
        .map(|id| Libc::from_id(id).ok_or_else(|| anyhow!("unknown C library {id:?}")))
        .collect()
}

fn strategies(opts: &Options) -> Result<Vec<String>> {
    if opts.strategies.is_empty() {
        return Ok(fuzz::STRATEGIES.iter().map(|s| s.to_string()).collect());
    }
    for s in &opts.strategies {
        if !fuzz::STRATEGIES.contains(&s.as_str()) {
            bail!("unknown fork strategy {s:?} (one of {})", fuzz::STRATEGIES.join(", "));
        }
    }
    Ok(opts.strategies.clone())
}

/// The release binary, copied to `target/fuzz/` so that a rebuild during a long run does not
/// change the emulator under it.
fn frozen_elfvisor() -> Result<PathBuf> {
    let built = elfvisor_conformance::elfvisor_lane::binary().map_err(anyhow::Error::msg)?;
    let dir = paths::target_dir().join("fuzz");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let copy = dir.join(format!("elfvisor-{}", std::process::id()));
    std::fs::copy(&built, &copy).with_context(|| format!("copying {}", built.display()))?;
    Ok(copy)
}

pub fn run(opts: &Options) -> Result<ExitCode> {
    match opts.lane.as_str() {
        "elfvisor" => run_elfvisor(opts),
        "linux" => run_linux(opts),
        other => bail!("unknown lane {other:?} (elfvisor or linux)"),
    }
}

fn run_elfvisor(opts: &Options) -> Result<ExitCode> {
    let strategies = strategies(opts)?;
    let libcs = libcs(opts)?;
    let builder = GuestBuilder::new();
    let mut guests = BTreeMap::new();
    for &libc in &libcs {
        guests.insert(libc, fuzz::guest(&builder, libc).map_err(anyhow::Error::msg)?);
    }
    let elfvisor = frozen_elfvisor()?;
    let deadline = Instant::now() + Duration::from_secs(opts.minutes * 60);
    println!(
        "fuzz: {} minutes, {} calls a run, strategies {}, C libraries {}",
        opts.minutes,
        opts.iterations,
        strategies.join(" "),
        libcs.iter().map(|l| l.id()).collect::<Vec<_>>().join(" ")
    );
    let started = Instant::now();
    let (mut runs, mut calls) = (0u64, 0u64);
    let mut seeds = Vec::new();
    let mut found: Vec<Found> = Vec::new();
    let combos: Vec<(String, Libc)> =
        strategies.iter().flat_map(|s| libcs.iter().map(move |&l| (s.clone(), l))).collect();
    'outer: loop {
        for (strategy, libc) in &combos {
            if Instant::now() >= deadline && runs > 0 {
                break 'outer;
            }
            let seed = match opts.seed {
                Some(seed) => seed,
                None => random_seed()?,
            };
            let run = Run {
                strategy: strategy.clone(),
                libc: *libc,
                seed,
                iterations: opts.iterations,
                only: Only::All,
            };
            let outcome = fuzz::run(&elfvisor, &guests[libc], &run).map_err(anyhow::Error::msg)?;
            runs += 1;
            calls += run.calls();
            seeds.push(seed);
            if outcome.failed() {
                println!("fuzz: FAIL {run}");
                for reason in &outcome.failures {
                    println!("      {reason}");
                }
                if !outcome.stderr_tail.is_empty() {
                    println!(
                        "      stderr: {}",
                        outcome.stderr_tail.replace('\n', "\n              ")
                    );
                }
                let replay = shrink(&elfvisor, &guests[libc], &run, &outcome.bad_batches)?;
                let saved = match (&replay, opts.no_save) {
                    (Some(replay), false) => Some(save(replay, &outcome.failures)?),
                    _ => None,
                };
                found.push(Found { run, reasons: outcome.failures, replay, saved });
            } else {
                println!(
                    "fuzz: ok   {run} ({:.0} min left)",
                    deadline.saturating_duration_since(Instant::now()).as_secs_f64() / 60.0
                );
            }
            if opts.seed.is_some() && runs as usize >= combos.len() {
                break 'outer;
            }
        }
    }
    println!("\nfuzz summary");
    println!("  time:     {:.1} min", started.elapsed().as_secs_f64() / 60.0);
    println!(
        "  runs:     {runs} ({} strategies × {} C libraries in turn)",
        strategies.len(),
        libcs.len()
    );
    println!("  calls:    {calls}");
    println!(
        "  seeds:    {}{}",
        seeds.iter().take(12).map(u64::to_string).collect::<Vec<_>>().join(" "),
        if seeds.len() > 12 { format!(" … ({} in all)", seeds.len()) } else { String::new() }
    );
    println!("  failures: {}", found.len());
    for f in &found {
        println!("    {}: {}", f.run, f.reasons.first().map_or("", String::as_str));
        match (&f.replay, &f.saved) {
            (Some(replay), Some(path)) => {
                println!("      minimised: {replay}\n      saved as {}", path.display())
            }
            (Some(replay), None) => println!("      minimised: {replay}"),
            (None, _) => println!("      no batch fails alone: replay the whole seed"),
        }
    }
    Ok(if found.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The smallest replay of a failing run that still fails: the batch that fails alone (those
/// the guest named first, then every batch in order), shrunk to the calls that still fail.
fn shrink(elfvisor: &Path, guest: &Path, run: &Run, named: &[u32]) -> Result<Option<Run>> {
    let batches = run.iterations.div_ceil(u64::from(fuzz::BATCH)) as u32;
    let mut order: Vec<u32> = named.to_vec();
    order.extend((0..batches).filter(|b| !named.contains(b)));
    let fails = |only: Only| -> Result<bool> {
        let replay = Run { only, ..run.clone() };
        Ok(fuzz::run(elfvisor, guest, &replay).map_err(anyhow::Error::msg)?.failed())
    };
    for batch in order {
        if !fails(Only::Batch(batch))? {
            continue;
        }
        let size = (run.iterations - u64::from(batch) * u64::from(fuzz::BATCH))
            .min(u64::from(fuzz::BATCH)) as u32;
        let mut error = None;
        let calls = fuzz::minimise((0..size).collect(), |set| {
            match fails(Only::Calls(batch, set.to_vec())) {
                Ok(failed) => failed,
                Err(e) => {
                    error.get_or_insert(e);
                    false
                }
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        let replay = Run { only: Only::Calls(batch, calls), ..run.clone() };
        println!("fuzz: minimised to {replay}");
        return Ok(Some(replay));
    }
    Ok(None)
}

/// Writes the regression case of a minimised failure: `fixtures/fuzz/seed_<seed>_<batch>.yaml`.
fn save(replay: &Run, reasons: &[String]) -> Result<PathBuf> {
    let Only::Calls(batch, _) = &replay.only else { bail!("only a minimised replay is saved") };
    let dir = paths::fixtures().join("fuzz");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("seed_{}_{batch}.yaml", replay.seed));
    let args = replay.guest_args().iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>();
    let why = reasons.first().map_or("", String::as_str).replace('"', "'");
    let text = format!(
        "doc: \"Fuzzer regression (found under {}, {}): seed {}, batch {batch}, the calls that \
         still failed; it failed with: {why}\"\nsource: fuzz/fuzz.c\nargs: [{}]\ntimeout_s: 60\n",
        replay.strategy,
        replay.libc,
        replay.seed,
        args.join(", ")
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Kernel log lines that mean the kernel itself went wrong.
const OOPS: [&str; 6] =
    ["Oops", "BUG:", "Kernel panic", "Call trace:", "WARNING: CPU:", "Unable to handle kernel"];

fn run_linux(opts: &Options) -> Result<ExitCode> {
    if let Some(why) = linux::unavailable() {
        bail!("the linux lane cannot run: {why}");
    }
    let libcs = libcs(opts)?;
    let builder = GuestBuilder::new();
    let init = builder
        .build(Libc::Musl, &paths::workspace_root().join("runners/linux/init.c"), "init")
        .map_err(|e| anyhow!("building /init: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(opts.minutes * 60);
    let (mut boots, mut calls, mut seeds, mut failures) = (0u64, 0u64, Vec::new(), Vec::new());
    // Ten seeds a boot per C library: a boot costs about as much as a few runs.
    let per_boot = if opts.seed.is_some() { 1 } else { 10 };
    loop {
        let mut cases = Vec::new();
        for &libc in &libcs {
            let guest = fuzz::guest(&builder, libc).map_err(anyhow::Error::msg)?;
            for _ in 0..per_boot {
                let seed = match opts.seed {
                    Some(seed) => seed,
                    None => random_seed()?,
                };
                let run = Run {
                    strategy: "linux".into(),
                    libc,
                    seed,
                    iterations: opts.iterations,
                    only: Only::All,
                };
                cases.push(BatchCase {
                    id: format!("{}/fuzz/{seed}", libc.id()),
                    binary: Executable::Packed(guest.clone()),
                    argv: std::iter::once("fuzz".to_owned()).chain(run.guest_args()).collect(),
                    // The guest compares the kernel's taint flags before and after: the boot's
                    // console is quiet (loglevel 1), so an oops may print nothing there.
                    env: vec![("FUZZ_TAINT".to_owned(), "1".to_owned())],
                    stdin: Vec::new(),
                    files: BTreeMap::new(),
                    timeout_s: 600,
                    user: None,
                    tmpfs: None,
                });
                seeds.push(seed);
                calls += run.calls();
            }
        }
        let result = linux::run_batch(&init, &cases, &linux::BootSysroot::of(None))
            .map_err(|e| anyhow!("{e}"))?;
        boots += 1;
        let console = std::fs::read_to_string(&result.console_log).unwrap_or_default();
        for line in console.lines().filter(|l| OOPS.iter().any(|o| l.contains(o))) {
            failures.push(format!("kernel: {}", line.trim_end()));
        }
        for case in &cases {
            match result.runs.get(&case.id) {
                Some(out) if out.status == Status::Exited(0) => {}
                Some(out) => failures.push(format!(
                    "{}: {:?}: {}",
                    case.id,
                    out.status,
                    String::from_utf8_lossy(&out.stdout).trim()
                )),
                None => failures.push(format!("{}: no report from /init", case.id)),
            }
        }
        println!(
            "fuzz: linux boot {boots}: {} runs in {:.0} s, {} failures so far",
            cases.len(),
            result.elapsed.as_secs_f64(),
            failures.len()
        );
        if opts.seed.is_some() || Instant::now() >= deadline {
            break;
        }
    }
    println!("\nfuzz summary (linux lane)");
    println!("  boots:    {boots}");
    println!("  calls:    {calls}");
    println!("  seeds:    {}", seeds.len());
    println!("  failures: {}", failures.len());
    for f in &failures {
        println!("    {f}");
    }
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
