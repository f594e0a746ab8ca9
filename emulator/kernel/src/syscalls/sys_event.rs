//! Event descriptors: `eventfd2`, the epoll calls and the timerfd calls. Each guest descriptor
//! is a host object of the same kind (Linux on both sides), so readiness, `read` and `write`,
//! fork (host, and respawn through `SCM_RIGHTS`, which carries an epoll's interest list with
//! its file) and close behave as Linux's; this module checks arguments in Linux's order,
//! translates descriptors and `struct epoll_event`, and waits as `super::sys_poll` does.

use std::sync::Arc;
use std::time::Duration;

use elfvisor_abi::Errno;
use elfvisor_abi::GuestObj;
use elfvisor_abi::event::{
    ALL_INOTIFY_BITS, EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE, EP_MAX_EVENTS, EPOLL_CLOEXEC,
    EPOLL_CTL_DEL, EpollEvent, IN_CLOEXEC, IN_MASK_ADD, IN_MASK_CREATE, IN_NONBLOCK, SFD_CLOEXEC,
    SFD_NONBLOCK, SignalfdSiginfo, TFD_CLOEXEC, TFD_NONBLOCK, TFD_TIMER_ABSTIME,
    TFD_TIMER_CANCEL_ON_SET,
};
use elfvisor_abi::signal::{SIGSET_SIZE, SigFields, UNBLOCKABLE};
use elfvisor_abi::time::{Itimerspec, Timespec};

use super::ctx::{Ctx, SysResult};
use super::sys_poll::{read_sigmask, read_timeout, wait_interruptibly, with_sigmask};
use crate::fdtable::FdEntry;
use crate::host;
use crate::signal::info::SigInfo;
use crate::signal::{delivery, signalfd};

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

/// `epoll_create1(flags)`: a host epoll instance.
pub fn epoll_create1(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[0] as u32;
    if flags & !EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = host::event::epoll_create()?;
    Ok(ctx.proc.fds().install_host(fd, flags & EPOLL_CLOEXEC != 0)? as u64)
}

/// `epoll_ctl(epfd, op, fd, event)`: the event is read first for every op but DEL (EFAULT,
/// `ep_op_has_event`), then both descriptors are translated (EBADF) and the host checks the
/// rest as Linux's `do_epoll_ctl` does (EINVAL, EEXIST, ENOENT, EPERM, ELOOP). The guest's
/// `data` word is the host event's data, so it comes back unchanged from a wait.
///
/// Registrations are keyed by the guest's descriptor number ([`host::event::epoll_ctl_keyed`]),
/// as Linux keys them by (file, number): a child on any fork strategy modifies and deletes
/// what its parent registered and cannot register it twice, and two guest descriptors of one
/// file (`dup`) are two registrations.
pub fn epoll_ctl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let op = a[1] as u32;
    let event = if op != EPOLL_CTL_DEL {
        let ev: EpollEvent = ctx.read_obj(a[3])?;
        Some((ev.events, ev.data))
    } else {
        None
    };
    let epfd = ctx.fd(a[0])?;
    let fd = ctx.fd(a[2])?;
    host::event::epoll_ctl_keyed(epfd, op as i32, fd, a[2], event)?;
    Ok(0)
}

/// The most events one host wait returns: a guest asking for more gets them over several calls.
const EVENTS_PER_WAIT: usize = 1024;

/// The wait of `epoll_pwait` and `epoll_pwait2` (`do_epoll_wait`): `maxevents` in
/// `1..=EP_MAX_EVENTS` (EINVAL), the epoll descriptor (EBADF; the host says EINVAL when it is
/// not an epoll), then the events written out as arm64's 16-byte `struct epoll_event`. A guest
/// buffer that faults on the first event is EFAULT (`ep_send_events`); on a later one, the
/// count so far. A signal ends the wait with EINTR, never restarted (`ep_poll`).
fn epoll_wait(
    ctx: &mut Ctx<'_>,
    a: &[u64; 6],
    timeout: Option<Duration>,
    mask: Option<u64>,
) -> SysResult {
    let max = a[2] as i32;
    if max <= 0 || max as u64 > EP_MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let epfd = ctx.fd(a[0])?;
    let room = (max as usize).min(EVENTS_PER_WAIT);
    let ready = with_sigmask(ctx.proc, mask, |task| {
        wait_interruptibly(task, timeout, |_, limit, held| {
            let events = host::event::epoll_wait_unblocked(epfd, room, limit, held)?;
            Ok((!events.is_empty()).then_some(events))
        })
    })?
    .unwrap_or_default();
    for (i, &(events, data)) in ready.iter().enumerate() {
        let at = a[1].wrapping_add(i as u64 * 16);
        if ctx.write_obj(at, &EpollEvent { events, data }).is_err() {
            return if i == 0 { Err(Errno::EFAULT) } else { Ok(i as u64) };
        }
    }
    Ok(ready.len() as u64)
}

/// `epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask, sigsetsize)`: a negative timeout
/// waits without a limit. The mask is checked first (`do_epoll_pwait`).
pub fn epoll_pwait(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let mask = read_sigmask(ctx, a[4], a[5])?;
    let ms = a[3] as i32;
    let timeout = (ms >= 0).then(|| Duration::from_millis(ms as u64));
    epoll_wait(ctx, a, timeout, mask)
}

/// `epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize)`: the timeout is a
/// `struct timespec` (NULL: no limit), read before the mask.
pub fn epoll_pwait2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let timeout = read_timeout(ctx, a[3])?;
    let mask = read_sigmask(ctx, a[4], a[5])?;
    epoll_wait(ctx, a, timeout, mask)
}

/// `timerfd_create(clockid, flags)`: a host timerfd; the host checks the clock as Linux does
/// (EINVAL for a clock a timerfd cannot use, EPERM for an alarm clock without the capability).
pub fn timerfd_create(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[1] as u32;
    if flags & !(TFD_CLOEXEC | TFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    // Guest clock ids are Linux's, and so are the host's.
    let clock = a[0] as i32;
    let fd = host::event::timerfd_create(clock, flags & TFD_NONBLOCK != 0)?;
    Ok(ctx.proc.fds().install_host(fd, flags & TFD_CLOEXEC != 0)? as u64)
}

fn to_guest(((isec, insec), (vsec, vnsec)): host::event::TimerSpec) -> Itimerspec {
    Itimerspec {
        interval: Timespec { sec: isec, nsec: insec },
        value: Timespec { sec: vsec, nsec: vnsec },
    }
}

/// `timerfd_settime(fd, flags, new, old)`: as `do_timerfd_settime`, the new value is read
/// first (EFAULT), then the flags and the value are checked (EINVAL), then the descriptor
/// (EBADF; EINVAL from the host when it is not a timerfd); the old value is written after the
/// timer is set.
pub fn timerfd_settime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let new: Itimerspec = ctx.read_obj(a[2])?;
    let flags = a[1] as u32;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    new.interval.validated()?;
    new.value.validated()?;
    let fd = ctx.fd(a[0])?;
    let spec = ((new.interval.sec, new.interval.nsec), (new.value.sec, new.value.nsec));
    let old = host::event::timerfd_settime(
        fd,
        flags & TFD_TIMER_ABSTIME != 0,
        flags & TFD_TIMER_CANCEL_ON_SET != 0,
        spec,
    )?;
    if a[3] != 0 {
        ctx.write_obj(a[3], &to_guest(old))?;
    }
    Ok(0)
}

/// `timerfd_gettime(fd, curr)`: the time left and the interval.
pub fn timerfd_gettime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let cur = host::event::timerfd_gettime(fd)?;
    ctx.write_obj(a[1], &to_guest(cur))?;
    Ok(0)
}

/// `signalfd4(fd, mask, sizemask, flags)`: a new signalfd (fd -1) or a new mask for an
/// existing one (EINVAL when `fd` is open but not a signalfd), as `do_signalfd4`; SIGKILL and
/// SIGSTOP are never in the mask. The guest descriptor is a host eventfd that
/// `crate::signal::signalfd` keeps readable while a signal of the mask is pending.
pub fn signalfd4(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[2] != SIGSET_SIZE as u64 {
        return Err(Errno::EINVAL);
    }
    let mask = ctx.read_u64(a[1])? & !UNBLOCKABLE;
    let flags = a[3] as u32;
    if flags & !(SFD_CLOEXEC | SFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = a[0] as i32;
    if fd != -1 {
        let file = ctx.proc.fds().get(i64::from(fd))?.file.clone();
        let sfd = signalfd::find(&file).ok_or(Errno::EINVAL)?;
        signalfd::set_mask(ctx.proc, &sfd, mask);
        return Ok(fd as u64);
    }
    let host = host::event::eventfd(0, false, flags & SFD_NONBLOCK != 0)?;
    let file = Arc::new(host);
    let entry = FdEntry { file: file.clone(), cloexec: flags & SFD_CLOEXEC != 0 };
    let guest = ctx.proc.fds().install(entry, 0)?;
    signalfd::register(ctx.proc, &file, mask);
    Ok(guest as u64)
}

/// The signalfd behind guest descriptor `fd`, if it is one.
pub fn signalfd_of(ctx: &Ctx<'_>, fd: u64) -> Option<Arc<signalfd::SignalFd>> {
    let file = ctx.proc.fds().get(i64::from(fd as i32)).ok()?.file.clone();
    signalfd::find(&file)
}

/// The guest's `struct signalfd_siginfo` for a signal (`signalfd_copyinfo`).
fn signalfd_info(info: SigInfo) -> SignalfdSiginfo {
    let guest = info.to_guest();
    let mut out = SignalfdSiginfo {
        signo: guest.signo as u32,
        errno: guest.errno,
        code: guest.code,
        ..Default::default()
    };
    match guest.fields {
        SigFields::Kill { pid, uid } => {
            out.pid = pid as u32;
            out.uid = uid;
        }
        SigFields::Rt { pid, uid, value } => {
            out.pid = pid as u32;
            out.uid = uid;
            out.ptr = value;
            out.int = value as i32;
        }
        SigFields::Timer { tid, overrun, value } => {
            out.tid = tid as u32;
            out.overrun = overrun as u32;
            out.ptr = value;
            out.int = value as i32;
        }
        SigFields::Chld { pid, uid, status, utime, stime } => {
            out.pid = pid as u32;
            out.uid = uid;
            out.status = status;
            out.utime = utime as u64;
            out.stime = stime as u64;
        }
        SigFields::Fault { addr } => out.addr = addr,
        SigFields::Poll { band, fd } => {
            out.band = band as u32;
            out.fd = fd;
        }
        SigFields::Sys { call_addr, syscall, arch } => {
            out.call_addr = call_addr;
            out.syscall = syscall;
            out.arch = arch;
        }
    }
    out
}

/// `read` of a signalfd (`signalfd_read`): as many 128-byte records as fit (EINVAL for none),
/// each a pending signal of the mask taken in delivery order, this thread's before the
/// process's. The first waits unless the descriptor is non-blocking (EAGAIN); a signal that
/// runs a handler ends the wait (EINTR, restarted as -ERESTARTSYS is).
pub fn signalfd_read(ctx: &mut Ctx<'_>, a: &[u64; 6], sfd: &signalfd::SignalFd) -> SysResult {
    let room = (a[2] as usize) / SignalfdSiginfo::SIZE;
    if room == 0 {
        return Err(Errno::EINVAL);
    }
    let host_fd = ctx.fd(a[0])?;
    let nonblock = host::fcntl_int(host_fd, libc::F_GETFL, 0)? & libc::O_NONBLOCK as u64 != 0;
    let mask = sfd.mask();
    let wanted = |i: &SigInfo| mask & i.signo.mask_bit() != 0;
    let timeout = nonblock.then_some(Duration::ZERO);
    let first = wait_interruptibly(ctx.proc, timeout, |task, limit, held| {
        if let Some(info) = delivery::take_pending(task, wanted) {
            return Ok(Some(info));
        }
        // Readable for a signal pending for another thread: only a new signal (each one
        // queued for this thread or the process interrupts it) can change what it may take.
        let fd = if host::event::eventfd_readable(host_fd) { -1 } else { host_fd };
        let mut poll = [libc::pollfd { fd, events: libc::POLLIN, revents: 0 }];
        host::event::poll_unblocked(&mut poll, limit, held)?;
        Ok(None)
    })?
    .ok_or(Errno::EAGAIN)?;
    let mut taken = vec![first];
    while taken.len() < room {
        match delivery::take_pending(ctx.proc, wanted) {
            Some(info) => taken.push(info),
            None => break,
        }
    }
    for (i, info) in taken.iter().enumerate() {
        let at = a[1].wrapping_add((i * SignalfdSiginfo::SIZE) as u64);
        if ctx.write_obj(at, &signalfd_info(*info)).is_err() {
            return if i == 0 {
                Err(Errno::EFAULT)
            } else {
                Ok((i * SignalfdSiginfo::SIZE) as u64)
            };
        }
    }
    Ok((taken.len() * SignalfdSiginfo::SIZE) as u64)
}

/// `inotify_init1(flags)`: a host inotify instance. `struct inotify_event` is the same on both
/// sides, so the guest reads its events through the host descriptor unchanged.
pub fn inotify_init1(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[0] as u32;
    if flags & !(IN_CLOEXEC | IN_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = host::event::inotify_init(flags & IN_NONBLOCK != 0)?;
    Ok(ctx.proc.fds().install_host(fd, flags & IN_CLOEXEC != 0)? as u64)
}

/// `inotify_add_watch(fd, path, mask)`: the mask is checked first (EINVAL for
/// `IN_MASK_ADD|IN_MASK_CREATE` or no known bit), then the descriptor (EBADF), then the path;
/// the host says EINVAL for a descriptor that is not an inotify and finds the file.
pub fn inotify_add_watch(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let mask = a[2] as u32;
    if (mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0) || mask & ALL_INOTIFY_BITS == 0 {
        return Err(Errno::EINVAL);
    }
    let fd = ctx.fd(a[0])?;
    let path = ctx.path(a[1])?;
    host::event::inotify_add_watch(fd, &path, mask)
}

/// `inotify_rm_watch(fd, wd)`: EINVAL from the host for an unknown watch or a descriptor that
/// is not an inotify.
pub fn inotify_rm_watch(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    host::event::inotify_rm_watch(fd, a[1] as i32)?;
    Ok(0)
}
