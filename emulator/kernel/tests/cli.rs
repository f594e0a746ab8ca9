//! The `elfvisor` command line against hand-assembled programs: exit codes, death by signal,
//! EFAULT for bad guest pointers, ENOSYS for unknown calls, `--strace`, and one precise line
//! (with a shell's 126/127 status) for every program it cannot start.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use elfvisor::testing::{TempProgram, code, tiny_elf};

const ELFVISOR: &str = env!("CARGO_BIN_EXE_elfvisor");

/// write(1, "hello\n", 6); exit_group(3)
/// Offsets from the entry point (`TINY_ENTRY`):
/// ```text
///     0: mov    x0, #0x1
///     4: adr    x1, 0x20
///     8: mov    x2, #0x6
///     c: mov    x8, #0x40
///    10: svc    #0x0
///    14: mov    x0, #0x3
///    18: mov    x8, #0x5e
///    1c: svc    #0x0
///    20: .word 0x6c6c6568  // "hell"
///    24: .word 0x00000a6f  // "o\x0a\x00\x00"
/// ```
const HELLO: [u32; 10] = [
    0xd2800020, 0x100000e1, 0xd28000c2, 0xd2800808, 0xd4000001, 0xd2800060, 0xd2800bc8, 0xd4000001,
    0x6c6c6568, 0x00000a6f,
];
/// write(1, (void *)16, 4); exit_group(-result)
/// Offsets from the entry point (`TINY_ENTRY`):
/// ```text
///     0: mov    x0, #0x1
///     4: mov    x1, #0x10
///     8: mov    x2, #0x4
///     c: mov    x8, #0x40
///    10: svc    #0x0
///    14: neg    x0, x0
///    18: mov    x8, #0x5e
///    1c: svc    #0x0
/// ```
const EFAULT: [u32; 8] = [
    0xd2800020, 0xd2800201, 0xd2800082, 0xd2800808, 0xd4000001, 0xcb0003e0, 0xd2800bc8, 0xd4000001,
];
/// Writes each of argv[1..] on a line of its own, then exit_group(argc):
/// ```text
///     ldr x19, [sp]              // argc
///     add x20, sp, #8            // argv
///     mov x21, #1
/// outer:
///     cmp x21, x19
///     b.ge finish
///     ldr x1, [x20, x21, lsl #3]
///     mov x2, #0
/// len:
///     ldrb w3, [x1, x2]
///     cbz w3, write
///     add x2, x2, #1
///     b len
/// write:
///     mov w3, #10                // the NUL becomes a newline
///     strb w3, [x1, x2]
///     add x2, x2, #1
///     mov x0, #1
///     mov x8, #64                // write(1, argv[i], len + 1)
///     svc #0
///     add x21, x21, #1
///     b outer
/// finish:
///     mov x0, x19
///     mov x8, #94                // exit_group(argc)
///     svc #0
/// ```
const ECHO_ARGS: [u32; 22] = [
    0xf94003f3, 0x910023f4, 0xd2800035, 0xeb1302bf, 0x540001ea, 0xf8757a81, 0xd2800002, 0x38626823,
    0x34000063, 0x91000442, 0x17fffffd, 0x52800143, 0x38226823, 0x91000442, 0xd2800020, 0xd2800808,
    0xd4000001, 0x910006b5, 0x17fffff1, 0xaa1303e0, 0xd2800bc8, 0xd4000001,
];
/// ldr x0, [16]
/// Offsets from the entry point (`TINY_ENTRY`):
/// ```text
///     0: mov    x1, #0x10
///     4: ldr    x0, [x1]
/// ```
const SEGV: [u32; 2] = [0xd2800201, 0xf9400020];
/// syscall 1000; exit_group(-result)
/// Offsets from the entry point (`TINY_ENTRY`):
/// ```text
///     0: mov    x8, #0x3e8
///     4: svc    #0x0
///     8: neg    x0, x0
///     c: mov    x8, #0x5e
///    10: svc    #0x0
/// ```
const UNKNOWN: [u32; 5] = [0xd2807d08, 0xd4000001, 0xcb0003e0, 0xd2800bc8, 0xd4000001];

fn elfvisor(args: &[&str], program: &Path) -> Output {
    Command::new(ELFVISOR).args(args).arg(program).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `--strace` lines with the padding before each result (strace's column 40) taken out.
fn squeezed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out
}

#[test]
fn test_runs_a_program_and_returns_its_exit_code() {
    let p = TempProgram::new(&HELLO);
    let out = elfvisor(&[], &p.path);
    assert_eq!(out.stdout, b"hello\n");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stderr(&out), "");
}

#[test]
fn test_bad_guest_pointer_gets_efault() {
    let p = TempProgram::new(&EFAULT);
    let out = elfvisor(&["--strace"], &p.path);
    assert_eq!(out.status.code(), Some(14), "exit code is EFAULT: {}", stderr(&out));
    assert!(squeezed(&stderr(&out)).contains("write(1, 0x10, 4) = -1 EFAULT"), "{}", stderr(&out));
    assert!(stderr(&out).contains("exit_group(14)"), "{}", stderr(&out));
}

#[test]
fn test_strace_lines_read_like_strace_f() {
    let p = TempProgram::new(&EFAULT);
    let out = elfvisor(&["--strace"], &p.path);
    let err = stderr(&out);
    let pid = err.split("[pid").nth(1).and_then(|r| r.split(']').next()).unwrap_or("").trim();
    assert!(pid.parse::<u32>().is_ok(), "{err}");
    let line = err.lines().find(|l| l.contains("] write(")).unwrap_or_default();
    assert_eq!(line.find("= -1"), Some(40), "results line up at column 40: {err}");
    assert!(squeezed(&err).contains("] write(1, 0x10, 4) = -1 EFAULT (Bad address)\n"), "{err}");
    assert!(err.ends_with(" +++ exited with 14 +++\n"), "{err}");
}

#[test]
fn test_strace_filter_and_file() {
    let p = TempProgram::new(&EFAULT);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trace");
    let log_arg = log.to_str().unwrap();
    let out = elfvisor(&["--strace-filter", "exit_group", "--strace-file", log_arg], &p.path);
    assert_eq!(out.status.code(), Some(14));
    assert_eq!(stderr(&out), "", "the lines go to the file");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 2, "the call and the end: {text}");
    let text = squeezed(&text);
    assert!(text.contains("exit_group(14) = ?") && !text.contains("write("), "{text}");
    assert!(text.contains("+++ exited with 14 +++"), "{text}");
    let out = elfvisor(&["--strace-filter", "write,nosuchcall"], &p.path);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no system call is named nosuchcall"), "{}", stderr(&out));
}

#[test]
fn test_fault_kills_the_emulator_with_the_guest_signal() {
    let p = TempProgram::new(&SEGV);
    let out = elfvisor(&[], &p.path);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "status {:?}", out.status);
}

#[test]
fn test_unknown_syscall_is_enosys_and_logged_once() {
    let p = TempProgram::new(&UNKNOWN);
    let out = elfvisor(&[], &p.path);
    assert_eq!(out.status.code(), Some(38), "exit code is ENOSYS");
    assert_eq!(
        stderr(&out),
        "elfvisor: an unknown call (syscall 1000) is not supported; returning ENOSYS\n"
    );
}

#[test]
fn test_missing_program_is_127_with_one_line() {
    let out = elfvisor(&[], Path::new("/nonexistent/prog"));
    assert_eq!(out.status.code(), Some(127));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("elfvisor: cannot open /nonexistent/prog: "), "{err}");
}

#[test]
fn test_programs_it_cannot_run_are_126_with_one_line() {
    let mut x86 = tiny_elf(&code(&HELLO));
    x86[18..20].copy_from_slice(&62u16.to_le_bytes());
    let truncated = tiny_elf(&code(&HELLO))[..100].to_vec();
    let cases: [(&[u8], &str); 3] = [
        (b"#!/bin/sh\necho hi\n", "not an ELF file"),
        (&x86, "X86_64"),
        (&truncated, "malformed ELF"),
    ];
    for (bytes, expected) in cases {
        let p = TempProgram::with_bytes(bytes);
        let out = elfvisor(&[], &p.path);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(126), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn test_syscall_matrix_lists_the_table() {
    let out = Command::new(ELFVISOR).arg("--syscalls").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("56   openat") && l.contains("full")), "{text}");
    assert!(text.contains("every other number returns ENOSYS"));
}

/// Runs ECHO_ARGS with elfvisor options `before` and guest arguments `after`.
fn echo_args(before: &[&str], after: &[&str]) -> Output {
    let p = TempProgram::new(&ECHO_ARGS);
    let out = Command::new(ELFVISOR).args(before).arg(&p.path).args(after).output().unwrap();
    drop(p);
    out
}

#[test]
fn test_everything_after_program_belongs_to_the_guest() {
    for flag in ["--help", "--version", "--strace", "--syscalls", "--fork-strategy", "-h", "-V"] {
        let out = echo_args(&[], &[flag, "x"]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{flag}\nx\n"), "{flag}");
        assert_eq!(out.status.code(), Some(3), "{flag}: argc is 3: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{flag} went to elfvisor");
    }
}

#[test]
fn test_double_dash_among_the_guest_arguments_is_the_guests() {
    let out = echo_args(&[], &["--", "--help"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "--\n--help\n");
    assert_eq!(out.status.code(), Some(3));
    // A `--` before PROGRAM ends elfvisor's options and is not the guest's.
    let out = echo_args(&["--"], &["a"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a\n");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn test_options_before_program_are_elfvisors() {
    let out = echo_args(&["--strace", "--argv0", "name"], &["--strace"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "--strace\n");
    assert!(stderr(&out).contains("exit_group(2)"), "elfvisor traced: {}", stderr(&out));
    let help = Command::new(ELFVISOR).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("PROGRAM [ARGS]..."));
    let version = Command::new(ELFVISOR).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("elfvisor "));
}
