//! Clocks and sleeping.

use elfvisor_abi::Errno;

use super::{Ctx, SysResult};
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
fn read_timespec(ctx: &Ctx<'_>, addr: u64) -> Result<(i64, i64), Errno> {
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
    let (sec, nsec) = read_timespec(ctx, req)?;
    let host_flags = if flags & TIMER_ABSTIME != 0 { libc::TIMER_ABSTIME } else { 0 };
    match host::clock_nanosleep(clock, host_flags, sec, nsec) {
        Ok(()) => Ok(0),
        Err((Errno::EINTR, (rsec, rnsec))) => {
            if rem != 0 && flags & TIMER_ABSTIME == 0 {
                ctx.copy_out(rem, &timespec_bytes(rsec, rnsec))?;
            }
            Err(Errno::EINTR)
        }
        Err((e, _)) => Err(e),
    }
}

pub fn nanosleep(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    sleep(ctx, libc::CLOCK_MONOTONIC, 0, a[0], a[1])
}

pub fn clock_nanosleep(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let clock = clock_id(a[0])?;
    sleep(ctx, clock, a[1], a[2], a[3])
}
