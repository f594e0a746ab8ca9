//! Tasks: one guest thread each ([`Task`]), the thread group its process's threads share
//! ([`group::ThreadGroup`]) and the plain values both keep ([`types`]).
//!
//! A task owns what is its thread's alone (tid, signal mask, alternate stack, clear_child_tid,
//! robust list, a pending exec or exit) and holds handles on what its process's threads share:
//! the address space, the descriptor table and the thread group. A single-threaded process is
//! one task.

pub mod group;
pub mod types;

use std::sync::{Arc, Mutex, MutexGuard};

use elfvisor_abi::prctl::TASK_COMM_LEN;
use elfvisor_abi::signal::StackT;
use elfvisor_engine::Cpu;
use elfvisor_mm::AddressSpace;

use self::group::{PendingGuard, ProcessInit, TaskHandle, ThreadGroup};
use self::types::{MemPolicy, RobustList, SharedMm, Termination};
use crate::exec::PreparedExec;
use crate::fdtable::FdTable;
use crate::fork::vfork::VforkLink;
use crate::signal::info::SigActions;

/// How far an exit reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitScope {
    /// `exit`: this thread ends; the process ends with its last thread.
    Thread,
    /// `exit_group`, a fatal signal: the whole process ends.
    Group,
}

/// One guest thread (a task, as Linux calls it).
#[derive(Debug)]
pub struct Task {
    /// The address space (`CLONE_VM` shares it).
    pub mm: SharedMm,
    /// The descriptor table (`CLONE_FILES` shares it); lock it only briefly, never across a
    /// blocking host call.
    fds: Arc<Mutex<FdTable>>,
    /// This task's process: its threads, shared pending signals, actions and facts.
    group: Arc<ThreadGroup>,
    /// This thread's share of the group's bookkeeping (its pending signals, vCPU state).
    handle: Arc<TaskHandle>,
    /// The guest's id for this thread (the pid for a process's first thread).
    tid: u32,
    /// The task name (`PR_GET_NAME`, `/proc/<pid>/comm`): at most 15 bytes, NUL-padded.
    comm: [u8; TASK_COMM_LEN],
    /// Set once the task decided to end, and how far that reaches.
    exit: Option<(Termination, ExitScope)>,
    /// `set_tid_address`/`CLONE_CHILD_CLEARTID`: cleared and woken when the thread ends.
    pub clear_child_tid: u64,
    /// `set_robust_list`.
    robust_list: RobustList,
    pub sigmask: u64,
    /// The mask `rt_sigsuspend` replaced, restored when its handler returns.
    pub saved_sigmask: Option<u64>,
    pub altstack: StackT,
    /// The NUMA memory policy (`set_mempolicy`).
    pub mempolicy: MemPolicy,
    /// A program `execve` loaded; the run loop switches to it.
    pub pending_exec: Option<Box<PreparedExec>>,
    /// In a vfork child: the link whose closing (exec or exit) releases the parent.
    pub vfork_done: Option<VforkLink>,
    /// A respawned child created with CLONE_VFORK (it keeps its fork socket as `vfork_done`),
    /// and whether with CLONE_VM.
    pub vfork_request: Option<bool>,
}

impl Task {
    /// The first task of a new process.
    pub fn new(mm: AddressSpace, fds: FdTable, init: ProcessInit) -> Task {
        let mut comm = [0; TASK_COMM_LEN];
        let name = init.exe.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default();
        set_comm(&mut comm, name);
        let pid = init.pid;
        let task = Task {
            mm: SharedMm::new(mm),
            fds: Arc::new(Mutex::new(fds)),
            group: ThreadGroup::new(init),
            handle: TaskHandle::new(pid),
            tid: pid,
            comm,
            exit: None,
            clear_child_tid: 0,
            robust_list: RobustList::default(),
            sigmask: 0,
            saved_sigmask: None,
            altstack: StackT::DISABLED,
            mempolicy: MemPolicy::default(),
            pending_exec: None,
            vfork_done: None,
            vfork_request: None,
        };
        task.group.register(&task.handle);
        task
    }

    /// The task of a new thread of this process (`clone` with `CLONE_THREAD`): the same address
    /// space, descriptors and group; the caller's mask; nothing pending. Registered with the
    /// group by the thread itself, once it runs.
    pub fn new_thread(&self, tid: u32) -> Task {
        let handle = TaskHandle::new(tid);
        handle.publish_sigmask(self.sigmask);
        Task {
            mm: self.mm.clone(),
            fds: Arc::clone(&self.fds),
            group: Arc::clone(&self.group),
            handle,
            tid,
            comm: self.comm,
            exit: None,
            clear_child_tid: 0,
            robust_list: RobustList::default(),
            sigmask: self.sigmask,
            saved_sigmask: None,
            // A new thread has no alternate stack (clone(2) with CLONE_VM).
            altstack: StackT::DISABLED,
            mempolicy: self.mempolicy,
            pending_exec: None,
            vfork_done: None,
            vfork_request: None,
        }
    }

    /// The guest's id for this thread.
    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// Gives this thread a new id (a new thread learns its own; an execve makes the execing
    /// thread the process's first).
    pub fn set_tid(&mut self, tid: u32) {
        self.tid = tid;
        self.handle.set_tid(tid);
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.group.pid()
    }

    pub fn group(&self) -> &Arc<ThreadGroup> {
        &self.group
    }

    pub fn handle(&self) -> &Arc<TaskHandle> {
        &self.handle
    }

    /// The signal actions of this task's process.
    pub fn sigactions(&self) -> &SigActions {
        self.group.sigactions()
    }

    /// Whether `--strace` prints this task's calls.
    pub fn trace(&self) -> bool {
        self.group.trace()
    }

    pub fn robust_list(&self) -> RobustList {
        self.robust_list
    }

    /// `set_robust_list`: recorded here and, for a sibling's `get_robust_list`, on the handle.
    pub fn set_robust_list(&mut self, list: RobustList) {
        self.robust_list = list;
        self.handle.set_robust_head(list.head);
    }

    /// What this task decided: how it ends, if it does.
    pub fn exit_status(&self) -> Option<Termination> {
        self.exit.map(|(end, _)| end)
    }

    /// Whether only this thread ends (`exit`), not its process.
    pub fn exits_alone(&self) -> bool {
        matches!(self.exit, Some((_, ExitScope::Thread)))
    }

    /// Ends this task (and with [`ExitScope::Group`], its process) with `end`.
    pub fn request_exit(&mut self, end: Termination, scope: ExitScope) {
        self.exit = Some((end, scope));
    }

    /// The task's end as it ran out (`end`), unless it had decided one already.
    pub fn settle_exit(&mut self, end: Termination) -> Termination {
        self.exit.get_or_insert((end, ExitScope::Group)).0
    }

    /// The locks other threads may hold, taken for a host fork.
    #[must_use]
    pub fn fork_locks(&self) -> impl Sized + '_ {
        (
            self.fds(),
            self.mm.write(),
            self.sigactions().lock(),
            self.group.pending(),
            self.group.respawn(),
            crate::signal::forward::fork_lock(),
        )
    }

    /// This thread ends because another thread's execve replaced the process. Its robust list
    /// and `clear_child_tid` are released as at any thread's death (Linux: the killed thread's
    /// do_exit → exit_mm → exit_mm_release, futex_exit_release and the clear_child_tid wake).
    pub fn vanish(&mut self) {
        self.exit = Some((Termination::Exited(0), ExitScope::Thread));
    }

    /// Whether another thread's execve killed this one.
    pub fn is_killed(&self) -> bool {
        self.handle.is_killed()
    }

    /// The state this thread, which ran execve, hands to the first thread's host thread
    /// (`ThreadGroup::hand_over`); it then ends without writing its `clear_child_tid` (Linux's
    /// exec_mm_release writes it only while other users share the old mm, and none do after
    /// de_thread).
    pub fn succession(&mut self, exec: Box<PreparedExec>) -> Box<group::Succession> {
        self.clear_child_tid = 0;
        self.robust_list = RobustList::default();
        self.exit = Some((Termination::Exited(0), ExitScope::Thread));
        Box::new(group::Succession {
            exec,
            sigmask: self.sigmask,
            comm: self.comm,
            pending: std::mem::take(&mut *self.pending()),
            host_thread: None,
        })
    }

    /// The first thread carries on the thread that ran execve: its mask, name and the image it
    /// loaded (its pending signals moved to this handle already). Returns the image.
    pub fn adopt(&mut self, s: group::Succession) -> Box<PreparedExec> {
        let group::Succession { exec, sigmask, comm, pending: _, host_thread } = s;
        // The thread that ran execve has left the host too before the new image runs.
        if let Some(thread) = host_thread {
            let _ = thread.join();
        }
        self.exit = None;
        self.sigmask = sigmask;
        self.saved_sigmask = None;
        self.comm = comm;
        exec
    }

    /// Makes this the only thread of a fresh group (a forked child, whose other threads did
    /// not come along).
    pub fn become_single(&mut self, pid: u32) {
        self.tid = pid;
        self.group = self.group.forked(pid);
        self.handle = TaskHandle::new(pid);
        self.group.register(&self.handle);
    }

    /// The descriptor table, locked. Never hold it across a blocking call.
    pub fn fds(&self) -> MutexGuard<'_, FdTable> {
        self.fds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This thread's pending signals, locked.
    pub fn pending(&self) -> PendingGuard<'_> {
        self.handle.pending()
    }

    /// The task name, NUL-padded.
    pub fn comm(&self) -> &[u8; TASK_COMM_LEN] {
        &self.comm
    }

    /// Renames the task, keeping the first 15 bytes of `name` (up to a NUL) as Linux does.
    pub fn set_comm(&mut self, name: &[u8]) {
        set_comm(&mut self.comm, name);
    }

    /// Takes the task name back from the calling host thread, which must be this task's: a
    /// write to the thread's `/proc` `comm` file renames the host thread, and `PR_GET_NAME`,
    /// a new thread and a fork child must see it.
    pub fn refresh_comm(&mut self) {
        let name = crate::host::thread_name();
        set_comm(&mut self.comm, &name);
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

/// A task of a small process (pid 4242, a 1 GiB arena, no descriptors), for unit tests.
#[cfg(test)]
pub(crate) fn test_task() -> Task {
    let mm = AddressSpace::new(1 << 30).expect("a small arena");
    let init = ProcessInit {
        pid: 4242,
        exe: "/bin/prog".into(),
        fork_strategy: crate::fork::ForkStrategy::Host,
        hwcaps: Default::default(),
        sigreturn_trampoline: 0x1000,
        trace: false,
        personality: 0,
    };
    Task::new(mm, FdTable::new(16), init)
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

    fn task() -> Task {
        test_task()
    }

    #[test]
    fn test_threads_share_their_process_and_keep_their_own_state() {
        let mut first = task();
        first.sigmask = 0b110;
        first.set_robust_list(RobustList { head: 0x5000, len: 24 });
        let mut second = first.new_thread(4243);
        assert!(Arc::ptr_eq(first.group(), second.group()));
        assert_eq!((second.pid(), second.tid()), (4242, 4243));
        assert_eq!(second.sigmask, 0b110, "a new thread starts with the caller's mask");
        assert_eq!(second.robust_list(), RobustList::default());
        assert_eq!(second.altstack, StackT::DISABLED);
        second.group().set_image("/bin/other".into(), 0x2000);
        assert_eq!(first.group().exe(), std::path::Path::new("/bin/other"));
        assert_eq!(first.group().sigreturn_trampoline(), 0x2000);
        second.request_exit(Termination::Exited(3), ExitScope::Thread);
        assert!(second.exits_alone() && first.exit_status().is_none());
    }

    #[test]
    fn test_an_unknown_call_is_reported_once_per_process() {
        let first = task();
        let second = first.new_thread(4243);
        assert!(first.group().first_report_of(500));
        assert!(!second.group().first_report_of(500), "a sibling thread does not report it again");
        assert!(second.group().first_report_of(501));
        let mut child = first.new_thread(0);
        child.become_single(4300);
        assert!(!child.group().first_report_of(500), "a forked child knows what was reported");
        assert_eq!(child.pid(), 4300);
        assert!(!Arc::ptr_eq(first.group(), child.group()));
    }

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
