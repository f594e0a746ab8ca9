//! `elfvisor --gdb PORT`: a GDB remote-serial-protocol server (the `gdbstub` crate's state
//! machine) for the program's first thread.
//!
//! The server lives on the thread that runs the guest, inside the run loop: at the top of each
//! turn (`before_run`) it serves the debugger for as long as the guest is stopped, and after
//! each engine exit (`after_exit`) it turns a breakpoint, a finished single step, a Ctrl-C or
//! a signal into a stop. One thread of its own accepts the connection and reads the socket,
//! handing every byte over through a channel; while the guest runs it stops the vCPU through
//! the engine's `Stopper` when a byte comes (gdb's Ctrl-C, or any packet), so an interrupt
//! never waits for the guest.
//!
//! Software breakpoints are `brk #0` written over the guest's instruction through mm's checked
//! access (as ptrace's POKE would), translated code dropped when one is set or removed. A signal
//! the guest is about to take stops it first (`signal_stop`, and faults in `after_exit`);
//! gdb's `continue` passes it on, `signal 0` discards it, `signal SIGxxx` gives another one.
//! `monitor siginfo` shows the signal's `siginfo_t` fields.
//!
//! Only the process's first thread is debugged: other threads run on (not all-stop), and a
//! fork child runs free of the debugger, the breakpoints taken out of its memory around the
//! fork (`fork_begin`, `fork_end`).

mod target;

use std::cell::RefCell;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use elfvisor_abi::signal::SI_USER;
use elfvisor_abi::{GuestAddr, Signo};
use elfvisor_engine::{Cpu, Exit, Registers, Stopper, Vcpu};
use gdbstub::common::Signal;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStub, SingleThreadStopReason};

use crate::signal::delivery;
use crate::signal::info::{Detail, SigInfo, bit};
use crate::task::Task;
use crate::task::types::Termination;

use target::{Debuggee, from_gdb, to_gdb};

/// Whether `--gdb` was given: the run loop's hooks cost one load otherwise.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Set in a host fork child that took the breakpoints out of its memory: its vCPU's translated
/// code must go before it runs again.
static CHILD_FLUSH: AtomicBool = AtomicBool::new(false);

/// The listener's side of the server until the first thread adopts it.
static PENDING: Mutex<Option<Pending>> = Mutex::new(None);

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

struct Pending {
    link: Arc<Link>,
    events: mpsc::Receiver<Event>,
    wait: bool,
}

/// What the socket thread reports.
enum Event {
    Connected(TcpStream),
    Bytes(Vec<u8>),
    Closed,
}

/// What the socket thread and the guest's thread share.
struct Link {
    /// The guest is running (the debugger waits for a stop): a byte from gdb stops the vCPU.
    running: AtomicBool,
    stopper: Mutex<Option<Stopper>>,
}

impl Link {
    fn kick(&self) {
        if self.running.load(Ordering::SeqCst) {
            let stopper = self.stopper.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(stopper) = stopper {
                stopper.stop();
            }
        }
    }
}

/// Listens on `127.0.0.1:port` (port 0: one the host picks) and says where on stderr. With
/// `wait`, the guest runs no instruction before a debugger has connected and let it go;
/// without, a debugger may connect at any time and stops the guest where it is.
pub fn listen(port: u16, wait: bool) -> std::io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    let link = Arc::new(Link { running: AtomicBool::new(false), stopper: Mutex::new(None) });
    let (tx, events) = mpsc::channel();
    let socket_link = Arc::clone(&link);
    std::thread::Builder::new()
        .name("gdb-socket".into())
        .spawn(move || socket_thread(listener, &socket_link, &tx))?;
    *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = Some(Pending { link, events, wait });
    ENABLED.store(true, Ordering::SeqCst);
    eprintln!("elfvisor: gdb server listening on 127.0.0.1:{port}");
    Ok(port)
}

/// Accepts one debugger at a time and forwards what it sends.
fn socket_thread(listener: TcpListener, link: &Link, tx: &mpsc::Sender<Event>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let Ok(mut reader) = stream.try_clone() else { continue };
        if tx.send(Event::Connected(stream)).is_err() {
            return;
        }
        link.kick();
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(Event::Bytes(buf[..n].to_vec())).is_err() {
                        return;
                    }
                    link.kick();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        if tx.send(Event::Closed).is_err() {
            return;
        }
        link.kick();
    }
}

type Machine = GdbStubStateMachine<'static, Debuggee, TcpStream>;

/// The debugger's side of the first thread.
struct Session {
    /// The host process the session belongs to: a host fork child has a copy it must drop.
    owner: u32,
    link: Arc<Link>,
    events: mpsc::Receiver<Event>,
    /// Bytes received but not yet fed to the state machine.
    backlog: std::collections::VecDeque<u8>,
    /// Until a debugger first connects, whether the guest waits for it.
    wait: bool,
    gdb: Option<Machine>,
    target: Debuggee,
    /// The stop to report at the next turn.
    stop: Option<SingleThreadStopReason<u64>>,
    /// The run in progress is a single step.
    stepping: bool,
}

/// What the run loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    Run,
    Step,
    /// The debugger killed the program.
    Kill,
}

/// Runs `f` on this thread's session, adopting the listener's if this is the first thread of
/// the process that started it; `None` when there is none.
fn with_session<R>(task: &Task, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    SESSION.with(|slot| {
        let mut slot = slot.borrow_mut();
        let me = std::process::id();
        if slot.as_ref().is_some_and(|s| s.owner != me) {
            // A host fork child: it runs free (the parent's session is the parent's; dropping
            // the copy closes only this process's descriptor of the connection).
            if let Some(mut copy) = slot.take() {
                copy.target.mm = task.mm.clone();
                copy.target.remove_all_breakpoints();
                CHILD_FLUSH.store(true, Ordering::SeqCst);
            }
            ENABLED.store(false, Ordering::SeqCst);
            return None;
        }
        if slot.is_none() && task.tid() == me && task.pid() == me {
            let pending = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take()?;
            *slot = Some(Session {
                owner: me,
                link: pending.link,
                events: pending.events,
                backlog: Default::default(),
                wait: pending.wait,
                gdb: None,
                target: Debuggee {
                    mm: task.mm.clone(),
                    regs: Registers {
                        x: [0; 31],
                        sp: 0,
                        pc: 0,
                        nzcv: 0,
                        tpidr: 0,
                        fpcr: 0,
                        fpsr: 0,
                        q: [0; 32],
                    },
                    regs_changed: false,
                    code_changed: false,
                    breakpoints: Default::default(),
                    exe: task.group().exe(),
                    resume: None,
                    signal: None,
                },
                stop: None,
                stepping: false,
            });
        }
        slot.as_mut().map(f)
    })
}

/// At the top of a turn of the run loop: serves the debugger while the guest is stopped, and
/// says how the guest goes on.
pub(crate) fn before_run(task: &mut Task, vcpu: &mut dyn Vcpu) -> Turn {
    if CHILD_FLUSH.load(Ordering::Relaxed) && CHILD_FLUSH.swap(false, Ordering::SeqCst) {
        vcpu.flush_code(GuestAddr(0), GuestAddr(u64::MAX));
    }
    let Some(Some(pass)) = with_session(task, |s| s.serve(task, vcpu)) else {
        return Turn::Run;
    };
    // A signal the debugger passes on is delivered as it resumes.
    let (info, turn) = pass;
    if let Some(info) = info {
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

/// Before a fork (or vfork) of the process: the breakpoints leave its memory, which every
/// strategy copies or shares with the child.
pub(crate) fn fork_begin(task: &Task) {
    with_session(task, |s| s.target.lift_breakpoints());
}

/// After the fork, on both sides: the parent sets its breakpoints again; the child (a host
/// fork's copy of the session is dropped) runs none of the translated code that holds them.
pub(crate) fn fork_end(task: &Task, cpu: &mut dyn Cpu) {
    if with_session(task, |s| s.target.replant_breakpoints()).is_none()
        && CHILD_FLUSH.swap(false, Ordering::SeqCst)
    {
        cpu.flush_code(GuestAddr(0), GuestAddr(u64::MAX));
    }
}

/// Before pending signals are delivered (on the way out of a system call, in the run loop):
/// while a debugger waits for the guest, the next deliverable one (any but `SIGKILL`, as
/// ptrace's signal-delivery stop) is taken and held, and the guest stops for it. True when it
/// was: the caller delivers nothing now and stops the run.
pub(crate) fn signal_stop(task: &Task) -> bool {
    if !ENABLED.load(Ordering::Relaxed) {
        return false;
    }
    with_session(task, |s| {
        if !matches!(s.gdb, Some(GdbStubStateMachine::Running(_))) || s.stop.is_some() {
            return false;
        }
        let mask = task.sigmask;
        let deliverable = |p: &SigInfo| mask & bit(p.signo) == 0 && p.signo != Signo::SIGKILL;
        let Some(info) = delivery::take_pending(task, deliverable) else { return false };
        s.stop = Some(SingleThreadStopReason::Signal(to_gdb(info.signo)));
        s.target.signal = Some(info);
        s.stepping = false;
        true
    })
    .unwrap_or(false)
}

/// After an engine exit: a breakpoint of the debugger's, a finished step, a Ctrl-C or a
/// signal (`fault`, the one the exit raises) becomes a stop the next turn reports; the signal
/// is then held until the debugger resumes. Returns the signal to raise now.
pub(crate) fn after_exit(
    task: &Task,
    vcpu: &dyn Vcpu,
    exit: &Exit,
    fault: Option<SigInfo>,
) -> Option<SigInfo> {
    if !ENABLED.load(Ordering::Relaxed) {
        return fault;
    }
    let pc = vcpu.reg(elfvisor_engine::Reg::Pc);
    with_session(task, |s| s.after_exit(pc, exit, fault)).unwrap_or(fault)
}

/// The process ended: the debugger hears how.
pub(crate) fn process_ended(task: &Task, end: Termination) {
    with_session(task, |s| s.ended(end));
}

/// Reporting failures end the session, never the guest.
fn lost(e: impl std::fmt::Display) {
    eprintln!("elfvisor: gdb: the connection failed: {e}");
}

impl Session {
    /// Feeds what came in while the guest ran, then serves the debugger until the guest may
    /// run. Returns the signal to give the guest as it resumes and how it resumes, or `None`
    /// when no debugger is attached.
    fn serve(&mut self, task: &Task, vcpu: &mut dyn Vcpu) -> Option<(Option<SigInfo>, Turn)> {
        loop {
            let Some(gdb) = self.gdb.take() else {
                // Not connected: wait for one only before the first.
                let event =
                    if self.wait { self.events.recv().ok() } else { self.events.try_recv().ok() };
                match event {
                    Some(Event::Connected(stream)) => self.connect(stream, task, vcpu),
                    Some(_) => continue,
                    None => {
                        // A debugger that connects while the guest runs stops it at once.
                        self.watch(vcpu);
                        return None;
                    }
                }
                continue;
            };
            let next = match gdb {
                GdbStubStateMachine::Idle(m) => {
                    self.link.running.store(false, Ordering::SeqCst);
                    let Some(byte) = self.next_byte(true) else {
                        self.detach(vcpu);
                        return None;
                    };
                    m.incoming_data(&mut self.target, byte)
                }
                GdbStubStateMachine::Running(m) => {
                    if let Some(reason) = self.stop.take() {
                        self.capture(task, vcpu);
                        m.report_stop(&mut self.target, reason)
                    } else {
                        // Bytes that came before the guest was marked running never kicked it.
                        self.watch(vcpu);
                        match self.next_byte(false) {
                            Some(byte) => m.incoming_data(&mut self.target, byte),
                            None => {
                                self.gdb = Some(GdbStubStateMachine::Running(m));
                                return Some(self.resume(task, vcpu));
                            }
                        }
                    }
                }
                GdbStubStateMachine::CtrlCInterrupt(m) => {
                    self.capture(task, vcpu);
                    self.stepping = false;
                    let stop = SingleThreadStopReason::Signal(Signal::SIGINT);
                    m.interrupt_handled(&mut self.target, Some(stop))
                }
                GdbStubStateMachine::Disconnected(m) => {
                    let kill = m.get_reason() == DisconnectReason::Kill;
                    self.detach(vcpu);
                    return Some((None, if kill { Turn::Kill } else { Turn::Run }));
                }
            };
            match next {
                Ok(state) => self.gdb = Some(state),
                Err(e) => {
                    lost(e);
                    self.detach(vcpu);
                    return None;
                }
            }
        }
    }

    /// From now on, a byte or a connection from the debugger stops this vCPU.
    fn watch(&self, vcpu: &dyn Vcpu) {
        *self.link.stopper.lock().unwrap_or_else(|e| e.into_inner()) = Some(vcpu.stopper());
        self.link.running.store(true, Ordering::SeqCst);
    }

    /// The next byte from the debugger: from the backlog, or the channel (waiting for it when
    /// `block`). `None` when the connection closed (with `block`) or nothing is there.
    fn next_byte(&mut self, block: bool) -> Option<u8> {
        loop {
            if let Some(byte) = self.backlog.pop_front() {
                return Some(byte);
            }
            let event =
                if block { self.events.recv().ok()? } else { self.events.try_recv().ok()? };
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

    fn connect(&mut self, stream: TcpStream, task: &Task, vcpu: &dyn Vcpu) {
        self.wait = false;
        self.backlog.clear();
        self.capture(task, vcpu);
        match GdbStub::new(stream).run_state_machine(&mut self.target) {
            Ok(machine) => self.gdb = Some(machine),
            Err(e) => lost(e),
        }
    }

    /// The guest stopped: what the debugger reads is its state now.
    fn capture(&mut self, task: &Task, vcpu: &dyn Vcpu) {
        self.link.running.store(false, Ordering::SeqCst);
        self.target.regs = Registers::capture(vcpu);
        self.target.regs_changed = false;
        self.target.mm = task.mm.clone();
        self.target.exe = task.group().exe();
    }

    /// The debugger let the guest go: its register and memory changes take effect, and the
    /// signal it passes (if any) is the one to deliver.
    fn resume(&mut self, task: &Task, vcpu: &mut dyn Vcpu) -> (Option<SigInfo>, Turn) {
        self.apply(vcpu);
        let Some(resume) = self.target.resume.take() else {
            // Still running from an earlier resume.
            return (None, if self.stepping { Turn::Step } else { Turn::Run });
        };
        self.stepping = resume.step;
        let held = self.target.signal.take();
        let signal = resume.signal.and_then(from_gdb).map(|signo| match held {
            Some(info) if info.signo == signo => info,
            _ => SigInfo {
                signo,
                code: SI_USER,
                detail: Detail::Sender { pid: task.pid(), uid: crate::host::ids().0 },
            },
        });
        (signal, if resume.step { Turn::Step } else { Turn::Run })
    }

    /// Register writes and code changes reach the vCPU.
    fn apply(&mut self, vcpu: &mut dyn Vcpu) {
        if self.target.regs_changed {
            self.target.regs.load(vcpu);
            self.target.regs_changed = false;
        }
        if self.target.code_changed {
            vcpu.flush_code(GuestAddr(0), GuestAddr(u64::MAX));
            self.target.code_changed = false;
        }
    }

    /// The debugger is gone: the guest runs on without breakpoints until the next one comes.
    fn detach(&mut self, vcpu: &mut dyn Vcpu) {
        self.gdb = None;
        self.stepping = false;
        self.stop = None;
        self.target.remove_all_breakpoints();
        self.target.resume = None;
        self.apply(vcpu);
        self.watch(vcpu);
    }

    fn after_exit(&mut self, pc: u64, exit: &Exit, fault: Option<SigInfo>) -> Option<SigInfo> {
        if !matches!(self.gdb, Some(GdbStubStateMachine::Running(_))) {
            return fault;
        }
        let stepped = std::mem::take(&mut self.stepping);
        if self.stop.is_some() {
            // A signal the system call's exit held for the debugger.
            return fault;
        }
        if matches!(exit, Exit::Breakpoint { .. }) && self.target.breakpoints.contains_key(&pc) {
            self.stop = Some(SingleThreadStopReason::SwBreak(()));
            return None;
        }
        if let Some(info) = fault {
            self.stop = Some(SingleThreadStopReason::Signal(to_gdb(info.signo)));
            self.target.signal = Some(info);
            return None;
        }
        if stepped {
            self.stop = Some(SingleThreadStopReason::DoneStep);
        }
        None
    }

    fn ended(&mut self, end: Termination) {
        let Some(GdbStubStateMachine::Running(m)) = self.gdb.take() else { return };
        let reason = match end {
            Termination::Exited(code) => SingleThreadStopReason::Exited(code as u8),
            Termination::Signaled(sig) => SingleThreadStopReason::Terminated(to_gdb(sig)),
        };
        // The report is flushed before this returns; the session ends with the process.
        if let Err(e) = m.report_stop(&mut self.target, reason) {
            lost(e);
        }
    }
}
