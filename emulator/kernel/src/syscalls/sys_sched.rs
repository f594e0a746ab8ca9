//! Scheduling and accounting: affinity, policies and priorities (`sched_*`, `getpriority`,
//! `setpriority`), `getcpu`, `getrusage`, `times`, and the capability sets (`capget`,
//! `capset`). Guest processes and threads are host ones, so the host keeps all of it; the
//! handlers check what Linux checks before its lookup (kernel/sched/core.c, kernel/sys.c,
//! kernel/capability.c) and name threads by their host ids.

use elfvisor_abi::Errno;
use elfvisor_abi::sched::SCHED_ATTR_SIZE_VER0;

use super::ctx::{Ctx, SysResult};
use crate::host::sched as hs;

/// The host thread a pid argument names: 0 is the caller; a thread of this process is named
/// by its host id (a thread that took over the process's id in `execve` has another one);
/// any other id is another process's, and guest pids are host pids.
fn host_tid(ctx: &Ctx<'_>, pid: u64) -> Result<i32, Errno> {
    let pid = pid as i32;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 {
        return Ok(0);
    }
    Ok(ctx.proc.group().find(pid as u32).map_or(pid, |t| t.host_tid()))
}

/// The largest CPU mask the host takes (`cpumask_size()`), found by asking it for the mask.
fn host_mask_size() -> usize {
    let mut mask = vec![0u8; 8192];
    hs::sched_getaffinity(0, &mut mask).map_or(mask.len(), |n| n as usize)
}

pub fn sched_setaffinity(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let tid = host_tid(ctx, a[0])?;
    // get_user_cpu_mask: a longer mask is cut to the kernel's size, a shorter one padded.
    let len = (a[1] as usize).min(host_mask_size());
    let mut mask = vec![0u8; len];
    ctx.proc.mm.read().copy_in(elfvisor_abi::GuestAddr(a[2]), &mut mask)?;
    hs::sched_setaffinity(tid, &mask)
}

pub fn sched_getaffinity(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let len = a[1] as usize;
    // sched_getaffinity: a length of whole longs (the host checks it covers every CPU).
    if len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let tid = host_tid(ctx, a[0])?;
    let mut mask = vec![0u8; len.min(host_mask_size().max(8))];
    let n = hs::sched_getaffinity(tid, &mut mask)? as usize;
    ctx.copy_out(a[2], &mask[..n])?;
    Ok(n as u64)
}

pub fn sched_getparam(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[1] == 0 {
        return Err(Errno::EINVAL);
    }
    let prio = hs::sched_getparam(host_tid(ctx, a[0])?)?;
    ctx.write_obj(a[1], &prio)?;
    Ok(0)
}

pub fn sched_setparam(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[1] == 0 || (a[0] as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let prio: i32 = ctx.read_obj(a[1])?;
    hs::sched_setparam(host_tid(ctx, a[0])?, prio)
}

pub fn sched_setscheduler(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[2] == 0 || (a[0] as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let prio: i32 = ctx.read_obj(a[2])?;
    hs::sched_setscheduler(host_tid(ctx, a[0])?, a[1] as i32, prio)
}

pub fn sched_getscheduler(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hs::sched_getscheduler(host_tid(ctx, a[0])?)
}

pub fn sched_get_priority_max(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hs::sched_priority_bound(true, a[0] as i32)
}

pub fn sched_get_priority_min(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hs::sched_priority_bound(false, a[0] as i32)
}

pub fn sched_rr_get_interval(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let ts = hs::sched_rr_get_interval(host_tid(ctx, a[0])?)?;
    ctx.write_obj(a[1], &ts)?;
    Ok(0)
}

/// `PRIO_PROCESS` names a thread (find_task_by_vpid); the other `which` values name process
/// groups and users, the same ids on the host.
fn priority_who(ctx: &Ctx<'_>, which: u64, who: u64) -> Result<i32, Errno> {
    /// `PRIO_PROCESS` (the same number for every architecture and the host).
    const PRIO_PROCESS: u64 = 0;
    if which == PRIO_PROCESS && (who as i32) > 0 {
        return host_tid(ctx, who);
    }
    Ok(who as i32)
}

pub fn getpriority(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hs::getpriority(a[0] as i32, priority_who(ctx, a[0], a[1])?)
}

pub fn setpriority(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hs::setpriority(a[0] as i32, priority_who(ctx, a[0], a[1])?, a[2] as i32)
}

pub fn getcpu(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (cpu, node) = hs::getcpu()?;
    if a[0] != 0 {
        ctx.write_obj(a[0], &cpu)?;
    }
    if a[1] != 0 {
        ctx.write_obj(a[1], &node)?;
    }
    Ok(0)
}

pub fn getrusage(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let ru = hs::getrusage(a[0] as i32)?;
    ctx.write_obj(a[1], &ru)?;
    Ok(0)
}

pub fn times(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (ticks, tms) = hs::times()?;
    if a[0] != 0 {
        ctx.write_obj(a[0], &tms)?;
    }
    Ok(ticks)
}

/// How many `__user_cap_data_struct`s a capability header's version exchanges (none for a
/// version the kernel does not know: it answers with its own version and `EINVAL`).
fn cap_words(version: u32) -> usize {
    match version {
        0x1998_0330 => 1,
        0x2007_1026 | 0x2008_0522 => 2,
        _ => 0,
    }
}

/// `capget`/`capset` (kernel/capability.c): the header is read first; an unknown version is
/// written back as the host's own, which also decides the errors.
fn capability(ctx: &mut Ctx<'_>, a: &[u64; 6], set: bool) -> SysResult {
    let (hdr_addr, data_addr) = (a[0], a[1]);
    let version: u32 = ctx.read_obj(hdr_addr)?;
    let pid: i32 = ctx.read_obj(hdr_addr + 4)?;
    let pid = if pid > 0 { host_tid(ctx, pid as u64)? } else { pid };
    let mut header = [version, pid as u32];
    let words = cap_words(version);
    // Room for the largest version's sets; the host uses what the version says (none for an
    // unknown one, which it refuses when there is data at all).
    let mut data = [0u32; 6];
    if set && data_addr != 0 && words > 0 {
        let addr = elfvisor_abi::GuestAddr(data_addr);
        let sets = ctx.proc.mm.read().read_objs::<u32>(addr, 3 * words, 6)?;
        data[..sets.len()].copy_from_slice(&sets);
    }
    let with_data = data_addr != 0;
    let result = hs::capability(set, &mut header, with_data.then_some(&mut data[..]));
    if header[0] != version {
        ctx.write_obj(hdr_addr, &header[0])?;
    }
    let r = result?;
    if !set && with_data {
        let bytes: Vec<u8> = data[..3 * words].iter().flat_map(|w| w.to_le_bytes()).collect();
        ctx.copy_out(data_addr, &bytes)?;
    }
    Ok(r)
}

pub fn capget(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    capability(ctx, a, false)
}

pub fn capset(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    capability(ctx, a, true)
}

/// The most `sched_getattr` takes, and how much of a larger `sched_setattr` argument is handed
/// to the host (the rest must be zero, as `copy_struct_from_user` wants).
const SCHED_ATTR_MAX: usize = 4096;

/// `sched_setattr` (kernel/sched/core.c, sched_copy_attr): a size of 0 means the first
/// version; a smaller one, or a larger one whose extra bytes are not zero, is E2BIG with the
/// kernel's size written back. `struct sched_attr` is the same on every architecture, so the
/// host checks and applies the rest.
pub fn sched_setattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[1] == 0 || (a[0] as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let tid = host_tid(ctx, a[0])?;
    let given: u32 = ctx.read_obj(a[1])?;
    let size = if given == 0 { SCHED_ATTR_SIZE_VER0 } else { given as usize };
    let too_big = |ctx: &Ctx<'_>| {
        ctx.write_obj(a[1], &(hs::SCHED_ATTR_SIZE as u32))?;
        Err(Errno::E2BIG)
    };
    if size < SCHED_ATTR_SIZE_VER0 {
        return too_big(ctx);
    }
    let mut attr = vec![0u8; size.min(SCHED_ATTR_MAX)];
    ctx.proc.mm.read().copy_in(elfvisor_abi::GuestAddr(a[1]), &mut attr)?;
    let mut rest = vec![0u8; SCHED_ATTR_MAX];
    let mut at = SCHED_ATTR_MAX;
    while at < size {
        let n = (size - at).min(SCHED_ATTR_MAX);
        ctx.proc.mm.read().copy_in(elfvisor_abi::GuestAddr(a[1] + at as u64), &mut rest[..n])?;
        if rest[..n].iter().any(|&b| b != 0) {
            return too_big(ctx);
        }
        at += n;
    }
    let len = attr.len() as u32;
    attr[..4].copy_from_slice(&len.to_le_bytes());
    match hs::sched_setattr(tid, &mut attr, a[2] as u32) {
        Err(Errno::E2BIG) => too_big(ctx),
        other => other,
    }
}

/// `sched_getattr`: the caller's size is checked first; the host fills as much of
/// `struct sched_attr` as both know and says how much in its size field.
pub fn sched_getattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let size = a[2] as usize;
    if a[1] == 0 || (a[0] as i32) < 0 || !(SCHED_ATTR_SIZE_VER0..=SCHED_ATTR_MAX).contains(&size) {
        return Err(Errno::EINVAL);
    }
    if a[3] != 0 {
        return Err(Errno::EINVAL);
    }
    let mut attr = vec![0u8; size];
    hs::sched_getattr(host_tid(ctx, a[0])?, &mut attr)?;
    let filled = u32::from_le_bytes(attr[..4].try_into().unwrap_or_default()) as usize;
    ctx.copy_out(a[1], &attr[..filled.clamp(SCHED_ATTR_SIZE_VER0, size)])?;
    Ok(0)
}

/// `ioprio_get`/`ioprio_set` (block/ioprio.c): `IOPRIO_WHO_PROCESS` names a thread (0: the
/// caller), the other kinds process groups and users, the same ids on the host.
fn ioprio_who(ctx: &Ctx<'_>, which: u64, who: u64) -> Result<i32, Errno> {
    /// `IOPRIO_WHO_PROCESS` (the same number for every architecture).
    const IOPRIO_WHO_PROCESS: u64 = 1;
    if which == IOPRIO_WHO_PROCESS && (who as i32) > 0 {
        return host_tid(ctx, who);
    }
    Ok(who as i32)
}

pub fn ioprio_get(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hs::ioprio_get(a[0] as i32, ioprio_who(ctx, a[0], a[1])?)
}

pub fn ioprio_set(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hs::ioprio_set(a[0] as i32, ioprio_who(ctx, a[0], a[1])?, a[2] as i32)
}
