//! Fork strategies end to end, and every injected failure of the respawn protocol: the guest's
//! fork returns EAGAIN, no child ever runs guest code, no zombie is left and no host descriptor
//! leaks in the parent.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use elfvisor::testing::{code, tiny_elf};

const ELFVISOR: &str = env!("CARGO_BIN_EXE_elfvisor");

/// read(0) (the test counts descriptors); clone(SIGCHLD). Child: write "C", exit 7. Parent:
/// wait4 and exit with the child's status + 10. On failure: read(0) again, check wait4(-1,
/// WNOHANG) says ECHILD (else exit 99), exit 100 + errno.
const FORKER: [u32; 58] = [
    0xd10083ff, 0xd2800000, 0x910043e1, 0xd2800022, 0xd28007e8, 0xd4000001, 0xd2800220, 0xd2800001,
    0xd2800002, 0xd2800003, 0xd2800004, 0xd2801b88, 0xd4000001, 0xf100001f, 0x540001a0, 0x540002cb,
    0x910003e1, 0x92800000, 0xd2800002, 0xd2800003, 0xd2802088, 0xd4000001, 0xb94003e0, 0x53087c00,
    0x11002800, 0xd2800bc8, 0xd4000001, 0xd2800860, 0x390063e0, 0xd2800020, 0x910063e1, 0xd2800022,
    0xd2800808, 0xd4000001, 0xd28000e0, 0xd2800bc8, 0xd4000001, 0xaa0003f3, 0xd2800000, 0x910043e1,
    0xd2800022, 0xd28007e8, 0xd4000001, 0x92800000, 0xd2800001, 0xd2800022, 0xd2800003, 0xd2802088,
    0xd4000001, 0xb100281f, 0x540000a1, 0xcb1303e0, 0x91019000, 0xd2800bc8, 0xd4000001, 0xd2800c60,
    0xd2800bc8, 0xd4000001,
];

struct Prog {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn forker() -> Prog {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forker");
    std::fs::write(&path, tiny_elf(&code(&FORKER))).unwrap();
    Prog { _dir: dir, path }
}

/// Waits until the emulator is blocked in a host read(2) (syscall 0 on x86_64, 63 on arm64).
fn wait_blocked_in_read(child: &Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let read_nr = if cfg!(target_arch = "x86_64") { "0 " } else { "63 " };
    loop {
        let s =
            std::fs::read_to_string(format!("/proc/{}/syscall", child.id())).unwrap_or_default();
        if s.starts_with(read_nr) {
            return;
        }
        assert!(Instant::now() < deadline, "the guest never blocked in read (last: {s:?})");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The emulator's host descriptors: (all but frozen objects, frozen objects). A snapshot fork
/// freezes the parent's private memory into an object the parent then maps and keeps open —
/// its memory, not a leak, and it holds whether the fork succeeds or not.
fn fd_count(child: &Child) -> (usize, usize) {
    let dir = format!("/proc/{}/fd", child.id());
    let mut counts = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let target = std::fs::read_link(entry.unwrap().path()).unwrap_or_default();
        if target.to_string_lossy().starts_with("/memfd:elfvisor-frozen") {
            counts.1 += 1;
        } else {
            counts.0 += 1;
        }
    }
    counts
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    fds: ((usize, usize), Option<(usize, usize)>),
}

fn run(strategy: &str, fault: Option<&str>) -> Outcome {
    let prog = forker();
    let mut cmd = Command::new(ELFVISOR);
    cmd.args(["--fork-strategy", strategy]).arg(&prog.path);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(fault) = fault {
        cmd.env("ELFVISOR_FORK_FAULT", fault);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    wait_blocked_in_read(&child);
    let before = fd_count(&child);
    stdin.write_all(b"x").unwrap();
    let after = if fault.is_some() {
        wait_blocked_in_read(&child);
        let n = fd_count(&child);
        stdin.write_all(b"x").unwrap();
        Some(n)
    } else {
        None
    };
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        fds: (before, after),
    }
}

#[test]
fn test_fork_works_on_every_strategy() {
    for strategy in ["host", "respawn-copy", "respawn-snapshot"] {
        let out = run(strategy, None);
        assert_eq!(out.stdout, "C", "{strategy}: the child ran: {}", out.stderr);
        assert_eq!(out.code, Some(17), "{strategy}: parent saw the child's exit 7: {}", out.stderr);
    }
}

#[test]
fn test_every_injected_failure_leaves_the_parent_intact() {
    let faults = [
        "spawn",
        "emfile",
        "bad-version",
        "missing-fd",
        "truncate-control",
        "child-dies",
        "no-admission",
    ];
    for strategy in ["respawn-copy", "respawn-snapshot"] {
        for fault in faults {
            let out = run(strategy, Some(fault));
            assert_eq!(
                out.code,
                Some(100 + 11),
                "{strategy}/{fault}: fork must return EAGAIN with no child left (99 = a child is \
                 still there): {}",
                out.stderr
            );
            assert_eq!(out.stdout, "", "{strategy}/{fault}: the child must never run guest code");
            let (before, after) = (out.fds.0, out.fds.1.unwrap());
            assert_eq!(before.0, after.0, "{strategy}/{fault}: host descriptors leaked");
            // A fault before the freeze leaves none; after it, the parent holds one object.
            let most = usize::from(strategy == "respawn-snapshot");
            assert!(before.1 == 0 && after.1 <= most, "{strategy}/{fault}: frozen {after:?}");
        }
    }
}
