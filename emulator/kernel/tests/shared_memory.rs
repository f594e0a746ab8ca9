//! Shared mappings against the `elfvisor` binary, with hand-assembled guests that wait on stdin
//! so the test can look at the emulator process in between: no host descriptor outlives the
//! mapping it backs, and a file shrunk by another process under a mapped page ends the guest by
//! `SIGBUS`, not the emulator by some other crash.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};

use elfvisor::testing::TempProgram;

const ELFVISOR: &str = env!("CARGO_BIN_EXE_elfvisor");

/// fd = openat(AT_FDCWD, "/proc/self/exe", O_RDONLY); handshake('a'); then 10,000 times:
/// p = mmap(4096, RW, MAP_SHARED|MAP_ANONYMOUS), *p = i, p = mremap(p, 4096, 8192, MAYMOVE),
/// check *p == i, munmap(p, 8192); q = mmap(4096, R, MAP_SHARED, fd), check *q == 0x7f,
/// munmap(q); handshake('b'); exit_group(0). Any failure: exit_group(1).
/// handshake(c): write(1, &c, 1); read(0, buf, 1).
/// Offsets from the entry point (`TINY_ENTRY`):
/// ```text
///     0: sub    sp, sp, #0x10
///     4: mov    x0, #0xffffffffffffff9c
///     8: adr    x1, 0x138
///     c: mov    x2, #0x0
///    10: mov    x3, #0x0
///    14: mov    x8, #0x38
///    18: svc    #0x0
///    1c: cmn    x0, #0xfff
///    20: b.cs   0xfc
///    24: mov    x19, x0
///    28: mov    x0, #0x61
///    2c: bl     0x108
///    30: mov    x20, #0x2710
///    34: mov    x0, #0x0
///    38: mov    x1, #0x1000
///    3c: mov    x2, #0x3
///    40: mov    x3, #0x21
///    44: mov    x4, #0xffffffffffffffff
///    48: mov    x5, #0x0
///    4c: mov    x8, #0xde
///    50: svc    #0x0
///    54: cmn    x0, #0xfff
///    58: b.cs   0xfc
///    5c: str    w20, [x0]
///    60: mov    x1, #0x1000
///    64: mov    x2, #0x2000
///    68: mov    x3, #0x1
///    6c: mov    x4, #0x0
///    70: mov    x8, #0xd8
///    74: svc    #0x0
///    78: cmn    x0, #0xfff
///    7c: b.cs   0xfc
///    80: ldr    w9, [x0]
///    84: cmp    w9, w20
///    88: b.ne   0xfc
///    8c: mov    x1, #0x2000
///    90: mov    x8, #0xd7
///    94: svc    #0x0
///    98: cbnz   x0, 0xfc
///    9c: mov    x0, #0x0
///    a0: mov    x1, #0x1000
///    a4: mov    x2, #0x1
///    a8: mov    x3, #0x1
///    ac: mov    x4, x19
///    b0: mov    x5, #0x0
///    b4: mov    x8, #0xde
///    b8: svc    #0x0
///    bc: cmn    x0, #0xfff
///    c0: b.cs   0xfc
///    c4: ldrb   w9, [x0]
///    c8: cmp    w9, #0x7f
///    cc: b.ne   0xfc
///    d0: mov    x1, #0x1000
///    d4: mov    x8, #0xd7
///    d8: svc    #0x0
///    dc: cbnz   x0, 0xfc
///    e0: subs   x20, x20, #0x1
///    e4: b.ne   0x34
///    e8: mov    x0, #0x62
///    ec: bl     0x108
///    f0: mov    x0, #0x0
///    f4: mov    x8, #0x5e
///    f8: svc    #0x0
///    fc: mov    x0, #0x1
///   100: mov    x8, #0x5e
///   104: svc    #0x0
///   108: strb   w0, [sp]
///   10c: mov    x0, #0x1
///   110: mov    x1, sp
///   114: mov    x2, #0x1
///   118: mov    x8, #0x40
///   11c: svc    #0x0
///   120: mov    x0, #0x0
///   124: mov    x1, sp
///   128: mov    x2, #0x1
///   12c: mov    x8, #0x3f
///   130: svc    #0x0
///   134: ret
///   138: .word 0x6f72702f  // "/pro"
///   13c: .word 0x65732f63  // "c/se"
///   140: .word 0x652f666c  // "lf/e"
///   144: .word 0x00006578  // "xe\x00\x00"
/// ```
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
/// Offsets from the entry point (`TINY_ENTRY`):
/// ```text
///     0: sub    sp, sp, #0x10
///     4: mov    x0, #0xffffffffffffff9c
///     8: adr    x1, 0xb4
///     c: mov    x2, #0x2
///    10: mov    x3, #0x0
///    14: mov    x8, #0x38
///    18: svc    #0x0
///    1c: cmn    x0, #0xfff
///    20: b.cs   0x78
///    24: mov    x4, x0
///    28: mov    x0, #0x0
///    2c: mov    x1, #0x2000
///    30: mov    x2, #0x3
///    34: mov    x3, #0x1
///    38: mov    x5, #0x0
///    3c: mov    x8, #0xde
///    40: svc    #0x0
///    44: cmn    x0, #0xfff
///    48: b.cs   0x78
///    4c: mov    x19, x0
///    50: ldrb   w9, [x19]
///    54: add    x10, x19, #0x1, lsl #12
///    58: ldrb   w9, [x10]
///    5c: mov    x0, #0x61
///    60: bl     0x84
///    64: add    x10, x19, #0x1, lsl #12
///    68: ldrb   w9, [x10]
///    6c: mov    x0, #0x0
///    70: mov    x8, #0x5e
///    74: svc    #0x0
///    78: mov    x0, #0x1
///    7c: mov    x8, #0x5e
///    80: svc    #0x0
///    84: strb   w0, [sp]
///    88: mov    x0, #0x1
///    8c: mov    x1, sp
///    90: mov    x2, #0x1
///    94: mov    x8, #0x40
///    98: svc    #0x0
///    9c: mov    x0, #0x0
///    a0: mov    x1, sp
///    a4: mov    x2, #0x1
///    a8: mov    x8, #0x3f
///    ac: svc    #0x0
///    b0: ret
///    b4: .word 0x61746164  // "data"
///    b8: .word 0x00000000  // "\x00\x00\x00\x00"
/// ```
const TOUCH_AFTER_HANDSHAKE: [u32; 47] = [
    0xd10043ff, 0x92800c60, 0x10000561, 0xd2800042, 0xd2800003, 0xd2800708, 0xd4000001, 0xb13ffc1f,
    0x540002c2, 0xaa0003e4, 0xd2800000, 0xd2840001, 0xd2800062, 0xd2800023, 0xd2800005, 0xd2801bc8,
    0xd4000001, 0xb13ffc1f, 0x54000182, 0xaa0003f3, 0x39400269, 0x9140066a, 0x39400149, 0xd2800c20,
    0x94000009, 0x9140066a, 0x39400149, 0xd2800000, 0xd2800bc8, 0xd4000001, 0xd2800020, 0xd2800bc8,
    0xd4000001, 0x390003e0, 0xd2800020, 0x910003e1, 0xd2800022, 0xd2800808, 0xd4000001, 0xd2800000,
    0x910003e1, 0xd2800022, 0xd28007e8, 0xd4000001, 0xd65f03c0, 0x61746164, 0x00000000,
];

/// Runs `prog` in its directory, with piped stdin and stdout.
fn spawn(prog: &TempProgram) -> Child {
    Command::new(ELFVISOR)
        .arg(&prog.path)
        .current_dir(prog.dir())
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
    let prog = TempProgram::new(&MAP_LOOP);
    let mut child = spawn(&prog);
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
    let prog = TempProgram::new(&TOUCH_AFTER_HANDSHAKE);
    let data = prog.dir().join("data");
    std::fs::write(&data, vec![1u8; 8192]).unwrap();
    let mut child = spawn(&prog);
    expect_byte(&mut child, b'a');
    // Not through the guest: the runtime cannot know, and the page is already granted.
    std::fs::OpenOptions::new().write(true).open(&data).unwrap().set_len(100).unwrap();
    release(&mut child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGBUS), "status {:?}: {err}", out.status);
    assert!(!out.status.core_dumped(), "no core file");
}
