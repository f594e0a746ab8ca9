//! Host signals forwarded to the guest.
//!
//! Guest pids are host pids, so a signal another process sends (`kill`, a terminal's SIGINT,
//! SIGCHLD from a child emulator exiting, SIGALRM from `alarm`) arrives as a host signal. Every
//! signal a guest may catch gets [`forward`] as its host handler: it records the signal and its
//! sender, stops the guest if it is running (so a spinning guest sees it promptly), and the run
//! loop or the system call it interrupted moves it into the guest's pending set
//! (`signal::delivery::drain_host`), where the guest's own dispositions and mask decide what happens — exactly what
//! the guest would see on Linux, default actions included.
//!
//! The host handler has no `SA_RESTART`: a blocking host call returns EINTR, and the system call
//! layer then restarts the guest's call or returns EINTR as Linux would for the guest's action.
//!
//! Not forwarded: SIGKILL and SIGSTOP (they act on the emulator, which is right), the fault
//! signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP: the host's own faults must stay fatal),
//! SIGABRT (the emulator's own aborts), SIGPIPE (the emulator ignores it and raises the guest's
//! SIGPIPE itself) and the host C library's reserved real-time signals 32 and 33.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use crate::host::signal::{self as hs, BlockedSignals, CaughtInfo, Disposition};

use elfvisor_abi::Signo;

use elfvisor_abi::signal::{
    SA_NOCLDSTOP, SA_NOCLDWAIT, SI_MESGQ, SI_QUEUE, SI_TKILL, SIG_IGN, Sigaction,
};

use super::info::{Detail, SigInfo};

struct Slot {
    code: AtomicI32,
    pid: AtomicU32,
    uid: AtomicU32,
    status: AtomicI32,
    /// `si_value` of a queued signal.
    value: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    code: AtomicI32::new(0),
    pid: AtomicU32::new(0),
    uid: AtomicU32::new(0),
    status: AtomicI32::new(0),
    value: AtomicU64::new(0),
};

/// The last sender of each signal (1..=64 at index signo - 1).
static SLOTS: [Slot; 64] = [EMPTY; 64];
/// Signals caught and not yet drained, one bit per signal.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Wakes the nudger (a futex word: 1 when a signal was caught).
static NUDGE: AtomicU32 = AtomicU32::new(0);
/// The host thread running the guest, and the process whose nudger is running.
static VCPU_TID: AtomicI32 = AtomicI32::new(0);
static NUDGER_PID: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// This guest thread's slot of signals sent to it alone (none on other threads). Slots are
    /// leaked once and reused, never freed.
    static MINE: Cell<Option<&'static AtomicU64>> = const { Cell::new(None) };
}

/// In a thread's slot, the bit of signal 32 (never forwarded, so never a pending signal there)
/// marks a kick: until the thread next drains its slot, the nudger repeats the nudge of
/// `KICK_SIGNAL` that only interrupts it (a kick that lands before the thread blocks would
/// otherwise be lost, as a caught signal would without the nudger).
const KICK: u64 = 1 << 31;
/// The host signal a kick is sent with (any forwarded one would do).
const KICK_SIGNAL: i32 = libc::SIGURG;

/// The guest threads' slots, by host thread id, for the nudger; and slots free for reuse.
static THREADS: Mutex<Vec<(i32, &'static AtomicU64)>> = Mutex::new(Vec::new());
static FREE_SLOTS: Mutex<Vec<&'static AtomicU64>> = Mutex::new(Vec::new());

fn threads() -> std::sync::MutexGuard<'static, Vec<(i32, &'static AtomicU64)>> {
    THREADS.lock().unwrap_or_else(|e| e.into_inner())
}

fn free_slots() -> std::sync::MutexGuard<'static, Vec<&'static AtomicU64>> {
    FREE_SLOTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held across a host fork: the thread registry and the free slots are consistent in the
/// child, and unlocked there (a thread starting or ending while another forks held the free
/// slots' lock, which the child then waited for at its own thread's end).
pub fn fork_lock() -> impl Sized {
    (threads(), free_slots())
}

/// Gives the calling host thread, which runs a guest thread, a slot for signals sent to it.
pub fn register_thread(host_tid: i32) {
    let slot = free_slots().pop().unwrap_or_else(|| Box::leak(Box::new(AtomicU64::new(0))));
    slot.store(0, Ordering::SeqCst);
    MINE.with(|m| m.set(Some(slot)));
    threads().push((host_tid, slot));
}

/// The calling host thread no longer runs a guest thread.
pub fn unregister_thread() {
    let Some(mine) = MINE.with(|m| m.replace(None)) else { return };
    threads().retain(|(_, s)| !std::ptr::eq(*s, mine));
    free_slots().push(mine);
}

/// This thread's own pending bits.
fn mine_take() -> u64 {
    // A kick is spent once the thread looks at its signals.
    MINE.with(Cell::get).map_or(0, |mine| mine.swap(0, Ordering::SeqCst) & !KICK)
}

fn mine_any() -> bool {
    MINE.with(Cell::get).is_some_and(|mine| mine.load(Ordering::SeqCst) != 0)
}

/// Interrupts guest thread `host_tid` of this process: its vCPU stops, or its blocking host
/// call returns EINTR, so it looks at its pending signals (one queued for it that the host
/// cannot carry, such as the C library's internal 32 and 33).
pub fn interrupt(host_tid: i32) {
    let Some(slot) = threads().iter().find(|t| t.0 == host_tid).map(|t| t.1) else { return };
    slot.fetch_or(KICK, Ordering::SeqCst);
    resend_signal(host_tid, KICK_SIGNAL);
    // The nudger repeats the kick until the thread has looked.
    wake_nudger();
}

/// Wakes the nudger. Async-signal-safe: an atomic store and one system call.
fn wake_nudger() {
    NUDGE.store(1, Ordering::SeqCst);
    hs::futex_wake(&NUDGE);
}

/// Whether the host signal `sig` is forwarded to the guest.
pub fn forwarded(sig: i32) -> bool {
    let kept = [
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGTRAP,
        libc::SIGABRT,
        libc::SIGPIPE,
    ];
    (1..=64).contains(&sig) && !kept.contains(&sig) && sig != 32 && sig != 33
}

/// The catcher of every forwarded signal (it runs in the host's signal handler).
fn forward(sig: i32, info: &CaughtInfo) {
    if is_nudge(info) {
        // A re-send of a signal caught before, or a kick: only interrupt.
        elfvisor_engine::tcg::stop_current_thread();
        return;
    }
    let slot = &SLOTS[sig as usize - 1];
    slot.code.store(info.code, Ordering::Relaxed);
    slot.pid.store(info.pid, Ordering::Relaxed);
    slot.uid.store(info.uid, Ordering::Relaxed);
    slot.status.store(info.status, Ordering::Relaxed);
    slot.value.store(info.value, Ordering::Relaxed);
    // A tgkill is for this thread; anything else is for the process.
    match MINE.with(Cell::get) {
        Some(mine) if info.code == SI_TKILL => {
            mine.fetch_or(1 << (sig - 1), Ordering::SeqCst);
        }
        _ => {
            PENDING.fetch_or(1 << (sig - 1), Ordering::SeqCst);
        }
    }
    elfvisor_engine::tcg::stop_current_thread();
    wake_nudger();
}

/// Whether a caught signal is a nudge (the nudger's re-send, or a kick): its siginfo says so
/// (`host::signal::nudge_own_thread`), so a nudge that lands after the signal it repeats was
/// already taken is still only an interruption, never a second signal.
fn is_nudge(info: &CaughtInfo) -> bool {
    info.code == hs::NUDGE_CODE && info.value == hs::NUDGE_VALUE && info.pid == crate::host::pid()
}

/// The disposition of a forwarded signal other than SIGCHLD.
const CATCH: Disposition = Disposition::Catch { no_child_wait: false, no_child_stop: false };

/// Installs the forwarder for every forwarded signal, with SIGCHLD following the guest's
/// action (see [`sigchld_changed`]), and starts this process's nudger. Called on the thread that
/// runs the guest when a process starts (also a respawned child, and a host-forked one).
pub fn install(sigchld: &Sigaction) {
    hs::set_catcher(forward);
    for sig in (1..=64).filter(|&s| forwarded(s)) {
        hs::set_disposition(sig, CATCH);
    }
    sigchld_changed(sigchld);
    VCPU_TID.store(crate::host::gettid(), Ordering::SeqCst);
    let pid = crate::host::pid();
    if NUDGER_PID.swap(pid, Ordering::SeqCst) != pid {
        start_nudger();
    }
}

/// The nudger closes the one gap a handler cannot: a signal caught just before the guest's
/// thread blocks in a host call (or starts a run) has been recorded, but nothing interrupts the
/// call. While a caught signal stays undrained for 2 ms, the nudger re-sends it to that thread,
/// whose handler then interrupts the call (EINTR) or the run. It blocks every forwarded signal
/// itself, so process-directed signals always land on the guest's thread.
fn start_nudger() {
    // The new thread inherits the blocked mask; this one gets its own back.
    let held = hold_forwarded();
    let spawned = std::thread::Builder::new().name("elfvisor-nudge".into()).spawn(nudge_loop);
    drop(held);
    if let Err(e) = spawned {
        eprintln!("elfvisor: cannot start the signal nudger ({e}); signals may arrive late");
    }
}

fn nudge_loop() {
    loop {
        if NUDGE.swap(0, Ordering::SeqCst) == 0 {
            // Spurious wake-ups are fine.
            hs::futex_wait(&NUDGE, 0);
            continue;
        }
        // Until every caught signal and kick has been taken, re-send what is still there.
        while PENDING.load(Ordering::SeqCst) != 0
            || threads().iter().any(|(_, s)| s.load(Ordering::SeqCst) != 0)
        {
            std::thread::sleep(std::time::Duration::from_millis(2));
            let bits = PENDING.load(Ordering::SeqCst);
            if bits != 0 {
                // The first guest thread still running takes process-directed signals.
                let tid = threads().first().map_or(VCPU_TID.load(Ordering::SeqCst), |t| t.0);
                resend(tid, bits);
            }
            let waiting: Vec<(i32, u64)> = threads()
                .iter()
                .map(|(tid, s)| (*tid, s.load(Ordering::SeqCst)))
                .filter(|(_, bits)| *bits != 0)
                .collect();
            for (tid, bits) in waiting {
                if bits & KICK != 0 {
                    resend_signal(tid, KICK_SIGNAL);
                } else {
                    resend(tid, bits);
                }
            }
        }
    }
}

/// Re-sends the lowest signal of `bits` to host thread `tid` (a tgkill: the handler counts it
/// as the thread's own, which a process-directed signal's re-send then also is — the first
/// guest thread takes it either way).
fn resend(tid: i32, bits: u64) {
    resend_signal(tid, nudge_signal(bits.trailing_zeros() as i32 + 1));
}

/// The host signal that nudges for caught signal `sig`: `sig` itself, so the nudge gets
/// through exactly when the signal would, except for the job-control signals. Sending one of
/// those acts on the process before any handler runs (kernel/signal.c, `prepare_signal`): a
/// SIGCONT resumes a stopped process and discards its pending stop signals, a stop signal
/// discards a pending SIGCONT. A re-send of SIGCONT landing after a later SIGSTOP would undo
/// that stop (the parent's `waitpid(WUNTRACED)` would wait forever), so those are nudged with
/// [`KICK_SIGNAL`], which only interrupts.
fn nudge_signal(sig: i32) -> i32 {
    match sig {
        libc::SIGCONT | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => KICK_SIGNAL,
        other => other,
    }
}

fn resend_signal(tid: i32, sig: i32) {
    hs::nudge_own_thread(tid, sig);
}

/// Mirrors the guest's SIGCHLD action on the host where it changes what the host kernel does
/// with children: SIG_IGN and SA_NOCLDWAIT reap them automatically, SA_NOCLDSTOP sends no
/// SIGCHLD for stops.
pub fn sigchld_changed(action: &Sigaction) {
    let disposition = if action.handler == SIG_IGN {
        Disposition::Ignore
    } else {
        Disposition::Catch {
            no_child_wait: action.flags & SA_NOCLDWAIT != 0,
            no_child_stop: action.flags & SA_NOCLDSTOP != 0,
        }
    };
    hs::set_disposition(libc::SIGCHLD, disposition);
}

/// Drops caught signals not yet drained and the other threads' slots: a forked child does
/// not inherit them.
pub fn forget() {
    PENDING.store(0, Ordering::SeqCst);
    let mine = MINE.with(Cell::get);
    threads().retain(|(_, s)| mine.is_some_and(|m| std::ptr::eq(*s, m)));
    if let Some(me) = threads().first_mut() {
        me.0 = crate::host::gettid();
    }
    mine_take();
}

/// Whether a caught signal waits to be drained.
pub fn any() -> bool {
    PENDING.load(Ordering::SeqCst) != 0 || mine_any()
}

/// Takes every caught signal, in number order, each with whether it was sent to the calling
/// thread alone (else it is for the process).
pub fn take_caught() -> Vec<(SigInfo, bool)> {
    let mut caught = Vec::new();
    let mine = mine_take();
    let mut bits = mine;
    // A signal both sent to this thread and to the process is queued once, for the thread.
    bits |= PENDING.swap(0, Ordering::SeqCst);
    while bits != 0 {
        let sig = bits.trailing_zeros() as u8 + 1;
        bits &= bits - 1;
        let slot = &SLOTS[usize::from(sig) - 1];
        let code = slot.code.load(Ordering::Relaxed);
        let pid = slot.pid.load(Ordering::Relaxed);
        let uid = slot.uid.load(Ordering::Relaxed);
        let detail = if i32::from(sig) == libc::SIGCHLD && code > 0 {
            Detail::Child { pid, uid, status: slot.status.load(Ordering::Relaxed) }
        } else if code == SI_QUEUE || code == SI_MESGQ {
            Detail::Queued { pid, uid, value: slot.value.load(Ordering::Relaxed) }
        } else {
            Detail::Sender { pid, uid }
        };
        let info = SigInfo { signo: Signo(sig), code, detail };
        caught.push((info, mine & (1 << (sig - 1)) != 0));
    }
    caught
}

/// Stops this process the way a stop signal's default action does: the host's own default
/// action for `sig`, so a waiting parent sees WIFSTOPPED with this signal. Returns once the
/// process is continued.
pub fn stop_self(sig: Signo) {
    let sig = i32::from(sig.0);
    hs::stop_self(sig);
    if forwarded(sig) {
        hs::set_disposition(sig, CATCH);
    }
}

/// Blocks every forwarded signal on this thread until the guard drops (the old mask comes
/// back): a host fork holds them so a signal sent to the child right after the fork is not
/// taken for one of the parent's and dropped.
pub fn hold_forwarded() -> HeldSignals {
    hs::block((1..=64).filter(|&s| forwarded(s)))
}

/// The mask [`hold_forwarded`] replaced.
pub type HeldSignals = BlockedSignals;

/// Sleeps until a forwarded signal arrives or `timeout` passes, without the classic race: the
/// forwarded signals are blocked while `ready` takes the caught signals and looks at the
/// guest's state, and unblocked atomically with the sleep (`ppoll` with a signal mask).
/// Returns whether `ready` said so (false: the time ran out).
pub fn wait_until(timeout: Option<std::time::Duration>, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let held = hold_forwarded();
    let result = loop {
        if ready() {
            break true;
        }
        let left = match deadline {
            Some(d) => match d.checked_duration_since(std::time::Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => break false,
            },
            None => None,
        };
        // The forwarded signals unblocked, as before this call, for the sleep.
        held.sleep_unblocked(left);
    };
    // The mask from before the call comes back.
    drop(held);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_host_fork_holds_every_lock_of_the_thread_registry() {
        // A child inherits each lock in the state the fork found it: one another thread held
        // (starting or ending a guest thread) would never be released there.
        let held = fork_lock();
        assert!(THREADS.try_lock().is_err(), "the registry");
        assert!(FREE_SLOTS.try_lock().is_err(), "the free slots");
        drop(held);
        assert!(THREADS.try_lock().is_ok() && FREE_SLOTS.try_lock().is_ok());
    }

    #[test]
    fn test_forwarded_set() {
        assert!(forwarded(libc::SIGINT) && forwarded(libc::SIGCHLD) && forwarded(libc::SIGALRM));
        assert!(forwarded(34) && forwarded(64));
        for sig in [0, 9, 19, 11, 7, 4, 8, 5, 6, 13, 32, 33, 65] {
            assert!(!forwarded(sig), "{sig}");
        }
    }

    #[test]
    fn test_job_control_signals_are_never_resent() {
        // Sending them again would resume a stop or discard a SIGCONT (prepare_signal).
        for sig in [libc::SIGCONT, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU] {
            assert_eq!(nudge_signal(sig), KICK_SIGNAL, "{sig}");
        }
        assert!(forwarded(KICK_SIGNAL) && !matches!(KICK_SIGNAL, libc::SIGCONT | libc::SIGTSTP));
        for sig in [libc::SIGINT, libc::SIGCHLD, libc::SIGALRM, libc::SIGUSR1, 34, 64] {
            assert_eq!(nudge_signal(sig), sig, "{sig}");
        }
    }

    #[test]
    fn test_a_nudge_is_never_a_signal_whenever_it_lands() {
        let me = crate::host::pid();
        let nudge =
            CaughtInfo { code: hs::NUDGE_CODE, pid: me, uid: 0, status: 0, value: hs::NUDGE_VALUE };
        assert!(is_nudge(&nudge));
        // The same signal from this process by tgkill, or queued with another value, or from
        // another process with the nudge's siginfo: real signals.
        assert!(!is_nudge(&CaughtInfo { code: SI_TKILL, value: 0, ..nudge }));
        assert!(!is_nudge(&CaughtInfo { value: 7, ..nudge }));
        assert!(!is_nudge(&CaughtInfo { pid: me + 1, ..nudge }));
        // A nudge of SIGALRM that arrives after SIGALRM was taken queues nothing.
        let before = PENDING.load(Ordering::SeqCst);
        forward(libc::SIGALRM, &nudge);
        assert_eq!(PENDING.load(Ordering::SeqCst), before);
    }
}
