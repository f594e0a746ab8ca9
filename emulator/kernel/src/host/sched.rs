//! Scheduling, priorities, capabilities and CPU accounting of host threads and processes.
//! Guest processes are host processes and guest threads host threads, so the host keeps all of
//! it; callers pass host thread ids (`0` for the calling thread). Policies, `which` values and
//! capability bits are Linux's numbers on both sides.

use elfvisor_abi::Errno;
use elfvisor_abi::resource::Rusage;
use elfvisor_abi::time::{Timespec, Tms};

use super::check;

fn raw(nr: libc::c_long, a: [libc::c_long; 3]) -> Result<u64, Errno> {
    // SAFETY: the callers pass integers, or pointers to live buffers of the size the call uses.
    check(unsafe { libc::syscall(nr, a[0], a[1], a[2]) } as isize)
}

/// `sched_setaffinity` with the guest's mask bytes (a little-endian bit per CPU on both sides).
pub fn sched_setaffinity(tid: i32, mask: &[u8]) -> Result<u64, Errno> {
    let ptr = mask.as_ptr() as libc::c_long;
    raw(libc::SYS_sched_setaffinity, [tid as libc::c_long, mask.len() as libc::c_long, ptr])
}

/// `sched_getaffinity` into `mask`: the number of bytes the host wrote.
pub fn sched_getaffinity(tid: i32, mask: &mut [u8]) -> Result<u64, Errno> {
    let ptr = mask.as_mut_ptr() as libc::c_long;
    raw(libc::SYS_sched_getaffinity, [tid as libc::c_long, mask.len() as libc::c_long, ptr])
}

pub fn sched_getparam(tid: i32) -> Result<i32, Errno> {
    let mut prio: libc::c_int = 0;
    raw(libc::SYS_sched_getparam, [tid as libc::c_long, &raw mut prio as libc::c_long, 0])?;
    Ok(prio)
}

pub fn sched_setparam(tid: i32, prio: i32) -> Result<u64, Errno> {
    let param: libc::c_int = prio;
    raw(libc::SYS_sched_setparam, [tid as libc::c_long, &raw const param as libc::c_long, 0])
}

pub fn sched_getscheduler(tid: i32) -> Result<u64, Errno> {
    raw(libc::SYS_sched_getscheduler, [tid as libc::c_long, 0, 0])
}

pub fn sched_setscheduler(tid: i32, policy: i32, prio: i32) -> Result<u64, Errno> {
    let param: libc::c_int = prio;
    let p = &raw const param as libc::c_long;
    raw(libc::SYS_sched_setscheduler, [tid as libc::c_long, policy as libc::c_long, p])
}

pub fn sched_priority_bound(max: bool, policy: i32) -> Result<u64, Errno> {
    let nr = if max { libc::SYS_sched_get_priority_max } else { libc::SYS_sched_get_priority_min };
    raw(nr, [policy as libc::c_long, 0, 0])
}

pub fn sched_rr_get_interval(tid: i32) -> Result<Timespec, Errno> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    raw(libc::SYS_sched_rr_get_interval, [tid as libc::c_long, &raw mut ts as libc::c_long, 0])?;
    Ok(Timespec { sec: ts.tv_sec, nsec: ts.tv_nsec })
}

/// The raw `getpriority`: `20 - nice` (1..=40), which the guest's libc converts back.
pub fn getpriority(which: i32, who: i32) -> Result<u64, Errno> {
    raw(libc::SYS_getpriority, [which as libc::c_long, who as libc::c_long, 0])
}

pub fn setpriority(which: i32, who: i32, nice: i32) -> Result<u64, Errno> {
    raw(libc::SYS_setpriority, [which as libc::c_long, who as libc::c_long, nice as libc::c_long])
}

/// The CPU and NUMA node the calling thread runs on.
pub fn getcpu() -> Result<(u32, u32), Errno> {
    let (mut cpu, mut node) = (0u32, 0u32);
    raw(libc::SYS_getcpu, [&raw mut cpu as libc::c_long, &raw mut node as libc::c_long, 0])?;
    Ok((cpu, node))
}

/// `getrusage` of the process (`RUSAGE_SELF`), its waited-for children or the calling thread.
/// The emulator's own work for the guest (translation, system calls) counts as the guest's.
pub fn getrusage(who: i32) -> Result<Rusage, Errno> {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    raw(libc::SYS_getrusage, [who as libc::c_long, ru.as_mut_ptr() as libc::c_long, 0])?;
    // SAFETY: the call succeeded and filled the structure (it started zeroed).
    Ok(super::process::guest_rusage(&unsafe { ru.assume_init() }))
}

/// `times`: the clock ticks since an arbitrary point, and the process's and its children's
/// times.
pub fn times() -> Result<(u64, Tms), Errno> {
    let mut t = libc::tms { tms_utime: 0, tms_stime: 0, tms_cutime: 0, tms_cstime: 0 };
    // SAFETY: `t` is a live struct tms. The result is a clock_t that may look negative.
    let ticks = unsafe { libc::syscall(libc::SYS_times, &raw mut t) };
    if ticks == -1 {
        return Err(elfvisor_host::last_errno());
    }
    let tms =
        Tms { utime: t.tms_utime, stime: t.tms_stime, cutime: t.tms_cutime, cstime: t.tms_cstime };
    Ok((ticks as u64, tms))
}

/// `capget`/`capset` with the guest's header (version, pid) and data words (three per
/// capability word set: effective, permitted, inheritable; the same layout on both sides).
pub fn capability(
    set: bool,
    header: &mut [u32; 2],
    data: Option<&mut [u32]>,
) -> Result<u64, Errno> {
    let nr = if set { libc::SYS_capset } else { libc::SYS_capget };
    let data = data.map_or(0, |d| d.as_mut_ptr() as libc::c_long);
    raw(nr, [header.as_mut_ptr() as libc::c_long, data, 0])
}

/// The size of the host's `struct sched_attr` (the last field the kernel knows:
/// `sched_util_max`).
pub const SCHED_ATTR_SIZE: usize = 56;

/// `sched_setattr` with the guest's `struct sched_attr` bytes (the same layout on both sides;
/// the size field says how many). On E2BIG the host writes its own size into them.
pub fn sched_setattr(tid: i32, attr: &mut [u8], flags: u32) -> Result<u64, Errno> {
    let p = attr.as_mut_ptr() as libc::c_long;
    raw(libc::SYS_sched_setattr, [tid as libc::c_long, p, flags as libc::c_long])
}

/// `sched_getattr` into `attr` (its length is the size passed).
pub fn sched_getattr(tid: i32, attr: &mut [u8]) -> Result<u64, Errno> {
    let (p, len) = (attr.as_mut_ptr() as libc::c_long, attr.len() as libc::c_long);
    // SAFETY: `attr` is a live buffer of `len` bytes.
    super::check(
        unsafe { libc::syscall(libc::SYS_sched_getattr, tid as libc::c_long, p, len, 0) } as isize
    )
}

pub fn ioprio_get(which: i32, who: i32) -> Result<u64, Errno> {
    raw(libc::SYS_ioprio_get, [which as libc::c_long, who as libc::c_long, 0])
}

pub fn ioprio_set(which: i32, who: i32, prio: i32) -> Result<u64, Errno> {
    raw(libc::SYS_ioprio_set, [which as libc::c_long, who as libc::c_long, prio as libc::c_long])
}
