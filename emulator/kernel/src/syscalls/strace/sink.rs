//! Where `--strace` lines go (stderr, or `--strace-file`), which calls the filter keeps, and
//! the line that closes each process's trace. Apart from the rest of `--strace` so that the run
//! loop, which reports a process's end, imports nothing of the syscall table.

use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

use elfvisor_abi::{Signo, Sysno};

/// The environment variable that carries `--strace-filter` to respawned children.
pub const FILTER_ENV: &str = "ELFVISOR_STRACE_FILTER";
/// The environment variable that carries `--strace-file` to respawned children.
pub const FILE_ENV: &str = "ELFVISOR_STRACE_FILE";

pub(super) struct Config {
    /// The calls to show (none: every call).
    pub(super) only: Option<Vec<u32>>,
    /// Where the lines go (none: stderr).
    pub(super) file: Option<Mutex<std::fs::File>>,
}

pub(super) fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let only = std::env::var(FILTER_ENV).ok().map(|list| {
            list.split(',')
                .filter_map(|name| Sysno::ALL.iter().find(|(_, n)| *n == name.trim()))
                .map(|(nr, _)| nr.0)
                .collect()
        });
        let file = std::env::var_os(FILE_ENV).and_then(|path| {
            std::fs::OpenOptions::new().create(true).append(true).open(path).ok().map(Mutex::new)
        });
        Config { only, file }
    })
}

/// The process ended: `+++ exited with 0 +++` or `+++ killed by SIGSEGV +++`, as strace
/// closes a process's trace (whatever the filter).
pub fn exited(tid: u32, end: crate::task::types::Termination) {
    use crate::task::types::Termination;
    let what = match end {
        Termination::Exited(code) => format!("exited with {code}"),
        Termination::Signaled(sig) => format!("killed by {}", signal_name(sig.0)),
    };
    write_line(config(), &format!("[pid {tid:>5}] +++ {what} +++\n"));
}

pub(super) fn write_line(cfg: &Config, line: &str) {
    match &cfg.file {
        Some(file) => {
            let _ = file.lock().unwrap_or_else(|e| e.into_inner()).write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

/// A signal's name as strace prints it in sets and structures: `SIGRTMIN` for 32, `SIGRT_n`
/// above (the kernel's numbering, whatever the C library reserves).
pub(super) fn signal_name(n: u8) -> String {
    match n {
        32 => "SIGRTMIN".into(),
        33..=64 => format!("SIGRT_{}", n - 32),
        _ => Signo(n).display_name(),
    }
}
