//! Host POSIX message queues behind the guest's (`crate::syscalls::sys_mqueue`). A guest queue
//! is a host queue of the same name, so it is shared with every other process on the host and
//! survives its creator, as on Linux; the descriptors are host descriptors. Messages pass
//! through the emulator's own buffers, sized by the queue's `mq_msgsize`.

use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use elfvisor_abi::Errno;
use elfvisor_abi::mqueue::MqAttr;
use elfvisor_abi::time::Timespec;

use super::check;

fn host_attr(a: &MqAttr) -> libc::mq_attr {
    // SAFETY: mq_attr is plain integers; zeroed is a valid value.
    let mut h: libc::mq_attr = unsafe { std::mem::zeroed() };
    h.mq_flags = a.flags;
    h.mq_maxmsg = a.maxmsg;
    h.mq_msgsize = a.msgsize;
    h.mq_curmsgs = a.curmsgs;
    h
}

fn guest_attr(h: &libc::mq_attr) -> MqAttr {
    MqAttr { flags: h.mq_flags, maxmsg: h.mq_maxmsg, msgsize: h.mq_msgsize, curmsgs: h.mq_curmsgs }
}

fn timespec_ptr(t: &Option<libc::timespec>) -> *const libc::timespec {
    t.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec)
}

fn host_ts(t: Option<Timespec>) -> Option<libc::timespec> {
    t.map(|t| libc::timespec { tv_sec: t.sec, tv_nsec: t.nsec })
}

/// `mq_open` of `name` (without the leading slash, as the system call takes it) with host
/// open flags; `attr` only matters with O_CREAT.
pub fn mq_open(
    name: &CStr,
    oflag: i32,
    mode: u32,
    attr: Option<&MqAttr>,
) -> Result<OwnedFd, Errno> {
    let h = attr.map(host_attr);
    let p = h.as_ref().map_or(std::ptr::null(), |h| h as *const libc::mq_attr);
    // SAFETY: a NUL-terminated name and a live attribute struct or null.
    let fd =
        check(unsafe { libc::syscall(libc::SYS_mq_open, name.as_ptr(), oflag, mode, p) } as isize)?;
    // SAFETY: the call returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub fn mq_unlink(name: &CStr) -> Result<u64, Errno> {
    // SAFETY: a NUL-terminated name.
    check(unsafe { libc::syscall(libc::SYS_mq_unlink, name.as_ptr()) } as isize)
}

/// `mq_timedsend` of `msg` (an absolute CLOCK_REALTIME deadline, or none: wait as long as it
/// takes).
pub fn mq_timedsend(
    fd: RawFd,
    msg: &[u8],
    prio: u32,
    deadline: Option<Timespec>,
) -> Result<u64, Errno> {
    let t = host_ts(deadline);
    // SAFETY: a live message buffer of its length and a timespec or null.
    check(unsafe {
        libc::syscall(libc::SYS_mq_timedsend, fd, msg.as_ptr(), msg.len(), prio, timespec_ptr(&t))
    } as isize)
}

/// `mq_timedreceive` into `buf`: the message's length and priority.
pub fn mq_timedreceive(
    fd: RawFd,
    buf: &mut [u8],
    deadline: Option<Timespec>,
) -> Result<(usize, u32), Errno> {
    let t = host_ts(deadline);
    let mut prio: libc::c_uint = 0;
    // SAFETY: a live buffer of its length, a priority to fill and a timespec or null.
    let n = check(unsafe {
        libc::syscall(
            libc::SYS_mq_timedreceive,
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            &raw mut prio,
            timespec_ptr(&t),
        )
    } as isize)?;
    Ok((n as usize, prio))
}

/// A notification request as the host kernel takes it.
pub enum MqNotify<'a> {
    /// Remove this process's registration.
    Remove,
    /// Register, notifying nobody.
    Nothing,
    /// Register: `signo` with `value` to this process (`SI_MESGQ`).
    Signal { signo: i32, value: u64 },
    /// Register: the cookie to the netlink socket `sock` (a C library's thread notification).
    Netlink { sock: RawFd, cookie: &'a [u8] },
}

/// `mq_notify` (the kernel's `struct sigevent`: value, signal, notify kind).
pub fn mq_notify(fd: RawFd, how: MqNotify<'_>) -> Result<u64, Errno> {
    #[repr(C)]
    struct HostSigevent {
        value: u64,
        signo: i32,
        notify: i32,
        pad: [i32; 12],
    }
    let ev = match how {
        MqNotify::Remove => None,
        MqNotify::Nothing => {
            Some(HostSigevent { value: 0, signo: 0, notify: libc::SIGEV_NONE, pad: [0; 12] })
        }
        MqNotify::Signal { signo, value } => {
            Some(HostSigevent { value, signo, notify: libc::SIGEV_SIGNAL, pad: [0; 12] })
        }
        MqNotify::Netlink { sock, cookie } => Some(HostSigevent {
            value: cookie.as_ptr() as u64,
            signo: sock,
            notify: libc::SIGEV_THREAD,
            pad: [0; 12],
        }),
    };
    let p = ev.as_ref().map_or(std::ptr::null(), |e| e as *const HostSigevent);
    // SAFETY: a live sigevent or null; a netlink cookie is a live buffer of its length.
    check(unsafe { libc::syscall(libc::SYS_mq_notify, fd, p) } as isize)
}

/// `mq_getsetattr`: sets the flags from `new` (only O_NONBLOCK counts), answers the old
/// attributes.
pub fn mq_getsetattr(fd: RawFd, new: Option<&MqAttr>) -> Result<MqAttr, Errno> {
    let h = new.map(host_attr);
    let p = h.as_ref().map_or(std::ptr::null(), |h| h as *const libc::mq_attr);
    // SAFETY: mq_attr is plain integers.
    let mut old: libc::mq_attr = unsafe { std::mem::zeroed() };
    // SAFETY: a live input attribute struct or null, and a live output one.
    check(unsafe { libc::syscall(libc::SYS_mq_getsetattr, fd, p, &raw mut old) } as isize)?;
    Ok(guest_attr(&old))
}
