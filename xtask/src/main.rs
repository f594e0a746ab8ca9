//! `cargo xtask <command>`: the commands a developer or CI runs.
//!
//! - `deps`: installs what the harness needs (cross compilers, qemu, cmake, libclang) and fetches
//!   Debian's arm64 kernel; quick when everything is present.
//! - `conformance`: provisions, then runs the lane × case matrix and writes the report.
//! - `test`: provisions, then runs every unit test under cargo-nextest (a hard time limit per
//!   test) and the conformance matrix (a watchdog per trial); `--unit` skips the matrix.
//! - `bench`: elfvisor against qemu-user on startup, syscalls, ALU and load/store guests.
//! - `coverage`: the system call table elfvisor serves, beside qemu-user.
//! - `run`: one conformance trial exactly as the harness runs it, its transcript against the
//!   golden one (`--print` shows the shell command, `--strace` traces the guest).
//! - `fuzz`: the system call fuzzer for N minutes with random seeds, round robin over the fork
//!   strategies; each failure shrunk to its calls and saved as a regression case (`--lane
//!   linux`: the same seeds on the real kernel, a check of the fuzzer itself).
//! - `asan`: elfvisor with AddressSanitizer on unicorn, and the elfvisor lanes (or one guest)
//!   run under it.
//! - `sysroot`: a Debian bookworm arm64 tree for dynamically linked guests (`--sysroot`).

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod asan;
mod bench;
mod coverage;
mod deps;
mod fuzz;
mod pgbench;
mod run;
mod sysroot;
mod test;
mod unicorn;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "elfvisor developer commands")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install missing tools and fetch the arm64 kernel (idempotent).
    Deps {
        /// Only report what is missing; install nothing.
        #[arg(long)]
        check: bool,
        /// Print every probe and the exact path it matched.
        #[arg(long)]
        explain: bool,
    },
    /// Run every guest case in every lane; print the matrix; write target/conformance/report.*.
    Conformance {
        /// Only cells whose name (`<lane>/<libc>/<family>/<case>`) contains this text.
        filter: Option<String>,
        /// Skip provisioning.
        #[arg(long)]
        no_deps: bool,
    },
    /// Provision, then run every unit and integration test with `cargo nextest run` (one
    /// process and a hard time limit per test, see .config/nextest.toml), then the conformance
    /// matrix with `cargo test -p elfvisor-conformance --test conformance`.
    Test {
        /// Skip provisioning.
        #[arg(long)]
        no_deps: bool,
        /// Only the unit and integration tests, not the conformance matrix (quick loops).
        #[arg(long)]
        unit: bool,
        /// Passed on to both runners (put test-binary arguments, e.g. a name filter, after
        /// `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Time elfvisor against qemu-user on the bench guests; print medians and ratios; write
    /// target/bench/report.json.
    Bench(bench::Options),
    /// How much of the system call table elfvisor serves, beside qemu-user (the support
    /// matrix and a probe of every number under both).
    Coverage,
    /// Run one conformance trial (`<lane>/<libc>/<family>/<case>`) exactly as the harness does
    /// and show its transcript against the golden one (exit status 0 when identical).
    Run(run::Options),
    /// Unpack Debian bookworm arm64 packages into ~/.cache/elfvisor/sysroot/ for
    /// `elfvisor --sysroot` (idempotent; the versions go to MANIFEST there).
    Sysroot(sysroot::Options),
    /// Fuzz the system call layer with random seeds for N minutes; shrink every failure to its
    /// calls and save it as a regression case under fixtures/fuzz/.
    Fuzz(fuzz::Options),
    /// Build elfvisor with AddressSanitizer on unicorn (target/asan/) and run the elfvisor
    /// lanes of the conformance matrix (default), or one command line, under it; any report
    /// fails the run.
    Asan(asan::Options),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Deps { check, explain } => deps::provision(check, explain),
        Cmd::Conformance { filter, no_deps } => {
            if !no_deps {
                deps::provision(false, false)?;
            }
            conformance(filter.as_deref())
        }
        Cmd::Test { no_deps, unit, args } => {
            if !no_deps {
                deps::provision(false, false)?;
            }
            test::run_suites(unit, &args)
        }
        Cmd::Bench(opts) => bench::run(&opts).map(|()| ExitCode::SUCCESS),
        Cmd::Coverage => coverage::run().map(|()| ExitCode::SUCCESS),
        Cmd::Run(opts) => run::run(&opts),
        Cmd::Sysroot(opts) => sysroot::run(&opts).map(|()| ExitCode::SUCCESS),
        Cmd::Fuzz(opts) => fuzz::run(&opts),
        Cmd::Asan(opts) => asan::run(&opts),
    }
}

/// The cargo that runs this xtask (`$CARGO`), or the one on `PATH`.
fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// `cargo metadata` of the workspace at `root`, parsed; with `no_deps`, its own packages only.
fn cargo_metadata(root: &Path, no_deps: bool) -> Result<serde_json::Value> {
    let mut cmd = cargo();
    cmd.args(["metadata", "--format-version", "1"]);
    if no_deps {
        cmd.arg("--no-deps");
    }
    let out = cmd
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed with {}", out.status);
    }
    serde_json::from_slice(&out.stdout).context("parsing cargo metadata")
}

fn conformance(filter: Option<&str>) -> Result<ExitCode> {
    use elfvisor_conformance::{harness::Harness, matrix, paths, report};
    let harness = Harness::load().context("loading the fixtures")?;
    println!(
        "conformance: {} cases × {} lanes × 2 libcs{}",
        harness.cases.len(),
        elfvisor_conformance::lane::Lane::ALL.len(),
        filter.map(|f| format!(", cells matching {f:?}")).unwrap_or_default()
    );
    let mut stdout = std::io::stdout();
    let run = matrix::run(&harness, filter, &mut stdout);
    println!("\n{}", matrix::render_table(&harness, &run));
    print!("{}", matrix::render_failures(&harness, &run));
    let (json, html) = report::write(&harness, &run, &paths::output_dir())?;
    println!("\nreport: {}\n        {}", html.display(), json.display());
    println!("summary: {}", run.summary());
    Ok(if run.failures() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
