//! `cargo xtask run` reproduces the harness's trials: for trials that exercise argv, the
//! environment, stdin and working-directory files, the transcript it prints — and the one its
//! `--print` shell command produces — is the transcript the harness judges for that cell.

use std::process::{Command, Stdio};
use std::time::Duration;

use elfvisor_conformance::harness::Harness;
use elfvisor_conformance::hostrun::run_captured;
use elfvisor_conformance::transcript;

const TRIALS: [&str; 4] = [
    "elfvisor/host/musl/process/argv_envp",
    "elfvisor/respawn-copy/glibc/process/stdin_echo",
    "elfvisor/respawn-snapshot/glibc/busybox/sha256sum",
    "qemu-user/musl/process/argv_envp",
];

/// Everything `cargo xtask run` printed before its comparison with the golden transcript.
fn printed_transcript(stdout: &str) -> &str {
    let end = stdout.find("=== against the golden transcript").expect("the comparison line");
    &stdout[..end]
}

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running xtask")
}

#[test]
fn test_xtask_run_reproduces_the_harness_transcript() {
    let harness = Harness::load().unwrap();
    for trial in TRIALS {
        let Some(cell) = harness.cells().into_iter().find(|&c| harness.cell_name(c) == trial)
        else {
            panic!("no trial {trial}");
        };
        if let Some(reason) = harness.skip_reason(cell) {
            eprintln!("{trial}: skipped here: {reason}");
            continue;
        }
        let (expected, _) = harness.transcript(cell).unwrap();

        let run = xtask(&["run", trial]);
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert_eq!(printed_transcript(&stdout), expected, "{trial}: {stdout}");
        assert!(stdout.contains("): identical"), "{trial}: {stdout}");
        assert!(run.status.success(), "{trial}: {}", String::from_utf8_lossy(&run.stderr));

        let print = xtask(&["run", "--print", trial]);
        assert!(print.status.success(), "{trial}: {}", String::from_utf8_lossy(&print.stderr));
        let script = String::from_utf8(print.stdout).unwrap();
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c").arg(script.trim_end());
        let shell_run = run_captured(sh, b"", Duration::from_secs(60)).unwrap();
        let from_shell = transcript::render(&harness.cases[cell.case], &shell_run);
        assert_eq!(from_shell, expected, "{trial} through `{script}`");
    }
}

#[test]
fn test_xtask_run_names_unknown_trials() {
    let run = xtask(&["run", "elfvisor/host/musl/process/no_such_case"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("no trial named"));
}

/// The report's `--strace` re-run of a cell: the trace's last lines, the process's end
/// included, and nothing for a lane that is not elfvisor's.
#[test]
fn test_strace_tail_of_an_elfvisor_cell() {
    let harness = Harness::load().unwrap();
    let find = |trial: &str| {
        harness.cells().into_iter().find(|&c| harness.cell_name(c) == trial).expect(trial)
    };
    let cell = find("elfvisor/host/musl/file/basic_io");
    if let Some(reason) = harness.skip_reason(cell) {
        eprintln!("skipped here: {reason}");
        return;
    }
    let tail = harness.strace_tail(cell, 5).expect("a trace");
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 6, "a note of the lines left out, then five: {tail}");
    assert!(lines[0].starts_with("[… ") && lines[0].ends_with(" earlier lines]"), "{tail}");
    assert!(lines[4].contains("] exit_group(0)"), "{tail}");
    assert!(lines[5].ends_with("] +++ exited with 0 +++"), "{tail}");
    assert_eq!(harness.strace_tail(find("qemu-user/musl/file/basic_io"), 5), None);
}
