//! POSIX message queues (ipc/mqueue.c): `mq_open`, `mq_unlink`, `mq_timedsend`,
//! `mq_timedreceive`, `mq_notify` and `mq_getsetattr`. A guest queue is a host queue of the
//! same name and its descriptor a host descriptor (`host::mqueue`), so queues are shared
//! between unrelated processes and across every fork strategy as on Linux. The handlers check
//! their arguments in Linux's order and move messages through the emulator's buffers.
//!
//! A `SIGEV_SIGNAL` notification is the host's signal to this emulator process, with
//! `SI_MESGQ`, the sender and the value, which the forwarder hands to the guest like any
//! signal from another process (`crate::signal::forward`). The signals the emulator keeps for
//! itself cannot be asked for. A C library's `SIGEV_THREAD` notification names a netlink
//! socket, which is translated to its host descriptor.

use elfvisor_abi::Errno;
use elfvisor_abi::fcntl::{O_ACCMODE, O_RDONLY, O_WRONLY};
use elfvisor_abi::mqueue::{MQ_PRIO_MAX, MqAttr, NOTIFY_COOKIE_LEN};
use elfvisor_abi::time::{SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, Sigevent, Timespec};

use super::ctx::{Ctx, SysResult};
use crate::host;
use crate::host::mqueue::{self as hq, MqNotify};

/// The optional absolute deadline argument, read and checked first as Linux does.
fn deadline(ctx: &Ctx<'_>, addr: u64) -> Result<Option<Timespec>, Errno> {
    if addr == 0 { Ok(None) } else { super::sys_time::read_timespec(ctx, addr).map(Some) }
}

/// The queue's access mode (its descriptor's `O_ACCMODE`).
fn access(fd: i32) -> Result<u32, Errno> {
    Ok(host::fcntl_int(fd, libc::F_GETFL, 0)? as u32 & O_ACCMODE)
}

pub fn mq_open(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let attr = if a[3] != 0 { Some(ctx.read_obj::<MqAttr>(a[3])?) } else { None };
    let name = ctx.string(a[0])?;
    if !ctx.proc.fds().has_free() {
        return Err(Errno::EMFILE);
    }
    let oflag = a[1] as u32;
    let fd = hq::mq_open(&name, host::open_flags_to_host(oflag), a[2] as u32, attr.as_ref())?;
    // A queue descriptor is always close-on-exec, whatever the flags say (do_mq_open:
    // get_unused_fd_flags(O_CLOEXEC)); fcntl(F_SETFD) may clear it afterwards.
    Ok(ctx.proc.fds().install_host(fd, true)? as u64)
}

pub fn mq_unlink(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let name = ctx.string(a[0])?;
    hq::mq_unlink(&name)
}

/// `mq_timedsend` (do_mq_timedsend): deadline, priority, descriptor and its mode, size, then
/// the message is read whole.
pub fn mq_timedsend(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (msg_at, len, prio) = (a[1], a[2] as usize, a[3]);
    let deadline = deadline(ctx, a[4])?;
    if prio >= u64::from(MQ_PRIO_MAX) {
        return Err(Errno::EINVAL);
    }
    let fd = ctx.fd(a[0])?;
    let attr = hq::mq_getsetattr(fd, None)?;
    if access(fd)? == O_RDONLY {
        return Err(Errno::EBADF);
    }
    if len as i64 > attr.msgsize {
        return Err(Errno::EMSGSIZE);
    }
    let mut msg = vec![0u8; len];
    ctx.proc.mm.read().copy_in(elfvisor_abi::GuestAddr(msg_at), &mut msg)?;
    hq::mq_timedsend(fd, &msg, prio as u32, deadline)
}

/// `mq_timedreceive` (do_mq_timedreceive): deadline, descriptor and its mode, then a buffer
/// shorter than the queue's message size is EMSGSIZE. The message leaves the queue before it
/// is copied out, so an unwritable buffer loses it with EFAULT, as on Linux.
pub fn mq_timedreceive(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (msg_at, len, prio_at) = (a[1], a[2] as usize, a[3]);
    let deadline = deadline(ctx, a[4])?;
    let fd = ctx.fd(a[0])?;
    let attr = hq::mq_getsetattr(fd, None)?;
    if access(fd)? == O_WRONLY {
        return Err(Errno::EBADF);
    }
    if (len as i64) < attr.msgsize {
        return Err(Errno::EMSGSIZE);
    }
    let mut buf = vec![0u8; attr.msgsize.max(0) as usize];
    let (n, prio) = hq::mq_timedreceive(fd, &mut buf, deadline)?;
    ctx.copy_out(msg_at, &buf[..n])?;
    if prio_at != 0 {
        ctx.write_obj(prio_at, &prio)?;
    }
    Ok(n as u64)
}

/// `mq_notify` (do_mq_notify): the sigevent is read first; only SIGEV_NONE, SIGEV_SIGNAL
/// with a valid signal and SIGEV_THREAD are notifications.
pub fn mq_notify(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[1] == 0 {
        let fd = ctx.fd(a[0])?;
        return hq::mq_notify(fd, MqNotify::Remove);
    }
    let ev: Sigevent = ctx.read_obj(a[1])?;
    match ev.notify {
        SIGEV_NONE => {
            let fd = ctx.fd(a[0])?;
            hq::mq_notify(fd, MqNotify::Nothing)
        }
        SIGEV_SIGNAL => {
            if !(0..=64).contains(&ev.signo) {
                return Err(Errno::EINVAL);
            }
            let fd = ctx.fd(a[0])?;
            if ev.signo != 0 && !crate::signal::forward::forwarded(ev.signo) {
                return Err(Errno::EINVAL);
            }
            hq::mq_notify(fd, MqNotify::Signal { signo: ev.signo, value: ev.value })
        }
        SIGEV_THREAD => {
            let mut cookie = [0u8; NOTIFY_COOKIE_LEN];
            ctx.proc.mm.read().copy_in(elfvisor_abi::GuestAddr(ev.value), &mut cookie)?;
            let sock = ctx.fd(ev.signo as u32 as u64)?;
            let fd = ctx.fd(a[0])?;
            hq::mq_notify(fd, MqNotify::Netlink { sock, cookie: &cookie })
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `mq_getsetattr`: the new attributes are read first; only O_NONBLOCK may be set in them.
pub fn mq_getsetattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let new = if a[1] != 0 { Some(ctx.read_obj::<MqAttr>(a[1])?) } else { None };
    if let Some(new) = &new {
        if new.flags as u32 & !elfvisor_abi::fcntl::O_NONBLOCK != 0 {
            return Err(Errno::EINVAL);
        }
    }
    let fd = ctx.fd(a[0])?;
    let host_new = new.map(|n| MqAttr {
        flags: i64::from(host::open_flags_to_host(n.flags as u32) & libc::O_NONBLOCK),
        ..n
    });
    let mut old = hq::mq_getsetattr(fd, host_new.as_ref())?;
    old.flags =
        i64::from(host::open_flags_from_host(old.flags as i32) & elfvisor_abi::fcntl::O_NONBLOCK);
    if a[2] != 0 {
        ctx.write_obj(a[2], &old)?;
    }
    Ok(0)
}
