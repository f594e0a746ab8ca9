//! Processes and threads: `clone`/`clone3` (decoded to one `CloneArgs`, then a thread, a host
//! fork or a respawn fork), `wait4`/`waitid`, `execve`/`execveat`.
//!
//! Guest pids are host pids, and a guest child is always its own emulator process, so the host
//! kernel keeps parentage, zombies, exit statuses and deaths by signal exactly as Linux would.

use elfvisor_abi::fcntl::{AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW};
use elfvisor_abi::limits::MAX_ARG_STRLEN;
use elfvisor_abi::sched::{
    self, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_CLEAR_SIGHAND, CLONE_DETACHED,
    CLONE_FILES, CLONE_FS, CLONE_INTO_CGROUP, CLONE_IO, CLONE_LEGACY_FLAGS, CLONE_NEWCGROUP,
    CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER,
    CLONE_NEWUTS, CLONE_PARENT, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_PTRACE, CLONE_SETTLS,
    CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD, CLONE_UNTRACED, CLONE_VFORK, CLONE_VM, CSIGNAL,
};
use elfvisor_abi::signal::{CLD_DUMPED, CLD_EXITED, CLD_KILLED};
use elfvisor_abi::wait::{
    P_PIDFD, WALL, WCLONE, WCONTINUED, WEXITED, WNOHANG, WNOTHREAD, WNOWAIT, WUNTRACED,
};
use elfvisor_abi::{Errno, GuestAddr};

use super::ctx::{Ctx, SysResult};
use crate::fork::{CloneArgs, ForkStrategy};
use crate::host;

/// The flag checks Linux makes before it builds anything, the same for `clone` and `clone3`
/// (`kernel_clone`, then the start of `copy_process`). They come before any question of what
/// elfvisor supports, so a combination Linux refuses gets Linux's `EINVAL` whatever it asks for.
fn check_linux_flags(flags: u64, pidfd: u64, parent_tid: u64) -> Result<(), Errno> {
    let all = |f: u64| flags & f == f;
    let any = |f: u64| flags & f != 0;
    // kernel_clone: the pidfd and the parent's tid cannot share one word.
    if all(CLONE_PIDFD | CLONE_PARENT_SETTID) && pidfd == parent_tid {
        return Err(Errno::EINVAL);
    }
    // copy_process: a new mount or user namespace cannot share the filesystem context; a
    // thread shares the signal actions, which need a shared address space; a thread stays in
    // its pid and user namespace; a pidfd is not for threads, and CLONE_DETACHED is reserved.
    if all(CLONE_NEWNS | CLONE_FS) || all(CLONE_NEWUSER | CLONE_FS) {
        return Err(Errno::EINVAL);
    }
    if any(CLONE_THREAD) && !any(CLONE_SIGHAND) {
        return Err(Errno::EINVAL);
    }
    if any(CLONE_SIGHAND) && !any(CLONE_VM) {
        return Err(Errno::EINVAL);
    }
    if any(CLONE_THREAD) && any(CLONE_NEWUSER | CLONE_NEWPID) {
        return Err(Errno::EINVAL);
    }
    if any(CLONE_PIDFD) && any(CLONE_DETACHED | CLONE_THREAD) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Every clone, its arguments past Linux's checks: a thread of this process, or a new process
/// by the process's fork strategy. Nothing here touches the caller's registers: a clone that
/// fails changes only x0.
fn clone_with(ctx: &mut Ctx<'_>, args: CloneArgs) -> SysResult {
    if args.has(CLONE_PIDFD) {
        // pidfds are not served.
        return Err(Errno::ENOSYS);
    }
    // Flags that change nothing here: CLONE_DETACHED is ignored by Linux, nothing traces a
    // guest (CLONE_PTRACE, CLONE_UNTRACED), and CLONE_IO only shares I/O scheduling.
    let harmless = CLONE_DETACHED | CLONE_PTRACE | CLONE_UNTRACED | CLONE_IO;
    // What a thread and a process both may ask for: the address space, vfork's wait, the TLS
    // and the tid words.
    let common = harmless
        | CLONE_VM
        | CLONE_VFORK
        | CLONE_SETTLS
        | CLONE_PARENT_SETTID
        | CLONE_CHILD_CLEARTID
        | CLONE_CHILD_SETTID;
    if args.has(CLONE_THREAD) {
        let known = common
            | CLONE_FS
            | CLONE_FILES
            | CLONE_SIGHAND
            | CLONE_THREAD
            | CLONE_SYSVSEM
            | CLONE_PARENT;
        if args.flags & !known != 0 {
            return Err(Errno::EINVAL);
        }
        return crate::run::spawn_thread(ctx.proc, ctx.cpu, args).map(u64::from);
    }
    if args.has(CLONE_SIGHAND | CLONE_FS | CLONE_FILES) {
        // Sharing these between processes (not threads) is not supported.
        return Err(Errno::ENOSYS);
    }
    if args.has(CLONE_VM) && !args.has(CLONE_VFORK) {
        return Err(Errno::ENOSYS);
    }
    if args.flags & !(common | CSIGNAL) != 0 {
        return Err(Errno::EINVAL);
    }
    // A debugger's breakpoints (`--gdb`) stay out of the child's memory, unless the debugger
    // follows the child.
    let handover = crate::gdb::fork_begin(ctx.proc);
    let forked = if ctx.proc.group().fork_strategy() == ForkStrategy::Host {
        crate::fork::host::fork(ctx.proc, ctx.cpu, args)
    } else {
        crate::fork::respawn::fork(ctx.proc, ctx.cpu, args)
    };
    crate::gdb::fork_end(ctx.proc, ctx.cpu, handover);
    if ctx.proc.group().fork_strategy() == ForkStrategy::Host {
        return forked.map(u64::from);
    }
    let pid = forked?;
    if args.has(CLONE_PARENT_SETTID) {
        let _ = ctx.write_obj(args.parent_tid, &pid);
    }
    Ok(u64::from(pid))
}

pub fn clone(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    // aarch64: clone(flags, newsp, parent_tidptr, tls, child_tidptr). Linux reads the flags as
    // 32 bits, the exit signal in their low byte, and a pidfd goes where parent_tidptr points
    // (the clone syscall in kernel/fork.c).
    let flags = a[0] & CLONE_LEGACY_FLAGS;
    check_linux_flags(flags & !CSIGNAL, a[2], a[2])?;
    let args = CloneArgs { flags, stack: a[1], parent_tid: a[2], tls: a[3], child_tid: a[4] };
    clone_with(ctx, args)
}

pub fn clone3(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    // copy_clone_args_from_user: more than a page is E2BIG, less than the first version
    // EINVAL; bytes past the latest version must be zero (E2BIG).
    let size = sched::CloneArgs::check_size(a[1])?;
    let args: sched::CloneArgs = ctx.proc.mm.read().read_extensible(GuestAddr(a[0]), size)?;
    let sched::CloneArgs {
        flags,
        pidfd,
        child_tid,
        parent_tid,
        exit_signal,
        stack,
        stack_size,
        tls,
        set_tid,
        set_tid_size,
        cgroup,
    } = args;
    if set_tid_size > sched::MAX_PID_NS_LEVEL
        || (set_tid == 0 && set_tid_size != 0)
        || (set_tid != 0 && set_tid_size == 0)
    {
        return Err(Errno::EINVAL);
    }
    if exit_signal & !CSIGNAL != 0 || exit_signal > elfvisor_abi::signal::NSIG {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_INTO_CGROUP != 0
        && (cgroup > i32::MAX as u64 || size < sched::CLONE_ARGS_SIZE_VER2)
    {
        return Err(Errno::EINVAL);
    }
    if set_tid_size != 0 {
        // The pids asked for are read before anything is checked against them.
        let mut tids = vec![0u8; set_tid_size as usize * 4];
        ctx.proc.mm.read().copy_in(GuestAddr(set_tid), &mut tids)?;
    }
    // clone3_args_valid: no unknown flags; CLONE_DETACHED and the CSIGNAL bits (but
    // CLONE_NEWTIME) are not flags here; CLONE_SIGHAND and CLONE_CLEAR_SIGHAND exclude each
    // other; a thread or a CLONE_PARENT child sends no exit signal.
    let valid = sched::CLONE_LEGACY_FLAGS | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP;
    if flags & !valid != 0
        || flags & (CLONE_DETACHED | (CSIGNAL & !CLONE_NEWTIME)) != 0
        || flags & (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND) == CLONE_SIGHAND | CLONE_CLEAR_SIGHAND
        || (flags & (CLONE_THREAD | CLONE_PARENT) != 0 && exit_signal != 0)
    {
        return Err(Errno::EINVAL);
    }
    // clone3_stack_valid: a stack and its size come together, and the range must lie in the
    // user address space (access_ok); the child starts at its top.
    let top = match (stack, stack_size) {
        (0, 0) => 0,
        (0, _) | (_, 0) => return Err(Errno::EINVAL),
        (s, n) => match s.checked_add(n) {
            Some(top) if top <= elfvisor_mm::GUEST_TASK_SIZE => top,
            _ => return Err(Errno::EINVAL),
        },
    };
    check_linux_flags(flags, pidfd, parent_tid)?;
    if set_tid_size != 0 || flags & (CLONE_NEWTIME | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) != 0 {
        // Chosen pids, time namespaces, handler resets and cgroups are not served.
        return Err(Errno::EINVAL);
    }
    clone_with(
        ctx,
        CloneArgs { flags: flags | exit_signal, stack: top, parent_tid, child_tid, tls },
    )
}

fn wait_options(options: u64, allowed: u32) -> Result<i32, Errno> {
    if options & !u64::from(allowed) != 0 {
        return Err(Errno::EINVAL);
    }
    // The option bits are Linux's on both sides.
    Ok(options as u32 as i32)
}

pub fn wait4(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let options = wait_options(a[2], WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE)?;
    let (pid, status, rusage) = host::wait4(a[0] as i32, options)?;
    if pid != 0 && (libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
        ctx.proc.group().respawn().controls.remove(&pid);
    }
    if pid != 0 && a[1] != 0 {
        ctx.write_obj(a[1], &status)?;
    }
    if a[3] != 0 {
        ctx.write_obj(a[3], &rusage)?;
    }
    Ok(u64::from(pid))
}

pub fn waitid(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let allowed = WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE;
    let options = wait_options(a[3], allowed)?;
    if a[3] & u64::from(WEXITED | WUNTRACED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    // P_ALL, P_PID, P_PGID, P_PIDFD: Linux's numbers on both sides.
    if a[0] > u64::from(P_PIDFD) {
        return Err(Errno::EINVAL);
    }
    // A pidfd is the guest's descriptor: the host waits on the host one behind it.
    let id = if a[0] == u64::from(P_PIDFD) { ctx.fd(a[1])? as u32 } else { a[1] as u32 };
    let (info, rusage) = host::waitid(a[0] as i32, id, options)?;
    let ended = matches!(info.code, CLD_EXITED | CLD_KILLED | CLD_DUMPED);
    if a[3] & u64::from(WNOWAIT) == 0
        && ended
        && let Some(pid) = info.pid()
    {
        ctx.proc.group().respawn().controls.remove(&(pid as u32));
    }
    if a[2] != 0 {
        ctx.write_obj(a[2], &info)?;
    }
    if a[4] != 0 {
        ctx.write_obj(a[4], &rusage)?;
    }
    Ok(0)
}

/// Reads a NULL-terminated guest array of string pointers (argv, envp).
fn string_array(ctx: &Ctx<'_>, addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
    /// Linux's limit on the total size of argv and envp strings (ARG_MAX with an 8 MiB stack).
    const MAX_TOTAL: usize = 2 << 20;
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut total = 0;
    for i in 0.. {
        let ptr = ctx.read_u64(addr + 8 * i)?;
        if ptr == 0 {
            break;
        }
        let s = ctx
            .proc
            .mm
            .read()
            .read_cstr(GuestAddr(ptr), MAX_ARG_STRLEN)
            .map_err(|e| if e == Errno::ENAMETOOLONG { Errno::E2BIG } else { e })?;
        total += s.len() + 1 + 8;
        if total > MAX_TOTAL {
            return Err(Errno::E2BIG);
        }
        out.push(s);
    }
    Ok(out)
}

fn exec_common(ctx: &mut Ctx<'_>, path: Vec<u8>, argv_addr: u64, envp_addr: u64) -> SysResult {
    // The new image's name is the last part of the path as given (begin_new_exec:
    // kbasename(bprm->filename)), taken before /proc/self/exe is resolved.
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default().to_vec();
    // The host's /proc/self/exe is the emulator; the guest means its own program (busybox's
    // shell runs its applets this way).
    let own = format!("/proc/{}/exe", ctx.proc.pid());
    let path = if path == b"/proc/self/exe" || path == own.as_bytes() {
        ctx.proc.group().exe().as_os_str().as_encoded_bytes().to_vec()
    } else {
        path
    };
    let mut argv = string_array(ctx, argv_addr)?;
    if argv.is_empty() {
        // Linux 6.1's do_execveat_common: a program never starts with argc 0; an empty
        // argv[0] is put in (and the kernel warns once).
        argv.push(Vec::new());
    }
    let envp = string_array(ctx, envp_addr)?;
    let randomize = ctx.proc.group().personality() & elfvisor_abi::system::ADDR_NO_RANDOMIZE == 0;
    let limits = ctx.proc.mm.read().vm_limits();
    let hwcaps = ctx.proc.group().hwcaps();
    let prepared = crate::exec::prepare(&path, argv, envp, hwcaps, randomize, limits)?;
    // The point of no return: every other thread ends first (EAGAIN, and this thread's end,
    // when another thread's execve got there first). The run loop then switches to the new
    // image, on the process's first host thread (`run::take_over`).
    if ctx.proc.group().is_multithreaded() || ctx.proc.is_killed() {
        ctx.proc.group().de_thread(ctx.proc.handle())?;
    }
    ctx.proc.pending_exec = Some(Box::new(prepared));
    ctx.proc.set_comm(&name);
    host::set_thread_name(ctx.proc.comm());
    Ok(0)
}

pub fn execve(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    // The guest's name: exec::prepare looks it up through the sysroot, and AT_EXECFN keeps it.
    let path = ctx.guest_path(a[0])?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    exec_common(ctx, path, a[1], a[2])
}

pub fn execveat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[4] & !u64::from(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = ctx.guest_path(a[1])?;
    let dirfd = a[0] as i32;
    let resolved = if path.first() == Some(&b'/') || dirfd == elfvisor_abi::fcntl::AT_FDCWD {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        path
    } else {
        // Relative to a directory fd (or the fd itself with AT_EMPTY_PATH): name it through
        // the host's /proc.
        let host_fd = ctx.proc.fds().raw(i64::from(dirfd))?;
        let mut p = format!("/proc/self/fd/{host_fd}").into_bytes();
        if path.is_empty() {
            if a[4] & u64::from(AT_EMPTY_PATH) == 0 {
                return Err(Errno::ENOENT);
            }
        } else {
            p.push(b'/');
            p.extend_from_slice(&path);
        }
        p
    };
    exec_common(ctx, resolved, a[2], a[3])
}

/// `unshare` (kernel/fork.c, ksys_unshare and check_unshare_flags). The flags each imply what
/// Linux says they do; leaving threads, signal actions or the address space behind needs a
/// process with one thread. Namespaces need CAP_SYS_ADMIN, which the emulator never grants.
/// The working directory, umask and SysV undo list are the host thread's, so the host unshares
/// them; the descriptor table is already the caller's own in a process with one thread, and
/// cannot be split from its siblings' in one with more.
pub fn unshare(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    const NAMESPACES: u64 = CLONE_NEWNS
        | CLONE_NEWUTS
        | CLONE_NEWIPC
        | CLONE_NEWNET
        | CLONE_NEWUSER
        | CLONE_NEWPID
        | CLONE_NEWCGROUP
        | CLONE_NEWTIME;
    const KNOWN: u64 = NAMESPACES
        | CLONE_THREAD
        | CLONE_FS
        | CLONE_SIGHAND
        | CLONE_VM
        | CLONE_FILES
        | CLONE_SYSVSEM;
    let mut flags = a[0];
    if flags & !KNOWN != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_NEWUSER != 0 {
        flags |= CLONE_THREAD | CLONE_FS;
    }
    if flags & CLONE_VM != 0 {
        flags |= CLONE_SIGHAND;
    }
    if flags & CLONE_SIGHAND != 0 {
        flags |= CLONE_THREAD;
    }
    if flags & CLONE_NEWNS != 0 {
        flags |= CLONE_FS;
    }
    let alone = !ctx.proc.group().is_multithreaded();
    if flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_VM) != 0 && !alone {
        return Err(Errno::EINVAL);
    }
    if flags & NAMESPACES != 0 {
        return Err(Errno::EPERM);
    }
    if flags & CLONE_FILES != 0 && !alone {
        return Err(Errno::EINVAL);
    }
    let host_flags = flags & (CLONE_FS | CLONE_SYSVSEM);
    if host_flags != 0 {
        host::unshare(host_flags)?;
    }
    Ok(0)
}
