//! `elfvisor --gdb PORT`: a GDB remote-serial-protocol server (the `gdbstub` crate's state
//! machine) for the program's threads, all-stop: each guest thread is a gdb thread, and when
//! one stops for the debugger every other one is held out of guest code until gdb resumes them.
//!
//! There is no debugger thread of its own. The guest thread that has something to report (a
//! breakpoint, a finished step, a signal, bytes from gdb while the guest runs, or the first
//! thread waiting for gdb to connect) *claims* the stop in the [`World`], stops its siblings
//! through their vCPUs' stoppers and serves the debugger from its run loop (`before_run`) until
//! gdb lets the guest go; the others wait in theirs (`park`). Each thread publishes its
//! registers in the world whenever it is back in its run loop (`left_guest`) and at every
//! system call's entry (`call_entered`), there as Linux shows a thread a stop interrupted in a
//! call: on the `svc`, x0 the first argument; gdb reads them there and its writes go back into
//! the vCPU as the thread resumes. A stop interrupts the calls threads are blocked in, as a
//! signal does, and they restart when the guest resumes. One thread of its own accepts the
//! connection and reads the socket, handing every byte over through a channel; while the guest
//! runs it stops every thread when a byte comes (gdb's Ctrl-C), so an interrupt never waits for
//! the guest, even when every thread is blocked in a system call.
//!
//! gdb resumes threads one by one (`vCont`): continue, step, or (scheduler locking, as when
//! gdb steps one thread over a breakpoint) stay stopped. Software breakpoints are `brk #0`
//! written over the guest's instruction through mm's checked access (as ptrace's POKE would),
//! translated code dropped when one is set or removed. A signal a thread is about to take stops
//! it first (`signal_stop`, and faults in `after_exit`); gdb's `continue` passes it on,
//! `signal 0` discards it, `signal SIGxxx` gives another one. `monitor siginfo` shows the
//! signal's `siginfo_t` fields. When two threads have something to report at once the first
//! wins; the other's breakpoint or fault happens again when it resumes (it is still at the
//! instruction), its signal stays pending, and a step it finished stays pending for it: reported
//! when gdb next steps it, without running anything.
//!
//! A fork child runs free of the debugger, the breakpoints taken out of its memory around the
//! fork (`fork_begin`, `fork_end`).

mod target;
mod wire;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};

use elfvisor_abi::signal::SI_USER;
use elfvisor_abi::{GuestAddr, Signo};
use elfvisor_engine::{Cpu, Exit, Registers, Vcpu};
use gdbstub::common::Signal;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStub, MultiThreadStopReason};

use crate::signal::delivery;
use crate::signal::info::{Detail, SigInfo, bit};
use crate::task::Task;
use crate::task::group::ThreadGroup;
use crate::task::types::Termination;

use target::{Action, Debuggee, Resume, from_gdb, gdb_tid, to_gdb};

/// Whether `--gdb` was given (and this is the process it was given to): the run loop's hooks
/// cost one load otherwise.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The host process the session belongs to: a host fork child has a copy it must not use.
static OWNER: AtomicU32 = AtomicU32::new(0);

/// Set in a host fork child: its vCPU's translated code (which may hold breakpoints) must go
/// before it runs again.
static CHILD_FLUSH: AtomicBool = AtomicBool::new(false);

/// The debugger's side: the protocol state machine, the connection, the breakpoints. Held by
/// the thread that serves, for as long as it serves.
static SESSION: Mutex<Option<Session>> = Mutex::new(None);

/// What every guest thread looks at: who serves, how each thread goes on, their registers.
/// Held only briefly (never while waiting for gdb); taken after [`SESSION`] when both are.
static WORLD: Mutex<World> = Mutex::new(World::new());
static WAKE: Condvar = Condvar::new();

/// What the socket thread and the guest's threads share.
static LINK: Mutex<Option<Arc<Link>>> = Mutex::new(None);

thread_local! {
    /// This guest thread's run in progress is a single step.
    static STEPPING: Cell<bool> = const { Cell::new(false) };
    /// Where that step started: a step whose vCPU had a stop pending from a kick (a sibling's
    /// claim while it waited, a quiesce) ends at once without moving, and is then made again.
    static STEP_FROM: Cell<Option<u64>> = const { Cell::new(None) };
}

/// A stop a thread claimed: it serves the debugger until gdb resumes the guest.
#[derive(Debug)]
struct Claim {
    tid: u32,
    /// What to report (none: the thread serves because gdb connected or sent bytes).
    reason: Option<MultiThreadStopReason<u64>>,
    /// The signal the thread stopped with, held until gdb says what becomes of it.
    signal: Option<SigInfo>,
    /// How the threads were going on before the claim (restored when gdb says nothing).
    prior: Resume,
}

/// A thread's registers as it last left guest code, and gdb's changes to them.
#[derive(Debug)]
struct Slot {
    regs: Registers,
    changed: bool,
}

#[derive(Debug)]
struct World {
    /// A debugger is attached and the guest is its to stop.
    attached: bool,
    /// Before the first connection, the first thread waits for one (`--gdb-wait`).
    waiting: bool,
    claim: Option<Claim>,
    /// How each thread goes on; while a thread serves, every other one stays.
    resume: Resume,
    /// Bumped at every resume: parked threads look again.
    generation: u64,
    regs: BTreeMap<u32, Slot>,
    /// A signal gdb gave a thread as it resumed.
    signals: BTreeMap<u32, SigInfo>,
    /// The debugger's breakpoints (the addresses), for threads that stop at a `brk #0`.
    breakpoints: BTreeSet<u64>,
    /// Steps that finished while another thread's stop was being reported, by thread, with the
    /// pc each ended at: reported, one at a time, when gdb next resumes that thread with a
    /// step, without running anything (gdbserver's pending statuses, all-stop).
    pending: BTreeMap<u32, u64>,
    /// The threads inside a system call (from its entry until the run loop has them again):
    /// what they published is where the call restarts (Linux's view of a thread a stop
    /// interrupted in a call), and a stop waits for them to come out.
    in_call: BTreeSet<u32>,
}

impl World {
    const fn new() -> World {
        World {
            attached: false,
            waiting: false,
            claim: None,
            resume: Resume { actions: BTreeMap::new(), locked: false },
            generation: 0,
            regs: BTreeMap::new(),
            signals: BTreeMap::new(),
            breakpoints: BTreeSet::new(),
            pending: BTreeMap::new(),
            in_call: BTreeSet::new(),
        }
    }

    fn action(&self, tid: u32) -> Action {
        self.resume.of(tid).0
    }

    /// `tid` claims a stop: every thread stays until gdb resumes them.
    fn claim(
        &mut self,
        tid: u32,
        reason: Option<MultiThreadStopReason<u64>>,
        signal: Option<SigInfo>,
    ) {
        let prior =
            std::mem::replace(&mut self.resume, Resume { actions: BTreeMap::new(), locked: true });
        self.claim = Some(Claim { tid, reason, signal, prior });
    }

    /// A stop left pending that `resume` lets gdb hear at once: a finished step of a thread
    /// gdb steps again (its new step is not made: the one it finished is the answer), the
    /// others left pending. One whose pc gdb changed meanwhile is stale and goes; when the
    /// guest does resume, those of the threads that run go too (`release`: they just run on).
    fn take_pending(&mut self, resume: &Resume) -> Option<u32> {
        let moved: Vec<u32> = self
            .pending
            .iter()
            .filter(|&(tid, &pc)| self.regs.get(tid).is_some_and(|s| s.changed && s.regs.pc != pc))
            .map(|(&tid, _)| tid)
            .collect();
        for tid in moved {
            self.pending.remove(&tid);
        }
        let tid = self.pending.keys().copied().find(|&t| resume.of(t).0 == Action::Step)?;
        self.pending.remove(&tid);
        Some(tid)
    }

    /// Whether thread `me` must not go on into guest code or a system call: another thread
    /// serves the debugger, or bytes from gdb (a Ctrl-C, a connection) wait for a thread to
    /// take them.
    fn stop_requested(&self, me: u32) -> bool {
        self.claim.as_ref().is_some_and(|c| c.tid != me)
            || (self.claim.is_none() && link().is_some_and(|l| l.input.load(Ordering::SeqCst)))
    }
}

fn world() -> MutexGuard<'static, World> {
    WORLD.lock().unwrap_or_else(|e| e.into_inner())
}

fn session() -> MutexGuard<'static, Option<Session>> {
    SESSION.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the socket thread reports.
enum Event {
    Connected(TcpStream),
    Bytes(Vec<u8>),
    Closed,
}

struct Link {
    /// Something came from the socket that no thread has looked at yet.
    input: AtomicBool,
    /// The connection goes to a fork child (`--gdb-follow child`): this process stops reading.
    hand_over: AtomicBool,
    /// The thread that reads the socket.
    reader: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The threads to stop when it does.
    group: Mutex<Option<Arc<ThreadGroup>>>,
}

impl Link {
    fn kick(&self) {
        self.input.store(true, Ordering::SeqCst);
        if world().claim.is_some() {
            // A thread is serving the debugger: it reads the channel itself.
            return;
        }
        let group = self.group.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(group) = group {
            for thread in group.threads() {
                stop_thread(&thread);
            }
        }
    }
}

fn link() -> Option<Arc<Link>> {
    LINK.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Listens on `127.0.0.1:port` (port 0: one the host picks) and says where on stderr. With
/// `wait`, the guest runs no instruction before a debugger has connected and let it go;
/// without, a debugger may connect at any time and stops the guest where it is.
pub fn listen(port: u16, wait: bool) -> std::io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    let link = Arc::new(Link {
        input: AtomicBool::new(false),
        hand_over: AtomicBool::new(false),
        reader: Mutex::new(None),
        group: Mutex::new(None),
    });
    let (tx, events) = mpsc::channel();
    let socket_link = Arc::clone(&link);
    let socket_tx = tx.clone();
    let reader = std::thread::Builder::new()
        .name("gdb-socket".into())
        .spawn(move || socket_thread(listener, &socket_link, &socket_tx))?;
    *link.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(reader);
    *LINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(link);
    *session() = Some(Session {
        events,
        tx,
        stream: None,
        backlog: Default::default(),
        gdb: None,
        target: None,
        group: None,
    });
    world().waiting = wait;
    OWNER.store(crate::host::pid(), Ordering::SeqCst);
    ENABLED.store(true, Ordering::SeqCst);
    eprintln!("elfvisor: gdb server listening on 127.0.0.1:{port}");
    Ok(port)
}

/// Accepts one debugger at a time and forwards what it sends.
fn socket_thread(listener: TcpListener, link: &Link, tx: &mpsc::Sender<Event>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let Ok(reader) = stream.try_clone() else { continue };
        if tx.send(Event::Connected(stream)).is_err() {
            return;
        }
        link.kick();
        if !read_connection(reader, link, tx) {
            return;
        }
    }
}

/// Forwards what the debugger sends until it closes the connection (true) or this process
/// hands the connection to a fork child (false: the reading stops here).
fn read_connection(mut reader: TcpStream, link: &Link, tx: &mpsc::Sender<Event>) -> bool {
    // Bounded reads, so a hand-over is seen (the reading is not timed: a read that times out
    // is simply made again).
    let _ = reader.set_read_timeout(Some(std::time::Duration::from_millis(50)));
    let mut buf = [0u8; 4096];
    loop {
        if link.hand_over.load(Ordering::SeqCst) {
            return false;
        }
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if tx.send(Event::Bytes(buf[..n].to_vec())).is_err() {
                    return false;
                }
                link.kick();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted
                        | std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => break,
        }
    }
    if tx.send(Event::Closed).is_err() {
        return false;
    }
    link.kick();
    true
}

type Machine = GdbStubStateMachine<'static, Debuggee, wire::Wire>;

/// The debugger's side of the process.
struct Session {
    events: mpsc::Receiver<Event>,
    /// For a reading thread of a fork child that took the connection over.
    tx: mpsc::Sender<Event>,
    /// The connection (a second handle to it), for that thread.
    stream: Option<TcpStream>,
    /// Bytes received but not yet fed to the state machine.
    backlog: std::collections::VecDeque<u8>,
    gdb: Option<Machine>,
    /// Made by the first thread that serves.
    target: Option<Debuggee>,
    /// The serving thread's group, whose vCPUs learn of changed code as the guest goes on.
    group: Option<Arc<ThreadGroup>>,
}

/// What the run loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    Run,
    Step,
    /// The debugger killed the program.
    Kill,
}

/// Whether the hooks apply to this process: a host fork child's copy of the session is the
/// parent's and is never touched (its locks may have been held by another thread at the
/// fork); the child runs free and drops its translated code, which may hold breakpoints.
fn active() -> bool {
    if !ENABLED.load(Ordering::Relaxed) {
        return false;
    }
    if OWNER.load(Ordering::SeqCst) != crate::host::pid() {
        ENABLED.store(false, Ordering::SeqCst);
        CHILD_FLUSH.store(true, Ordering::SeqCst);
        return false;
    }
    true
}

/// At the top of a turn of the run loop: serves the debugger if this thread has something to
/// report, waits while another thread does (or gdb keeps this one stopped), and says how the
/// thread goes on.
pub(crate) fn before_run(task: &mut Task, vcpu: &mut dyn Vcpu) -> Turn {
    if CHILD_FLUSH.load(Ordering::Relaxed) && CHILD_FLUSH.swap(false, Ordering::SeqCst) {
        vcpu.flush_code(GuestAddr(0), GuestAddr(u64::MAX));
    }
    if !active() {
        return Turn::Run;
    }
    if let Some(link) = link() {
        // The threads a byte from gdb stops.
        let mut group = link.group.lock().unwrap_or_else(|e| e.into_inner());
        if !group.as_ref().is_some_and(|g| Arc::ptr_eq(g, task.group())) {
            *group = Some(Arc::clone(task.group()));
        }
    }
    let me = task.tid();
    loop {
        let mut w = world();
        let input = link().is_some_and(|l| l.input.load(Ordering::SeqCst));
        let first = task.tid() == task.pid();
        if w.claim.as_ref().is_some_and(|c| c.tid == me) {
            drop(w);
            if serve(task, vcpu) == Turn::Kill {
                return Turn::Kill;
            }
            continue;
        }
        if w.claim.is_some() || w.action(me) == Action::Stay {
            // What gdb sees of this thread while it waits.
            let generation = w.generation;
            drop(w);
            left_guest(task, vcpu);
            let w = world();
            if w.generation == generation {
                park(w);
            }
            continue;
        }
        if input || (w.waiting && first) {
            // gdb connected or sent something (Ctrl-C) while the guest ran.
            w.claim(me, None, None);
            drop(w);
            continue;
        }
        let step = w.action(me) == Action::Step;
        drop(w);
        return resumed(task, vcpu, if step { Turn::Step } else { Turn::Run });
    }
}

/// Waits (the world's lock released) until gdb resumes the guest again.
fn park(w: MutexGuard<'static, World>) {
    let generation = w.generation;
    let _w = WAKE.wait_while(w, |w| w.generation == generation).unwrap_or_else(|e| e.into_inner());
}

/// The thread goes on: gdb's register changes reach its vCPU, and a signal gdb gave it is
/// delivered.
fn resumed(task: &mut Task, vcpu: &mut dyn Vcpu, turn: Turn) -> Turn {
    let me = task.tid();
    let (regs, signal) = {
        let mut w = world();
        let regs = w.regs.get_mut(&me).filter(|s| s.changed).map(|s| {
            s.changed = false;
            s.regs
        });
        (regs, w.signals.remove(&me))
    };
    if let Some(regs) = regs {
        regs.load(vcpu);
    }
    STEPPING.with(|s| s.set(turn == Turn::Step));
    let from = (turn == Turn::Step).then(|| vcpu.reg(elfvisor_engine::Reg::Pc));
    STEP_FROM.with(|f| f.set(from));
    if let Some(info) = signal {
        if matches!(info.detail, Detail::Fault { .. }) {
            delivery::force(task, info);
        } else {
            delivery::send_to_thread(task.handle(), info);
        }
        delivery::deliver(task, vcpu);
    }
    // A call that waited with a temporary mask (rt_sigsuspend) and whose signal the debugger
    // held returns to its old mask now, unless the handler's frame took it.
    if let Some(mask) = task.saved_sigmask.take() {
        task.sigmask = mask;
    }
    turn
}

/// This thread is back in its run loop (after a run, or waiting there): its registers are what
/// gdb sees of it until it runs again. A change gdb made that the thread has not taken yet
/// takes effect now.
pub(crate) fn left_guest(task: &Task, cpu: &mut dyn Cpu) {
    if !active() {
        return;
    }
    let mut w = world();
    let tid = task.tid();
    if w.in_call.remove(&tid) {
        // A stop may be waiting for this thread to come out of its call.
        WAKE.notify_all();
    }
    publish(&mut w, tid, cpu);
}

fn publish(w: &mut World, tid: u32, cpu: &mut dyn Cpu) {
    match w.regs.get_mut(&tid) {
        Some(slot) if slot.changed => {
            slot.regs.load(cpu);
            slot.changed = false;
        }
        Some(slot) => slot.regs = Registers::capture(cpu),
        None => {
            w.regs.insert(tid, Slot { regs: Registers::capture(cpu), changed: false });
        }
    }
}

/// At a system call's entry (the pc past the `svc`). What gdb sees of the thread while it is
/// in the call is Linux's view of a thread a stop interrupted there: on the `svc`, x0 the
/// first argument, as arm64's `do_signal` leaves a call it restarts (`regs->pc =
/// restart_addr`, `regs->regs[0] = regs->orig_x0`; the call's own x0 result, -ERESTARTSYS, is
/// gone by the time a tracer looks). True when the thread must not make the call at all: the
/// debugger is stopping the guest, so it stops on the `svc` (pc moved back) and makes the call
/// when the guest resumes, as a call Linux interrupts before it blocks and restarts.
pub(crate) fn call_entered(task: &Task, cpu: &mut dyn Cpu) -> bool {
    if !active() {
        return false;
    }
    let mut w = world();
    let tid = task.tid();
    let svc = cpu.reg(elfvisor_engine::Reg::Pc).wrapping_sub(4);
    if w.stop_requested(tid) {
        cpu.set_reg(elfvisor_engine::Reg::Pc, svc);
        publish(&mut w, tid, cpu);
        return true;
    }
    w.in_call.insert(tid);
    match w.regs.get_mut(&tid) {
        // gdb's change, not yet taken, stays what it sees.
        Some(slot) if slot.changed => {}
        _ => {
            let mut regs = Registers::capture(cpu);
            regs.pc = svc;
            w.regs.insert(tid, Slot { regs, changed: false });
        }
    }
    false
}

/// Whether thread `task` must stop waiting in a system call and come back to its run loop: the
/// debugger is stopping the guest. A wait that looks here returns EINTR, and the call is then
/// restarted (or not) as after any interruption that runs no handler.
pub(crate) fn stop_requested(task: &Task) -> bool {
    active() && world().stop_requested(task.tid())
}

/// At a system call's exit: whether the thread must stop before running guest code again
/// (another thread serves the debugger, gdb's bytes wait for a thread to take them, or gdb
/// keeps this one stopped).
pub(crate) fn must_stop(task: &Task) -> bool {
    if !active() {
        return false;
    }
    let w = world();
    w.stop_requested(task.tid()) || w.action(task.tid()) == Action::Stay
}

/// The registers `tid` published.
fn published(tid: u32) -> Option<Registers> {
    world().regs.get(&tid).map(|s| s.regs)
}

/// gdb wrote `tid`'s registers: they reach its vCPU as it resumes.
fn rewrite(tid: u32, regs: Registers) {
    world().regs.insert(tid, Slot { regs, changed: true });
}

fn set_breakpoint_addrs(addrs: BTreeSet<u64>) {
    world().breakpoints = addrs;
}

/// Stops every other thread (a stop was claimed): its vCPU, and a system call it is blocked
/// in, interrupted as a signal interrupts it (and restarted when the guest resumes, as after
/// Linux's ptrace stops).
fn stop_siblings(task: &Task) {
    for thread in task.group().threads() {
        if thread.tid() != task.tid() {
            stop_thread(&thread);
        }
    }
}

/// Stops a thread's vCPU and, when it is inside a system call, interrupts the call. Only then:
/// an interruption is repeated until the thread looks at its signals, and a thread in guest
/// code needs none (one about to enter a call sees the stop there, `call_entered`, as this
/// looks under the same lock).
fn stop_thread(thread: &crate::task::group::TaskHandle) {
    thread.kick();
    if world().in_call.contains(&thread.tid()) {
        crate::signal::forward::interrupt(thread.host_tid());
    }
}

/// How long a stop waits for a thread to come out of a system call the interruption does not
/// end (a wait the emulator cannot interrupt, such as a vfork parent's for its child): past
/// it, gdb is served with what the thread published at the call's entry. Interrupted calls
/// come out at once; no result depends on this limit.
const CALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits until no other live thread is inside a system call: each was interrupted
/// (`stop_siblings`) and comes back to its run loop, restarting its call or returning EINTR as
/// the call's row says, so what gdb reads of it is its state at the stop, as Linux's
/// all-stop (every thread in a ptrace stop) shows it.
fn wait_siblings_out_of_calls(task: &Task) {
    let siblings: Vec<u32> =
        task.group().threads().iter().map(|t| t.tid()).filter(|&t| t != task.tid()).collect();
    let deadline = std::time::Instant::now() + CALL_LIMIT;
    let mut w = world();
    while siblings.iter().any(|t| w.in_call.contains(t)) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        w = WAKE.wait_timeout(w, left).unwrap_or_else(|e| e.into_inner()).0;
    }
}

/// Serves the debugger for the stop this thread claimed, until gdb resumes the guest or goes.
fn serve(task: &mut Task, vcpu: &mut dyn Vcpu) -> Turn {
    stop_siblings(task);
    task.group().wait_siblings_out_of_guest(task.handle());
    wait_siblings_out_of_calls(task);
    left_guest(task, vcpu);
    let mut guard = session();
    let Some(s) = guard.as_mut() else { return Turn::Run };
    let target = s.target.get_or_insert_with(|| Debuggee::new(task.mm.clone(), task.group().exe()));
    target.mm = task.mm.clone();
    target.exe = task.group().exe();
    target.threads = task.group().threads().iter().map(|t| t.tid()).collect();
    target.threads.sort_unstable_by_key(|&t| (t != task.pid(), t));
    target.current = task.tid();
    s.group = Some(Arc::clone(task.group()));
    let turn = s.serve(task.tid());
    if let Some(target) = s.target.as_mut() {
        if target.code_changed {
            // The other vCPUs were told as the guest was let go (`release`).
            vcpu.flush_code(GuestAddr(0), GuestAddr(u64::MAX));
            target.code_changed = false;
        }
    }
    turn
}

/// With `--gdb-follow child`: the debugger goes with a fork's child.
static FOLLOW_CHILD: AtomicBool = AtomicBool::new(false);

pub fn set_follow_child(child: bool) {
    FOLLOW_CHILD.store(child, Ordering::SeqCst);
}

/// A fork in progress while a debugger is attached, with `--gdb-follow child`: the session and
/// the world stay locked across the host fork, so the child gets them whole (its copy of this
/// thread unlocks them).
pub(crate) struct Handover {
    session: MutexGuard<'static, Option<Session>>,
    world: MutexGuard<'static, World>,
}

/// Before a fork (or vfork) of the process. Following the parent (the default), the
/// breakpoints leave its memory, which every strategy copies or shares with the child.
/// Following the child (host strategy), the reading of the connection stops here and the
/// session goes to the child whole, breakpoints included.
pub(crate) fn fork_begin(task: &Task) -> Option<Handover> {
    let _ = task;
    if !active() {
        return None;
    }
    if FOLLOW_CHILD.load(Ordering::SeqCst) && world().attached {
        if let Some(link) = link() {
            link.hand_over.store(true, Ordering::SeqCst);
            let reader = link.reader.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(reader) = reader {
                let _ = reader.join();
            }
        }
        return Some(Handover { session: session(), world: world() });
    }
    if let Some(Some(target)) = session().as_ref().map(|s| s.target.as_ref()) {
        target.lift_breakpoints();
    }
    None
}

/// After the fork, on both sides. Following the parent: the parent sets its breakpoints again;
/// the child (a host fork's copy of the session is left alone) runs none of the translated code
/// that holds them. Following the child: the child adopts the session and reads the connection;
/// the parent puts its instructions back and runs free of the debugger.
pub(crate) fn fork_end(task: &Task, cpu: &mut dyn Cpu, handover: Option<Handover>) {
    if let Some(Handover { mut session, mut world }) = handover {
        if OWNER.load(Ordering::SeqCst) == crate::host::pid() {
            // The parent: the child has the debugger now.
            world.attached = false;
            world.claim = None;
            world.resume = Resume::default();
            world.generation = world.generation.wrapping_add(1);
            WAKE.notify_all();
            drop(world);
            if let Some(target) = session.as_mut().and_then(|s| s.target.as_mut()) {
                target.mm = task.mm.clone();
                target.remove_all_breakpoints();
            }
            // Dropping the session closes only this process's handles of the connection.
            *session = None;
            ENABLED.store(false, Ordering::SeqCst);
            drop(session);
            cpu.flush_code(GuestAddr(0), GuestAddr(u64::MAX));
            if task.group().is_multithreaded() {
                task.group().publish(&[(GuestAddr(0), GuestAddr(u64::MAX))]);
            }
        } else {
            // The child: this process is the debugger's now, its one thread the only one.
            OWNER.store(crate::host::pid(), Ordering::SeqCst);
            ENABLED.store(true, Ordering::SeqCst);
            CHILD_FLUSH.store(false, Ordering::SeqCst);
            world.regs.clear();
            let reading = session
                .as_ref()
                .and_then(|s| Some((s.stream.as_ref()?.try_clone().ok()?, s.tx.clone())));
            if let Some(s) = session.as_mut().and_then(|s| s.target.as_mut()) {
                s.mm = task.mm.clone();
            }
            drop((session, world));
            if let (Some(link), Some((stream, tx))) = (link(), reading) {
                link.hand_over.store(false, Ordering::SeqCst);
                *link.group.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(Arc::clone(task.group()));
                let reader_link = Arc::clone(&link);
                let reader =
                    std::thread::Builder::new().name("gdb-socket".into()).spawn(move || {
                        read_connection(stream, &reader_link, &tx);
                    });
                *link.reader.lock().unwrap_or_else(|e| e.into_inner()) = reader.ok();
            }
        }
        return;
    }
    if active() {
        if let Some(Some(target)) = session().as_ref().map(|s| s.target.as_ref()) {
            target.replant_breakpoints();
        }
    } else if CHILD_FLUSH.swap(false, Ordering::SeqCst) {
        cpu.flush_code(GuestAddr(0), GuestAddr(u64::MAX));
    }
}

/// Before pending signals are delivered (on the way out of a system call, in the run loop):
/// while a debugger waits for the guest, the next deliverable one (any but `SIGKILL`, as
/// ptrace's signal-delivery stop) is taken and held, and the thread stops for it. True when the
/// caller must deliver nothing now and stop the run: this thread claimed a stop, or another
/// did (the signal then stays pending until the guest resumes).
pub(crate) fn signal_stop(task: &Task) -> bool {
    if !active() {
        return false;
    }
    let mut w = world();
    if !w.attached {
        return false;
    }
    if w.claim.is_some() {
        return true;
    }
    let mask = task.sigmask;
    let deliverable = |p: &SigInfo| mask & bit(p.signo) == 0 && p.signo != Signo::SIGKILL;
    let Some(info) = delivery::take_pending(task, deliverable) else { return false };
    let tid = gdb_tid(task.tid());
    w.claim(
        task.tid(),
        Some(MultiThreadStopReason::SignalWithThread { tid, signal: to_gdb(info.signo) }),
        Some(info),
    );
    drop(w);
    stop_siblings(task);
    true
}

/// After an engine exit: a breakpoint of the debugger's, a finished step or a signal (`fault`,
/// the one the exit raises) becomes a stop this thread claims; the signal is then held until
/// the debugger resumes. Returns the signal to raise now.
pub(crate) fn after_exit(
    task: &Task,
    vcpu: &dyn Vcpu,
    exit: &Exit,
    fault: Option<SigInfo>,
) -> Option<SigInfo> {
    if !active() {
        return fault;
    }
    let stepped = STEPPING.with(|s| s.replace(false));
    let pc = vcpu.reg(elfvisor_engine::Reg::Pc);
    let interrupted = matches!(exit, Exit::Interrupted);
    // The engine cannot tell a step ended by a stop before its instruction ran from one whose
    // instruction left the pc where it was (a branch to itself); a kick not yet accounted for
    // may be why, and then the step is made again at the next turn (its action still says
    // so). Without one, the step is done. (A kick is accounted for only here: one that came
    // as a step was already ending stays pending in the vCPU and ends the next run at once.)
    if stepped
        && interrupted
        && fault.is_none()
        && STEP_FROM.with(|f| f.get()) == Some(pc)
        && task.handle().take_kicked()
    {
        return None;
    }
    let me = task.tid();
    let tid = gdb_tid(me);
    let mut w = world();
    if !w.attached {
        return fault;
    }
    if let Some(claim) = &w.claim {
        if claim.tid == me {
            // This thread's own claim (a signal its system call's exit held) stands.
            return fault;
        }
        // Another thread's wins. This one's breakpoint or fault happens again when it resumes
        // (it is still at the instruction); a step it finished is kept, to be reported when
        // gdb next steps it, so a `next` is never left without its end.
        if stepped && interrupted && fault.is_none() {
            w.pending.insert(me, pc);
        }
        return None;
    }
    let ours = matches!(exit, Exit::Breakpoint { .. }) && w.breakpoints.contains(&pc);
    if ours {
        w.claim(me, Some(MultiThreadStopReason::SwBreak(tid)), None);
    } else if let Some(info) = fault {
        let signal = to_gdb(info.signo);
        w.claim(me, Some(MultiThreadStopReason::SignalWithThread { tid, signal }), Some(info));
    } else if stepped {
        let signal = Signal::SIGTRAP;
        w.claim(me, Some(MultiThreadStopReason::SignalWithThread { tid, signal }), None);
    } else {
        return None;
    }
    drop(w);
    stop_siblings(task);
    None
}

/// The thread loaded a new program (`execve`): the old image's breakpoints went with it, and
/// the debugger hears of the exec (and which program) as the thread stops with `SIGTRAP`, as a
/// ptraced process does after a successful execve.
pub(crate) fn exec_done(task: &Task) {
    if !active() {
        return;
    }
    if let Some(Some(target)) = session().as_mut().map(|s| s.target.as_mut()) {
        target.forget_breakpoints();
    }
    let mut w = world();
    if !w.attached || w.claim.is_some() {
        return;
    }
    wire::report_exec(task.group().exe().as_os_str().as_encoded_bytes());
    let tid = gdb_tid(task.tid());
    let signal = Signal::SIGTRAP;
    w.claim(task.tid(), Some(MultiThreadStopReason::SignalWithThread { tid, signal }), None);
}

/// The process ended: the debugger hears how.
pub(crate) fn process_ended(task: &Task, end: Termination) {
    let _ = task;
    if !active() {
        return;
    }
    let mut guard = session();
    let Some(s) = guard.as_mut() else { return };
    let Some(GdbStubStateMachine::Running(m)) = s.gdb.take() else { return };
    let Some(target) = s.target.as_mut() else { return };
    let reason = match end {
        Termination::Exited(code) => MultiThreadStopReason::Exited(code as u8),
        Termination::Signaled(sig) => MultiThreadStopReason::Terminated(to_gdb(sig)),
    };
    // The report is flushed before this returns; the session ends with the process.
    if let Err(e) = m.report_stop(target, reason) {
        lost(e);
    }
}

/// The report of thread `tid`'s step that ended while another stop was reported.
fn pending_stop(target: &mut Debuggee, tid: u32) -> MultiThreadStopReason<u64> {
    target.signal = None;
    target.current = tid;
    MultiThreadStopReason::SignalWithThread { tid: gdb_tid(tid), signal: Signal::SIGTRAP }
}

/// Reporting failures end the session, never the guest.
fn lost(e: impl std::fmt::Display) {
    eprintln!("elfvisor: gdb: the connection failed: {e}");
}

impl Session {
    /// Serves the debugger for thread `me`'s claim until gdb resumes the guest (or leaves,
    /// or kills it). The world's resume actions say how each thread goes on.
    fn serve(&mut self, me: u32) -> Turn {
        loop {
            let Some(gdb) = self.gdb.take() else {
                // Not connected: wait for one only before the first.
                let waiting = world().waiting;
                let event = if waiting { self.events.recv().ok() } else { self.try_event() };
                match event {
                    Some(Event::Connected(stream)) => self.connect(stream),
                    Some(_) => continue,
                    None => {
                        self.release(Resume::default());
                        return Turn::Run;
                    }
                }
                continue;
            };
            let target = self.target.as_mut().expect("made before serving");
            let next = match gdb {
                GdbStubStateMachine::Idle(m) => {
                    let Some(byte) = self.next_byte(true) else {
                        self.gdb = None;
                        self.detach();
                        return Turn::Run;
                    };
                    let target = self.target.as_mut().expect("made before serving");
                    m.incoming_data(target, byte)
                }
                GdbStubStateMachine::Running(m) => {
                    let reason = {
                        let mut w = world();
                        w.claim.as_mut().and_then(|c| {
                            target.signal = c.signal;
                            c.reason.take()
                        })
                    };
                    let pending = match (&reason, &target.resume) {
                        (None, Some(resume)) => world().take_pending(resume),
                        _ => None,
                    };
                    if let Some(reason) = reason {
                        m.report_stop(target, reason)
                    } else if let Some(tid) = pending {
                        // A step that finished while another stop was reported: its end is
                        // the answer to this resume, and nothing runs.
                        target.resume = None;
                        let stop = pending_stop(target, tid);
                        m.report_stop(target, stop)
                    } else if let Some(resume) = target.resume.take() {
                        self.gdb = Some(GdbStubStateMachine::Running(m));
                        self.release(resume);
                        return Turn::Run;
                    } else {
                        match self.next_byte(false) {
                            Some(byte) => {
                                let target = self.target.as_mut().expect("made before serving");
                                m.incoming_data(target, byte)
                            }
                            None => {
                                // Woken by nothing gdb said: the guest goes on as it was,
                                // unless a step that ended meanwhile is gdb's answer.
                                let prior = world()
                                    .claim
                                    .as_mut()
                                    .map(|c| std::mem::take(&mut c.prior))
                                    .unwrap_or_default();
                                let pending = world().take_pending(&prior);
                                if let Some(tid) = pending {
                                    let target = self.target.as_mut().expect("made before serving");
                                    let stop = pending_stop(target, tid);
                                    m.report_stop(target, stop)
                                } else {
                                    self.gdb = Some(GdbStubStateMachine::Running(m));
                                    self.release(prior);
                                    return Turn::Run;
                                }
                            }
                        }
                    }
                }
                GdbStubStateMachine::CtrlCInterrupt(m) => {
                    let stop = MultiThreadStopReason::SignalWithThread {
                        tid: gdb_tid(me),
                        signal: Signal::SIGINT,
                    };
                    target.signal = None;
                    m.interrupt_handled(target, Some(stop))
                }
                GdbStubStateMachine::Disconnected(m) => {
                    let kill = m.get_reason() == DisconnectReason::Kill;
                    self.detach();
                    return if kill { Turn::Kill } else { Turn::Run };
                }
            };
            match next {
                Ok(state) => self.gdb = Some(state),
                Err(e) => {
                    lost(e);
                    self.detach();
                    return Turn::Run;
                }
            }
        }
    }

    /// gdb lets the guest go: each thread's action and signal take effect, the claim ends.
    fn release(&mut self, resume: Resume) {
        if let (Some(target), Some(group)) = (&self.target, &self.group) {
            if target.code_changed && group.is_multithreaded() {
                // Every other vCPU drops its translations (which may hold a breakpoint gdb
                // removed) before it runs guest code again: told before any is woken.
                group.publish(&[(GuestAddr(0), GuestAddr(u64::MAX))]);
            }
        }
        // Bytes that came while serving and were not used yet wake a thread again.
        if let Some(link) = link() {
            link.input.store(false, Ordering::SeqCst);
            while let Ok(event) = self.events.try_recv() {
                match event {
                    Event::Bytes(bytes) => self.backlog.extend(bytes),
                    Event::Connected(_) => {}
                    Event::Closed => {
                        self.backlog.clear();
                        link.input.store(true, Ordering::SeqCst);
                    }
                }
            }
            if !self.backlog.is_empty() {
                link.input.store(true, Ordering::SeqCst);
            }
        }
        let mut w = world();
        w.attached = self.gdb.is_some();
        let held = w.claim.take().and_then(|c| c.signal.map(|s| (c.tid, s)));
        for (&tid, &(_, signal)) in &resume.actions {
            let Some(signo) = signal.and_then(from_gdb) else { continue };
            let info = match held {
                Some((holder, info)) if holder == tid && info.signo == signo => info,
                _ => SigInfo {
                    signo,
                    code: SI_USER,
                    detail: Detail::Sender { pid: crate::host::pid(), uid: crate::host::ids().0 },
                },
            };
            w.signals.insert(tid, info);
        }
        // A step left pending of a thread that now runs is dropped: the thread just runs on.
        w.pending.retain(|&tid, _| resume.of(tid).0 != Action::Run);
        w.resume = resume;
        w.generation = w.generation.wrapping_add(1);
        WAKE.notify_all();
    }

    fn try_event(&mut self) -> Option<Event> {
        if let Some(link) = link() {
            link.input.store(false, Ordering::SeqCst);
        }
        self.events.try_recv().ok()
    }

    /// The next byte from the debugger: from the backlog, or the channel (waiting for it when
    /// `block`). `None` when the connection closed (with `block`) or nothing is there.
    fn next_byte(&mut self, block: bool) -> Option<u8> {
        loop {
            if let Some(byte) = self.backlog.pop_front() {
                return Some(byte);
            }
            let event = if block { self.events.recv().ok()? } else { self.try_event()? };
            match event {
                Event::Bytes(bytes) => self.backlog.extend(bytes),
                // A second debugger while one is attached is turned away.
                Event::Connected(_) => {}
                Event::Closed if block => return None,
                Event::Closed => {
                    // Seen at the next blocking read.
                    self.backlog.clear();
                    return None;
                }
            }
        }
    }

    fn connect(&mut self, stream: TcpStream) {
        world().waiting = false;
        self.backlog.clear();
        let target = self.target.as_mut().expect("made before serving");
        self.stream = stream.try_clone().ok();
        match GdbStub::new(wire::Wire::new(stream)).run_state_machine(target) {
            Ok(machine) => {
                self.gdb = Some(machine);
                world().attached = true;
            }
            Err(e) => lost(e),
        }
    }

    /// The debugger is gone: the guest runs on without breakpoints until the next one comes.
    fn detach(&mut self) {
        self.gdb = None;
        if let Some(target) = self.target.as_mut() {
            target.remove_all_breakpoints();
            target.resume = None;
        }
        self.release(Resume::default());
    }
}
