//! Vectored I/O (`include/uapi/linux/uio.h`).

use crate::guest_struct;

/// The most `iovec`s one call takes (`UIO_MAXIOV`); more is `EINVAL`.
pub const UIO_MAXIOV: usize = 1024;

guest_struct! {
    /// `struct iovec`: 16 bytes.
    #[derive(Default)]
    pub struct Iovec: 16 {
        0 => pub base: u64,
        8 => pub len: u64,
    }
}

/// `preadv2`/`pwritev2` flags Linux 6.1 knows (`RWF_SUPPORTED`): high priority, per-call
/// `O_DSYNC`/`O_SYNC`, no waiting, and append.
pub const RWF_SUPPORTED: u32 = 0x1f;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj::GuestObj;
    use crate::obj::testing::round_trip;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn prop_round_trip(base: u64, len: u64) {
            prop_assert_eq!(Iovec::SIZE, 16);
            round_trip(&Iovec { base, len });
        }
    }
}
