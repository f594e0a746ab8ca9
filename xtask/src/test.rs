//! `cargo xtask test`: every unit and integration test under cargo-nextest — one process per
//! test, each with the hard time limit of `.config/nextest.toml`, a hang reported by the test's
//! name — then the conformance matrix, whose trials have their own watchdog
//! (`conformance/src/trials.rs`).
//!
//! The conformance binary is one libtest-mimic harness whose linux lane boots once per
//! invocation, so it runs whole under `cargo test`, never split per trial; the nextest profile
//! leaves it out (`default-filter`), and keeps the conformance crate's own unit tests.

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::cargo;

fn run(what: &str, cmd: &mut Command) -> Result<bool> {
    println!("test: {what}: {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    Ok(status.success())
}

/// Whether any workspace library has doctests enabled (`cargo metadata` says so per target):
/// nextest does not run doctests, so `cargo test --doc` must.
fn any_doctests() -> Result<bool> {
    let meta = crate::cargo_metadata(&elfvisor_conformance::paths::workspace_root(), true)?;
    let packages = meta["packages"].as_array().context("cargo metadata lists no packages")?;
    Ok(packages
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .any(|t| t["doctest"].as_bool() == Some(true)))
}

/// Runs the suites; `args` go to both runners (cargo options, then test-binary arguments after
/// `--`, e.g. a name filter). With `unit_only`, not the conformance matrix.
pub fn run_suites(unit_only: bool, args: &[String]) -> Result<ExitCode> {
    if let Err(why) = crate::deps::nextest() {
        bail!("cargo-nextest is needed for the unit tests, but {why}: run `cargo xtask deps`");
    }
    let mut failed = Vec::new();

    let mut nextest = cargo();
    nextest.args(["nextest", "run", "--workspace"]);
    // Tests that run the elfvisor binary as the harness does (`xtask run`, `--gdb`) use the
    // release build: built here, before any test's time limit starts.
    if std::env::var_os(elfvisor_conformance::elfvisor_lane::BIN_ENV).is_none() {
        let bin = elfvisor_conformance::elfvisor_lane::binary().map_err(anyhow::Error::msg)?;
        nextest.env(elfvisor_conformance::elfvisor_lane::BIN_ENV, bin);
    }
    if !args.is_empty() {
        // A name filter may select no unit test at all (it names trials): not a failure then.
        // Unfiltered, finding no test is one.
        nextest.arg("--no-tests=warn");
    }
    if !run("unit and integration tests (nextest)", nextest.args(args))? {
        failed.push("unit and integration tests");
    }

    if any_doctests()? {
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"]);
        let (cargo_args, binary_args) = split_at_dashes(args);
        doc.args(cargo_args);
        if !binary_args.is_empty() {
            doc.arg("--").args(binary_args);
        }
        if !run("doctests", &mut doc)? {
            failed.push("doctests");
        }
    }

    if !unit_only {
        let mut conformance = cargo();
        conformance.args(["test", "-p", "elfvisor-conformance", "--test", "conformance"]);
        if !run("the conformance matrix", conformance.args(args))? {
            failed.push("the conformance matrix");
        }
    }

    if failed.is_empty() {
        println!("test: every suite passed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("test: FAILED: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

/// Cargo's options and the test-binary arguments after `--`.
fn split_at_dashes(args: &[String]) -> (&[String], &[String]) {
    match args.iter().position(|a| a == "--") {
        Some(at) => (&args[..at], &args[at + 1..]),
        None => (args, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn test_split_at_dashes() {
        let args = strings(&["--release", "--", "--exact", "x"]);
        let (cargo, binary) = split_at_dashes(&args);
        assert_eq!(cargo, ["--release"]);
        assert_eq!(binary, ["--exact", "x"]);
        let args = strings(&["--release"]);
        assert_eq!(split_at_dashes(&args), (&args[..], &[][..]));
    }

    #[test]
    fn test_the_nextest_profile_leaves_the_conformance_matrix_out_and_limits_every_test() {
        let config = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.config/nextest.toml"),
        )
        .unwrap();
        assert!(
            config
                .contains("default-filter = \"not binary_id(elfvisor-conformance::conformance)\""),
            "{config}"
        );
        assert!(config.contains("terminate-after"), "every test needs a hard limit: {config}");
    }
}
