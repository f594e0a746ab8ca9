//! Resource limits and usage (`include/uapi/asm-generic/resource.h`,
//! `include/uapi/linux/resource.h`).

use crate::guest_struct;
use crate::time::Timeval;

pub const RLIMIT_CPU: u32 = 0;
pub const RLIMIT_FSIZE: u32 = 1;
pub const RLIMIT_DATA: u32 = 2;
pub const RLIMIT_STACK: u32 = 3;
pub const RLIMIT_CORE: u32 = 4;
pub const RLIMIT_RSS: u32 = 5;
pub const RLIMIT_NPROC: u32 = 6;
pub const RLIMIT_NOFILE: u32 = 7;
pub const RLIMIT_MEMLOCK: u32 = 8;
pub const RLIMIT_AS: u32 = 9;
pub const RLIMIT_LOCKS: u32 = 10;
pub const RLIMIT_SIGPENDING: u32 = 11;
pub const RLIMIT_MSGQUEUE: u32 = 12;
pub const RLIMIT_NICE: u32 = 13;
pub const RLIMIT_RTPRIO: u32 = 14;
pub const RLIMIT_RTTIME: u32 = 15;
/// How many limits there are: resources at or above it are `EINVAL`.
pub const RLIM_NLIMITS: u32 = 16;
/// No limit.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// `getrusage`'s `who`.
pub const RUSAGE_SELF: i32 = 0;
pub const RUSAGE_CHILDREN: i32 = -1;
pub const RUSAGE_THREAD: i32 = 1;

guest_struct! {
    /// `struct rlimit` / `struct rlimit64` (the same on 64-bit): 16 bytes.
    #[derive(Default)]
    pub struct Rlimit: 16 {
        0 => pub cur: u64,
        8 => pub max: u64,
    }
}

guest_struct! {
    /// `struct rusage` (`wait4`, `waitid`, `getrusage`): 144 bytes.
    #[derive(Default)]
    pub struct Rusage: 144 {
        0 => pub utime: Timeval,
        16 => pub stime: Timeval,
        32 => pub maxrss: i64,
        40 => pub ixrss: i64,
        48 => pub idrss: i64,
        56 => pub isrss: i64,
        64 => pub minflt: i64,
        72 => pub majflt: i64,
        80 => pub nswap: i64,
        88 => pub inblock: i64,
        96 => pub oublock: i64,
        104 => pub msgsnd: i64,
        112 => pub msgrcv: i64,
        120 => pub nsignals: i64,
        128 => pub nvcsw: i64,
        136 => pub nivcsw: i64,
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
        assert_eq!(Rlimit::SIZE, 16);
        assert_eq!(Rusage::SIZE, 144);
        assert_eq!(offset(Rusage::OFFSETS, "maxrss"), 32);
        assert_eq!(offset(Rusage::OFFSETS, "nivcsw"), 136);
    }

    proptest! {
        #[test]
        fn prop_round_trips(cur: u64, max: u64, w in proptest::array::uniform18(any::<i64>())) {
            round_trip(&Rlimit { cur, max });
            round_trip(&Rusage {
                utime: Timeval { sec: w[0], usec: w[1] },
                stime: Timeval { sec: w[2], usec: w[3] },
                maxrss: w[4], ixrss: w[5], idrss: w[6], isrss: w[7], minflt: w[8],
                majflt: w[9], nswap: w[10], inblock: w[11], oublock: w[12], msgsnd: w[13],
                msgrcv: w[14], nsignals: w[15], nvcsw: w[16], nivcsw: w[17],
            });
        }
    }
}
