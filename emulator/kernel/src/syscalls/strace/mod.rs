//! `--strace`: one line per system call, laid out as `strace -f` prints them, so that people
//! read it without learning a new format: `[pid N] name(args) = result`, flags by name
//! (`O_RDONLY|O_CLOEXEC`, `PROT_READ|PROT_WRITE`, `MAP_PRIVATE|MAP_ANONYMOUS`, `CLONE_*` with
//! the exit signal, signal names), strings quoted and cut at 32 bytes, and errors as
//! `-1 ENOENT (No such file or directory)`. The argument kinds come from the table's rows.
//!
//! Structures (`stat`, `timespec`, `sigaction`, signal sets, `iovec`, `pollfd`,
//! `epoll_event`, socket addresses, `rlimit`, `utsname`…) are decoded in [`structs`].
//!
//! `--strace-filter=NAME,…` keeps only the named calls, and `--strace-file PATH` appends the
//! lines to a file instead of stderr (each line one write, so the processes of a tree
//! interleave whole lines). Both reach respawned children through the environment variables
//! [`FILTER_ENV`] and [`FILE_ENV`], which `main` sets from the options.

use std::fmt::Write as _;

use elfvisor_abi::fcntl as f;
use elfvisor_abi::mman as m;
use elfvisor_abi::sched as s;
use elfvisor_abi::{Errno, GuestAddr, Prot, Signo, Sysno};

use super::ctx::{Arg, Ctx, SysResult};
use super::table::Row;

pub(crate) mod sink;
mod structs;

pub use sink::{FILE_ENV, FILTER_ENV};
use sink::{config, write_line};

/// How much of a string argument is shown (strace's default `-s 32`).
const STRING_LIMIT: usize = 32;

/// The column results start at, counting the `[pid N] ` prefix (strace's `-a 40`).
const RESULT_COLUMN: usize = 40;

/// The names of `--strace-filter` that name no call (checked by `main` before the guest runs).
pub fn unknown_names(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !Sysno::ALL.iter().any(|(_, n)| n == name))
        .map(str::to_string)
        .collect()
}

/// Writes the call's line, if it is one the filter keeps.
pub fn emit(ctx: &Ctx<'_>, nr: u64, row: Option<&Row>, args: &[u64; 6], result: &SysResult) {
    let cfg = config();
    if cfg.only.as_ref().is_some_and(|only| !only.contains(&(nr as u32))) {
        return;
    }
    let mut line = line(ctx, nr, row, args, result);
    line.push('\n');
    write_line(cfg, &line);
}

/// `FLAG|FLAG|0x…` for the bits of `value` that `names` knows, in their order.
fn flags(value: u64, names: &[(u64, &str)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut rest = value;
    for &(bit, name) in names {
        if bit != 0 && rest & bit == bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 || parts.is_empty() {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

fn open_flags(value: u64) -> String {
    let v = value as u32;
    let mode = match v & f::O_ACCMODE {
        f::O_RDONLY => "O_RDONLY",
        f::O_WRONLY => "O_WRONLY",
        f::O_RDWR => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let names: &[(u64, &str)] = &[
        (f::O_CREAT.into(), "O_CREAT"),
        (f::O_EXCL.into(), "O_EXCL"),
        (f::O_NOCTTY.into(), "O_NOCTTY"),
        (f::O_TRUNC.into(), "O_TRUNC"),
        (f::O_APPEND.into(), "O_APPEND"),
        (f::O_NONBLOCK.into(), "O_NONBLOCK"),
        (f::O_SYNC.into(), "O_SYNC"),
        (f::O_DSYNC.into(), "O_DSYNC"),
        (f::O_ASYNC.into(), "O_ASYNC"),
        (f::O_TMPFILE.into(), "O_TMPFILE"),
        (f::O_DIRECTORY.into(), "O_DIRECTORY"),
        (f::O_NOFOLLOW.into(), "O_NOFOLLOW"),
        (f::O_DIRECT.into(), "O_DIRECT"),
        (f::O_LARGEFILE.into(), "O_LARGEFILE"),
        (f::O_NOATIME.into(), "O_NOATIME"),
        (f::O_CLOEXEC.into(), "O_CLOEXEC"),
        (f::O_PATH.into(), "O_PATH"),
    ];
    let rest = u64::from(v & !f::O_ACCMODE);
    if rest == 0 { mode.to_string() } else { format!("{mode}|{}", flags(rest, names)) }
}

fn prot(value: u64) -> String {
    if value == 0 {
        return "PROT_NONE".into();
    }
    let names: &[(u64, &str)] = &[
        (Prot::READ.0.into(), "PROT_READ"),
        (Prot::WRITE.0.into(), "PROT_WRITE"),
        (Prot::EXEC.0.into(), "PROT_EXEC"),
        (Prot::SEM.0.into(), "PROT_SEM"),
        (Prot::BTI.0.into(), "PROT_BTI"),
        (Prot::MTE.0.into(), "PROT_MTE"),
        (Prot::GROWSDOWN.0.into(), "PROT_GROWSDOWN"),
        (Prot::GROWSUP.0.into(), "PROT_GROWSUP"),
    ];
    flags(value, names)
}

fn map_flags(value: u64) -> String {
    let v = value as u32;
    let kind = match v & m::MAP_TYPE {
        m::MAP_SHARED => "MAP_SHARED".to_string(),
        m::MAP_PRIVATE => "MAP_PRIVATE".to_string(),
        m::MAP_SHARED_VALIDATE => "MAP_SHARED_VALIDATE".to_string(),
        t => format!("{t:#x}"),
    };
    let names: &[(u64, &str)] = &[
        (m::MAP_FIXED.into(), "MAP_FIXED"),
        (m::MAP_ANONYMOUS.into(), "MAP_ANONYMOUS"),
        (m::MAP_GROWSDOWN.into(), "MAP_GROWSDOWN"),
        (m::MAP_DENYWRITE.into(), "MAP_DENYWRITE"),
        (m::MAP_EXECUTABLE.into(), "MAP_EXECUTABLE"),
        (m::MAP_LOCKED.into(), "MAP_LOCKED"),
        (m::MAP_NORESERVE.into(), "MAP_NORESERVE"),
        (m::MAP_POPULATE.into(), "MAP_POPULATE"),
        (m::MAP_NONBLOCK.into(), "MAP_NONBLOCK"),
        (m::MAP_STACK.into(), "MAP_STACK"),
        (m::MAP_HUGETLB.into(), "MAP_HUGETLB"),
        (m::MAP_SYNC.into(), "MAP_SYNC"),
        (m::MAP_FIXED_NOREPLACE.into(), "MAP_FIXED_NOREPLACE"),
    ];
    let rest = u64::from(v & !m::MAP_TYPE);
    if rest == 0 { kind } else { format!("{kind}|{}", flags(rest, names)) }
}

fn signal(value: u64) -> String {
    match u8::try_from(value) {
        Ok(sig) if (1..=Signo::SIGRTMAX).contains(&sig) => sink::signal_name(sig),
        _ => (value as i64).to_string(),
    }
}

fn clone_flags(value: u64) -> String {
    let names: &[(u64, &str)] = &[
        (s::CLONE_VM, "CLONE_VM"),
        (s::CLONE_FS, "CLONE_FS"),
        (s::CLONE_FILES, "CLONE_FILES"),
        (s::CLONE_SIGHAND, "CLONE_SIGHAND"),
        (s::CLONE_PIDFD, "CLONE_PIDFD"),
        (s::CLONE_PTRACE, "CLONE_PTRACE"),
        (s::CLONE_VFORK, "CLONE_VFORK"),
        (s::CLONE_PARENT, "CLONE_PARENT"),
        (s::CLONE_THREAD, "CLONE_THREAD"),
        (s::CLONE_NEWNS, "CLONE_NEWNS"),
        (s::CLONE_SYSVSEM, "CLONE_SYSVSEM"),
        (s::CLONE_SETTLS, "CLONE_SETTLS"),
        (s::CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"),
        (s::CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"),
        (s::CLONE_DETACHED, "CLONE_DETACHED"),
        (s::CLONE_UNTRACED, "CLONE_UNTRACED"),
        (s::CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"),
        (s::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
        (s::CLONE_NEWUTS, "CLONE_NEWUTS"),
        (s::CLONE_NEWIPC, "CLONE_NEWIPC"),
        (s::CLONE_NEWUSER, "CLONE_NEWUSER"),
        (s::CLONE_NEWPID, "CLONE_NEWPID"),
        (s::CLONE_NEWNET, "CLONE_NEWNET"),
        (s::CLONE_IO, "CLONE_IO"),
        (s::CLONE_NEWTIME, "CLONE_NEWTIME"),
    ];
    let exit_signal = value & s::CSIGNAL;
    let rest = value & !s::CSIGNAL;
    match (rest, exit_signal) {
        (0, 0) => "0".into(),
        (0, sig) => signal(sig),
        (r, 0) => flags(r, names),
        (r, sig) => format!("{}|{}", flags(r, names), signal(sig)),
    }
}

fn sig_how(value: u64) -> String {
    match value as u32 {
        elfvisor_abi::signal::SIG_BLOCK => "SIG_BLOCK".into(),
        elfvisor_abi::signal::SIG_UNBLOCK => "SIG_UNBLOCK".into(),
        elfvisor_abi::signal::SIG_SETMASK => "SIG_SETMASK".into(),
        _ => (value as i64).to_string(),
    }
}

/// A string argument as strace shows it: quoted, escaped, cut at [`STRING_LIMIT`] bytes.
fn string(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes.iter().take(STRING_LIMIT) {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:o}");
            }
        }
    }
    out.push('"');
    if bytes.len() > STRING_LIMIT {
        out.push_str("...");
    }
    out
}

fn arg(ctx: &Ctx<'_>, kind: Arg, value: u64) -> String {
    match kind {
        Arg::Int => (value as i64).to_string(),
        Arg::Fd if value as i32 == f::AT_FDCWD => "AT_FDCWD".into(),
        Arg::Fd => (value as i32).to_string(),
        Arg::Ptr if value == 0 => "NULL".into(),
        Arg::Ptr => format!("{value:#x}"),
        Arg::Str => match ctx.proc.mm.read().read_cstr(GuestAddr(value), 4096) {
            Ok(bytes) => string(&bytes),
            Err(_) => format!("{value:#x}"),
        },
        Arg::Hex => format!("{value:#x}"),
        Arg::Len => value.to_string(),
        Arg::Mode => format!("0{:o}", value as u32),
        Arg::OpenFlags => open_flags(value),
        Arg::Prot => prot(value),
        Arg::MapFlags => map_flags(value),
        Arg::CloneFlags => clone_flags(value),
        Arg::Signal => signal(value),
        Arg::SigHow => sig_how(value),
        Arg::Whence => match value {
            0 => "SEEK_SET".into(),
            1 => "SEEK_CUR".into(),
            2 => "SEEK_END".into(),
            3 => "SEEK_DATA".into(),
            4 => "SEEK_HOLE".into(),
            _ => (value as i64).to_string(),
        },
        // Their length is another argument's or the result: see `buffer`; the structures
        // are `structs::show`'s.
        _ => format!("{value:#x}"),
    }
}

/// A data buffer's first bytes as a string, or its address when they cannot be read.
fn buffer(ctx: &Ctx<'_>, addr: u64, len: u64) -> String {
    let mut bytes = vec![0u8; len.min(STRING_LIMIT as u64 + 1) as usize];
    match ctx.proc.mm.read().copy_in(GuestAddr(addr), &mut bytes) {
        Ok(()) if (len as usize) <= STRING_LIMIT => string(&bytes),
        Ok(()) => string(&bytes[..STRING_LIMIT]) + "...",
        Err(_) => format!("{addr:#x}"),
    }
}

/// An errno as strace shows it: its name and its text.
fn error(e: Errno) -> String {
    let text = std::io::Error::from_raw_os_error(e.0).to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    match e.name() {
        Some(name) => format!("-1 {name} ({text})"),
        None => format!("-1 {} ({text})", e.0),
    }
}

/// One line, without its newline.
pub fn line(
    ctx: &Ctx<'_>,
    nr: u64,
    row: Option<&Row>,
    args: &[u64; 6],
    result: &SysResult,
) -> String {
    let name = Sysno(nr as u32).name().unwrap_or("unknown");
    let mut line = format!("[pid {:>5}] {name}(", ctx.proc.tid());
    match row {
        Some(row) => {
            let mut kinds = row.args;
            // strace shows open's mode only when the flags make it matter.
            if kinds == [Arg::Fd, Arg::Str, Arg::OpenFlags, Arg::Mode]
                && args[2] as u32 & (f::O_CREAT | f::O_TMPFILE) == 0
            {
                kinds = &kinds[..3];
            }
            let shown: Vec<String> = kinds
                .iter()
                .enumerate()
                .map(|(i, kind)| match (kind, result) {
                    (Arg::InBuf, _) => buffer(ctx, args[i], args.get(i + 1).copied().unwrap_or(0)),
                    (Arg::OutBuf, Ok(n)) => buffer(ctx, args[i], *n),
                    _ => structs::show(ctx, *kind, i, args, result)
                        .unwrap_or_else(|| arg(ctx, *kind, args[i])),
                })
                .collect();
            line.push_str(&shown.join(", "));
        }
        None => {
            let _ = write!(line, "{:#x}, {:#x}, {:#x}", args[0], args[1], args[2]);
        }
    }
    let ends = nr == u64::from(Sysno::exit.0) || nr == u64::from(Sysno::exit_group.0);
    // strace lines the results up at column 40.
    line.push(')');
    while line.len() < RESULT_COLUMN - 1 {
        line.push(' ');
    }
    line.push(' ');
    let _ = match result {
        // The caller never sees a result.
        Ok(_) if ends => write!(line, "= ?"),
        Ok(v) if row.is_some_and(|r| r.hex_result) => write!(line, "= {v:#x}"),
        Ok(v) if nr == u64::from(Sysno::umask.0) => write!(line, "= 0{v:o}"),
        Ok(v) => write!(
            line,
            "= {}{}",
            *v as i64,
            row.map(|r| structs::result_note(ctx, r.args, args, *v)).unwrap_or_default()
        ),
        Err(e) => write!(line, "= {}", error(*e)),
    };
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_flags_read_as_strace_prints_them() {
        assert_eq!(open_flags(u64::from(f::O_RDONLY | f::O_CLOEXEC)), "O_RDONLY|O_CLOEXEC");
        assert_eq!(
            open_flags(u64::from(f::O_WRONLY | f::O_CREAT | f::O_TRUNC)),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(open_flags(u64::from(f::O_RDWR | f::O_SYNC)), "O_RDWR|O_SYNC");
        assert_eq!(open_flags(u64::from(f::O_RDONLY | f::O_DIRECTORY)), "O_RDONLY|O_DIRECTORY");
        assert_eq!(prot(3), "PROT_READ|PROT_WRITE");
        assert_eq!(prot(0), "PROT_NONE");
        assert_eq!(prot(0x40), "0x40");
        assert_eq!(
            map_flags(u64::from(m::MAP_PRIVATE | m::MAP_ANONYMOUS)),
            "MAP_PRIVATE|MAP_ANONYMOUS"
        );
        assert_eq!(
            clone_flags(s::CLONE_CHILD_CLEARTID | s::CLONE_CHILD_SETTID | 17),
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
        );
        assert_eq!(clone_flags(17), "SIGCHLD");
        assert_eq!(signal(9), "SIGKILL");
        assert_eq!(sig_how(2), "SIG_SETMASK");
        assert_eq!(error(Errno::ENOENT), "-1 ENOENT (No such file or directory)");
        assert_eq!(string(b"a\"b\n"), "\"a\\\"b\\n\"");
        assert_eq!(string(&[b'x'; 40]), format!("\"{}\"...", "x".repeat(32)));
    }

    #[test]
    fn test_unknown_filter_names_are_found() {
        assert_eq!(unknown_names("openat, mmap,nosuchcall"), vec!["nosuchcall".to_string()]);
    }
}
