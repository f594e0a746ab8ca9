//! `cargo xtask bench`: elfvisor against qemu-user on the same guest programs, in one run.
//!
//! The guests (`guest-src/bench/*.c`) are built static with the harness's own guest builder. Each
//! workload runs under `elfvisor PROGRAM ARGS` and `qemu-aarch64 PROGRAM ARGS` alternately — one
//! warm-up pair, then N timed rounds whose order flips every round — so noise on this shared
//! machine hits both runtimes alike. A sample is the wall-clock time of the whole process, spawn
//! to exit. Both runtimes must print the same result line in every run.
//!
//! Workloads (musl, plus glibc for startup and the clock read, where the C library's own code
//! matters):
//! `hello` (startup), `getppid COUNT` (raw `svc` round trips), `alu COUNT` (a six-instruction
//! dependent integer chain), `loadstore COUNT` (two loads and two stores in eleven
//! instructions), `chase COUNT` (a dependent load per step through a random linked list over
//! 64 MiB, after building it), `fp COUNT` (a dependent chain of scalar double-precision
//! operations), `atomics lse|llsc COUNT` (single-threaded `ldaddal`, or an `ldaxr`/`stlxr` retry
//! loop), `rwx COUNT` (the load/store loop on a read-write-execute page holding no code),
//! `randread MIB COUNT` (a load from a random word of an MIB MiB buffer per step, after filling
//! it: more pages than a small TLB covers) and
//! `clock_gettime COUNT` (the C library's clock read, through the vDSO where the runtime maps
//! one). The loop guests print their instructions per iteration, from which the instruction
//! rates are derived; per-iteration figures subtract each runtime's own median startup. One more
//! row runs an `awk` loop under Debian's static busybox (the conformance cases'
//! `ELFVISOR_BUSYBOX`, or the one `cargo xtask deps` caches), skipped with a note when that binary
//! is missing.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use elfvisor_conformance::guest::{GuestBuilder, Libc};
use elfvisor_conformance::paths;

const QEMU: &str = "qemu-aarch64";

/// The command line of `cargo xtask bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Timed runs per workload and runtime (default 7, or 3 with --quick).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Fewer runs and a tenth of the work: a quick look, not figures to quote.
    #[arg(long)]
    pub quick: bool,
    /// getppid calls in the syscall workload (default 1,000,000).
    #[arg(long, value_name = "N")]
    pub syscalls: Option<u64>,
    /// Iterations of the ALU loop, 6 instructions each (default 100,000,000).
    #[arg(long, value_name = "N")]
    pub alu_iterations: Option<u64>,
    /// Iterations of the load/store loop, 11 instructions each (default 50,000,000).
    #[arg(long, value_name = "N")]
    pub mem_iterations: Option<u64>,
    /// Only the workloads whose name contains TEXT (with the startup and setup rows the
    /// derived figures subtract), e.g. `--only futex`.
    #[arg(long, value_name = "TEXT")]
    pub only: Option<String>,
}

impl Options {
    fn runs(&self) -> usize {
        self.runs.unwrap_or(if self.quick { 3 } else { 7 }).max(1)
    }

    /// `full` work, or a tenth of it with `--quick`, unless given explicitly.
    fn work(&self, given: Option<u64>, full: u64) -> u64 {
        given.unwrap_or(if self.quick { full / 10 } else { full }).max(1)
    }
}

/// What a workload measures, which decides its derived figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Process start to exit of a program that does (almost) nothing.
    Startup,
    /// `count` system call round trips.
    Syscalls { count: u64 },
    /// `iterations` of a loop whose instruction count the guest prints.
    Loop { iterations: u64 },
    /// `count` repetitions of an operation (a fork, an mmap round, a round trip), after
    /// subtracting the startup, or the time of the `Setup` workload named by `setup`.
    Ops { count: u64, what: &'static str, setup: Option<&'static str> },
    /// The same program doing everything but the operations: what `Ops` rows naming it subtract.
    Setup { key: &'static str },
}

/// One row of the table: a guest program, its arguments and its libc.
#[derive(Debug)]
struct Workload {
    name: String,
    program: &'static str,
    /// A binary to run as it is (busybox) instead of building `guest-src/bench/PROGRAM.c`.
    prebuilt: Option<PathBuf>,
    /// A program of the sysroot, as the guest names it: elfvisor runs it with `--sysroot`,
    /// qemu-user with `-L` and its host path there (`prebuilt`).
    sysroot: Option<&'static str>,
    libc: Libc,
    args: Vec<String>,
    /// Options for elfvisor itself (the fork strategy).
    elfvisor_args: Vec<String>,
    kind: Kind,
}

fn workloads(opts: &Options, glibc: bool) -> Vec<Workload> {
    let syscalls = opts.work(opts.syscalls, 1_000_000);
    let alu = opts.work(opts.alu_iterations, 100_000_000);
    let mem = opts.work(opts.mem_iterations, 50_000_000);
    let mut list = vec![Workload {
        name: "startup (hello, musl)".into(),
        program: "hello",
        libc: Libc::Musl,
        prebuilt: None,
        sysroot: None,
        args: vec![],
        elfvisor_args: vec![],
        kind: Kind::Startup,
    }];
    if glibc {
        list.push(Workload {
            name: "startup (hello, glibc)".into(),
            program: "hello",
            libc: Libc::Glibc,
            prebuilt: None,
            sysroot: None,
            args: vec![],
            elfvisor_args: vec![],
            kind: Kind::Startup,
        });
    }
    list.extend([
        Workload {
            name: format!("getppid × {}", thousands(syscalls)),
            program: "getppid",
            libc: Libc::Musl,
            prebuilt: None,
            sysroot: None,
            args: vec![syscalls.to_string()],
            elfvisor_args: vec![],
            kind: Kind::Syscalls { count: syscalls },
        },
        Workload {
            name: format!("alu × {}", thousands(alu)),
            program: "alu",
            libc: Libc::Musl,
            prebuilt: None,
            sysroot: None,
            args: vec![alu.to_string()],
            elfvisor_args: vec![],
            kind: Kind::Loop { iterations: alu },
        },
        Workload {
            name: format!("load/store × {}", thousands(mem)),
            program: "loadstore",
            libc: Libc::Musl,
            prebuilt: None,
            sysroot: None,
            args: vec![mem.to_string()],
            elfvisor_args: vec![],
            kind: Kind::Loop { iterations: mem },
        },
    ]);
    let chase = opts.work(None, 2_000_000);
    let fp = opts.work(None, 20_000_000);
    let lse = opts.work(None, 200_000_000);
    let llsc = opts.work(None, 100_000_000);
    let reads = opts.work(None, 20_000_000);
    for (name, program, args, iterations) in [
        (format!("pointer chase over 64 MiB × {}", thousands(chase)), "chase", vec![], chase),
        (format!("scalar fp × {}", thousands(fp)), "fp", vec![], fp),
        (format!("atomics, ldaddal × {}", thousands(lse)), "atomics", vec!["lse"], lse),
        (format!("atomics, ldaxr/stlxr × {}", thousands(llsc)), "atomics", vec!["llsc"], llsc),
        (format!("stores to an RWX page × {}", thousands(mem)), "rwx", vec![], mem),
        (format!("random reads over 1 MiB × {}", thousands(reads)), "randread", vec!["1"], reads),
        (format!("random reads over 4 MiB × {}", thousands(reads)), "randread", vec!["4"], reads),
        (format!("random reads over 64 MiB × {}", thousands(reads)), "randread", vec!["64"], reads),
    ] {
        let mut args: Vec<String> = args.into_iter().map(String::from).collect();
        args.push(iterations.to_string());
        list.push(Workload {
            name,
            program,
            libc: Libc::Musl,
            prebuilt: None,
            sysroot: None,
            args,
            elfvisor_args: vec![],
            kind: Kind::Loop { iterations },
        });
    }
    let busybox = paths::busybox();
    if busybox.is_file() {
        let awk = opts.work(None, 20_000);
        list.push(Workload {
            name: format!("busybox awk loop × {}", thousands(awk)),
            program: "busybox",
            libc: Libc::Glibc,
            prebuilt: Some(busybox),
            sysroot: None,
            args: vec!["awk".into(), awk_script(awk)],
            elfvisor_args: vec![],
            kind: Kind::Ops { count: awk, what: "awk loop iteration", setup: None },
        });
    } else {
        eprintln!(
            "bench: no busybox at {} (set {} or run `cargo xtask deps`): no awk row",
            busybox.display(),
            paths::BUSYBOX_ENV
        );
    }
    // The 64 MiB rows subtract a run that dirties the memory and forks nothing, so they give
    // the fork alone; the first fork (which freezes the memory in `respawn-snapshot`) is shown
    // on its own as well as averaged in.
    let (small_forks, big_forks) = if opts.quick { (20, 5) } else { (200, 20) };
    const BIG_SETUP: &str = "fork-64mib";
    list.push(Workload {
        name: "64 MiB dirtied, no fork (setup)".into(),
        program: "fork",
        libc: Libc::Musl,
        prebuilt: None,
        sysroot: None,
        args: vec!["0".into(), "64".into()],
        elfvisor_args: vec![],
        kind: Kind::Setup { key: BIG_SETUP },
    });
    for strategy in ["host", "respawn-copy", "respawn-snapshot"] {
        for (forks, mib, what) in [
            (small_forks, 0u64, "fork+exit+wait"),
            (1, 64, "first fork+exit+wait"),
            (big_forks, 64, "fork+exit+wait"),
        ] {
            list.push(Workload {
                name: format!("fork+exit+wait × {forks}, {mib} MiB dirty ({strategy})"),
                program: "fork",
                libc: Libc::Musl,
                prebuilt: None,
                sysroot: None,
                args: vec![forks.to_string(), mib.to_string()],
                elfvisor_args: vec!["--fork-strategy".into(), strategy.into()],
                kind: Kind::Ops { count: forks, what, setup: (mib > 0).then_some(BIG_SETUP) },
            });
        }
    }
    let clock_reads = opts.work(None, 1_000_000);
    for libc in [Libc::Musl, Libc::Glibc].into_iter().filter(|l| glibc || *l == Libc::Musl) {
        list.push(Workload {
            name: format!("clock_gettime × {} ({libc})", thousands(clock_reads)),
            program: "clock_gettime",
            prebuilt: None,
            sysroot: None,
            libc,
            args: vec![clock_reads.to_string()],
            elfvisor_args: vec![],
            kind: Kind::Ops {
                count: clock_reads,
                what: "clock_gettime(CLOCK_MONOTONIC) through the C library",
                setup: None,
            },
        });
    }
    let rounds = if opts.quick { 2_000 } else { 20_000 };
    list.extend([
        Workload {
            name: format!("mmap+touch+munmap of 16 pages × {}", thousands(rounds)),
            program: "mmap",
            libc: Libc::Musl,
            prebuilt: None,
            sysroot: None,
            args: vec![rounds.to_string()],
            elfvisor_args: vec![],
            kind: Kind::Ops { count: rounds, what: "mmap+touch 16 pages+munmap", setup: None },
        },
        Workload {
            name: format!("MAP_SHARED ping-pong × {}", thousands(rounds)),
            program: "pingpong",
            libc: Libc::Musl,
            prebuilt: None,
            sysroot: None,
            args: vec![rounds.to_string()],
            elfvisor_args: vec![],
            kind: Kind::Ops {
                count: rounds,
                what: "MAP_SHARED round trip (2 write→read)",
                setup: None,
            },
        },
    ]);
    for (mode, what) in [
        ("threads", "futex round trip, 2 threads (2 wake→wakeup)"),
        ("processes", "futex round trip, 2 processes (2 wake→wakeup)"),
    ] {
        list.push(Workload {
            name: format!("futex ping-pong, 2 {mode} × {}", thousands(rounds)),
            program: "futex",
            libc: Libc::Musl,
            prebuilt: None,
            sysroot: None,
            args: vec![mode.into(), rounds.to_string()],
            elfvisor_args: vec![],
            kind: Kind::Ops { count: rounds, what, setup: None },
        });
    }
    list.push(Workload {
        name: format!("epoll wakeup ping-pong, 2 threads × {}", thousands(rounds)),
        program: "epoll_wakeup",
        libc: Libc::Musl,
        prebuilt: None,
        sysroot: None,
        args: vec![rounds.to_string()],
        elfvisor_args: vec![],
        kind: Kind::Ops {
            count: rounds,
            what: "eventfd write → epoll_pwait return, 2 threads (2 per round trip)",
            setup: None,
        },
    });
    let (pings, mib) = if opts.quick { (2_000, 32) } else { (20_000, 256) };
    list.extend([
        Workload {
            name: format!("TCP socket ping-pong on loopback, 2 processes × {}", thousands(pings)),
            program: "sockets",
            libc: Libc::Musl,
            prebuilt: None,
            sysroot: None,
            args: vec!["tcp".into(), pings.to_string()],
            elfvisor_args: vec![],
            kind: Kind::Ops {
                count: pings,
                what: "1-byte TCP round trip on 127.0.0.1, 2 processes",
                setup: None,
            },
        },
        Workload {
            name: format!("unix stream socketpair throughput, {mib} MiB"),
            program: "sockets",
            libc: Libc::Musl,
            prebuilt: None,
            sysroot: None,
            args: vec!["unix".into(), mib.to_string()],
            elfvisor_args: vec![],
            kind: Kind::Ops {
                count: mib,
                what: "MiB through an AF_UNIX stream pair in 64 KiB writes, 2 processes",
                setup: None,
            },
        },
    ]);
    if let Some(only) = &opts.only {
        list.retain(|w| {
            matches!(w.kind, Kind::Startup | Kind::Setup { .. }) || w.name.contains(only.as_str())
        });
    }
    list
}

/// The rows that run real dynamically linked programs from the sysroot (`cargo xtask sysroot`),
/// their names ending in "(sysroot)" (`--only sysroot`): the startup of Python, bash and git,
/// a pure-Python loop and a bash loop of subshells, each after subtracting its interpreter's
/// own startup. Without a sysroot there are none, with a note.
fn sysroot_workloads(opts: &Options) -> Vec<Workload> {
    let root = paths::sysroot();
    if let Some(why) = elfvisor_conformance::sysroot::unavailable(&root) {
        eprintln!("bench: no sysroot rows: {why}");
        return vec![];
    }
    let row = |name: String, program: &'static str, args: &[&str], kind: Kind| Workload {
        name: format!("{name} (sysroot)"),
        program,
        prebuilt: Some(elfvisor_conformance::sysroot::resolve(&root, program)),
        sysroot: Some(program),
        libc: Libc::Glibc,
        args: args.iter().map(|a| a.to_string()).collect(),
        elfvisor_args: vec![],
        kind,
    };
    let loops = opts.work(None, 1_000_000);
    let subshells = if opts.quick { 20 } else { 200 };
    let python_loop = format!(
        "s = 0\nfor i in range({loops}):\n    s += i * i % 7\nprint('python loop:', {loops}, s)"
    );
    let bash_loop = format!(
        "for i in $(seq 1 {subshells}); do v=$(echo $i); s=$((s + v)); done; \
         echo \"bash subshells: {subshells} $s\""
    );
    let mut list = vec![
        row(
            "python3 -c pass".into(),
            "/usr/bin/python3",
            &["-c", "pass"],
            Kind::Setup { key: "python3" },
        ),
        row("bash -c true".into(), "/bin/bash", &["-c", "true"], Kind::Setup { key: "bash" }),
        row("git --version".into(), "/usr/bin/git", &["--version"], Kind::Startup),
        Workload {
            args: vec!["-c".into(), python_loop],
            ..row(
                format!("pure-Python loop × {}", thousands(loops)),
                "/usr/bin/python3",
                &[],
                Kind::Ops {
                    count: loops,
                    what: "pure-Python loop iteration",
                    setup: Some("python3"),
                },
            )
        },
        Workload {
            args: vec!["-c".into(), bash_loop],
            ..row(
                format!("bash $(…) subshells × {subshells}"),
                "/bin/bash",
                &[],
                Kind::Ops { count: subshells, what: "bash $(…) subshell", setup: Some("bash") },
            )
        },
    ];
    if let Some(only) = &opts.only {
        list.retain(|w| matches!(w.kind, Kind::Setup { .. }) || w.name.contains(only.as_str()));
    }
    list
}

/// The awk row's program: arithmetic, an array and a string function per iteration, as an
/// interpreter loop mixes them.
fn awk_script(iterations: u64) -> String {
    format!(
        "BEGIN {{ for (i = 0; i < {iterations}; i++) {{ s += i % 7; a[i % 100] += i; \
         if (substr(\"abcdef\", i % 6 + 1, 1) == \"c\") c++ }} \
         printf \"awk: %d iterations, sum %d, c %d, a %d\\n\", i, s, c, a[42] }}"
    )
}

/// The two runtimes compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Elfvisor,
    QemuUser,
}

impl Runtime {
    fn command(self, elfvisor: &Path, workload: &Workload, program: &Path) -> Command {
        let mut cmd = match self {
            Runtime::Elfvisor => {
                let mut cmd = Command::new(elfvisor);
                cmd.args(&workload.elfvisor_args);
                cmd
            }
            Runtime::QemuUser => Command::new(QEMU),
        };
        match (self, workload.sysroot) {
            (Runtime::Elfvisor, Some(guest_path)) => {
                cmd.arg("--sysroot").arg(paths::sysroot()).arg(guest_path);
            }
            (Runtime::QemuUser, Some(_)) => {
                cmd.arg("-L").arg(paths::sysroot()).arg(program);
            }
            (_, None) => {
                cmd.arg(program);
            }
        }
        // The same environment for both, whatever the shell that runs the bench has: no host
        // HOME whose dotfiles the guest could read through the sysroot's host fallback.
        if workload.sysroot.is_some() {
            cmd.env_clear().envs([
                ("PATH", "/usr/bin:/bin"),
                ("LC_ALL", "C"),
                ("HOME", "/nonexistent"),
            ]);
        }
        cmd.args(&workload.args);
        cmd
    }

    fn name(self) -> &'static str {
        match self {
            Runtime::Elfvisor => "elfvisor",
            Runtime::QemuUser => "qemu-user",
        }
    }
}

/// Runs `cmd` once: the wall-clock seconds from spawn to exit, and its stdout.
fn time_once(mut cmd: Command) -> Result<(f64, String)> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let output = child.wait_with_output().with_context(|| format!("waiting for {cmd:?}"))?;
    let seconds = start.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((seconds, String::from_utf8_lossy(&output.stdout).trim_end().to_owned()))
}

/// The measured samples of one workload.
#[derive(Debug)]
struct Measured {
    workload: Workload,
    binary: PathBuf,
    /// The result line both runtimes printed.
    result: String,
    elfvisor: Vec<f64>,
    qemu: Vec<f64>,
}

/// `cargo xtask bench`.
pub fn run(opts: &Options) -> Result<()> {
    if which::which(QEMU).is_err() {
        bail!("{QEMU} is not installed: run `cargo xtask deps` (installs qemu-user)");
    }
    let elfvisor = elfvisor_conformance::elfvisor_lane::binary()
        .map_err(|e| anyhow::anyhow!(e))
        .context("building elfvisor")?;
    let builder = GuestBuilder::new();
    let glibc = builder.toolchain(Libc::Glibc).is_ok();
    let runs = opts.runs();
    let host = host_description();
    let qemu_version = first_line(Command::new(QEMU).arg("--version"));
    println!("bench: elfvisor {} vs {qemu_version}", elfvisor.display());
    println!("bench: {host}; {runs} timed runs per workload and runtime, interleaved");

    let workloads: Vec<Workload> =
        workloads(opts, glibc).into_iter().chain(sysroot_workloads(opts)).collect();
    // `--only pgbench` asks for the pgbench row alone: the startup rows kept for the others'
    // subtractions are not worth timing then.
    let own = |w: &Workload| !matches!(w.kind, Kind::Startup | Kind::Setup { .. });
    if opts.only.is_none() || workloads.iter().any(own) {
        micro(opts, &elfvisor, &builder, workloads, runs, &host, &qemu_version)?;
    }
    if opts.only.as_deref().is_none_or(|only| PGBENCH_ROW.contains(only)) {
        let seconds = if opts.quick { 5 } else { 20 };
        if let Some(figures) = crate::pgbench::run(&elfvisor, seconds)? {
            println!("\n{}", crate::pgbench::render(&figures, seconds));
            let dir = paths::target_dir().join("bench");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join("pgbench.json");
            let report = crate::pgbench::json(&figures, seconds);
            std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            println!("pgbench figures: {}", path.display());
        }
    }
    Ok(())
}

/// The name `--only` matches to choose the pgbench row ([`crate::pgbench`]).
const PGBENCH_ROW: &str = "pgbench";

/// The table of the guest programs, their derived figures and `target/bench/report.json`.
fn micro(
    opts: &Options,
    elfvisor: &Path,
    builder: &GuestBuilder,
    workloads: Vec<Workload>,
    runs: usize,
    host: &str,
    qemu_version: &str,
) -> Result<()> {
    let source_dir = paths::guest_src().join("bench");
    let mut measured = Vec::new();
    for workload in workloads {
        let binary = match &workload.prebuilt {
            Some(binary) => binary.clone(),
            None => {
                let source = source_dir.join(format!("{}.c", workload.program));
                builder
                    .build(workload.libc, &source, workload.program)
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .with_context(|| format!("building {}", source.display()))?
            }
        };
        measured.push(Measured {
            workload,
            binary,
            result: String::new(),
            elfvisor: vec![],
            qemu: vec![],
        });
    }

    measure(&mut measured, elfvisor, runs)?;

    let rows: Vec<Row> = measured
        .iter()
        .map(|m| Row {
            name: m.workload.name.clone(),
            elfvisor: median(&m.elfvisor),
            qemu: median(&m.qemu),
            best: fastest(&m.elfvisor) / fastest(&m.qemu),
        })
        .collect();
    let derived = derive(&measured)?;
    println!("\n{}", render_table(&rows));
    println!("{}", render_derived(&derived));
    let plural = if runs == 1 { "" } else { "s" };
    println!(
        "Medians of {runs} run{plural}; wall-clock time of the whole process. ratio = \
         elfvisor / qemu-user (< 1: elfvisor is faster); fastest = the same ratio of each \
         runtime's fastest run,\nsteadier where a loop's time on this host has two modes. \
         Per-call and per-instruction figures subtract each runtime's own median musl startup."
    );

    let report = report_json(&measured, &derived, runs, opts.quick, host, qemu_version);
    let dir = paths::target_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    println!("\nraw samples: {}", path.display());
    Ok(())
}

/// One warm-up pair per workload (page cache, first-run effects), which also checks that both
/// runtimes agree before any time is spent, then `runs` timed rounds, alternating which runtime
/// goes first.
fn measure(measured: &mut [Measured], elfvisor: &Path, runs: usize) -> Result<()> {
    for m in measured.iter_mut() {
        let (_, a) = time_once(Runtime::Elfvisor.command(elfvisor, &m.workload, &m.binary))?;
        let (_, b) = time_once(Runtime::QemuUser.command(elfvisor, &m.workload, &m.binary))?;
        if a != b {
            bail!("{}: elfvisor printed {a:?}, qemu-user printed {b:?}", m.workload.name);
        }
        m.result = a;
    }
    let progress = std::io::stderr().is_terminal();
    for round in 0..runs {
        if progress {
            eprint!("\rbench: round {}/{runs}", round + 1);
        }
        let order = if round % 2 == 0 {
            [Runtime::Elfvisor, Runtime::QemuUser]
        } else {
            [Runtime::QemuUser, Runtime::Elfvisor]
        };
        for m in measured.iter_mut() {
            for runtime in order {
                let cmd = runtime.command(elfvisor, &m.workload, &m.binary);
                let (seconds, out) = time_once(cmd)?;
                if out != m.result {
                    bail!(
                        "{} under {}: printed {out:?}, the warm-up printed {:?}",
                        m.workload.name,
                        runtime.name(),
                        m.result
                    );
                }
                match runtime {
                    Runtime::Elfvisor => m.elfvisor.push(seconds),
                    Runtime::QemuUser => m.qemu.push(seconds),
                }
            }
        }
    }
    if progress {
        eprintln!();
    }
    Ok(())
}

/// A derived figure for both runtimes (`None` when the subtraction leaves nothing to divide).
#[derive(Debug, Clone, PartialEq)]
struct Derived {
    what: String,
    unit: &'static str,
    elfvisor: Option<f64>,
    qemu: Option<f64>,
}

/// Nanoseconds per call, after the startup is subtracted.
fn per_call_ns(total: f64, startup: f64, count: u64) -> Option<f64> {
    let work = total - startup;
    (work > 0.0 && count > 0).then(|| work * 1e9 / count as f64)
}

/// Millions of guest instructions per second, after the startup is subtracted.
fn mips(total: f64, startup: f64, instructions: u64) -> Option<f64> {
    let work = total - startup;
    (work > 0.0).then(|| instructions as f64 / work / 1e6)
}

/// The instructions per iteration a loop guest states in its result line
/// (`… N iterations x K insns, …`).
fn insns_per_iteration(result: &str) -> Option<u64> {
    let words: Vec<&str> = result.split_whitespace().collect();
    words
        .windows(3)
        .find(|w| w[0] == "x" && w[2].starts_with("insns"))
        .and_then(|w| w[1].parse().ok())
}

fn derive(measured: &[Measured]) -> Result<Vec<Derived>> {
    let startup = measured
        .iter()
        .find(|m| m.workload.kind == Kind::Startup && m.workload.libc == Libc::Musl)
        .context("no musl startup workload to subtract")?;
    let (start_e, start_q) = (median(&startup.elfvisor), median(&startup.qemu));
    let mut derived = Vec::new();
    for m in measured {
        let (e, q) = (median(&m.elfvisor), median(&m.qemu));
        match m.workload.kind {
            Kind::Startup => {}
            Kind::Syscalls { count } => derived.push(Derived {
                what: "getppid round trip".into(),
                unit: "ns",
                elfvisor: per_call_ns(e, start_e, count),
                qemu: per_call_ns(q, start_q, count),
            }),
            Kind::Setup { .. } => {}
            Kind::Ops { count, what, setup } => {
                let (base_e, base_q) = match setup {
                    None => (start_e, start_q),
                    Some(key) => {
                        let base = measured
                            .iter()
                            .find(|b| b.workload.kind == Kind::Setup { key })
                            .with_context(|| format!("no setup workload {key} to subtract"))?;
                        (median(&base.elfvisor), median(&base.qemu))
                    }
                };
                derived.push(Derived {
                    what: format!("{what} ({})", m.workload.name),
                    unit: "µs",
                    elfvisor: per_call_ns(e, base_e, count).map(|ns| ns / 1e3),
                    qemu: per_call_ns(q, base_q, count).map(|ns| ns / 1e3),
                });
            }
            Kind::Loop { iterations } => {
                let per = insns_per_iteration(&m.result).with_context(|| {
                    format!("{} printed no instruction count: {:?}", m.workload.program, m.result)
                })?;
                let instructions = iterations.saturating_mul(per);
                // The result line's label (`atomics lse: …`) names the loop.
                let label = m.result.split(':').next().unwrap_or(m.workload.program);
                derived.push(Derived {
                    what: format!("{label} guest instructions/s"),
                    unit: "M/s",
                    elfvisor: mips(e, start_e, instructions),
                    qemu: mips(q, start_q, instructions),
                });
            }
        }
    }
    Ok(derived)
}

/// The median of the samples (the mean of the middle two for an even count; NaN for none).
fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The fastest sample (NaN for none). Noise on a shared host only adds time, and some loops'
/// times have two modes on it (under both runtimes, the mode changing between runs and even
/// within one), so the ratio of the fastest runs says what each runtime's code can do.
fn fastest(samples: &[f64]) -> f64 {
    samples.iter().copied().min_by(f64::total_cmp).unwrap_or(f64::NAN)
}

/// One line of the main table: medians in seconds, and the ratio of the fastest runs.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    name: String,
    elfvisor: f64,
    qemu: f64,
    best: f64,
}

/// Seconds as milliseconds with enough digits for a few-millisecond startup.
fn fmt_ms(seconds: f64) -> String {
    let ms = seconds * 1e3;
    if ms < 100.0 { format!("{ms:.2} ms") } else { format!("{ms:.1} ms") }
}

/// elfvisor / qemu-user, and the same in words.
fn fmt_ratio(elfvisor: f64, qemu: f64) -> (String, String) {
    let ratio = elfvisor / qemu;
    if !ratio.is_finite() || ratio <= 0.0 {
        return ("-".into(), "-".into());
    }
    let words = if format!("{ratio:.2}") == "1.00" {
        "as fast".to_owned()
    } else if ratio < 1.0 {
        format!("{:.2}× faster", 1.0 / ratio)
    } else {
        format!("{ratio:.2}× slower")
    };
    (format!("{ratio:.2}"), words)
}

fn fmt_option(value: Option<f64>, unit: &str) -> String {
    match value {
        Some(v) if v >= 100.0 => format!("{v:.0} {unit}"),
        Some(v) => format!("{v:.1} {unit}"),
        None => "n/a".into(),
    }
}

/// `1000000` as `1,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A Markdown table (pasteable into the README) with right-aligned number columns.
fn markdown(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let width = |c: usize| {
        rows.iter()
            .map(|r| r[c].chars().count())
            .chain([header[c].chars().count(), 3])
            .max()
            .unwrap_or(3)
    };
    let widths: Vec<usize> = (0..cols).map(width).collect();
    let line = |cells: &[String]| {
        let cells: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let pad = widths[c] - s.chars().count();
                if c == 0 {
                    format!("{s}{}", " ".repeat(pad))
                } else {
                    format!("{}{s}", " ".repeat(pad))
                }
            })
            .collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(c, &w)| if c == 0 { "-".repeat(w + 2) } else { format!("{}:", "-".repeat(w + 1)) })
        .collect();
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn render_table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let (ratio, words) = fmt_ratio(r.elfvisor, r.qemu);
            let (best, _) = fmt_ratio(r.best, 1.0);
            vec![r.name.clone(), fmt_ms(r.elfvisor), fmt_ms(r.qemu), ratio, words, best]
        })
        .collect();
    markdown(&["workload", "elfvisor", "qemu-user", "ratio", "elfvisor is", "fastest"], &cells)
}

fn render_derived(derived: &[Derived]) -> String {
    let cells: Vec<Vec<String>> = derived
        .iter()
        .map(|d| vec![d.what.clone(), fmt_option(d.elfvisor, d.unit), fmt_option(d.qemu, d.unit)])
        .collect();
    markdown(&["derived", "elfvisor", "qemu-user"], &cells)
}

/// Everything measured, with every raw sample, for `target/bench/report.json`.
fn report_json(
    measured: &[Measured],
    derived: &[Derived],
    runs: usize,
    quick: bool,
    host: &str,
    qemu_version: &str,
) -> serde_json::Value {
    let unix_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let workloads: Vec<serde_json::Value> = measured
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.workload.name,
                "program": m.workload.program,
                "libc": m.workload.libc.id(),
                "args": m.workload.args,
                "binary": m.binary,
                "result": m.result,
                "elfvisor_seconds": m.elfvisor,
                "qemu_user_seconds": m.qemu,
                "elfvisor_median_seconds": median(&m.elfvisor),
                "qemu_user_median_seconds": median(&m.qemu),
                "ratio": median(&m.elfvisor) / median(&m.qemu),
                "fastest_ratio": fastest(&m.elfvisor) / fastest(&m.qemu),
            })
        })
        .collect();
    let derived: Vec<serde_json::Value> = derived
        .iter()
        .map(|d| {
            serde_json::json!({
                "what": d.what, "unit": d.unit, "elfvisor": d.elfvisor, "qemu_user": d.qemu,
            })
        })
        .collect();
    serde_json::json!({
        "unix_time": unix_time,
        "host": host,
        "qemu": qemu_version,
        "elfvisor_commit": first_line(Command::new("git").args(["describe", "--always", "--dirty"])),
        "runs": runs,
        "quick": quick,
        "timing": "wall-clock seconds of the whole process, spawn to exit",
        "workloads": workloads,
        "derived": derived,
    })
}

/// The first line of a command's stdout, or `unknown`.
fn first_line(cmd: &mut Command) -> String {
    cmd.current_dir(paths::workspace_root())
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// `N-core <cpu model>`, from /proc/cpuinfo when there is one.
fn host_description() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.into());
    format!("{cpus}-core {model}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_median_of_odd_even_and_no_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn test_ratio_reads_as_faster_or_slower() {
        assert_eq!(fmt_ratio(1.0, 4.0), ("0.25".into(), "4.00× faster".into()));
        assert_eq!(fmt_ratio(3.0, 2.0), ("1.50".into(), "1.50× slower".into()));
        assert_eq!(fmt_ratio(1.0, 0.0), ("-".into(), "-".into()));
        assert_eq!(fmt_ratio(1.002, 1.0), ("1.00".into(), "as fast".into()));
    }

    #[test]
    fn test_durations_and_counts_format() {
        assert_eq!(fmt_ms(0.00312), "3.12 ms");
        assert_eq!(fmt_ms(0.3571), "357.1 ms");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(12_345), "12,345");
        assert_eq!(fmt_option(Some(1234.4), "M/s"), "1234 M/s");
        assert_eq!(fmt_option(Some(42.25), "ns"), "42.2 ns");
        assert_eq!(fmt_option(None, "ns"), "n/a");
    }

    #[test]
    fn test_table_is_aligned_markdown() {
        let rows = [
            Row { name: "startup".into(), elfvisor: 0.002, qemu: 0.008, best: 0.3 },
            Row { name: "alu × 10".into(), elfvisor: 0.5, qemu: 0.25, best: f64::NAN },
        ];
        assert_eq!(
            render_table(&rows),
            "| workload | elfvisor | qemu-user | ratio |  elfvisor is | fastest |\n\
             |----------|---------:|----------:|------:|-------------:|--------:|\n\
             | startup  |  2.00 ms |   8.00 ms |  0.25 | 4.00× faster |    0.30 |\n\
             | alu × 10 | 500.0 ms |  250.0 ms |  2.00 | 2.00× slower |       - |\n"
        );
    }

    #[test]
    fn test_fastest_is_the_smallest_sample() {
        assert_eq!(fastest(&[0.4, 0.2, 0.3]), 0.2);
        assert!(fastest(&[]).is_nan());
    }

    #[test]
    fn test_derived_figures_subtract_startup() {
        // 1,000,000 calls in 0.302 s with a 2 ms startup: 300 ns each.
        let ns = per_call_ns(0.302, 0.002, 1_000_000).unwrap();
        assert!((ns - 300.0).abs() < 1e-6, "{ns}");
        // 600 M instructions in 0.5 s after a 10 ms startup: 1,200 M/s.
        let rate = mips(0.51, 0.01, 600_000_000).unwrap();
        assert!((rate - 1200.0).abs() < 1e-6, "{rate}");
        assert_eq!(per_call_ns(0.001, 0.002, 10), None);
        assert_eq!(mips(0.002, 0.002, 10), None);
    }

    #[test]
    fn test_instruction_count_comes_from_the_result_line() {
        let line = "alu: 100000000 iterations x 6 insns, result 6b32718caf83c0f7";
        assert_eq!(insns_per_iteration(line), Some(6));
        assert_eq!(insns_per_iteration("getppid: 10 calls, 10 agree"), None);
    }

    #[test]
    fn test_only_keeps_matching_rows_and_what_they_subtract() {
        let opts = Options {
            runs: None,
            quick: true,
            syscalls: None,
            alu_iterations: None,
            mem_iterations: None,
            only: Some("futex".into()),
        };
        let list = workloads(&opts, false);
        let names: Vec<&str> = list.iter().map(|w| w.name.as_str()).collect();
        assert!(names.iter().any(|n| n.starts_with("startup")), "{names:?}");
        assert_eq!(list.iter().filter(|w| w.program == "futex").count(), 2, "{names:?}");
        assert!(list.iter().all(|w| w.program != "alu" && w.program != "pingpong"), "{names:?}");
    }

    #[test]
    fn test_quick_shrinks_work_unless_given() {
        let opts = Options {
            runs: None,
            quick: true,
            syscalls: Some(5),
            alu_iterations: None,
            mem_iterations: None,
            only: None,
        };
        assert_eq!(opts.runs(), 3);
        let list = workloads(&opts, false);
        let kinds: Vec<Kind> = list.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds[..4],
            [
                Kind::Startup,
                Kind::Syscalls { count: 5 },
                Kind::Loop { iterations: 10_000_000 },
                Kind::Loop { iterations: 5_000_000 },
            ]
        );
        assert_eq!(list[1].args, ["5"]);
        // Then the 64 MiB setup, and per strategy a small fork, a first and a repeated 64 MiB
        // fork, each naming its strategy for elfvisor; the 64 MiB ones subtract the setup.
        let forks: Vec<&Workload> = list.iter().filter(|w| w.program == "fork").collect();
        assert_eq!(forks.len(), 10);
        assert_eq!(forks[0].args, ["0", "64"]);
        assert_eq!(forks[1].args, ["20", "0"]);
        assert_eq!(forks[2].args, ["1", "64"]);
        assert_eq!(forks[3].args, ["5", "64"]);
        assert_eq!(forks[1].kind, Kind::Ops { count: 20, what: "fork+exit+wait", setup: None });
        assert_eq!(
            forks[3].kind,
            Kind::Ops { count: 5, what: "fork+exit+wait", setup: Some("fork-64mib") }
        );
        assert_eq!(forks[9].elfvisor_args, ["--fork-strategy", "respawn-snapshot"]);
        assert_eq!(
            kinds[kinds.len() - 4],
            Kind::Ops {
                count: 2_000,
                what: "futex round trip, 2 processes (2 wake→wakeup)",
                setup: None
            }
        );
        assert_eq!(
            kinds[kinds.len() - 3],
            Kind::Ops {
                count: 2_000,
                what: "eventfd write → epoll_pwait return, 2 threads (2 per round trip)",
                setup: None
            }
        );
        // The socket rows come last: a tenth of the round trips, an eighth of the MiB.
        let sockets: Vec<&Workload> = list.iter().filter(|w| w.program == "sockets").collect();
        assert_eq!(sockets.len(), 2);
        assert_eq!(sockets[0].args, ["tcp", "2000"]);
        assert_eq!(sockets[1].args, ["unix", "32"]);
        assert!(matches!(kinds.last(), Some(Kind::Ops { count: 32, setup: None, .. })));
    }
}
