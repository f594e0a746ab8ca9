//! Host signal primitives for the guest's signal forwarder (`crate::signal::forward`): the
//! host handler that decodes `siginfo_t`, dispositions, signal masks, directed signals and
//! the futex word the forwarder's helper thread sleeps on.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// What a caught signal's `siginfo_t` says: the fields every sender fills (code, pid, uid),
/// SIGCHLD's status, and the value a queued signal carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaughtInfo {
    pub code: i32,
    pub pid: u32,
    pub uid: u32,
    pub status: i32,
    pub value: u64,
}

/// The function the host handler calls for every caught signal. It runs in a signal handler:
/// only async-signal-safe work (atomics, raw system calls).
pub type Catcher = fn(sig: i32, info: &CaughtInfo);

static CATCHER: OnceLock<Catcher> = OnceLock::new();

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: errno is thread-local; the handler must leave it as the interrupted code had it.
    let saved_errno = unsafe { *libc::__errno_location() };
    if (1..=64).contains(&sig) && !info.is_null() {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; the accessors
        // read the union members every sender fills (pid/uid; status for SIGCHLD), and
        // si_value follows si_pid and si_uid (offset 24 in every 64-bit siginfo_t).
        let caught = unsafe {
            CaughtInfo {
                code: (*info).si_code,
                pid: (*info).si_pid() as u32,
                uid: (*info).si_uid(),
                status: if sig == libc::SIGCHLD { (*info).si_status() } else { 0 },
                value: (info as *const u8).add(24).cast::<u64>().read_unaligned(),
            }
        };
        if let Some(catch) = CATCHER.get() {
            catch(sig, &caught);
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// Sets the one function every caught signal goes to (the first call wins).
pub fn set_catcher(catcher: Catcher) {
    let _ = CATCHER.set(catcher);
}

/// What the host does with a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Default,
    Ignore,
    /// The catcher runs (no SA_RESTART: a blocking host call returns EINTR); for SIGCHLD,
    /// with SA_NOCLDWAIT and SA_NOCLDSTOP as asked.
    Catch {
        no_child_wait: bool,
        no_child_stop: bool,
    },
}

/// Sets the host disposition of `sig`, a valid catchable signal number.
pub fn set_disposition(sig: i32, disposition: Disposition) {
    let (handler, flags) = match disposition {
        Disposition::Default => (libc::SIG_DFL, 0),
        Disposition::Ignore => (libc::SIG_IGN, 0),
        Disposition::Catch { no_child_wait, no_child_stop } => {
            let mut flags = libc::SA_SIGINFO;
            if no_child_wait {
                flags |= libc::SA_NOCLDWAIT;
            }
            if no_child_stop {
                flags |= libc::SA_NOCLDSTOP;
            }
            let handler = on_signal
                as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                as libc::sighandler_t;
            (handler, flags)
        }
    };
    // SAFETY: a zeroed sigaction is valid; we fill handler, flags and an empty mask.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    act.sa_flags = flags;
    // SAFETY: `act` is initialised; a bad signal number only makes sigaction fail.
    unsafe {
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(sig, &act, std::ptr::null_mut());
    }
}

/// The `si_code` and `si_value` of a nudge ([`nudge_own_thread`]): a queued-signal code no
/// kernel path and no C library uses, with a value spelling "elfvisor".
pub const NUDGE_CODE: i32 = -42;
pub const NUDGE_VALUE: u64 = 0x726f_7369_7666_6c65;

/// Sends `sig` to host thread `tid` of this process as a nudge: a queued signal whose siginfo
/// (code [`NUDGE_CODE`], value [`NUDGE_VALUE`], this process as sender) tells the catcher it
/// only interrupts, whenever it arrives (errors ignored: the thread may be gone).
/// Async-signal-safe.
pub fn nudge_own_thread(tid: i32, sig: i32) {
    let mut info = [0u8; 128];
    // SAFETY: getpid and getuid take nothing; rt_tgsigqueueinfo reads the 128-byte siginfo.
    unsafe {
        let pid = libc::getpid();
        info[0..4].copy_from_slice(&sig.to_ne_bytes());
        info[8..12].copy_from_slice(&NUDGE_CODE.to_ne_bytes());
        info[16..20].copy_from_slice(&pid.to_ne_bytes());
        info[20..24].copy_from_slice(&libc::getuid().to_ne_bytes());
        info[24..32].copy_from_slice(&NUDGE_VALUE.to_ne_bytes());
        libc::syscall(libc::SYS_rt_tgsigqueueinfo, pid, tid, sig, info.as_ptr());
    }
}

/// Wakes one thread sleeping in [`futex_wait`] on `word`. Async-signal-safe.
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live word of this process.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// Sleeps while `word` holds `expected` (spurious wake-ups are possible).
pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT on a live word of this process, without a timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Blocks `signals` on the calling thread until the guard drops (the old mask comes back).
pub fn block(signals: impl IntoIterator<Item = i32>) -> BlockedSignals {
    // SAFETY: sigset operations on local, initialised sets; pthread_sigmask on this thread.
    let (mut set, mut old) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    // SAFETY: as above.
    unsafe {
        libc::sigemptyset(&mut set);
        for sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
    }
    BlockedSignals { old }
}

/// Blocks every signal on the calling thread for the rest of its life (a helper thread that
/// must never take a signal meant for the guest).
pub fn block_all_forever() {
    // SAFETY: a full, initialised set; masks only this thread.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

/// The mask [`block`] replaced.
#[allow(missing_debug_implementations)] // `sigset_t` has no Debug on every host.
pub struct BlockedSignals {
    old: libc::sigset_t,
}

impl BlockedSignals {
    /// The mask from before [`block`]: the one a wait that lets the forwarded signals through
    /// puts in place for its duration.
    pub fn old_mask(&self) -> &libc::sigset_t {
        &self.old
    }

    /// Sleeps until a signal the old mask lets through is caught, or `timeout` passes: the
    /// old mask comes back atomically with the sleep (`ppoll` with a signal mask).
    pub fn sleep_unblocked(&self, timeout: Option<Duration>) {
        let ts = timeout.map(|l| libc::timespec {
            tv_sec: l.as_secs() as libc::time_t,
            tv_nsec: l.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: no descriptors; `ts_ptr` is null or a live timespec; `old` is a valid mask.
        unsafe { libc::ppoll(std::ptr::null_mut(), 0, ts_ptr, &self.old) };
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: restores this thread's mask from before `block`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// Stops this process the way a stop signal's default action does (the host's default action
/// for `sig`, which must be a stop signal), so a waiting parent sees WIFSTOPPED with it.
/// Returns once the process is continued; the disposition of `sig` is then the default.
pub fn stop_self(sig: i32) {
    set_disposition(sig, Disposition::Default);
    // SAFETY: plain calls on this process with a valid signal number; the signal is unblocked
    // so the stop happens before kill returns.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), sig);
    }
}
