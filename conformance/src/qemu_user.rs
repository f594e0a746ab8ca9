//! The `qemu-user` lane: `qemu-aarch64 <binary>` on the host, in a fresh directory per run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::fixture::Case;
use crate::invocation::Invocation;
use crate::lane::RunOutput;

const QEMU: &str = "qemu-aarch64";

/// Why the lane cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    which::which(QEMU)
        .err()
        .map(|_| format!("{QEMU} is not installed: run `cargo xtask deps` (installs qemu-user)"))
}

/// What the lane runs for a case: `qemu-aarch64 [extra…] -0 <argv[0]> <binary> args…` with
/// exactly the case's environment, stdin and files. `extra` holds qemu options (`-strace`); the
/// harness passes none.
pub fn invocation(case: &Case, binary: &Path, extra: &[OsString]) -> Invocation {
    let argv = case.argv();
    let mut args: Vec<OsString> = extra.to_vec();
    args.extend(["-0".into(), argv[0].clone().into(), binary.as_os_str().to_owned()]);
    args.extend(argv[1..].iter().map(OsString::from));
    let qemu = which::which(QEMU).unwrap_or_else(|_| PathBuf::from(QEMU));
    Invocation::for_case(case, qemu, args)
}

/// Runs one case in a fresh directory holding its files. argv[0] is the case's (`-0`), the
/// environment is exactly the case's.
pub fn run(case: &Case, binary: &Path) -> Result<RunOutput> {
    invocation(case, binary, &[]).run()
}
