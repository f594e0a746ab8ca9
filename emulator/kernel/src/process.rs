//! A guest process: its address space, descriptors and the state its system calls keep.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use elfvisor_abi::prctl::TASK_COMM_LEN;
use elfvisor_abi::{GuestAddr, Signo};
use elfvisor_engine::{Cpu, PageSource, PageState};
use elfvisor_mm::{AddressSpace, PageStatus};

use crate::fdtable::FdTable;

/// How a guest process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Exited(i32),
    Signaled(Signo),
}

/// The guest address space, shared with the engine's TLB-fill hook.
#[derive(Debug, Clone)]
pub struct SharedMm(pub Arc<RwLock<AddressSpace>>);

impl SharedMm {
    pub fn read(&self) -> RwLockReadGuard<'_, AddressSpace> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, AddressSpace> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl PageSource for SharedMm {
    fn page(&self, addr: GuestAddr) -> PageState {
        let mut state = self.read().page_state(addr);
        // A fault below a MAP_GROWSDOWN mapping grows it (Linux's expand_stack), within
        // RLIMIT_STACK (the guest's limit is the host's: setrlimit passes through).
        if state == PageStatus::Unmapped && self.read().may_grow_down(addr) {
            let limit = crate::host::getrlimit(libc::RLIMIT_STACK as i32).map_or(8 << 20, |l| l.0);
            let mut mm = self.write();
            if mm.grow_down(addr, limit) {
                state = mm.page_state(addr);
            }
        }
        match state {
            PageStatus::Mapped(prot) => PageState::Mapped(prot),
            PageStatus::Unmapped => PageState::Unmapped,
            PageStatus::PastObjectEnd => PageState::PastObjectEnd,
        }
    }
}

/// A recorded `rt_sigaction` (the guest's `struct sigaction` as the kernel stores it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// The `--strace` sink.
#[derive(Debug, Default)]
pub struct Trace {
    pub enabled: bool,
}

/// The signal actions of a process, shared by its threads (`CLONE_SIGHAND`).
#[derive(Debug, Clone)]
pub struct SigActions(Arc<Mutex<[SigAction; 64]>>);

impl SigActions {
    pub fn new(actions: [SigAction; 64]) -> SigActions {
        SigActions(Arc::new(Mutex::new(actions)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, [SigAction; 64]> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The action of signal slot `slot` (signal number - 1).
    pub fn get(&self, slot: usize) -> SigAction {
        self.lock()[slot]
    }

    pub fn set(&self, slot: usize, action: SigAction) {
        self.lock()[slot] = action;
    }

    /// A copy of all 64.
    pub fn all(&self) -> [SigAction; 64] {
        *self.lock()
    }

    /// Changes every action at once (execve's reset).
    pub fn update_all(&self, f: impl FnOnce(&mut [SigAction; 64])) {
        f(&mut self.lock());
    }
}

/// One guest thread (a task, as Linux calls it): its own registers' companions — tid, signal
/// mask, pending signals, alternate stack, clear_child_tid, robust list — and handles on what
/// its process's threads share: the address space, the descriptors, the signal actions and
/// the thread group (`crate::thread::Group`). A single-threaded process is one task.
#[derive(Debug)]
pub struct Process {
    pub mm: SharedMm,
    /// The descriptor table (`CLONE_FILES` shares it); lock it only briefly, never across a
    /// blocking host call.
    fds: Arc<Mutex<FdTable>>,
    /// This process's threads, their shared pending signals and exit.
    pub group: Arc<crate::thread::Group>,
    /// This thread's share of the group's bookkeeping (its pending signals, vCPU state).
    pub thread: Arc<crate::thread::ThreadShared>,
    /// The guest's id for this thread (the pid for a process's first thread).
    pub tid: u32,
    /// This thread ends alone (`exit`), not its process.
    pub thread_exit: bool,
    /// The program's absolute host path (what `/proc/self/exe` answers).
    pub exe: PathBuf,
    pub pid: u32,
    /// The task name (`PR_GET_NAME`, `/proc/<pid>/comm`): at most 15 bytes, NUL-padded.
    pub comm: [u8; TASK_COMM_LEN],
    pub exit: Option<Termination>,
    pub clear_child_tid: u64,
    pub robust_list: (u64, u64),
    pub sigactions: SigActions,
    pub sigmask: u64,
    /// The mask `rt_sigsuspend` replaced, restored when its handler returns.
    pub saved_sigmask: Option<u64>,
    pub altstack: (u64, u32, u64),
    pub trace: Trace,
    /// Where a handler returns when its action has no SA_RESTORER (the `[sigpage]` mapping).
    pub sigreturn_trampoline: u64,
    /// AT_HWCAP/AT_HWCAP2 of the engine, for the images `execve` loads.
    pub hwcaps: (u64, u64),
    /// A program `execve` loaded; the run loop switches to it.
    pub pending_exec: Option<Box<crate::exec::PreparedExec>>,
    /// In a vfork child: the link whose closing (exec or exit) releases the parent.
    pub vfork_done: Option<crate::vfork::VforkLink>,
    /// A respawned child created with CLONE_VFORK (it keeps its fork socket as `vfork_done`),
    /// and whether with CLONE_VM.
    pub vfork_request: Option<bool>,
    /// How `fork` is carried out.
    pub fork_strategy: crate::respawn::ForkStrategy,
    /// Children this process created by a respawn fork, recorded before they were admitted.
    pub children: BTreeSet<u32>,
    /// The control lines to this process's respawned children (`respawn::control`), by pid.
    pub controls: std::collections::BTreeMap<u32, crate::respawn::wire::Channel>,
    /// Respawned children admitted since this process's last system call: they hold their exit
    /// until it (`respawn::control`).
    pub unreleased: Vec<u32>,
    /// The engine this process's vCPUs come from (set when it starts running).
    pub engine: Option<crate::run::EngineHandle>,
    /// Unknown syscall numbers already reported once.
    pub unknown_seen: BTreeSet<u64>,
}

impl Process {
    pub fn new(mm: AddressSpace, fds: FdTable, exe: PathBuf) -> Process {
        let mut comm = [0; TASK_COMM_LEN];
        let name = exe.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default();
        set_comm(&mut comm, name);
        let pid = std::process::id();
        let process = Process {
            mm: SharedMm(Arc::new(RwLock::new(mm))),
            fds: Arc::new(Mutex::new(fds)),
            group: crate::thread::Group::new(),
            thread: crate::thread::ThreadShared::new(pid),
            tid: pid,
            thread_exit: false,
            exe,
            pid,
            comm,
            exit: None,
            clear_child_tid: 0,
            robust_list: (0, 0),
            sigactions: SigActions::new([SigAction::default(); 64]),
            sigmask: 0,
            saved_sigmask: None,
            altstack: crate::signal::NO_ALTSTACK,
            trace: Trace::default(),
            sigreturn_trampoline: 0,
            hwcaps: (0, 0),
            pending_exec: None,
            vfork_done: None,
            vfork_request: None,
            fork_strategy: crate::respawn::ForkStrategy::Host,
            children: BTreeSet::new(),
            controls: std::collections::BTreeMap::new(),
            unreleased: Vec::new(),
            engine: None,
            unknown_seen: BTreeSet::new(),
        };
        process.group.register(&process.thread);
        process
    }

    /// The task of a new thread of this process (`clone` with `CLONE_THREAD`): the same address
    /// space, descriptors, signal actions and group; the caller's mask; nothing pending.
    pub fn new_thread(&self, tid: u32) -> Process {
        Process {
            mm: self.mm.clone(),
            fds: Arc::clone(&self.fds),
            group: Arc::clone(&self.group),
            thread: crate::thread::ThreadShared::new(tid),
            tid,
            thread_exit: false,
            exe: self.exe.clone(),
            pid: self.pid,
            comm: self.comm,
            exit: None,
            clear_child_tid: 0,
            robust_list: (0, 0),
            sigactions: self.sigactions.clone(),
            sigmask: self.sigmask,
            saved_sigmask: None,
            // A new thread has no alternate stack (clone(2) with CLONE_VM).
            altstack: crate::signal::NO_ALTSTACK,
            trace: Trace { enabled: self.trace.enabled },
            sigreturn_trampoline: self.sigreturn_trampoline,
            hwcaps: self.hwcaps,
            pending_exec: None,
            vfork_done: None,
            vfork_request: None,
            fork_strategy: self.fork_strategy,
            children: BTreeSet::new(),
            controls: std::collections::BTreeMap::new(),
            unreleased: Vec::new(),
            engine: self.engine,
            unknown_seen: BTreeSet::new(),
        }
    }

    /// The locks other threads may hold, taken for a host fork.
    #[must_use]
    pub fn fork_locks(&self) -> impl Sized + '_ {
        (
            self.fds(),
            self.mm.write(),
            self.sigactions.lock(),
            self.group.pending(),
            crate::hostsig::fork_lock(),
        )
    }

    /// This thread ends without a trace: another thread's execve replaced the process.
    pub fn vanish(&mut self) {
        self.exit = Some(Termination::Exited(0));
        self.thread_exit = true;
        self.clear_child_tid = 0;
        self.robust_list = (0, 0);
    }

    /// Makes this the only thread of a fresh group (a forked child, whose other threads did
    /// not come along).
    pub fn become_single(&mut self, pid: u32) {
        self.pid = pid;
        self.tid = pid;
        self.group = crate::thread::Group::new();
        self.thread = crate::thread::ThreadShared::new(pid);
        self.group.register(&self.thread);
    }

    /// The descriptor table, locked. Never hold it across a blocking call.
    pub fn fds(&self) -> MutexGuard<'_, FdTable> {
        self.fds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This thread's pending signals, locked.
    pub fn pending(&self) -> crate::thread::PendingGuard<'_> {
        self.thread.pending()
    }

    /// Renames the task, keeping the first 15 bytes of `name` (up to a NUL) as Linux does.
    pub fn set_comm(&mut self, name: &[u8]) {
        set_comm(&mut self.comm, name);
    }

    /// Forgets the control lines of children that have ended (their end of the socket closed).
    pub fn prune_controls(&mut self) {
        let polls: Vec<_> = self.controls.values().map(|c| (c.raw(), 0)).collect();
        let Ok((n, revents)) = crate::host::ppoll(&polls, Some((0, 0))) else { return };
        if n == 0 {
            return;
        }
        let ended: Vec<u32> = self
            .controls
            .keys()
            .zip(revents)
            .filter(|(_, r)| r & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0)
            .map(|(pid, _)| *pid)
            .collect();
        for pid in ended {
            self.controls.remove(&pid);
        }
    }

    /// Drops the engine's cached translations for whatever the last address-space change hit.
    pub fn flush_mm(&self, cpu: &mut dyn Cpu) {
        let invalidations = self.mm.write().take_invalidations();
        if invalidations.is_empty() {
            return;
        }
        cpu.flush_tlb();
        for inv in invalidations.iter().filter(|i| i.was_exec) {
            cpu.flush_code(inv.start, inv.end);
        }
        // The other vCPUs (held out of guest code by the call's quiesce) flush before they
        // run guest code again.
        if self.group.is_multithreaded() {
            let code: Vec<_> =
                invalidations.iter().filter(|i| i.was_exec).map(|i| (i.start, i.end)).collect();
            self.group.publish(&code);
        }
    }
}

/// kernel/fs `__set_task_comm`: the name is cut at its first NUL and at 15 bytes, NUL-padded.
fn set_comm(comm: &mut [u8; TASK_COMM_LEN], name: &[u8]) {
    let name = name.split(|&b| b == 0).next().unwrap_or_default();
    let n = name.len().min(TASK_COMM_LEN - 1);
    *comm = [0; TASK_COMM_LEN];
    comm[..n].copy_from_slice(&name[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_set_comm_cuts_at_nul_and_at_15_bytes() {
        let mut comm = [b'x'; TASK_COMM_LEN];
        set_comm(&mut comm, b"sh");
        assert_eq!(&comm, b"sh\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        set_comm(&mut comm, b"abcdefghijklmnopqrst");
        assert_eq!(&comm, b"abcdefghijklmno\0");
        set_comm(&mut comm, b"ab\0cd");
        assert_eq!(&comm, b"ab\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        set_comm(&mut comm, b"");
        assert_eq!(comm, [0; TASK_COMM_LEN]);
    }
}
