//! Event descriptors: `eventfd2`, the epoll calls and the timerfd calls. Each guest descriptor
//! is a host object of the same kind (Linux on both sides), so readiness, `read` and `write`,
//! fork (host, and respawn through `SCM_RIGHTS`, which carries an epoll's interest list with
//! its file) and close behave as Linux's; this module checks arguments in Linux's order,
//! translates descriptors and `struct epoll_event`, and waits as `super::sys_poll` does.

use elfvisor_abi::Errno;
use elfvisor_abi::event::{EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE};

use super::ctx::{Ctx, SysResult};
use crate::host;

/// `eventfd2(initval, flags)`: a host eventfd (`EFD_SEMAPHORE`, `EFD_NONBLOCK` on the host
/// file, `EFD_CLOEXEC` on the guest descriptor).
pub fn eventfd2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[1] as u32;
    if flags & !(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL);
    }
    let fd =
        host::event::eventfd(a[0] as u32, flags & EFD_SEMAPHORE != 0, flags & EFD_NONBLOCK != 0)?;
    Ok(ctx.proc.fds().install_host(fd, flags & EFD_CLOEXEC != 0)? as u64)
}
