//! Host event descriptors and waits: `ppoll` and `epoll_pwait2` with the forwarded signals let
//! through for the wait only, `eventfd`, `epoll` and `timerfd`. Guest and host share every
//! value these calls take (poll and epoll bits, clock ids), since both are Linux; the flags
//! with a guest name are translated by the callers.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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

/// Whether an eventfd's counter is non-zero (a poll that does not wait).
pub fn eventfd_readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one live pollfd; no wait, no mask.
    let n = unsafe {
        libc::ppoll(&mut p, 1, &libc::timespec { tv_sec: 0, tv_nsec: 0 }, std::ptr::null())
    };
    n == 1 && p.revents & libc::POLLIN != 0
}

/// Makes an eventfd readable (adds one to its counter unless it already is). The caller
/// serialises every access to this eventfd.
pub fn eventfd_raise(fd: RawFd) {
    if !eventfd_readable(fd) {
        let bytes = 1u64.to_ne_bytes();
        // SAFETY: eight readable bytes; the descriptor is live. A zero counter cannot overflow.
        unsafe { libc::write(fd, bytes.as_ptr().cast(), 8) };
    }
}

/// Empties an eventfd's counter, blocking or not, when it is non-zero. The caller serialises
/// every access to this eventfd.
pub fn eventfd_lower(fd: RawFd) {
    if eventfd_readable(fd) {
        let mut bytes = [0u8; 8];
        // SAFETY: eight writable bytes; the descriptor is live and readable, so this does not
        // block.
        unsafe { libc::read(fd, bytes.as_mut_ptr().cast(), 8) };
    }
}

/// A host epoll instance, close-on-exec on the host.
pub fn epoll_create() -> Result<OwnedFd, Errno> {
    // SAFETY: integers only.
    let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) } as isize)?;
    // SAFETY: a fresh descriptor this process owns alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `epoll_ctl` on host descriptors; `event` is (events, data) for ADD and MOD.
pub fn epoll_ctl(epfd: RawFd, op: i32, fd: RawFd, event: Option<(u32, u64)>) -> Result<(), Errno> {
    let mut ev = event.map(|(events, u64)| libc::epoll_event { events, u64 });
    let ptr = ev.as_mut().map_or(std::ptr::null_mut(), |e| e as *mut libc::epoll_event);
    // SAFETY: `ptr` is null or a live epoll_event; the host checks the descriptors.
    check(unsafe { libc::epoll_ctl(epfd, op, fd, ptr) } as isize)?;
    Ok(())
}

/// Whether the `toff`-th registration of host descriptor number `tfd` in epoll `epfd` (in the
/// order its `fdinfo` lists them) is the open file behind `fd`: `kcmp(KCMP_EPOLL_TFD)` on this
/// process (kernel/kcmp.c, get_epoll_tfile_raw_ptr). False when the host cannot say.
pub fn epoll_target_is(epfd: RawFd, tfd: RawFd, toff: u32, fd: RawFd) -> bool {
    const KCMP_EPOLL_TFD: libc::c_int = 7;
    #[repr(C)]
    struct Slot {
        efd: u32,
        tfd: u32,
        toff: u32,
    }
    let slot = Slot { efd: epfd as u32, tfd: tfd as u32, toff };
    // SAFETY: getpid has no arguments and cannot fail.
    let pid = unsafe { libc::getpid() };
    // SAFETY: `slot` is a live kcmp_epoll_slot the call only reads.
    let r = unsafe {
        libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, fd, &slot as *const Slot)
    };
    r == 0
}

/// One past the highest key number [`epoll_ctl_keyed`] uses.
const KEY_CEILING: libc::rlim_t = 1 << 16;

/// Serialises [`epoll_ctl_keyed`]: its key number must be free while it works.
static KEY_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The host descriptor number under which guest descriptor `guest_fd` is registered in host
/// epolls: counted down from the highest number this process may open (at most 65535), so
/// guest descriptor 0 is that number, 1 the one below it, and so on. None when the guest
/// number is past the range or the host's limit cannot be read.
pub fn epoll_key(guest_fd: u64) -> Option<RawFd> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: a live rlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    // Not past 65535: the host grows its descriptor table up to the number used.
    let top = limit.rlim_cur.min(KEY_CEILING).checked_sub(1)?;
    RawFd::try_from(top.checked_sub(guest_fd)?).ok()
}

/// The guest descriptor whose key ([`epoll_key`]) is host number `key`, if it is one.
pub fn epoll_key_owner(key: RawFd) -> Option<u64> {
    let top = epoll_key(0)?;
    u64::try_from(top.checked_sub(key)?).ok()
}

/// `epoll_ctl` with the registration keyed at the host descriptor number [`epoll_key`] gives
/// guest descriptor `guest_fd`. Linux keys a registration by (open file, descriptor number)
/// (`ep_find`, fs/eventpoll.c); the guest's descriptors are host descriptors whose numbers
/// differ between processes (a respawned child receives them through `SCM_RIGHTS` at numbers of
/// its own) and which two guest descriptors share after a `dup`, so keying by them would leave
/// a child unable to modify or delete what its parent registered, or refuse a second guest
/// descriptor of the same file (EEXIST where Linux accepts it). Keying by the guest's number
/// gives Linux's rule on every fork strategy. A duplicate of `fd` is made at exactly the key
/// number (`F_DUPFD` from it, used only when it lands there, so no descriptor is ever
/// replaced), the call made with it, and the duplicate closed: the registration holds no
/// reference, and goes when the guest's last descriptor of the file is closed, as on Linux.
/// When the key number is taken, the call uses `fd` itself.
pub fn epoll_ctl_keyed(
    epfd: RawFd,
    op: i32,
    fd: RawFd,
    guest_fd: u64,
    event: Option<(u32, u64)>,
) -> Result<(), Errno> {
    let _serial = KEY_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(key) = epoll_key(guest_fd) else {
        return epoll_ctl(epfd, op, fd, event);
    };
    // SAFETY: integers only; a descriptor it returns is ours to close.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, key) };
    if dup < 0 {
        return epoll_ctl(epfd, op, fd, event);
    }
    // SAFETY: a fresh descriptor this process owns alone.
    let dup = unsafe { OwnedFd::from_raw_fd(dup) };
    if dup.as_raw_fd() != key {
        return epoll_ctl(epfd, op, fd, event);
    }
    epoll_ctl(epfd, op, key, event)
}

/// `epoll_pwait2` on a host epoll with the mask `held` replaced for the wait; returns the
/// ready (events, data) pairs, at most `max`.
pub fn epoll_wait_unblocked(
    epfd: RawFd,
    max: usize,
    timeout: Option<Duration>,
    held: &BlockedSignals,
) -> Result<Vec<(u32, u64)>, Errno> {
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; max];
    let ts = timeout.map(timespec);
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let mask: *const libc::sigset_t = held.old_mask();
    // SAFETY: `events` holds `max` entries; `ts_ptr` is null or a live timespec; the mask is a
    // valid sigset of the kernel's size (8 bytes) at the start of libc's sigset_t.
    let n = check(unsafe {
        libc::syscall(
            libc::SYS_epoll_pwait2,
            epfd,
            events.as_mut_ptr(),
            max as libc::c_int,
            ts_ptr,
            mask,
            8usize,
        )
    } as isize)?;
    events.truncate(n as usize);
    Ok(events.iter().map(|e| (e.events, e.u64)).collect())
}

/// A host timerfd on clock `clock` (a Linux clock id), close-on-exec on the host.
pub fn timerfd_create(clock: i32, nonblock: bool) -> Result<OwnedFd, Errno> {
    let mut flags = libc::TFD_CLOEXEC;
    if nonblock {
        flags |= libc::TFD_NONBLOCK;
    }
    // SAFETY: integers only.
    let fd = check(unsafe { libc::timerfd_create(clock, flags) } as isize)?;
    // SAFETY: a fresh descriptor this process owns alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A timer's (interval, value) as (sec, nsec) pairs.
pub type TimerSpec = ((i64, i64), (i64, i64));

fn to_itimerspec(((isec, insec), (vsec, vnsec)): TimerSpec) -> libc::itimerspec {
    libc::itimerspec {
        it_interval: libc::timespec { tv_sec: isec, tv_nsec: insec },
        it_value: libc::timespec { tv_sec: vsec, tv_nsec: vnsec },
    }
}

fn from_itimerspec(t: &libc::itimerspec) -> TimerSpec {
    ((t.it_interval.tv_sec, t.it_interval.tv_nsec), (t.it_value.tv_sec, t.it_value.tv_nsec))
}

/// `timerfd_settime`; returns the old setting.
pub fn timerfd_settime(
    fd: RawFd,
    absolute: bool,
    cancel_on_set: bool,
    new: TimerSpec,
) -> Result<TimerSpec, Errno> {
    let mut flags = 0;
    if absolute {
        flags |= libc::TFD_TIMER_ABSTIME;
    }
    if cancel_on_set {
        flags |= libc::TFD_TIMER_CANCEL_ON_SET;
    }
    let new = to_itimerspec(new);
    let mut old = to_itimerspec(((0, 0), (0, 0)));
    // SAFETY: live input and output structs; the host checks the descriptor.
    check(unsafe { libc::timerfd_settime(fd, flags, &new, &mut old) } as isize)?;
    Ok(from_itimerspec(&old))
}

/// `timerfd_gettime`.
pub fn timerfd_gettime(fd: RawFd) -> Result<TimerSpec, Errno> {
    let mut cur = to_itimerspec(((0, 0), (0, 0)));
    // SAFETY: a live output struct; the host checks the descriptor.
    check(unsafe { libc::timerfd_gettime(fd, &mut cur) } as isize)?;
    Ok(from_itimerspec(&cur))
}

/// A host inotify instance, close-on-exec on the host.
pub fn inotify_init(nonblock: bool) -> Result<OwnedFd, Errno> {
    let mut flags = libc::IN_CLOEXEC;
    if nonblock {
        flags |= libc::IN_NONBLOCK;
    }
    // SAFETY: integers only.
    let fd = check(unsafe { libc::inotify_init1(flags) } as isize)?;
    // SAFETY: a fresh descriptor this process owns alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `inotify_add_watch` on a host inotify (the event bits are the same numbers on every Linux);
/// returns the watch descriptor.
pub fn inotify_add_watch(fd: RawFd, path: &std::ffi::CStr, mask: u32) -> Result<u64, Errno> {
    // SAFETY: a NUL-terminated path; the host checks the descriptor.
    check(unsafe { libc::inotify_add_watch(fd, path.as_ptr(), mask) } as isize)
}

/// `inotify_rm_watch` on a host inotify.
pub fn inotify_rm_watch(fd: RawFd, wd: i32) -> Result<(), Errno> {
    // SAFETY: integers only; the host checks both.
    check(unsafe { libc::inotify_rm_watch(fd, wd) } as isize)?;
    Ok(())
}
