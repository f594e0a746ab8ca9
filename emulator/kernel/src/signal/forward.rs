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

use elfvisor_abi::Signo;

use super::info::{
    Detail, SA_NOCLDSTOP, SA_NOCLDWAIT, SI_QUEUE, SI_TKILL, SIG_IGN, SigAction, SigInfo,
};

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
    /// This guest thread's slot of signals sent to it alone (null on other threads).
    static MINE: Cell<*const AtomicU64> = const { Cell::new(std::ptr::null()) };
}

/// In a thread's slot, the bit of signal 32 (never forwarded, so never a pending signal there)
/// marks a kick: until the thread next drains its slot, a tgkill of `KICK_SIGNAL` from this
/// process only interrupts it, and the nudger repeats it (a kick that lands before the thread
/// blocks would otherwise be lost, as a caught signal would without the nudger).
const KICK: u64 = 1 << 31;
/// The host signal a kick is sent with (any forwarded one would do).
const KICK_SIGNAL: i32 = libc::SIGURG;

/// The guest threads' slots, by host thread id, for the nudger; and slots free for reuse.
static THREADS: Mutex<Vec<(i32, &'static AtomicU64)>> = Mutex::new(Vec::new());
static FREE_SLOTS: Mutex<Vec<&'static AtomicU64>> = Mutex::new(Vec::new());

fn threads() -> std::sync::MutexGuard<'static, Vec<(i32, &'static AtomicU64)>> {
    THREADS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Held across a host fork: the thread registry is consistent in the child.
pub fn fork_lock() -> std::sync::MutexGuard<'static, Vec<(i32, &'static AtomicU64)>> {
    threads()
}

/// Gives the calling host thread, which runs a guest thread, a slot for signals sent to it.
pub fn register_thread(host_tid: i32) {
    let slot = FREE_SLOTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_else(|| Box::leak(Box::new(AtomicU64::new(0))));
    slot.store(0, Ordering::SeqCst);
    MINE.with(|m| m.set(slot));
    threads().push((host_tid, slot));
}

/// The calling host thread no longer runs a guest thread.
pub fn unregister_thread() {
    let mine = MINE.with(|m| m.replace(std::ptr::null()));
    if mine.is_null() {
        return;
    }
    threads().retain(|(_, s)| !std::ptr::eq(*s, mine));
    // SAFETY: registered slots are leaked boxes, alive for the life of the process.
    FREE_SLOTS.lock().unwrap_or_else(|e| e.into_inner()).push(unsafe { &*mine });
}

/// This thread's own pending bits.
fn mine_take() -> u64 {
    let mine = MINE.with(Cell::get);
    if mine.is_null() {
        return 0;
    }
    // SAFETY: as in `forward`. A kick is spent once the thread looks at its signals.
    unsafe { (*mine).swap(0, Ordering::SeqCst) & !KICK }
}

fn mine_any() -> bool {
    let mine = MINE.with(Cell::get);
    // SAFETY: as in `forward`.
    !mine.is_null() && unsafe { (*mine).load(Ordering::SeqCst) } != 0
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
    // SAFETY: FUTEX_WAKE on a static word.
    unsafe {
        libc::syscall(libc::SYS_futex, NUDGE.as_ptr(), libc::FUTEX_WAKE, 1);
    }
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

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: errno is thread-local; the handler must leave it as the interrupted code had it.
    let saved_errno = unsafe { *libc::__errno_location() };
    if (1..=64).contains(&sig) && !info.is_null() && is_nudge(sig, info) {
        // The nudger's re-send of a signal still pending: only interrupt.
        elfvisor_engine::tcg::stop_current_thread();
    } else if (1..=64).contains(&sig) && !info.is_null() {
        let slot = &SLOTS[sig as usize - 1];
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; the accessors
        // read the union members every sender fills (pid/uid; status for SIGCHLD).
        unsafe {
            slot.code.store((*info).si_code, Ordering::Relaxed);
            slot.pid.store((*info).si_pid() as u32, Ordering::Relaxed);
            slot.uid.store((*info).si_uid(), Ordering::Relaxed);
            let status = if sig == libc::SIGCHLD { (*info).si_status() } else { 0 };
            slot.status.store(status, Ordering::Relaxed);
            // si_value follows si_pid and si_uid (offset 24 in every 64-bit siginfo_t).
            let value = (info as *const u8).add(24).cast::<u64>().read_unaligned();
            slot.value.store(value, Ordering::Relaxed);
        }
        // A tgkill is for this thread; anything else is for the process.
        let mine = MINE.with(Cell::get);
        // SAFETY: as above: si_code is filled for every signal.
        if unsafe { (*info).si_code } == SI_TKILL && !mine.is_null() {
            // SAFETY: `MINE` points at this thread's registered slot, which stays allocated
            // for the life of the process (slots are reused, never freed).
            unsafe { (*mine).fetch_or(1 << (sig - 1), Ordering::SeqCst) };
        } else {
            PENDING.fetch_or(1 << (sig - 1), Ordering::SeqCst);
        }
        elfvisor_engine::tcg::stop_current_thread();
        wake_nudger();
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// Whether a caught signal is the nudger's re-send: a tgkill from this process of a signal
/// that is still recorded as pending.
fn is_nudge(sig: libc::c_int, info: *mut libc::siginfo_t) -> bool {
    let bit = 1u64 << (sig - 1);
    // SAFETY: the kernel passes a valid siginfo; getpid has no preconditions.
    let (code, pid) = unsafe { ((*info).si_code, (*info).si_pid()) };
    // SAFETY: getpid has no preconditions.
    if code != SI_TKILL || pid != unsafe { libc::getpid() } {
        return false;
    }
    let mine = MINE.with(Cell::get);
    // SAFETY: as in `forward`.
    let mine = if mine.is_null() { 0 } else { unsafe { (*mine).load(Ordering::SeqCst) } };
    (sig == KICK_SIGNAL && mine & KICK != 0) || (PENDING.load(Ordering::SeqCst) | mine) & bit != 0
}

fn set_host_action(sig: i32, handler: libc::sighandler_t, flags: libc::c_int) {
    // SAFETY: a zeroed sigaction is valid; we fill handler, flags and an empty mask.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    act.sa_flags = flags;
    // SAFETY: `act` is initialised; `sig` is a valid, catchable signal number.
    unsafe {
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(sig, &act, std::ptr::null_mut());
    }
}

fn forwarder() -> libc::sighandler_t {
    forward as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
        as libc::sighandler_t
}

/// Installs the forwarder for every forwarded signal, with SIGCHLD following the guest's
/// action (see [`sigchld_changed`]), and starts this process's nudger. Called on the thread that
/// runs the guest when a process starts (also a respawned child, and a host-forked one).
pub fn install(sigchld: &SigAction) {
    for sig in (1..=64).filter(|&s| forwarded(s)) {
        set_host_action(sig, forwarder(), libc::SA_SIGINFO);
    }
    sigchld_changed(sigchld);
    // SAFETY: gettid has no preconditions.
    VCPU_TID.store(unsafe { libc::gettid() }, Ordering::SeqCst);
    let pid = std::process::id();
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
            // SAFETY: FUTEX_WAIT on a static word while it is 0; spurious wake-ups are fine.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    NUDGE.as_ptr(),
                    libc::FUTEX_WAIT,
                    0,
                    std::ptr::null::<libc::timespec>(),
                );
            }
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
    resend_signal(tid, bits.trailing_zeros() as i32 + 1);
}

fn resend_signal(tid: i32, sig: i32) {
    // SAFETY: tgkill to a thread of this process with a forwarded signal number.
    unsafe {
        libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig);
    }
}

/// Mirrors the guest's SIGCHLD action on the host where it changes what the host kernel does
/// with children: SIG_IGN and SA_NOCLDWAIT reap them automatically, SA_NOCLDSTOP sends no
/// SIGCHLD for stops.
pub fn sigchld_changed(action: &SigAction) {
    if action.handler == SIG_IGN {
        set_host_action(libc::SIGCHLD, libc::SIG_IGN, 0);
        return;
    }
    let mut flags = libc::SA_SIGINFO;
    if action.flags & SA_NOCLDWAIT != 0 {
        flags |= libc::SA_NOCLDWAIT;
    }
    if action.flags & SA_NOCLDSTOP != 0 {
        flags |= libc::SA_NOCLDSTOP;
    }
    set_host_action(libc::SIGCHLD, forwarder(), flags);
}

/// Drops caught signals not yet drained and the other threads' slots: a forked child does
/// not inherit them.
pub fn forget() {
    PENDING.store(0, Ordering::SeqCst);
    let mine = MINE.with(Cell::get);
    threads().retain(|(_, s)| std::ptr::eq(*s, mine));
    if let Some(me) = threads().first_mut() {
        // SAFETY: gettid has no preconditions.
        me.0 = unsafe { libc::gettid() };
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
        } else if code == SI_QUEUE {
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
    set_host_action(sig, libc::SIG_DFL, 0);
    // SAFETY: plain calls on this process with a valid signal number; the signal is unblocked
    // so the stop happens before kill returns.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), sig);
    }
    if forwarded(sig) {
        set_host_action(sig, forwarder(), libc::SA_SIGINFO);
    }
}

/// Blocks every forwarded signal on this thread until the guard drops (the old mask comes
/// back): a host fork holds them so a signal sent to the child right after the fork is not
/// taken for one of the parent's and dropped.
pub fn hold_forwarded() -> HeldSignals {
    // SAFETY: sigset operations on local, initialised sets; pthread_sigmask on this thread.
    let (mut block, mut old) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    // SAFETY: as above.
    unsafe {
        libc::sigemptyset(&mut block);
        for sig in (1..=64).filter(|&s| forwarded(s)) {
            libc::sigaddset(&mut block, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
    }
    HeldSignals { old }
}

/// The mask [`hold_forwarded`] replaced.
#[allow(missing_debug_implementations)]
pub struct HeldSignals {
    old: libc::sigset_t,
}

impl Drop for HeldSignals {
    fn drop(&mut self) {
        // SAFETY: restores this thread's mask from before `hold_forwarded`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// Sleeps until a forwarded signal arrives or `timeout` passes, without the classic race: the
/// forwarded signals are blocked while `ready` takes the caught signals and looks at the
/// guest's state, and unblocked atomically with the sleep (`ppoll` with a signal mask).
/// Returns whether `ready` said so (false: the time ran out).
pub fn wait_until(timeout: Option<std::time::Duration>, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let held = hold_forwarded();
    let old = held.old;
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
        let ts = left.map(|l| libc::timespec {
            tv_sec: l.as_secs() as libc::time_t,
            tv_nsec: l.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: no descriptors; `ts_ptr` is null or a live timespec; `old` is the mask to
        // sleep with (the forwarded signals unblocked, as before this call).
        unsafe { libc::ppoll(std::ptr::null_mut(), 0, ts_ptr, &old) };
    };
    // The mask from before the call comes back.
    drop(held);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_forwarded_set() {
        assert!(forwarded(libc::SIGINT) && forwarded(libc::SIGCHLD) && forwarded(libc::SIGALRM));
        assert!(forwarded(34) && forwarded(64));
        for sig in [0, 9, 19, 11, 7, 4, 8, 5, 6, 13, 32, 33, 65] {
            assert!(!forwarded(sig), "{sig}");
        }
    }
}
