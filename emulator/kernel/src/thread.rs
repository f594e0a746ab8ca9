//! Guest threads: one host thread and one engine vCPU per guest thread, all on the process's
//! address space, and what keeps them consistent.
//!
//! - `clone(CLONE_VM|CLONE_THREAD|CLONE_SIGHAND|...)` starts a host thread with a vCPU of its
//!   own; the new task shares the address space, the descriptor table and the signal actions
//!   (Arc handles), and has its own tid, mask, pending signals and robust list.
//! - The quiesce barrier ([`Group::quiesce`]): a change to the address space that other vCPUs
//!   may have cached (unmap, protect, remap, exec) and every fork capture first gets every other
//!   thread out of guest code — a thread in a system call is out already — and holds them out
//!   until the change is made; each thread flushes its TLB (and the code ranges that were
//!   invalidated) before it runs guest code again. The wait is bounded: a vCPU that does not
//!   stop within [`QUIESCE_LIMIT`] is reported, and the change goes ahead.
//! - A thread's `exit` ends its host thread: `clear_child_tid` is cleared and woken, robust
//!   futexes it held are marked dead. The last thread's exit, `exit_group` or a fatal signal in
//!   any thread ends the process from the thread that decided it.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use elfvisor_abi::GuestAddr;
use elfvisor_engine::{Cpu, Registers, Stopper};

use crate::process::{Process, Termination};
use crate::signal::SigInfo;

/// How long a quiesce waits for another vCPU to leave guest code.
pub const QUIESCE_LIMIT: Duration = Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A queue of pending signals with a flag that says, without the lock, whether it is empty.
#[derive(Debug, Default)]
struct PendingQueue {
    list: Mutex<Vec<SigInfo>>,
    nonempty: AtomicBool,
}

impl PendingQueue {
    fn lock(&self) -> PendingGuard<'_> {
        PendingGuard { list: lock(&self.list), nonempty: &self.nonempty }
    }
}

/// The locked queue; the flag follows it when the guard drops.
#[derive(Debug)]
pub struct PendingGuard<'a> {
    list: MutexGuard<'a, Vec<SigInfo>>,
    nonempty: &'a AtomicBool,
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
        self.nonempty.store(!self.list.is_empty(), Ordering::Release);
    }
}

/// What a process's threads share beyond the address space, descriptors and actions.
#[derive(Debug)]
pub struct Group {
    /// Process-directed signals that no thread has taken yet.
    pending: PendingQueue,
    /// The live threads.
    threads: Mutex<Vec<Arc<ThreadShared>>>,
    /// How many there are (read without the lock on every system call).
    count: AtomicUsize,
    /// Bumped by each address-space change other vCPUs must see before running guest code.
    mm_gen: AtomicU64,
    /// Code ranges invalidated by those changes: (generation, start, end).
    code_log: Mutex<Vec<(u64, GuestAddr, GuestAddr)>>,
    /// The thread holding every other out of guest code, if any.
    hold: Mutex<Option<u32>>,
    released: Condvar,
}

impl Group {
    pub fn new() -> Arc<Group> {
        Arc::new(Group {
            pending: PendingQueue::default(),
            threads: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            mm_gen: AtomicU64::new(0),
            code_log: Mutex::new(Vec::new()),
            hold: Mutex::new(None),
            released: Condvar::new(),
        })
    }

    /// Process-directed pending signals, locked.
    pub fn pending(&self) -> PendingGuard<'_> {
        self.pending.lock()
    }

    /// Whether anything is queued (a lock-free look, for every system call's exit).
    pub fn has_pending(&self) -> bool {
        self.pending.nonempty.load(Ordering::Acquire)
    }

    pub fn register(&self, thread: &Arc<ThreadShared>) {
        let mut threads = lock(&self.threads);
        threads.push(Arc::clone(thread));
        self.count.store(threads.len(), Ordering::SeqCst);
    }

    /// Removes a thread; returns how many remain.
    pub fn unregister(&self, thread: &Arc<ThreadShared>) -> usize {
        let mut threads = lock(&self.threads);
        threads.retain(|t| !Arc::ptr_eq(t, thread));
        self.count.store(threads.len(), Ordering::SeqCst);
        threads.len()
    }

    /// Whether more than one thread runs. Only a thread of this process starts another, so a
    /// thread that sees `false` stays alone until it starts one itself.
    pub fn is_multithreaded(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 1
    }

    /// The thread with guest id `tid`.
    pub fn find(&self, tid: u32) -> Option<Arc<ThreadShared>> {
        lock(&self.threads).iter().find(|t| t.tid() == tid).cloned()
    }

    pub fn threads(&self) -> Vec<Arc<ThreadShared>> {
        lock(&self.threads).clone()
    }

    /// Interrupts every other thread — a running vCPU stops at its next block boundary, a
    /// blocking host call (a sigwait, a futex wait) returns EINTR — so a new process-directed
    /// signal is seen by a thread that does not block it, or that waits for it.
    pub fn kick_all(&self) {
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() };
        let others: Vec<i32> = lock(&self.threads)
            .iter()
            .filter(|t| t.host_tid() != me)
            .map(|t| {
                t.kick();
                t.host_tid()
            })
            .collect();
        for tid in others {
            crate::hostsig::interrupt(tid);
        }
    }

    /// execve from `me`: every other thread ends when it next would run guest code (Linux's
    /// de_thread; one blocked in a host call ends when that call returns).
    pub fn kill_others(&self, me: &Arc<ThreadShared>) {
        let mut threads = lock(&self.threads);
        for t in threads.iter().filter(|t| !Arc::ptr_eq(t, me)) {
            t.killed.store(true, Ordering::SeqCst);
            t.kick();
        }
        threads.retain(|t| Arc::ptr_eq(t, me));
        self.count.store(threads.len(), Ordering::SeqCst);
    }

    /// Records an address-space change the other vCPUs must flush before running guest code.
    pub fn publish(&self, code: &[(GuestAddr, GuestAddr)]) {
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
    }

    /// Gets every other thread out of guest code and keeps it out until the guard drops.
    pub fn quiesce(self: &Arc<Group>, me: &Arc<ThreadShared>) -> Quiesced {
        let mut hold = lock(&self.hold);
        let my_tid = me.tid();
        while hold.is_some_and(|t| t != my_tid) {
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
    pub fn enter_guest(&self, me: &ThreadShared, cpu: &mut dyn Cpu) -> bool {
        if !self.is_multithreaded() && !me.killed.load(Ordering::SeqCst) {
            // Alone: nothing holds this thread out, and only it changes the address space. (Its
            // `in_guest` matters only to a quiesce, and only it can start a second thread: in a
            // system call, whose exit takes the path below.)
            return true;
        }
        loop {
            {
                let mut hold = lock(&self.hold);
                while hold.is_some_and(|t| t != me.tid()) {
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
    group: Arc<Group>,
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

/// One thread's part of the group's bookkeeping, reachable from its siblings.
#[derive(Debug)]
pub struct ThreadShared {
    tid: AtomicU32,
    /// The host thread running it (signals sent to this guest thread go there).
    host_tid: AtomicI32,
    pending: PendingQueue,
    in_guest: AtomicBool,
    seen_gen: AtomicU64,
    stopper: Mutex<Option<Stopper>>,
    /// Another thread ran execve: this one ends.
    killed: AtomicBool,
    /// Its `set_robust_list` head, for a sibling's `get_robust_list`.
    robust_head: AtomicU64,
    /// What the host kernel releases if the emulator is killed outright.
    pub shadow_robust: crate::syscalls::sys_futex::ShadowRobustList,
}

impl ThreadShared {
    pub fn new(tid: u32) -> Arc<ThreadShared> {
        Arc::new(ThreadShared {
            tid: AtomicU32::new(tid),
            // SAFETY: gettid has no preconditions.
            host_tid: AtomicI32::new(unsafe { libc::gettid() }),
            pending: PendingQueue::default(),
            in_guest: AtomicBool::new(false),
            seen_gen: AtomicU64::new(0),
            stopper: Mutex::new(None),
            killed: AtomicBool::new(false),
            robust_head: AtomicU64::new(0),
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

    /// Records the calling host thread as this guest thread's.
    pub fn bind_host_thread(&self) {
        // SAFETY: gettid has no preconditions.
        self.host_tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
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

    pub fn set_stopper(&self, stopper: Stopper) {
        *lock(&self.stopper) = Some(stopper);
    }

    /// This thread leaves guest code (a system call, an exit from the engine).
    pub fn leave_guest(&self) {
        self.in_guest.store(false, Ordering::Release);
    }

    /// Asks its vCPU to stop at the next block boundary (a signal for it, a quiesce).
    pub fn kick(&self) {
        if let Some(s) = lock(&self.stopper).as_ref() {
            s.stop();
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

/// The end of a thread's run (`end`, unless the guest set its own exit): the process ends
/// with it, or only the thread.
pub fn thread_ended(proc: &mut Process, end: Termination) -> Option<Termination> {
    let end = *proc.exit.get_or_insert(end);
    if !proc.thread_exit {
        return Some(end);
    }
    release_thread_resources(proc);
    let left = proc.group.unregister(&proc.thread);
    // The last thread's exit ends the process with its status.
    if left == 0 { Some(end) } else { None }
}

/// The process ends (exit_group, a fatal signal, its last thread's exit): every thread's
/// robust futexes are released as each thread's exit would. (A host SIGKILL of the emulator
/// leaves no chance to: the list holds guest pointers the host kernel cannot walk.)
pub fn process_ending(proc: &Process) {
    let mm = proc.mm.read();
    for t in proc.group.threads() {
        let head = if Arc::ptr_eq(&t, &proc.thread) { proc.robust_list.0 } else { t.robust_head() };
        crate::syscalls::sys_futex::exit_robust_list_of(&mm, head, t.tid());
    }
}

/// What Linux's exit_mm/exit_robust_list do for an exiting thread.
fn release_thread_resources(proc: &mut Process) {
    let mm = proc.mm.read();
    crate::syscalls::sys_futex::exit_robust_list_of(&mm, proc.robust_list.0, proc.tid);
    if proc.clear_child_tid != 0
        && mm.copy_out(GuestAddr(proc.clear_child_tid), &0u32.to_le_bytes()).is_ok()
    {
        let _ = crate::syscalls::sys_futex::wake_address(&mm, proc.clear_child_tid, 1);
    }
}

/// A new thread's clone arguments.
#[derive(Debug, Clone, Copy)]
pub struct ThreadArgs {
    pub flags: u64,
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
}

const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
const CLONE_CHILD_SETTID: u64 = 0x100_0000;

/// The registers a new thread starts with: the caller's, but x0 = 0, its own stack and TLS.
fn registers_of_new_thread(cpu: &dyn Cpu, args: &ThreadArgs) -> Registers {
    let mut regs = Registers::capture(cpu);
    regs.x[0] = 0;
    if args.stack != 0 {
        regs.sp = args.stack;
    }
    if args.flags & CLONE_SETTLS != 0 {
        regs.tpidr = args.tls;
    }
    regs
}

/// `clone` with `CLONE_THREAD`: starts the thread and returns its tid once it is ready to run.
/// The tid is the host thread's id, so the guest's ids are unique across the host like Linux's.
pub fn spawn(
    proc: &mut Process,
    cpu: &mut dyn Cpu,
    args: ThreadArgs,
) -> Result<u32, elfvisor_abi::Errno> {
    use elfvisor_abi::Errno;
    let engine = proc.engine.ok_or(Errno::EAGAIN)?;
    let regs = registers_of_new_thread(cpu, &args);
    let mut task = proc.new_thread(0);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<u32, String>>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<bool>();
    let spawned = std::thread::Builder::new().name("elfvisor-vcpu".into()).spawn(move || {
        task.thread.bind_host_thread();
        let tid = task.thread.host_tid() as u32;
        task.tid = tid;
        task.thread.set_tid(tid);
        let vcpu = match crate::run::create_vcpu(engine.0, &task) {
            Ok(mut vcpu) => {
                regs.load(vcpu.as_mut());
                vcpu
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e.to_string()));
                return;
            }
        };
        if args.flags & CLONE_CHILD_SETTID != 0 {
            let _ = task.mm.read().copy_out(GuestAddr(args.child_tid), &tid.to_le_bytes());
        }
        if args.flags & CLONE_CHILD_CLEARTID != 0 {
            task.clear_child_tid = args.child_tid;
        }
        task.group.register(&task.thread);
        if ready_tx.send(Ok(tid)).is_err() || go_rx.recv() != Ok(true) {
            task.group.unregister(&task.thread);
            return;
        }
        let end = match crate::run::run_thread(engine.0, &mut task, vcpu) {
            Ok(end) => end,
            Err(e) => {
                eprintln!("elfvisor: thread {tid}: {e}");
                Termination::Signaled(elfvisor_abi::Signo::SIGSEGV)
            }
        };
        if let Some(end) = thread_ended(&mut task, end) {
            crate::run::end_process(&mut task, end);
        }
    });
    if let Err(e) = spawned {
        eprintln!("elfvisor: cannot start a thread: {e}");
        return Err(Errno::EAGAIN);
    }
    let tid = match ready_rx.recv() {
        Ok(Ok(tid)) => tid,
        Ok(Err(e)) => {
            eprintln!("elfvisor: cannot start a thread: {e}");
            return Err(Errno::EAGAIN);
        }
        Err(_) => return Err(Errno::EAGAIN),
    };
    if args.flags & CLONE_PARENT_SETTID != 0 {
        let _ = proc.mm.read().copy_out(GuestAddr(args.parent_tid), &tid.to_le_bytes());
    }
    let _ = go_tx.send(true);
    Ok(tid)
}
