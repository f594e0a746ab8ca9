//! The thread group: what every thread of a guest process shares — the process's identity
//! and facts, its pending signals, its signal actions, the respawned children it tracks, and
//! what keeps its threads' vCPUs consistent. One host thread and one engine vCPU run each
//! guest thread, all on the process's address space.
//!
//! - `clone(CLONE_VM|CLONE_THREAD|CLONE_SIGHAND|...)` starts a host thread with a vCPU of its
//!   own; the new task shares the address space, the descriptor table and the signal actions
//!   (Arc handles), and has its own tid, mask, pending signals and robust list.
//! - The quiesce barrier ([`ThreadGroup::quiesce`]): a change to the address space that other vCPUs
//!   may have cached (unmap, protect, remap, exec) and every fork capture first gets every other
//!   thread out of guest code — a thread in a system call is out already — and holds them out
//!   until the change is made; each thread flushes its TLB (and the code ranges that were
//!   invalidated) before it runs guest code again. The wait is bounded: a vCPU that does not
//!   stop within [`QUIESCE_LIMIT`] is reported, and the change goes ahead.
//! - A thread's `exit` ends its host thread: `clear_child_tid` is cleared and woken, robust
//!   futexes it held are marked dead. The last thread's exit, `exit_group` or a fatal signal in
//!   any thread ends the process from the thread that decided it.
//! - `execve` in a multithreaded process ([`ThreadGroup::de_thread`]) ends every other thread
//!   and waits until each has left guest code and every host call. When the caller is not the
//!   process's first thread, the first thread's host thread (whose host tid is the pid) carries
//!   the new image on ([`ThreadGroup::hand_over`]), so the guest's pid, tid and host tid agree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use elfvisor_abi::GuestAddr;
use elfvisor_abi::signal::Sigaction;
use elfvisor_engine::{Cpu, Stopper};

use super::types::{EngineHandle, HwCaps, TimerTable};
use crate::fork::ForkStrategy;
use crate::fork::respawn::wire::Channel;
use crate::host::futex::ShadowRobustList;
use crate::signal::info::{SigActions, SigInfo};

/// How long a quiesce waits for another vCPU to leave guest code.
pub const QUIESCE_LIMIT: Duration = Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A queue of pending signals with a flag that says, without the lock, whether it is empty.
/// The process's queue and its first thread's publish their signal sets on the process board
/// whenever they change.
#[derive(Debug, Default)]
struct PendingQueue {
    list: Mutex<Vec<SigInfo>>,
    nonempty: AtomicBool,
    /// The set last published, and whose it is (0: not published, 1: the first thread's,
    /// 2: the process's).
    bits: AtomicU64,
    published_as: AtomicU8,
}

impl PendingQueue {
    fn for_process() -> PendingQueue {
        PendingQueue { published_as: AtomicU8::new(2), ..PendingQueue::default() }
    }

    fn lock(&self) -> PendingGuard<'_> {
        PendingGuard { list: lock(&self.list), queue: self }
    }

    /// Makes this the first thread's queue or not, publishing what it holds (or, leaving,
    /// an empty set in its place).
    fn set_leader(&self, leader: bool) {
        let was = self.published_as.swap(u8::from(leader), Ordering::SeqCst);
        if leader {
            let bits = signal_bits(&lock(&self.list));
            self.bits.store(bits, Ordering::SeqCst);
            crate::board::publish_pending(crate::board::PendingOf::Leader, bits);
        } else if was == 1 {
            crate::board::publish_pending(crate::board::PendingOf::Leader, 0);
        }
    }
}

fn signal_bits(list: &[SigInfo]) -> u64 {
    list.iter().fold(0, |m, s| m | s.signo.mask_bit())
}

/// The locked queue; the flag and the published set follow it when the guard drops.
#[derive(Debug)]
pub struct PendingGuard<'a> {
    list: MutexGuard<'a, Vec<SigInfo>>,
    queue: &'a PendingQueue,
}

impl std::ops::Deref for PendingGuard<'_> {
    type Target = Vec<SigInfo>;
    fn deref(&self) -> &Vec<SigInfo> {
        &self.list
    }
}

impl std::ops::DerefMut for PendingGuard<'_> {
    fn deref_mut(&mut self) -> &mut Vec<SigInfo> {
        &mut self.list
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let q = self.queue;
        q.nonempty.store(!self.list.is_empty(), Ordering::Release);
        let of = match q.published_as.load(Ordering::Relaxed) {
            1 => crate::board::PendingOf::Leader,
            2 => crate::board::PendingOf::Process,
            _ => return,
        };
        // Still under the queue's lock, so sets are published in the order they were made.
        let bits = signal_bits(&self.list);
        if q.bits.swap(bits, Ordering::Relaxed) != bits {
            crate::board::publish_pending(of, bits);
        }
    }
}

/// Publishes the process's threads on its board; the first thread's queue publishes its
/// pending set.
fn publish_threads(threads: &[Arc<TaskHandle>], pid: u32) {
    let tids: Vec<u32> = threads.iter().map(|t| t.tid()).collect();
    crate::board::publish_threads(&tids);
    if let Some(leader) = threads.iter().find(|t| t.tid() == pid) {
        if leader.pending.published_as.load(Ordering::Relaxed) != 1 {
            leader.pending.set_leader(true);
        }
    }
}

/// What a process is, fixed when it starts (or replaced whole by `execve`, for the image).
#[derive(Debug, Clone)]
pub struct ProcessInit {
    pub pid: u32,
    /// The program's absolute path as the guest names it (what `/proc/self/exe` answers).
    pub exe: PathBuf,
    /// How `fork` is carried out.
    pub fork_strategy: ForkStrategy,
    /// AT_HWCAP/AT_HWCAP2 of the engine, for the images `execve` loads.
    pub hwcaps: HwCaps,
    /// Where a handler returns when its action has no SA_RESTORER (the vDSO's `__kernel_rt_sigreturn`).
    pub sigreturn_trampoline: u64,
    /// `--strace`.
    pub trace: bool,
    /// The execution domain and its flags (`personality`): inherited by fork, kept by exec.
    pub personality: u32,
}

/// The children a process created by a respawn fork, and the control lines to them
/// (`fork::respawn::control`).
#[derive(Debug, Default)]
pub struct RespawnChildren {
    /// Recorded before they were admitted.
    pub children: BTreeSet<u32>,
    /// The control lines, by pid.
    pub controls: BTreeMap<u32, Channel>,
    /// Admitted since this process's last system call: they hold their exit until it.
    pub unreleased: Vec<u32>,
}

impl RespawnChildren {
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
}

/// The locked respawn bookkeeping; the lock-free `unreleased` flag follows it on drop.
#[derive(Debug)]
pub struct RespawnGuard<'a> {
    children: MutexGuard<'a, RespawnChildren>,
    unreleased: &'a AtomicBool,
}

impl std::ops::Deref for RespawnGuard<'_> {
    type Target = RespawnChildren;
    fn deref(&self) -> &RespawnChildren {
        &self.children
    }
}

impl std::ops::DerefMut for RespawnGuard<'_> {
    fn deref_mut(&mut self) -> &mut RespawnChildren {
        &mut self.children
    }
}

impl Drop for RespawnGuard<'_> {
    fn drop(&mut self) {
        self.unreleased.store(!self.children.unreleased.is_empty(), Ordering::Release);
    }
}

/// One guest process: what its threads share beyond the address space and descriptors.
#[derive(Debug)]
pub struct ThreadGroup {
    pid: u32,
    exe: Mutex<PathBuf>,
    fork_strategy: ForkStrategy,
    hwcaps: HwCaps,
    sigreturn_trampoline: AtomicU64,
    trace: bool,
    /// `personality` (Linux keeps it per task; every thread here shares one).
    personality: AtomicU32,
    /// The engine this process's vCPUs come from (set when it starts running).
    engine: OnceLock<EngineHandle>,
    /// The signal actions (`CLONE_SIGHAND`).
    sigactions: SigActions,
    /// Unknown syscall numbers already reported once.
    unknown_seen: Mutex<BTreeSet<u64>>,
    /// Refused ioctl requests already reported once.
    ioctl_seen: Mutex<BTreeSet<u32>>,
    respawn: Mutex<RespawnChildren>,
    /// Whether `respawn.unreleased` is non-empty (read without the lock on every call).
    has_unreleased: AtomicBool,
    /// Process-directed signals that no thread has taken yet.
    pending: PendingQueue,
    /// The live threads.
    threads: Mutex<Vec<Arc<TaskHandle>>>,
    /// How many there are (read without the lock on every system call).
    count: AtomicUsize,
    /// Bumped by each address-space change other vCPUs must see before running guest code.
    mm_gen: AtomicU64,
    /// Code ranges invalidated by those changes: (generation, start, end).
    code_log: Mutex<Vec<(u64, GuestAddr, GuestAddr)>>,
    /// The thread holding every other out of guest code, if any.
    hold: Mutex<Option<u32>>,
    released: Condvar,
    /// The POSIX timers (a forked child starts with none).
    timers: Mutex<TimerTable>,
    /// Notified whenever a thread leaves `threads` (what an execve waits for).
    ended: Condvar,
    /// An execve is ending the other threads: no new thread may join.
    execing: AtomicBool,
    /// The first thread's host thread once its guest thread ended while others ran on, and
    /// what it carries on after another thread's execve.
    seat: Mutex<LeaderSeat>,
    seated: Condvar,
}

/// Where the first thread's host thread waits after its guest thread ended.
#[derive(Debug, Default)]
struct LeaderSeat {
    /// Its handle, which becomes the execing thread's.
    parked: Option<Arc<TaskHandle>>,
    /// What it carries on: the state of the thread that ran execve.
    successor: Option<Box<Succession>>,
}

/// What a thread that ran execve hands to the first thread's host thread: the new image and
/// the per-thread state that survives execve (execve(2): the mask and pending signals; the
/// name the image gave it).
#[derive(Debug)]
pub struct Succession {
    pub exec: Box<crate::exec::PreparedExec>,
    pub sigmask: u64,
    pub comm: [u8; elfvisor_abi::prctl::TASK_COMM_LEN],
    /// Signals queued for the execing thread alone.
    pub pending: Vec<SigInfo>,
    /// The execing thread's host thread, joined before the new image runs.
    pub host_thread: Option<std::thread::JoinHandle<()>>,
}

impl ThreadGroup {
    pub fn new(init: ProcessInit) -> Arc<ThreadGroup> {
        ThreadGroup::with_actions(init, SigActions::new([Sigaction::default(); 64]))
    }

    fn with_actions(init: ProcessInit, sigactions: SigActions) -> Arc<ThreadGroup> {
        Arc::new(ThreadGroup {
            pid: init.pid,
            exe: Mutex::new(init.exe),
            fork_strategy: init.fork_strategy,
            hwcaps: init.hwcaps,
            sigreturn_trampoline: AtomicU64::new(init.sigreturn_trampoline),
            trace: init.trace,
            personality: AtomicU32::new(init.personality),
            engine: OnceLock::new(),
            sigactions,
            unknown_seen: Mutex::new(BTreeSet::new()),
            ioctl_seen: Mutex::new(BTreeSet::new()),
            respawn: Mutex::new(RespawnChildren::default()),
            has_unreleased: AtomicBool::new(false),
            pending: PendingQueue::for_process(),
            threads: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            mm_gen: AtomicU64::new(0),
            code_log: Mutex::new(Vec::new()),
            hold: Mutex::new(None),
            released: Condvar::new(),
            timers: Mutex::new(TimerTable::default()),
            ended: Condvar::new(),
            execing: AtomicBool::new(false),
            seat: Mutex::new(LeaderSeat::default()),
            seated: Condvar::new(),
        })
    }

    /// The group of a host-forked child (pid `pid`), whose only thread is the forking one: the
    /// same facts, actions and respawn bookkeeping, no threads, nothing pending.
    pub fn forked(&self, pid: u32) -> Arc<ThreadGroup> {
        let init = ProcessInit { pid, ..self.init() };
        let group = ThreadGroup::with_actions(init, self.sigactions.clone());
        if let Some(engine) = self.engine() {
            group.set_engine(engine);
        }
        *lock(&group.unknown_seen) = lock(&self.unknown_seen).clone();
        *lock(&group.ioctl_seen) = lock(&self.ioctl_seen).clone();
        *group.respawn() = std::mem::take(&mut *self.respawn());
        group
    }

    /// The facts this group started with (the image as it is now).
    pub fn init(&self) -> ProcessInit {
        ProcessInit {
            pid: self.pid,
            exe: self.exe(),
            fork_strategy: self.fork_strategy,
            hwcaps: self.hwcaps,
            sigreturn_trampoline: self.sigreturn_trampoline(),
            trace: self.trace,
            personality: self.personality(),
        }
    }

    /// The process's `personality` value.
    pub fn personality(&self) -> u32 {
        self.personality.load(Ordering::Relaxed)
    }

    /// Sets it, answering the one it replaces.
    pub fn set_personality(&self, value: u32) -> u32 {
        self.personality.swap(value, Ordering::Relaxed)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The program's absolute path as the guest names it (what `/proc/self/exe` answers).
    pub fn exe(&self) -> PathBuf {
        lock(&self.exe).clone()
    }

    pub fn fork_strategy(&self) -> ForkStrategy {
        self.fork_strategy
    }

    pub fn hwcaps(&self) -> HwCaps {
        self.hwcaps
    }

    /// Where a handler returns when its action has no SA_RESTORER.
    pub fn sigreturn_trampoline(&self) -> u64 {
        self.sigreturn_trampoline.load(Ordering::Relaxed)
    }

    /// `execve` replaced the image: its path and its vDSO's sigreturn.
    pub fn set_image(&self, exe: PathBuf, sigreturn_trampoline: u64) {
        *lock(&self.exe) = exe;
        self.sigreturn_trampoline.store(sigreturn_trampoline, Ordering::Relaxed);
    }

    /// Whether `--strace` prints this process's calls.
    pub fn trace(&self) -> bool {
        self.trace
    }

    pub fn engine(&self) -> Option<EngineHandle> {
        self.engine.get().copied()
    }

    /// Records the engine once, when the process starts running.
    pub fn set_engine(&self, engine: EngineHandle) {
        let _ = self.engine.set(engine);
    }

    pub fn sigactions(&self) -> &SigActions {
        &self.sigactions
    }

    /// Records `nr` as reported; true the first time for this process.
    pub fn first_report_of(&self, nr: u64) -> bool {
        lock(&self.unknown_seen).insert(nr)
    }

    /// Records ioctl `request` as reported; true the first time for this process.
    pub fn first_ioctl_report(&self, request: u32) -> bool {
        lock(&self.ioctl_seen).insert(request)
    }

    /// The respawned children's bookkeeping, locked.
    pub fn respawn(&self) -> RespawnGuard<'_> {
        RespawnGuard { children: lock(&self.respawn), unreleased: &self.has_unreleased }
    }

    /// Whether respawned children wait for their exit to be released (lock-free).
    pub fn has_unreleased(&self) -> bool {
        self.has_unreleased.load(Ordering::Acquire)
    }

    /// Process-directed pending signals, locked.
    pub fn pending(&self) -> PendingGuard<'_> {
        self.pending.lock()
    }

    /// Whether anything is queued (a lock-free look, for every system call's exit).
    pub fn has_pending(&self) -> bool {
        self.pending.nonempty.load(Ordering::Acquire)
    }

    pub fn register(&self, thread: &Arc<TaskHandle>) {
        let mut threads = lock(&self.threads);
        threads.push(Arc::clone(thread));
        self.count.store(threads.len(), Ordering::SeqCst);
        publish_threads(&threads, self.pid);
    }

    /// A new thread joins; false while an execve ends the threads (Linux's copy_process fails
    /// a clone whose caller has a fatal signal pending, and de_thread kills the caller).
    pub fn join(&self, thread: &Arc<TaskHandle>) -> bool {
        let mut threads = lock(&self.threads);
        if self.execing.load(Ordering::SeqCst) {
            return false;
        }
        threads.push(Arc::clone(thread));
        self.count.store(threads.len(), Ordering::SeqCst);
        publish_threads(&threads, self.pid);
        true
    }

    /// Removes a thread; returns how many remain. The first thread's host thread takes its
    /// seat first (see [`ThreadGroup::await_successor`]).
    pub fn unregister(&self, thread: &Arc<TaskHandle>) -> usize {
        let mut threads = lock(&self.threads);
        if thread.tid() == self.pid {
            lock(&self.seat).parked = Some(Arc::clone(thread));
        }
        threads.retain(|t| !Arc::ptr_eq(t, thread));
        thread.pending.set_leader(false);
        self.count.store(threads.len(), Ordering::SeqCst);
        publish_threads(&threads, self.pid);
        self.ended.notify_all();
        threads.len()
    }

    /// Whether more than one thread runs. Only a thread of this process starts another, so a
    /// thread that sees `false` stays alone until it starts one itself.
    pub fn is_multithreaded(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 1
    }

    /// The thread with guest id `tid`.
    pub fn find(&self, tid: u32) -> Option<Arc<TaskHandle>> {
        lock(&self.threads).iter().find(|t| t.tid() == tid).cloned()
    }

    /// The POSIX timers, locked.
    pub fn timers(&self) -> MutexGuard<'_, TimerTable> {
        lock(&self.timers)
    }

    pub fn threads(&self) -> Vec<Arc<TaskHandle>> {
        lock(&self.threads).clone()
    }

    /// Interrupts every other thread — a running vCPU stops at its next block boundary, a
    /// blocking host call (a sigwait, a futex wait) returns EINTR — so a new process-directed
    /// signal is seen by a thread that does not block it, or that waits for it.
    pub fn kick_all(&self) {
        let me = crate::host::gettid();
        let others: Vec<i32> = lock(&self.threads)
            .iter()
            .filter(|t| t.host_tid() != me)
            .map(|t| {
                t.kick();
                t.host_tid()
            })
            .collect();
        for tid in others {
            crate::signal::forward::interrupt(tid);
        }
    }

    /// execve from `me` (Linux's de_thread, fs/exec.c, with zap_other_threads, kernel/signal.c):
    /// every other thread is killed — its vCPU stopped, a blocking host call interrupted as a
    /// signal interrupts it, a wait for the quiesce hold abandoned — and this returns once each
    /// has left the group, that is, has left guest code and every host call and released its
    /// robust list and `clear_child_tid` as any thread's death does. The wait is a condition
    /// variable: each thread that ends notifies it, so nothing here depends on timing.
    ///
    /// EAGAIN when `me` was itself killed first: another thread's execve won (de_thread returns
    /// -EAGAIN when a group exit is already under way, and the caller dies of its SIGKILL).
    pub fn de_thread(&self, me: &Arc<TaskHandle>) -> Result<(), elfvisor_abi::Errno> {
        let others: Vec<Arc<TaskHandle>> = {
            let threads = lock(&self.threads);
            if me.is_killed() {
                return Err(elfvisor_abi::Errno::EAGAIN);
            }
            self.execing.store(true, Ordering::SeqCst);
            let others: Vec<_> = threads.iter().filter(|t| !Arc::ptr_eq(t, me)).cloned().collect();
            for t in &others {
                t.killed.store(true, Ordering::SeqCst);
            }
            others
        };
        // Threads waiting for the quiesce hold look at `killed` under its lock.
        drop(lock(&self.hold));
        self.released.notify_all();
        for t in &others {
            t.kick();
            // A blocking host call returns EINTR; the kick is repeated until the thread has
            // looked at its signals, and a killed thread does not block again.
            crate::signal::forward::interrupt(t.host_tid());
        }
        let mut threads = lock(&self.threads);
        while threads.iter().any(|t| !Arc::ptr_eq(t, me)) {
            threads = self.ended.wait(threads).unwrap_or_else(|e| e.into_inner());
        }
        drop(threads);
        // Each has left the group as its last act; its host thread is gone once joined (the
        // first thread's, which has no join handle, waits for a successor instead).
        for t in &others {
            t.join_host_thread();
        }
        self.execing.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// The last step of an execve by `me`, which is not the first thread: the first thread's
    /// host thread, seated since its guest thread ended, takes `succession` and its own handle
    /// back into the group in place of `me` (de_thread's exchange of the leader's pid). Returns
    /// the succession when no host thread is seated (the caller then carries on itself).
    pub fn hand_over(
        &self,
        me: &Arc<TaskHandle>,
        mut succession: Box<Succession>,
    ) -> Result<(), Box<Succession>> {
        let mut threads = lock(&self.threads);
        let mut seat = lock(&self.seat);
        let Some(leader) = seat.parked.take() else { return Err(succession) };
        succession.host_thread = me.take_host_thread();
        leader.killed.store(false, Ordering::SeqCst);
        *leader.pending() = std::mem::take(&mut succession.pending);
        threads.retain(|t| !Arc::ptr_eq(t, me));
        threads.push(leader);
        self.count.store(threads.len(), Ordering::SeqCst);
        seat.successor = Some(succession);
        self.seated.notify_all();
        Ok(())
    }

    /// Whether the first thread's host thread is seated (its guest thread has ended).
    pub fn leader_seated(&self) -> bool {
        lock(&self.seat).parked.is_some()
    }

    /// Called on the first thread's host thread after its guest thread ended while others ran
    /// on: waits until another thread's execve hands it the process (forever if none does; the
    /// thread that ends the process ends the host process).
    pub fn await_successor(&self) -> Box<Succession> {
        let mut seat = lock(&self.seat);
        loop {
            if let Some(s) = seat.successor.take() {
                return s;
            }
            seat = self.seated.wait(seat).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Publishes code that a thread still in guest code rewrote and invalidated (`IC IVAU`)
    /// and waits until no other thread can run a stale translation of it: each one has either
    /// flushed up to this generation at an entry to guest code, or is out of guest code (and
    /// flushes at its next entry). A thread that entered before the publication is stopped.
    /// No barrier is held, so a thread waiting in `quiesce` for this one is not deadlocked:
    /// it is itself out of guest code, and this one leaves at the next block after returning.
    /// Why that is enough: `enter_guest` stores `in_guest` before it loads the generation,
    /// this publication increments the generation before it loads `in_guest`; all SeqCst, so a
    /// thread that loaded the old generation is seen in guest code and is stopped.
    pub fn publish_guest_code(&self, me: &Arc<TaskHandle>, start: GuestAddr, end: GuestAddr) {
        let generation = self.publish(&[(start, end)]);
        for t in self.threads().iter().filter(|t| !Arc::ptr_eq(t, me)) {
            t.wait_flushed(generation);
        }
    }

    /// Stops every other thread's vCPU and waits until each is out of guest code (each bounded
    /// by [`QUIESCE_LIMIT`]): a debugger's stop, which holds them afterwards by its own means.
    pub fn wait_siblings_out_of_guest(&self, me: &Arc<TaskHandle>) {
        for t in self.threads().iter().filter(|t| !Arc::ptr_eq(t, me)) {
            t.wait_out_of_guest();
        }
    }

    /// Records an address-space change the other vCPUs must flush before running guest code;
    /// returns its generation.
    pub fn publish(&self, code: &[(GuestAddr, GuestAddr)]) -> u64 {
        let mut log = lock(&self.code_log);
        let generation = self.mm_gen.fetch_add(1, Ordering::SeqCst) + 1;
        log.extend(code.iter().map(|&(s, e)| (generation, s, e)));
        // Every thread that has seen a generation no longer needs entries up to it.
        let oldest = lock(&self.threads)
            .iter()
            .map(|t| t.seen_gen.load(Ordering::SeqCst))
            .min()
            .unwrap_or(generation);
        log.retain(|(g, _, _)| *g > oldest);
        generation
    }

    /// Gets every other thread out of guest code and keeps it out until the guard drops.
    /// A thread killed by another's execve while it waits gets a guard that holds nothing.
    pub fn quiesce(self: &Arc<ThreadGroup>, me: &Arc<TaskHandle>) -> Quiesced {
        let mut hold = lock(&self.hold);
        let my_tid = me.tid();
        while hold.is_some_and(|t| t != my_tid) {
            if me.is_killed() {
                return Quiesced { group: Arc::clone(self), outer: false };
            }
            hold = self.released.wait(hold).unwrap_or_else(|e| e.into_inner());
        }
        let outer = hold.is_none();
        *hold = Some(my_tid);
        drop(hold);
        if outer {
            for t in self.threads().iter().filter(|t| !Arc::ptr_eq(t, me)) {
                t.wait_out_of_guest();
            }
        }
        Quiesced { group: Arc::clone(self), outer }
    }

    /// Called by a thread about to run guest code: waits while another thread holds the
    /// others out, then flushes what changed since it last ran. Returns false when this
    /// thread must end instead (another thread's execve replaced the process image).
    pub fn enter_guest(&self, me: &TaskHandle, cpu: &mut dyn Cpu) -> bool {
        if !self.is_multithreaded() && !me.killed.load(Ordering::SeqCst) {
            // Alone: nothing holds this thread out, and only it changes the address space. (Its
            // `in_guest` matters only to a quiesce, and only it can start a second thread: in a
            // system call, whose exit takes the path below.)
            return true;
        }
        loop {
            {
                let mut hold = lock(&self.hold);
                while hold.is_some_and(|t| t != me.tid()) && !me.is_killed() {
                    hold = self.released.wait(hold).unwrap_or_else(|e| e.into_inner());
                }
                me.in_guest.store(true, Ordering::SeqCst);
            }
            if me.killed.load(Ordering::SeqCst) {
                me.in_guest.store(false, Ordering::SeqCst);
                return false;
            }
            // A quiesce that started after the store above sees `in_guest` and waits for us.
            let generation = self.mm_gen.load(Ordering::SeqCst);
            let seen = me.seen_gen.load(Ordering::SeqCst);
            if generation != seen {
                cpu.flush_tlb();
                for (_, start, end) in lock(&self.code_log).iter().filter(|(g, _, _)| *g > seen) {
                    cpu.flush_code(*start, *end);
                }
                me.seen_gen.store(generation, Ordering::SeqCst);
            }
            if lock(&self.hold).is_none_or(|t| t == me.tid()) {
                return true;
            }
            me.in_guest.store(false, Ordering::SeqCst);
        }
    }
}

/// Other threads are held out of guest code while this lives.
#[derive(Debug)]
pub struct Quiesced {
    group: Arc<ThreadGroup>,
    outer: bool,
}

impl Drop for Quiesced {
    fn drop(&mut self) {
        if self.outer {
            *lock(&self.group.hold) = None;
            self.group.released.notify_all();
        }
    }
}

/// One thread's part of the group's bookkeeping, reachable from its siblings: its ids, its
/// pending signals, its vCPU's stopper and whether it runs guest code.
#[derive(Debug)]
pub struct TaskHandle {
    tid: AtomicU32,
    /// The host thread running it (signals sent to this guest thread go there).
    host_tid: AtomicI32,
    pending: PendingQueue,
    in_guest: AtomicBool,
    seen_gen: AtomicU64,
    stopper: Mutex<Option<Stopper>>,
    /// Its vCPU was stopped since it last looked ([`TaskHandle::take_kicked`]): a run that
    /// ended at once may have ended for that.
    kicked: AtomicBool,
    /// The host thread running it, for a thread `clone` started.
    host_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Another thread ran execve: this one ends.
    killed: AtomicBool,
    /// Its `set_robust_list` head, for a sibling's `get_robust_list`.
    robust_head: AtomicU64,
    /// Its signal mask as of its last system call's entry or exit (or signal delivery), for
    /// a sibling reading its `/proc` `status` or `stat`.
    sigmask: AtomicU64,
    /// What the host kernel releases if the emulator is killed outright.
    shadow_robust: ShadowRobustList,
}

impl TaskHandle {
    pub fn new(tid: u32) -> Arc<TaskHandle> {
        Arc::new(TaskHandle {
            tid: AtomicU32::new(tid),
            host_tid: AtomicI32::new(crate::host::gettid()),
            pending: PendingQueue::default(),
            in_guest: AtomicBool::new(false),
            seen_gen: AtomicU64::new(0),
            stopper: Mutex::new(None),
            kicked: AtomicBool::new(false),
            host_thread: Mutex::new(None),
            killed: AtomicBool::new(false),
            robust_head: AtomicU64::new(0),
            sigmask: AtomicU64::new(0),
            shadow_robust: Default::default(),
        })
    }

    pub fn tid(&self) -> u32 {
        self.tid.load(Ordering::SeqCst)
    }

    pub fn set_tid(&self, tid: u32) {
        self.tid.store(tid, Ordering::SeqCst);
    }

    pub fn host_tid(&self) -> i32 {
        self.host_tid.load(Ordering::SeqCst)
    }

    /// Records the host thread `clone` started for this guest thread.
    pub fn set_host_thread(&self, thread: std::thread::JoinHandle<()>) {
        *lock(&self.host_thread) = Some(thread);
    }

    fn take_host_thread(&self) -> Option<std::thread::JoinHandle<()>> {
        lock(&self.host_thread).take()
    }

    /// Waits until its host thread has exited (after the guest thread left the group, nothing
    /// is left for it but to return).
    fn join_host_thread(&self) {
        if let Some(thread) = self.take_host_thread() {
            let _ = thread.join();
        }
    }

    /// Whether another thread's execve killed this one (it runs no more guest code, restarts
    /// no call and does not block again).
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Records the calling host thread as this guest thread's.
    pub fn bind_host_thread(&self) {
        self.host_tid.store(crate::host::gettid(), Ordering::SeqCst);
    }

    /// What the host kernel releases if the emulator is killed outright.
    pub fn shadow_robust(&self) -> &ShadowRobustList {
        &self.shadow_robust
    }

    pub fn pending(&self) -> PendingGuard<'_> {
        self.pending.lock()
    }

    /// Whether anything is queued (a lock-free look, for every system call's exit).
    pub fn has_pending(&self) -> bool {
        self.pending.nonempty.load(Ordering::Acquire)
    }

    pub fn robust_head(&self) -> u64 {
        self.robust_head.load(Ordering::SeqCst)
    }

    pub fn set_robust_head(&self, head: u64) {
        self.robust_head.store(head, Ordering::SeqCst);
    }

    /// The thread's signal mask as it last published it.
    pub fn sigmask(&self) -> u64 {
        self.sigmask.load(Ordering::Relaxed)
    }

    /// Publishes the thread's signal mask for its siblings' `/proc` reads.
    pub fn publish_sigmask(&self, mask: u64) {
        self.sigmask.store(mask, Ordering::Relaxed);
    }

    pub fn set_stopper(&self, stopper: Stopper) {
        *lock(&self.stopper) = Some(stopper);
    }

    /// This thread leaves guest code (a system call, an exit from the engine).
    pub fn leave_guest(&self) {
        self.in_guest.store(false, Ordering::Release);
    }

    /// Asks its vCPU to stop at the next block boundary (a signal for it, a quiesce).
    pub fn kick(&self) {
        self.kicked.store(true, Ordering::SeqCst);
        if let Some(s) = lock(&self.stopper).as_ref() {
            s.stop();
        }
    }

    /// Whether [`TaskHandle::kick`] stopped its vCPU since the last time this was asked (a
    /// debugger's single step that ended without moving may have been ended by it, before the
    /// instruction ran, and is then made again).
    pub fn take_kicked(&self) -> bool {
        self.kicked.swap(false, Ordering::SeqCst)
    }

    /// Stops its vCPU until it is out of guest code or has flushed up to `generation`
    /// (bounded by [`QUIESCE_LIMIT`]).
    fn wait_flushed(&self, generation: u64) {
        let start = Instant::now();
        while self.in_guest.load(Ordering::SeqCst)
            && self.seen_gen.load(Ordering::SeqCst) < generation
        {
            self.kick();
            if start.elapsed() > QUIESCE_LIMIT {
                eprintln!(
                    "elfvisor: thread {} did not drop rewritten code within {:?}; going on",
                    self.tid(),
                    QUIESCE_LIMIT
                );
                return;
            }
            std::thread::sleep(Duration::from_micros(20));
        }
    }

    /// Stops its vCPU until it is out of guest code (bounded by [`QUIESCE_LIMIT`]).
    fn wait_out_of_guest(&self) {
        let start = Instant::now();
        while self.in_guest.load(Ordering::SeqCst) {
            // Repeated: a stop asked just before the vCPU entered the engine is lost.
            self.kick();
            if start.elapsed() > QUIESCE_LIMIT {
                eprintln!(
                    "elfvisor: thread {} did not leave guest code within {:?}; going on",
                    self.tid(),
                    QUIESCE_LIMIT
                );
                return;
            }
            std::thread::sleep(Duration::from_micros(20));
        }
    }
}
