//! `cargo xtask run <trial>`: one conformance trial reproduced exactly as the harness runs it —
//! the same command built by the same code (`Harness::invocation`), the case's argv, environment,
//! stdin, files and fresh working directory — with its transcript shown against the golden one.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use elfvisor_conformance::golden;
use elfvisor_conformance::harness::Harness;
use elfvisor_conformance::invocation::shell_quote;
use elfvisor_conformance::lane::Lane;
use elfvisor_conformance::transcript;

/// The line that ends the transcript on stdout and starts the comparison with the golden one.
pub const GOLDEN_HEADER: &str = "=== against the golden transcript";

#[derive(clap::Args, Debug)]
pub struct Options {
    /// The trial, as the harness names it: `<lane>/<libc>/<family>/<case>`
    /// (`elfvisor/host/musl/file/basic_io`, `qemu-user/glibc/…`, `linux/musl/…`).
    trial: String,
    /// Trace the guest's system calls on stderr (`elfvisor --strace`, `qemu-aarch64 -strace`).
    #[arg(long)]
    strace: bool,
    /// Print the equivalent shell command instead of running it.
    #[arg(long)]
    print: bool,
    /// The run's time limit in seconds instead of the case's own (for a run under a debugger).
    #[arg(long, value_name = "SECS")]
    limit: Option<u64>,
    /// Options for the lane's tool, placed before the guest: elfvisor's (`--gdb 1234`) or
    /// qemu-aarch64's.
    #[arg(last = true)]
    extra: Vec<OsString>,
}

pub fn run(opts: &Options) -> Result<ExitCode> {
    let harness = Harness::load().context("loading the fixtures")?;
    let Some(cell) = harness.cells().into_iter().find(|&c| harness.cell_name(c) == opts.trial)
    else {
        let near: Vec<String> = harness
            .cells()
            .into_iter()
            .map(|c| harness.cell_name(c))
            .filter(|n| n.ends_with(&opts.trial) || n.contains(&opts.trial))
            .take(8)
            .collect();
        bail!(
            "no trial named {:?} (names are <lane>/<libc>/<family>/<case>; `cargo test -p \
             elfvisor-conformance --test conformance -- --list` lists them){}",
            opts.trial,
            if near.is_empty() { String::new() } else { format!("; close: {}", near.join(", ")) }
        );
    };
    if let Some(reason) = harness.skip_reason(cell) {
        bail!("{} cannot run here: {reason}", opts.trial);
    }
    let case = &harness.cases[cell.case];
    let output = if cell.lane == Lane::Linux {
        if opts.strace || !opts.extra.is_empty() || opts.limit.is_some() {
            bail!(
                "the linux lane runs inside its own boot: --strace, --limit and extra options apply to the host lanes only"
            );
        }
        if opts.print {
            let cmd = harness.linux_boot_command(cell).map_err(anyhow::Error::msg)?;
            let words = std::iter::once(cmd.get_program()).chain(cmd.get_args());
            let words: Vec<String> = words.map(|w| shell_quote(w.as_encoded_bytes())).collect();
            println!("{}", words.join(" "));
            eprintln!(
                "(the console carries /init's report: lines `@@ELFVISOR OUT <hex>` hold the \
                 case's stdout)"
            );
            return Ok(ExitCode::SUCCESS);
        }
        harness.select_linux([cell]);
        harness.run(cell).map_err(anyhow::Error::msg)?
    } else {
        let mut extra = Vec::new();
        if opts.strace {
            extra.push(OsString::from(if cell.lane == Lane::QemuUser {
                "-strace"
            } else {
                "--strace"
            }));
        }
        extra.extend(opts.extra.iter().cloned());
        let mut invocation = harness.invocation(cell, &extra).map_err(anyhow::Error::msg)?;
        if let Some(secs) = opts.limit {
            invocation.limit = Duration::from_secs(secs);
        }
        if opts.print {
            println!("{}", invocation.shell());
            return Ok(ExitCode::SUCCESS);
        }
        invocation.run().map_err(|e| anyhow::anyhow!("{e}"))?
    };
    if !output.stderr.is_empty() {
        eprintln!("=== stderr");
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        if !output.stderr.ends_with(b"\n") {
            eprintln!();
        }
    }
    let text = transcript::render(case, &output);
    print!("{text}");
    let path = case.golden_path();
    let relative = Harness::relative(&path);
    let Some(golden) = golden::read_golden(&path)? else {
        println!("{GOLDEN_HEADER} ({relative}): none recorded yet");
        return Ok(ExitCode::FAILURE);
    };
    match golden::diff(&golden, &text, &opts.trial) {
        None => {
            println!("{GOLDEN_HEADER} ({relative}): identical");
            Ok(ExitCode::SUCCESS)
        }
        Some(diff) => {
            let xfail = case.xfail(cell.lane.id(), cell.libc.id());
            let note = xfail.map(|r| format!(" (declared xfail: {r})")).unwrap_or_default();
            println!("{GOLDEN_HEADER} ({relative}): differs{note}\n{diff}");
            Ok(ExitCode::FAILURE)
        }
    }
}
