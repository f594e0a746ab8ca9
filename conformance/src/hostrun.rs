//! Running a host command that hosts one guest case: stdin fed, stdout/stderr captured, a time
//! limit enforced on the whole process group.
//!
//! Nothing here waits without a bound: a process that escaped the group (a guest's `setsid`) can
//! keep the output pipes open or never read its input, and a killed process can linger in an
//! uninterruptible sleep; the run then ends anyway, with what was read and a note in its stderr.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Gid, Pid, Uid};

use crate::error::{IoContext, Result};
use crate::fixture::Case;
use crate::lane::{RunOutput, Status};

/// A fresh temporary working directory for one run of `case`, holding the fixture's `files`
/// (mode 0644, as the linux lane's `/init` creates them). It is removed when dropped.
pub fn case_workdir(case: &Case) -> Result<tempfile::TempDir> {
    workdir_with(&case.fixture.files)
}

/// A fresh temporary working directory holding `files` (name → text, mode 0644). It is removed
/// when dropped.
pub fn workdir_with(files: &BTreeMap<String, String>) -> Result<tempfile::TempDir> {
    let workdir = tempfile::Builder::new()
        .prefix("elfvisor-case-")
        .tempdir()
        .context(|| "creating a working directory".to_owned())?;
    for (name, text) in files {
        let path = workdir.path().join(name);
        std::fs::write(&path, text).context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(workdir)
}

/// Makes `cmd` run as `user` (user and group id), in `workdir`, which it then owns with the
/// `files` in it. Switching users takes root: a harness that is not root runs only the cases of
/// its own user ([`user_unavailable`] says so before a run gets here).
pub fn run_as<'a>(
    cmd: &mut Command,
    user: u32,
    workdir: &Path,
    files: impl IntoIterator<Item = &'a String>,
) -> Result<()> {
    if let Some(why) = user_unavailable(user) {
        return Err(crate::error::Error::Io {
            context: why,
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
    }
    if nix::unistd::geteuid().is_root() {
        let (uid, gid) = (Some(Uid::from_raw(user)), Some(Gid::from_raw(user)));
        let paths =
            std::iter::once(workdir.to_owned()).chain(files.into_iter().map(|f| workdir.join(f)));
        for path in paths {
            nix::unistd::chown(&path, uid, gid)
                .map_err(std::io::Error::from)
                .context(|| format!("giving {} to user {user}", path.display()))?;
        }
        // std drops the supplementary groups too (`setgroups(0)`) when a root parent sets a uid.
        cmd.uid(user).gid(user);
    }
    Ok(())
}

/// Why this harness cannot run a case as `user`, if it cannot: it must be root, or that user.
pub fn user_unavailable(user: u32) -> Option<String> {
    let me = nix::unistd::geteuid();
    (!me.is_root() && me.as_raw() != user).then(|| {
        format!("the case runs as user {user}, which takes a harness running as root or as that user (this one is {me})")
    })
}

/// Why a user that is not the owner cannot reach `path` (search every directory on the way, read
/// the end), if it cannot, by the permission bits for "others": what a case's user needs of a
/// tree it runs programs from.
pub fn unreachable_by_others(path: &Path) -> Option<String> {
    let mut at = PathBuf::new();
    for part in path.components() {
        at.push(part);
        match std::fs::metadata(&at) {
            Ok(meta) if meta.is_dir() && meta.permissions().mode() & 0o001 == 0 => {
                return Some(format!(
                    "{} is not searchable by other users (mode {:o})",
                    at.display(),
                    meta.permissions().mode() & 0o7777
                ));
            }
            Ok(_) => {}
            Err(e) => return Some(format!("{}: {e}", at.display())),
        }
    }
    None
}

/// Gives the commands this process starts the limits the linux lane's processes get from a
/// fresh boot, whatever the shell that started the harness had: a soft RLIMIT_CORE of 0 (the
/// hard limit stays), so a guest dumps core only where it raised its own limit.
fn boot_limits() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_CORE) {
            let _ = setrlimit(Resource::RLIMIT_CORE, 0, hard);
        }
    });
}

/// Runs `cmd` as the leader of a new process group. When it exits or the limit passes, anything
/// left in its group is killed, so a stray grandchild can neither hold the pipes open nor linger.
pub fn run_captured(mut cmd: Command, stdin: &[u8], limit: Duration) -> Result<RunOutput> {
    boot_limits();
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().context(|| format!("starting {program}"))?;
    let pgid = Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"));

    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    // A guest that never reads its input must not block us: write from a thread, ignore EPIPE.
    // Never joined: a reader outside the group may keep the pipe open and full forever.
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let stdout = PipeReader::start(child.stdout.take().expect("stdout is piped"));
    let stderr = PipeReader::start(child.stderr.take().expect("stderr is piped"));

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
    let mut notes = Vec::new();
    if status.is_none()
        && reap(&mut child, GRACE).context(|| format!("reaping {program}"))?.is_none()
    {
        notes.push(format!("{program} was still alive {} s after SIGKILL", GRACE.as_secs()));
    }
    let drained = Instant::now() + GRACE;
    let (stdout, out_ended) = stdout.finish(drained);
    let (mut stderr, err_ended) = stderr.finish(drained);
    if !(out_ended && err_ended) {
        notes.push(format!(
            "the output pipes were still open {} s after the process group was killed: a \
             process outside the group holds them, so the output may be cut",
            GRACE.as_secs()
        ));
    }
    for note in notes {
        stderr.extend_from_slice(format!("\n[conformance: {note}]\n").as_bytes());
    }
    let Some(status) = status else {
        return Ok(RunOutput { stdout, stderr, status: Status::TimedOut });
    };
    let status = match (status.code(), status.signal()) {
        (Some(code), _) => Status::Exited(code),
        (None, Some(sig)) => Status::Signaled(u8::try_from(sig).unwrap_or(u8::MAX)),
        (None, None) => unreachable!("a process that ended either exited or was signalled"),
    };
    Ok(RunOutput { stdout, stderr, status })
}

/// How long a run waits, once its process group is killed, for the leader to be reaped and for
/// the output pipes to reach their end.
pub const GRACE: Duration = Duration::from_secs(10);

/// Waits at most `limit` for `child` to end; `None` if it has not.
pub fn reap(child: &mut Child, limit: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A pipe read to its end on a thread of its own, into a buffer that can be taken at any time,
/// so that a pipe some stray process keeps open never blocks the harness.
#[derive(Debug)]
pub struct PipeReader {
    buf: Arc<Mutex<Vec<u8>>>,
    /// Disconnected when the reading thread is done.
    done: mpsc::Receiver<()>,
}

impl PipeReader {
    pub fn start(mut pipe: impl Read + Send + 'static) -> PipeReader {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel::<()>();
        let sink = Arc::clone(&buf);
        std::thread::spawn(move || {
            let _tx = tx;
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => sink.lock().unwrap_or_else(|e| e.into_inner()).extend(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        });
        PipeReader { buf, done }
    }

    /// What was read, waiting until `deadline` at most for the pipe's end; and whether it came.
    pub fn finish(self, deadline: Instant) -> (Vec<u8>, bool) {
        let left = deadline.saturating_duration_since(Instant::now());
        let ended =
            matches!(self.done.recv_timeout(left), Err(mpsc::RecvTimeoutError::Disconnected));
        let bytes = std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()));
        (bytes, ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_unreachable_by_others_names_the_closed_directory() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a/b");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(unreachable_by_others(&inner), None);
        let closed = dir.path().join("a");
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o750)).unwrap();
        let why = unreachable_by_others(&inner).unwrap();
        assert!(why.contains(&format!("{} is not searchable", closed.display())), "{why}");
        assert!(why.contains("mode 750"), "{why}");
        assert!(unreachable_by_others(&dir.path().join("none")).unwrap().contains("none"));
    }

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

    /// Kills, when dropped, the process whose pid is the first line of a run's stderr: a stray
    /// that left the run's process group (and so its kill) on purpose.
    struct Stray(Option<i32>);

    impl Stray {
        fn of(run: &RunOutput) -> Stray {
            let stderr = String::from_utf8_lossy(&run.stderr);
            Stray(stderr.lines().next().and_then(|l| l.trim().parse().ok()))
        }
    }

    impl Drop for Stray {
        fn drop(&mut self) {
            if let Some(pid) = self.0 {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }

    /// A script that starts `stray` (a shell command) in a session of its own — outside the
    /// run's process group — and goes on with `then` only once the stray has left the group
    /// and printed its pid to stderr.
    fn with_stray(dir: &std::path::Path, stray: &str, then: &str) -> Command {
        let ready = dir.join("ready");
        let ready = ready.display();
        sh(&format!(
            "setsid -f sh -c 'echo $$ >&2; : > {ready}; {stray}'; \
             while [ ! -e {ready} ]; do sleep 0.01; done; {then}"
        ))
    }

    #[test]
    fn test_a_process_outside_the_group_holding_the_pipes_does_not_block_the_run() {
        // A grandchild leaves the group (a new session) and keeps stdout open forever: the run
        // still ends, with what was written and a note.
        let dir = tempfile::tempdir().unwrap();
        let script = with_stray(dir.path(), "exec sleep infinity", "echo started");
        let run = run_captured(script, b"", Duration::from_secs(60)).unwrap();
        let _stray = Stray::of(&run);
        assert_eq!(run.status, Status::Exited(0));
        assert_eq!(run.stdout, b"started\n");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(stderr.contains("a process outside the group holds them"), "{stderr}");
    }

    #[test]
    fn test_an_input_nobody_reads_does_not_block_the_run() {
        // More input than a pipe holds, for a process that never reads it, and a stray outside
        // the group that keeps the input pipe open (but not the output ones).
        let dir = tempfile::tempdir().unwrap();
        let script = with_stray(dir.path(), "exec sleep infinity >/dev/null 2>&1", "exit 4");
        let run = run_captured(script, &vec![b'x'; 1 << 20], Duration::from_secs(60)).unwrap();
        let _stray = Stray::of(&run);
        assert_eq!(run.status, Status::Exited(4));
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
