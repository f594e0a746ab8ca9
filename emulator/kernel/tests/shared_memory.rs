//! Shared mappings against the `elfvisor` binary, with hand-assembled guests that wait on stdin
//! so the test can look at the emulator process in between: no host descriptor outlives the
//! mapping it backs, and a file shrunk by another process under a mapped page ends the guest by
//! `SIGBUS`, not the emulator by some other crash.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use elfvisor::testing::{code, tiny_elf};

const ELFVISOR: &str = env!("CARGO_BIN_EXE_elfvisor");

/// fd = openat(AT_FDCWD, "/proc/self/exe", O_RDONLY); handshake('a'); then 10,000 times:
/// p = mmap(4096, RW, MAP_SHARED|MAP_ANONYMOUS), *p = i, p = mremap(p, 4096, 8192, MAYMOVE),
/// check *p == i, munmap(p, 8192); q = mmap(4096, R, MAP_SHARED, fd), check *q == 0x7f,
/// munmap(q); handshake('b'); exit_group(0). Any failure: exit_group(1).
/// handshake(c): write(1, &c, 1); read(0, buf, 1).
const MAP_LOOP: [u32; 82] = [
    0xd10043ff, 0x92800c60, 0x10000981, 0xd2800002, 0xd2800003, 0xd2800708, 0xd4000001, 0xb13ffc1f,
    0x540006e2, 0xaa0003f3, 0xd2800c20, 0x94000037, 0xd284e214, 0xd2800000, 0xd2820001, 0xd2800062,
    0xd2800423, 0x92800004, 0xd2800005, 0xd2801bc8, 0xd4000001, 0xb13ffc1f, 0x54000522, 0xb9000014,
    0xd2820001, 0xd2840002, 0xd2800023, 0xd2800004, 0xd2801b08, 0xd4000001, 0xb13ffc1f, 0x54000402,
    0xb9400009, 0x6b14013f, 0x540003a1, 0xd2840001, 0xd2801ae8, 0xd4000001, 0xb5000320, 0xd2800000,
    0xd2820001, 0xd2800022, 0xd2800023, 0xaa1303e4, 0xd2800005, 0xd2801bc8, 0xd4000001, 0xb13ffc1f,
    0x540001e2, 0x39400009, 0x7101fd3f, 0x54000181, 0xd2820001, 0xd2801ae8, 0xd4000001, 0xb5000100,
    0xf1000694, 0x54fffa81, 0xd2800c40, 0x94000007, 0xd2800000, 0xd2800bc8, 0xd4000001, 0xd2800020,
    0xd2800bc8, 0xd4000001, 0x390003e0, 0xd2800020, 0x910003e1, 0xd2800022, 0xd2800808, 0xd4000001,
    0xd2800000, 0x910003e1, 0xd2800022, 0xd28007e8, 0xd4000001, 0xd65f03c0, 0x6f72702f, 0x65732f63,
    0x652f666c, 0x00006578,
];

/// fd = openat(AT_FDCWD, "data", O_RDWR); p = mmap(8192, RW, MAP_SHARED, fd); read p[0] and
/// p[4096]; handshake('a'); read p[4096] again; exit_group(0). Any failure: exit_group(1).
const TOUCH_AFTER_HANDSHAKE: [u32; 47] = [
    0xd10043ff, 0x92800c60, 0x10000561, 0xd2800042, 0xd2800003, 0xd2800708, 0xd4000001, 0xb13ffc1f,
    0x540002c2, 0xaa0003e4, 0xd2800000, 0xd2840001, 0xd2800062, 0xd2800023, 0xd2800005, 0xd2801bc8,
    0xd4000001, 0xb13ffc1f, 0x54000182, 0xaa0003f3, 0x39400269, 0x9140066a, 0x39400149, 0xd2800c20,
    0x94000009, 0x9140066a, 0x39400149, 0xd2800000, 0xd2800bc8, 0xd4000001, 0xd2800020, 0xd2800bc8,
    0xd4000001, 0x390003e0, 0xd2800020, 0x910003e1, 0xd2800022, 0xd2800808, 0xd4000001, 0xd2800000,
    0x910003e1, 0xd2800022, 0xd28007e8, 0xd4000001, 0xd65f03c0, 0x61746164, 0x00000000,
];

/// Runs `words` as a program in `dir`, with piped stdin and stdout.
fn spawn(dir: &Path, words: &[u32]) -> Child {
    let path = dir.join("prog");
    std::fs::write(&path, tiny_elf(&code(words))).unwrap();
    Command::new(ELFVISOR)
        .arg(&path)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the guest's handshake byte.
fn expect_byte(child: &mut Child, want: u8) {
    let mut b = [0u8];
    child.stdout.as_mut().unwrap().read_exact(&mut b).unwrap();
    assert_eq!(b[0], want, "handshake");
}

/// Lets the guest continue past its handshake.
fn release(child: &mut Child) {
    child.stdin.as_mut().unwrap().write_all(b"g").unwrap();
}

fn open_fds(pid: u32) -> Vec<String> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap();
    let mut fds: Vec<String> = dir
        .map(|e| {
            let e = e.unwrap();
            let target = std::fs::read_link(e.path()).map(|t| t.display().to_string());
            format!("{} -> {}", e.file_name().to_string_lossy(), target.unwrap_or_default())
        })
        .collect();
    fds.sort();
    fds
}

#[test]
fn test_ten_thousand_shared_mappings_leak_no_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(dir.path(), &MAP_LOOP);
    expect_byte(&mut child, b'a');
    let before = open_fds(child.id());
    release(&mut child);
    expect_byte(&mut child, b'b');
    let after = open_fds(child.id());
    release(&mut child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "guest failed: {err}");
    assert_eq!(before, after, "host descriptors before and after 10,000 shared mappings");
}

#[test]
fn test_file_shrunk_by_another_process_kills_the_guest_by_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(&data, vec![1u8; 8192]).unwrap();
    let mut child = spawn(dir.path(), &TOUCH_AFTER_HANDSHAKE);
    expect_byte(&mut child, b'a');
    // Not through the guest: the runtime cannot know, and the page is already granted.
    std::fs::OpenOptions::new().write(true).open(&data).unwrap().set_len(100).unwrap();
    release(&mut child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGBUS), "status {:?}: {err}", out.status);
    assert!(!out.status.core_dumped(), "no core file");
}
