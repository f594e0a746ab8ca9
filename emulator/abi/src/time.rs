//! Clocks, timers and the time structures (`include/uapi/linux/time.h`,
//! `include/uapi/linux/time_types.h`, `include/uapi/linux/times.h`); 64-bit layouts, as on
//! aarch64 (`time_t`, `suseconds_t` and `clock_t` are `long`).

use crate::{Errno, guest_struct};

pub const CLOCK_REALTIME: u32 = 0;
pub const CLOCK_MONOTONIC: u32 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: u32 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: u32 = 3;
pub const CLOCK_MONOTONIC_RAW: u32 = 4;
pub const CLOCK_REALTIME_COARSE: u32 = 5;
pub const CLOCK_MONOTONIC_COARSE: u32 = 6;
pub const CLOCK_BOOTTIME: u32 = 7;
pub const CLOCK_REALTIME_ALARM: u32 = 8;
pub const CLOCK_BOOTTIME_ALARM: u32 = 9;
pub const CLOCK_TAI: u32 = 11;

/// `clock_nanosleep`/`timer_settime`: the time is absolute.
pub const TIMER_ABSTIME: u32 = 1;
/// A negative clock id whose low three bits (CLOCKFD_MASK) are CLOCKFD names a dynamic clock by
/// descriptor (`~fd << 3 | CLOCKFD`); any other negative id is a process's or thread's CPU clock
/// (`~pid << 3 | which`, bit 2 for a thread).
pub const CLOCKFD: i32 = 3;
pub const CLOCKFD_MASK: i32 = 7;

/// `setitimer`/`getitimer` timers.
pub const ITIMER_REAL: u32 = 0;
pub const ITIMER_VIRTUAL: u32 = 1;
pub const ITIMER_PROF: u32 = 2;

pub const NSEC_PER_SEC: i64 = 1_000_000_000;
pub const USEC_PER_SEC: i64 = 1_000_000;

guest_struct! {
    /// `struct timespec` (`__kernel_timespec` on 64-bit): 16 bytes.
    #[derive(Default)]
    pub struct Timespec: 16 {
        0 => pub sec: i64,
        8 => pub nsec: i64,
    }
}

impl Timespec {
    /// Linux's `timespec64_valid` for a duration or time the guest passes: `EINVAL` for a
    /// negative second count or nanoseconds outside `0..NSEC_PER_SEC`.
    pub fn validated(self) -> Result<Timespec, Errno> {
        if self.sec < 0 || !(0..NSEC_PER_SEC).contains(&self.nsec) {
            return Err(Errno::EINVAL);
        }
        Ok(self)
    }
}

guest_struct! {
    /// `struct timeval` (`__kernel_old_timeval` on 64-bit): 16 bytes.
    #[derive(Default)]
    pub struct Timeval: 16 {
        0 => pub sec: i64,
        8 => pub usec: i64,
    }
}

impl Timeval {
    /// As `setitimer` checks one: `EINVAL` for a negative second count or microseconds outside
    /// `0..USEC_PER_SEC`.
    pub fn validated(self) -> Result<Timeval, Errno> {
        if self.sec < 0 || !(0..USEC_PER_SEC).contains(&self.usec) {
            return Err(Errno::EINVAL);
        }
        Ok(self)
    }
}

guest_struct! {
    /// `struct itimerval` (`setitimer`, `getitimer`): 32 bytes.
    #[derive(Default)]
    pub struct Itimerval: 32 {
        0 => pub interval: Timeval,
        16 => pub value: Timeval,
    }
}

guest_struct! {
    /// `struct itimerspec` (`timer_settime`, `timerfd_settime`): 32 bytes.
    #[derive(Default)]
    pub struct Itimerspec: 32 {
        0 => pub interval: Timespec,
        16 => pub value: Timespec,
    }
}

guest_struct! {
    /// `struct timezone` (`gettimeofday`'s second argument): 8 bytes.
    #[derive(Default)]
    pub struct Timezone: 8 {
        0 => pub minuteswest: i32,
        4 => pub dsttime: i32,
    }
}

guest_struct! {
    /// `struct tms` (`times`), in clock ticks: 32 bytes.
    #[derive(Default)]
    pub struct Tms: 32 {
        0 => pub utime: i64,
        8 => pub stime: i64,
        16 => pub cutime: i64,
        24 => pub cstime: i64,
    }
}

/// `sigevent.sigev_notify`: queue the signal to the process.
pub const SIGEV_SIGNAL: i32 = 0;
/// `sigevent.sigev_notify`: no notification.
pub const SIGEV_NONE: i32 = 1;
/// `sigevent.sigev_notify`: a C library's thread notification (a signal to the kernel).
pub const SIGEV_THREAD: i32 = 2;
/// `sigevent.sigev_notify`: queue the signal to the thread `sigev_notify_thread_id`.
pub const SIGEV_THREAD_ID: i32 = 4;

guest_struct! {
    /// `struct sigevent` (`timer_create`, `mq_notify`): 64 bytes; the union after the first
    /// 16 bytes holds the target thread's id for `SIGEV_THREAD_ID`.
    pub struct Sigevent: 64 {
        0 => pub value: u64,
        8 => pub signo: i32,
        12 => pub notify: i32,
        16 => pub tid: i32,
    }
}

/// `struct __kernel_timex`: 208 bytes of the same layout on every 64-bit Linux.
pub const TIMEX_SIZE: usize = 208;
/// `timex.modes` bits that decide what an unprivileged caller may do.
pub const ADJ_OFFSET_SINGLESHOT: u32 = 0x0001;
pub const ADJ_OFFSET_READONLY: u32 = 0x2000;
pub const ADJ_ADJTIME: u32 = 0x8000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj::GuestObj;
    use crate::obj::testing::{offset, round_trip};
    use proptest::prelude::*;

    #[test]
    fn test_layouts() {
        assert_eq!((Timespec::SIZE, Timeval::SIZE, Itimerval::SIZE), (16, 16, 32));
        assert_eq!((Itimerspec::SIZE, Timezone::SIZE, Tms::SIZE), (32, 8, 32));
        assert_eq!(offset(Itimerval::OFFSETS, "value"), 16);
        assert_eq!(offset(Tms::OFFSETS, "cstime"), 24);
        let b =
            Itimerval { interval: Timeval { sec: 1, usec: 2 }, value: Timeval { sec: 3, usec: 4 } }
                .to_guest_bytes();
        assert_eq!(&b[8..16], &2i64.to_le_bytes());
        assert_eq!(&b[16..24], &3i64.to_le_bytes());
    }

    #[test]
    fn test_validation() {
        assert_eq!(Timespec { sec: 0, nsec: NSEC_PER_SEC }.validated(), Err(Errno::EINVAL));
        assert_eq!(Timespec { sec: -1, nsec: 0 }.validated(), Err(Errno::EINVAL));
        assert!(Timespec { sec: 5, nsec: NSEC_PER_SEC - 1 }.validated().is_ok());
        assert_eq!(Timeval { sec: 0, usec: -1 }.validated(), Err(Errno::EINVAL));
        assert!(Timeval { sec: 0, usec: 999_999 }.validated().is_ok());
    }

    proptest! {
        #[test]
        fn prop_round_trips(w in proptest::array::uniform4(any::<i64>()), tz: (i32, i32)) {
            round_trip(&Timespec { sec: w[0], nsec: w[1] });
            round_trip(&Timeval { sec: w[2], usec: w[3] });
            round_trip(&Itimerval {
                interval: Timeval { sec: w[0], usec: w[1] },
                value: Timeval { sec: w[2], usec: w[3] },
            });
            round_trip(&Itimerspec {
                interval: Timespec { sec: w[3], nsec: w[2] },
                value: Timespec { sec: w[1], nsec: w[0] },
            });
            round_trip(&Timezone { minuteswest: tz.0, dsttime: tz.1 });
            round_trip(&Tms { utime: w[0], stime: w[1], cutime: w[2], cstime: w[3] });
        }
    }
}
