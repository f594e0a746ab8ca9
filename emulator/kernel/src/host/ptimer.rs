//! Host POSIX timers behind the guest's (`crate::timers`). Each guest timer is a host timer on
//! the same clock, so arming, reading, CPU-time clocks and clock changes are the host kernel's;
//! its expirations arrive as [`TIMER_SIGNAL`] sent to one emulator thread, which turns them
//! into guest signals.

use elfvisor_abi::Errno;
use elfvisor_abi::time::{Itimerspec, Timespec};

use super::check;

/// The host signal every host timer sends to the timer thread: the last real-time signal,
/// thread-directed, blocked there and taken with `sigtimedwait`.
pub fn timer_signal() -> i32 {
    libc::SIGRTMAX()
}

fn host_its(g: &Itimerspec) -> libc::itimerspec {
    let ts = |t: &Timespec| libc::timespec { tv_sec: t.sec, tv_nsec: t.nsec };
    libc::itimerspec { it_interval: ts(&g.interval), it_value: ts(&g.value) }
}

fn guest_its(h: &libc::itimerspec) -> Itimerspec {
    let ts = |t: &libc::timespec| Timespec { sec: t.tv_sec, nsec: t.tv_nsec };
    Itimerspec { interval: ts(&h.it_interval), value: ts(&h.it_value) }
}

/// The host's `struct sigevent` for the kernel: value, signal, notify, then the target tid.
#[repr(C)]
struct HostSigevent {
    value: u64,
    signo: i32,
    notify: i32,
    tid: i32,
    pad: [i32; 11],
}

/// `timer_create` on `clock` (Linux's clock ids on both sides). With `to_thread`, expirations
/// send [`timer_signal`] to that host thread; without, the timer notifies nobody.
pub fn create(clock: i32, to_thread: Option<i32>) -> Result<i32, Errno> {
    let ev = HostSigevent {
        value: 0,
        signo: timer_signal(),
        notify: if to_thread.is_some() { libc::SIGEV_THREAD_ID } else { libc::SIGEV_NONE },
        tid: to_thread.unwrap_or(0),
        pad: [0; 11],
    };
    let mut id: libc::c_int = 0;
    // SAFETY: `ev` is a complete kernel sigevent and `id` a live int.
    check(unsafe { libc::syscall(libc::SYS_timer_create, clock, &raw const ev, &raw mut id) }
        as isize)?;
    Ok(id)
}

/// `timer_settime`: arms or disarms; returns the previous setting.
pub fn settime(id: i32, flags: i32, new: &Itimerspec) -> Result<Itimerspec, Errno> {
    let new = host_its(new);
    let mut old: libc::itimerspec = host_its(&Itimerspec::default());
    // SAFETY: live input and output itimerspecs.
    let r =
        unsafe { libc::syscall(libc::SYS_timer_settime, id, flags, &raw const new, &raw mut old) };
    check(r as isize)?;
    Ok(guest_its(&old))
}

pub fn gettime(id: i32) -> Result<Itimerspec, Errno> {
    let mut cur: libc::itimerspec = host_its(&Itimerspec::default());
    // SAFETY: a live output itimerspec.
    check(unsafe { libc::syscall(libc::SYS_timer_gettime, id, &raw mut cur) } as isize)?;
    Ok(guest_its(&cur))
}

pub fn delete(id: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(libc::SYS_timer_delete, id) } as isize)
}

/// Blocks [`timer_signal`] in the calling thread, so that it stays pending for
/// [`wait_expiry`].
pub fn block_timer_signal() {
    // SAFETY: a live signal set, modified and installed for the calling thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, timer_signal());
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// One expiry the calling thread was sent, waiting up to `timeout`: the host timer's id and
/// its overrun count, or `None` after the timeout (or for a signal no timer sent).
pub fn wait_expiry(timeout: std::time::Duration) -> Option<(i32, i32)> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: a live signal set and timespec; `info` is a siginfo buffer for the kernel to
    // fill; SI_TIMER puts the timer id at byte 16 and the overrun at byte 20 (`_timer`).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, timer_signal());
        let mut info = [0i32; 32];
        let r = libc::sigtimedwait(&set, info.as_mut_ptr().cast(), &ts);
        if r != timer_signal() || info[2] != libc::SI_TIMER {
            return None;
        }
        Some((info[4], info[5]))
    }
}
