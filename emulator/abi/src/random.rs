//! `getrandom` flags (`include/uapi/linux/random.h`).

pub const GRND_NONBLOCK: u32 = 0x0001;
pub const GRND_RANDOM: u32 = 0x0002;
/// Linux 5.6: never block, even before the pool is initialised.
pub const GRND_INSECURE: u32 = 0x0004;
/// Every flag Linux knows; others are `EINVAL`.
pub const GRND_ALL: u32 = GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE;
