//! Running a host command that hosts one guest case: stdin fed, stdout/stderr captured, a time
//! limit enforced on the whole process group.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::error::{IoContext, Result};
use crate::fixture::Case;
use crate::lane::{RunOutput, Status};

/// A fresh temporary working directory for one run of `case`, holding the fixture's `files`
/// (mode 0644, as the linux lane's `/init` creates them). It is removed when dropped.
pub fn case_workdir(case: &Case) -> Result<tempfile::TempDir> {
    let workdir = tempfile::Builder::new()
        .prefix("elfvisor-case-")
        .tempdir()
        .context(|| "creating a working directory".to_owned())?;
    for (name, text) in &case.fixture.files {
        let path = workdir.path().join(name);
        std::fs::write(&path, text).context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(workdir)
}

/// Runs `cmd` as the leader of a new process group. When it exits or the limit passes, anything
/// left in its group is killed, so a stray grandchild can neither hold the pipes open nor linger.
pub fn run_captured(mut cmd: Command, stdin: &[u8], limit: Duration) -> Result<RunOutput> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().context(|| format!("starting {program}"))?;
    let pgid = Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"));

    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    // A guest that never reads its input must not block us: write from a thread, ignore EPIPE.
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let readers = [
        reader(child.stdout.take().expect("stdout is piped")),
        reader(child.stderr.take().expect("stderr is piped")),
    ];

    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().context(|| format!("waiting for {program}"))? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // The group outlives its leader while any member lives; ESRCH just means it is empty.
    let _ = killpg(pgid, Signal::SIGKILL);
    let status = match status {
        Some(status) => status,
        None => {
            child.wait().context(|| format!("reaping {program}"))?;
            let _ = feeder.join();
            let [out, err] = readers.map(|r| r.join().unwrap_or_default());
            return Ok(RunOutput { stdout: out, stderr: err, status: Status::TimedOut });
        }
    };
    let _ = feeder.join();
    let [stdout, stderr] = readers.map(|r| r.join().unwrap_or_default());
    let status = match (status.code(), status.signal()) {
        (Some(code), _) => Status::Exited(code),
        (None, Some(sig)) => Status::Signaled(u8::try_from(sig).unwrap_or(u8::MAX)),
        (None, None) => unreachable!("a process that ended either exited or was signalled"),
    };
    Ok(RunOutput { stdout, stderr, status })
}

fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn test_captures_output_and_exit_code() {
        let run = run_captured(sh("cat; echo err >&2; exit 3"), b"in\n", Duration::from_secs(10))
            .unwrap();
        assert_eq!(run.stdout, b"in\n");
        assert_eq!(run.stderr, b"err\n");
        assert_eq!(run.status, Status::Exited(3));
    }

    #[test]
    fn test_reports_death_by_signal() {
        let run = run_captured(sh("kill -TERM $$"), b"", Duration::from_secs(10)).unwrap();
        assert_eq!(run.status, Status::Signaled(15));
    }

    #[test]
    fn test_time_limit_kills_the_group() {
        // The grandchild holds stdout open; without the group kill this would never finish.
        let run =
            run_captured(sh("sleep 30 & echo started; wait"), b"", Duration::from_millis(300))
                .unwrap();
        assert_eq!(run.status, Status::TimedOut);
        assert_eq!(run.stdout, b"started\n");
    }

    #[test]
    fn test_case_workdir_holds_the_fixture_files() {
        let text = "doc: x\nfiles:\n  a.txt: \"one\\n\"\n  'b c': ''\n";
        let case =
            crate::fixture::parse(text, std::path::Path::new("f/d/c.yaml"), "d", "c").unwrap();
        let dir = case_workdir(&case).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.txt", "b c"]);
        assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"one\n");
        let mode = std::fs::metadata(dir.path().join("b c")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn test_missing_program_is_an_error() {
        let err = run_captured(Command::new("/nonexistent/prog"), b"", Duration::from_secs(1))
            .unwrap_err();
        assert!(err.to_string().contains("starting /nonexistent/prog"), "{err}");
    }
}
