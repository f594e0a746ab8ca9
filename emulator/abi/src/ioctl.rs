//! Terminal and descriptor `ioctl`s (`include/uapi/asm-generic/ioctls.h`,
//! `include/uapi/asm-generic/termbits.h`), with the structures they pass. aarch64 uses the
//! generic numbers, which x86_64 shares.

use crate::guest_struct;

pub const TCGETS: u32 = 0x5401;
pub const TCSETS: u32 = 0x5402;
pub const TCSETSW: u32 = 0x5403;
pub const TCSETSF: u32 = 0x5404;
/// `struct termios2` requests (`_IOR`/`_IOW('T', 0x2A..0x2D, struct termios2)`): the same
/// numbers on x86_64, whose `termios2` is the same 44 bytes.
pub const TCGETS2: u32 = 0x802c_542a;
pub const TCSETS2: u32 = 0x402c_542b;
pub const TCSETSW2: u32 = 0x402c_542c;
pub const TCSETSF2: u32 = 0x402c_542d;
pub const TIOCSCTTY: u32 = 0x540e;
pub const TIOCGPGRP: u32 = 0x540f;
pub const TIOCSPGRP: u32 = 0x5410;
pub const TIOCGWINSZ: u32 = 0x5413;
pub const TIOCSWINSZ: u32 = 0x5414;
pub const FIONREAD: u32 = 0x541b;
pub const TIOCNOTTY: u32 = 0x5422;
pub const FIONBIO: u32 = 0x5421;
pub const FIONCLEX: u32 = 0x5450;
pub const FIOCLEX: u32 = 0x5451;
pub const FIOASYNC: u32 = 0x5452;
/// Pseudo-terminal requests: packet mode (`int`), the pty number (`_IOR('T', 0x30, unsigned
/// int)`), the lock (`_IOW`/`_IOR('T', 0x31/0x39, int)`), packet mode read back
/// (`_IOR('T', 0x38, int)`) and opening the peer (`_IO('T', 0x41)`, the argument is open flags).
pub const TIOCPKT: u32 = 0x5420;
pub const TIOCGPTN: u32 = 0x8004_5430;
pub const TIOCSPTLCK: u32 = 0x4004_5431;
pub const TIOCGPKT: u32 = 0x8004_5438;
pub const TIOCGPTLCK: u32 = 0x8004_5439;
pub const TIOCGPTPEER: u32 = 0x5441;
/// Interface requests on a socket (`sock_ioctl` → `dev_ioctl`, net/core/dev_ioctl.c): the
/// argument is a `struct ifreq`, [`IFREQ_SIZE`] bytes on both LP64 sides (a 16-byte name, then a
/// union whose `int` index and `short` flags sit at its start).
pub const SIOCGIFNAME: u32 = 0x8910;
pub const SIOCGIFFLAGS: u32 = 0x8913;
pub const SIOCGIFINDEX: u32 = 0x8933;
pub const IFREQ_SIZE: usize = 40;

/// The control characters in the kernel's `struct termios`.
pub const NCCS: usize = 19;

guest_struct! {
    /// The kernel's `struct termios` (`TCGETS`/`TCSETS*`; not the C library's, which is
    /// longer): 36 bytes.
    pub struct Termios: 36 {
        0 => pub iflag: u32,
        4 => pub oflag: u32,
        8 => pub cflag: u32,
        12 => pub lflag: u32,
        16 => pub line: u8,
        17 => pub cc: [u8; 19],
    }
}

guest_struct! {
    /// The kernel's `struct termios2` (`TCGETS2`/`TCSETS*2`): `termios` and the input and
    /// output speeds, 44 bytes.
    pub struct Termios2: 44 {
        0 => pub iflag: u32,
        4 => pub oflag: u32,
        8 => pub cflag: u32,
        12 => pub lflag: u32,
        16 => pub line: u8,
        17 => pub cc: [u8; 19],
        36 => pub ispeed: u32,
        40 => pub ospeed: u32,
    }
}

guest_struct! {
    /// `struct winsize` (`TIOCGWINSZ`/`TIOCSWINSZ`): 8 bytes.
    #[derive(Default)]
    pub struct Winsize: 8 {
        0 => pub row: u16,
        2 => pub col: u16,
        4 => pub xpixel: u16,
        6 => pub ypixel: u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj::GuestObj;
    use crate::obj::testing::{offset, round_trip};
    use proptest::prelude::*;

    #[test]
    fn test_layouts() {
        assert_eq!(Termios::SIZE, 36);
        assert_eq!(offset(Termios::OFFSETS, "cc"), 17);
        assert_eq!(Winsize::SIZE, 8);
        assert_eq!(Termios2::SIZE, 44);
        assert_eq!(offset(Termios2::OFFSETS, "ispeed"), 36);
        // _IOR('T', 0x2A, 44 bytes): direction 2 (read) in bits 30-31, the size in 16-29.
        assert_eq!(TCGETS2, (2 << 30) | (44 << 16) | (u32::from(b'T') << 8) | 0x2a);
        assert_eq!(TCSETSF2, (1 << 30) | (44 << 16) | (u32::from(b'T') << 8) | 0x2d);
    }

    proptest! {
        #[test]
        fn prop_round_trips(f in proptest::array::uniform4(any::<u32>()), line: u8,
                            cc in proptest::array::uniform19(any::<u8>()),
                            ws in proptest::array::uniform4(any::<u16>())) {
            round_trip(&Termios { iflag: f[0], oflag: f[1], cflag: f[2], lflag: f[3], line, cc });
            round_trip(&Winsize { row: ws[0], col: ws[1], xpixel: ws[2], ypixel: ws[3] });
        }
    }
}
