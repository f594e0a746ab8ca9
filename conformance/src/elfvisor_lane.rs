//! The `elfvisor` lane: the runtime under test, as its release binary, on the host.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::error::Result;
use crate::fixture::{Case, Guest};
use crate::invocation::Invocation;
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

/// What the lane runs for a case: `elfvisor --fork-strategy <s> [extra…] --argv0 <argv[0]>
/// <binary> args…` with exactly the case's environment, stdin and files (a sysroot program:
/// `… --sysroot <sysroot> --argv0 <argv[0]> <its guest path> args…`). `extra` holds elfvisor
/// options (`--strace`, `--gdb PORT`); the harness passes none. A dynamic guest
/// ([`crate::dynamic`]) runs by its host path with its C library's root as `--sysroot`.
pub fn invocation(
    case: &Case,
    elfvisor: &Path,
    binary: &Path,
    libc_root: Option<&Path>,
    strategy: Strategy,
    extra: &[OsString],
) -> Invocation {
    let argv = case.argv();
    let mut args: Vec<OsString> = vec!["--fork-strategy".into(), strategy.name().into()];
    args.extend(extra.iter().cloned());
    match &case.guest {
        // A sysroot program is named as the guest names it; elfvisor finds it, its
        // interpreter and its libraries through --sysroot.
        Guest::Program(program) if program.sysroot_path().is_some() => {
            args.extend(["--sysroot".into(), case.host_sysroot_root().into_os_string()]);
            args.extend(["--argv0".into(), argv[0].clone().into()]);
            args.extend(program.sysroot_path().map(OsString::from));
        }
        _ => {
            if let Some(root) = libc_root {
                args.extend(["--sysroot".into(), root.as_os_str().to_owned()]);
            }
            args.extend(["--argv0".into(), argv[0].clone().into(), binary.as_os_str().to_owned()]);
        }
    }
    args.extend(argv[1..].iter().map(OsString::from));
    Invocation::for_case(case, elfvisor.to_owned(), args)
}

/// Runs one case: `elfvisor --fork-strategy <s> --argv0 <argv[0]> <binary> args…` in a fresh directory holding the
/// case's files, with exactly the case's environment. A sysroot program runs as
/// `elfvisor … --sysroot <sysroot> --argv0 <argv[0]> <its guest path> args…`, so elfvisor finds it,
/// its interpreter and libraries as the guest names them.
pub fn run(
    case: &Case,
    elfvisor: &Path,
    binary: &Path,
    libc_root: Option<&Path>,
    strategy: Strategy,
) -> Result<RunOutput> {
    invocation(case, elfvisor, binary, libc_root, strategy, &[]).run()
}
