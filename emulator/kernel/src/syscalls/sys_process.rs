//! Process identity and limits: exit, ids, uname, rlimits, affinity, sysinfo, getrandom, prctl.

use elfvisor_abi::prctl::{PR_GET_NAME, PR_SET_NAME, TASK_COMM_LEN};

/// `PR_SET_CHILD_SUBREAPER` and `PR_GET_CHILD_SUBREAPER` (include/uapi/linux/prctl.h).
const PR_SET_CHILD_SUBREAPER: u32 = 36;
const PR_GET_CHILD_SUBREAPER: u32 = 37;
use elfvisor_abi::{Errno, GuestAddr};

use super::ctx::{Ctx, SysResult};
use crate::host::{self, SetIds};
use crate::task::ExitScope;
use crate::task::types::{RobustList, Termination};

/// `exit`: ends this thread; the process ends with its last thread.
pub fn exit(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    ctx.proc.request_exit(Termination::Exited((a[0] & 0xff) as i32), ExitScope::Thread);
    Ok(0)
}

pub fn exit_group(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    ctx.proc.request_exit(Termination::Exited((a[0] & 0xff) as i32), ExitScope::Group);
    Ok(0)
}

pub fn set_tid_address(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    ctx.proc.clear_child_tid = a[0];
    Ok(u64::from(ctx.proc.tid()))
}

pub fn set_robust_list(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    // sizeof(struct robust_list_head) on 64-bit.
    if a[1] != 24 {
        return Err(Errno::EINVAL);
    }
    ctx.proc.set_robust_list(RobustList { head: a[0], len: a[1] });
    Ok(0)
}

/// `get_robust_list(tid, head_ptr, len_ptr)`: this thread's (tid 0 or its own), or a sibling's.
pub fn get_robust_list(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let tid = a[0] as i32;
    if tid < 0 {
        return Err(Errno::ESRCH);
    }
    let head = if tid == 0 || tid as u32 == ctx.proc.tid() {
        ctx.proc.robust_list().head
    } else {
        ctx.proc.group().find(tid as u32).ok_or(Errno::ESRCH)?.robust_head()
    };
    ctx.copy_out(a[1], &head.to_le_bytes())?;
    // sizeof(struct robust_list_head) on 64-bit.
    ctx.copy_out(a[2], &24u64.to_le_bytes())?;
    Ok(0)
}

pub fn sched_yield(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    std::thread::yield_now();
    Ok(0)
}

pub fn getpid(ctx: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    Ok(u64::from(ctx.proc.pid()))
}

pub fn gettid(ctx: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    Ok(u64::from(ctx.proc.tid()))
}

pub fn getppid(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    Ok(u64::from(host::getppid()))
}

pub fn getuid(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    Ok(u64::from(host::ids().0))
}

pub fn geteuid(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    Ok(u64::from(host::ids().1))
}

pub fn getgid(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    Ok(u64::from(host::ids().2))
}

pub fn getegid(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    Ok(u64::from(host::ids().3))
}

// Credentials are per thread on Linux (the C library makes every thread call the kernel
// itself), so a guest thread's change is its host thread's (`host::set_ids`).

pub fn setuid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::set_ids(SetIds::Uid, &a[..1])
}

pub fn setgid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::set_ids(SetIds::Gid, &a[..1])
}

pub fn setreuid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::set_ids(SetIds::Reuid, &a[..2])
}

pub fn setregid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::set_ids(SetIds::Regid, &a[..2])
}

pub fn setresuid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::set_ids(SetIds::Resuid, &a[..3])
}

pub fn setresgid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::set_ids(SetIds::Resgid, &a[..3])
}

pub fn setfsuid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::set_ids(SetIds::Fsuid, &a[..1])
}

pub fn setfsgid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::set_ids(SetIds::Fsgid, &a[..1])
}

/// getresuid/getresgid: three ids, each written to its guest pointer.
fn get_three(ctx: &mut Ctx<'_>, gid: bool, a: &[u64; 6]) -> SysResult {
    let ids = host::get_res_ids(gid)?;
    for (i, id) in ids.iter().enumerate() {
        ctx.copy_out(a[i], &id.to_le_bytes())?;
    }
    Ok(0)
}

pub fn getresuid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    get_three(ctx, false, a)
}

pub fn getresgid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    get_three(ctx, true, a)
}

/// Linux's NGROUPS_MAX.
const NGROUPS_MAX: u64 = 65536;

/// The gids a `getgroups` of `size` may get: never more than NGROUPS_MAX (a process cannot
/// have more), so a larger guest buffer is only ever partly filled.
fn groups_room(size: i32) -> usize {
    (size.max(0) as u64).min(NGROUPS_MAX) as usize
}

pub fn getgroups(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let size = a[0] as i32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let mut groups = vec![0u32; groups_room(size)];
    let n = host::getgroups(&mut groups)?;
    if size > 0 {
        let bytes: Vec<u8> = groups[..n].iter().flat_map(|g| g.to_le_bytes()).collect();
        ctx.copy_out(a[1], &bytes)?;
    }
    Ok(n as u64)
}

pub fn setgroups(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[0] > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let mut bytes = vec![0u8; a[0] as usize * 4];
    ctx.proc.mm.read().copy_in(GuestAddr(a[1]), &mut bytes)?;
    let groups: Vec<u32> =
        bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
    host::setgroups(&groups)
}

/// A pid argument for the process-group calls: guest pids are host pids, so any process the
/// host lets us name works; negative pids are invalid.
fn any_pid(pid: u64) -> Result<i32, Errno> {
    match pid as i32 {
        p if p < 0 => Err(Errno::EINVAL),
        p => Ok(p),
    }
}

/// A pid argument naming this process (0 means "the caller"); others are not guests we run.
fn own_pid(ctx: &Ctx<'_>, pid: u64) -> Result<i32, Errno> {
    match pid as i32 {
        0 => Ok(0),
        p if p == ctx.proc.pid() as i32 => Ok(p),
        p if p < 0 => Err(Errno::EINVAL),
        _ => Err(Errno::ESRCH),
    }
}

pub fn setpgid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (pid, pgid) = (any_pid(a[0])?, a[1] as i32);
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    // A respawned child moves itself: the host refuses to let its parent do it.
    // The line is taken out while the child answers (up to a few seconds for a stopped one),
    // so the process's other threads never wait for it; it goes back unless the child is gone.
    let group = ctx.proc.group();
    let child = u32::try_from(pid).ok();
    let line = child.and_then(|p| group.respawn().controls.remove(&p));
    if let (Some(child), Some(ch)) = (child, line) {
        let answer = crate::fork::respawn::control::setpgid(&ch, pgid);
        if answer.is_some() {
            group.respawn().controls.insert(child, ch);
        }
        if let Some(answer) = answer {
            return answer;
        }
    }
    host::setpgid(pid, pgid)
}

pub fn getpgid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::getpgid(any_pid(a[0])?)
}

pub fn getsid(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::getsid(any_pid(a[0])?)
}

pub fn setsid(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    host::setsid()
}

/// The release guests see: the kernel generation whose behaviour elfvisor follows.
pub const UTS_RELEASE: &str = "6.1.0-elfvisor";

pub fn uname(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    const FIELD: usize = 65;
    let node = host::nodename();
    let fields: [&[u8]; 6] =
        [b"Linux", &node, UTS_RELEASE.as_bytes(), b"#1 SMP elfvisor", b"aarch64", b"(none)"];
    let mut buf = [0u8; FIELD * 6];
    for (i, field) in fields.iter().enumerate() {
        let n = field.len().min(FIELD - 1);
        buf[i * FIELD..i * FIELD + n].copy_from_slice(&field[..n]);
    }
    ctx.copy_out(a[0], &buf)?;
    Ok(0)
}

/// RLIMIT_* numbers: the same on aarch64 and x86_64 Linux (0..=15).
fn resource(r: u64) -> Result<i32, Errno> {
    if r < 16 { Ok(r as i32) } else { Err(Errno::EINVAL) }
}

fn rlimit_bytes(cur: u64, max: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&cur.to_le_bytes());
    b[8..].copy_from_slice(&max.to_le_bytes());
    b
}

pub fn getrlimit(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (cur, max) = host::getrlimit(resource(a[0])?)?;
    ctx.copy_out(a[1], &rlimit_bytes(cur, max))?;
    Ok(0)
}

pub fn setrlimit(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let res = resource(a[0])?;
    let b = ctx.copy_in::<16>(a[1])?;
    let (cur, max) = (
        u64::from_le_bytes(b[..8].try_into().expect("8")),
        u64::from_le_bytes(b[8..].try_into().expect("8")),
    );
    if cur > max {
        return Err(Errno::EINVAL);
    }
    host::setrlimit(res, cur, max)
}

pub fn prlimit64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    own_pid(ctx, a[0])?;
    let res = resource(a[1])?;
    let new = if a[2] != 0 {
        let b = ctx.copy_in::<16>(a[2])?;
        let cur = u64::from_le_bytes(b[..8].try_into().expect("8"));
        let max = u64::from_le_bytes(b[8..].try_into().expect("8"));
        if cur > max {
            return Err(Errno::EINVAL);
        }
        Some((cur, max))
    } else {
        None
    };
    let (cur, max) = host::getrlimit(res)?;
    if a[3] != 0 {
        ctx.copy_out(a[3], &rlimit_bytes(cur, max))?;
    }
    if let Some((cur, max)) = new {
        host::setrlimit(res, cur, max)?;
    }
    Ok(0)
}

pub fn sched_getaffinity(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    own_pid(ctx, a[0])?;
    let len = a[1] as usize;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let words = cpus.div_ceil(64);
    if len < words * 8 || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let mut mask = vec![0u8; words * 8];
    for cpu in 0..cpus {
        mask[cpu / 8] |= 1 << (cpu % 8);
    }
    ctx.copy_out(a[2], &mask)?;
    Ok(mask.len() as u64)
}

// The host struct's field types differ between hosts; the casts say what the guest gets.
#[allow(clippy::unnecessary_cast)]
pub fn sysinfo(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let info = host::sysinfo()?;
    let mut b = [0u8; 112];
    let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
    put(0, &(info.uptime as i64).to_le_bytes());
    for (i, load) in info.loads.iter().enumerate() {
        put(8 + 8 * i, &(*load as u64).to_le_bytes());
    }
    put(32, &(info.totalram as u64).to_le_bytes());
    put(40, &(info.freeram as u64).to_le_bytes());
    put(48, &(info.sharedram as u64).to_le_bytes());
    put(56, &(info.bufferram as u64).to_le_bytes());
    put(64, &(info.totalswap as u64).to_le_bytes());
    put(72, &(info.freeswap as u64).to_le_bytes());
    put(80, &info.procs.to_le_bytes());
    put(88, &(info.totalhigh as u64).to_le_bytes());
    put(96, &(info.freehigh as u64).to_le_bytes());
    put(104, &info.mem_unit.to_le_bytes());
    ctx.copy_out(a[0], &b)?;
    Ok(0)
}

/// The task name options; every other option is EINVAL, Linux's answer to an option it does not
/// know (kernel/sys.c, `prctl`).
pub fn prctl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    match a[0] as u32 {
        PR_SET_NAME => {
            // strncpy_from_user(comm, arg2, TASK_COMM_LEN - 1): no NUL needed within 15 bytes.
            let read = ctx.proc.mm.read().read_cstr(GuestAddr(a[1]), TASK_COMM_LEN - 1);
            let name = match read {
                Err(Errno::ENAMETOOLONG) => ctx.copy_in::<{ TASK_COMM_LEN - 1 }>(a[1])?.to_vec(),
                name => name?,
            };
            ctx.proc.set_comm(&name);
            Ok(0)
        }
        PR_GET_NAME => {
            ctx.copy_out(a[1], ctx.proc.comm())?;
            Ok(0)
        }
        // Child subreaper: guest processes are host processes, so the host keeps it.
        PR_SET_CHILD_SUBREAPER => host::set_child_subreaper(a[1] != 0),
        PR_GET_CHILD_SUBREAPER => {
            let on = host::child_subreaper()?;
            ctx.copy_out(a[1], &i32::from(on).to_le_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn getrandom(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    const GRND_ALL: u64 = 1 | 2 | 4;
    if a[2] & !GRND_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    // Linux returns at most 32 MiB - 1 per call.
    let len = (a[1] as usize).min((32 << 20) - 1);
    let mut buf = vec![0u8; len];
    let n = host::getrandom(&mut buf, (a[2] & 1) as u32)? as usize;
    ctx.copy_out(a[0], &buf[..n])?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_getgroups_never_makes_room_for_more_than_ngroups_max() {
        assert_eq!(groups_room(-5), 0);
        assert_eq!(groups_room(0), 0);
        assert_eq!(groups_room(32), 32);
        assert_eq!(groups_room(i32::MAX), 65536);
    }
}
