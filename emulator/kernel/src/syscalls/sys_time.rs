//! Clocks and sleeping.

use elfvisor_abi::Errno;

use super::ctx::{Ctx, SysResult};
use crate::host;

const NSEC_PER_SEC: i64 = 1_000_000_000;
const TIMER_ABSTIME: u64 = 1;

fn timespec_bytes(sec: i64, nsec: i64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&sec.to_le_bytes());
    b[8..].copy_from_slice(&nsec.to_le_bytes());
    b
}

/// A guest `struct timespec`, validated as Linux does.
pub(super) fn read_timespec(ctx: &Ctx<'_>, addr: u64) -> Result<(i64, i64), Errno> {
    let b = ctx.copy_in::<16>(addr)?;
    let sec = i64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    let nsec = i64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
    if sec < 0 || !(0..NSEC_PER_SEC).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec, nsec))
}

/// Guest clock ids are Linux's, and the host is Linux: the same numbers. Ids that name a
/// process or thread CPU clock of another process are refused.
fn clock_id(id: u64) -> Result<i32, Errno> {
    let id = id as i32;
    if (0..=11).contains(&id) { Ok(id) } else { Err(Errno::EINVAL) }
}

pub fn clock_gettime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (sec, nsec) = host::clock(clock_id(a[0])?, false)?;
    ctx.copy_out(a[1], &timespec_bytes(sec, nsec))?;
    Ok(0)
}

pub fn clock_getres(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (sec, nsec) = host::clock(clock_id(a[0])?, true)?;
    if a[1] != 0 {
        ctx.copy_out(a[1], &timespec_bytes(sec, nsec))?;
    }
    Ok(0)
}

pub fn gettimeofday(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[0] != 0 {
        let (sec, nsec) = host::clock(libc::CLOCK_REALTIME, false)?;
        ctx.copy_out(a[0], &timespec_bytes(sec, nsec / 1000))?;
    }
    if a[1] != 0 {
        ctx.copy_out(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

fn sleep(ctx: &mut Ctx<'_>, clock: i32, flags: u64, req: u64, rem: u64) -> SysResult {
    if flags & !TIMER_ABSTIME != 0 {
        return Err(Errno::EINVAL);
    }
    let (mut sec, mut nsec) = read_timespec(ctx, req)?;
    let absolute = flags & TIMER_ABSTIME != 0;
    let host_flags = if absolute { libc::TIMER_ABSTIME } else { 0 };
    loop {
        match host::clock_nanosleep(clock, host_flags, sec, nsec) {
            Ok(()) => return Ok(0),
            Err((Errno::EINTR, (rsec, rnsec))) => {
                // A signal that runs no handler and ends nothing (Linux's restart_block): sleep
                // on for what is left, not the whole time again.
                crate::signal::delivery::drain_host(ctx.proc);
                if !crate::signal::delivery::has_deliverable(ctx.proc) {
                    if !absolute {
                        (sec, nsec) = (rsec, rnsec);
                    }
                    continue;
                }
                if rem != 0 && !absolute {
                    ctx.copy_out(rem, &timespec_bytes(rsec, rnsec))?;
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

/// The guest's `struct itimerval` (two `struct timeval`s of two i64 each, as on the host's
/// 64-bit Linux) read and checked.
fn read_itimerval(ctx: &Ctx<'_>, addr: u64) -> Result<libc::itimerval, Errno> {
    let b = ctx.copy_in::<32>(addr)?;
    let word = |i: usize| i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let tv = |sec: i64, usec: i64| -> Result<libc::timeval, Errno> {
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        Ok(libc::timeval { tv_sec: sec as libc::time_t, tv_usec: usec as libc::suseconds_t })
    };
    Ok(libc::itimerval { it_interval: tv(word(0), word(1))?, it_value: tv(word(2), word(3))? })
}

// The field types differ between hosts; the casts say what the guest gets.
#[allow(clippy::unnecessary_cast)]
fn itimerval_bytes(v: &libc::itimerval) -> [u8; 32] {
    let mut b = [0u8; 32];
    let words = [
        v.it_interval.tv_sec as i64,
        v.it_interval.tv_usec as i64,
        v.it_value.tv_sec as i64,
        v.it_value.tv_usec as i64,
    ];
    for (i, w) in words.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// `setitimer`: the host's own interval timers; their SIGALRM/SIGVTALRM/SIGPROF reach the guest
/// through the signal forwarder (`crate::signal::forward`). `alarm` is built on ITIMER_REAL.
pub fn setitimer(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[0] > 2 {
        return Err(Errno::EINVAL);
    }
    let new = if a[1] != 0 { Some(read_itimerval(ctx, a[1])?) } else { None };
    let old = host::setitimer(a[0] as i32, new)?;
    if a[2] != 0 {
        ctx.copy_out(a[2], &itimerval_bytes(&old))?;
    }
    Ok(0)
}

pub fn getitimer(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[0] > 2 {
        return Err(Errno::EINVAL);
    }
    let cur = host::getitimer(a[0] as i32)?;
    ctx.copy_out(a[1], &itimerval_bytes(&cur))?;
    Ok(0)
}
