//! The shared engine behind both front ends: loads the cases, builds guests, runs them in a
//! lane and judges the transcripts.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::error::Result;
use crate::fixture::{Case, Guest};
use crate::golden::{self, Verdict};
use crate::guest::{GuestBuilder, Libc};
use crate::invocation::Invocation;
use crate::lane::{Lane, RunOutput};
use crate::linux::{self, BatchCase, Executable};
use crate::program::Program;
use crate::transcript;

/// One (lane, libc, case) cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    pub lane: Lane,
    pub libc: Libc,
    /// Index into [`Harness::cases`].
    pub case: usize,
}

/// Everything known about one cell after it ran.
#[derive(Debug, Clone)]
pub struct Judged {
    pub verdict: Verdict,
    pub transcript: Option<String>,
    pub golden: Option<String>,
    pub stderr: String,
    /// The last `--strace` lines of a re-run of a failing elfvisor cell (the report's; see
    /// [`Harness::strace_tail`]).
    pub strace_tail: Option<String>,
}

/// The result of the one boot of the linux lane.
#[derive(Debug)]
struct LinuxBatch {
    runs: BTreeMap<String, RunOutput>,
    /// Cases that could not be built, by batch id.
    build_errors: BTreeMap<String, String>,
    console_log: PathBuf,
    elapsed: Duration,
}

type LinuxBoot = OnceLock<std::result::Result<LinuxBatch, String>>;

/// Loaded cases plus the caches that let trials share builds and the linux boot.
#[derive(Debug)]
pub struct Harness {
    pub cases: Vec<Case>,
    builder: GuestBuilder,
    linux_selection: OnceLock<BTreeSet<(Libc, usize)>>,
    /// One boot per sysroot set (`None`: the default sysroot), each started by its first cell.
    linux: Mutex<BTreeMap<Option<String>, Arc<LinuxBoot>>>,
    lane_unavailable: Mutex<BTreeMap<Lane, Option<String>>>,
}

fn batch_id(libc: Libc, case: &Case) -> String {
    format!("{libc}/{}", case.id())
}

impl Harness {
    /// Loads every fixture.
    pub fn load() -> Result<Harness> {
        Ok(Harness::with_cases(crate::fixture::load_all(&crate::paths::fixtures())?))
    }

    pub fn with_cases(cases: Vec<Case>) -> Harness {
        Harness {
            cases,
            builder: GuestBuilder::new(),
            linux_selection: OnceLock::new(),
            linux: Mutex::new(BTreeMap::new()),
            lane_unavailable: Mutex::new(BTreeMap::new()),
        }
    }

    /// Every cell, in report order: lane, then libc, then case. A case has cells only for the
    /// libcs it runs with (a prebuilt program has one).
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        for lane in Lane::ALL {
            for libc in Libc::ALL {
                cells.extend(
                    (0..self.cases.len())
                        .filter(|&case| self.cases[case].libcs().contains(&libc))
                        .map(|case| Cell { lane, libc, case }),
                );
            }
        }
        cells
    }

    /// `<lane>/<libc>/<family>/<case>`, the trial name.
    pub fn cell_name(&self, cell: Cell) -> String {
        format!("{}/{}/{}", cell.lane, cell.libc, self.cases[cell.case].id())
    }

    /// Restricts the linux boot to these cells (default: every cell). Takes effect only before
    /// the first linux cell runs.
    pub fn select_linux(&self, cells: impl IntoIterator<Item = Cell>) {
        let set = cells.into_iter().filter(|c| c.lane == Lane::Linux).map(|c| (c.libc, c.case));
        let _ = self.linux_selection.set(set.collect());
    }

    /// Why this cell cannot run here, if it cannot.
    pub fn skip_reason(&self, cell: Cell) -> Option<String> {
        let case = &self.cases[cell.case];
        if !case.runs_in(cell.lane.id(), cell.libc.id()) {
            return Some(format!("the fixture restricts {} to other lanes", case.id()));
        }
        let lane_reason = self
            .lane_unavailable
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(cell.lane)
            .or_insert_with(|| cell.lane.unavailable())
            .clone();
        if let Some(reason) = lane_reason {
            return Some(reason);
        }
        match &case.guest {
            Guest::Source(_) => {
                let toolchain = self.builder.toolchain(cell.libc).err().map(|e| e.to_string());
                let libc = || case.dynamic().and_then(|_| crate::dynamic::unavailable(cell.libc));
                toolchain.or_else(libc)
            }
            Guest::Program(program) => self.program_unavailable(case, program),
            Guest::Go(_) => self.builder.go().err().map(|e| e.to_string()),
        }
        .or_else(|| self.user_unavailable(cell))
    }

    /// Why a case's prebuilt program cannot run here, if it cannot: a program of a named sysroot
    /// set is looked up in that set's tree.
    fn program_unavailable(&self, case: &Case, program: &Program) -> Option<String> {
        let why = program.unavailable_in(&case.sysroot_root())?;
        Some(match case.sysroot_set() {
            Some(set) => format!(
                "{why} (the case runs from the `{set}` sysroot: build it with `cargo xtask \
                 sysroot --set {set}`, or name a tree with {})",
                crate::paths::sysroot_env(set)
            ),
            None => why,
        })
    }

    /// Why a case with a `user` cannot run in this cell, if it cannot: on the host the harness
    /// must be able to become that user, and the user must reach the sysroot the lane's tool
    /// reads (a tree in root's 0700 home is out of its reach). The linux lane packs the tree
    /// into its own root file system and runs as root, so it always can.
    fn user_unavailable(&self, cell: Cell) -> Option<String> {
        let case = &self.cases[cell.case];
        let user = case.user()?;
        if cell.lane == Lane::Linux {
            return None;
        }
        if let Some(why) = crate::hostrun::user_unavailable(user) {
            return Some(why);
        }
        let Guest::Program(program) = &case.guest else { return None };
        program.sysroot_path()?;
        let root = case.host_sysroot_root();
        crate::hostrun::unreachable_by_others(&root).map(|why| {
            let env = case
                .sysroot_set()
                .map_or_else(|| crate::paths::SYSROOT_ENV.to_owned(), crate::paths::sysroot_env);
            format!(
                "the case runs as user {user}, who cannot read the sysroot {}: {why}, nor a view \
                 of it under {} (build or copy the tree elsewhere, e.g. `cargo xtask sysroot{} \
                 --dir /var/tmp/elfvisor-sysroot`, and name it with {env})",
                root.display(),
                crate::paths::output_dir().display(),
                case.sysroot_set().map(|s| format!(" --set {s}")).unwrap_or_default(),
            )
        })
    }

    fn binary(&self, libc: Libc, case: &Case) -> std::result::Result<PathBuf, String> {
        match &case.guest {
            Guest::Source(source) => match case.dynamic() {
                Some(dynamic) => self.builder.build_tree(libc, case, dynamic, source),
                None => self.builder.build(libc, source, &case.name),
            }
            .map_err(|e| e.to_string()),
            Guest::Program(program) => match self.program_unavailable(case, program) {
                // The host path qemu-user runs: inside the tree the case's user can reach.
                None => Ok(program.path_in(&case.host_sysroot_root())),
                Some(reason) => Err(reason),
            },
            Guest::Go(source) => {
                self.builder.build_go(source, &case.name).map_err(|e| e.to_string())
            }
        }
    }

    /// What a host lane's cell runs (the guest built first), with `extra` options for the lane's
    /// tool before the guest (`--strace` for elfvisor, `-strace` for qemu-user): the trials pass
    /// none, `cargo xtask run` its own. The linux lane runs inside one boot and has none.
    pub fn invocation(
        &self,
        cell: Cell,
        extra: &[OsString],
    ) -> std::result::Result<Invocation, String> {
        let case = &self.cases[cell.case];
        let libc_root = case.dynamic().map(|_| crate::dynamic::libc_root()).transpose()?;
        let libc_root = libc_root.as_deref();
        match cell.lane {
            Lane::QemuUser => {
                let binary = self.binary(cell.libc, case)?;
                Ok(crate::qemu_user::invocation(case, &binary, libc_root, extra))
            }
            Lane::Elfvisor(strategy) => {
                let elfvisor = crate::elfvisor_lane::binary()?;
                let binary = self.binary(cell.libc, case)?;
                Ok(crate::elfvisor_lane::invocation(
                    case, &elfvisor, &binary, libc_root, strategy, extra,
                ))
            }
            Lane::Linux => Err("the linux lane runs its cases inside one boot".into()),
        }
    }

    /// Runs the cell (for the linux lane: looks it up in the one boot, booting first if needed).
    pub fn run(&self, cell: Cell) -> std::result::Result<RunOutput, String> {
        let case = &self.cases[cell.case];
        match cell.lane {
            Lane::QemuUser | Lane::Elfvisor(_) => {
                self.invocation(cell, &[])?.run().map_err(|e| e.to_string())
            }
            Lane::Linux => {
                let set = case.sysroot_set();
                let boot = self.linux_boot(set);
                let batch = boot.get_or_init(|| self.boot_linux(set)).as_ref()?;
                let id = batch_id(cell.libc, case);
                if let Some(error) = batch.build_errors.get(&id) {
                    return Err(error.clone());
                }
                batch.runs.get(&id).cloned().ok_or_else(|| {
                    format!(
                        "the linux boot reported nothing for {id} (console log: {})",
                        batch.console_log.display()
                    )
                })
            }
        }
    }

    /// Starts, each on a thread of its own, every linux boot the selection ([`Self::select_linux`])
    /// has a runnable cell in; a linux trial then waits for its boot's result as it would for
    /// a boot it started itself (one `OnceLock` per boot).
    pub fn start_linux_boots(harness: &Arc<Harness>) {
        let sets: BTreeSet<Option<String>> = harness
            .linux_selection
            .get()
            .into_iter()
            .flatten()
            .filter(|&&(libc, case)| {
                harness.skip_reason(Cell { lane: Lane::Linux, libc, case }).is_none()
            })
            .map(|&(_, case)| harness.cases[case].sysroot_set().map(str::to_owned))
            .collect();
        for set in sets {
            let harness = Arc::clone(harness);
            let spawned = std::thread::Builder::new().name("linux-boot".into()).spawn(move || {
                let boot = harness.linux_boot(set.as_deref());
                boot.get_or_init(|| harness.boot_linux(set.as_deref()));
            });
            // Without the thread, the first linux trial boots it, as before.
            drop(spawned);
        }
    }

    /// The boot of the sysroot set `set`, shared by its cells.
    fn linux_boot(&self, set: Option<&str>) -> Arc<LinuxBoot> {
        let mut boots = self.linux.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(boots.entry(set.map(str::to_owned)).or_default())
    }

    /// The linux cells the boot of the sysroot set `set` runs: the selection, or every linux
    /// cell, of the cases of that set.
    fn linux_cells(&self, set: Option<&str>) -> Vec<(Libc, usize)> {
        let all: Vec<(Libc, usize)> = match self.linux_selection.get() {
            Some(selection) => selection.iter().copied().collect(),
            None => self
                .cells()
                .into_iter()
                .filter(|c| c.lane == Lane::Linux)
                .map(|c| (c.libc, c.case))
                .collect(),
        };
        all.into_iter().filter(|&(_, case)| self.cases[case].sysroot_set() == set).collect()
    }

    /// The longest the linux cell of `case` may wait for its result: the limit of its boot
    /// (the one of its sysroot set) for the cells it runs, plus `build` for building their
    /// guests and `/init` first.
    pub fn linux_limit(&self, case: usize, build: Duration) -> Duration {
        let set = self.cases[case].sysroot_set();
        let timeouts =
            self.linux_cells(set).into_iter().map(|(_, case)| self.cases[case].fixture.timeout_s);
        linux::boot_limit(timeouts) + build
    }

    /// How long the linux boots took together, once one has happened.
    pub fn linux_elapsed(&self) -> Option<Duration> {
        let boots = self.linux.lock().unwrap_or_else(|e| e.into_inner());
        let done = boots.values().filter_map(|b| b.get()).filter_map(|b| b.as_ref().ok());
        done.map(|b| b.elapsed).reduce(|a, b| a + b)
    }

    fn boot_linux(&self, set: Option<&str>) -> std::result::Result<LinuxBatch, String> {
        let runnable: Vec<(Libc, usize)> = self
            .linux_cells(set)
            .into_iter()
            .filter(|&(libc, case)| {
                self.skip_reason(Cell { lane: Lane::Linux, libc, case }).is_none()
            })
            .collect();
        let init = self.init_binary()?;
        let built = parallel_map(&runnable, |&(libc, case)| self.binary(libc, &self.cases[case]));
        let mut batch = Vec::new();
        let mut build_errors = BTreeMap::new();
        for (&(libc, index), binary) in runnable.iter().zip(built) {
            let case = &self.cases[index];
            match binary {
                Ok(binary) => batch.push(batch_case(libc, case, binary)),
                Err(error) => {
                    build_errors.insert(batch_id(libc, case), error);
                }
            }
        }
        let sysroot = linux::BootSysroot::of(set);
        let result = linux::run_batch(&init, &batch, &sysroot).map_err(|e| e.to_string())?;
        Ok(LinuxBatch {
            runs: result.runs,
            build_errors,
            console_log: result.console_log,
            elapsed: result.elapsed,
        })
    }

    /// The qemu-system command that boots the linux lane for exactly `cell` (its initramfs
    /// written under `target/conformance/linux/`): what `cargo xtask run --print` shows for a
    /// linux trial. Its console carries `/init`'s framed report.
    pub fn linux_boot_command(&self, cell: Cell) -> std::result::Result<Command, String> {
        let case = &self.cases[cell.case];
        let init = self.init_binary()?;
        let batch = [batch_case(cell.libc, case, self.binary(cell.libc, case)?)];
        let dir = crate::paths::output_dir().join("linux");
        let initrd = dir.join(format!("{}.cpio", batch[0].id.replace('/', "-")));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let sysroot = linux::BootSysroot::of(case.sysroot_set());
        let memory =
            linux::write_initramfs(&init, &batch, &initrd, &sysroot).map_err(|e| e.to_string())?;
        Ok(linux::boot_command(&initrd, memory))
    }

    /// `/init` for the linux lane, built with whichever libc's toolchain is present.
    fn init_binary(&self) -> std::result::Result<PathBuf, String> {
        let source = crate::paths::workspace_root().join("runners/linux/init.c");
        let mut last_error = String::from("no C library toolchain");
        for libc in Libc::ALL {
            match self.builder.build(libc, &source, "init") {
                Ok(path) => return Ok(path),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(format!("cannot build the linux lane's /init: {last_error}"))
    }

    /// The transcript of a cell.
    pub fn transcript(&self, cell: Cell) -> std::result::Result<(String, RunOutput), String> {
        let run = self.run(cell)?;
        Ok((transcript::render(&self.cases[cell.case], &run), run))
    }

    /// On the gold lane both libcs must agree, or there is no single golden transcript.
    pub fn libc_disagreement(&self, cell: Cell, transcript: &str) -> Option<String> {
        if cell.lane != Lane::Linux {
            return None;
        }
        let other_libc = self.cases[cell.case].libcs().into_iter().find(|&l| l != cell.libc)?;
        let other = Cell { libc: other_libc, ..cell };
        if self.skip_reason(other).is_some() {
            return None;
        }
        let selected =
            self.linux_selection.get().is_none_or(|s| s.contains(&(other_libc, cell.case)));
        if !selected {
            return None;
        }
        let (theirs, _) = self.transcript(other).ok()?;
        golden::diff(&theirs, transcript, &format!("linux/{}", cell.libc)).map(|diff| {
            format!("musl and glibc disagree on real Linux, so there is no single golden transcript (diff from {other_libc}):\n{diff}")
        })
    }

    /// Runs the cell and judges it against the committed golden transcript (read-only).
    pub fn judge(&self, cell: Cell) -> Judged {
        let case = &self.cases[cell.case];
        let golden = match golden::read_golden(&case.golden_path()) {
            Ok(golden) => golden,
            Err(e) => return judged_error(e.to_string(), None),
        };
        if let Some(reason) = self.skip_reason(cell) {
            return Judged {
                verdict: Verdict::Ignored { reason },
                transcript: None,
                golden,
                stderr: String::new(),
                strace_tail: None,
            };
        }
        let (text, run) = match self.transcript(cell) {
            Ok(t) => t,
            Err(message) => return judged_error(message, golden),
        };
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        let verdict = match self.libc_disagreement(cell, &text) {
            Some(diff) => Verdict::Fail { diff },
            None => {
                golden::evaluate(case, cell.lane.id(), cell.libc.id(), golden.as_deref(), &text)
            }
        };
        Judged { verdict, transcript: Some(text), golden, stderr, strace_tail: None }
    }

    /// Re-runs an elfvisor cell with `--strace-file` and returns the trace's last `lines`
    /// lines, for the report of a cell that failed: the run is bounded by the case's own limit
    /// and at most [`STRACE_RERUN_LIMIT`]. `None` for the other lanes or when nothing was
    /// traced.
    pub fn strace_tail(&self, cell: Cell, lines: usize) -> Option<String> {
        if !matches!(cell.lane, Lane::Elfvisor(_)) {
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let log = dir.path().join("strace");
        let extra = [OsString::from("--strace-file"), log.clone().into_os_string()];
        let mut invocation = self.invocation(cell, &extra).ok()?;
        invocation.limit = invocation.limit.min(STRACE_RERUN_LIMIT);
        let run = invocation.run().ok()?;
        let mut text = std::fs::read_to_string(&log).ok()?;
        if run.status == crate::lane::Status::TimedOut {
            text.push_str("[the re-run was stopped at its time limit]\n");
        }
        Some(tail(&text, lines))
    }

    /// The directory the golden snapshots of `case` live in.
    pub fn snapshot_dir(&self, case: usize) -> PathBuf {
        self.cases[case].snapshot_dir()
    }

    /// The path of a source file relative to the workspace, for messages.
    pub fn relative(path: &Path) -> String {
        path.strip_prefix(crate::paths::workspace_root()).unwrap_or(path).display().to_string()
    }
}

/// How long the report's `--strace` re-run of a failing cell may take at most.
pub const STRACE_RERUN_LIMIT: Duration = Duration::from_secs(20);

/// The last `n` lines of `text` (all of it when shorter), each with its newline.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    let mut out = String::new();
    if from > 0 {
        out.push_str(&format!("[… {from} earlier lines]\n"));
    }
    for line in &lines[from..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// What the linux lane's `/init` needs to run `case` built for `libc` as `binary`.
fn batch_case(libc: Libc, case: &Case, binary: PathBuf) -> BatchCase {
    BatchCase {
        id: batch_id(libc, case),
        binary: match &case.guest {
            Guest::Program(Program::Sysroot(path)) => Executable::Sysroot(path.clone()),
            Guest::Source(_) if case.dynamic().is_some() => Executable::Tree(binary),
            _ => Executable::Packed(binary),
        },
        argv: case.argv(),
        env: case.env(),
        stdin: case.fixture.stdin.as_bytes().to_vec(),
        files: case.fixture.files.clone(),
        tmpfs: case.fixture.tmpfs.clone(),
        timeout_s: case.fixture.timeout_s,
        user: case.user(),
    }
}

fn judged_error(message: String, golden: Option<String>) -> Judged {
    Judged {
        verdict: Verdict::Error { message },
        transcript: None,
        golden,
        stderr: String::new(),
        strace_tail: None,
    }
}

/// Maps `f` over `items` on as many threads as the machine has cores, keeping the order.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers =
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len().max(1));
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = {
                        let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
                        let index = *next;
                        *next += 1;
                        index
                    };
                    let Some(item) = items.get(index) else { break };
                    let result = f(item);
                    results.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every index was processed"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(family: &str, name: &str, text: &str) -> Case {
        let path = PathBuf::from(format!("fixtures/{family}/{name}.yaml"));
        crate::fixture::parse(text, &path, family, name).unwrap()
    }

    #[test]
    fn test_program_case_has_cells_for_its_libc_only() {
        let harness = Harness::with_cases(vec![
            case("demo", "c", "doc: x\n"),
            case("busybox", "echo", "doc: x\nprogram: busybox\nargs: [echo]\n"),
        ]);
        let names: Vec<String> =
            harness.cells().into_iter().map(|c| harness.cell_name(c)).collect();
        assert_eq!(names.len(), Lane::ALL.len() * 3);
        for lane in Lane::ALL {
            assert!(names.contains(&format!("{lane}/glibc/busybox/echo")));
            assert!(!names.contains(&format!("{lane}/musl/busybox/echo")));
            assert!(names.contains(&format!("{lane}/musl/demo/c")));
        }
    }

    #[test]
    fn test_a_dynamic_case_runs_with_the_libc_root() {
        let dir = tempfile::tempdir().unwrap();
        let harness = Harness::with_cases(vec![case("dynamic", "c", "doc: x\ndynamic: {}\n")]);
        let root = dir.path().join("root");
        let program = dir.path().join("c-1/c");
        let case = &harness.cases[0];
        let elfvisor = crate::elfvisor_lane::invocation(
            case,
            Path::new("/bin/elfvisor"),
            &program,
            Some(&root),
            crate::lane::Strategy::Host,
            &[],
        );
        let args: Vec<String> =
            elfvisor.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let want = ["--fork-strategy", "host", "--sysroot", &root.to_string_lossy(), "--argv0"];
        assert_eq!(args[..5], want);
        assert_eq!(args[5..], ["c".to_string(), program.to_string_lossy().into_owned()]);
        let qemu = crate::qemu_user::invocation(case, &program, Some(&root), &[]);
        let args: Vec<String> =
            qemu.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args[..2], ["-L".to_string(), root.to_string_lossy().into_owned()]);
        assert_eq!(batch_case(Libc::Musl, case, program.clone()).binary, Executable::Tree(program));
    }

    #[test]
    fn test_parallel_map_keeps_order() {
        let items: Vec<u32> = (0..100).collect();
        assert_eq!(
            parallel_map(&items, |x| x * 2),
            items.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
        assert!(parallel_map(&[] as &[u32], |x| *x).is_empty());
    }
}
