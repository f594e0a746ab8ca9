//! The `qemu-user` lane: `qemu-aarch64 <binary>` on the host, in a fresh directory per run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::fixture::{Case, Guest};
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
/// harness passes none. `libc_root` is the C library's root of a dynamic guest
/// ([`crate::dynamic`]), given as `-L`.
pub fn invocation(
    case: &Case,
    binary: &Path,
    libc_root: Option<&Path>,
    extra: &[OsString],
) -> Invocation {
    let argv = case.argv();
    let mut args: Vec<OsString> = extra.to_vec();
    // qemu looks up the interpreter and the guest's other absolute paths through -L, but not
    // the program itself (the binary is its host path inside the sysroot), nor the programs
    // it execve's.
    if matches!(&case.guest, Guest::Program(p) if p.sysroot_path().is_some()) {
        args.extend(["-L".into(), case.host_sysroot_root().into_os_string()]);
    } else if let Some(root) = libc_root {
        args.extend(["-L".into(), root.as_os_str().to_owned()]);
    }
    args.extend(["-0".into(), argv[0].clone().into(), binary.as_os_str().to_owned()]);
    args.extend(argv[1..].iter().map(OsString::from));
    let qemu = which::which(QEMU).unwrap_or_else(|_| PathBuf::from(QEMU));
    Invocation::for_case(case, qemu, args)
}

/// Runs one case in a fresh directory holding its files. argv[0] is the case's (`-0`), the
/// environment is exactly the case's. A sysroot program runs as `qemu-aarch64 -L <sysroot>`
/// with its host path inside the sysroot (qemu looks up the interpreter and the guest's other
/// absolute paths through `-L`, but not the program itself, nor the programs it `execve`s).
pub fn run(case: &Case, binary: &Path, libc_root: Option<&Path>) -> Result<RunOutput> {
    invocation(case, binary, libc_root, &[]).run()
}
