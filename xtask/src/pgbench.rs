//! The pgbench row of `cargo xtask bench` (`--only pgbench`): PostgreSQL 15's own benchmark, a
//! server and its clients from the `postgres` sysroot (`cargo xtask sysroot --set postgres`), run
//! under elfvisor with each fork strategy and under qemu-user, side by side in one run.
//!
//! One cluster is made once with `initdb` under elfvisor (setup, not measured; qemu-user cannot
//! run `initdb`, which starts the server through `/bin/sh`, and qemu-user's `execve` does not
//! look programs up through `-L`). Each runtime then gets a copy of it and runs everything
//! itself: the server (`postgres`, whose backends are forks of the postmaster), the readiness
//! probe, `pgbench -i -s 5` (timed) and `pgbench -c 4 -j 2 -T 20` over a unix socket, whose TPS
//! is the figure. The server is stopped with SIGINT (a fast shutdown) before the next runtime
//! starts, so the runtimes never compete for the machine.
//!
//! PostgreSQL refuses to run as root: a harness running as root runs every program as `nobody`
//! (65534), which must then reach the sysroot: a tree in root's 0700 home is out of its reach, so
//! the programs get the view of hard links the conformance cases get
//! (`elfvisor_conformance::sysroot::reachable_view`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use elfvisor_conformance::{hostrun, paths, sysroot};

const BIN: &str = "/usr/lib/postgresql/15/bin";
const QEMU: &str = "qemu-aarch64";
/// The user the programs run as when the bench runs as root: `nobody`.
const USER: u32 = 65534;
/// The pgbench scale of the data set (`-i -s`): 500,000 accounts.
const SCALE: u32 = 5;

/// One runtime the row compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Elfvisor(&'static str),
    QemuUser,
}

const RUNTIMES: [Runtime; 4] = [
    Runtime::Elfvisor("host"),
    Runtime::Elfvisor("respawn-copy"),
    Runtime::Elfvisor("respawn-snapshot"),
    Runtime::QemuUser,
];

impl Runtime {
    fn name(self) -> String {
        match self {
            Runtime::Elfvisor(strategy) => format!("elfvisor ({strategy})"),
            Runtime::QemuUser => "qemu-user".into(),
        }
    }

    /// Short, for directory names.
    fn key(self) -> &'static str {
        match self {
            Runtime::Elfvisor(strategy) => strategy,
            Runtime::QemuUser => "qemu-user",
        }
    }
}

/// What the programs need: the runtime binaries, the tree, the user, a scratch directory.
struct Setup {
    elfvisor: PathBuf,
    root: PathBuf,
    user: Option<u32>,
    dir: tempfile::TempDir,
}

impl Setup {
    /// `program args…` of the sysroot under `runtime`, with a fixed environment, as the user.
    fn command(&self, runtime: Runtime, program: &str, args: &[&str]) -> Command {
        let guest = format!("{BIN}/{program}");
        let mut cmd = match runtime {
            Runtime::Elfvisor(strategy) => {
                let mut cmd = Command::new(&self.elfvisor);
                cmd.args(["--fork-strategy", strategy, "--sysroot"]).arg(&self.root).arg(&guest);
                cmd
            }
            Runtime::QemuUser => {
                let mut cmd = Command::new(QEMU);
                cmd.arg("-L").arg(&self.root).args(["-0", &guest]);
                cmd.arg(sysroot::resolve(&self.root, &guest));
                cmd
            }
        };
        cmd.args(args).env_clear().envs([
            ("PATH", "/usr/bin:/bin"),
            ("LC_ALL", "C"),
            ("HOME", "/nonexistent"),
            ("TZ", "UTC"),
        ]);
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        if let Some(user) = self.user {
            cmd.uid(user).gid(user);
        }
        cmd
    }

    /// Runs a client to its end; its stdout, or an error with its outputs.
    fn client(&self, runtime: Runtime, program: &str, args: &[&str]) -> Result<String> {
        let mut cmd = self.command(runtime, program, args);
        let output = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
        if !output.status.success() {
            bail!(
                "{program} under {} failed ({}):\n{}{}",
                runtime.name(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// A running server, stopped (fast shutdown, then SIGKILL) when dropped.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn stop(&mut self) -> Result<()> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id())?);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        match hostrun::reap(&mut self.child, Duration::from_secs(60))? {
            Some(_) => Ok(()),
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("the server did not stop within 60 s of SIGINT (log: {})", self.log.display())
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.stop();
        }
    }
}

/// The figures of one runtime.
#[derive(Debug, Clone)]
pub struct Figures {
    pub runtime: String,
    /// Seconds `pgbench -i -s 5` took.
    pub init_s: f64,
    pub tps: f64,
    pub latency_ms: f64,
    pub transactions: u64,
}

/// Runs the row: `None`, with a note, when the postgres sysroot is not there.
pub fn run(elfvisor: &Path, seconds: u32) -> Result<Option<Vec<Figures>>> {
    let root = paths::sysroot_of(Some("postgres"));
    if let Some(why) = sysroot::unavailable(&root) {
        eprintln!(
            "bench: no pgbench row: {why} (the row needs `cargo xtask sysroot --set postgres`)"
        );
        return Ok(None);
    }
    let user = nix::unistd::geteuid().is_root().then_some(USER);
    let root = match user {
        // The tree the conformance cases of that user get: itself, or a view of hard links.
        Some(_) => {
            sysroot::reachable_view(&root, &paths::output_dir().join("views"), "sysroot-postgres")?
        }
        None => root,
    };
    if user.is_some() {
        for path in [root.as_path(), elfvisor] {
            if let Some(why) = hostrun::unreachable_by_others(path) {
                bail!(
                    "pgbench runs as user {USER} (PostgreSQL refuses root), who cannot reach \
                     {}: {why}; name a copy of the tree elsewhere with {}",
                    path.display(),
                    paths::sysroot_env("postgres")
                );
            }
        }
    }
    let dir = tempfile::Builder::new().prefix("elfvisor-pgbench-").tempdir()?;
    if let Some(user) = user {
        let id = Some(nix::unistd::Uid::from_raw(user));
        nix::unistd::chown(dir.path(), id, Some(nix::unistd::Gid::from_raw(user)))?;
    }
    let setup = Setup { elfvisor: elfvisor.to_owned(), root, user, dir };
    println!("bench: pgbench: initdb once (under elfvisor, not measured)");
    setup.client(
        Runtime::Elfvisor("host"),
        "initdb",
        &[
            "-D",
            "template",
            "-A",
            "trust",
            "--locale=C",
            "-E",
            "UTF8",
            "--no-sync",
            "-U",
            "postgres",
        ],
    )?;
    let mut figures = Vec::new();
    for runtime in RUNTIMES {
        println!("bench: pgbench under {}", runtime.name());
        figures.push(one_runtime(&setup, runtime, seconds)?);
    }
    Ok(Some(figures))
}

fn one_runtime(setup: &Setup, runtime: Runtime, seconds: u32) -> Result<Figures> {
    let data = runtime.key();
    let copied = Command::new("cp")
        .args(["-a", "template", data])
        .current_dir(setup.dir.path())
        .status()
        .context("starting cp")?;
    if !copied.success() {
        bail!("copying the cluster for {} failed", runtime.name());
    }
    let socket = setup.dir.path().join(data);
    let socket = socket.to_str().context("the scratch directory's path is UTF-8")?;
    let log = setup.dir.path().join(format!("{data}.log"));
    let log_file = std::fs::File::create(&log)?;
    if let Some(user) = setup.user {
        let id = Some(nix::unistd::Uid::from_raw(user));
        nix::unistd::chown(&log, id, Some(nix::unistd::Gid::from_raw(user)))?;
    }
    let mut cmd =
        setup.command(runtime, "postgres", &["-D", data, "-k", socket, "-c", "listen_addresses="]);
    cmd.stdout(log_file.try_clone()?).stderr(log_file);
    let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let mut server = Server { child, log: log.clone() };
    let connect = ["-h", socket, "-U", "postgres"];
    let ready = Instant::now() + Duration::from_secs(120);
    loop {
        if setup.client(runtime, "pg_isready", &[&connect[..], &["-q"]].concat()).is_ok() {
            break;
        }
        if server.child.try_wait()?.is_some() || Instant::now() > ready {
            bail!(
                "the server under {} never became ready:\n{}",
                runtime.name(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let scale = SCALE.to_string();
    let started = Instant::now();
    setup.client(
        runtime,
        "pgbench",
        &[&connect[..], &["-i", "-q", "-s", &scale, "postgres"]].concat(),
    )?;
    let init_s = started.elapsed().as_secs_f64();
    let time = seconds.to_string();
    let out = setup.client(
        runtime,
        "pgbench",
        &[&connect[..], &["-c", "4", "-j", "2", "-T", &time, "postgres"]].concat(),
    )?;
    server.stop()?;
    let (tps, latency_ms, transactions) = parse(&out)
        .with_context(|| format!("reading pgbench's report under {}:\n{out}", runtime.name()))?;
    Ok(Figures { runtime: runtime.name(), init_s, tps, latency_ms, transactions })
}

/// TPS, the average latency in ms and the transactions done, from pgbench's report.
fn parse(out: &str) -> Option<(f64, f64, u64)> {
    let value = |prefix: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
    };
    let tps = value("tps = ")?.parse().ok()?;
    let latency = value("latency average = ")?.parse().ok()?;
    let transactions = value("number of transactions actually processed: ")?.parse().ok()?;
    Some((tps, latency, transactions))
}

/// The figures as JSON, for the bench's report file.
pub fn json(figures: &[Figures], seconds: u32) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = figures
        .iter()
        .map(|f| {
            serde_json::json!({
                "runtime": f.runtime,
                "init_seconds": f.init_s,
                "tps": f.tps,
                "latency_avg_ms": f.latency_ms,
                "transactions": f.transactions,
            })
        })
        .collect();
    serde_json::json!({
        "init": format!("pgbench -i -s {SCALE}"),
        "run": format!("pgbench -c 4 -j 2 -T {seconds}"),
        "runtimes": rows,
    })
}

/// The row's table: one line per runtime, TPS against qemu-user's.
pub fn render(figures: &[Figures], seconds: u32) -> String {
    let qemu = figures.iter().find(|f| f.runtime == "qemu-user").map(|f| f.tps);
    let mut out = format!(
        "| pgbench (PostgreSQL 15, unix socket) | `-i -s {SCALE}` | TPS, `-c 4 -j 2 -T {seconds}` | \
         latency avg | TPS / qemu-user's |\n|---|--:|--:|--:|--:|\n"
    );
    for f in figures {
        let ratio =
            qemu.filter(|q| *q > 0.0).map_or("–".into(), |q| format!("{:.2}×", f.tps / q));
        out.push_str(&format!(
            "| {} | {:.1} s | {:.1} | {:.2} ms | {ratio} |\n",
            f.runtime, f.init_s, f.tps, f.latency_ms
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_reads_pgbench_15_report() {
        let out = "pgbench (15.20 (Debian 15.20-0+deb12u1))\ntransaction type: <builtin: TPC-B \
                   (sort of)>\nscaling factor: 5\nquery mode: simple\nnumber of clients: 4\n\
                   number of threads: 2\nmaximum number of tries: 1\nduration: 20 s\nnumber of \
                   transactions actually processed: 5123\nnumber of failed transactions: 0 \
                   (0.000%)\nlatency average = 15.617 ms\ninitial connection time = 40.101 ms\n\
                   tps = 256.128306 (without initial connection time)\n";
        assert_eq!(parse(out), Some((256.128306, 15.617, 5123)));
        assert_eq!(parse("tps = x\n"), None);
    }

    #[test]
    fn test_render_compares_with_qemu_user() {
        let f = |runtime: &str, tps| Figures {
            runtime: runtime.into(),
            init_s: 3.0,
            tps,
            latency_ms: 1.0,
            transactions: 10,
        };
        let table = render(&[f("elfvisor (host)", 300.0), f("qemu-user", 200.0)], 20);
        assert!(table.contains("| elfvisor (host) | 3.0 s | 300.0 | 1.00 ms | 1.50× |"), "{table}");
        assert!(table.contains("| qemu-user | 3.0 s | 200.0 | 1.00 ms | 1.00× |"), "{table}");
    }
}
