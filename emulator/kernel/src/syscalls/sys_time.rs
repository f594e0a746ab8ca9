//! Clocks and sleeping.

use elfvisor_abi::Errno;
use elfvisor_abi::time::{
    ADJ_ADJTIME, ADJ_OFFSET_READONLY, ADJ_OFFSET_SINGLESHOT, CLOCK_TAI, CLOCKFD, CLOCKFD_MASK,
    ITIMER_PROF, Itimerval, TIMER_ABSTIME, TIMEX_SIZE, Timespec, Timeval, Timezone,
};

use super::ctx::{Ctx, SysResult};
use crate::host;

/// A guest `struct timespec`, validated as Linux does.
pub(super) fn read_timespec(ctx: &Ctx<'_>, addr: u64) -> Result<Timespec, Errno> {
    ctx.read_obj::<Timespec>(addr)?.validated()
}

/// Guest clock ids are Linux's, and the host is Linux: the same numbers, and the same encoding
/// of the CPU clock of a process or thread (include/linux/posix-timers.h, `~pid << 3 | which`,
/// bit 2 for a thread). Every guest process and thread is a host one with the same id, so the
/// host reads the clock the id names, another process's and another thread's included, and
/// answers an id of no process or an unknown `which` as Linux does. A negative id whose low
/// three bits are CLOCKFD (3) names a dynamic clock by descriptor (clockid_to_kclock); the guest's
/// descriptor numbers are not the host's and no clock device is served, so it is EINVAL, as
/// Linux answers a descriptor that is no clock (get_clock_desc).
pub(super) fn clock_id(id: u64) -> Result<i32, Errno> {
    let id = id as i32;
    let known = (0..=CLOCK_TAI as i32).contains(&id);
    let cpu_clock = id < 0 && id & CLOCKFD_MASK != CLOCKFD;
    if known || cpu_clock { Ok(id) } else { Err(Errno::EINVAL) }
}

pub fn clock_gettime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (sec, nsec) = host::clock(clock_id(a[0])?, false)?;
    ctx.write_obj(a[1], &Timespec { sec, nsec })?;
    Ok(0)
}

pub fn clock_getres(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (sec, nsec) = host::clock(clock_id(a[0])?, true)?;
    if a[1] != 0 {
        ctx.write_obj(a[1], &Timespec { sec, nsec })?;
    }
    Ok(0)
}

pub fn gettimeofday(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[0] != 0 {
        let (sec, nsec) = host::clock(libc::CLOCK_REALTIME, false)?;
        ctx.write_obj(a[0], &Timeval { sec, usec: nsec / 1000 })?;
    }
    if a[1] != 0 {
        ctx.write_obj(a[1], &Timezone::default())?;
    }
    Ok(0)
}

fn sleep(ctx: &mut Ctx<'_>, clock: i32, flags: u64, req: u64, rem: u64) -> SysResult {
    if flags & !u64::from(TIMER_ABSTIME) != 0 {
        return Err(Errno::EINVAL);
    }
    let Timespec { mut sec, mut nsec } = read_timespec(ctx, req)?;
    let absolute = flags & u64::from(TIMER_ABSTIME) != 0;
    let host_flags = if absolute { libc::TIMER_ABSTIME } else { 0 };
    loop {
        match host::clock_nanosleep(clock, host_flags, sec, nsec) {
            Ok(()) => return Ok(0),
            Err((Errno::EINTR, (rsec, rnsec))) => {
                // A signal that runs no handler and ends nothing (Linux's restart_block): sleep
                // on for what is left, not the whole time again.
                crate::signal::delivery::drain_host(ctx.proc);
                // A debugger stopping the guest ends the sleep like a signal that runs no
                // handler; the call then starts again (its whole time, not what was left).
                if !crate::signal::delivery::has_deliverable(ctx.proc)
                    && !crate::gdb::stop_requested(ctx.proc)
                {
                    if !absolute {
                        (sec, nsec) = (rsec, rnsec);
                    }
                    continue;
                }
                if rem != 0 && !absolute {
                    ctx.write_obj(rem, &Timespec { sec: rsec, nsec: rnsec })?;
                }
                return Err(Errno::EINTR);
            }
            Err((e, _)) => return Err(e),
        }
    }
}

pub fn nanosleep(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    sleep(ctx, libc::CLOCK_MONOTONIC, 0, a[0], a[1])
}

pub fn clock_nanosleep(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let clock = clock_id(a[0])?;
    sleep(ctx, clock, a[1], a[2], a[3])
}

/// The guest's `struct itimerval` read and checked, as the host's.
fn read_itimerval(ctx: &Ctx<'_>, addr: u64) -> Result<libc::itimerval, Errno> {
    let v: Itimerval = ctx.read_obj(addr)?;
    let tv = |t: Timeval| -> Result<libc::timeval, Errno> {
        let t = t.validated()?;
        Ok(libc::timeval { tv_sec: t.sec as libc::time_t, tv_usec: t.usec as libc::suseconds_t })
    };
    Ok(libc::itimerval { it_interval: tv(v.interval)?, it_value: tv(v.value)? })
}

/// A host `struct itimerval` as the guest's.
// The field types differ between hosts; the casts say what the guest gets.
#[allow(clippy::unnecessary_cast)]
fn guest_itimerval(v: &libc::itimerval) -> Itimerval {
    let tv = |t: &libc::timeval| Timeval { sec: t.tv_sec as i64, usec: t.tv_usec as i64 };
    Itimerval { interval: tv(&v.it_interval), value: tv(&v.it_value) }
}

/// `setitimer`: the host's own interval timers; their SIGALRM/SIGVTALRM/SIGPROF reach the guest
/// through the signal forwarder (`crate::signal::forward`). `alarm` is built on ITIMER_REAL.
pub fn setitimer(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[0] > u64::from(ITIMER_PROF) {
        return Err(Errno::EINVAL);
    }
    let new = if a[1] != 0 { Some(read_itimerval(ctx, a[1])?) } else { None };
    let old = host::setitimer(a[0] as i32, new)?;
    if a[2] != 0 {
        ctx.write_obj(a[2], &guest_itimerval(&old))?;
    }
    Ok(0)
}

pub fn getitimer(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[0] > u64::from(ITIMER_PROF) {
        return Err(Errno::EINVAL);
    }
    let cur = host::getitimer(a[0] as i32)?;
    ctx.write_obj(a[1], &guest_itimerval(&cur))?;
    Ok(0)
}

/// A guest `struct timex`, read whole first as Linux does.
fn read_timex(ctx: &Ctx<'_>, addr: u64) -> Result<[u8; TIMEX_SIZE], Errno> {
    let mut tx = [0u8; TIMEX_SIZE];
    ctx.proc.mm.read().copy_in(elfvisor_abi::GuestAddr(addr), &mut tx)?;
    Ok(tx)
}

/// `adjtimex` (kernel/time/timekeeping.c, do_adjtimex and timekeeping_validate_timex): the
/// guest may read the host's clock state (modes 0, or the read-only single-shot offset) but
/// not change it, as a process without CAP_SYS_TIME; the answer is the clock state.
fn adjtime(ctx: &mut Ctx<'_>, addr: u64, mut tx: [u8; TIMEX_SIZE]) -> SysResult {
    let modes = u32::from_le_bytes([tx[0], tx[1], tx[2], tx[3]]);
    if modes & ADJ_ADJTIME != 0 {
        if modes & ADJ_OFFSET_SINGLESHOT == 0 {
            return Err(Errno::EINVAL);
        }
        if modes & ADJ_OFFSET_READONLY == 0 {
            return Err(Errno::EPERM);
        }
    } else if modes != 0 {
        return Err(Errno::EPERM);
    }
    let state = host::adjtimex(&mut tx)?;
    ctx.copy_out(addr, &tx)?;
    Ok(state)
}

pub fn adjtimex(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let tx = read_timex(ctx, a[0])?;
    adjtime(ctx, a[0], tx)
}

/// `clock_adjtime` (kernel/time/posix-timers.c): the argument is read first; CLOCK_REALTIME
/// is then `adjtimex`, the other clocks have no adjustment (EOPNOTSUPP), and an id that
/// names no clock is EINVAL.
pub fn clock_adjtime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let tx = read_timex(ctx, a[1])?;
    if clock_id(a[0])? != libc::CLOCK_REALTIME {
        return Err(Errno::EOPNOTSUPP);
    }
    adjtime(ctx, a[1], tx)
}

/// `clock_settime` (kernel/time/posix-timers.c, posix_clock_realtime_set and
/// do_sys_settimeofday64): only CLOCK_REALTIME can be set; its time is read and checked
/// first, then the caller is refused as a process without CAP_SYS_TIME.
pub fn clock_settime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if clock_id(a[0])? != libc::CLOCK_REALTIME {
        return Err(Errno::EINVAL);
    }
    let ts: Timespec = ctx.read_obj(a[1])?;
    ts.validated()?;
    if ts.sec < 0 {
        return Err(Errno::EINVAL);
    }
    Err(Errno::EPERM)
}

/// `settimeofday` (kernel/time/time.c): both arguments are read and the time checked, then
/// the caller is refused as a process without CAP_SYS_TIME (Linux checks that before the
/// time zone's range).
pub fn settimeofday(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[0] != 0 {
        let tv: Timeval = ctx.read_obj(a[0])?;
        tv.validated()?;
        if tv.sec < 0 {
            return Err(Errno::EINVAL);
        }
    }
    if a[1] != 0 {
        ctx.read_obj::<Timezone>(a[1])?;
    }
    Err(Errno::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `~pid << 3 | which`, bit 2 for a thread (include/linux/posix-timers.h).
    fn cpu_clock(pid: i32, which: i32, thread: bool) -> u64 {
        ((!pid << 3) | which | if thread { 4 } else { 0 }) as u32 as u64
    }

    #[test]
    fn test_clock_id_takes_the_named_clocks_and_cpu_clocks() {
        for id in 0..=CLOCK_TAI {
            assert_eq!(clock_id(u64::from(id)), Ok(id as i32));
        }
        assert_eq!(clock_id(12), Err(Errno::EINVAL));
        assert_eq!(clock_id(u64::MAX << 32 | 16), Err(Errno::EINVAL));
        let process = cpu_clock(1234, 2, false);
        assert_eq!(clock_id(process), Ok(process as u32 as i32));
        let thread = cpu_clock(1234, 0, true);
        assert_eq!(clock_id(thread), Ok(thread as u32 as i32));
        // A which of 3 with the thread bit is the host's to refuse (EINVAL, as Linux).
        let bad_which = cpu_clock(1234, 3, true);
        assert_eq!(clock_id(bad_which), Ok(bad_which as u32 as i32));
    }

    #[test]
    fn test_clock_id_refuses_clocks_named_by_descriptor() {
        // FD_TO_CLOCKID(fd): ~fd << 3 | CLOCKFD (3).
        let fd_clock = cpu_clock(5, 3, false);
        assert_eq!(clock_id(fd_clock), Err(Errno::EINVAL));
    }
}
