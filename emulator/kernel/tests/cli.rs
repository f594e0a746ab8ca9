//! The `elfvisor` command line against hand-assembled programs: exit codes, death by signal,
//! EFAULT for bad guest pointers, ENOSYS for unknown calls, `--strace`, and one precise line
//! (with a shell's 126/127 status) for every program it cannot start.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use elfvisor::testing::{code, tiny_elf};

const ELFVISOR: &str = env!("CARGO_BIN_EXE_elfvisor");

/// write(1, "hello\n", 6); exit_group(3)
const HELLO: [u32; 10] = [
    0xd2800020, 0x100000e1, 0xd28000c2, 0xd2800808, 0xd4000001, 0xd2800060, 0xd2800bc8, 0xd4000001,
    0x6c6c6568, 0x00000a6f,
];
/// write(1, (void *)16, 4); exit_group(-result)
const EFAULT: [u32; 8] = [
    0xd2800020, 0xd2800201, 0xd2800082, 0xd2800808, 0xd4000001, 0xcb0003e0, 0xd2800bc8, 0xd4000001,
];
/// ldr x0, [16]
const SEGV: [u32; 2] = [0xd2800201, 0xf9400020];
/// syscall 1000; exit_group(-result)
const UNKNOWN: [u32; 5] = [0xd2807d08, 0xd4000001, 0xcb0003e0, 0xd2800bc8, 0xd4000001];

struct Prog {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn prog(bytes: &[u8]) -> Prog {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prog");
    std::fs::write(&path, bytes).unwrap();
    Prog { _dir: dir, path }
}

fn elfvisor(args: &[&str], program: &Path) -> Output {
    Command::new(ELFVISOR).args(args).arg(program).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn test_runs_a_program_and_returns_its_exit_code() {
    let p = prog(&tiny_elf(&code(&HELLO)));
    let out = elfvisor(&[], &p.path);
    assert_eq!(out.stdout, b"hello\n");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stderr(&out), "");
}

#[test]
fn test_bad_guest_pointer_gets_efault() {
    let p = prog(&tiny_elf(&code(&EFAULT)));
    let out = elfvisor(&["--strace"], &p.path);
    assert_eq!(out.status.code(), Some(14), "exit code is EFAULT: {}", stderr(&out));
    assert!(stderr(&out).contains("write(1, 0x10, 4) = -1 EFAULT"), "{}", stderr(&out));
    assert!(stderr(&out).contains("exit_group(14)"), "{}", stderr(&out));
}

#[test]
fn test_fault_kills_the_emulator_with_the_guest_signal() {
    let p = prog(&tiny_elf(&code(&SEGV)));
    let out = elfvisor(&[], &p.path);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "status {:?}", out.status);
}

#[test]
fn test_unknown_syscall_is_enosys_and_logged_once() {
    let p = prog(&tiny_elf(&code(&UNKNOWN)));
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
        let p = prog(bytes);
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
