//! Script cases: a fixture's `steps:`, a list of commands run one after another against one
//! guest environment (one working directory, one sysroot), for daemons: start a server in the
//! background, wait until it answers, run clients, stop it, and report every step's outputs.
//!
//! The steps become one POSIX shell script that the sysroot's `/bin/sh` runs *as the guest*: in
//! the `linux` lane natively, in the elfvisor lanes under elfvisor (so every program a step
//! names is a guest `execve` of a sysroot program, inside one emulated process tree), and in the
//! `qemu-user` lane under `qemu-aarch64 -L`. Every lane therefore runs the same single program
//! the way it already runs a `{sysroot: …}` case, and nothing lane-specific knows about steps.
//! See `docs/DAEMON.md` for the design and what is still to do.
//!
//! The script's standard output is the case's transcript: for each step a header line with its
//! name and what became of it, then its standard output and standard error, each under a
//! marker. A step that does not end as expected stops the script, after stopping every server
//! still running, so a failed case never leaves a daemon behind.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::invocation::shell_quote;

/// The sysroot program that runs a script case: Debian's `/bin/sh` (dash).
pub const SHELL: &str = "/bin/sh";

/// The token an argument may carry for the case's working directory (an absolute path, which
/// daemons want for sockets and data directories). It becomes `"$PWD"` at run time.
pub const WORKDIR_TOKEN: &str = "{workdir}";

/// How many times `wait_ready` runs its probe when the fixture names no count. Between two
/// tries the script sleeps a tenth of a second; the bound is the count, and the case's own
/// time limit bounds the whole script, so no outcome depends on how fast a lane is.
pub const DEFAULT_ATTEMPTS: u32 = 600;

/// One step of a script case, as written in the fixture.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Step {
    /// Runs a command to its end. The script goes on only when it exits with `status`.
    Run {
        name: String,
        argv: Vec<String>,
        /// Bytes fed to its standard input (default: none, `/dev/null`).
        #[serde(default)]
        stdin: Option<String>,
        #[serde(default)]
        status: i32,
    },
    /// Starts a server in the background; its outputs are reported when it is stopped.
    Spawn { name: String, argv: Vec<String> },
    /// Runs `argv` (a readiness probe, e.g. `pg_isready`) until it exits 0, at most `attempts`
    /// times; `server` names the spawned step it waits for, which must still be running.
    WaitReady {
        name: String,
        server: String,
        argv: Vec<String>,
        #[serde(default = "default_attempts")]
        attempts: u32,
    },
    /// Stops a spawned server: runs `argv` (default: `kill -TERM` of its pid), then waits for
    /// the server to exit and reports its status as the shell sees it.
    Stop {
        name: String,
        server: String,
        #[serde(default)]
        argv: Vec<String>,
    },
}

/// A fixture's `steps:`: each entry a one-key map naming its kind (`- run: {…}`), as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Steps(
    #[serde(deserialize_with = "serde_norway::with::singleton_map_recursive::deserialize")]
    pub  Vec<Step>,
);

fn default_attempts() -> u32 {
    DEFAULT_ATTEMPTS
}

impl Step {
    /// The step's name, which names its outputs in the transcript.
    pub fn name(&self) -> &str {
        match self {
            Step::Run { name, .. }
            | Step::Spawn { name, .. }
            | Step::WaitReady { name, .. }
            | Step::Stop { name, .. } => name,
        }
    }
}

/// Why a list of steps is not a script. Each message names the step at fault.
pub fn validate(steps: &[Step]) -> std::result::Result<(), String> {
    if steps.is_empty() {
        return Err("`steps` is empty".into());
    }
    let mut names = BTreeSet::new();
    let mut running = BTreeSet::new();
    for step in steps {
        let name = step.name();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("step name {name:?} is not made of letters, digits and `_`"));
        }
        if !names.insert(name.to_owned()) {
            return Err(format!("two steps are named {name:?}"));
        }
        match step {
            Step::Run { argv, .. } | Step::Spawn { argv, .. } | Step::WaitReady { argv, .. }
                if argv.is_empty() =>
            {
                return Err(format!("step {name:?} has an empty `argv`"));
            }
            Step::WaitReady { attempts: 0, .. } => {
                return Err(format!("step {name:?} allows no attempts"));
            }
            Step::WaitReady { server, .. } if !running.contains(server) => {
                return Err(format!("step {name:?} waits for {server:?}, which is not running"));
            }
            Step::Spawn { .. } => {
                running.insert(name.to_owned());
            }
            Step::Stop { server, .. } if !running.remove(server) => {
                return Err(format!("step {name:?} stops {server:?}, which is not running"));
            }
            _ => {}
        }
    }
    if let Some(server) = running.first() {
        return Err(format!("server {server:?} is never stopped"));
    }
    Ok(())
}

/// One argument as shell words: quoted, with every [`WORKDIR_TOKEN`] replaced by `"$PWD"`.
fn word(arg: &str) -> String {
    arg.split(WORKDIR_TOKEN)
        .map(|part| if part.is_empty() { String::new() } else { shell_quote(part.as_bytes()) })
        .collect::<Vec<_>>()
        .join("\"$PWD\"")
}

fn command(argv: &[String]) -> String {
    argv.iter().map(|a| word(a)).collect::<Vec<_>>().join(" ")
}

/// The script for a valid list of steps (see [`validate`]). Outputs go to `.steps/` in the
/// working directory and are copied to standard output after each step, so a server's output
/// never interleaves with a client's.
pub fn to_shell(steps: &[Step]) -> String {
    let mut s = String::from(
        "#!/bin/sh\n\
         # generated from a fixture's steps\n\
         mkdir .steps || exit 125\n\
         servers=\n\
         show() { echo \"--- $1 stdout\"; cat \".steps/$1.out\"; echo \"--- $1 stderr\"; cat \".steps/$1.err\"; }\n\
         fail() { echo \"== $1: $2\"; show \"$1\"; for p in $servers; do kill -KILL \"$p\" 2>/dev/null; done; exit 1; }\n",
    );
    for step in steps {
        let name = step.name();
        let out = format!(">.steps/{name}.out 2>.steps/{name}.err");
        match step {
            Step::Run { argv, stdin, status, .. } => {
                let input = match stdin {
                    Some(text) => format!("printf %s {} | ", shell_quote(text.as_bytes())),
                    None => String::new(),
                };
                let cmd = command(argv);
                let redirect = if stdin.is_some() { "" } else { " </dev/null" };
                s.push_str(&format!(
                    "{input}{cmd}{redirect} {out}; st=$?\n\
                     [ \"$st\" -eq {status} ] || fail {name} \"status $st, not {status}\"\n\
                     echo '== {name}: status {status}'; show {name}\n"
                ));
            }
            Step::Spawn { argv, .. } => {
                s.push_str(&format!(
                    "{} </dev/null {out} &\npid_{name}=$!; servers=\"$servers $pid_{name}\"\n\
                     echo '== {name}: started'\n",
                    command(argv)
                ));
            }
            Step::WaitReady { server, argv, attempts, .. } => {
                s.push_str(&format!(
                    "n=0\nuntil {} </dev/null {out}; do\n\
                     \x20 kill -0 \"$pid_{server}\" 2>/dev/null || fail {server} 'exited before it was ready'\n\
                     \x20 n=$((n + 1)); [ \"$n\" -lt {attempts} ] || fail {name} 'not ready after {attempts} attempts'\n\
                     \x20 sleep 0.1\ndone\necho '== {name}: ready'\n",
                    command(argv)
                ));
            }
            Step::Stop { server, argv, .. } => {
                let cmd = if argv.is_empty() {
                    format!("kill -TERM \"$pid_{server}\"")
                } else {
                    command(argv)
                };
                s.push_str(&format!(
                    "{cmd} </dev/null {out}; st=$?\n\
                     [ \"$st\" -eq 0 ] || fail {name} \"status $st, not 0\"\n\
                     echo '== {name}: status 0'; show {name}\n\
                     wait \"$pid_{server}\"; st=$?\n\
                     echo \"== {server}: status $st\"; show {server}\n"
                ));
            }
        }
    }
    s.push_str("exit 0\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(yaml: &str) -> Vec<Step> {
        serde_norway::from_str::<Steps>(yaml).unwrap().0
    }

    fn run_script(script: &str) -> (i32, String) {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap())
    }

    const SERVER: &str = "
- spawn: { name: server, argv: [sh, -c, 'echo up; touch ready; exec sleep 30'] }
- wait_ready: { name: ready, server: server, argv: [test, -e, '{workdir}/ready'] }
- run: { name: client, argv: [cat], stdin: \"it's a\\nclient\\n\" }
- stop: { name: halt, server: server }
";

    #[test]
    fn test_steps_parse_and_reject_unknown_keys() {
        let parsed = steps(SERVER);
        assert_eq!(parsed.len(), 4);
        assert!(matches!(&parsed[2], Step::Run { status: 0, stdin: Some(_), .. }));
        assert!(matches!(&parsed[1], Step::WaitReady { attempts: DEFAULT_ATTEMPTS, .. }));
        let typo = "- run: { name: a, argv: [true], stauts: 1 }";
        assert!(serde_norway::from_str::<Steps>(typo).is_err());
    }

    #[test]
    fn test_validate_names_the_step_at_fault() {
        assert_eq!(validate(&steps(SERVER)), Ok(()));
        let err = |yaml: &str| validate(&steps(yaml)).unwrap_err();
        assert!(err("- spawn: { name: s, argv: [x] }").contains("\"s\" is never stopped"));
        assert!(err("- stop: { name: h, server: s }").contains("stops \"s\", which is not"));
        assert!(err("- wait_ready: { name: w, server: s, argv: [x] }").contains("waits for \"s\""));
        assert!(err("- run: { name: a, argv: [] }").contains("empty `argv`"));
        assert!(
            err("- run: { name: a, argv: [x] }\n- run: { name: a, argv: [x] }").contains("two")
        );
        assert!(err("- run: { name: a-b, argv: [x] }").contains("not made of"));
        assert!(err("[]").contains("empty"));
    }

    #[test]
    fn test_the_workdir_token_becomes_pwd_and_the_rest_is_quoted() {
        assert_eq!(word("{workdir}/d"), "\"$PWD\"/d");
        assert_eq!(word("-k{workdir}"), "-k\"$PWD\"");
        assert_eq!(word("a b"), "'a b'");
        assert_eq!(word("plain"), "plain");
    }

    #[test]
    fn test_a_script_starts_waits_runs_and_stops_a_server() {
        let (status, out) = run_script(&to_shell(&steps(SERVER)));
        assert_eq!(status, 0, "{out}");
        assert_eq!(
            out,
            "== server: started\n== ready: ready\n\
             == client: status 0\n--- client stdout\nit's a\nclient\n--- client stderr\n\
             == halt: status 0\n--- halt stdout\n--- halt stderr\n\
             == server: status 143\n--- server stdout\nup\n--- server stderr\n"
        );
    }

    #[test]
    fn test_a_failing_step_stops_the_script_and_its_servers() {
        let script = to_shell(&steps(
            "
- spawn: { name: server, argv: [sleep, '30'] }
- run: { name: bad, argv: [sh, -c, 'echo oops >&2; exit 3'] }
- stop: { name: halt, server: server }
",
        ));
        let started = std::time::Instant::now();
        let (status, out) = run_script(&script);
        assert_eq!(status, 1);
        assert_eq!(
            out,
            "== server: started\n== bad: status 3, not 0\n--- bad stdout\n--- bad stderr\noops\n"
        );
        // The server was killed rather than waited for: sleep 30 did not run out.
        assert!(started.elapsed() < std::time::Duration::from_secs(25));
    }

    #[test]
    fn test_a_server_that_dies_before_it_is_ready_fails_the_wait() {
        let script = to_shell(&steps(
            "
- spawn: { name: server, argv: [sh, -c, 'echo broken >&2; exit 2'] }
- wait_ready: { name: ready, server: server, argv: ['false'], attempts: 1000 }
- stop: { name: halt, server: server }
",
        ));
        let (status, out) = run_script(&script);
        assert_eq!(status, 1);
        assert!(out.contains("== server: exited before it was ready\n"), "{out}");
        assert!(out.contains("--- server stderr\nbroken\n"), "{out}");
    }
}
