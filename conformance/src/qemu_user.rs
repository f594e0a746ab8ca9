//! The `qemu-user` lane: `qemu-aarch64 <binary>` on the host, in a fresh directory per run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::error::Result;
use crate::fixture::{Case, Guest};
use crate::lane::RunOutput;

const QEMU: &str = "qemu-aarch64";

/// Why the lane cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    which::which(QEMU)
        .err()
        .map(|_| format!("{QEMU} is not installed: run `cargo xtask deps` (installs qemu-user)"))
}

/// Runs one case in a fresh directory holding its files. argv[0] is the case's (`-0`), the
/// environment is exactly the case's. A sysroot program runs as `qemu-aarch64 -L <sysroot>`
/// with its host path inside the sysroot (qemu looks up the interpreter and the guest's other
/// absolute paths through `-L`, but not the program itself, nor the programs it `execve`s).
pub fn run(case: &Case, binary: &Path) -> Result<RunOutput> {
    let workdir = crate::hostrun::case_workdir(case)?;
    let argv = case.argv();
    let mut cmd = Command::new(QEMU);
    if matches!(&case.guest, Guest::Program(p) if p.sysroot_path().is_some()) {
        cmd.arg("-L").arg(crate::paths::sysroot());
    }
    cmd.arg("-0").arg(&argv[0]).arg(binary).args(&argv[1..]);
    cmd.env_clear().envs(case.env()).current_dir(workdir.path());
    crate::hostrun::run_captured(
        cmd,
        case.fixture.stdin.as_bytes(),
        Duration::from_secs(case.fixture.timeout_s.into()),
    )
}
