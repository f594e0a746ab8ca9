//! Host calls about processes and threads: ids and credentials, groups and sessions, limits,
//! fork and wait, signals sent to other processes, and the emulator's own end.

use std::ffi::CStr;
use std::sync::atomic::{AtomicI32, Ordering};

use elfvisor_abi::Errno;
use elfvisor_abi::obj::GuestObj;
use elfvisor_abi::resource::Rusage;
use elfvisor_abi::signal::Siginfo;
use elfvisor_abi::time::Timeval;
use elfvisor_host::last_errno;
use elfvisor_mm::LockLimit;

use super::{check, path_call};

/// `getrandom` from the host's pool; `nonblock` is `GRND_NONBLOCK` (the guest's other flags
/// change nothing on a host whose pool is initialised).
pub fn getrandom(buf: &mut [u8], nonblock: bool) -> Result<u64, Errno> {
    let flags = if nonblock { libc::GRND_NONBLOCK } else { 0 };
    // SAFETY: `buf` is a live, writable slice.
    check(unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), flags) })
}

pub fn ids() -> (u32, u32, u32, u32) {
    // SAFETY: these calls cannot fail and take no pointers.
    unsafe { (libc::getuid(), libc::geteuid(), libc::getgid(), libc::getegid()) }
}

pub fn setpgid(pid: i32, pgid: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::setpgid(pid, pgid) })
}

pub fn getpgid(pid: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::getpgid(pid) })
}

pub fn getsid(pid: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::getsid(pid) })
}

pub fn setsid() -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::setsid() })
}

/// The host's node name (for the guest's `uname`).
pub fn nodename() -> Vec<u8> {
    let mut uts = std::mem::MaybeUninit::<libc::utsname>::zeroed();
    // SAFETY: `uts` has room for a struct utsname.
    if unsafe { libc::uname(uts.as_mut_ptr()) } != 0 {
        return b"localhost".to_vec();
    }
    // SAFETY: uname succeeded and filled it; nodename is NUL-terminated.
    let uts = unsafe { uts.assume_init() };
    // SAFETY: the field is a NUL-terminated C string inside `uts`.
    unsafe { CStr::from_ptr(uts.nodename.as_ptr()) }.to_bytes().to_vec()
}

/// The calling host thread's id.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

pub fn getppid() -> u32 {
    // SAFETY: cannot fail.
    unsafe { libc::getppid() as u32 }
}

/// The CPU time host process `pid` has used, user and system, in host clock ticks
/// (`/proc/<pid>/stat` fields 14 and 15); `None` when the process is gone or the host has no
/// such file.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat)
}

/// utime + stime of a `/proc/<pid>/stat` line. The command name (field 2) may hold spaces and
/// parentheses, so the fields are counted from the last `)`: state is field 3, utime 14.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Host clock ticks per second (the unit of [`cpu_ticks`]).
pub fn clock_ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().map_or(100, |t| t as u64)
}

pub fn sysinfo() -> Result<libc::sysinfo, Errno> {
    let mut info = std::mem::MaybeUninit::<libc::sysinfo>::zeroed();
    // SAFETY: `info` has room for a struct sysinfo.
    path_call(unsafe { libc::sysinfo(info.as_mut_ptr()) })?;
    // SAFETY: sysinfo succeeded and filled it.
    Ok(unsafe { info.assume_init() })
}

pub fn getrlimit(resource: i32) -> Result<(u64, u64), Errno> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid rlimit to fill.
    path_call(unsafe { libc::getrlimit(resource as _, &mut lim) })?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Raises this process's RLIMIT_FSIZE soft limit to its hard limit and returns the limit as it
/// was (the guest's first RLIMIT_FSIZE).
pub fn raise_fsize() -> (u64, u64) {
    raise_soft_limit(libc::RLIMIT_FSIZE as i32, (u64::MAX, u64::MAX))
}

/// Raises the soft limit of `resource` to its hard limit and returns the limit as it was
/// (`unknown` if the host does not say).
fn raise_soft_limit(resource: i32, unknown: (u64, u64)) -> (u64, u64) {
    match getrlimit(resource) {
        Ok((cur, max)) => {
            if cur < max {
                let _ = setrlimit(resource, max, max);
            }
            (cur, max)
        }
        Err(_) => unknown,
    }
}

/// This process's RLIMIT_AS, RLIMIT_DATA and RLIMIT_STACK, as the guest's first limits.
pub fn vm_limits() -> elfvisor_mm::VmLimits {
    let default = elfvisor_mm::VmLimits::default();
    elfvisor_mm::VmLimits {
        address_space: getrlimit(libc::RLIMIT_AS as i32).unwrap_or(default.address_space),
        data: getrlimit(libc::RLIMIT_DATA as i32).unwrap_or(default.data),
        stack: getrlimit(libc::RLIMIT_STACK as i32).unwrap_or(default.stack),
    }
}

pub fn setrlimit(resource: i32, cur: u64, max: u64) -> Result<u64, Errno> {
    let lim = libc::rlimit { rlim_cur: cur, rlim_max: max };
    // SAFETY: `lim` is a valid rlimit.
    path_call(unsafe { libc::setrlimit(resource as _, &lim) })
}

/// Raises this process's RLIMIT_NOFILE soft limit to its hard limit and returns the limit as it
/// was: the guest's own limit starts there, while the emulator keeps room for the host
/// descriptors it holds for the guest (shared mappings, the fork socket).
pub fn raise_nofile() -> (u64, u64) {
    raise_soft_limit(libc::RLIMIT_NOFILE as i32, (1024, 1024))
}

/// The host's `fs.nr_open`: no RLIMIT_NOFILE may exceed it (Linux's default is 1 << 20).
pub fn nr_open() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

/// Whether this process has CAP_SYS_RESOURCE in its effective set (raising a hard limit).
pub fn capable_sys_resource() -> bool {
    /// The bit of `CAP_SYS_RESOURCE` (host value).
    const HOST_CAP_SYS_RESOURCE: u32 = 24;
    capable(HOST_CAP_SYS_RESOURCE)
}

/// How much memory the guest may lock: any amount with CAP_IPC_LOCK, else the soft
/// RLIMIT_MEMLOCK (the guest's limits other than RLIMIT_NOFILE are the emulator's own).
pub fn lock_limit() -> LockLimit {
    /// The bit of `CAP_IPC_LOCK` (host value).
    const HOST_CAP_IPC_LOCK: u32 = 14;
    if capable(HOST_CAP_IPC_LOCK) {
        return LockLimit::Unlimited;
    }
    match getrlimit(libc::RLIMIT_MEMLOCK as i32) {
        Ok((cur, _)) if cur != libc::RLIM_INFINITY => LockLimit::Bytes(cur),
        _ => LockLimit::Unlimited,
    }
}

/// Whether this process may `chroot` (CAP_SYS_CHROOT in its effective set).
pub fn may_chroot() -> bool {
    /// `CAP_SYS_CHROOT`.
    const HOST_CAP_SYS_CHROOT: u32 = 18;
    capable(HOST_CAP_SYS_CHROOT)
}

/// Whether capability `bit` (below 32) is in this process's effective set.
fn capable(bit: u32) -> bool {
    /// `_LINUX_CAPABILITY_VERSION_3` (host value).
    const HOST_CAP_VERSION_3: u32 = 0x2008_0522;
    let mut header = [HOST_CAP_VERSION_3, 0u32];
    let mut data = [0u32; 6];
    // SAFETY: capget fills two `__user_cap_data_struct`s (3 u32 each) for version 3; both
    // buffers are live and big enough.
    let r = unsafe { libc::syscall(libc::SYS_capget, header.as_mut_ptr(), data.as_mut_ptr()) };
    r == 0 && data[0] & (1 << bit) != 0
}

/// Ends this host process by `sig`, the way the guest died: default disposition. A signal
/// whose default action dumps core dumps the emulator's as the host kernel decides it, with
/// the guest's RLIMIT_CORE (the emulator's own), dumpable flag and working directory, so the
/// host sets the core bit of the wait status exactly when Linux would have written the
/// guest's core; [`core_without_memory`] keeps that file to headers and notes.
pub fn die_by_signal(sig: i32) -> ! {
    if dumps_core(sig) {
        core_without_memory();
    } else {
        no_core();
    }
    // SAFETY: plain libc calls with valid arguments; `raise` with the default action ends the
    // process, and `abort` covers a signal whose default action is to ignore.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
        libc::abort();
    }
}

/// Whether `sig`'s default action dumps core (Linux's `SIG_KERNEL_COREDUMP_MASK`; the host
/// numbers these signals as the guest does).
fn dumps_core(sig: i32) -> bool {
    [
        libc::SIGQUIT,
        libc::SIGILL,
        libc::SIGTRAP,
        libc::SIGABRT,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGSEGV,
        libc::SIGXCPU,
        libc::SIGXFSZ,
        libc::SIGSYS,
    ]
    .contains(&sig)
}

/// No core file at all (a death that must not leave one). Async-signal-safe.
fn no_core() {
    let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: setrlimit with a valid, live struct.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) };
}

/// Keeps a core file of this process to its ELF headers and notes: no mapping's contents (the
/// arena would be the whole guest address space, reserved). Async-signal-safe.
pub fn core_without_memory() {
    // SAFETY: open/write/close of a NUL-terminated literal path with a live buffer.
    unsafe {
        let fd =
            libc::open(c"/proc/self/coredump_filter".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
        }
    }
}

pub fn membarrier(cmd: i32, flags: u32, cpu: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(libc::SYS_membarrier, cmd, flags, cpu) } as isize)
}

/// A `prctl` whose arguments are integers, for the options the host keeps for the guest.
pub fn prctl_int(option: i32, args: [u64; 4]) -> Result<u64, Errno> {
    let [a, b, c, d] = args.map(|v| v as libc::c_ulong);
    // SAFETY: integer arguments only.
    path_call(unsafe { libc::prctl(option, a, b, c, d) })
}

/// `PR_SET_DUMPABLE` / `PR_GET_DUMPABLE` of the emulator process, the guest's.
pub fn set_dumpable(on: u64) -> Result<u64, Errno> {
    // SAFETY: an integer-argument prctl.
    path_call(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong) })
}

pub fn dumpable() -> Result<u64, Errno> {
    // SAFETY: an integer-argument prctl.
    path_call(unsafe { libc::prctl(libc::PR_GET_DUMPABLE) })
}

/// `fork(2)` of the whole emulator process (the `host` fork strategy): the child is a
/// copy-on-write copy, unicorn instance included. Returns the child's pid in the parent and 0 in
/// the child.
pub fn fork() -> Result<u32, Errno> {
    // SAFETY: the emulator runs guest code on this one thread, so the child starts with every
    // lock and allocator state consistent; it only continues the guest's system call.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: as above; the child learns its own id before anything asks for it.
        PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
    }
    check(pid as isize).map(|p| p as u32)
}

/// What `wait4` reports: the pid, the raw status word (Linux's encoding on both sides), and
/// the resource usage.
pub fn wait4(pid: i32, options: i32) -> Result<(u32, i32, Rusage), Errno> {
    let mut status = 0;
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `status` and `ru` are valid out-parameters.
    let got = unsafe { libc::wait4(pid, &mut status, options, ru.as_mut_ptr()) };
    check(got as isize)?;
    // SAFETY: wait4 filled (or left zeroed) the rusage; it is plain old data.
    let ru = unsafe { ru.assume_init() };
    Ok((got as u32, status, guest_rusage(&ru)))
}

/// A host `struct rusage` as the guest's.
// The field types differ between hosts; the casts say what the guest gets.
#[allow(clippy::unnecessary_cast)]
pub(super) fn guest_rusage(ru: &libc::rusage) -> Rusage {
    let tv = |t: &libc::timeval| Timeval { sec: t.tv_sec as i64, usec: t.tv_usec as i64 };
    Rusage {
        utime: tv(&ru.ru_utime),
        stime: tv(&ru.ru_stime),
        maxrss: ru.ru_maxrss as i64,
        ixrss: ru.ru_ixrss as i64,
        idrss: ru.ru_idrss as i64,
        isrss: ru.ru_isrss as i64,
        minflt: ru.ru_minflt as i64,
        majflt: ru.ru_majflt as i64,
        nswap: ru.ru_nswap as i64,
        inblock: ru.ru_inblock as i64,
        oublock: ru.ru_oublock as i64,
        msgsnd: ru.ru_msgsnd as i64,
        msgrcv: ru.ru_msgrcv as i64,
        nsignals: ru.ru_nsignals as i64,
        nvcsw: ru.ru_nvcsw as i64,
        nivcsw: ru.ru_nivcsw as i64,
    }
}

/// `waitid` through the raw system call (it takes a rusage on Linux); returns the `siginfo_t`
/// (the host's layout is the guest's on every 64-bit Linux) and the resource usage.
pub fn waitid(idtype: i32, id: u32, options: i32) -> Result<(Siginfo, Rusage), Errno> {
    let mut info = [0u8; Siginfo::SIZE];
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `info` has room for a siginfo_t and `ru` for a struct rusage.
    check(unsafe {
        libc::syscall(libc::SYS_waitid, idtype, id, info.as_mut_ptr(), options, ru.as_mut_ptr())
    } as isize)?;
    // SAFETY: plain old data, zeroed or filled by the kernel.
    let ru = unsafe { ru.assume_init() };
    Ok((Siginfo::decode(&info), guest_rusage(&ru)))
}

/// `kill(2)` of another process (guest pids are host pids; signal numbers are Linux's).
pub fn kill(pid: i32, sig: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::kill(pid, sig) })
}

/// `pidfd_open` of a process (guest pids are host pids), non-blocking or not; the host
/// descriptor is close-on-exec (the guest's flag lives in its table).
pub fn pidfd_open(pid: i32, nonblock: bool) -> Result<std::os::fd::OwnedFd, Errno> {
    let flags = if nonblock { libc::O_NONBLOCK } else { 0 };
    // SAFETY: no pointers.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) } as isize)?;
    Ok(super::fs::owned(fd as i32))
}

/// `pidfd_send_signal` with an optional `siginfo_t` (the guest's bytes: the layout is the
/// same on every 64-bit Linux).
pub fn pidfd_send_signal(pidfd: i32, sig: i32, info: Option<&[u8; 128]>) -> Result<u64, Errno> {
    let ptr = info.map_or(std::ptr::null(), |i| i.as_ptr());
    // SAFETY: `ptr` is null or a live 128-byte siginfo.
    check(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd, sig, ptr, 0) } as isize)
}

/// The process a host pidfd names, from its `fdinfo` (`Pid:`, -1 once the process has been
/// reaped); EBADF for a descriptor that is no pidfd, as Linux's `pidfd_pid` answers.
pub fn pidfd_pid(pidfd: i32) -> Result<i32, Errno> {
    let info =
        std::fs::read_to_string(format!("/proc/self/fdinfo/{pidfd}")).map_err(|_| Errno::EBADF)?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or(Errno::EBADF)
}

/// Whether host process `pid` exists and is not a zombie (`/proc/<pid>/stat`'s state): a
/// process that has exited keeps no memory (Linux's `find_lock_task_mm` finds none).
pub fn has_memory(pid: i32) -> Result<bool, Errno> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|_| Errno::ESRCH)?;
    // The state follows the command name, which ends at the last ')'.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    Ok(!matches!(state, Some('Z' | 'X' | 'x')))
}

/// Whether this process has CAP_SYS_NICE in its effective set (Linux asks for it before
/// `process_madvise`, and before `move_pages` with MPOL_MF_MOVE_ALL or `migrate_pages` to
/// nodes outside the target's cpuset).
pub fn capable_sys_nice() -> bool {
    /// The bit of `CAP_SYS_NICE` (host value).
    const HOST_CAP_SYS_NICE: u32 = 23;
    capable(HOST_CAP_SYS_NICE)
}

/// `move_pages(2)` of this host process's own pages without moving them: the node of each
/// page, or a negative errno (`-EFAULT` for no page, `-ENOENT` for one not in memory), as the
/// host kernel reports them.
pub fn page_nodes(pages: &[usize]) -> Result<Vec<i32>, Errno> {
    let mut status = vec![0i32; pages.len()];
    // SAFETY: `pages` and `status` are live arrays of `pages.len()` entries; with no node list
    // the host only reads where the pages are.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_pages,
            0,
            pages.len(),
            pages.as_ptr(),
            std::ptr::null::<i32>(),
            status.as_mut_ptr(),
            0,
        )
    } as isize)?;
    Ok(status)
}

pub fn tgkill(tgid: i32, tid: i32, sig: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) } as isize)
}

/// `rt_sigqueueinfo` of the guest's siginfo to another process: the guest's `siginfo_t`
/// layout is the host's on every 64-bit Linux.
pub fn sigqueueinfo(pid: i32, sig: i32, info: &Siginfo) -> Result<u64, Errno> {
    let info = info.to_guest_bytes();
    // SAFETY: `info` is 128 live bytes, the size of a siginfo_t.
    check(unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, pid, sig, info.as_ptr()) } as isize)
}

/// `rt_tgsigqueueinfo` of the guest's siginfo to a thread of another process.
pub fn tgsigqueueinfo(tgid: i32, tid: i32, sig: i32, info: &Siginfo) -> Result<u64, Errno> {
    let info = info.to_guest_bytes();
    // SAFETY: `info` is 128 live bytes, the size of a siginfo_t.
    check(unsafe { libc::syscall(libc::SYS_rt_tgsigqueueinfo, tgid, tid, sig, info.as_ptr()) }
        as isize)
}

/// The process a host thread id belongs to (`/proc/<tid>/status`), if it exists.
pub fn tgid_of(tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}

/// Names the calling host thread (what the host's `/proc/<pid>/task/<tid>/comm` shows, and
/// `/proc/<pid>/comm` for the first thread): a guest thread's name is its host thread's.
pub fn set_thread_name(name: &[u8; 16]) {
    let mut buf = *name;
    buf[15] = 0;
    // SAFETY: PR_SET_NAME reads at most 16 bytes from the pointer, a live NUL-terminated array.
    unsafe { libc::prctl(libc::PR_SET_NAME, buf.as_ptr()) };
}

/// The calling host thread's name: the guest's, or what the guest wrote since into
/// `/proc/<pid>/comm` or `/proc/<pid>/task/<tid>/comm`, which are the host thread's files.
pub fn thread_name() -> [u8; 16] {
    let mut buf = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes to the pointer, a live 16-byte array.
    unsafe { libc::prctl(libc::PR_GET_NAME, buf.as_mut_ptr()) };
    buf[15] = 0;
    buf
}

/// `PR_SET_PDEATHSIG` on the calling host thread's process (the guest's signal numbers are
/// the host's): the host kernel sends it when the thread that created this process dies.
pub fn set_pdeathsig(sig: u64) -> Result<u64, Errno> {
    // SAFETY: an integer-argument prctl.
    path_call(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) })
}

pub fn pdeathsig() -> Result<i32, Errno> {
    let mut sig: libc::c_int = 0;
    // SAFETY: PR_GET_PDEATHSIG writes one int to the pointer, which is live.
    path_call(unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &mut sig as *mut libc::c_int) })?;
    Ok(sig)
}

/// `PR_SET_TIMERSLACK` / `PR_GET_TIMERSLACK` of the calling host thread, the guest thread's.
pub fn set_timer_slack(ns: u64) -> Result<u64, Errno> {
    // SAFETY: an integer-argument prctl.
    path_call(unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong) })
}

pub fn timer_slack() -> Result<u64, Errno> {
    // SAFETY: an integer-argument prctl; the slack is its return value.
    path_call(unsafe { libc::prctl(libc::PR_GET_TIMERSLACK) })
}

pub fn set_child_subreaper(on: bool) -> Result<u64, Errno> {
    // SAFETY: an integer-argument prctl.
    path_call(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, libc::c_ulong::from(on)) })
}

pub fn child_subreaper() -> Result<bool, Errno> {
    let mut on: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int to the pointer, which is live.
    path_call(unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut on as *mut libc::c_int) })?;
    Ok(on != 0)
}

/// The credential-changing calls, which take integer ids only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetIds {
    Uid,
    Gid,
    Reuid,
    Regid,
    Resuid,
    Resgid,
    Fsuid,
    Fsgid,
}

/// Changes the calling host thread's credentials: the host's own system call, raw (not the C
/// library's wrapper, which would change every thread's), with the guest's ids as given.
pub fn set_ids(call: SetIds, ids: &[u64]) -> Result<u64, Errno> {
    let nr = match call {
        SetIds::Uid => libc::SYS_setuid,
        SetIds::Gid => libc::SYS_setgid,
        SetIds::Reuid => libc::SYS_setreuid,
        SetIds::Regid => libc::SYS_setregid,
        SetIds::Resuid => libc::SYS_setresuid,
        SetIds::Resgid => libc::SYS_setresgid,
        SetIds::Fsuid => libc::SYS_setfsuid,
        SetIds::Fsgid => libc::SYS_setfsgid,
    };
    let arg = |i: usize| ids.get(i).map_or(0, |&v| v as u32 as libc::c_long);
    // SAFETY: every credential call above takes integers only.
    let r = unsafe { libc::syscall(nr, arg(0), arg(1), arg(2)) };
    if r < 0 { Err(last_errno()) } else { Ok(r as u64) }
}

/// `getresuid` (`gid: false`) or `getresgid`: the real, effective and saved ids.
pub fn get_res_ids(gid: bool) -> Result<[u32; 3], Errno> {
    let nr = if gid { libc::SYS_getresgid } else { libc::SYS_getresuid };
    let mut ids = [0u32; 3];
    let p = ids.as_mut_ptr();
    // SAFETY: three live u32s for the kernel to fill.
    let r = unsafe { libc::syscall(nr, p, p.add(1), p.add(2)) };
    if r < 0 { Err(last_errno()) } else { Ok(ids) }
}

/// `getgroups` into `groups` (empty: only the count); returns how many there are.
pub fn getgroups(groups: &mut [u32]) -> Result<usize, Errno> {
    // SAFETY: `groups` has room for `groups.len()` gids, the size passed.
    let r = unsafe { libc::syscall(libc::SYS_getgroups, groups.len(), groups.as_mut_ptr()) };
    if r < 0 { Err(last_errno()) } else { Ok(r as usize) }
}

/// `setgroups` for the calling host thread (raw, as `set_ids`).
pub fn setgroups(groups: &[u32]) -> Result<u64, Errno> {
    // SAFETY: `groups` holds `groups.len()` gids, the size passed.
    let r = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    if r < 0 { Err(last_errno()) } else { Ok(0) }
}

/// This host process's id, once asked of the host (0: not yet). A host fork child sets its own
/// in [`fork`] before anything else runs in it; a respawned child is a new program.
static PID: AtomicI32 = AtomicI32::new(0);

/// This host process's id, without a system call after the first: the board checks it on
/// every guest system call's way in and out. Async-signal-safe.
pub fn getpid() -> i32 {
    match PID.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: getpid has no preconditions.
            let pid = unsafe { libc::getpid() };
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// [`getpid`] as the unsigned id the board, the debugger and the task keep.
pub fn pid() -> u32 {
    getpid() as u32
}

/// `unshare` of the calling host thread's own state: its file-system context (CLONE_FS) and
/// SysV undo list (CLONE_SYSVSEM, whose adjustments the host applies as it leaves it). The
/// numbers are Linux's on both sides.
pub fn unshare(flags: u64) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(libc::SYS_unshare, flags as libc::c_long) } as isize)
}

#[cfg(test)]
mod cpu_tests {
    use super::*;

    #[test]
    fn test_the_cached_pid_is_the_host_one_in_a_fork_child_too() {
        assert_eq!(getpid(), std::process::id() as i32);
        let parent = getpid();
        match fork().unwrap() {
            0 => {
                // The child: no Rust machinery, only the answer in its exit status.
                let ok = getpid() != parent && getpid() == std::process::id() as i32;
                // SAFETY: _exit ends the child at once, running nothing of the test harness.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            child => {
                let (_, status, _) = wait4(child as i32, 0).unwrap();
                assert_eq!(status, 0, "the child saw its own pid");
            }
        }
        assert_eq!(getpid(), parent);
    }

    #[test]
    fn test_cpu_ticks_are_counted_after_the_last_parenthesis() {
        let line = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 99 0 0\n";
        assert_eq!(parse_cpu_ticks(line), Some(12));
        assert_eq!(parse_cpu_ticks("42 (short) S 1"), None);
        assert!(cpu_ticks(std::process::id()).is_some(), "this process has a stat line");
    }
}
