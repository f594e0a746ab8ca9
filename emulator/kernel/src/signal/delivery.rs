//! Signal delivery: pending signals per thread and per process, which one goes first, default
//! actions, and handing a signal to its handler (`super::frame`).

use elfvisor_abi::Signo;
use elfvisor_engine::Cpu;

use elfvisor_abi::signal::{SA_NODEFER, SA_RESETHAND, SIG_DFL, SIG_IGN, Sigaction};

use super::info::{DefaultAction, SigInfo, bit, default_action};
use crate::task::group::{TaskHandle, ThreadGroup};
use crate::task::types::Termination;
use crate::task::{ExitScope, Task};

/// Synchronous faults cannot be blocked or ignored: like Linux's force_sig_fault, a blocked or
/// ignored one reverts to the default action (which kills the process). It goes to the
/// faulting thread.
pub fn force(task: &mut Task, info: SigInfo) {
    let slot = usize::from(info.signo.0 - 1);
    let blocked = task.sigmask & bit(info.signo) != 0;
    let mut action = task.sigactions().get(slot);
    if blocked || action.handler == SIG_IGN {
        action.handler = SIG_DFL;
        task.sigactions().set(slot, action);
        task.sigmask &= !bit(info.signo);
    }
    task.pending().push(info);
}

/// Queues a signal for the process (a classic signal already pending is not queued twice);
/// a thread that does not block it takes it.
pub fn send(task: &mut Task, info: SigInfo) {
    send_to_process(task.group(), info);
}

/// [`send`] from anywhere: a thread of the process or one of the emulator's own.
pub fn send_to_process(group: &ThreadGroup, info: SigInfo) {
    queue(&mut group.pending(), info);
    super::signalfd::notify(info.signo);
    group.kick_all();
}

/// Queues a signal for one thread, and interrupts it if it is another one: a running vCPU
/// stops, a blocking host call returns EINTR.
pub fn send_to_thread(thread: &TaskHandle, info: SigInfo) {
    queue(&mut thread.pending(), info);
    super::signalfd::notify(info.signo);
    if thread.host_tid() != crate::host::gettid() {
        thread.kick();
        super::forward::interrupt(thread.host_tid());
    }
}

fn queue(pending: &mut Vec<SigInfo>, info: SigInfo) {
    let classic = info.signo.0 < Signo::SIGRTMIN;
    if classic && pending.iter().any(|p| p.signo == info.signo) {
        return;
    }
    pending.push(info);
}

/// This thread's pending signals then the process's, as one list (a snapshot).
fn all_pending(task: &Task) -> Vec<SigInfo> {
    let mut all = task.pending().clone();
    all.extend(task.group().pending().iter().copied());
    all
}

/// Takes the pending signal `want` accepts that Linux would deliver first: this thread's before
/// the process's; within each, a synchronous fault signal first, then the lowest number, and
/// queued instances of one real-time signal in the order they were sent (next_signal).
pub fn take_pending(task: &Task, want: impl Fn(&SigInfo) -> bool) -> Option<SigInfo> {
    fn pick(list: &mut Vec<SigInfo>, want: &impl Fn(&SigInfo) -> bool) -> Option<SigInfo> {
        const SYNCHRONOUS: [Signo; 6] = [
            Signo::SIGSEGV,
            Signo::SIGBUS,
            Signo::SIGILL,
            Signo::SIGTRAP,
            Signo::SIGFPE,
            Signo::SIGSYS,
        ];
        let i = list
            .iter()
            .enumerate()
            .filter(|(_, p)| want(p))
            .min_by_key(|(i, p)| (!SYNCHRONOUS.contains(&p.signo), p.signo.0, *i))?
            .0;
        Some(list.remove(i))
    }
    let mut taken = pick(&mut task.pending(), &want);
    if taken.is_none() {
        taken = pick(&mut task.group().pending(), &want);
    }
    if taken.is_some() {
        // A signalfd stays readable only while a signal of its mask is left.
        super::signalfd::settle(task);
    }
    taken
}

/// What delivering the next pending signal would do to an interrupted system call: `Some(flags)`
/// when a guest handler runs (its `sa_flags`), `None` when nothing runs (no deliverable signal,
/// or only ignored ones) or the default action stops or ends the process.
pub fn next_handler(task: &Task) -> Option<u64> {
    all_pending(task).iter().filter(|p| task.sigmask & bit(p.signo) == 0).find_map(|p| {
        let action = task.sigactions().get(usize::from(p.signo.0 - 1));
        match action.handler {
            SIG_IGN => None,
            SIG_DFL => None,
            _ => Some(action.flags),
        }
    })
}

/// Whether a pending, unblocked signal would do something: run a handler or take a default
/// action other than ignoring.
pub fn has_deliverable(task: &Task) -> bool {
    // A thread another thread's execve killed has SIGKILL pending, as in Linux's
    // zap_other_threads: every wait that looks here ends.
    task.is_killed()
        || all_pending(task).iter().filter(|p| task.sigmask & bit(p.signo) == 0).any(|p| match task
            .sigactions()
            .get(usize::from(p.signo.0 - 1))
            .handler
        {
            SIG_IGN => false,
            SIG_DFL => default_action(p.signo) != DefaultAction::Ignore,
            _ => true,
        })
}

/// The bit set of pending signals (this thread's and the process's).
pub fn pending_set(task: &Task) -> u64 {
    all_pending(task).iter().fold(0, |set, p| set | bit(p.signo))
}

/// Delivers every deliverable pending signal: ignores, terminates, or sets up a handler frame
/// on `cpu` (the guest then resumes in the handler). Stops early once the process ends.
pub fn deliver(task: &mut Task, cpu: &mut dyn Cpu) {
    while task.exit_status().is_none() {
        let mask = task.sigmask;
        let Some(info) = take_pending(task, |p| mask & bit(p.signo) == 0) else {
            return;
        };
        let slot = usize::from(info.signo.0 - 1);
        let action = task.sigactions().get(slot);
        match action.handler {
            SIG_IGN => {}
            SIG_DFL => match default_action(info.signo) {
                DefaultAction::Ignore => {}
                // The host stops the emulator with this very signal, so a parent waiting with
                // WUNTRACED sees it; delivery goes on once the process is continued.
                DefaultAction::Stop => super::forward::stop_self(info.signo),
                DefaultAction::Terminate | DefaultAction::Core => {
                    task.request_exit(Termination::Signaled(info.signo), ExitScope::Group);
                }
            },
            handler => {
                if super::frame::setup_frame(task, cpu, &info, handler).is_err() {
                    // No room for the frame: Linux kills the process with SIGSEGV.
                    task.request_exit(Termination::Signaled(Signo::SIGSEGV), ExitScope::Group);
                    return;
                }
                if action.flags & SA_RESETHAND != 0 {
                    task.sigactions().set(slot, Sigaction { handler: SIG_DFL, ..action });
                }
                let mut mask = task.sigmask | action.mask;
                if action.flags & SA_NODEFER == 0 {
                    mask |= bit(info.signo);
                }
                task.sigmask = mask & !(bit(Signo::SIGKILL) | bit(Signo::SIGSTOP));
                task.handle().publish_sigmask(task.sigmask);
                // One frame per entry: the handler runs before any further signal.
                return;
            }
        }
    }
}

/// Moves every signal the host forwarder caught into the guest's pending sets: the
/// process's, and this thread's for those sent to it alone.
pub fn drain_host(task: &mut Task) {
    for (info, mine) in super::forward::take_caught() {
        if mine {
            send_to_thread(task.handle(), info);
        } else {
            send(task, info);
        }
    }
}

/// Drains the forwarder's caught signals only when it has any (a lock-free look first).
pub fn drain_host_if_any(task: &mut Task) {
    if super::forward::any() {
        drain_host(task);
    }
}
