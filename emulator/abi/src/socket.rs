//! Sockets as the aarch64 guest sees them (`include/linux/socket.h`,
//! `include/uapi/asm-generic/socket.h`, `include/uapi/linux/in.h`, `in6.h`, `tcp.h`, `un.h`,
//! `netlink.h`): families, types and their flags, `MSG_*` flags, option levels and names, and
//! the structures passed by pointer. x86_64 and aarch64 share most of these numbers, but every
//! crossing to the host is still an explicit translation.

use crate::guest_struct;

// Address families (`AF_*`).
pub const AF_UNSPEC: u16 = 0;
pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const AF_NETLINK: u16 = 16;

/// `NETLINK_ROUTE`, the only netlink protocol served.
pub const NETLINK_ROUTE: u32 = 0;

// Socket types and the flags `socket`, `socketpair` and `accept4` take beside them.
pub const SOCK_STREAM: u32 = 1;
pub const SOCK_DGRAM: u32 = 2;
pub const SOCK_RAW: u32 = 3;
pub const SOCK_RDM: u32 = 4;
pub const SOCK_SEQPACKET: u32 = 5;
pub const SOCK_DCCP: u32 = 6;
pub const SOCK_PACKET: u32 = 10;
/// The type bits of `socket`'s type argument.
pub const SOCK_TYPE_MASK: u32 = 0xf;
pub const SOCK_NONBLOCK: u32 = 0o4000;
pub const SOCK_CLOEXEC: u32 = 0o2000000;

// `MSG_*` flags of the send and receive calls and of `msg_flags`.
pub const MSG_OOB: u32 = 0x1;
pub const MSG_PEEK: u32 = 0x2;
pub const MSG_DONTROUTE: u32 = 0x4;
pub const MSG_CTRUNC: u32 = 0x8;
pub const MSG_TRUNC: u32 = 0x20;
pub const MSG_DONTWAIT: u32 = 0x40;
pub const MSG_EOR: u32 = 0x80;
pub const MSG_WAITALL: u32 = 0x100;
pub const MSG_CONFIRM: u32 = 0x800;
pub const MSG_ERRQUEUE: u32 = 0x2000;
pub const MSG_NOSIGNAL: u32 = 0x4000;
pub const MSG_MORE: u32 = 0x8000;
pub const MSG_WAITFORONE: u32 = 0x10000;
pub const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

// `shutdown` directions.
pub const SHUT_RD: u32 = 0;
pub const SHUT_WR: u32 = 1;
pub const SHUT_RDWR: u32 = 2;

// Option levels.
pub const SOL_SOCKET: i32 = 1;
pub const IPPROTO_IP: i32 = 0;
pub const IPPROTO_TCP: i32 = 6;
pub const IPPROTO_UDP: i32 = 17;
pub const IPPROTO_IPV6: i32 = 41;

// `SOL_SOCKET` options (asm-generic numbering, which arm64 uses).
pub const SO_REUSEADDR: i32 = 2;
pub const SO_TYPE: i32 = 3;
pub const SO_ERROR: i32 = 4;
pub const SO_BROADCAST: i32 = 6;
pub const SO_SNDBUF: i32 = 7;
pub const SO_RCVBUF: i32 = 8;
pub const SO_KEEPALIVE: i32 = 9;
pub const SO_LINGER: i32 = 13;
pub const SO_REUSEPORT: i32 = 15;
pub const SO_PASSCRED: i32 = 16;
pub const SO_PEERCRED: i32 = 17;
/// `SO_RCVTIMEO` on 64-bit (`SO_RCVTIMEO_OLD`, a `struct timeval` of two longs).
pub const SO_RCVTIMEO_OLD: i32 = 20;
pub const SO_SNDTIMEO_OLD: i32 = 21;
pub const SO_ACCEPTCONN: i32 = 30;
pub const SO_PROTOCOL: i32 = 38;
pub const SO_DOMAIN: i32 = 39;
/// `SO_RCVTIMEO_NEW`: a `struct __kernel_sock_timeval`, the same 16 bytes on 64-bit.
pub const SO_RCVTIMEO_NEW: i32 = 66;
pub const SO_SNDTIMEO_NEW: i32 = 67;

// `IPPROTO_TCP` options.
pub const TCP_NODELAY: i32 = 1;
pub const TCP_KEEPIDLE: i32 = 4;
pub const TCP_KEEPINTVL: i32 = 5;
pub const TCP_KEEPCNT: i32 = 6;

// `IPPROTO_IP` options.
pub const IP_TOS: i32 = 1;
pub const IP_TTL: i32 = 2;

// `IPPROTO_IPV6` options.
pub const IPV6_V6ONLY: i32 = 26;

// Control message types at `SOL_SOCKET`.
pub const SCM_RIGHTS: i32 = 1;
pub const SCM_CREDENTIALS: i32 = 2;

/// The most descriptors one `SCM_RIGHTS` message carries (`SCM_MAX_FD`).
pub const SCM_MAX_FD: usize = 253;

// `splice`, `tee` and `vmsplice` flags (`SPLICE_F_*`).
pub const SPLICE_F_MOVE: u32 = 1;
pub const SPLICE_F_NONBLOCK: u32 = 2;
pub const SPLICE_F_MORE: u32 = 4;
pub const SPLICE_F_GIFT: u32 = 8;

/// The first family number Linux does not know (`AF_MAX`): at or past it, `EAFNOSUPPORT`.
pub const AF_MAX: u32 = 46;

/// `sizeof(struct sockaddr_storage)`: the longest address any call takes.
pub const SOCKADDR_STORAGE_SIZE: usize = 128;

/// The bytes of `sun_path` in `struct sockaddr_un`.
pub const UNIX_PATH_MAX: usize = 108;

/// `offsetof(struct sockaddr_un, sun_path)`: the family field before it.
pub const SUN_PATH_OFFSET: usize = 2;

/// The alignment of control messages (`CMSG_ALIGN`: that of `long` on aarch64).
pub const CMSG_ALIGN: usize = 8;

/// A send or receive's `iovec` limit is `UIO_MAXIOV`; `sendmmsg`/`recvmmsg` clamp their
/// message count to it too.
pub const MMSG_MAX: usize = 1024;

guest_struct! {
    /// `struct sockaddr_in`: 16 bytes; port and address in network byte order as stored.
    #[derive(Default)]
    pub struct SockaddrIn: 16 {
        0 => pub family: u16,
        2 => pub port_be: [u8; 2],
        4 => pub addr: [u8; 4],
    }
}

guest_struct! {
    /// `struct sockaddr_in6`: 28 bytes.
    #[derive(Default)]
    pub struct SockaddrIn6: 28 {
        0 => pub family: u16,
        2 => pub port_be: [u8; 2],
        4 => pub flowinfo_be: [u8; 4],
        8 => pub addr: [u8; 16],
        24 => pub scope_id: u32,
    }
}

guest_struct! {
    /// `struct sockaddr_nl`: 12 bytes.
    #[derive(Default)]
    pub struct SockaddrNl: 12 {
        0 => pub family: u16,
        4 => pub pid: u32,
        8 => pub groups: u32,
    }
}

guest_struct! {
    /// `struct msghdr` (the user one, `struct user_msghdr`): 56 bytes.
    #[derive(Default)]
    pub struct Msghdr: 56 {
        0 => pub name: u64,
        8 => pub namelen: u32,
        16 => pub iov: u64,
        24 => pub iovlen: u64,
        32 => pub control: u64,
        40 => pub controllen: u64,
        48 => pub flags: u32,
    }
}

/// The offset of `msg_namelen` in `struct msghdr`, written back by the receive calls.
pub const MSGHDR_NAMELEN_OFFSET: u64 = 8;
/// The offset of `msg_controllen`.
pub const MSGHDR_CONTROLLEN_OFFSET: u64 = 40;
/// The offset of `msg_flags`.
pub const MSGHDR_FLAGS_OFFSET: u64 = 48;

guest_struct! {
    /// `struct mmsghdr`: a `msghdr` and the count moved, 64 bytes.
    #[derive(Default)]
    pub struct Mmsghdr: 64 {
        0 => pub hdr: Msghdr,
        56 => pub len: u32,
    }
}

/// The offset of `msg_len` in `struct mmsghdr`.
pub const MMSGHDR_LEN_OFFSET: u64 = 56;

guest_struct! {
    /// `struct cmsghdr`: 16 bytes, the data follows.
    #[derive(Default)]
    pub struct Cmsghdr: 16 {
        0 => pub len: u64,
        8 => pub level: i32,
        12 => pub kind: i32,
    }
}

guest_struct! {
    /// `struct ucred` (`SO_PEERCRED`, `SCM_CREDENTIALS`): 12 bytes.
    #[derive(Default)]
    pub struct Ucred: 12 {
        0 => pub pid: u32,
        4 => pub uid: u32,
        8 => pub gid: u32,
    }
}

guest_struct! {
    /// `struct linger` (`SO_LINGER`): 8 bytes.
    #[derive(Default)]
    pub struct Linger: 8 {
        0 => pub onoff: i32,
        4 => pub linger: i32,
    }
}

/// `CMSG_ALIGN(len)`.
pub const fn cmsg_align(len: usize) -> usize {
    (len + CMSG_ALIGN - 1) & !(CMSG_ALIGN - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj::GuestObj;
    use crate::obj::testing::round_trip;
    use proptest::prelude::*;

    #[test]
    fn test_sizes_are_the_aarch64_ones() {
        assert_eq!(SockaddrIn::SIZE, 16);
        assert_eq!(SockaddrIn6::SIZE, 28);
        assert_eq!(SockaddrNl::SIZE, 12);
        assert_eq!(Msghdr::SIZE, 56);
        assert_eq!(Mmsghdr::SIZE, 64);
        assert_eq!(Cmsghdr::SIZE, 16);
        assert_eq!(Ucred::SIZE, 12);
        assert_eq!(Linger::SIZE, 8);
        assert_eq!(cmsg_align(20), 24);
    }

    proptest! {
        #[test]
        fn prop_msghdr_round_trip(name: u64, namelen: u32, iov: u64, iovlen: u64, control: u64,
                                  controllen: u64, flags: u32) {
            round_trip(&Msghdr { name, namelen, iov, iovlen, control, controllen, flags });
        }

        #[test]
        fn prop_in6_round_trip(port: [u8; 2], flow: [u8; 4], addr: [u8; 16], scope_id: u32) {
            round_trip(&SockaddrIn6 {
                family: AF_INET6, port_be: port, flowinfo_be: flow, addr, scope_id,
            });
        }
    }
}
