//! Host event descriptors and waits: `ppoll` and `epoll_pwait2` with the forwarded signals let
//! through for the wait only, `eventfd`, `epoll` and `timerfd`. Guest and host share every
//! value these calls take (poll and epoll bits, clock ids), since both are Linux; the flags
//! with a guest name are translated by the callers.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use elfvisor_abi::Errno;

use super::check;
use super::signal::BlockedSignals;

fn timespec(t: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    }
}

/// `ppoll` over host descriptors with the mask `held` replaced for the wait (the forwarded
/// signals interrupt it, EINTR); `None` waits without a limit. Fills each entry's `revents`.
pub fn poll_unblocked(
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
    held: &BlockedSignals,
) -> Result<u64, Errno> {
    let ts = timeout.map(timespec);
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a live array of `fds.len()` pollfds; `ts_ptr` is null or points at `ts`;
    // the mask is a valid, initialised sigset that lives across the call.
    check(unsafe {
        libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ts_ptr, held.old_mask())
    } as isize)
}

/// A host `eventfd` with counter `initval`, close-on-exec on the host.
pub fn eventfd(initval: u32, semaphore: bool, nonblock: bool) -> Result<OwnedFd, Errno> {
    let mut flags = libc::EFD_CLOEXEC;
    if semaphore {
        flags |= libc::EFD_SEMAPHORE;
    }
    if nonblock {
        flags |= libc::EFD_NONBLOCK;
    }
    // SAFETY: integers only.
    let fd = check(unsafe { libc::eventfd(initval, flags) } as isize)?;
    // SAFETY: a fresh descriptor this process owns alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
