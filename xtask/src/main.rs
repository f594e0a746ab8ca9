//! `cargo xtask <command>`: the commands a developer or CI runs.
//!
//! - `deps`: installs what the harness needs (cross compilers, qemu, cmake, libclang) and fetches
//!   Debian's arm64 kernel; quick when everything is present.
//! - `conformance`: provisions, then runs the lane × case matrix and writes the report.
//! - `test`: provisions, then runs `cargo test --workspace`.
//! - `bench`: elfvisor against qemu-user on startup, syscalls, ALU and load/store guests.

use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod bench;
mod deps;
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
    /// Provision, then run `cargo test --workspace` with any extra arguments.
    Test {
        /// Skip provisioning.
        #[arg(long)]
        no_deps: bool,
        /// Passed on to `cargo test` (put test-binary arguments after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Time elfvisor against qemu-user on the bench guests; print medians and ratios; write
    /// target/bench/report.json.
    Bench(bench::Options),
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
        Cmd::Test { no_deps, args } => {
            if !no_deps {
                deps::provision(false, false)?;
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["test", "--workspace"])
                .args(&args)
                .status()
                .context("running cargo test")?;
            Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Cmd::Bench(opts) => bench::run(&opts).map(|()| ExitCode::SUCCESS),
    }
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
