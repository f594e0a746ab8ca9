//! Process identity and limits: exit, ids, uname, rlimits, affinity, sysinfo, getrandom, prctl.

use elfvisor_abi::futex::RobustListHead;
use elfvisor_abi::limits::NGROUPS_MAX;
use elfvisor_abi::prctl::{
    PR_GET_CHILD_SUBREAPER, PR_GET_DUMPABLE, PR_GET_KEEPCAPS, PR_GET_NAME, PR_GET_NO_NEW_PRIVS,
    PR_GET_PDEATHSIG, PR_GET_TID_ADDRESS, PR_GET_TIMERSLACK, PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE, PR_SET_KEEPCAPS, PR_SET_NAME, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG,
    PR_SET_TIMERSLACK, TASK_COMM_LEN,
};
use elfvisor_abi::random::{GRND_ALL, GRND_NONBLOCK};
use elfvisor_abi::resource::{
    RLIM_NLIMITS, RLIMIT_AS, RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_STACK, Rlimit,
};
use elfvisor_abi::system::{PER_LINUX32, PER_MASK, PERSONALITY_QUERY, Sysinfo, UNAME26, Utsname};
use elfvisor_abi::{Errno, GuestAddr, GuestObj};

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
    if a[1] != RobustListHead::SIZE as u64 {
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
    ctx.write_obj(a[1], &head)?;
    ctx.write_obj(a[2], &(RobustListHead::SIZE as u64))?;
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
        ctx.write_obj(a[i], id)?;
    }
    Ok(0)
}

pub fn getresuid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    get_three(ctx, false, a)
}

pub fn getresgid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    get_three(ctx, true, a)
}

/// The gids a `getgroups` of `size` may get: never more than NGROUPS_MAX (a process cannot
/// have more), so a larger guest buffer is only ever partly filled.
fn groups_room(size: i32) -> usize {
    (size.max(0) as usize).min(NGROUPS_MAX)
}

pub fn getgroups(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let size = a[0] as i32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let mut groups = vec![0u32; groups_room(size)];
    let n = host::getgroups(&mut groups)?;
    if size > 0 {
        ctx.proc.mm.read().write_objs(GuestAddr(a[1]), &groups[..n])?;
    }
    Ok(n as u64)
}

pub fn setgroups(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let n = usize::try_from(a[0]).map_err(|_| Errno::EINVAL)?;
    let groups: Vec<u32> = ctx.proc.mm.read().read_objs(GuestAddr(a[1]), n, NGROUPS_MAX)?;
    host::setgroups(&groups)
}

/// A pid argument for the process-group calls: guest pids are host pids, so any process the
/// host lets us name works; a negative pid names no process (`find_task_by_vpid` finds none:
/// ESRCH in Linux's `setpgid`, `do_getpgid` and `getsid`).
fn any_pid(pid: u64) -> Result<i32, Errno> {
    match pid as i32 {
        p if p < 0 => Err(Errno::ESRCH),
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
    // Linux's setpgid: pid 0 is the caller, pgid 0 is pid, and only then is a negative pgid
    // EINVAL, before the pid is looked up (ESRCH): setpgid(-9, 0) is EINVAL, setpgid(-9, 5)
    // ESRCH.
    let (pid, pgid) = (a[0] as i32, a[1] as i32);
    if (if pgid == 0 { pid } else { pgid }) < 0 {
        return Err(Errno::EINVAL);
    }
    let pid = any_pid(a[0])?;
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
    let node = host::nodename();
    let release = release_for(ctx.proc.group().personality());
    let uts = Utsname::new(
        b"Linux",
        &node,
        release.as_bytes(),
        b"#1 SMP elfvisor",
        b"aarch64",
        b"(none)",
    );
    ctx.write_obj(a[0], &uts)?;
    Ok(0)
}

/// The release `uname` reports under a personality: with UNAME26 a "2.6.x" one whose x is
/// 60 above the patch level, the rest kept (kernel/sys.c, override_release).
fn release_for(personality: u32) -> String {
    if personality & UNAME26 == 0 {
        return UTS_RELEASE.to_string();
    }
    let numeric = UTS_RELEASE.find(|c: char| !c.is_ascii_digit() && c != '.');
    let (version, rest) = UTS_RELEASE.split_at(numeric.unwrap_or(UTS_RELEASE.len()));
    let patchlevel: u32 = version.split('.').nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    format!("2.6.{}{rest}", patchlevel + 60)
}

/// `personality` (kernel/exec_domain.c; arch/arm64/kernel/sys.c, arm64_personality): answers
/// the old value and sets the new one unless it is 0xffffffff (a query). PER_LINUX32 needs
/// 32-bit user code, which this CPU does not run. The value follows the process through fork
/// and exec; UNAME26 changes what `uname` reports, and the other flags are only recorded.
pub fn personality(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let value = a[0] as u32;
    if value & PER_MASK == PER_LINUX32 {
        return Err(Errno::EINVAL);
    }
    let group = ctx.proc.group();
    let old =
        if value == PERSONALITY_QUERY { group.personality() } else { group.set_personality(value) };
    Ok(u64::from(old))
}

/// RLIMIT_* numbers: the same on aarch64 and x86_64 Linux (0..RLIM_NLIMITS).
fn resource(r: u64) -> Result<i32, Errno> {
    if r < u64::from(RLIM_NLIMITS) { Ok(r as i32) } else { Err(Errno::EINVAL) }
}

/// The memory limit `res` names in the guest's address space, if it is one (they are guest
/// state: applied to the emulator they would fail its own allocations).
fn vm_limit(limits: &mut elfvisor_mm::VmLimits, res: i32) -> Option<&mut elfvisor_mm::Limit> {
    match res as u32 {
        RLIMIT_AS => Some(&mut limits.address_space),
        RLIMIT_DATA => Some(&mut limits.data),
        RLIMIT_STACK => Some(&mut limits.stack),
        _ => None,
    }
}

/// A limit as the guest sees it: RLIMIT_NOFILE is guest state (kept with the descriptor table,
/// since the emulator runs with the host's hard limit), and so are RLIMIT_FSIZE (with it, see
/// `fsize.rs`), RLIMIT_AS, RLIMIT_DATA and RLIMIT_STACK (kept with the address space, which
/// enforces them); every other limit is the host's.
pub(crate) fn get_limit(ctx: &Ctx<'_>, res: i32) -> Result<(u64, u64), Errno> {
    if res == RLIMIT_NOFILE as i32 {
        return Ok(ctx.proc.fds().nofile());
    }
    if res == RLIMIT_FSIZE as i32 {
        return Ok(ctx.proc.fds().fsize());
    }
    let mut limits = ctx.proc.mm.read().vm_limits();
    if let Some(limit) = vm_limit(&mut limits, res) {
        return Ok(*limit);
    }
    host::getrlimit(res)
}

/// Sets a limit as Linux's `do_prlimit` (kernel/sys.c) checks it: soft above hard is EINVAL, a
/// RLIMIT_NOFILE above `fs.nr_open` EPERM, and raising a hard limit needs CAP_SYS_RESOURCE.
fn set_limit(ctx: &Ctx<'_>, res: i32, cur: u64, max: u64) -> Result<(), Errno> {
    if cur > max {
        return Err(Errno::EINVAL);
    }
    let mut mm = ctx.proc.mm.write();
    let mut limits = mm.vm_limits();
    if let Some(limit) = vm_limit(&mut limits, res) {
        if max > limit.1 && !host::capable_sys_resource() {
            return Err(Errno::EPERM);
        }
        *limit = (cur, max);
        mm.set_vm_limits(limits);
        return Ok(());
    }
    drop(mm);
    if res == RLIMIT_FSIZE as i32 {
        let (_, old_max) = ctx.proc.fds().fsize();
        if max > old_max && !host::capable_sys_resource() {
            return Err(Errno::EPERM);
        }
        ctx.proc.fds().set_fsize(cur, max);
        return Ok(());
    }
    if res != RLIMIT_NOFILE as i32 {
        return host::setrlimit(res, cur, max).map(|_| ());
    }
    if max > host::nr_open() {
        return Err(Errno::EPERM);
    }
    let (_, old_max) = ctx.proc.fds().nofile();
    if max > old_max && !host::capable_sys_resource() {
        return Err(Errno::EPERM);
    }
    // The emulator's own limit never falls below the guest's.
    let (_, host_max) = host::getrlimit(res)?;
    if max > host_max {
        host::setrlimit(res, max, max)?;
    }
    ctx.proc.fds().set_nofile(cur, max);
    Ok(())
}

pub fn getrlimit(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (cur, max) = get_limit(ctx, resource(a[0])?)?;
    ctx.write_obj(a[1], &Rlimit { cur, max })?;
    Ok(0)
}

pub fn setrlimit(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let res = resource(a[0])?;
    let Rlimit { cur, max } = ctx.read_obj(a[1])?;
    set_limit(ctx, res, cur, max).map(|()| 0)
}

/// `prlimit64` (kernel/sys.c): the old limit is copied out only when the call succeeded.
pub fn prlimit64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    own_pid(ctx, a[0])?;
    let res = resource(a[1])?;
    let new = if a[2] != 0 {
        let Rlimit { cur, max } = ctx.read_obj(a[2])?;
        Some((cur, max))
    } else {
        None
    };
    let (cur, max) = get_limit(ctx, res)?;
    if let Some((new_cur, new_max)) = new {
        set_limit(ctx, res, new_cur, new_max)?;
    }
    if a[3] != 0 {
        ctx.write_obj(a[3], &Rlimit { cur, max })?;
    }
    Ok(0)
}

// The host struct's field types differ between hosts; the casts say what the guest gets.
#[allow(clippy::unnecessary_cast)]
pub fn sysinfo(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let info = host::sysinfo()?;
    let guest = Sysinfo {
        uptime: info.uptime as i64,
        loads: info.loads.map(|l| l as u64),
        totalram: info.totalram as u64,
        freeram: info.freeram as u64,
        sharedram: info.sharedram as u64,
        bufferram: info.bufferram as u64,
        totalswap: info.totalswap as u64,
        freeswap: info.freeswap as u64,
        procs: info.procs,
        totalhigh: info.totalhigh as u64,
        freehigh: info.freehigh as u64,
        mem_unit: info.mem_unit,
    };
    ctx.write_obj(a[0], &guest)?;
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
            host::set_thread_name(ctx.proc.comm());
            Ok(0)
        }
        PR_GET_NAME => {
            ctx.proc.refresh_comm();
            ctx.copy_out(a[1], ctx.proc.comm())?;
            Ok(0)
        }
        // Child subreaper: guest processes are host processes, so the host keeps it.
        PR_SET_CHILD_SUBREAPER => host::set_child_subreaper(a[1] != 0),
        PR_GET_CHILD_SUBREAPER => {
            let on = host::child_subreaper()?;
            ctx.write_obj(a[1], &i32::from(on))?;
            Ok(0)
        }
        // The parent-death signal and the timer slack belong to the host process and host
        // thread that are the guest's, so the host keeps them (prctl_set_pdeathsig refuses a
        // signal past _NSIG with EINVAL, as the host does).
        PR_SET_PDEATHSIG => {
            if a[1] > elfvisor_abi::signal::NSIG {
                return Err(Errno::EINVAL);
            }
            host::set_pdeathsig(a[1])
        }
        PR_GET_PDEATHSIG => {
            let sig = host::pdeathsig()?;
            ctx.write_obj(a[1], &sig)?;
            Ok(0)
        }
        // Whether a fatal signal dumps core: the host dumps the emulator in the guest's stead
        // (host::die_by_signal), so the host keeps it. prctl accepts only SUID_DUMP_DISABLE
        // and SUID_DUMP_USER.
        PR_SET_DUMPABLE => {
            if a[1] > 1 {
                return Err(Errno::EINVAL);
            }
            host::set_dumpable(a[1])
        }
        PR_GET_DUMPABLE => host::dumpable(),
        // Credentials belong to the host process and thread: the host keeps these flags, which
        // its execs (a respawn) honour as well (prctl in kernel/sys.c checks the same args).
        PR_SET_KEEPCAPS | PR_SET_NO_NEW_PRIVS | PR_GET_KEEPCAPS | PR_GET_NO_NEW_PRIVS => {
            let option = match a[0] as u32 {
                PR_SET_KEEPCAPS => libc::PR_SET_KEEPCAPS,
                PR_SET_NO_NEW_PRIVS => libc::PR_SET_NO_NEW_PRIVS,
                PR_GET_KEEPCAPS => libc::PR_GET_KEEPCAPS,
                _ => libc::PR_GET_NO_NEW_PRIVS,
            };
            host::prctl_int(option, [a[1], a[2], a[3], a[4]])
        }
        PR_GET_TID_ADDRESS => {
            ctx.write_obj(a[1], &ctx.proc.clear_child_tid)?;
            Ok(0)
        }
        PR_SET_TIMERSLACK => host::set_timer_slack(a[1]),
        PR_GET_TIMERSLACK => host::timer_slack(),
        _ => Err(Errno::EINVAL),
    }
}

/// `membarrier`: a barrier on the process's threads, which are host threads running guest
/// code directly, so the host's membarrier orders their guest accesses too; the commands,
/// flags and registrations are the host's (the host process is the guest process).
pub fn membarrier(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::membarrier(a[0] as i32, a[1] as u32, a[2] as i32)
}

/// `pidfd_open` (kernel/pid.c): only `PIDFD_NONBLOCK` (`O_NONBLOCK`); the descriptor is
/// close-on-exec, as Linux makes it.
pub fn pidfd_open(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[1] as u32;
    if flags & !elfvisor_abi::fcntl::O_NONBLOCK != 0 || (a[0] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    let fd = host::pidfd_open(a[0] as i32, flags != 0)?;
    Ok(ctx.proc.fds().install_host(fd, true)? as u64)
}

pub fn getrandom(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[2] & !u64::from(GRND_ALL) != 0 {
        return Err(Errno::EINVAL);
    }
    // Linux returns at most 32 MiB - 1 per call, copied out as it goes (get_random_bytes_user):
    // the bytes written before a fault are the result, EFAULT only when there are none. The
    // host buffer is one chunk, whatever size the guest asks for.
    const CHUNK: usize = 64 << 10;
    let len = (a[1] as usize).min((32 << 20) - 1);
    let nonblock = a[2] & u64::from(GRND_NONBLOCK) != 0;
    let mut buf = vec![0u8; len.min(CHUNK)];
    let mut done = 0;
    while done < len {
        let want = (len - done).min(CHUNK);
        let n = match host::getrandom(&mut buf[..want], nonblock) {
            Ok(n) => n as usize,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        // Page by page, so the count stops exactly where the guest's memory does.
        let mut copied = 0;
        while copied < n {
            let at = a[0].wrapping_add((done + copied) as u64);
            let page = elfvisor_abi::PAGE_SIZE;
            let piece = (n - copied).min((page - at % page) as usize);
            if ctx.copy_out(at, &buf[copied..copied + piece]).is_err() {
                break;
            }
            copied += piece;
        }
        done += copied;
        if copied < want {
            break;
        }
    }
    if done == 0 && len > 0 {
        return Err(Errno::EFAULT);
    }
    Ok(done as u64)
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
