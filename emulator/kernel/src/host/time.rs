//! Host clocks, sleeps and interval timers.

use elfvisor_abi::Errno;

use super::path_call;

/// `clock_gettime` / `clock_getres` for a guest clock id (the ids are the same numbers).
pub fn clock(id: i32, resolution: bool) -> Result<(i64, i64), Errno> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to fill.
    let ret = unsafe {
        if resolution { libc::clock_getres(id, &mut ts) } else { libc::clock_gettime(id, &mut ts) }
    };
    path_call(ret)?;
    Ok((ts.tv_sec, ts.tv_nsec))
}

/// Sleeps; on EINTR returns the remaining time.
pub fn clock_nanosleep(
    id: i32,
    flags: i32,
    sec: i64,
    nsec: i64,
) -> Result<(), (Errno, (i64, i64))> {
    let req = libc::timespec { tv_sec: sec, tv_nsec: nsec };
    let mut rem = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // The system call, not the C library's wrapper: glibc answers CLOCK_THREAD_CPUTIME_ID with
    // EINVAL itself, where the kernel says EOPNOTSUPP (the thread clock has no nsleep).
    // SAFETY: valid timespecs that outlive the call.
    let ret = unsafe {
        libc::syscall(libc::SYS_clock_nanosleep, id, flags, &raw const req, &raw mut rem)
    };
    if ret == 0 {
        Ok(())
    } else {
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL);
        Err((elfvisor_host::errno_from_host(e), (rem.tv_sec, rem.tv_nsec)))
    }
}

/// `setitimer` on the host: `new` (none: disarm, as Linux does for NULL); returns the old value.
pub fn setitimer(which: i32, new: Option<libc::itimerval>) -> Result<libc::itimerval, Errno> {
    let zero = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let disarmed = libc::itimerval { it_interval: zero, it_value: zero };
    let new = new.unwrap_or(disarmed);
    let mut old = disarmed;
    // SAFETY: a live input and output struct; the host checks the timer id.
    path_call(unsafe { libc::setitimer(which, &new, &mut old) })?;
    Ok(old)
}

/// `getitimer` on the host.
pub fn getitimer(which: i32) -> Result<libc::itimerval, Errno> {
    let zero = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut cur = libc::itimerval { it_interval: zero, it_value: zero };
    // SAFETY: a live output struct; the host checks the timer id.
    path_call(unsafe { libc::getitimer(which, &mut cur) })?;
    Ok(cur)
}

/// `adjtimex` with the guest's `struct timex` bytes (the same layout on both sides); the
/// callers only read (modes 0 or the read-only single-shot offset). Answers the clock state.
pub fn adjtimex(tx: &mut [u8; 208]) -> Result<u64, Errno> {
    // SAFETY: `tx` is a live buffer of the size of `struct timex`.
    super::check(unsafe { libc::syscall(libc::SYS_adjtimex, tx.as_mut_ptr()) } as isize)
}
