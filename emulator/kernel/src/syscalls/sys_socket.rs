//! Sockets (`AF_UNIX`, `AF_INET`, `AF_INET6`, `AF_NETLINK` with `NETLINK_ROUTE`) and the
//! in-kernel copies (`sendfile`, `splice`, `tee`, `vmsplice`, `copy_file_range`). Each guest
//! socket is a host socket of the same family behind the guest descriptor, so readiness, fork
//! (host, and respawn, whose descriptor transfer is `SCM_RIGHTS`) and close behave as Linux's.
//! Addresses, `MSG_*` flags, control messages and options are translated explicitly;
//! `SCM_RIGHTS` carries guest descriptors both ways. Arguments are checked in Linux's order
//! (`net/socket.c`: the descriptor first, then the address or header).

use std::time::{Duration, Instant};

use elfvisor_abi::socket::{
    self as g, Cmsghdr, Linger, Msghdr, SockaddrIn, SockaddrIn6, SockaddrNl, Ucred,
};
use elfvisor_abi::time::{Timespec, Timeval};
use elfvisor_abi::uio::UIO_MAXIOV;
use elfvisor_abi::{Errno, GuestAddr, GuestObj, Prot};

use super::ctx::{Ctx, SysResult};
use super::sys_fs::{broken_pipe, iovecs};
use crate::fdtable::FdEntry;
use crate::host;
use crate::host::socket::{Cmsg, OptValue, SockAddr};
use crate::sysroot::Follow;

/// The largest control buffer a send copies in (Linux's `sock_kmalloc` bound, `optmem_max`,
/// is of this order): more is `ENOBUFS`.
const CONTROL_MAX: u64 = 128 * 1024;

/// The most control bytes a receive asks the host for: more than any message can carry
/// (`SCM_MAX_FD` descriptors and credentials), so a larger guest buffer truncates nothing.
const CONTROL_ROOM_MAX: usize = 64 * 1024;

/// Runs `body` on the host descriptor of a guest socket argument. Linux looks the socket up
/// first (`sockfd_lookup`: `EBADF`, then `ENOTSOCK`) and reads the other arguments after; the
/// host call itself refuses a descriptor that is no socket, so whether it is one is asked of
/// the host only when the call fails (an `EFAULT` or `EINVAL` from an argument read before the
/// host call must give way to `ENOTSOCK`; a wait's `EINTR`, `EAGAIN` or `EINPROGRESS` come from
/// sockets only), which keeps the common path at one host call.
fn on_socket(
    ctx: &mut Ctx<'_>,
    arg: u64,
    body: impl FnOnce(&mut Ctx<'_>, i32) -> SysResult,
) -> SysResult {
    let fd = ctx.fd(arg)?;
    match body(ctx, fd) {
        Err(e) if !matches!(e, Errno::EINTR | Errno::EAGAIN | Errno::EINPROGRESS) => {
            host::socket::require_socket(fd)?;
            Err(e)
        }
        result => result,
    }
}

/// A wait a signal interrupted (`EINTR` from the host) on a socket whose `SO_RCVTIMEO`
/// (`receive`) or `SO_SNDTIMEO` is set ends with `EINTR`, never restarted: `sock_intr_errno`
/// (include/net/sock.h) gives -ERESTARTSYS only to an unlimited wait.
fn timed_wait<T>(
    ctx: &mut Ctx<'_>,
    fd: i32,
    receive: bool,
    result: Result<T, Errno>,
) -> Result<T, Errno> {
    if matches!(result, Err(Errno::EINTR)) && host::socket::has_timeout(fd, receive) {
        ctx.no_restart = true;
    }
    result
}

/// Reads a guest address of `len` bytes (`move_addr_to_kernel`: `EINVAL` past
/// `sockaddr_storage`, `EFAULT`) and decodes it by its family. An `AF_UNIX` path name goes
/// through the sysroot (`follow`: `Last` for connect and send, `NotLast` for bind, which
/// creates it).
fn read_addr(ctx: &Ctx<'_>, addr: u64, len: u64, follow: Follow) -> Result<SockAddr, Errno> {
    let len = len as i32;
    if len < 0 || len as usize > g::SOCKADDR_STORAGE_SIZE {
        return Err(Errno::EINVAL);
    }
    let mut bytes = vec![0u8; len as usize];
    ctx.proc.mm.read().copy_in(GuestAddr(addr), &mut bytes)?;
    if bytes.len() < 2 {
        return Err(Errno::EINVAL);
    }
    let family = u16::from_le_bytes([bytes[0], bytes[1]]);
    // Each family's own minimum (`unix_validate_addr`, `inet_bind`, `inet6_bind`'s
    // SIN6_LEN_RFC2133, `netlink_bind`); the rest of a short structure reads as zero.
    let padded = |size: usize| {
        let mut full = bytes.clone();
        full.resize(size.max(full.len()), 0);
        full
    };
    Ok(match family {
        g::AF_UNSPEC => SockAddr::Unspec,
        g::AF_UNIX => {
            if bytes.len() > g::SUN_PATH_OFFSET + g::UNIX_PATH_MAX {
                return Err(Errno::EINVAL);
            }
            let path = &bytes[g::SUN_PATH_OFFSET..];
            if path.is_empty() || path[0] == 0 {
                SockAddr::Unix(path.to_vec())
            } else {
                // A path name ends at its first NUL (`unix_mkname_bsd`).
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                SockAddr::Unix(crate::sysroot::host_path(&path[..end], follow)?)
            }
        }
        g::AF_INET => {
            if bytes.len() < SockaddrIn::SIZE {
                return Err(Errno::EINVAL);
            }
            let sin = SockaddrIn::decode(&bytes);
            SockAddr::Inet { port_be: sin.port_be, addr: sin.addr }
        }
        g::AF_INET6 => {
            if bytes.len() < 24 {
                return Err(Errno::EINVAL);
            }
            let sin6 = SockaddrIn6::decode(&padded(SockaddrIn6::SIZE));
            SockAddr::Inet6 {
                port_be: sin6.port_be,
                flowinfo_be: sin6.flowinfo_be,
                addr: sin6.addr,
                scope_id: sin6.scope_id,
            }
        }
        g::AF_NETLINK => {
            if bytes.len() < SockaddrNl::SIZE {
                return Err(Errno::EINVAL);
            }
            let nl = SockaddrNl::decode(&bytes);
            SockAddr::Netlink { pid: nl.pid, groups: nl.groups }
        }
        other => SockAddr::Other(other),
    })
}

/// The guest's bytes for an address (the length that counts is the vector's).
fn encode_addr(addr: &SockAddr) -> Vec<u8> {
    match addr {
        SockAddr::Unspec => g::AF_UNSPEC.to_le_bytes().to_vec(),
        SockAddr::Unix(path) => {
            let mut out = g::AF_UNIX.to_le_bytes().to_vec();
            if path.first() == Some(&0) || path.is_empty() {
                out.extend_from_slice(path);
            } else {
                // A path inside the sysroot is named as the guest named it; `unix_getname`
                // counts the NUL.
                use std::os::unix::ffi::{OsStrExt, OsStringExt};
                let host = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
                let guest = crate::sysroot::guest_name(host).into_os_string().into_vec();
                out.extend_from_slice(&guest[..guest.len().min(g::UNIX_PATH_MAX - 1)]);
                out.push(0);
            }
            out
        }
        SockAddr::Inet { port_be, addr } => {
            SockaddrIn { family: g::AF_INET, port_be: *port_be, addr: *addr }.to_guest_bytes()
        }
        SockAddr::Inet6 { port_be, flowinfo_be, addr, scope_id } => SockaddrIn6 {
            family: g::AF_INET6,
            port_be: *port_be,
            flowinfo_be: *flowinfo_be,
            addr: *addr,
            scope_id: *scope_id,
        }
        .to_guest_bytes(),
        SockAddr::Netlink { pid, groups } => {
            SockaddrNl { family: g::AF_NETLINK, pid: *pid, groups: *groups }.to_guest_bytes()
        }
        SockAddr::Other(family) => family.to_le_bytes().to_vec(),
    }
}

/// `move_addr_to_user`: `*len_ptr` is read (EFAULT; negative is EINVAL), at most that many bytes
/// of the address are written, and the address's full length is stored back.
fn write_addr(
    ctx: &Ctx<'_>,
    addr: u64,
    len_ptr: u64,
    value: Option<&SockAddr>,
) -> Result<(), Errno> {
    let room: i32 = ctx.read_obj(len_ptr)?;
    let bytes = value.map(encode_addr).unwrap_or_default();
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let n = bytes.len().min(room as usize);
    if n > 0 {
        ctx.copy_out(addr, &bytes[..n])?;
    }
    ctx.write_obj(len_ptr, &(bytes.len() as u32))
}

/// The type argument of `socket`/`socketpair`: (type, nonblock, cloexec); unknown flag bits are
/// `EINVAL` (`__sys_socket_create`).
fn type_and_flags(arg: u64) -> Result<(u32, bool, bool), Errno> {
    let arg = arg as u32;
    let flags = arg & !g::SOCK_TYPE_MASK;
    if flags & !(g::SOCK_NONBLOCK | g::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((arg & g::SOCK_TYPE_MASK, flags & g::SOCK_NONBLOCK != 0, flags & g::SOCK_CLOEXEC != 0))
}

/// The families served; `NETLINK_ROUTE` is the only netlink protocol (its messages are the same
/// bytes on both sides: fixed-width fields in the host's byte order, which is the guest's).
fn check_family(family: u64, protocol: u64) -> Result<u16, Errno> {
    let family = family as u32;
    if family >= g::AF_MAX {
        return Err(Errno::EAFNOSUPPORT);
    }
    match family as u16 {
        g::AF_UNIX | g::AF_INET | g::AF_INET6 => Ok(family as u16),
        g::AF_NETLINK if protocol as u32 == g::NETLINK_ROUTE => Ok(g::AF_NETLINK),
        g::AF_NETLINK => Err(Errno::EPROTONOSUPPORT),
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

pub fn socket(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (kind, nonblock, cloexec) = type_and_flags(a[1])?;
    let family = check_family(a[0], a[2])?;
    let fd = host::socket::socket(family, kind, a[2] as i32, nonblock)?;
    Ok(ctx.proc.fds().install_host(fd, cloexec)? as u64)
}

/// `socketpair(family, type, protocol, sv)`: both descriptors are written at once; a fault
/// there closes them again (`__sys_socketpair`).
pub fn socketpair(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (kind, nonblock, cloexec) = type_and_flags(a[1])?;
    let family = check_family(a[0], a[2])?;
    let (x, y) = host::socket::socketpair(family, kind, a[2] as i32, nonblock)?;
    let mut fds = ctx.proc.fds();
    let first = fds.install_host(x, cloexec)?;
    let second = match fds.install_host(y, cloexec) {
        Ok(n) => n,
        Err(e) => {
            let _ = fds.close(first as i64);
            return Err(e);
        }
    };
    drop(fds);
    if let Err(e) = ctx.write_obj(a[3], &[first as i32, second as i32]) {
        let mut fds = ctx.proc.fds();
        let _ = fds.close(first as i64);
        let _ = fds.close(second as i64);
        return Err(e);
    }
    Ok(0)
}

pub fn bind(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let addr = read_addr(ctx, a[1], a[2], Follow::NotLast)?;
        host::socket::bind(fd, &addr)
    })
}

/// `connect`: a blocking connect interrupted by a signal restarts as `-ERESTARTSYS` does
/// (`inet_stream_connect` → `sock_intr_errno`), which the row's restart column says.
pub fn connect(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let addr = read_addr(ctx, a[1], a[2], Follow::Last)?;
        // `inet_stream_connect` and `unix_stream_connect` wait under `sock_sndtimeo`.
        let result = host::socket::connect(fd, &addr);
        timed_wait(ctx, fd, false, result)
    })
}

pub fn listen(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |_, fd| host::socket::listen(fd, a[1] as i32))
}

fn accept_with(ctx: &mut Ctx<'_>, a: &[u64; 6], flags: u32) -> SysResult {
    if flags & !(g::SOCK_NONBLOCK | g::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    on_socket(ctx, a[0], |ctx, fd| {
        // `inet_csk_accept` and `unix_accept` wait under `sock_rcvtimeo`.
        let accepted = host::socket::accept(fd, flags & g::SOCK_NONBLOCK != 0);
        let (new, peer) = timed_wait(ctx, fd, true, accepted)?;
        let guest = ctx.proc.fds().install_host(new, flags & g::SOCK_CLOEXEC != 0)?;
        // The address is written after the connection is taken; a fault there drops it
        // (`__sys_accept4_file`).
        if a[1] != 0 {
            if let Err(e) = write_addr(ctx, a[1], a[2], Some(&peer)) {
                let _ = ctx.proc.fds().close(guest as i64);
                return Err(e);
            }
        }
        Ok(guest as u64)
    })
}

pub fn accept(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    accept_with(ctx, a, 0)
}

pub fn accept4(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    accept_with(ctx, a, a[3] as u32)
}

fn name(ctx: &mut Ctx<'_>, a: &[u64; 6], peer: bool) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let addr = host::socket::name(fd, peer)?;
        write_addr(ctx, a[1], a[2], Some(&addr))?;
        Ok(0)
    })
}

pub fn getsockname(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    name(ctx, a, false)
}

pub fn getpeername(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    name(ctx, a, true)
}

/// A send that broke a connection raises the guest's SIGPIPE unless `MSG_NOSIGNAL` says not
/// (`sk_stream_error`, `unix_stream_sendmsg`): the host is always asked with `MSG_NOSIGNAL`.
fn sent(ctx: &mut Ctx<'_>, fd: i32, flags: u32, result: SysResult) -> SysResult {
    let result = timed_wait(ctx, fd, false, result);
    if flags & g::MSG_NOSIGNAL != 0 { result } else { broken_pipe(ctx, result) }
}

/// `sendto(fd, buf, len, flags, addr, addrlen)`: a null address sends without one.
pub fn sendto(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let len = a[2].min(i32::MAX as u64) as usize;
        let buf = ctx.buffer(a[1], len, Prot::READ)?;
        let to = if a[4] != 0 { Some(read_addr(ctx, a[4], a[5], Follow::Last)?) } else { None };
        let flags = a[3] as u32;
        let iov = [host::iovec(buf)];
        let result = host::socket::sendmsg(
            fd,
            to.as_ref(),
            &iov[..usize::from(len > 0)],
            &[],
            host::socket::msg_flags_to_host(flags),
        );
        sent(ctx, fd, flags, result)
    })
}

/// `recvfrom(fd, buf, len, flags, addr, addrlen)`: the sender's address is written when asked
/// for (length 0 from a connected stream).
pub fn recvfrom(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let len = a[2].min(i32::MAX as u64) as usize;
        let buf = ctx.buffer(a[1], len, Prot::WRITE)?;
        let iov = [host::iovec(buf)];
        let got = host::socket::recvmsg(
            fd,
            &iov[..usize::from(len > 0)],
            a[4] != 0,
            0,
            host::socket::msg_flags_to_host(a[3] as u32 & !g::MSG_CMSG_CLOEXEC),
        );
        let got = timed_wait(ctx, fd, true, got)?;
        if a[4] != 0 {
            write_addr(ctx, a[4], a[5], got.from.as_ref())?;
        }
        Ok(got.len)
    })
}

/// A guest `msghdr` as a send or receive uses it (`__copy_msghdr`): `msg_namelen` clamped to
/// `sockaddr_storage`, ignored with a null name; more than `UIO_MAXIOV` iovecs is `EMSGSIZE`.
fn read_msghdr(ctx: &Ctx<'_>, addr: u64) -> Result<Msghdr, Errno> {
    let mut hdr: Msghdr = ctx.read_obj(addr)?;
    if hdr.name == 0 {
        hdr.namelen = 0;
    }
    if (hdr.namelen as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    hdr.namelen = hdr.namelen.min(g::SOCKADDR_STORAGE_SIZE as u32);
    if hdr.iovlen > UIO_MAXIOV as u64 {
        return Err(Errno::EMSGSIZE);
    }
    Ok(hdr)
}

/// The control messages of a send, in host terms (`__scm_send`): a buffer shorter than a
/// header holds none; a header that claims more than is left is `EINVAL`; other levels are
/// left to the protocol (none of the families served uses one on send); at `SOL_SOCKET`,
/// `SCM_RIGHTS` (at most `SCM_MAX_FD` guest descriptors, each `EBADF` if not open) and
/// `SCM_CREDENTIALS` (exactly one `struct ucred`), anything else `EINVAL`.
fn send_cmsgs(ctx: &Ctx<'_>, hdr: &Msghdr) -> Result<Vec<Cmsg>, Errno> {
    if hdr.controllen > i32::MAX as u64 {
        return Err(Errno::ENOBUFS);
    }
    if hdr.controllen < Cmsghdr::SIZE as u64 {
        return Ok(Vec::new());
    }
    if hdr.controllen > CONTROL_MAX {
        return Err(Errno::ENOBUFS);
    }
    let mut control = vec![0u8; hdr.controllen as usize];
    ctx.proc.mm.read().copy_in(GuestAddr(hdr.control), &mut control)?;
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + Cmsghdr::SIZE <= control.len() {
        let c = Cmsghdr::decode(&control[at..]);
        if c.len < Cmsghdr::SIZE as u64 || c.len > (control.len() - at) as u64 {
            return Err(Errno::EINVAL);
        }
        let data = &control[at + Cmsghdr::SIZE..at + c.len as usize];
        if c.level == g::SOL_SOCKET {
            match c.kind {
                g::SCM_RIGHTS => {
                    let n = data.len() / 4;
                    if n > g::SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    if n > 0 {
                        let fds = ctx.proc.fds();
                        let host = (0..n)
                            .map(|i| {
                                let fd =
                                    i32::from_le_bytes(data[i * 4..i * 4 + 4].try_into().unwrap());
                                fds.get(i64::from(fd)).map(|e| e.file.clone())
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        out.push(Cmsg::Rights(host));
                    }
                }
                g::SCM_CREDENTIALS => {
                    if data.len() != Ucred::SIZE {
                        return Err(Errno::EINVAL);
                    }
                    let cred = Ucred::decode(data);
                    // Guest pids are host pids; the host checks them as Linux's `scm_check_creds`.
                    out.push(Cmsg::Credentials(cred.pid, cred.uid, cred.gid));
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        at += g::cmsg_align(c.len as usize);
    }
    Ok(out)
}

/// One `sendmsg` from a decoded header.
fn send_one(ctx: &mut Ctx<'_>, fd: i32, hdr: &Msghdr, flags: u32) -> SysResult {
    let to = if hdr.namelen > 0 {
        Some(read_addr(ctx, hdr.name, u64::from(hdr.namelen), Follow::Last)?)
    } else {
        None
    };
    let iov = iovecs(ctx, hdr.iov, hdr.iovlen, Prot::READ)?;
    let cmsgs = send_cmsgs(ctx, hdr)?;
    let result = host::socket::sendmsg(
        fd,
        to.as_ref(),
        &iov,
        &cmsgs,
        host::socket::msg_flags_to_host(flags),
    );
    sent(ctx, fd, flags, result)
}

pub fn sendmsg(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let hdr = read_msghdr(ctx, a[1])?;
        send_one(ctx, fd, &hdr, a[2] as u32)
    })
}

/// The received control messages in guest terms, written to the guest's control buffer as
/// `put_cmsg` and `scm_detach_fds` do: received descriptors enter the guest's table (with
/// `MSG_CMSG_CLOEXEC` as close-on-exec) until it is full, the rest are closed and the message
/// says `MSG_CTRUNC`; each message takes `CMSG_SPACE` of the room, the last one what is left.
/// Returns the control length used and the flags to add.
fn recv_cmsgs(
    ctx: &mut Ctx<'_>,
    hdr: &Msghdr,
    cmsgs: Vec<Cmsg>,
    cloexec: bool,
) -> Result<(u64, u32), Errno> {
    let mut out = Vec::new();
    let mut extra = 0;
    for c in cmsgs {
        let (kind, data) = match c {
            Cmsg::ReceivedRights(host_fds) => {
                let count = host_fds.len();
                let mut guest = Vec::new();
                {
                    let mut fds = ctx.proc.fds();
                    for file in host_fds {
                        match fds.install(FdEntry { file: std::sync::Arc::new(file), cloexec }, 0) {
                            Ok(n) => guest.push(n as i32),
                            Err(_) => break,
                        }
                    }
                }
                if guest.len() < count {
                    extra |= g::MSG_CTRUNC;
                }
                if guest.is_empty() {
                    continue;
                }
                (g::SCM_RIGHTS, guest.iter().flat_map(|fd| fd.to_le_bytes()).collect::<Vec<u8>>())
            }
            Cmsg::Credentials(pid, uid, gid) => {
                (g::SCM_CREDENTIALS, Ucred { pid, uid, gid }.to_guest_bytes())
            }
            Cmsg::Rights(_) => continue,
        };
        let len = Cmsghdr::SIZE + data.len();
        let start = out.len();
        out.resize(start + g::cmsg_align(len), 0);
        Cmsghdr { len: len as u64, level: g::SOL_SOCKET, kind }.encode(&mut out[start..]);
        out[start + Cmsghdr::SIZE..start + len].copy_from_slice(&data);
    }
    let used = out.len().min(hdr.controllen as usize);
    if used > 0 {
        ctx.copy_out(hdr.control, &out[..used])?;
    }
    Ok((used as u64, extra))
}

/// One `recvmsg` into a decoded header at guest address `at`: the name, `msg_namelen`,
/// `msg_controllen` and `msg_flags` are written back.
fn recv_one(ctx: &mut Ctx<'_>, fd: i32, at: u64, hdr: &Msghdr, flags: u32) -> SysResult {
    let iov = iovecs(ctx, hdr.iov, hdr.iovlen, Prot::WRITE)?;
    let room = (hdr.controllen.min(i32::MAX as u64) as usize).min(CONTROL_ROOM_MAX);
    let host_flags = host::socket::msg_flags_to_host(flags & !g::MSG_CMSG_CLOEXEC);
    let got = host::socket::recvmsg(fd, &iov, hdr.name != 0, room, host_flags);
    let got = timed_wait(ctx, fd, true, got)?;
    let (used, extra) = recv_cmsgs(ctx, hdr, got.cmsgs, flags & g::MSG_CMSG_CLOEXEC != 0)?;
    if hdr.name != 0 {
        let bytes = got.from.as_ref().map(encode_addr).unwrap_or_default();
        let n = bytes.len().min(hdr.namelen as usize);
        if n > 0 {
            ctx.copy_out(hdr.name, &bytes[..n])?;
        }
        ctx.write_obj(at + g::MSGHDR_NAMELEN_OFFSET, &(bytes.len() as u32))?;
    } else {
        ctx.write_obj(at + g::MSGHDR_NAMELEN_OFFSET, &0u32)?;
    }
    let out_flags = host::socket::msg_flags_from_host(got.flags) | extra;
    ctx.write_obj(at + g::MSGHDR_FLAGS_OFFSET, &out_flags)?;
    ctx.write_obj(at + g::MSGHDR_CONTROLLEN_OFFSET, &used)?;
    Ok(got.len)
}

pub fn recvmsg(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let hdr = read_msghdr(ctx, a[1])?;
        recv_one(ctx, fd, a[1], &hdr, a[2] as u32)
    })
}

/// `sendmmsg(fd, msgvec, vlen, flags)`: at most `UIO_MAXIOV` messages; each count is written to
/// its `msg_len`; an error after the first message ends the call with the count so far.
pub fn sendmmsg(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let vlen = (a[2] as u32 as usize).min(g::MMSG_MAX);
        let flags = a[3] as u32;
        for i in 0..vlen {
            let at = a[1].wrapping_add(i as u64 * g::Mmsghdr::SIZE as u64);
            let step = read_msghdr(ctx, at).and_then(|hdr| send_one(ctx, fd, &hdr, flags));
            match step
                .and_then(|n| ctx.write_obj(at + g::MMSGHDR_LEN_OFFSET, &(n as u32)).map(|_| n))
            {
                Ok(_) => {}
                Err(e) if i == 0 => return Err(e),
                Err(_) => return Ok(i as u64),
            }
        }
        Ok(vlen as u64)
    })
}

/// `recvmmsg(fd, msgvec, vlen, flags, timeout)`: as `do_recvmmsg`: `MSG_WAITFORONE` makes every
/// receive after the first non-blocking; the timeout is looked at after each message. As
/// `__sys_recvmmsg` and `do_recvmmsg` (net/socket.c), the timeout is read (`EFAULT`) and
/// checked (`EINVAL`) before the descriptor is looked up, and the time left is written back
/// only when a message was received.
pub fn recvmmsg(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let timeout = if a[4] != 0 {
        let ts: Timespec = ctx.read_obj(a[4])?;
        if ts.sec < 0 || !(0..1_000_000_000).contains(&ts.nsec) {
            return Err(Errno::EINVAL);
        }
        Some(Duration::new(ts.sec as u64, ts.nsec as u32))
    } else {
        None
    };
    on_socket(ctx, a[0], |ctx, fd| {
        let start = Instant::now();
        let vlen = (a[2] as u32 as usize).min(g::MMSG_MAX);
        let mut flags = a[3] as u32;
        let mut done = 0;
        while done < vlen {
            let at = a[1].wrapping_add(done as u64 * g::Mmsghdr::SIZE as u64);
            let step = read_msghdr(ctx, at).and_then(|hdr| recv_one(ctx, fd, at, &hdr, flags));
            match step
                .and_then(|n| ctx.write_obj(at + g::MMSGHDR_LEN_OFFSET, &(n as u32)).map(|_| n))
            {
                Ok(_) => done += 1,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
            if flags & g::MSG_WAITFORONE != 0 {
                flags |= g::MSG_DONTWAIT;
            }
            if timeout.is_some_and(|t| start.elapsed() >= t) {
                break;
            }
        }
        if let Some(t) = timeout.filter(|_| done > 0) {
            let left = t.saturating_sub(start.elapsed());
            let ts = Timespec { sec: left.as_secs() as i64, nsec: i64::from(left.subsec_nanos()) };
            ctx.write_obj(a[4], &ts)?;
        }
        Ok(done as u64)
    })
}

pub fn shutdown(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |_, fd| host::socket::shutdown(fd, a[1] as u32))
}

/// An option the emulator does not translate: `ENOPROTOOPT`, reported once per process.
/// A descriptor that is no socket is `ENOTSOCK` first, and reports nothing. An AF_UNIX socket
/// has no handler for any level but `SOL_SOCKET`: `__sys_setsockopt` and `do_sock_getsockopt`
/// (net/socket.c) answer `EOPNOTSUPP` for it, and nothing is reported.
fn unknown_option(ctx: &Ctx<'_>, fd: i32, level: i32, name: i32) -> Errno {
    if let Err(e) = host::socket::require_socket(fd) {
        return e;
    }
    if level != g::SOL_SOCKET && host::socket::family(fd) == Ok(u32::from(g::AF_UNIX)) {
        return Errno::EOPNOTSUPP;
    }
    // Keyed past every system call number.
    let key = (1u64 << 40) | (u64::from(level as u32) << 16) | u64::from(name as u16);
    if ctx.proc.group().first_report_of(key) {
        eprintln!(
            "elfvisor: socket option level {level} name {name} is not supported; returning \
             ENOPROTOOPT"
        );
    }
    Errno::ENOPROTOOPT
}

/// `setsockopt(fd, level, name, value, len)`: each option's value translated by its layout.
pub fn setsockopt(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let len = a[4] as i32;
        if len < 0 {
            return Err(Errno::EINVAL);
        }
        let (level, name) = (a[1] as i32, a[2] as i32);
        let Some((opt, kind)) = host::socket::sockopt(level, name) else {
            return Err(unknown_option(ctx, fd, level, name));
        };
        let value = match kind {
            OptValue::Linger => {
                if (len as usize) < Linger::SIZE {
                    return Err(Errno::EINVAL);
                }
                let l: Linger = ctx.read_obj(a[3])?;
                [l.onoff.to_ne_bytes(), l.linger.to_ne_bytes()].concat()
            }
            OptValue::Timeval => {
                if (len as usize) < Timeval::SIZE {
                    return Err(Errno::EINVAL);
                }
                let t: Timeval = ctx.read_obj(a[3])?;
                [t.sec.to_ne_bytes(), t.usec.to_ne_bytes()].concat()
            }
            // An int (or for IP_TOS/IP_TTL a shorter value the host reads as a char): the bytes
            // given, up to an int's worth.
            _ => {
                let mut bytes = vec![0u8; (len as usize).min(4)];
                ctx.proc.mm.read().copy_in(GuestAddr(a[3]), &mut bytes)?;
                bytes
            }
        };
        host::socket::setsockopt(fd, opt, &value)
    })
}

/// `getsockopt(fd, level, name, value, len)`: the host answers into at most the option's size,
/// the value is translated, and at most `*len` bytes go back with the length written.
pub fn getsockopt(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    on_socket(ctx, a[0], |ctx, fd| {
        let len: i32 = ctx.read_obj(a[4])?;
        if len < 0 {
            return Err(Errno::EINVAL);
        }
        let (level, name) = (a[1] as i32, a[2] as i32);
        let Some((opt, kind)) = host::socket::sockopt(level, name) else {
            return Err(unknown_option(ctx, fd, level, name));
        };
        let size = match kind {
            OptValue::Linger => Linger::SIZE,
            OptValue::Timeval => Timeval::SIZE,
            OptValue::Ucred => Ucred::SIZE,
            _ => 4,
        };
        let got = host::socket::getsockopt(fd, opt, (len as usize).min(size))?;
        let int = |b: &[u8]| i32::from_ne_bytes(b[..4].try_into().unwrap());
        let value: Vec<u8> = if got.len() < size {
            got
        } else {
            match kind {
                OptValue::Int => int(&got).to_le_bytes().to_vec(),
                OptValue::SockType => {
                    host::socket::type_from_host(int(&got)).to_le_bytes().to_vec()
                }
                OptValue::Family => {
                    host::socket::family_from_host(int(&got)).to_le_bytes().to_vec()
                }
                OptValue::Errno => {
                    let e = int(&got);
                    let guest = if e == 0 { 0 } else { elfvisor_host::errno_from_host(e).0 };
                    guest.to_le_bytes().to_vec()
                }
                OptValue::Linger => {
                    Linger { onoff: int(&got), linger: int(&got[4..]) }.to_guest_bytes()
                }
                OptValue::Timeval => Timeval {
                    sec: i64::from_ne_bytes(got[..8].try_into().unwrap()),
                    usec: i64::from_ne_bytes(got[8..16].try_into().unwrap()),
                }
                .to_guest_bytes(),
                OptValue::Ucred => Ucred {
                    pid: int(&got) as u32,
                    uid: int(&got[4..]) as u32,
                    gid: int(&got[8..]) as u32,
                }
                .to_guest_bytes(),
            }
        };
        if !value.is_empty() {
            ctx.copy_out(a[3], &value)?;
        }
        ctx.write_obj(a[4], &(value.len() as u32))?;
        Ok(0)
    })
}

/// Reads an optional `loff_t` offset argument (EFAULT).
fn read_offset(ctx: &Ctx<'_>, addr: u64) -> Result<Option<i64>, Errno> {
    (addr != 0).then(|| ctx.read_obj::<i64>(addr)).transpose()
}

/// Writes an offset back when one was given.
fn write_offset(ctx: &Ctx<'_>, addr: u64, value: Option<i64>) -> Result<(), Errno> {
    match value {
        Some(v) => ctx.write_obj(addr, &v),
        None => Ok(()),
    }
}

/// `sendfile(out_fd, in_fd, offset, count)`: the offset is read first (`sendfile64`); a
/// negative one is EINVAL; a broken pipe or socket raises SIGPIPE as a write does.
pub fn sendfile(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let mut off = read_offset(ctx, a[2])?;
    if off.is_some_and(|o| o < 0) {
        return Err(Errno::EINVAL);
    }
    let out = ctx.fd(a[0])?;
    let input = ctx.fd(a[1])?;
    let count = a[3].min(elfvisor_abi::limits::MAX_RW_COUNT) as usize;
    let count = super::fsize::write_count(ctx, out, None, count)?;
    let result = host::socket::sendfile(out, input, off.as_mut(), count);
    if result.is_ok() {
        write_offset(ctx, a[2], off)?;
    }
    broken_pipe(ctx, result)
}

/// `splice(fd_in, off_in, fd_out, off_out, len, flags)` (`SYSCALL_DEFINE6(splice)`): a zero
/// length is 0 at once, unknown flags EINVAL, then the descriptors and offsets.
pub fn splice(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[4] == 0 {
        return Ok(0);
    }
    let flags = host::socket::splice_flags(a[5] as u32)?;
    let input = ctx.fd(a[0])?;
    let out = ctx.fd(a[2])?;
    let mut off_in = read_offset(ctx, a[1])?;
    let mut off_out = read_offset(ctx, a[3])?;
    let len = a[4].min(elfvisor_abi::limits::MAX_RW_COUNT) as usize;
    let len = super::fsize::write_count(ctx, out, off_out, len)?;
    let result = host::socket::splice(input, off_in.as_mut(), out, off_out.as_mut(), len, flags);
    if result.is_ok() {
        write_offset(ctx, a[1], off_in)?;
        write_offset(ctx, a[3], off_out)?;
    }
    broken_pipe(ctx, result)
}

/// `tee(fd_in, fd_out, len, flags)`.
pub fn tee(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[2] == 0 {
        return Ok(0);
    }
    let flags = host::socket::splice_flags(a[3] as u32)?;
    let input = ctx.fd(a[0])?;
    let out = ctx.fd(a[1])?;
    host::socket::tee(input, out, a[2].min(elfvisor_abi::limits::MAX_RW_COUNT) as usize, flags)
}

/// `vmsplice(fd, iov, nr_segs, flags)`: guest ranges into a pipe's write end (read from guest
/// memory) or out of its read end (written to it).
pub fn vmsplice(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = host::socket::splice_flags(a[3] as u32)?;
    let fd = ctx.fd(a[0])?;
    let need = match host::socket::access_mode(fd)? {
        libc::O_WRONLY => Prot::READ,
        libc::O_RDONLY => Prot::WRITE,
        _ => return Err(Errno::EBADF),
    };
    if a[2] > UIO_MAXIOV as u64 {
        return Err(Errno::EINVAL);
    }
    let iov = iovecs(ctx, a[1], a[2], need)?;
    let result = host::socket::vmsplice(fd, &iov, flags);
    if need == Prot::READ { broken_pipe(ctx, result) } else { result }
}

/// `copy_file_range(fd_in, off_in, fd_out, off_out, len, flags)`: non-zero flags are EINVAL.
pub fn copy_file_range(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[5] != 0 {
        return Err(Errno::EINVAL);
    }
    let input = ctx.fd(a[0])?;
    let out = ctx.fd(a[2])?;
    let mut off_in = read_offset(ctx, a[1])?;
    let mut off_out = read_offset(ctx, a[3])?;
    let len = super::fsize::write_count(ctx, out, off_out, a[4] as usize)?;
    let result = host::socket::copy_file_range(input, off_in.as_mut(), out, off_out.as_mut(), len);
    if result.is_ok() {
        write_offset(ctx, a[1], off_in)?;
        write_offset(ctx, a[3], off_out)?;
    }
    result
}
