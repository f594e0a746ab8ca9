//! `poll`/`ppoll` (`include/uapi/asm-generic/poll.h`): event bits and `struct pollfd`.

use crate::guest_struct;

pub const POLLIN: i16 = 0x0001;
pub const POLLPRI: i16 = 0x0002;
pub const POLLOUT: i16 = 0x0004;
pub const POLLERR: i16 = 0x0008;
pub const POLLHUP: i16 = 0x0010;
pub const POLLNVAL: i16 = 0x0020;
pub const POLLRDNORM: i16 = 0x0040;
pub const POLLRDBAND: i16 = 0x0080;
pub const POLLWRNORM: i16 = 0x0100;
pub const POLLWRBAND: i16 = 0x0200;
pub const POLLMSG: i16 = 0x0400;
pub const POLLREMOVE: i16 = 0x1000;
pub const POLLRDHUP: i16 = 0x2000;

guest_struct! {
    /// `struct pollfd`: 8 bytes.
    #[derive(Default)]
    pub struct Pollfd: 8 {
        0 => pub fd: i32,
        4 => pub events: i16,
        6 => pub revents: i16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj::GuestObj;
    use crate::obj::testing::{offset, round_trip};
    use proptest::prelude::*;

    #[test]
    fn test_layout() {
        assert_eq!(Pollfd::SIZE, 8);
        assert_eq!(offset(Pollfd::OFFSETS, "revents"), 6);
    }

    proptest! {
        #[test]
        fn prop_round_trip(fd: i32, events: i16, revents: i16) {
            round_trip(&Pollfd { fd, events, revents });
        }
    }
}
