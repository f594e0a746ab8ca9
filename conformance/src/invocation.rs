//! What a host lane runs for one case, as data: the one description both the harness's trials
//! and `cargo xtask run` turn into a process (or, for `--print`, into a shell command), so a
//! trial reproduced by hand is exactly the trial the harness ran.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::error::{IoContext, Result};
use crate::fixture::{Case, Tmpfs};
use crate::lane::RunOutput;

/// One run of one case on the host: `program args…` with exactly `env`, `stdin` on its standard
/// input, in a fresh working directory holding `files`, under a time limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    pub stdin: Vec<u8>,
    /// Created (mode 0644) in the working directory before the run: name → text.
    pub files: BTreeMap<String, String>,
    /// A tmpfs mounted in the working directory, in a private mount namespace of the run.
    pub tmpfs: Option<Tmpfs>,
    pub limit: Duration,
    /// The user id (and group id) it runs as, owning its working directory; `None`: the
    /// harness's own.
    pub user: Option<u32>,
}

/// Mounts the tmpfs named by `$1` with the options in `$2` and runs the rest of the command
/// line in its place (so the run keeps one process: the time limit and the exit status are the
/// program's own).
const MOUNT_AND_EXEC: &str =
    "mount -t tmpfs -o \"$2\" elfvisor-case \"$1\" && shift 2 && exec \"$@\"";

impl Invocation {
    /// The case's own environment, stdin, files and time limit around `program args…`.
    pub fn for_case(case: &Case, program: PathBuf, args: Vec<OsString>) -> Invocation {
        Invocation {
            program,
            args,
            env: case.env(),
            stdin: case.fixture.stdin.as_bytes().to_vec(),
            files: case.fixture.files.clone(),
            tmpfs: case.fixture.tmpfs.clone(),
            limit: Duration::from_secs(case.fixture.timeout_s.into()),
            user: case.user(),
        }
    }

    /// Runs it as a trial does: in a fresh temporary directory, output captured, the whole
    /// process group killed at the time limit.
    pub fn run(&self) -> Result<RunOutput> {
        let workdir = crate::hostrun::workdir_with(&self.files)?;
        if let Some(tmpfs) = &self.tmpfs {
            let dir = workdir.path().join(&tmpfs.dir);
            std::fs::create_dir(&dir).context(|| format!("creating {}", dir.display()))?;
        }
        let (program, args) = self.command_line();
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd.env_clear().envs(self.env.iter().cloned()).current_dir(workdir.path());
        if let Some(user) = self.user {
            crate::hostrun::run_as(&mut cmd, user, workdir.path(), self.files.keys())?;
        }
        crate::hostrun::run_captured(cmd, &self.stdin, self.limit)
    }

    /// The program and arguments to start: `program args…`, or, with a tmpfs, the same inside
    /// `unshare --mount` (a private mount namespace, so the mount is the run's alone and goes
    /// with it) and a shell that mounts the tmpfs and then `exec`s the program.
    ///
    /// Mounting needs CAP_SYS_ADMIN. As root (CI) the namespace is only a mount namespace, so
    /// the guest sees the same users as everywhere else. Otherwise the run also gets a user
    /// namespace that maps the caller to root (`--map-root-user`, which needs unprivileged
    /// user namespaces): the mount is then allowed, and the guest sees itself as uid 0 —
    /// which the cases with a tmpfs must not print.
    fn command_line(&self) -> (PathBuf, Vec<OsString>) {
        let Some(tmpfs) = &self.tmpfs else {
            return (self.program.clone(), self.args.clone());
        };
        let mut args: Vec<OsString> = Vec::new();
        if !nix::unistd::geteuid().is_root() {
            args.extend(["--user".into(), "--map-root-user".into()]);
        }
        args.extend(
            ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", MOUNT_AND_EXEC, "sh"]
                .map(OsString::from),
        );
        args.push(tmpfs.dir.clone().into());
        args.push(format!("size={}k", tmpfs.size_kib).into());
        args.push(self.program.clone().into_os_string());
        args.extend(self.args.iter().cloned());
        (which::which("unshare").unwrap_or_else(|_| PathBuf::from("unshare")), args)
    }

    /// The same run as one POSIX shell command (without the time limit and the output capture):
    /// a fresh directory from `mktemp -d` with the files in it, the exact environment through
    /// `env -i`, the stdin through a pipe.
    pub fn shell(&self) -> String {
        let mut script = String::from("cd \"$(mktemp -d)\"");
        for (name, text) in &self.files {
            let name = shell_quote(name.as_bytes());
            script.push_str(&format!(
                " && printf %s {} > {name} && chmod 0644 {name}",
                shell_quote(text.as_bytes())
            ));
        }
        if let Some(tmpfs) = &self.tmpfs {
            script.push_str(&format!(" && mkdir {}", shell_quote(tmpfs.dir.as_bytes())));
        }
        if let Some(user) = self.user {
            script.push_str(&format!(" && chown -R {user}:{user} ."));
        }
        script.push_str(&format!(" && printf %s {} |", shell_quote(&self.stdin)));
        if let Some(user) = self.user {
            script.push_str(&format!(" setpriv --reuid={user} --regid={user} --clear-groups"));
        }
        script.push_str(" env -i");
        for (key, value) in &self.env {
            script.push(' ');
            script.push_str(&shell_quote(format!("{key}={value}").as_bytes()));
        }
        let (program, args) = self.command_line();
        script.push(' ');
        script.push_str(&shell_quote(program.as_os_str().as_bytes()));
        for arg in &args {
            script.push(' ');
            script.push_str(&shell_quote(arg.as_bytes()));
        }
        script
    }
}

/// `bytes` as one shell word: bare when it is made only of characters no shell treats
/// specially, otherwise in single quotes (a quote inside becomes `'\''`).
pub fn shell_quote(bytes: &[u8]) -> String {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(b);
    if !bytes.is_empty() && bytes.iter().all(plain) && bytes[0] != b'=' {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    format!("'{}'", String::from_utf8_lossy(bytes).replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lane::Status;
    use std::path::Path;

    fn case(text: &str) -> Case {
        crate::fixture::parse(text, Path::new("f/demo/c.yaml"), "demo", "c").unwrap()
    }

    #[test]
    fn test_shell_quote() {
        assert_eq!(shell_quote(b"plain/path-1.x"), "plain/path-1.x");
        assert_eq!(shell_quote(b""), "''");
        assert_eq!(shell_quote(b"two words"), "'two words'");
        assert_eq!(shell_quote(b"it's"), r"'it'\''s'");
        assert_eq!(shell_quote(b"$HOME"), "'$HOME'");
    }

    #[test]
    fn test_the_shell_command_runs_what_run_runs() {
        let case = case(
            "doc: x\nargs: [\"a b\", \"it's\"]\nstdin: \"in put\\n\"\nenv: { K: \"v w\" }\n\
             files: { 'f g.txt': \"text\\n\" }\n",
        );
        let script = "printf '%s|' \"$0\" \"$@\"; echo; cat; env | grep -v ^PWD= | sort; ls -l | \
                      awk 'NR>1{print $1, $NF}'; cat 'f g.txt'; pwd | grep -c tmp; exit 3";
        let args = ["-c", script, "c", "a b", "it's"].map(OsString::from).to_vec();
        let inv = Invocation::for_case(&case, PathBuf::from("/bin/sh"), args);
        let direct = inv.run().unwrap();
        assert_eq!(direct.status, Status::Exited(3));
        let text = String::from_utf8_lossy(&direct.stdout).into_owned();
        assert!(text.starts_with("c|a b|it's|\nin put\n"), "{text}");
        assert!(text.contains("K=v w\nLC_ALL=C\nPATH=/usr/bin:/bin\n"), "{text}");
        assert!(text.contains("-rw-r--r-- g.txt\ntext\n1\n"), "{text}");

        let mut sh = Command::new("/bin/sh");
        sh.arg("-c").arg(inv.shell());
        let through_shell = crate::hostrun::run_captured(sh, b"", inv.limit).unwrap();
        assert_eq!(String::from_utf8_lossy(&through_shell.stdout), text);
        assert_eq!(through_shell.status, direct.status);
    }

    #[test]
    fn test_a_tmpfs_is_mounted_for_the_run_alone() {
        let case = case("doc: x\ntmpfs: {dir: small, size_kib: 64}\n");
        let script = "stat -f -c '%T %b %S' small; echo > small/f; ls small";
        let args = ["-c", script].map(OsString::from).to_vec();
        let inv = Invocation::for_case(&case, PathBuf::from("/bin/sh"), args);
        let out = inv.run().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            (text.as_str(), out.status),
            ("tmpfs 16 4096\nf\n", Status::Exited(0)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c").arg(inv.shell());
        let through_shell = crate::hostrun::run_captured(sh, b"", inv.limit).unwrap();
        assert_eq!(String::from_utf8_lossy(&through_shell.stdout), text);
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains("elfvisor-case"), "the mount stayed in the harness's namespace");
    }
}
