//! Fork strategies end to end, and every injected failure of the respawn protocol: the guest's
//! fork returns EAGAIN, no child ever runs guest code, no zombie is left and no host descriptor
//! leaks in the parent.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use elfvisor::testing::TempProgram;

const ELFVISOR: &str = env!("CARGO_BIN_EXE_elfvisor");

/// read(0) (the test counts descriptors); clone(SIGCHLD). Child: write "C", exit 7. Parent:
/// wait4 and exit with the child's status + 10. On failure: read(0) again, check wait4(-1,
/// WNOHANG) says ECHILD (else exit 99), exit 100 + errno.
/// Offsets from the entry point (`TINY_ENTRY`):
/// ```text
///     0: sub    sp, sp, #0x20
///     4: mov    x0, #0x0
///     8: add    x1, sp, #0x10
///     c: mov    x2, #0x1
///    10: mov    x8, #0x3f
///    14: svc    #0x0
///    18: mov    x0, #0x11
///    1c: mov    x1, #0x0
///    20: mov    x2, #0x0
///    24: mov    x3, #0x0
///    28: mov    x4, #0x0
///    2c: mov    x8, #0xdc
///    30: svc    #0x0
///    34: cmp    x0, #0x0
///    38: b.eq   0x6c
///    3c: b.lt   0x94
///    40: mov    x1, sp
///    44: mov    x0, #0xffffffffffffffff
///    48: mov    x2, #0x0
///    4c: mov    x3, #0x0
///    50: mov    x8, #0x104
///    54: svc    #0x0
///    58: ldr    w0, [sp]
///    5c: lsr    w0, w0, #8
///    60: add    w0, w0, #0xa
///    64: mov    x8, #0x5e
///    68: svc    #0x0
///    6c: mov    x0, #0x43
///    70: strb   w0, [sp, #24]
///    74: mov    x0, #0x1
///    78: add    x1, sp, #0x18
///    7c: mov    x2, #0x1
///    80: mov    x8, #0x40
///    84: svc    #0x0
///    88: mov    x0, #0x7
///    8c: mov    x8, #0x5e
///    90: svc    #0x0
///    94: mov    x19, x0
///    98: mov    x0, #0x0
///    9c: add    x1, sp, #0x10
///    a0: mov    x2, #0x1
///    a4: mov    x8, #0x3f
///    a8: svc    #0x0
///    ac: mov    x0, #0xffffffffffffffff
///    b0: mov    x1, #0x0
///    b4: mov    x2, #0x1
///    b8: mov    x3, #0x0
///    bc: mov    x8, #0x104
///    c0: svc    #0x0
///    c4: cmn    x0, #0xa
///    c8: b.ne   0xdc
///    cc: neg    x0, x19
///    d0: add    x0, x0, #0x64
///    d4: mov    x8, #0x5e
///    d8: svc    #0x0
///    dc: mov    x0, #0x63
///    e0: mov    x8, #0x5e
///    e4: svc    #0x0
/// ```
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
    let prog = TempProgram::new(&FORKER);
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
            let (before, after) = failed_fork_left_nothing(strategy, fault, &out);
            // A fault before the freeze leaves none; after it, the parent holds one object.
            let most = usize::from(strategy == "respawn-snapshot");
            assert!(before.1 == 0 && after.1 <= most, "{strategy}/{fault}: frozen {after:?}");
        }
    }
}

/// The parent's view of a respawn fork that failed at `fault`: fork returned EAGAIN with no
/// child left, the child never ran guest code, and no host descriptor leaked. Returns the
/// descriptor counts (open, frozen) before and after.
fn failed_fork_left_nothing(
    strategy: &str,
    fault: &str,
    out: &Outcome,
) -> ((usize, usize), (usize, usize)) {
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
    (before, after)
}

#[test]
fn test_a_child_killed_at_any_step_leaves_the_parent_intact() {
    let steps = ["hello", "state", "vmas", "fds", "objects", "memory"];
    for strategy in ["respawn-copy", "respawn-snapshot"] {
        for step in steps {
            let fault = format!("kill-child:{step}");
            let out = run(strategy, Some(&fault));
            failed_fork_left_nothing(strategy, &fault, &out);
        }
    }
}

/// Reads `pipe` to its end (every process holding it has closed it or ended) or fails after
/// 20 seconds.
fn read_to_end_within(pipe: impl std::io::Read + Send + 'static, what: &str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut pipe = pipe;
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what}: a process still holds the output after 20 s"))
}

#[test]
fn test_a_parent_killed_mid_fork_leaves_no_child_running() {
    use std::os::unix::process::ExitStatusExt;
    let steps = ["hello", "state", "fds", "memory", "ready"];
    for strategy in ["respawn-copy", "respawn-snapshot"] {
        for step in steps {
            let what = format!("{strategy}/kill-parent:{step}");
            let prog = TempProgram::new(&FORKER);
            let mut child = Command::new(ELFVISOR)
                .args(["--fork-strategy", strategy])
                .arg(&prog.path)
                .env("ELFVISOR_FORK_FAULT", format!("kill-parent:{step}"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            wait_blocked_in_read(&child);
            stdin.write_all(b"x").unwrap();
            let stdout = child.stdout.take().unwrap();
            let status = child.wait().unwrap();
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{what}: the parent was killed");
            drop(stdin);
            // The half-started child inherited the emulator's stdout: its end means the child
            // is gone, and it never wrote.
            assert_eq!(read_to_end_within(stdout, &what), "", "{what}: the child ran guest code");
        }
    }
}
