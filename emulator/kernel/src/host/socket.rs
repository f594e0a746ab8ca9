//! Host sockets: creation, addresses (one explicit translation each way per family), transfers
//! between checked guest memory and host sockets with their control messages, options, and the
//! in-kernel copies (`sendfile`, `splice`, `tee`, `vmsplice`, `copy_file_range`).
//!
//! Every socket the emulator makes is close-on-exec on the host, and every descriptor a received
//! `SCM_RIGHTS` message brings is too (`MSG_CMSG_CLOEXEC` is always asked of the host); the
//! guest's own close-on-exec bit lives in its descriptor table.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use elfvisor_abi::Errno;
use elfvisor_abi::socket as g;

use super::check;
use super::fs::HostIovec;

/// A socket address, whatever side it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    /// `AF_UNSPEC` (a `connect` that dissolves a datagram association).
    Unspec,
    /// `AF_UNIX`: the `sun_path` bytes that count. Empty: unnamed (autobind when bound); a
    /// leading NUL: an abstract name of exactly these bytes; otherwise a path without its NUL.
    Unix(Vec<u8>),
    Inet {
        port_be: [u8; 2],
        addr: [u8; 4],
    },
    Inet6 {
        port_be: [u8; 2],
        flowinfo_be: [u8; 4],
        addr: [u8; 16],
        scope_id: u32,
    },
    Netlink {
        pid: u32,
        groups: u32,
    },
    /// A family the emulator does not serve (the number as given).
    Other(u16),
}

fn family_to_host(family: u16) -> Option<i32> {
    Some(match family {
        g::AF_UNSPEC => libc::AF_UNSPEC,
        g::AF_UNIX => libc::AF_UNIX,
        g::AF_INET => libc::AF_INET,
        g::AF_INET6 => libc::AF_INET6,
        g::AF_NETLINK => libc::AF_NETLINK,
        _ => return None,
    })
}

/// A guest socket type (without its flags) as the host numbers it.
fn type_to_host(kind: u32) -> Option<i32> {
    Some(match kind {
        g::SOCK_STREAM => libc::SOCK_STREAM,
        g::SOCK_DGRAM => libc::SOCK_DGRAM,
        g::SOCK_RAW => libc::SOCK_RAW,
        g::SOCK_RDM => libc::SOCK_RDM,
        g::SOCK_SEQPACKET => libc::SOCK_SEQPACKET,
        g::SOCK_DCCP => libc::SOCK_DCCP,
        #[allow(deprecated)]
        g::SOCK_PACKET => libc::SOCK_PACKET,
        _ => return None,
    })
}

/// A host socket type (`SO_TYPE`) as the guest numbers it.
pub fn type_from_host(kind: i32) -> u32 {
    match kind {
        libc::SOCK_STREAM => g::SOCK_STREAM,
        libc::SOCK_DGRAM => g::SOCK_DGRAM,
        libc::SOCK_RAW => g::SOCK_RAW,
        libc::SOCK_SEQPACKET => g::SOCK_SEQPACKET,
        other => other as u32,
    }
}

/// A host family (`SO_DOMAIN`) as the guest numbers it.
pub fn family_from_host(family: i32) -> u32 {
    u32::from(match family {
        libc::AF_UNSPEC => g::AF_UNSPEC,
        libc::AF_UNIX => g::AF_UNIX,
        libc::AF_INET => g::AF_INET,
        libc::AF_INET6 => g::AF_INET6,
        libc::AF_NETLINK => g::AF_NETLINK,
        other => other as u16,
    })
}

/// Guest `MSG_*` flags → host, each one named. Flags the emulator does not pass are dropped.
pub fn msg_flags_to_host(guest: u32) -> i32 {
    let pairs: [(u32, i32); 13] = [
        (g::MSG_OOB, libc::MSG_OOB),
        (g::MSG_PEEK, libc::MSG_PEEK),
        (g::MSG_DONTROUTE, libc::MSG_DONTROUTE),
        (g::MSG_TRUNC, libc::MSG_TRUNC),
        (g::MSG_DONTWAIT, libc::MSG_DONTWAIT),
        (g::MSG_EOR, libc::MSG_EOR),
        (g::MSG_WAITALL, libc::MSG_WAITALL),
        (g::MSG_CONFIRM, libc::MSG_CONFIRM),
        (g::MSG_ERRQUEUE, libc::MSG_ERRQUEUE),
        (g::MSG_NOSIGNAL, libc::MSG_NOSIGNAL),
        (g::MSG_MORE, libc::MSG_MORE),
        (g::MSG_WAITFORONE, libc::MSG_WAITFORONE),
        (g::MSG_CMSG_CLOEXEC, libc::MSG_CMSG_CLOEXEC),
    ];
    pairs.iter().filter(|(gb, _)| guest & gb != 0).fold(0, |h, (_, hb)| h | hb)
}

/// Host `msg_flags` of a receive → guest.
pub fn msg_flags_from_host(host: i32) -> u32 {
    let pairs: [(i32, u32); 6] = [
        (libc::MSG_OOB, g::MSG_OOB),
        (libc::MSG_CTRUNC, g::MSG_CTRUNC),
        (libc::MSG_TRUNC, g::MSG_TRUNC),
        (libc::MSG_EOR, g::MSG_EOR),
        (libc::MSG_ERRQUEUE, g::MSG_ERRQUEUE),
        (libc::MSG_CMSG_CLOEXEC, g::MSG_CMSG_CLOEXEC),
    ];
    pairs.iter().filter(|(hb, _)| host & hb != 0).fold(0, |gf, (_, gb)| gf | gb)
}

/// A host address in a `sockaddr_storage`, with the length that counts.
struct HostAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

fn zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

impl SockAddr {
    /// The host's bytes for this address; `EINVAL` for a path too long for `sun_path`,
    /// `EAFNOSUPPORT` for a family the host is not asked to serve.
    fn to_host(&self) -> Result<HostAddr, Errno> {
        let mut storage = zeroed_storage();
        let len = match self {
            SockAddr::Unspec => {
                storage.ss_family = libc::AF_UNSPEC as libc::sa_family_t;
                std::mem::size_of::<libc::sa_family_t>()
            }
            SockAddr::Unix(path) => {
                // SAFETY: sockaddr_un fits in sockaddr_storage, which is suitably aligned.
                let un = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_un) };
                un.sun_family = libc::AF_UNIX as libc::sa_family_t;
                let abstract_name = path.first() == Some(&0);
                // A path name takes its NUL when there is room (Linux accepts either).
                let with_nul = path.len() + usize::from(!abstract_name && !path.is_empty());
                if path.len() > un.sun_path.len() {
                    return Err(Errno::ENAMETOOLONG);
                }
                for (dst, &src) in un.sun_path.iter_mut().zip(path) {
                    *dst = src as libc::c_char;
                }
                g::SUN_PATH_OFFSET + with_nul.min(un.sun_path.len())
            }
            SockAddr::Inet { port_be, addr } => {
                // SAFETY: as above, for sockaddr_in.
                let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = u16::from_ne_bytes(*port_be);
                sin.sin_addr.s_addr = u32::from_ne_bytes(*addr);
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SockAddr::Inet6 { port_be, flowinfo_be, addr, scope_id } => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = u16::from_ne_bytes(*port_be);
                sin6.sin6_flowinfo = u32::from_ne_bytes(*flowinfo_be);
                sin6.sin6_addr.s6_addr = *addr;
                sin6.sin6_scope_id = *scope_id;
                std::mem::size_of::<libc::sockaddr_in6>()
            }
            SockAddr::Netlink { pid, groups } => {
                // SAFETY: as above, for sockaddr_nl.
                let nl = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_nl) };
                nl.nl_family = libc::AF_NETLINK as libc::sa_family_t;
                nl.nl_pid = *pid;
                nl.nl_groups = *groups;
                std::mem::size_of::<libc::sockaddr_nl>()
            }
            SockAddr::Other(_) => return Err(Errno::EAFNOSUPPORT),
        };
        Ok(HostAddr { storage, len: len as libc::socklen_t })
    }

    /// The address the host wrote (`len` as it said).
    fn from_host(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> SockAddr {
        let len = len as usize;
        if len < std::mem::size_of::<libc::sa_family_t>() {
            return SockAddr::Unix(Vec::new());
        }
        match i32::from(storage.ss_family) {
            libc::AF_UNIX => {
                // SAFETY: the host wrote a sockaddr_un into this storage.
                let un = unsafe { &*(storage as *const _ as *const libc::sockaddr_un) };
                let n = (len - g::SUN_PATH_OFFSET).min(un.sun_path.len());
                let bytes: Vec<u8> = un.sun_path[..n].iter().map(|&c| c as u8).collect();
                if bytes.first() == Some(&0) {
                    SockAddr::Unix(bytes)
                } else {
                    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                    SockAddr::Unix(bytes[..end].to_vec())
                }
            }
            libc::AF_INET => {
                // SAFETY: the host wrote a sockaddr_in.
                let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
                SockAddr::Inet {
                    port_be: sin.sin_port.to_ne_bytes(),
                    addr: sin.sin_addr.s_addr.to_ne_bytes(),
                }
            }
            libc::AF_INET6 => {
                // SAFETY: the host wrote a sockaddr_in6.
                let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
                SockAddr::Inet6 {
                    port_be: sin6.sin6_port.to_ne_bytes(),
                    flowinfo_be: sin6.sin6_flowinfo.to_ne_bytes(),
                    addr: sin6.sin6_addr.s6_addr,
                    scope_id: sin6.sin6_scope_id,
                }
            }
            libc::AF_NETLINK => {
                // SAFETY: the host wrote a sockaddr_nl.
                let nl = unsafe { &*(storage as *const _ as *const libc::sockaddr_nl) };
                SockAddr::Netlink { pid: nl.nl_pid, groups: nl.nl_groups }
            }
            libc::AF_UNSPEC => SockAddr::Unspec,
            other => SockAddr::Other(other as u16),
        }
    }
}

fn owned(fd: u64) -> OwnedFd {
    // SAFETY: a fresh descriptor the host just returned, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// `socket(family, type, protocol)` with guest family and type (flags taken apart by the caller).
pub fn socket(family: u16, kind: u32, protocol: i32, nonblock: bool) -> Result<OwnedFd, Errno> {
    let family = family_to_host(family).ok_or(Errno::EAFNOSUPPORT)?;
    let kind = type_to_host(kind).ok_or(Errno::EINVAL)?;
    let flags = libc::SOCK_CLOEXEC | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: integers only.
    check(unsafe { libc::socket(family, kind | flags, protocol) } as isize).map(owned)
}

/// `socketpair(family, type, protocol)`.
pub fn socketpair(
    family: u16,
    kind: u32,
    protocol: i32,
    nonblock: bool,
) -> Result<(OwnedFd, OwnedFd), Errno> {
    let family = family_to_host(family).ok_or(Errno::EAFNOSUPPORT)?;
    let kind = type_to_host(kind).ok_or(Errno::EINVAL)?;
    let flags = libc::SOCK_CLOEXEC | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
    let mut sv = [-1; 2];
    // SAFETY: `sv` has room for the two descriptors.
    check(unsafe { libc::socketpair(family, kind | flags, protocol, sv.as_mut_ptr()) } as isize)?;
    Ok((owned(sv[0] as u64), owned(sv[1] as u64)))
}

pub fn bind(fd: RawFd, addr: &SockAddr) -> Result<u64, Errno> {
    let host = addr.to_host()?;
    // SAFETY: `storage` holds `len` initialised bytes of address.
    check(unsafe { libc::bind(fd, &host.storage as *const _ as *const libc::sockaddr, host.len) }
        as isize)
}

pub fn connect(fd: RawFd, addr: &SockAddr) -> Result<u64, Errno> {
    let host = addr.to_host()?;
    // SAFETY: as for `bind`.
    check(
        unsafe { libc::connect(fd, &host.storage as *const _ as *const libc::sockaddr, host.len) }
            as isize,
    )
}

pub fn listen(fd: RawFd, backlog: i32) -> Result<u64, Errno> {
    // SAFETY: integers only.
    check(unsafe { libc::listen(fd, backlog) } as isize)
}

/// `accept4`: the new socket (close-on-exec on the host) and its peer's address.
pub fn accept(fd: RawFd, nonblock: bool) -> Result<(OwnedFd, SockAddr), Errno> {
    let mut storage = zeroed_storage();
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let flags = libc::SOCK_CLOEXEC | if nonblock { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: `storage` has `len` writable bytes; the host writes at most that and sets `len`.
    let fd = check(unsafe {
        libc::accept4(fd, &mut storage as *mut _ as *mut libc::sockaddr, &mut len, flags)
    } as isize)?;
    Ok((owned(fd), SockAddr::from_host(&storage, len)))
}

/// `getsockname` (`peer` false) or `getpeername`.
pub fn name(fd: RawFd, peer: bool) -> Result<SockAddr, Errno> {
    let mut storage = zeroed_storage();
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let p = &mut storage as *mut _ as *mut libc::sockaddr;
    // SAFETY: as for `accept`.
    check(unsafe {
        if peer { libc::getpeername(fd, p, &mut len) } else { libc::getsockname(fd, p, &mut len) }
    } as isize)?;
    Ok(SockAddr::from_host(&storage, len))
}

pub fn shutdown(fd: RawFd, how: u32) -> Result<u64, Errno> {
    let how = match how {
        g::SHUT_RD => libc::SHUT_RD,
        g::SHUT_WR => libc::SHUT_WR,
        g::SHUT_RDWR => libc::SHUT_RDWR,
        _ => return Err(Errno::EINVAL),
    };
    // SAFETY: integers only.
    check(unsafe { libc::shutdown(fd, how) } as isize)
}

/// A control message the guest sends or receives, already in host terms.
#[derive(Debug)]
pub enum Cmsg {
    /// `SCM_RIGHTS` to send: the guest's open files, held so that no other thread's close can
    /// free a descriptor number (and a new open reuse it) before the host has taken them.
    Rights(Vec<Arc<OwnedFd>>),
    /// Received descriptors, owned: dropping one closes it.
    ReceivedRights(Vec<OwnedFd>),
    /// `SCM_CREDENTIALS`: pid, uid, gid.
    Credentials(u32, u32, u32),
}

/// The host control buffer for `cmsgs`.
fn build_control(cmsgs: &[Cmsg]) -> Vec<u64> {
    let space = |data: usize| {
        // SAFETY: CMSG_SPACE is arithmetic.
        unsafe { libc::CMSG_SPACE(data as u32) as usize }
    };
    let data_len = |c: &Cmsg| match c {
        Cmsg::Rights(fds) => fds.len() * 4,
        Cmsg::ReceivedRights(fds) => fds.len() * 4,
        Cmsg::Credentials(..) => std::mem::size_of::<libc::ucred>(),
    };
    let total: usize = cmsgs.iter().map(|c| space(data_len(c))).sum();
    // u64 storage keeps the buffer aligned for cmsghdr.
    let mut buf = vec![0u64; total.div_ceil(8)];
    if total == 0 {
        return buf;
    }
    let mut mh: libc::msghdr = unsafe_zeroed_msghdr();
    mh.msg_control = buf.as_mut_ptr().cast();
    mh.msg_controllen = total;
    // SAFETY: `mh` describes `buf`, `total` bytes; each header is within it because the space
    // of every message was counted above, and the data written is exactly its length.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&mh);
        for m in cmsgs {
            let len = data_len(m);
            (*c).cmsg_len = libc::CMSG_LEN(len as u32) as _;
            (*c).cmsg_level = libc::SOL_SOCKET;
            let data = libc::CMSG_DATA(c);
            match m {
                Cmsg::Rights(fds) => {
                    (*c).cmsg_type = libc::SCM_RIGHTS;
                    for (i, fd) in fds.iter().enumerate() {
                        data.add(i * 4).cast::<i32>().write_unaligned(fd.as_raw_fd());
                    }
                }
                Cmsg::ReceivedRights(fds) => {
                    (*c).cmsg_type = libc::SCM_RIGHTS;
                    for (i, fd) in fds.iter().enumerate() {
                        data.add(i * 4).cast::<i32>().write_unaligned(fd.as_raw_fd());
                    }
                }
                Cmsg::Credentials(pid, uid, gid) => {
                    (*c).cmsg_type = libc::SCM_CREDENTIALS;
                    let cred = libc::ucred { pid: *pid as i32, uid: *uid, gid: *gid };
                    data.cast::<libc::ucred>().write_unaligned(cred);
                }
            }
            c = libc::CMSG_NXTHDR(&mh, c);
            if c.is_null() {
                break;
            }
        }
    }
    buf
}

fn unsafe_zeroed_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is plain old data; zeroes are null pointers and zero lengths.
    unsafe { std::mem::zeroed() }
}

/// `sendmsg` from checked, readable guest ranges to an optional address, with control messages.
pub fn sendmsg(
    fd: RawFd,
    to: Option<&SockAddr>,
    iov: &[HostIovec],
    cmsgs: &[Cmsg],
    flags: i32,
) -> Result<u64, Errno> {
    let addr = to.map(SockAddr::to_host).transpose()?;
    let mut control = build_control(cmsgs);
    let mut mh = unsafe_zeroed_msghdr();
    if let Some(a) = &addr {
        mh.msg_name = &a.storage as *const _ as *mut libc::c_void;
        mh.msg_namelen = a.len;
    }
    mh.msg_iov = iov.as_ptr() as *mut libc::iovec;
    mh.msg_iovlen = iov.len();
    if !control.is_empty() {
        mh.msg_control = control.as_mut_ptr().cast();
        mh.msg_controllen = control.len() * 8;
    }
    // SAFETY: every iovec covers guest memory checked readable by the caller; name and control
    // point at live local buffers of the lengths given. The host never closes the descriptors.
    check(unsafe { libc::sendmsg(fd, &mh, flags | libc::MSG_NOSIGNAL) })
}

/// What a receive brought.
#[derive(Debug)]
pub struct Received {
    pub len: u64,
    pub from: Option<SockAddr>,
    pub cmsgs: Vec<Cmsg>,
    /// Host `msg_flags`.
    pub flags: i32,
}

/// `recvmsg` into checked, writable guest ranges; `control_room` is the guest's control buffer
/// size (the host's control messages have the same sizes, so truncation happens where Linux's
/// would). Descriptors received are close-on-exec on the host and owned by the result.
pub fn recvmsg(
    fd: RawFd,
    iov: &[HostIovec],
    want_name: bool,
    control_room: usize,
    flags: i32,
) -> Result<Received, Errno> {
    let mut storage = zeroed_storage();
    let mut control = vec![0u64; control_room.div_ceil(8)];
    let mut mh = unsafe_zeroed_msghdr();
    if want_name {
        mh.msg_name = &mut storage as *mut _ as *mut libc::c_void;
        mh.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    }
    mh.msg_iov = iov.as_ptr() as *mut libc::iovec;
    mh.msg_iovlen = iov.len();
    if control_room > 0 {
        mh.msg_control = control.as_mut_ptr().cast();
        mh.msg_controllen = control_room;
    }
    // SAFETY: every iovec covers guest memory checked writable by the caller; name and control
    // are live local buffers of the lengths given.
    let len = check(unsafe { libc::recvmsg(fd, &mut mh, flags | libc::MSG_CMSG_CLOEXEC) })?;
    let mut cmsgs = Vec::new();
    if control_room > 0 && mh.msg_controllen > 0 {
        // SAFETY: the host filled `msg_controllen` bytes of `control` with well-formed headers;
        // CMSG_NXTHDR stays inside them. Descriptors are taken into OwnedFds exactly once.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&mh);
            while !c.is_null() {
                let data = libc::CMSG_DATA(c);
                let data_len = ((*c).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                match ((*c).cmsg_level, (*c).cmsg_type) {
                    (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                        let fds = (0..data_len / 4)
                            .map(|i| owned(data.add(i * 4).cast::<i32>().read_unaligned() as u64))
                            .collect();
                        cmsgs.push(Cmsg::ReceivedRights(fds));
                    }
                    (libc::SOL_SOCKET, libc::SCM_CREDENTIALS)
                        if data_len >= std::mem::size_of::<libc::ucred>() =>
                    {
                        let cred = data.cast::<libc::ucred>().read_unaligned();
                        cmsgs.push(Cmsg::Credentials(cred.pid as u32, cred.uid, cred.gid));
                    }
                    // No option the emulator passes asks for any other control message.
                    _ => {}
                }
                c = libc::CMSG_NXTHDR(&mh, c);
            }
        }
    }
    let from =
        (want_name && mh.msg_namelen > 0).then(|| SockAddr::from_host(&storage, mh.msg_namelen));
    Ok(Received { len, from, cmsgs, flags: mh.msg_flags })
}

/// An option as the host names it: level and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostOpt {
    pub level: i32,
    pub name: i32,
}

/// How an option's value is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptValue {
    /// An `int` with the same meaning on both sides.
    Int,
    /// `SO_TYPE`: a socket type.
    SockType,
    /// `SO_DOMAIN`: an address family.
    Family,
    /// `SO_ERROR`: an errno.
    Errno,
    /// `struct linger`.
    Linger,
    /// `struct timeval` (`SO_RCVTIMEO`, `SO_SNDTIMEO`).
    Timeval,
    /// `struct ucred` (`SO_PEERCRED`, read only).
    Ucred,
}

/// A guest option (level, name) → the host's, with its value layout; `None`: not served.
pub fn sockopt(level: i32, name: i32) -> Option<(HostOpt, OptValue)> {
    use OptValue::*;
    let (level, name, value) = match (level, name) {
        (g::SOL_SOCKET, n) => {
            let (name, value) = match n {
                g::SO_REUSEADDR => (libc::SO_REUSEADDR, Int),
                g::SO_REUSEPORT => (libc::SO_REUSEPORT, Int),
                g::SO_KEEPALIVE => (libc::SO_KEEPALIVE, Int),
                g::SO_RCVBUF => (libc::SO_RCVBUF, Int),
                g::SO_SNDBUF => (libc::SO_SNDBUF, Int),
                g::SO_ERROR => (libc::SO_ERROR, Errno),
                g::SO_PEERCRED => (libc::SO_PEERCRED, Ucred),
                g::SO_TYPE => (libc::SO_TYPE, SockType),
                g::SO_DOMAIN => (libc::SO_DOMAIN, Family),
                g::SO_PROTOCOL => (libc::SO_PROTOCOL, Int),
                g::SO_ACCEPTCONN => (libc::SO_ACCEPTCONN, Int),
                g::SO_LINGER => (libc::SO_LINGER, Linger),
                // Both forms are two 64-bit fields on a 64-bit host.
                g::SO_RCVTIMEO_OLD | g::SO_RCVTIMEO_NEW => (libc::SO_RCVTIMEO, Timeval),
                g::SO_SNDTIMEO_OLD | g::SO_SNDTIMEO_NEW => (libc::SO_SNDTIMEO, Timeval),
                g::SO_PASSCRED => (libc::SO_PASSCRED, Int),
                g::SO_BROADCAST => (libc::SO_BROADCAST, Int),
                _ => return None,
            };
            (libc::SOL_SOCKET, name, value)
        }
        (g::IPPROTO_TCP, n) => {
            let name = match n {
                g::TCP_NODELAY => libc::TCP_NODELAY,
                g::TCP_KEEPIDLE => libc::TCP_KEEPIDLE,
                g::TCP_KEEPINTVL => libc::TCP_KEEPINTVL,
                g::TCP_KEEPCNT => libc::TCP_KEEPCNT,
                _ => return None,
            };
            (libc::IPPROTO_TCP, name, Int)
        }
        (g::IPPROTO_IP, g::IP_TOS) => (libc::IPPROTO_IP, libc::IP_TOS, Int),
        (g::IPPROTO_IP, g::IP_TTL) => (libc::IPPROTO_IP, libc::IP_TTL, Int),
        (g::IPPROTO_IPV6, g::IPV6_V6ONLY) => (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, Int),
        _ => return None,
    };
    Some((HostOpt { level, name }, value))
}

/// `setsockopt` with the value's host bytes.
pub fn setsockopt(fd: RawFd, opt: HostOpt, value: &[u8]) -> Result<u64, Errno> {
    // SAFETY: `value` is a live buffer of the length given.
    check(unsafe {
        libc::setsockopt(fd, opt.level, opt.name, value.as_ptr().cast(), value.len() as u32)
    } as isize)
}

/// `getsockopt` into a buffer of `room` bytes: the bytes the host wrote.
pub fn getsockopt(fd: RawFd, opt: HostOpt, room: usize) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; room];
    let mut len = room as libc::socklen_t;
    // SAFETY: `buf` has `len` writable bytes; the host writes at most that and sets `len`.
    check(unsafe { libc::getsockopt(fd, opt.level, opt.name, buf.as_mut_ptr().cast(), &mut len) }
        as isize)?;
    buf.truncate(len as usize);
    Ok(buf)
}

/// Whether a socket's `SO_RCVTIMEO` (`receive`) or `SO_SNDTIMEO` limits its waits.
pub fn has_timeout(fd: RawFd, receive: bool) -> bool {
    let name = if receive { libc::SO_RCVTIMEO } else { libc::SO_SNDTIMEO };
    let opt = HostOpt { level: libc::SOL_SOCKET, name };
    getsockopt(fd, opt, std::mem::size_of::<libc::timeval>())
        .is_ok_and(|v| v.iter().any(|&b| b != 0))
}

/// A socket's family (`SO_DOMAIN`) as the guest numbers it.
pub fn family(fd: RawFd) -> Result<u32, Errno> {
    let opt = HostOpt { level: libc::SOL_SOCKET, name: libc::SO_DOMAIN };
    let got = getsockopt(fd, opt, std::mem::size_of::<i32>())?;
    let bytes: [u8; 4] = got.as_slice().try_into().map_err(|_| Errno::EINVAL)?;
    Ok(family_from_host(i32::from_ne_bytes(bytes)))
}

/// `sendfile(out, in, offset, count)`: `offset` None uses and moves the input's file position.
pub fn sendfile(
    out: RawFd,
    input: RawFd,
    offset: Option<&mut i64>,
    count: usize,
) -> Result<u64, Errno> {
    let ptr = offset.map_or(std::ptr::null_mut(), |o| o as *mut i64);
    // SAFETY: `ptr` is null or a live i64.
    check(unsafe { libc::sendfile(out, input, ptr, count) })
}

/// `splice` between host descriptors; offsets as for [`sendfile`]. `flags` are host flags.
pub fn splice(
    input: RawFd,
    off_in: Option<&mut i64>,
    out: RawFd,
    off_out: Option<&mut i64>,
    len: usize,
    flags: u32,
) -> Result<u64, Errno> {
    let pin = off_in.map_or(std::ptr::null_mut(), |o| o as *mut i64);
    let pout = off_out.map_or(std::ptr::null_mut(), |o| o as *mut i64);
    // SAFETY: offsets are null or live i64s.
    check(unsafe { libc::splice(input, pin, out, pout, len, flags) })
}

pub fn tee(input: RawFd, out: RawFd, len: usize, flags: u32) -> Result<u64, Errno> {
    // SAFETY: integers only.
    check(unsafe { libc::tee(input, out, len, flags) })
}

/// `vmsplice` of checked guest ranges (readable to fill a pipe, writable to drain one).
pub fn vmsplice(fd: RawFd, iov: &[HostIovec], flags: u32) -> Result<u64, Errno> {
    // SAFETY: every iovec covers guest memory checked by the caller for the direction the pipe
    // end implies; the slice is live.
    check(unsafe { libc::vmsplice(fd, iov.as_ptr(), iov.len(), flags) })
}

pub fn copy_file_range(
    input: RawFd,
    off_in: Option<&mut i64>,
    out: RawFd,
    off_out: Option<&mut i64>,
    len: usize,
) -> Result<u64, Errno> {
    let pin = off_in.map_or(std::ptr::null_mut(), |o| o as *mut i64);
    let pout = off_out.map_or(std::ptr::null_mut(), |o| o as *mut i64);
    // SAFETY: offsets are null or live i64s.
    check(unsafe { libc::copy_file_range(input, pin, out, pout, len, 0) })
}

/// Guest `SPLICE_F_*` flags → host; `EINVAL` for an unknown one.
pub fn splice_flags(guest: u32) -> Result<u32, Errno> {
    let all = g::SPLICE_F_MOVE | g::SPLICE_F_NONBLOCK | g::SPLICE_F_MORE | g::SPLICE_F_GIFT;
    if guest & !all != 0 {
        return Err(Errno::EINVAL);
    }
    let pairs = [
        (g::SPLICE_F_MOVE, libc::SPLICE_F_MOVE),
        (g::SPLICE_F_NONBLOCK, libc::SPLICE_F_NONBLOCK),
        (g::SPLICE_F_MORE, libc::SPLICE_F_MORE),
        (g::SPLICE_F_GIFT, libc::SPLICE_F_GIFT),
    ];
    Ok(pairs.iter().filter(|(gb, _)| guest & gb != 0).fold(0, |h, (_, hb)| h | hb))
}

/// Whether a host descriptor is a socket (`ENOTSOCK` otherwise, as `sockfd_lookup` says).
pub fn require_socket(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: `st` is written by the host before it is read.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a live, writable stat.
    check(unsafe { libc::fstat(fd, &mut st) } as isize)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFSOCK { Ok(()) } else { Err(Errno::ENOTSOCK) }
}

/// The host's access mode of a descriptor (`O_RDONLY`, `O_WRONLY` or `O_RDWR`).
pub fn access_mode(fd: RawFd) -> Result<i32, Errno> {
    // SAFETY: integers only.
    let fl = check(unsafe { libc::fcntl(fd, libc::F_GETFL) } as isize)?;
    Ok(fl as i32 & libc::O_ACCMODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_addresses_round_trip_through_the_host_layout() {
        for addr in [
            SockAddr::Inet { port_be: [0x12, 0x34], addr: [127, 0, 0, 1] },
            SockAddr::Inet6 { port_be: [0, 80], flowinfo_be: [0; 4], addr: [1; 16], scope_id: 3 },
            SockAddr::Unix(b"/tmp/x".to_vec()),
            SockAddr::Unix(b"\0abstract".to_vec()),
            SockAddr::Netlink { pid: 7, groups: 1 },
        ] {
            let host = addr.to_host().unwrap();
            assert_eq!(SockAddr::from_host(&host.storage, host.len), addr);
        }
        let long = SockAddr::Unix(vec![b'a'; 200]);
        assert_eq!(long.to_host().err(), Some(Errno::ENAMETOOLONG));
    }

    #[test]
    fn test_rights_travel_through_a_host_socket_pair() {
        let (a, b) = socketpair(g::AF_UNIX, g::SOCK_STREAM, 0, false).unwrap();
        let devnull = std::fs::File::open("/dev/null").unwrap();
        let byte = [7u8];
        let iov = [libc::iovec { iov_base: byte.as_ptr() as *mut _, iov_len: 1 }];
        let sent = sendmsg(
            a.as_raw_fd(),
            None,
            &iov,
            &[Cmsg::Rights(vec![Arc::new(OwnedFd::from(devnull))])],
            0,
        );
        assert_eq!(sent, Ok(1));
        let mut into = [0u8];
        let iov = [libc::iovec { iov_base: into.as_mut_ptr().cast(), iov_len: 1 }];
        let got = recvmsg(b.as_raw_fd(), &iov, false, 64, 0).unwrap();
        assert_eq!((got.len, into[0]), (1, 7));
        assert!(matches!(&got.cmsgs[..], [Cmsg::ReceivedRights(fds)] if fds.len() == 1));
    }

    #[test]
    fn test_unserved_options_have_no_host_twin() {
        assert!(sockopt(g::SOL_SOCKET, 1).is_none()); // SO_DEBUG
        assert_eq!(sockopt(g::IPPROTO_TCP, g::TCP_NODELAY).map(|o| o.1), Some(OptValue::Int));
        assert_eq!(sockopt(g::SOL_SOCKET, g::SO_LINGER).map(|o| o.1), Some(OptValue::Linger));
    }
}
