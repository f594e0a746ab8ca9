//! The `elfvisor` lane: the runtime under test, as its release binary, on the host.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::Result;
use crate::fixture::{Case, Guest};
use crate::lane::{RunOutput, Strategy};

/// Set to run a prebuilt elfvisor instead of building the release binary.
pub const BIN_ENV: &str = "ELFVISOR_BIN";

/// The elfvisor binary: `ELFVISOR_BIN`, or the workspace's release build, built once per
/// process (`cargo build --release -p elfvisor`).
pub fn binary() -> std::result::Result<PathBuf, String> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(bin) = std::env::var_os(BIN_ENV).filter(|b| !b.is_empty()) {
                let bin = PathBuf::from(bin);
                return if bin.is_file() {
                    Ok(bin)
                } else {
                    Err(format!("{BIN_ENV} names {}, which does not exist", bin.display()))
                };
            }
            build_release()
        })
        .clone()
}

fn build_release() -> std::result::Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("conformance: building the elfvisor release binary");
    let output = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "elfvisor", "--bin", "elfvisor"])
        .current_dir(crate::paths::workspace_root())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building elfvisor failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let bin = crate::paths::target_dir().join("release").join("elfvisor");
    if bin.is_file() { Ok(bin) } else { Err(format!("the build left no {}", bin.display())) }
}

/// Runs one case: `elfvisor --fork-strategy <s> --argv0 <argv[0]> <binary> args…` in a fresh directory holding the
/// case's files, with exactly the case's environment. A sysroot program runs as
/// `elfvisor … --sysroot <sysroot> --argv0 <argv[0]> <its guest path> args…`, so elfvisor finds it,
/// its interpreter and libraries as the guest names them.
pub fn run(case: &Case, elfvisor: &Path, binary: &Path, strategy: Strategy) -> Result<RunOutput> {
    let workdir = crate::hostrun::case_workdir(case)?;
    let argv = case.argv();
    let mut cmd = Command::new(elfvisor);
    cmd.args(["--fork-strategy", strategy.name()]);
    match &case.guest {
        Guest::Program(program) if program.sysroot_path().is_some() => {
            cmd.arg("--sysroot").arg(crate::paths::sysroot());
            cmd.arg("--argv0").arg(&argv[0]).args(program.sysroot_path());
        }
        _ => {
            cmd.arg("--argv0").arg(&argv[0]).arg(binary);
        }
    }
    cmd.args(&argv[1..]);
    cmd.env_clear().envs(case.env()).current_dir(workdir.path());
    crate::hostrun::run_captured(
        cmd,
        case.fixture.stdin.as_bytes(),
        Duration::from_secs(case.fixture.timeout_s.into()),
    )
}
