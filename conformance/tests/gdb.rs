//! `elfvisor --gdb` against a real debugger: `gdb-multiarch -batch` debugs a guest the
//! harness's cross compiler builds with `-g` (breakpoint, registers, a global, a backtrace, a
//! signal given on resume, a fault with its address); a raw remote-protocol client interrupts a
//! spinning guest with Ctrl-C and reads memory the guest does not have; a three-thread guest
//! shows its threads, stops naming the thread that hit a breakpoint, and steps that thread
//! alone, under elfvisor and (the same session, compared) under `qemu-aarch64 -g`, and steps it
//! exactly while another thread keeps reporting; Ctrl-C stops threads all blocked in system
//! calls, which show Linux's view of a call a stop interrupted. Every wait is bounded: the debugger and the emulator run under time limits, and a connection is
//! retried a bounded number of times.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use elfvisor_conformance::guest::Libc;
use elfvisor_conformance::hostrun::{reap, run_captured};
use elfvisor_conformance::lane::{Status, Strategy};

const GDB: &str = "gdb-multiarch";
/// The limit of each debugger run and of each emulator's end after it.
const LIMIT: Duration = Duration::from_secs(120);

/// Whether the tools are here; without them the test says why and passes, unless
/// `ELFVISOR_REQUIRE_LANES` is set (as CI sets it), which makes a missing tool a failure.
fn tools_present() -> bool {
    let missing: Vec<&str> = [GDB, Libc::Musl.compiler()]
        .into_iter()
        .filter(|tool| which::which(tool).is_err())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("{} missing: run `cargo xtask deps`", missing.join(", "));
    assert!(std::env::var_os("ELFVISOR_REQUIRE_LANES").is_none(), "{why}");
    eprintln!("skipped: {why}");
    false
}

/// The debuggee, static, with debug information, built by the musl cross compiler.
fn debuggee(dir: &Path) -> PathBuf {
    build(dir, "debuggee")
}

/// `tests/gdb/<name>.c`, static, with debug information, built by the musl cross compiler.
fn build(dir: &Path, name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/gdb/{name}.c"));
    let out = dir.join(name);
    let status = Command::new(Libc::Musl.compiler())
        .args(["-g", "-O0", "-static", "-pthread", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("running the cross compiler");
    assert!(status.success(), "building {}", source.display());
    out
}

/// The emulator and the port its gdb server listens on (read from its first stderr line).
struct Emulator {
    child: Child,
    port: u16,
}

impl Emulator {
    fn start(program: &Path, args: &[&str]) -> Emulator {
        Emulator::with_strategy(Strategy::Host, program, args)
    }

    fn with_strategy(strategy: Strategy, program: &Path, args: &[&str]) -> Emulator {
        Emulator::spawn(&["--fork-strategy", strategy.name(), "--gdb-wait"], program, args)
    }

    fn spawn(options: &[&str], program: &Path, args: &[&str]) -> Emulator {
        let elfvisor = elfvisor_conformance::elfvisor_lane::binary().expect("the elfvisor binary");
        let mut child = Command::new(elfvisor)
            .args(["--gdb", "0"])
            .args(options)
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("starting elfvisor");
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stderr).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(LIMIT).expect("elfvisor names its port");
        let port = line
            .trim()
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Emulator { child, port }
    }

    /// Waits (bounded) for the end; returns it and what the guest printed.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = reap(&mut self.child, LIMIT).expect("waiting for elfvisor");
        let Some(status) = status else {
            let _ = self.child.kill();
            panic!("elfvisor did not end within {} s", LIMIT.as_secs());
        };
        let mut out = String::new();
        let _ = self.child.stdout.take().expect("piped").read_to_string(&mut out);
        (status, out)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Only if still running (a failed assertion): never leave it behind.
        let _ = self.child.kill();
    }
}

#[test]
fn test_gdb_breaks_reads_state_and_sees_signals() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = debuggee(dir.path());
    let emulator = Emulator::start(&program, &[]);
    let mut gdb = Command::new(GDB);
    // No program file: gdb learns it from the server (qXfer:exec-file).
    gdb.args(["-batch", "-nx", "-ex", "set confirm off"])
        .arg("-ex")
        .arg(format!("target remote 127.0.0.1:{}", emulator.port));
    for command in [
        "break bump",
        "continue",
        "info registers pc x0",
        "p counter",
        "bt",
        "stepi",
        "p $pc == bump + 12",
        "signal SIGUSR1",
        "p counter",
        "monitor siginfo",
        "continue",
    ] {
        gdb.arg("-ex").arg(command);
    }
    let run = run_captured(gdb, b"", LIMIT).expect("running gdb");
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    let err = String::from_utf8_lossy(&run.stderr).into_owned();
    assert_eq!(run.status, Status::Exited(0), "{out}\n{err}");
    let expect = [
        "Breakpoint 1, bump (by=1) at ",
        "pc             0x",
        "<bump+",
        "x0             0x1                 1",
        "$1 = 41",
        "#0  bump (by=1) at ",
        "in main (argc=1, argv=0x",
        "$2 = 1",
        // The handler ran, the guest came back to bump and went on to its fault.
        "Program received signal SIGSEGV, Segmentation fault.",
        "*bad = got;",
        "$3 = 42",
        "Program terminated with signal SIGSEGV, Segmentation fault.",
    ];
    let mut rest = out.as_str();
    for want in expect {
        let at = rest.find(want).unwrap_or_else(|| panic!("no {want:?} after:\n{rest}\n{err}"));
        rest = &rest[at + want.len()..];
    }
    // gdb shows a monitor command's output on its stderr.
    assert!(err.contains("SIGSEGV si_code 1 si_addr 0xdead0000\n"), "{err}");
    let (status, printed) = emulator.finish();
    let sigsegv = nix::sys::signal::Signal::SIGSEGV as i32;
    assert_eq!(status.signal(), Some(sigsegv), "elfvisor dies as the guest did");
    assert_eq!(printed, "usr1\nbumped\n");
}

/// Runs gdb with these commands against the emulator; returns its stdout (gdb must succeed).
fn gdb(emulator: &Emulator, commands: &[&str]) -> String {
    let mut gdb = Command::new(GDB);
    gdb.args(["-batch", "-nx", "-ex", "set confirm off"])
        .arg("-ex")
        .arg(format!("target remote 127.0.0.1:{}", emulator.port));
    for command in commands {
        gdb.arg("-ex").arg(command);
    }
    let run = run_captured(gdb, b"", LIMIT).expect("running gdb");
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status, Status::Exited(0), "{out}\n{err}");
    out
}

#[test]
fn test_a_fork_child_runs_free_of_the_breakpoints_on_every_strategy() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = debuggee(dir.path());
    for strategy in Strategy::ALL {
        let emulator = Emulator::with_strategy(strategy, &program, &["fork"]);
        let out = gdb(&emulator, &["break bump", "continue", "p by", "continue"]);
        // The parent stops in bump(1); the child's bump(5) hit no breakpoint.
        assert!(out.contains("Breakpoint 1, bump (by=1)"), "{}: {out}", strategy.name());
        assert!(out.contains("$1 = 1\n"), "{}: {out}", strategy.name());
        assert!(out.contains("exited normally"), "{}: {out}", strategy.name());
        let (status, printed) = emulator.finish();
        assert!(status.success(), "{}", strategy.name());
        assert_eq!(printed, "child\nparent\n", "{}", strategy.name());
    }
}

#[test]
fn test_gdb_attaches_to_a_running_guest_detaches_and_attaches_again() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = debuggee(dir.path());
    // Without --gdb-wait the guest spins from the start; a debugger stops it where it is.
    let emulator = Emulator::spawn(&[], &program, &["spin"]);
    let out = gdb(&emulator, &["bt 1", "detach"]);
    assert!(out.contains("#0  main (argc=2, argv=0x"), "{out}");
    assert!(out.contains("detached"), "{out}");
    let out = gdb(&emulator, &["p counter != 41", "detach"]);
    assert!(out.contains("$1 = 1\n"), "the guest ran before the first attach: {out}");
    // Still spinning, detached: it ends only when killed.
    let mut emulator = emulator;
    emulator.child.kill().unwrap();
    let (status, _) = emulator.finish();
    assert_eq!(status.signal(), Some(nix::sys::signal::Signal::SIGKILL as i32));
}

#[test]
fn test_a_signal_the_guest_sends_itself_stops_it_first() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = debuggee(dir.path());
    // The first SIGUSR1 is passed on (its handler runs), the second, taken in sigsuspend, is
    // discarded with `signal 0`: sigsuspend returns with no handler run.
    let emulator = Emulator::start(&program, &["kill"]);
    let out = gdb(&emulator, &["continue", "continue", "signal 0"]);
    assert_eq!(out.matches("Program received signal SIGUSR1").count(), 2, "{out}");
    assert!(out.contains("exited normally"), "{out}");
    let (status, printed) = emulator.finish();
    assert!(status.success());
    assert_eq!(printed, "usr1\ndone\n");
}

/// A packet of the remote protocol: `$data#checksum`.
fn packet(data: &str) -> Vec<u8> {
    let sum = data.bytes().fold(0u8, |s, b| s.wrapping_add(b));
    format!("${data}#{sum:02x}").into_bytes()
}

/// Reads until one of `want` has arrived, under the stream's timeout. A `want` that starts a
/// packet (`$…`) is waited for until that packet is whole (`#` and its two checksum digits),
/// and every whole packet is acknowledged once, so no part of one reply is left to be taken
/// for the next: how the server's bytes are split into reads never matters.
fn read_until(stream: &mut TcpStream, seen: &mut String, want: &[&str]) {
    let mut buf = [0u8; 1024];
    let mut acked = 0;
    loop {
        // Acknowledge each packet that is now whole.
        let whole = whole_packets(seen);
        for _ in acked..whole.len() {
            stream.write_all(b"+").unwrap();
        }
        acked = whole.len();
        let done = want.iter().any(|w| {
            if w.starts_with('$') {
                whole.iter().any(|p| p.starts_with(w))
            } else {
                seen.contains(w)
            }
        });
        if done {
            return;
        }
        let n = stream
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("waiting for {want:?}: {e}; got {seen:?}"));
        assert!(n > 0, "the server closed before {want:?}; got {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// The packets in `seen` that have arrived whole, each from its `$` to its checksum.
fn whole_packets(seen: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = seen;
    while let Some(start) = rest.find('$') {
        let Some(hash) = rest[start..].find('#') else { break };
        let end = start + hash + 3;
        if rest.len() < end {
            break;
        }
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

/// A raw protocol connection to the emulator's server, past its first stop report (SIGTRAP);
/// the text seen so far is empty.
fn raw_session(emulator: &Emulator) -> (TcpStream, String) {
    let mut stream = (0..100)
        .find_map(|_| TcpStream::connect(("127.0.0.1", emulator.port)).ok())
        .expect("the gdb server accepts");
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let mut seen = String::new();
    stream.write_all(&packet("?")).unwrap();
    read_until(&mut stream, &mut seen, &["$S05", "$T05"]);
    seen.clear();
    (stream, seen)
}

#[test]
fn test_ctrl_c_stops_a_spinning_guest() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = debuggee(dir.path());
    let emulator = Emulator::start(&program, &["spin"]);
    let (mut stream, mut seen) = raw_session(&emulator);
    // Continue: the guest spins until the interrupt byte.
    stream.write_all(&packet("c")).unwrap();
    read_until(&mut stream, &mut seen, &["+"]);
    stream.write_all(b"\x03").unwrap();
    read_until(&mut stream, &mut seen, &["$S02", "$T02"]);
    // The guest is stopped where it spun: reading registers works; memory outside the guest's
    // mappings (page 0, past the address space) is an error, never the host's.
    seen.clear();
    stream.write_all(&packet("g")).unwrap();
    read_until(&mut stream, &mut seen, &["$"]);
    for bad in ["m0,4", "mffffffffffff0000,8"] {
        seen.clear();
        stream.write_all(&packet(bad)).unwrap();
        read_until(&mut stream, &mut seen, &["$"]);
        assert!(seen.contains("$E"), "{bad}: {seen:?}");
    }
    stream.write_all(&packet("k")).unwrap();
    let (status, _) = emulator.finish();
    assert_eq!(status.signal(), Some(nix::sys::signal::Signal::SIGKILL as i32));
}

/// The session both `elfvisor --gdb` and `qemu-aarch64 -g` are put through on the three-thread
/// guest: a breakpoint only the second worker takes, the threads, two steps of that thread (the
/// others stay where they are: gdb's scheduler locking resumes only the stepping thread), its
/// variables, then on to the end.
const THREAD_SESSION: [&str; 11] = [
    "set scheduler-locking step",
    "break work if n == 2",
    "continue",
    "info threads",
    "p n",
    "next",
    "next",
    "p n",
    "p slots[2]",
    "delete",
    "continue",
];

/// What both debuggers must show of [`THREAD_SESSION`], in order.
const THREAD_EXPECT: [&str; 6] = [
    "hit Breakpoint 1, work (n=2) at ",
    "$1 = 2",
    "14\t    return slots[n];",
    "$2 = 2",
    "$3 = 4",
    "exited normally]",
];

fn assert_in_order(out: &str, expect: &[&str]) {
    let mut rest = out;
    for want in expect {
        let at = rest.find(want).unwrap_or_else(|| panic!("no {want:?} after:\n{rest}"));
        rest = &rest[at + want.len()..];
    }
}

/// The `info threads` table of a session's output: one line per thread.
fn thread_lines(out: &str) -> Vec<&str> {
    let table = out.split("  Id   Target Id").nth(1).expect("an `info threads` table");
    table.lines().skip(1).take_while(|l| l.contains("Thread ")).collect()
}

#[test]
fn test_threads_are_gdb_threads() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = build(dir.path(), "threads");
    let emulator = Emulator::start(&program, &[]);
    let out = gdb(&emulator, &THREAD_SESSION);
    assert_in_order(&out, &THREAD_EXPECT);
    // The stop names its thread; all three are listed, the one that stopped current.
    assert!(out.contains("Thread 3 hit Breakpoint 1, work (n=2)"), "{out}");
    let threads = thread_lines(&out);
    assert_eq!(threads.len(), 3, "{out}");
    let current: Vec<&&str> = threads.iter().filter(|l| l.starts_with('*')).collect();
    assert_eq!(current.len(), 1, "{out}");
    assert!(current[0].contains("work (n=2)"), "{out}");
    // Only the breakpoint switched threads: the steps stayed on thread 3.
    assert_eq!(out.matches("[Switching to Thread").count(), 1, "{out}");
    let (status, printed) = emulator.finish();
    assert_eq!(status.code(), Some(0));
    assert_eq!(printed, "joined\n");
}

/// A session without scheduler locking on the three-thread guest in its busy mode: while
/// thread 3 steps, the others run, and the first worker hits a breakpoint in `tick` over and
/// over (its condition false, so gdb steps it over and resumes). When such a report and the
/// end of thread 3's step come at once, the step's end is kept for thread 3 and reported when
/// gdb next resumes it, running nothing; a step a sibling's stop ended before it ran is made
/// again. So eight `stepi` move exactly eight instructions (work's line 12 is straight-line
/// code) and each `next` ends on the next line, whichever thread reports first.
const UNLOCKED_SESSION: [&str; 19] = [
    "break work if n == 2",
    "break tick if n == 0",
    "continue",
    "set $start = $pc",
    "stepi",
    "stepi",
    "stepi",
    "stepi",
    "stepi",
    "stepi",
    "stepi",
    "stepi",
    "p $pc - $start",
    "next",
    "next",
    "p n",
    "p slots[2]",
    "delete",
    "continue",
];

#[test]
fn test_threads_step_without_scheduler_locking() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = build(dir.path(), "threads");
    let emulator = Emulator::start(&program, &["busy"]);
    let out = gdb(&emulator, &UNLOCKED_SESSION);
    assert_in_order(
        &out,
        &[
            "Thread 3 hit Breakpoint 1, work (n=2) at ",
            "$1 = 32\n",
            "13\t    slots[n] += n;",
            "14\t    return slots[n];",
            "$2 = 2\n",
            "$3 = 4\n",
            "exited normally]",
        ],
    );
    // No stop gdb did not ask for (a step's end taken for a signal, a removed breakpoint).
    assert!(!out.contains("received signal"), "{out}");
    let (status, printed) = emulator.finish();
    assert_eq!(status.code(), Some(0));
    assert_eq!(printed, "joined\n");
}

/// The same session against qemu-user's gdb stub, which (7.2) sometimes loses a thread's
/// breakpoint report or hangs when threads start while the guest runs: its session is tried
/// up to three times, each bounded; elfvisor's must match the first that completes, and if
/// none does the divergence is printed and elfvisor's session is still checked.
#[test]
fn test_threads_session_matches_qemu_user() {
    if !tools_present() || which::which("qemu-aarch64").is_err() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = build(dir.path(), "threads");
    let emulator = Emulator::start(&program, &[]);
    let ours = gdb(&emulator, &THREAD_SESSION);
    assert_in_order(&ours, &THREAD_EXPECT);
    let _ = emulator.finish();
    // What the user reads of the breakpoint, the steps and the values, line for line.
    let pick = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with('$') || l.contains("hit Breakpoint") || l.starts_with("1"))
            .map(|l| l.split(" hit ").nth(1).unwrap_or(l).to_string())
            .collect()
    };
    let mut last = String::new();
    for _ in 0..3 {
        let out = qemu_session(&program, &THREAD_SESSION);
        let complete = THREAD_EXPECT.iter().all(|w| out.contains(w));
        if complete && thread_lines(&out).len() == 3 {
            assert_eq!(pick(&ours), pick(&out), "elfvisor:\n{ours}\nqemu-user:\n{out}");
            return;
        }
        last = out;
    }
    eprintln!("qemu-user's gdb stub did not complete the session (its divergence):\n{last}");
}

/// Runs gdb with these commands against `qemu-aarch64 -g` on `program`; returns gdb's stdout.
fn qemu_session(program: &Path, commands: &[&str]) -> String {
    // qemu takes a port, not 0: one the host just handed out.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut qemu = Command::new("qemu-aarch64")
        .args(["-g", &port.to_string()])
        .arg(program)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting qemu-aarch64");
    let mut gdb = Command::new(GDB);
    gdb.args(["-batch", "-nx", "-ex", "set confirm off"])
        .arg("-ex")
        .arg(format!("file {}", program.display()))
        .arg("-ex")
        .arg(format!("target remote 127.0.0.1:{port}"));
    for command in commands {
        gdb.arg("-ex").arg(command);
    }
    let run = run_captured(gdb, b"", Duration::from_secs(30)).expect("running gdb");
    let _ = qemu.kill();
    let _ = reap(&mut qemu, LIMIT);
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// An execve is reported as gdb's exec event: gdb says which program the process now runs,
/// drops the old image's breakpoints and sets them again in the new one from its symbols.
/// (qemu-user cannot be compared: its guest's execve of an aarch64 program fails without
/// binfmt_misc, and its gdb stub knows no exec event.)
#[test]
fn test_exec_is_reported_and_breakpoints_follow_the_new_image() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = debuggee(dir.path());
    let emulator = Emulator::start(&program, &["exec"]);
    let out = gdb(&emulator, &["break bump", "continue", "p by", "continue"]);
    let executing = format!("is executing new program: {}", program.display());
    assert_in_order(
        &out,
        &[&executing, "Breakpoint 1, bump (by=100)", "$1 = 100", "exited normally]"],
    );
    let (status, printed) = emulator.finish();
    assert_eq!(status.code(), Some(0));
    assert_eq!(printed, "execed\n");
}

/// `--gdb-follow child` (host strategy): the debugger stays with the fork's child, its
/// breakpoints included; the parent runs free of them; another strategy is refused.
#[test]
fn test_gdb_follows_the_fork_child_when_asked() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = debuggee(dir.path());
    let emulator = Emulator::spawn(&["--gdb-wait", "--gdb-follow", "child"], &program, &["fork"]);
    let out = gdb(&emulator, &["break bump", "continue", "p by", "continue"]);
    // The child stops in bump(5), then ends with 3; the parent's bump(1) stops nobody.
    assert_in_order(&out, &["hit Breakpoint 1, bump (by=5)", "$1 = 5", "exited with code 03]"]);
    assert!(!out.contains("by=1"), "{out}");
    let (status, printed) = emulator.finish();
    assert_eq!(status.code(), Some(0), "the parent ends as it does alone");
    assert_eq!(printed, "child\nparent\n");

    let elfvisor = elfvisor_conformance::elfvisor_lane::binary().expect("the elfvisor binary");
    let mut cmd = Command::new(elfvisor);
    cmd.args(["--gdb", "0", "--gdb-follow", "child", "--fork-strategy", "respawn-copy"])
        .arg(&program);
    let run = run_captured(cmd, b"", LIMIT).unwrap();
    assert_eq!(run.status, Status::Exited(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("--gdb-follow child needs --fork-strategy host"), "{err}");
}

/// Watching a variable: elfvisor offers no hardware watchpoints (`Z2`; see
/// docs/ARCHITECTURE.md §13), so gdb watches by single-stepping the guest and comparing, which
/// rests on the stub's steps and memory reads.
#[test]
fn test_a_variable_is_watched_by_stepping() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = debuggee(dir.path());
    let emulator = Emulator::start(&program, &[]);
    let mut gdb = Command::new(GDB);
    gdb.args(["-batch", "-nx", "-ex", "set confirm off", "-ex", "set can-use-hw-watchpoints 0"])
        .arg("-ex")
        .arg(format!("target remote 127.0.0.1:{}", emulator.port));
    for command in ["break bump", "continue", "watch counter", "continue", "delete", "kill"] {
        gdb.arg("-ex").arg(command);
    }
    let run = run_captured(gdb, b"", LIMIT).expect("running gdb");
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_in_order(&out, &["Watchpoint 2: counter", "Old value = 41", "New value = 42", "22\t"]);
    let (status, _) = emulator.finish();
    assert_eq!(status.signal(), Some(nix::sys::signal::Signal::SIGKILL as i32));
}

/// The registers of thread `tid` (gdb's ids are the guest's tids, in hex), as `g` gives them.
fn thread_registers(stream: &mut TcpStream, tid: u32) -> String {
    let mut seen = String::new();
    stream.write_all(&packet(&format!("Hg{tid:x}"))).unwrap();
    read_until(stream, &mut seen, &["$OK"]);
    seen.clear();
    stream.write_all(&packet("g")).unwrap();
    read_until(stream, &mut seen, &["$"]);
    let body = whole_packets(&seen)[0];
    run_length_decoded(&body[1..body.len() - 3])
}

/// A reply's run-length encoding undone: `c*n` is `c` and then `n - 29` more of it.
fn run_length_decoded(data: &str) -> String {
    let mut out = String::new();
    let mut chars = data.chars();
    while let Some(c) = chars.next() {
        if c == '*' {
            let count = chars.next().expect("a count after *") as usize - 29;
            let last = out.chars().last().expect("a character before *");
            out.extend(std::iter::repeat_n(last, count));
        } else {
            out.push(c);
        }
    }
    out
}

/// Register `n` (x0–x30, then sp and pc) of a `g` reply: 64 bits, little-endian hex.
fn register(regs: &str, n: usize) -> u64 {
    u64::from_str_radix(&regs[n * 16..n * 16 + 16], 16).unwrap().swap_bytes()
}

/// The host system call each of the emulator's host threads is blocked in (the first field of
/// `/proc/PID/task/TID/syscall`), by host thread id.
fn host_calls(pid: u32) -> Vec<(u32, String)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .filter_map(|t| {
            let t = t.ok()?;
            let tid = t.file_name().to_str()?.parse().ok()?;
            let call = std::fs::read_to_string(t.path().join("syscall")).ok()?;
            Some((tid, call.split_whitespace().next()?.to_string()))
        })
        .collect()
}

/// Ctrl-C while every guest thread is blocked in a system call (the worker in `read` on an
/// empty pipe, the main thread in `pthread_join`'s futex wait) stops the guest at once: the
/// calls are interrupted as a signal interrupts them. Each thread then shows Linux's view of a
/// thread a stop interrupted in a call: on its `svc`, x0 the call's first argument, x8 its
/// number. x0 written for the worker is what its call, restarted when the guest resumes,
/// takes: a read of the other pipe, which holds an `x`. The main thread's wait restarts too,
/// so the program ends as it does alone.
#[test]
fn test_ctrl_c_stops_threads_blocked_in_calls_and_x0_is_the_restarted_argument() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let program = build(dir.path(), "blocked");
    let emulator = Emulator::start(&program, &[]);
    let pid = emulator.child.id();
    let (mut stream, mut seen) = raw_session(&emulator);
    stream.write_all(&packet("vCont;c")).unwrap();
    read_until(&mut stream, &mut seen, &["+"]);
    // Until both guest threads are blocked in the host: the first (the guest's main thread)
    // in a futex wait, another in a read (a state looked at again and again, bounded).
    let read = nix::libc::SYS_read.to_string();
    let futex = nix::libc::SYS_futex.to_string();
    let blocked = |calls: &[(u32, String)]| {
        calls.iter().any(|(t, c)| *t == pid && *c == futex)
            && calls.iter().any(|(t, c)| *t != pid && *c == read)
    };
    let start = std::time::Instant::now();
    while !blocked(&host_calls(pid)) {
        assert!(start.elapsed() < LIMIT, "never blocked: {:?}", host_calls(pid));
        std::thread::sleep(Duration::from_millis(10));
    }
    stream.write_all(b"\x03").unwrap();
    read_until(&mut stream, &mut seen, &["$S02", "$T02"]);
    seen.clear();
    stream.write_all(&packet("qfThreadInfo")).unwrap();
    read_until(&mut stream, &mut seen, &["$m"]);
    let list = whole_packets(&seen)[0];
    let tids: Vec<u32> =
        list[2..list.len() - 3].split(',').map(|t| u32::from_str_radix(t, 16).unwrap()).collect();
    assert_eq!(tids.len(), 2, "{list}");
    assert_eq!(tids[0], pid, "the first thread first: {list}");
    let worker = tids[1];
    for (tid, nr, x0) in [(pid, 98, None), (worker, 63, Some(3))] {
        let regs = thread_registers(&mut stream, tid);
        assert_eq!(register(&regs, 8), nr, "thread {tid}'s call number: {regs}");
        if let Some(x0) = x0 {
            assert_eq!(register(&regs, 0), x0, "thread {tid}'s first argument: {regs}");
        }
        let pc = register(&regs, 32);
        seen.clear();
        stream.write_all(&packet(&format!("m{pc:x},4"))).unwrap();
        read_until(&mut stream, &mut seen, &["$"]);
        let insn = whole_packets(&seen)[0];
        let insn = run_length_decoded(&insn[1..insn.len() - 3]);
        assert_eq!(insn, "010000d4", "thread {tid} is on its svc (pc {pc:#x})");
    }
    // The worker's read takes the other pipe when it is made again.
    let regs = thread_registers(&mut stream, worker);
    let written = format!("{}{}", "0500000000000000", &regs[16..]);
    seen.clear();
    stream.write_all(&packet(&format!("G{written}"))).unwrap();
    read_until(&mut stream, &mut seen, &["$OK", "$E"]);
    assert!(seen.contains("$OK"), "{seen:?}");
    assert_eq!(register(&thread_registers(&mut stream, worker), 0), 5);
    seen.clear();
    stream.write_all(&packet("vCont;c")).unwrap();
    read_until(&mut stream, &mut seen, &["$W"]);
    assert!(seen.contains("$W00"), "{seen:?}");
    let (status, printed) = emulator.finish();
    assert_eq!(status.code(), Some(0));
    assert_eq!(printed, "read x\njoined\n");
}
