//! Event descriptors and waits: `epoll` (`include/uapi/linux/eventpoll.h`), `eventfd`
//! (`include/uapi/linux/eventfd.h`), `timerfd` (`include/uapi/linux/timerfd.h`), `signalfd`
//! (`include/uapi/linux/signalfd.h`), `inotify` (`include/uapi/linux/inotify.h`) and the fd sets
//! of `pselect6`.

use crate::fcntl::{O_CLOEXEC, O_NONBLOCK};
use crate::guest_struct;

/// `epoll_create1`'s only flag.
pub const EPOLL_CLOEXEC: u32 = O_CLOEXEC;

pub const EPOLL_CTL_ADD: u32 = 1;
pub const EPOLL_CTL_DEL: u32 = 2;
pub const EPOLL_CTL_MOD: u32 = 3;

pub const EPOLLIN: u32 = 0x0000_0001;
pub const EPOLLPRI: u32 = 0x0000_0002;
pub const EPOLLOUT: u32 = 0x0000_0004;
pub const EPOLLERR: u32 = 0x0000_0008;
pub const EPOLLHUP: u32 = 0x0000_0010;
pub const EPOLLNVAL: u32 = 0x0000_0020;
pub const EPOLLRDNORM: u32 = 0x0000_0040;
pub const EPOLLRDBAND: u32 = 0x0000_0080;
pub const EPOLLWRNORM: u32 = 0x0000_0100;
pub const EPOLLWRBAND: u32 = 0x0000_0200;
pub const EPOLLMSG: u32 = 0x0000_0400;
pub const EPOLLRDHUP: u32 = 0x0000_2000;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// `EP_MAX_EVENTS` (fs/eventpoll.c): the largest `maxevents` an epoll wait accepts,
/// `INT_MAX / sizeof(struct epoll_event)` with arm64's 16-byte event.
pub const EP_MAX_EVENTS: u64 = (i32::MAX as u64) / 16;

guest_struct! {
    /// `struct epoll_event` on arm64: 16 bytes, `data` aligned at 8 (x86_64 packs it into 12).
    #[derive(Default)]
    pub struct EpollEvent: 16 {
        0 => pub events: u32,
        8 => pub data: u64,
    }
}

pub const EFD_SEMAPHORE: u32 = 1;
pub const EFD_CLOEXEC: u32 = O_CLOEXEC;
pub const EFD_NONBLOCK: u32 = O_NONBLOCK;

pub const TFD_CLOEXEC: u32 = O_CLOEXEC;
pub const TFD_NONBLOCK: u32 = O_NONBLOCK;
pub const TFD_TIMER_ABSTIME: u32 = 1;
pub const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

pub const SFD_CLOEXEC: u32 = O_CLOEXEC;
pub const SFD_NONBLOCK: u32 = O_NONBLOCK;

guest_struct! {
    /// `struct signalfd_siginfo`: 128 bytes, the same on every architecture.
    #[derive(Default)]
    pub struct SignalfdSiginfo: 128 {
        0 => pub signo: u32,
        4 => pub errno: i32,
        8 => pub code: i32,
        12 => pub pid: u32,
        16 => pub uid: u32,
        20 => pub fd: i32,
        24 => pub tid: u32,
        28 => pub band: u32,
        32 => pub overrun: u32,
        36 => pub trapno: u32,
        40 => pub status: i32,
        44 => pub int: i32,
        48 => pub ptr: u64,
        56 => pub utime: u64,
        64 => pub stime: u64,
        72 => pub addr: u64,
        80 => pub addr_lsb: u16,
        84 => pub syscall: i32,
        88 => pub call_addr: u64,
        96 => pub arch: u32,
    }
}

pub const IN_CLOEXEC: u32 = O_CLOEXEC;
pub const IN_NONBLOCK: u32 = O_NONBLOCK;
/// Every event an inotify watch can ask for (`IN_ACCESS` through `IN_OPEN`).
pub const IN_ALL_EVENTS: u32 = 0x0000_0fff;
pub const IN_UNMOUNT: u32 = 0x0000_2000;
pub const IN_Q_OVERFLOW: u32 = 0x0000_4000;
pub const IN_IGNORED: u32 = 0x0000_8000;
pub const IN_ONLYDIR: u32 = 0x0100_0000;
pub const IN_DONT_FOLLOW: u32 = 0x0200_0000;
pub const IN_EXCL_UNLINK: u32 = 0x0400_0000;
pub const IN_MASK_CREATE: u32 = 0x1000_0000;
pub const IN_MASK_ADD: u32 = 0x2000_0000;
pub const IN_ISDIR: u32 = 0x4000_0000;
pub const IN_ONESHOT: u32 = 0x8000_0000;
/// Every bit `inotify_add_watch` knows (`ALL_INOTIFY_BITS`, include/linux/inotify.h): a mask
/// with none of them is EINVAL. `struct inotify_event` (wd, mask, cookie, len, then the name) is
/// the same on every architecture, so reads need no translation.
pub const ALL_INOTIFY_BITS: u32 = IN_ALL_EVENTS
    | IN_UNMOUNT
    | IN_Q_OVERFLOW
    | IN_IGNORED
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | IN_EXCL_UNLINK
    | IN_MASK_CREATE
    | IN_MASK_ADD
    | IN_ISDIR
    | IN_ONESHOT;

/// The poll bits a descriptor in `pselect6`'s read set waits for (`POLLIN_SET`, fs/select.c).
pub const SELECT_IN: u32 = EPOLLRDNORM | EPOLLRDBAND | EPOLLIN | EPOLLHUP | EPOLLERR;
/// The poll bits of the write set (`POLLOUT_SET`).
pub const SELECT_OUT: u32 = EPOLLWRBAND | EPOLLWRNORM | EPOLLOUT | EPOLLERR;
/// The poll bits of the exception set (`POLLEX_SET`).
pub const SELECT_EX: u32 = EPOLLPRI;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj::GuestObj;
    use crate::obj::testing::{offset, round_trip};
    use proptest::prelude::*;

    #[test]
    fn test_layout() {
        assert_eq!(EpollEvent::SIZE, 16);
        assert_eq!(offset(EpollEvent::OFFSETS, "data"), 8);
        assert_eq!(SignalfdSiginfo::SIZE, 128);
        assert_eq!(offset(SignalfdSiginfo::OFFSETS, "ptr"), 48);
        assert_eq!(offset(SignalfdSiginfo::OFFSETS, "arch"), 96);
        assert_eq!(EPOLL_CLOEXEC, 0x80000);
        assert_eq!(EFD_NONBLOCK, 0x800);
        assert_eq!(EP_MAX_EVENTS, 134_217_727);
        assert_eq!(ALL_INOTIFY_BITS, 0xf700_efff);
    }

    proptest! {
        #[test]
        fn prop_round_trip(events: u32, data: u64) {
            round_trip(&EpollEvent { events, data });
        }
    }
}
