//! The `respawn-copy` and `respawn-snapshot` fork strategies: a fork starts a fresh emulator
//! process (`elfvisor --fork-child <fd>`) and hands it the parent's state over one ordered
//! message stream — the model for hosts where the emulator process cannot simply fork (a
//! Hypervisor.framework VM does not survive `fork()`), and tested on Linux.
//!
//! Protocol (DESIGN §4): HELLO (magic, version, counts) → STATE (registers, signal state, heap,
//! fd numbers) → VMAS (the table, in batches) → FDS (the guest's descriptors, counted batches)
//! → FDS (the files behind private file mappings) → the shared objects (descriptions, then
//! their descriptors) → [LAYERS (snapshot: the private anonymous memory frozen into objects the
//! child maps copy-on-write)] → RESIDENT (which pages of the written private anonymous VMAs are
//! resident, so the child's are exactly those: `elfvisor_mm`'s `residency.rs`) → MEMORY (copy:
//! the non-zero resident pages of private anonymous memory; both: the written pages of private
//! file mappings) → END. The child validates everything, rebuilds
//! the process, answers READY; the parent records the child and answers ADMIT. The child runs
//! no guest code before ADMIT, and a fork that fails at any step kills and reaps the child and
//! returns EAGAIN with the parent unchanged.

pub mod child;
pub mod control;
pub mod image;
pub mod wire;

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, RawFd};
use std::process::Command;
use std::sync::Arc;

use elfvisor_abi::sched::{CLONE_VFORK, CLONE_VM};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE};
use elfvisor_engine::{Cpu, Registers};
use elfvisor_mm::{Backing, Frozen, ObjectKind, SharedObject, VmaFlags};

use self::image::{Hello, LayerRecord, ObjectRecord, ResidentRecord, State, VERSION, VmaRecord};
use self::wire::{Channel, WireError, Writer, tag};
use super::{CloneArgs, ForkStrategy};
use crate::task::Task;

/// Names a protocol step to fail on purpose (`ELFVISOR_FORK_FAULT`), for tests.
pub const FAULT_ENV: &str = "ELFVISOR_FORK_FAULT";

/// Whether the named fault is being injected.
pub fn fault(name: &str) -> bool {
    std::env::var_os(FAULT_ENV).is_some_and(|v| v == OsStr::new(name))
}

/// `ELFVISOR_FORK_FAULT=kill-child:STEP` or `kill-parent:STEP`, for tests: that side of a
/// respawn fork sends itself SIGKILL, a real signal as from the OOM killer or a user, when it
/// reaches STEP. The parent then returns EAGAIN with nothing leaked; the child of a killed
/// parent ends without running guest code.
pub fn kill_point(side: &str, step: &str) {
    let Some(v) = std::env::var_os(FAULT_ENV) else { return };
    if v.to_str().and_then(|v| v.strip_prefix("kill-")) == Some(&format!("{side}:{step}")) {
        let _ = crate::host::kill(crate::host::getpid(), libc::SIGKILL);
        // A signal a process sends itself is delivered before kill(2) returns; never go on.
        loop {
            std::thread::park();
        }
    }
}

/// The VMA table and the unique objects behind file mappings (indexed by the records).
struct Collected {
    records: Vec<VmaRecord>,
    backings: Vec<Arc<std::fs::File>>,
    objects: Vec<Arc<SharedObject>>,
}

/// Everything a VMA table needs that only the parent knows: the unique backing objects.
fn collect(task: &Task) -> Result<Collected, ForkError> {
    // Which private anonymous VMAs were written decides which have pages in the child.
    task.mm
        .write()
        .note_anon_writes()
        .map_err(|e| ForkError::Host(format!("reading the page map: {e}")))?;
    let mm = task.mm.read();
    let mut backings: Vec<Arc<std::fs::File>> = Vec::new();
    let mut objects: Vec<Arc<SharedObject>> = Vec::new();
    let mut records = Vec::new();
    for vma in mm.vmas() {
        // Linux's dup_mmap: MADV_DONTFORK ranges do not exist in the child, MADV_WIPEONFORK
        // private anonymous ranges are zero there.
        if vma.flags.contains(VmaFlags::DONTFORK) {
            continue;
        }
        let wipe =
            vma.flags.contains(VmaFlags::WIPEONFORK) && matches!(vma.backing, Backing::Anonymous);
        let anon = !wipe
            && !vma.shared
            && matches!(vma.backing, Backing::Anonymous)
            && vma.flags.contains(VmaFlags::ANON);
        let backing = match &vma.backing {
            Backing::Anonymous => None,
            Backing::File { file, offset } => {
                let index = match backings.iter().position(|b| Arc::ptr_eq(b, file)) {
                    Some(i) => i,
                    None => {
                        backings.push(Arc::clone(file));
                        backings.len() - 1
                    }
                };
                Some((index as u32, *offset))
            }
            Backing::Shared { object, offset } => {
                let index = match objects.iter().position(|o| Arc::ptr_eq(o, object)) {
                    Some(i) => i,
                    None => {
                        objects.push(Arc::clone(object));
                        objects.len() - 1
                    }
                };
                Some((index as u32, *offset))
            }
        };
        records.push(VmaRecord {
            start: vma.start,
            end: vma.end,
            prot: vma.prot,
            shared: vma.shared,
            grows_down: vma.grows_down,
            wipe,
            anon,
            backing,
            name: vma.name.clone(),
        });
    }
    Ok(Collected { records, backings, objects })
}

/// The bytes of a private VMA that may be read on the host: file-backed pages past the end of
/// their file would raise SIGBUS (the guest cannot have written them either).
fn readable_len(rec: &VmaRecord, backings: &[Arc<std::fs::File>]) -> u64 {
    let len = rec.end.0 - rec.start.0;
    match rec.backing {
        None => len,
        Some((i, offset)) => {
            let size = backings[i as usize].metadata().map_or(0, |m| m.len());
            let in_file = size.saturating_sub(offset);
            len.min(in_file.div_ceil(PAGE_SIZE) * PAGE_SIZE)
        }
    }
}

/// Host bytes of guest memory for sending.
fn guest_bytes(task: &Task, rec: &VmaRecord, len: u64) -> Result<Vec<u8>, Errno> {
    let mut out = vec![0u8; len as usize];
    // `len` stops at the end of any file.
    task.mm.read().read_private_pages(rec.start, &mut out)?;
    Ok(out)
}

/// The resident runs of every written private anonymous VMA, by record index (empty for the
/// others: a VMA never written has no pages in a fork child). Read before anything is frozen.
fn residency(task: &Task, records: &[VmaRecord]) -> Result<Vec<Vec<(u64, u64)>>, ForkError> {
    let mm = task.mm.read();
    records
        .iter()
        .map(|rec| {
            if !rec.anon {
                return Ok(Vec::new());
            }
            let runs = mm
                .resident_runs(rec.start, rec.end)
                .map_err(|e| ForkError::Host(format!("reading residency: {e}")))?;
            Ok(runs.into_iter().map(|(s, e)| (s.0, e.0)).collect())
        })
        .collect()
}

/// Sends the resident runs, each VMA's in as many messages as they need.
fn send_residency(ch: &Channel, resident: &[Vec<(u64, u64)>]) -> Result<(), ForkError> {
    for (index, runs) in resident.iter().enumerate() {
        for batch in runs.chunks(ResidentRecord::MAX_RUNS) {
            let rec = ResidentRecord { vma: index as u32, runs: batch.to_vec() };
            ch.send(tag::RESIDENT, &rec.encode(), &[])?;
        }
    }
    Ok(())
}

/// Sends the non-zero pages of the resident runs of private anonymous VMA `index`: the child
/// has made every page of the runs present, zero, already.
fn send_anonymous(
    ch: &Channel,
    task: &Task,
    index: usize,
    start: GuestAddr,
    runs: &[(u64, u64)],
) -> Result<(), ForkError> {
    let page = PAGE_SIZE as usize;
    let chunk_len = ((wire::MAX_PAYLOAD - 16) / page * page) as u64;
    let mut buf = vec![0u8; chunk_len as usize];
    for &(run_start, run_end) in runs {
        let mut at = run_start;
        while at < run_end {
            let len = chunk_len.min(run_end - at) as usize;
            task.mm.read().read_private_pages(GuestAddr(at), &mut buf[..len])?;
            let pages: Vec<bool> =
                buf[..len].chunks(page).map(|p| p.iter().any(|&b| b != 0)).collect();
            let mut i = 0;
            while i < pages.len() {
                if !pages[i] {
                    i += 1;
                    continue;
                }
                let first = i;
                while i < pages.len() && pages[i] {
                    i += 1;
                }
                let mut w = Writer::default();
                w.u32(index as u32).u64(at - start.0 + (first * page) as u64);
                w.0.extend_from_slice(&buf[first * page..i * page]);
                ch.send(tag::MEMORY, &w.0, &[])?;
            }
            at += len as u64;
        }
    }
    Ok(())
}

fn send_memory(
    ch: &Channel,
    task: &Task,
    records: &[VmaRecord],
    backings: &[Arc<std::fs::File>],
    resident: &[Vec<(u64, u64)>],
    only_files: bool,
) -> Result<(), ForkError> {
    for (index, rec) in records.iter().enumerate().filter(|(_, r)| !r.shared && !r.wipe) {
        if rec.backing.is_none() {
            if !only_files {
                send_anonymous(ch, task, index, rec.start, &resident[index])?;
            }
            continue;
        }
        let len = readable_len(rec, backings);
        let bytes = guest_bytes(task, rec, len)?;
        // A private file mapping sends only the pages written since they were mapped: the
        // others must keep following the file in the child, as after Linux's fork.
        let written = task
            .mm
            .read()
            .written_pages(rec.start, len.div_ceil(PAGE_SIZE) * PAGE_SIZE)
            .map_err(|e| ForkError::Host(format!("reading the page map: {e}")))?;
        let page = PAGE_SIZE as usize;
        for (i, page_bytes) in bytes.chunks(page).enumerate() {
            if written[i] {
                let mut w = Writer::default();
                w.u32(index as u32).u64((i * page) as u64);
                w.0.extend_from_slice(page_bytes);
                ch.send(tag::MEMORY, &w.0, &[])?;
            }
        }
    }
    Ok(())
}

/// Freezes the private anonymous VMAs (see `elfvisor_mm::FrozenRange`) and sends where their
/// pages come from: the frozen objects (their sizes, then their descriptors) and the layers.
fn send_layers(ch: &Channel, task: &Task, records: &[VmaRecord]) -> Result<(), ForkError> {
    let ranges: Vec<(usize, (GuestAddr, GuestAddr))> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.shared && !r.wipe && r.backing.is_none())
        .map(|(i, r)| (i, (r.start, r.end)))
        .collect();
    let just_ranges: Vec<_> = ranges.iter().map(|(_, r)| *r).collect();
    let frozen = task
        .mm
        .read()
        .freeze(&just_ranges)
        .map_err(|e| ForkError::Host(format!("freezing private memory: {e}")))?;
    let mut objects: Vec<Arc<Frozen>> = Vec::new();
    let mut layers = Vec::new();
    for ((vma, _), range) in ranges.iter().zip(&frozen) {
        for l in &range.layers {
            let object = match objects.iter().position(|o| Arc::ptr_eq(o, &l.object)) {
                Some(i) => i,
                None => {
                    objects.push(Arc::clone(&l.object));
                    objects.len() - 1
                }
            };
            layers.push(LayerRecord {
                vma: *vma as u32,
                start: l.start,
                end: l.end,
                object: object as u32,
                offset: l.offset,
            });
        }
    }
    let mut w = Writer::default();
    w.u32(objects.len() as u32).u32(layers.len() as u32);
    for o in &objects {
        w.u64(o.bytes());
    }
    if w.0.len() > wire::MAX_PAYLOAD {
        return Err(ForkError::Host(format!(
            "{} frozen objects do not fit one message",
            objects.len()
        )));
    }
    ch.send(tag::LAYERS, &w.0, &[])?;
    let fds: Vec<RawFd> = objects.iter().map(|o| o.file().as_raw_fd()).collect();
    wire::send_fds(ch, &fds)?;
    for batch in layers.chunks(wire::MAX_PAYLOAD / 40) {
        let mut w = Writer::default();
        w.u32(batch.len() as u32);
        for l in batch {
            l.encode(&mut w);
        }
        ch.send(tag::LAYERS, &w.0, &[])?;
    }
    Ok(())
}

/// Why a respawn fork failed (reported once on stderr; the guest gets EAGAIN).
#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("{0}")]
    Host(String),
    #[error("guest memory: {0}")]
    Guest(Errno),
}

impl From<Errno> for ForkError {
    fn from(e: Errno) -> ForkError {
        ForkError::Guest(e)
    }
}

/// The parent side of a respawn fork. Returns the child's pid; on failure the child (if any)
/// is killed and reaped and the parent is unchanged.
pub fn fork(task: &mut Task, cpu: &mut dyn Cpu, args: CloneArgs) -> Result<u32, Errno> {
    // The name may have been written through /proc since; the child starts with it.
    task.refresh_comm();
    let strategy = task.group().fork_strategy();
    // The other threads stay out of guest code while the state is captured (the system call
    // layer already holds them unless this is a vfork, whose wait must not).
    let quiesced = task.group().is_multithreaded().then(|| task.group().quiesce(task.handle()));
    let (parent, child_end) = pair_or_eagain()?;
    let child = match spawn(&child_end) {
        Ok(child) => child,
        Err(e) => return fail(task, None, &e),
    };
    drop(child_end);
    let pid = child.id();
    match stream(task, cpu, strategy, &args, &parent) {
        Ok(()) => {}
        Err(e) => return fail(task, Some(pid), &e),
    }
    // Registered before admission: no untracked child ever runs guest code.
    task.group().respawn().children.insert(pid);
    if fault("no-admission") {
        task.group().respawn().children.remove(&pid);
        drop(parent);
        return fail(task, Some(pid), &ForkError::Host("admission withheld (injected)".into()));
    }
    if let Err(e) = parent.send(tag::ADMIT, &[], &[]) {
        task.group().respawn().children.remove(&pid);
        return fail(task, Some(pid), &e.into());
    }
    drop(quiesced);
    if args.has(CLONE_VFORK) {
        // The child holds its end until it execs or exits.
        super::vfork::wait_for_release(&parent, &task.mm, task.pid(), task.handle());
    } else {
        // The socket stays as the control line to the child (`control.rs`).
        let mut respawn = task.group().respawn();
        respawn.prune_controls();
        respawn.controls.insert(pid, parent);
        respawn.unreleased.push(pid);
    }
    Ok(pid)
}

fn pair_or_eagain() -> Result<(Channel, Channel), Errno> {
    wire::pair().map_err(|_| Errno::EAGAIN)
}

fn spawn(child_end: &Channel) -> Result<std::process::Child, ForkError> {
    if fault("spawn") {
        return Err(ForkError::Host("spawning the child failed (injected)".into()));
    }
    // /proc/self/exe still names this binary when the file was replaced or deleted since it
    // started (a rebuild while it runs); the path current_exe() reports would not.
    let exe = if cfg!(target_os = "linux") {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe()
            .map_err(|e| ForkError::Host(format!("finding the emulator: {e}")))?
    };
    let fd = child_end.raw();
    // The child's end is the one descriptor it inherits; everything else is close-on-exec.
    crate::host::fcntl_int(fd, libc::F_SETFD, 0)
        .map_err(|e| ForkError::Host(format!("fcntl: {e}")))?;
    let mut command = Command::new(exe);
    command.arg("--fork-child").arg(fd.to_string());
    // The child sees the guest's files through the same sysroot.
    if let Some(root) = crate::sysroot::current() {
        command.env(crate::sysroot::ENV, root.root());
    }
    // And inside the same root, after a `chroot`.
    if let Some(root) = crate::sysroot::root() {
        command.env(crate::sysroot::ROOT_ENV, root);
    }
    let spawned = command.spawn();
    let _ = crate::host::fcntl_int(fd, libc::F_SETFD, i64::from(libc::FD_CLOEXEC));
    spawned.map_err(|e| ForkError::Host(format!("spawning the child: {e}")))
}

fn stream(
    task: &Task,
    cpu: &mut dyn Cpu,
    strategy: ForkStrategy,
    args: &CloneArgs,
    ch: &Channel,
) -> Result<(), ForkError> {
    let snapshot = strategy == ForkStrategy::RespawnSnapshot;
    let layers = snapshot || args.has(CLONE_VM);
    let Collected { records, backings, objects } = collect(task)?;
    // The descriptors and which of them are signalfds, read from one look at the table.
    let live = crate::signal::signalfd::live();
    let (guest_fds, signalfds) = {
        let fds = task.fds();
        let guest: Vec<(u32, bool, RawFd)> =
            fds.entries().map(|(n, e)| (n as u32, e.cloexec, e.raw())).collect();
        (guest, crate::signal::signalfd::in_table(&fds, &live))
    };
    if fault("emfile") {
        return Err(ForkError::Host("duplicating descriptors: EMFILE (injected)".into()));
    }
    let version = if fault("bad-version") { 99 } else { VERSION };
    let trace = task.trace();
    let hello = Hello {
        version,
        snapshot,
        layers,
        trace,
        vmas: records.len() as u32,
        fds: guest_fds.len() as u32,
        backings: backings.len() as u32,
        objects: objects.len() as u32,
    };
    ch.send(tag::HELLO, &hello.encode(), &[])?;
    kill_point("parent", "hello");

    // fork returns 0 in the child.
    let regs = args.child_registers(Registers::capture(cpu));
    let group = task.group();
    // One lock of each at a time: the fields below take their own.
    let (nofile, fsize) = {
        let fds = task.fds();
        (fds.nofile(), fds.fsize())
    };
    let (vm_limits, data_size) = {
        let mm = task.mm.read();
        (mm.vm_limits(), mm.data_size())
    };
    let state = State {
        regs,
        sigmask: task.sigmask,
        altstack: task.altstack,
        sigactions: task.sigactions().all(),
        sigreturn_trampoline: group.sigreturn_trampoline(),
        hwcaps: group.hwcaps(),
        brk: task.mm.read().brk_state().map(|(s, c)| (s.0, c.0)),
        exe: group.exe().as_os_str().as_encoded_bytes().to_vec(),
        comm: task.comm().to_vec(),
        clone_flags: args.flags,
        child_tid: args.child_tid,
        fds: guest_fds.iter().map(|(n, c, _)| (*n, *c)).collect(),
        nofile,
        vm_limits: [vm_limits.address_space, vm_limits.data, vm_limits.stack],
        data_size,
        fsize,
        personality: group.personality(),
        mempolicy: (task.mempolicy.mode, task.mempolicy.nodes),
        startup: task.mm.read().startup().clone(),
        signalfds,
        dumpable: crate::host::dumpable().unwrap_or(1) as u8,
        randomized: task.mm.read().layout_randomized(),
    };
    ch.send(tag::STATE, &state.encode(), &[])?;
    kill_point("parent", "state");

    // The VMA table, in batches that fit a message.
    let mut batch = Writer::default();
    let mut in_batch = 0u32;
    for rec in &records {
        let mut w = Writer::default();
        rec.encode(&mut w);
        if batch.0.len() + w.0.len() + 4 > wire::MAX_PAYLOAD {
            send_vma_batch(ch, in_batch, &batch)?;
            batch = Writer::default();
            in_batch = 0;
        }
        batch.0.extend_from_slice(&w.0);
        in_batch += 1;
    }
    send_vma_batch(ch, in_batch, &batch)?;

    let fds: Vec<RawFd> = guest_fds.iter().map(|(_, _, raw)| *raw).collect();
    if fault("missing-fd") && !fds.is_empty() {
        // A batch that announces more descriptors than it carries.
        let mut w = Writer::default();
        w.u32(fds.len() as u32);
        ch.send(tag::FDS, &w.0, &[])?;
        let n = fds.len().min(wire::MAX_FDS_PER_MESSAGE);
        let mut w = Writer::default();
        w.u32(n as u32);
        ch.send(tag::FDS, &w.0, &fds[..n - 1])?;
    } else {
        wire::send_fds(ch, &fds)?;
    }
    kill_point("parent", "fds");
    let backing_fds: Vec<RawFd> = backings.iter().map(|f| f.as_raw_fd()).collect();
    wire::send_fds(ch, &backing_fds)?;
    send_objects(ch, &objects)?;
    let resident = residency(task, &records)?;
    if layers {
        send_layers(ch, task, &records)?;
    }
    send_residency(ch, &resident)?;
    send_memory(ch, task, &records, &backings, &resident, layers)?;
    ch.send(tag::END, &[], &[])?;
    kill_point("parent", "memory");
    ch.expect(tag::READY, "ready")?;
    kill_point("parent", "ready");
    Ok(())
}

/// The shared objects: their descriptions in batches that fit a message (each its count, then
/// its records), then the descriptors of those that have one (SysV segments are re-attached by
/// id).
fn send_objects(ch: &Channel, objects: &[Arc<SharedObject>]) -> Result<(), ForkError> {
    let mut fds = Vec::new();
    let mut batch = Writer::default();
    let mut in_batch = 0u32;
    for object in objects {
        let (kind, shmid, key) = match object.kind() {
            ObjectKind::File => (0, 0, 0),
            ObjectKind::Anonymous => (1, 0, 0),
            ObjectKind::SysV { shmid, key } => (2, shmid, key),
        };
        let rec = ObjectRecord {
            kind,
            shmid,
            key,
            size: object.cached_size(),
            max_prot: object.max_prot().0,
        };
        if rec.has_fd() {
            let fd = object
                .fd()
                .ok_or_else(|| ForkError::Host("a shared object lost its descriptor".into()))?;
            fds.push(fd.as_raw_fd());
        }
        let mut w = Writer::default();
        rec.encode(&mut w);
        if batch.0.len() + w.0.len() + 4 > wire::MAX_PAYLOAD {
            send_vma_batch(ch, in_batch, &batch)?;
            batch = Writer::default();
            in_batch = 0;
        }
        batch.0.extend_from_slice(&w.0);
        in_batch += 1;
    }
    if in_batch > 0 {
        send_vma_batch(ch, in_batch, &batch)?;
    }
    wire::send_fds(ch, &fds)?;
    Ok(())
}

fn send_vma_batch(ch: &Channel, count: u32, batch: &Writer) -> Result<(), WireError> {
    let mut w = Writer::default();
    w.u32(count);
    w.0.extend_from_slice(&batch.0);
    ch.send(tag::VMAS, &w.0, &[])
}

/// Ends a failed fork: the child, if started, is killed and reaped; the guest gets EAGAIN.
fn fail(task: &Task, child: Option<u32>, err: &ForkError) -> Result<u32, Errno> {
    if let Some(pid) = child {
        let _ = crate::host::kill(pid as i32, libc::SIGKILL);
        let _ = crate::host::wait4(pid as i32, 0);
    }
    // Once per process (or every time under --strace): a fork bomb at RLIMIT_NPROC would
    // otherwise write a line per attempt.
    static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let first = !REPORTED.swap(true, std::sync::atomic::Ordering::Relaxed);
    if task.trace() || (first && std::env::var_os(FAULT_ENV).is_none()) {
        eprintln!("elfvisor: fork failed, returning EAGAIN: {err}");
    }
    Err(Errno::EAGAIN)
}
