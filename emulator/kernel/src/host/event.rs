//! Host event descriptors and waits: `ppoll` with the forwarded signals let through for the
//! wait only. Guest and host share every
//! value these calls take (poll and epoll bits, clock ids), since both are Linux; the flags
//! with a guest name are translated by the callers.

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
