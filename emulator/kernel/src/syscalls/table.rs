//! The syscall table: one row per supported call. Dispatch, `--strace` and `elfvisor
//! --syscalls` all read it; a number without a row gets ENOSYS and one log line.

use std::sync::OnceLock;

use elfvisor_abi::{Errno, Sysno};

use super::ctx::Arg::{
    AtFlags, ClockId, CloneFlags, EpollEventIn, EpollEventsOut, EpollOp, Family, Fd, FdPairOut,
    Hex, InBuf, Int, IovecIn, IovecOut, ItimerspecIn, ItimerspecOut, Len, MapFlags, Mode,
    OpenFlags, OutBuf, Pollfds, Prot, Ptr, Resource, RlimitIn, RlimitOut, SigHow, SigactionIn,
    SigactionOut, Signal, SigsetIn, SigsetOut, SockLenPtr, SockType, SockaddrIn, SockaddrOut,
    StackIn, StackOut, StatOut, StatxMask, StatxOut, Str, TimespecIn, TimespecOut, UtsnameOut,
    WaitStatusOut, Whence,
};
use super::ctx::{Arg, Ctx, SysResult};
use super::{
    sys_clone as clone, sys_event as ev, sys_fs as fs, sys_fsmeta as meta, sys_futex as futex,
    sys_ipc as ipc, sys_mmap as mm, sys_mqueue as mq, sys_numa as numa, sys_poll as poll,
    sys_process as pr, sys_procmem as pm, sys_sched as sched, sys_shm as shm, sys_signal as sig,
    sys_socket as net, sys_time as time, sys_timer as timer,
};

/// How completely a call is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Full,
    /// Works for what programs commonly need; the note says what is missing.
    Partial(&'static str),
    /// Deliberately refused: every call answers this errno, the one Linux itself gives a process
    /// without the privilege (EPERM) or a kernel built without the feature (ENOSYS). The note
    /// says which and why.
    Refused(Errno, &'static str),
}

/// How a call a signal interrupted (the host call returned EINTR) goes on, as Linux decides
/// from the code the call returned (`arch/arm64/kernel/signal.c`, do_signal/handle_signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// -ERESTARTSYS: restarted when no handler runs, or the handler has SA_RESTART (most
    /// blocking calls).
    UnlessHandlerRefuses,
    /// -ERESTARTNOHAND (and the restart blocks of the sleeps): restarted only when no handler
    /// runs (nanosleep, clock_nanosleep, ppoll, pselect6).
    NoHandler,
    /// Plain -EINTR: never restarted (rt_sigsuspend, rt_sigtimedwait, the epoll waits).
    Never,
}

/// Whether a call first holds the process's other threads out of guest code (the quiesce of
/// `crate::task::group`): when it changes the address space their vCPUs may have cached, or
/// captures it for a fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quiesce {
    /// Other threads run on.
    No,
    /// Every call (the mmap family, brk, shmat/shmdt, execve; clone3, whose flags are in
    /// guest memory, for every kind of clone).
    Always,
    /// `clone` by its flags: a fork captures the address space; a thread does not, and a vfork
    /// quiesces only for the capture (its handler does), not while the caller waits for the
    /// child, since Linux stops only the calling thread.
    Fork,
}

pub type Handler = fn(&mut Ctx<'_>, &[u64; 6]) -> SysResult;

/// One system call.
#[derive(Debug)]
pub struct Row {
    pub nr: Sysno,
    pub handler: Handler,
    pub args: &'static [Arg],
    pub support: Support,
    /// Print the result in hex (addresses).
    pub hex_result: bool,
    /// What an interruption by a signal does to the call.
    pub restart: Restart,
    /// Whether the call holds the other threads out of guest code first.
    pub quiesce: Quiesce,
}

const fn row(nr: Sysno, handler: Handler, args: &'static [Arg], support: Support) -> Row {
    Row {
        nr,
        handler,
        args,
        support,
        hex_result: false,
        restart: Restart::UnlessHandlerRefuses,
        quiesce: Quiesce::No,
    }
}

const fn addr_row(nr: Sysno, handler: Handler, args: &'static [Arg], support: Support) -> Row {
    Row { hex_result: true, ..row(nr, handler, args, support) }
}

impl Row {
    /// The row with another [`Restart`] column.
    const fn restart(self, restart: Restart) -> Row {
        Row { restart, ..self }
    }

    /// The row with another [`Quiesce`] column.
    const fn quiesce(self, quiesce: Quiesce) -> Row {
        Row { quiesce, ..self }
    }
}

/// The handler of a refused row; never called, since dispatch answers such a row with its
/// errno before looking at the handler.
fn refused(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    Err(Errno::ENOSYS)
}

/// A refused row (see [`Support::Refused`]).
const fn refuse(nr: Sysno, args: &'static [Arg], errno: Errno, why: &'static str) -> Row {
    row(nr, refused, args, Refused(errno, why))
}

use Quiesce::{Always, Fork};
use Restart::{Never, NoHandler};
use Support::{Full, Partial, Refused};

/// What `clone` does and does not.
const CLONE_NOTE: &str = "threads; processes by the fork strategy, vfork; CLONE_FS/FILES/SIGHAND \
     only with CLONE_THREAD, CLONE_VM only with it or CLONE_VFORK; no namespaces";

/// The mlock family's note.
const LOCKS: &str =
    "recorded (MADV_DONTNEED refused, dropped at fork), RLIMIT_MEMLOCK enforced; nothing is pinned";

/// What the epoll calls do not.
const EPOLL_NOTE: &str = "two descriptors sharing one open file through dup (or fcntl \
     F_DUPFD) cannot both be registered (EEXIST); at most 1024 events per wait";

/// What the socket calls serve.
const SOCKET_NOTE: &str = "AF_UNIX, AF_INET, AF_INET6; AF_NETLINK with NETLINK_ROUTE only \
     (other protocols EPROTONOSUPPORT); other families EAFNOSUPPORT";

/// What the option calls translate.
const SOCKOPT_NOTE: &str = "SO_REUSEADDR/REUSEPORT/KEEPALIVE/RCVBUF/SNDBUF/ERROR/PEERCRED/TYPE/\
     DOMAIN/PROTOCOL/ACCEPTCONN/LINGER/RCVTIMEO/SNDTIMEO/PASSCRED/BROADCAST, TCP_NODELAY/\
     KEEPIDLE/KEEPINTVL/KEEPCNT, IP_TOS, IP_TTL, IPV6_V6ONLY; others ENOPROTOOPT, reported once";

/// What the message calls carry.
const CMSG_NOTE: &str = "control messages SCM_RIGHTS (guest descriptors) and SCM_CREDENTIALS only";

/// Refused as a kernel built without the feature: the programs that use it have a fallback.
const NO_RSEQ: &str = "as a kernel built without CONFIG_RSEQ; glibc runs without it";
const NO_AIO: &str = "as a kernel built without CONFIG_AIO; programs fall back to threads";
const NO_URING: &str = "as a kernel built without CONFIG_IO_URING; programs fall back to epoll";
const NO_KEYS: &str = "as a kernel built without CONFIG_KEYS";
const NO_LANDLOCK: &str = "as a kernel built without CONFIG_SECURITY_LANDLOCK";
const NO_PKEYS: &str = "no memory protection keys, as arm64 kernels without POE";
/// Refused as Linux refuses a process without the capability: the host's mounts, clock,
/// modules and power are not the guest's to change.
const NO_ADMIN: &str = "mounts and swap are the host's; as without CAP_SYS_ADMIN";
const NO_BOOT: &str = "as without CAP_SYS_BOOT";
const NO_MODULE: &str = "as without CAP_SYS_MODULE";
const NO_TIME: &str = "the host's clock is not the guest's to set; as without CAP_SYS_TIME";

/// What the mempolicy calls do not.
const NUMA: &str = "one node: a range's mbind policy is checked, not kept";
const MIGRATE: &str = "one node: nothing moves; a target that has exited is answered as a live one";
const MOVE_PAGES: &str = "one node: pages report node 0; another process's pages are EPERM";
/// What reaches another process's memory.
const OWN_MEMORY: &str =
    "the caller's own memory; another process's is EPERM, as under Yama's ptrace scope 3";
/// What `remap_file_pages` does not.
const REMAP: &str = "as Linux's emulation by mmap; a SysV segment's range is EINVAL";

/// Every row, in number order.
pub static TABLE: &[Row] = &[
    refuse(Sysno::io_setup, &[Int, Ptr], Errno::ENOSYS, NO_AIO),
    refuse(Sysno::io_destroy, &[Hex], Errno::ENOSYS, NO_AIO),
    refuse(Sysno::io_submit, &[Hex, Int, Ptr], Errno::ENOSYS, NO_AIO),
    refuse(Sysno::io_cancel, &[Hex, Ptr, Ptr], Errno::ENOSYS, NO_AIO),
    refuse(Sysno::io_getevents, &[Hex, Int, Int, Ptr, Ptr], Errno::ENOSYS, NO_AIO),
    row(Sysno::setxattr, meta::setxattr, &[Str, Str, Ptr, Len, Hex], Full),
    row(Sysno::lsetxattr, meta::lsetxattr, &[Str, Str, Ptr, Len, Hex], Full),
    row(Sysno::fsetxattr, meta::fsetxattr, &[Fd, Str, Ptr, Len, Hex], Full),
    row(Sysno::getxattr, meta::getxattr, &[Str, Str, Ptr, Len], Full),
    row(Sysno::lgetxattr, meta::lgetxattr, &[Str, Str, Ptr, Len], Full),
    row(Sysno::fgetxattr, meta::fgetxattr, &[Fd, Str, Ptr, Len], Full),
    row(Sysno::listxattr, meta::listxattr, &[Str, Ptr, Len], Full),
    row(Sysno::llistxattr, meta::llistxattr, &[Str, Ptr, Len], Full),
    row(Sysno::flistxattr, meta::flistxattr, &[Fd, Ptr, Len], Full),
    row(Sysno::removexattr, meta::removexattr, &[Str, Str], Full),
    row(Sysno::lremovexattr, meta::lremovexattr, &[Str, Str], Full),
    row(Sysno::fremovexattr, meta::fremovexattr, &[Fd, Str], Full),
    row(Sysno::getcwd, fs::getcwd, &[Ptr, Len], Full),
    refuse(
        Sysno::lookup_dcookie,
        &[Hex, Ptr, Len],
        Errno::ENOSYS,
        "as every kernel since 6.9, which removed it",
    ),
    row(Sysno::eventfd2, ev::eventfd2, &[Int, Hex], Full),
    row(Sysno::epoll_create1, ev::epoll_create1, &[Hex], Full),
    row(Sysno::epoll_ctl, ev::epoll_ctl, &[Fd, EpollOp, Fd, EpollEventIn], Partial(EPOLL_NOTE)),
    row(
        Sysno::epoll_pwait,
        ev::epoll_pwait,
        &[Fd, EpollEventsOut, Int, Int, SigsetIn, Len],
        Partial(EPOLL_NOTE),
    )
    .restart(Never),
    row(Sysno::dup, fs::dup, &[Fd], Full),
    row(Sysno::dup3, fs::dup3, &[Fd, Fd, Hex], Full),
    row(
        Sysno::fcntl,
        fs::fcntl,
        &[Fd, Int, Hex],
        Partial(
            "no read/write hints or F_GETOWNER_UIDS: EINVAL; F_NOTIFY is EINVAL as without CONFIG_DNOTIFY",
        ),
    ),
    row(Sysno::inotify_init1, ev::inotify_init1, &[Hex], Full),
    row(Sysno::inotify_add_watch, ev::inotify_add_watch, &[Fd, Str, Hex], Full),
    row(Sysno::inotify_rm_watch, ev::inotify_rm_watch, &[Fd, Int], Full),
    row(
        Sysno::ioctl,
        fs::ioctl,
        &[Fd, Hex, Ptr],
        Partial(
            "termios and termios2, process group, window size, controlling tty; pty number, \
             lock, packet mode and peer; FIONREAD, FIONBIO, FIOASYNC, FIOCLEX, FIONCLEX; \
             SIOCGIFNAME, SIOCGIFINDEX, SIOCGIFFLAGS; others ENOTTY, reported once",
        ),
    ),
    row(Sysno::ioprio_set, sched::ioprio_set, &[Int, Int, Hex], Full),
    row(Sysno::ioprio_get, sched::ioprio_get, &[Int, Int], Full),
    row(Sysno::flock, meta::flock, &[Fd, Hex], Full),
    row(Sysno::mknodat, fs::mknodat, &[Fd, Str, Mode, Hex], Full),
    row(Sysno::mkdirat, fs::mkdirat, &[Fd, Str, Mode], Full),
    row(Sysno::unlinkat, fs::unlinkat, &[Fd, Str, AtFlags], Full),
    row(Sysno::symlinkat, fs::symlinkat, &[Str, Fd, Str], Full),
    row(Sysno::linkat, fs::linkat, &[Fd, Str, Fd, Str, Hex], Full),
    row(Sysno::renameat, fs::renameat, &[Fd, Str, Fd, Str], Full),
    refuse(Sysno::umount2, &[Str, Hex], Errno::EPERM, NO_ADMIN),
    refuse(Sysno::mount, &[Str, Str, Str, Hex, Ptr], Errno::EPERM, NO_ADMIN),
    refuse(Sysno::pivot_root, &[Str, Str], Errno::EPERM, NO_ADMIN),
    refuse(Sysno::nfsservctl, &[], Errno::ENOSYS, "as every kernel since 3.1, which removed it"),
    row(Sysno::statfs, meta::statfs, &[Str, Ptr], Full),
    row(Sysno::fstatfs, meta::fstatfs, &[Fd, Ptr], Full),
    row(Sysno::truncate, fs::truncate, &[Str, Int], Full),
    row(Sysno::ftruncate, fs::ftruncate, &[Fd, Int], Full),
    row(Sysno::fallocate, meta::fallocate, &[Fd, Hex, Int, Int], Full),
    row(Sysno::faccessat, fs::faccessat, &[Fd, Str, Hex], Full),
    row(Sysno::chdir, fs::chdir, &[Str], Full),
    row(Sysno::fchdir, fs::fchdir, &[Fd], Full),
    row(
        Sysno::chroot,
        fs::chroot,
        &[Str],
        Partial(
            "with CAP_SYS_CHROOT the directory becomes the guest's root for every path it names \
             (kept by fork and exec); a path relative to another directory descriptor is \
             resolved by the host, its .. not stopped at the root, and another process's \
             /proc/<pid>/root shows the host's /",
        ),
    ),
    row(Sysno::fchmod, fs::fchmod, &[Fd, Mode], Full),
    row(Sysno::fchmodat, fs::fchmodat, &[Fd, Str, Mode], Full),
    row(Sysno::fchownat, meta::fchownat, &[Fd, Str, Int, Int, Hex], Full),
    row(Sysno::fchown, meta::fchown, &[Fd, Int, Int], Full),
    row(Sysno::openat, fs::openat, &[Fd, Str, OpenFlags, Mode], Full),
    row(Sysno::close, fs::close, &[Fd], Full),
    refuse(Sysno::vhangup, &[], Errno::EPERM, "as without CAP_SYS_TTY_CONFIG"),
    row(Sysno::pipe2, fs::pipe2, &[FdPairOut, Hex], Full),
    refuse(
        Sysno::quotactl,
        &[Int, Str, Int, Ptr],
        Errno::ENOSYS,
        "as a kernel built without CONFIG_QUOTACTL",
    ),
    row(Sysno::getdents64, fs::getdents64, &[Fd, Ptr, Len], Full),
    row(Sysno::lseek, fs::lseek, &[Fd, Int, Whence], Full),
    row(Sysno::read, fs::read, &[Fd, OutBuf, Len], Full),
    row(Sysno::write, fs::write, &[Fd, InBuf, Len], Full),
    row(Sysno::readv, fs::readv, &[Fd, IovecOut, Len], Full),
    row(Sysno::writev, fs::writev, &[Fd, IovecIn, Len], Full),
    row(Sysno::pread64, fs::pread64, &[Fd, OutBuf, Len, Int], Full),
    row(Sysno::pwrite64, fs::pwrite64, &[Fd, InBuf, Len, Int], Full),
    row(Sysno::preadv, fs::preadv, &[Fd, IovecOut, Len, Int], Full),
    row(Sysno::pwritev, fs::pwritev, &[Fd, IovecIn, Len, Int], Full),
    row(Sysno::sendfile, net::sendfile, &[Fd, Fd, Ptr, Len], Full),
    row(Sysno::pselect6, poll::pselect6, &[Int, Ptr, Ptr, Ptr, Ptr, Ptr], Full).restart(NoHandler),
    row(Sysno::ppoll, poll::ppoll, &[Pollfds, Len, TimespecIn, SigsetIn, Len], Full)
        .restart(NoHandler),
    row(
        Sysno::signalfd4,
        ev::signalfd4,
        &[Fd, Ptr, Len, Hex],
        Partial(
            "the guest's own pending signals through read (not readv); a fork child's \
             signalfd is its own, so signalfd4 on it changes the child's mask only; one \
             received over SCM_RIGHTS reads as an eventfd",
        ),
    ),
    row(Sysno::vmsplice, net::vmsplice, &[Fd, Ptr, Len, Hex], Full),
    row(Sysno::splice, net::splice, &[Fd, Ptr, Fd, Ptr, Len, Hex], Full),
    row(Sysno::tee, net::tee, &[Fd, Fd, Len, Hex], Full),
    row(Sysno::readlinkat, fs::readlinkat, &[Fd, Str, OutBuf, Len], Full),
    row(Sysno::newfstatat, fs::newfstatat, &[Fd, Str, StatOut, AtFlags], Full),
    row(Sysno::fstat, fs::fstat, &[Fd, StatOut], Full),
    row(Sysno::sync, fs::sync, &[], Full),
    row(Sysno::fsync, fs::fsync, &[Fd], Full),
    row(Sysno::fdatasync, fs::fdatasync, &[Fd], Full),
    row(Sysno::sync_file_range, meta::sync_file_range, &[Fd, Int, Int, Hex], Full),
    row(Sysno::timerfd_create, ev::timerfd_create, &[Int, Hex], Full),
    row(Sysno::timerfd_settime, ev::timerfd_settime, &[Fd, Hex, ItimerspecIn, ItimerspecOut], Full),
    row(Sysno::timerfd_gettime, ev::timerfd_gettime, &[Fd, ItimerspecOut], Full),
    row(Sysno::utimensat, meta::utimensat, &[Fd, Str, Ptr, Hex], Full),
    refuse(Sysno::acct, &[Str], Errno::EPERM, "as without CAP_SYS_PACCT"),
    row(Sysno::capget, sched::capget, &[Ptr, Ptr], Full),
    row(Sysno::capset, sched::capset, &[Ptr, Ptr], Full),
    row(
        Sysno::personality,
        pr::personality,
        &[Hex],
        Partial("UNAME26 changes uname; the other flags are only recorded"),
    ),
    row(Sysno::exit, pr::exit, &[Int], Full),
    row(Sysno::exit_group, pr::exit_group, &[Int], Full),
    row(Sysno::waitid, clone::waitid, &[Int, Int, Ptr, Hex, Ptr], Full),
    row(Sysno::set_tid_address, pr::set_tid_address, &[Ptr], Full),
    row(
        Sysno::unshare,
        clone::unshare,
        &[Hex],
        Partial("no namespaces (EPERM); CLONE_FILES only in a process with one thread"),
    ),
    row(Sysno::futex, futex::futex, &[Ptr, Hex, Int, Ptr, Ptr, Hex], Full),
    row(Sysno::set_robust_list, pr::set_robust_list, &[Ptr, Len], Full),
    row(Sysno::get_robust_list, pr::get_robust_list, &[Int, Ptr, Ptr], Full),
    row(Sysno::nanosleep, time::nanosleep, &[TimespecIn, Ptr], Full).restart(NoHandler),
    row(Sysno::getitimer, time::getitimer, &[Int, Ptr], Full),
    row(Sysno::setitimer, time::setitimer, &[Int, Ptr, Ptr], Full),
    refuse(Sysno::kexec_load, &[Hex, Len, Ptr, Hex], Errno::EPERM, NO_BOOT),
    refuse(Sysno::init_module, &[Ptr, Len, Str], Errno::EPERM, NO_MODULE),
    refuse(Sysno::delete_module, &[Str, Hex], Errno::EPERM, NO_MODULE),
    row(Sysno::timer_create, timer::timer_create, &[Int, Ptr, Ptr], Full),
    row(Sysno::timer_gettime, timer::timer_gettime, &[Int, Ptr], Full),
    row(Sysno::timer_getoverrun, timer::timer_getoverrun, &[Int], Full),
    row(Sysno::timer_settime, timer::timer_settime, &[Int, Hex, Ptr, Ptr], Full),
    row(Sysno::timer_delete, timer::timer_delete, &[Int], Full),
    row(Sysno::clock_settime, time::clock_settime, &[Int, Ptr], Partial(NO_TIME)),
    row(Sysno::clock_gettime, time::clock_gettime, &[ClockId, TimespecOut], Full),
    row(Sysno::clock_getres, time::clock_getres, &[ClockId, TimespecOut], Full),
    row(Sysno::clock_nanosleep, time::clock_nanosleep, &[ClockId, Hex, TimespecIn, Ptr], Full)
        .restart(NoHandler),
    refuse(
        Sysno::syslog,
        &[Int, Ptr, Len],
        Errno::EPERM,
        "the host's kernel log is not the guest's; as kernel.dmesg_restrict=1 without CAP_SYSLOG",
    ),
    refuse(
        Sysno::ptrace,
        &[Int, Int, Hex, Hex],
        Errno::EPERM,
        "no tracing (PTRACE_TRACEME included), as under Yama's ptrace_scope 3",
    ),
    row(Sysno::sched_setparam, sched::sched_setparam, &[Int, Ptr], Full),
    row(Sysno::sched_setscheduler, sched::sched_setscheduler, &[Int, Int, Ptr], Full),
    row(Sysno::sched_getscheduler, sched::sched_getscheduler, &[Int], Full),
    row(Sysno::sched_getparam, sched::sched_getparam, &[Int, Ptr], Full),
    row(Sysno::sched_setaffinity, sched::sched_setaffinity, &[Int, Len, Ptr], Full),
    row(Sysno::sched_getaffinity, sched::sched_getaffinity, &[Int, Len, Ptr], Full),
    row(Sysno::sched_yield, pr::sched_yield, &[], Full),
    row(Sysno::sched_get_priority_max, sched::sched_get_priority_max, &[Int], Full),
    row(Sysno::sched_get_priority_min, sched::sched_get_priority_min, &[Int], Full),
    row(Sysno::sched_rr_get_interval, sched::sched_rr_get_interval, &[Int, Ptr], Full),
    row(Sysno::restart_syscall, sig::restart_syscall, &[], Full).restart(Never),
    row(Sysno::kill, sig::kill, &[Int, Signal], Full),
    row(Sysno::tkill, sig::tkill, &[Int, Signal], Full),
    row(Sysno::tgkill, sig::tgkill, &[Int, Int, Signal], Full),
    row(Sysno::sigaltstack, sig::sigaltstack, &[StackIn, StackOut], Full),
    row(Sysno::rt_sigsuspend, sig::rt_sigsuspend, &[SigsetIn, Len], Full).restart(Never),
    row(Sysno::rt_sigaction, sig::rt_sigaction, &[Signal, SigactionIn, SigactionOut, Len], Full),
    row(Sysno::rt_sigprocmask, sig::rt_sigprocmask, &[SigHow, SigsetIn, SigsetOut, Len], Full),
    row(Sysno::rt_sigpending, sig::rt_sigpending, &[SigsetOut, Len], Full),
    row(Sysno::rt_sigtimedwait, sig::rt_sigtimedwait, &[SigsetIn, Ptr, TimespecIn, Len], Full)
        .restart(Never),
    row(Sysno::rt_sigqueueinfo, sig::rt_sigqueueinfo, &[Int, Signal, Ptr], Full),
    row(Sysno::rt_sigreturn, sig::rt_sigreturn, &[], Full),
    row(Sysno::setpriority, sched::setpriority, &[Int, Int, Int], Full),
    row(Sysno::getpriority, sched::getpriority, &[Int, Int], Full),
    refuse(Sysno::reboot, &[Hex, Hex, Hex, Ptr], Errno::EPERM, NO_BOOT),
    row(Sysno::setregid, pr::setregid, &[Int, Int], Full),
    row(Sysno::setgid, pr::setgid, &[Int], Full),
    row(Sysno::setreuid, pr::setreuid, &[Int, Int], Full),
    row(Sysno::setuid, pr::setuid, &[Int], Full),
    row(Sysno::setresuid, pr::setresuid, &[Int, Int, Int], Full),
    row(Sysno::getresuid, pr::getresuid, &[Ptr, Ptr, Ptr], Full),
    row(Sysno::setresgid, pr::setresgid, &[Int, Int, Int], Full),
    row(Sysno::getresgid, pr::getresgid, &[Ptr, Ptr, Ptr], Full),
    row(Sysno::setfsuid, pr::setfsuid, &[Int], Full),
    row(Sysno::setfsgid, pr::setfsgid, &[Int], Full),
    row(Sysno::times, sched::times, &[Ptr], Full),
    row(Sysno::setpgid, pr::setpgid, &[Int, Int], Full),
    row(Sysno::getpgid, pr::getpgid, &[Int], Full),
    row(Sysno::getsid, pr::getsid, &[Int], Full),
    row(Sysno::setsid, pr::setsid, &[], Full),
    row(Sysno::getgroups, pr::getgroups, &[Int, Ptr], Full),
    row(Sysno::setgroups, pr::setgroups, &[Len, Ptr], Full),
    row(Sysno::uname, pr::uname, &[UtsnameOut], Full),
    refuse(
        Sysno::sethostname,
        &[Str, Len],
        Errno::EPERM,
        "the host's name is not the guest's to change; as without CAP_SYS_ADMIN",
    ),
    refuse(
        Sysno::setdomainname,
        &[Str, Len],
        Errno::EPERM,
        "the host's name is not the guest's to change; as without CAP_SYS_ADMIN",
    ),
    row(Sysno::getrlimit, pr::getrlimit, &[Resource, RlimitOut], Full),
    row(Sysno::setrlimit, pr::setrlimit, &[Resource, RlimitIn], Full),
    row(Sysno::getrusage, sched::getrusage, &[Int, Ptr], Full),
    row(Sysno::umask, fs::umask, &[Mode], Full),
    row(
        Sysno::prctl,
        pr::prctl,
        &[Int, Ptr],
        Partial(
            "task name, child subreaper, parent-death signal, dumpable, keepcaps, no_new_privs, tid address and timer slack only",
        ),
    ),
    row(Sysno::getcpu, sched::getcpu, &[Ptr, Ptr, Ptr], Full),
    row(Sysno::gettimeofday, time::gettimeofday, &[Ptr, Ptr], Full),
    row(Sysno::settimeofday, time::settimeofday, &[Ptr, Ptr], Partial(NO_TIME)),
    row(Sysno::adjtimex, time::adjtimex, &[Ptr], Partial(NO_TIME)),
    row(Sysno::getpid, pr::getpid, &[], Full),
    row(Sysno::getppid, pr::getppid, &[], Full),
    row(Sysno::getuid, pr::getuid, &[], Full),
    row(Sysno::geteuid, pr::geteuid, &[], Full),
    row(Sysno::getgid, pr::getgid, &[], Full),
    row(Sysno::getegid, pr::getegid, &[], Full),
    row(Sysno::gettid, pr::gettid, &[], Full),
    row(Sysno::sysinfo, pr::sysinfo, &[Ptr], Full),
    row(Sysno::mq_open, mq::mq_open, &[Str, Hex, Mode, Ptr], Full),
    row(Sysno::mq_unlink, mq::mq_unlink, &[Str], Full),
    row(Sysno::mq_timedsend, mq::mq_timedsend, &[Fd, Ptr, Len, Int, Ptr], Full),
    row(Sysno::mq_timedreceive, mq::mq_timedreceive, &[Fd, Ptr, Len, Ptr, Ptr], Full),
    row(
        Sysno::mq_notify,
        mq::mq_notify,
        &[Fd, Ptr],
        Partial(
            "a SIGEV_SIGNAL of a signal the emulator keeps for itself (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGPIPE, 32, 33) is EINVAL",
        ),
    ),
    row(Sysno::mq_getsetattr, mq::mq_getsetattr, &[Fd, Ptr, Ptr], Full),
    row(Sysno::msgget, ipc::msgget, &[Int, Hex], Full),
    row(Sysno::msgctl, ipc::msgctl, &[Int, Int, Ptr], Full),
    row(Sysno::msgrcv, ipc::msgrcv, &[Int, Ptr, Len, Int, Hex], Full).restart(NoHandler),
    row(Sysno::msgsnd, ipc::msgsnd, &[Int, Ptr, Len, Hex], Full).restart(NoHandler),
    row(Sysno::semget, ipc::semget, &[Int, Int, Hex], Full),
    row(Sysno::semctl, ipc::semctl, &[Int, Int, Int, Hex], Full),
    row(Sysno::semtimedop, ipc::semtimedop, &[Int, Ptr, Len, Ptr], Full).restart(Never),
    row(Sysno::semop, ipc::semop, &[Int, Ptr, Len], Full).restart(Never),
    row(Sysno::shmget, shm::shmget, &[Int, Len, Hex], Full),
    row(Sysno::shmctl, shm::shmctl, &[Int, Int, Ptr], Full),
    addr_row(Sysno::shmat, shm::shmat, &[Int, Ptr, Hex], Full).quiesce(Always),
    row(Sysno::shmdt, shm::shmdt, &[Ptr], Full).quiesce(Always),
    row(Sysno::socket, net::socket, &[Family, SockType, Int], Partial(SOCKET_NOTE)),
    row(
        Sysno::socketpair,
        net::socketpair,
        &[Family, SockType, Int, FdPairOut],
        Partial(SOCKET_NOTE),
    ),
    row(Sysno::bind, net::bind, &[Fd, SockaddrIn, Len], Full),
    row(Sysno::listen, net::listen, &[Fd, Int], Full),
    row(Sysno::accept, net::accept, &[Fd, SockaddrOut, SockLenPtr], Full),
    row(Sysno::connect, net::connect, &[Fd, SockaddrIn, Len], Full),
    row(Sysno::getsockname, net::getsockname, &[Fd, SockaddrOut, SockLenPtr], Full),
    row(Sysno::getpeername, net::getpeername, &[Fd, SockaddrOut, SockLenPtr], Full),
    row(Sysno::sendto, net::sendto, &[Fd, InBuf, Len, Hex, SockaddrIn, Len], Full),
    row(Sysno::recvfrom, net::recvfrom, &[Fd, OutBuf, Len, Hex, SockaddrOut, SockLenPtr], Full),
    row(Sysno::setsockopt, net::setsockopt, &[Fd, Int, Int, Ptr, Len], Partial(SOCKOPT_NOTE)),
    row(Sysno::getsockopt, net::getsockopt, &[Fd, Int, Int, Ptr, Ptr], Partial(SOCKOPT_NOTE)),
    row(Sysno::shutdown, net::shutdown, &[Fd, Int], Full),
    row(Sysno::sendmsg, net::sendmsg, &[Fd, Ptr, Hex], Partial(CMSG_NOTE)),
    row(Sysno::recvmsg, net::recvmsg, &[Fd, Ptr, Hex], Partial(CMSG_NOTE)),
    row(Sysno::readahead, meta::readahead, &[Fd, Int, Len], Full),
    addr_row(Sysno::brk, mm::brk, &[Ptr], Full).quiesce(Always),
    row(Sysno::munmap, mm::munmap, &[Ptr, Len], Full).quiesce(Always),
    addr_row(Sysno::mremap, mm::mremap, &[Ptr, Len, Len, Hex, Ptr], Full).quiesce(Always),
    refuse(Sysno::add_key, &[Str, Str, Ptr, Len, Int], Errno::ENOSYS, NO_KEYS),
    refuse(Sysno::request_key, &[Str, Str, Str, Int], Errno::ENOSYS, NO_KEYS),
    refuse(Sysno::keyctl, &[Int, Hex, Hex, Hex, Hex], Errno::ENOSYS, NO_KEYS),
    row(Sysno::clone, clone::clone, &[CloneFlags, Ptr, Ptr, Ptr, Ptr], Partial(CLONE_NOTE))
        .quiesce(Fork),
    row(Sysno::execve, clone::execve, &[Str, Ptr, Ptr], Full).quiesce(Always),
    addr_row(
        Sysno::mmap,
        mm::mmap,
        &[Ptr, Len, Prot, MapFlags, Fd, Hex],
        Partial("no huge pages: MAP_HUGETLB is ENOMEM"),
    )
    .quiesce(Always),
    row(Sysno::fadvise64, meta::fadvise64, &[Fd, Int, Len, Int], Full),
    refuse(Sysno::swapon, &[Str, Hex], Errno::EPERM, NO_ADMIN),
    refuse(Sysno::swapoff, &[Str], Errno::EPERM, NO_ADMIN),
    row(Sysno::mprotect, mm::mprotect, &[Ptr, Len, Prot], Full).quiesce(Always),
    row(Sysno::msync, mm::msync, &[Ptr, Len, Hex], Full),
    row(Sysno::mlock, mm::mlock, &[Ptr, Len], Partial(LOCKS)),
    row(Sysno::munlock, mm::munlock, &[Ptr, Len], Partial(LOCKS)),
    row(Sysno::mlockall, mm::mlockall, &[Hex], Partial(LOCKS)),
    row(Sysno::munlockall, mm::munlockall, &[], Partial(LOCKS)),
    row(Sysno::mincore, mm::mincore, &[Ptr, Len, Ptr], Full),
    row(Sysno::madvise, mm::madvise, &[Ptr, Len, Int], Full).quiesce(Always),
    row(Sysno::remap_file_pages, mm::remap_file_pages, &[Ptr, Len, Prot, Int, Hex], Partial(REMAP))
        .quiesce(Always),
    row(Sysno::mbind, numa::mbind, &[Ptr, Len, Hex, Ptr, Int, Hex], Partial(NUMA)),
    row(Sysno::get_mempolicy, numa::get_mempolicy, &[Ptr, Ptr, Int, Ptr, Hex], Partial(NUMA)),
    row(Sysno::set_mempolicy, numa::set_mempolicy, &[Hex, Ptr, Int], Full),
    row(Sysno::migrate_pages, numa::migrate_pages, &[Int, Int, Ptr, Ptr], Partial(MIGRATE)),
    row(Sysno::move_pages, numa::move_pages, &[Int, Int, Ptr, Ptr, Ptr, Hex], Partial(MOVE_PAGES)),
    row(Sysno::rt_tgsigqueueinfo, sig::rt_tgsigqueueinfo, &[Int, Int, Signal, Ptr], Full),
    refuse(
        Sysno::perf_event_open,
        &[Ptr, Int, Int, Fd, Hex],
        Errno::ENOSYS,
        "no performance counters; as a kernel built without CONFIG_PERF_EVENTS",
    ),
    row(Sysno::accept4, net::accept4, &[Fd, SockaddrOut, SockLenPtr, Hex], Full),
    row(Sysno::recvmmsg, net::recvmmsg, &[Fd, Ptr, Len, Hex, Ptr], Partial(CMSG_NOTE)),
    row(Sysno::wait4, clone::wait4, &[Int, WaitStatusOut, Hex, Ptr], Full),
    row(
        Sysno::prlimit64,
        pr::prlimit64,
        &[Int, Resource, RlimitIn, RlimitOut],
        Partial("own process only"),
    ),
    refuse(
        Sysno::fanotify_init,
        &[Hex, Hex],
        Errno::ENOSYS,
        "as a kernel built without CONFIG_FANOTIFY; inotify is served",
    ),
    refuse(
        Sysno::fanotify_mark,
        &[Fd, Hex, Hex, Fd, Str],
        Errno::ENOSYS,
        "as a kernel built without CONFIG_FANOTIFY; inotify is served",
    ),
    row(Sysno::name_to_handle_at, meta::name_to_handle_at, &[Fd, Str, Ptr, Ptr, Hex], Full),
    row(Sysno::open_by_handle_at, meta::open_by_handle_at, &[Fd, Ptr, OpenFlags], Full),
    row(Sysno::clock_adjtime, time::clock_adjtime, &[Int, Ptr], Partial(NO_TIME)),
    row(Sysno::syncfs, meta::syncfs, &[Fd], Full),
    refuse(Sysno::setns, &[Fd, Hex], Errno::EPERM, "no namespaces; as without CAP_SYS_ADMIN"),
    row(Sysno::sendmmsg, net::sendmmsg, &[Fd, Ptr, Len, Hex], Partial(CMSG_NOTE)),
    row(
        Sysno::process_vm_readv,
        pm::process_vm_readv,
        &[Int, Ptr, Int, Ptr, Int, Hex],
        Partial(OWN_MEMORY),
    ),
    row(
        Sysno::process_vm_writev,
        pm::process_vm_writev,
        &[Int, Ptr, Int, Ptr, Int, Hex],
        Partial(OWN_MEMORY),
    ),
    refuse(
        Sysno::kcmp,
        &[Int, Int, Int, Hex, Hex],
        Errno::ENOSYS,
        "as a kernel built without CONFIG_KCMP",
    ),
    refuse(Sysno::finit_module, &[Fd, Str, Hex], Errno::EPERM, NO_MODULE),
    row(Sysno::sched_setattr, sched::sched_setattr, &[Int, Ptr, Hex], Full),
    row(Sysno::sched_getattr, sched::sched_getattr, &[Int, Ptr, Len, Hex], Full),
    row(Sysno::renameat2, fs::renameat2, &[Fd, Str, Fd, Str, Hex], Full),
    refuse(
        Sysno::seccomp,
        &[Int, Hex, Ptr],
        Errno::ENOSYS,
        "no system call filters; as a kernel built without CONFIG_SECCOMP",
    ),
    row(Sysno::getrandom, pr::getrandom, &[Ptr, Len, Hex], Full),
    row(Sysno::memfd_create, shm::memfd_create, &[Str, Hex], Full),
    refuse(
        Sysno::bpf,
        &[Int, Ptr, Len],
        Errno::ENOSYS,
        "as a kernel built without CONFIG_BPF_SYSCALL",
    ),
    row(Sysno::execveat, clone::execveat, &[Fd, Str, Ptr, Ptr, Hex], Full).quiesce(Always),
    refuse(
        Sysno::userfaultfd,
        &[Hex],
        Errno::ENOSYS,
        "guest page faults are the emulator's; as a kernel built without CONFIG_USERFAULTFD",
    ),
    row(Sysno::membarrier, pr::membarrier, &[Int, Hex, Int], Full),
    row(Sysno::mlock2, mm::mlock2, &[Ptr, Len, Hex], Partial(LOCKS)),
    row(Sysno::copy_file_range, net::copy_file_range, &[Fd, Ptr, Fd, Ptr, Len, Hex], Full),
    row(Sysno::preadv2, fs::preadv2, &[Fd, Ptr, Len, Int, Int, Hex], Full),
    row(Sysno::pwritev2, fs::pwritev2, &[Fd, Ptr, Len, Int, Int, Hex], Full),
    refuse(Sysno::pkey_mprotect, &[Ptr, Len, Hex, Int], Errno::ENOSYS, NO_PKEYS),
    refuse(Sysno::pkey_alloc, &[Hex, Hex], Errno::ENOSYS, NO_PKEYS),
    refuse(Sysno::pkey_free, &[Int], Errno::ENOSYS, NO_PKEYS),
    row(Sysno::statx, fs::statx, &[Fd, Str, AtFlags, StatxMask, StatxOut], Full),
    refuse(Sysno::io_pgetevents, &[Hex, Int, Int, Ptr, Ptr, Ptr], Errno::ENOSYS, NO_AIO),
    refuse(Sysno::rseq, &[Ptr, Len, Hex, Hex], Errno::ENOSYS, NO_RSEQ),
    refuse(Sysno::kexec_file_load, &[Fd, Fd, Len, Str, Hex], Errno::EPERM, NO_BOOT),
    row(Sysno::pidfd_send_signal, sig::pidfd_send_signal, &[Fd, Signal, Ptr, Hex], Full),
    refuse(Sysno::io_uring_setup, &[Int, Ptr], Errno::ENOSYS, NO_URING),
    refuse(Sysno::io_uring_enter, &[Fd, Int, Int, Hex, Ptr, Len], Errno::ENOSYS, NO_URING),
    refuse(Sysno::io_uring_register, &[Fd, Int, Ptr, Int], Errno::ENOSYS, NO_URING),
    refuse(Sysno::open_tree, &[Fd, Str, Hex], Errno::EPERM, NO_ADMIN),
    refuse(Sysno::move_mount, &[Fd, Str, Fd, Str, Hex], Errno::EPERM, NO_ADMIN),
    refuse(Sysno::fsopen, &[Str, Hex], Errno::EPERM, NO_ADMIN),
    refuse(Sysno::fsconfig, &[Fd, Int, Str, Ptr, Int], Errno::EPERM, NO_ADMIN),
    refuse(Sysno::fsmount, &[Fd, Hex, Hex], Errno::EPERM, NO_ADMIN),
    refuse(Sysno::fspick, &[Fd, Str, Hex], Errno::EPERM, NO_ADMIN),
    row(Sysno::pidfd_open, pr::pidfd_open, &[Int, Hex], Full),
    row(
        Sysno::clone3,
        clone::clone3,
        &[Ptr, Len],
        Partial("as clone; no CLONE_PIDFD, set_tid or cgroup"),
    )
    .quiesce(Always),
    row(
        Sysno::close_range,
        fs::close_range,
        &[Fd, Fd, Hex],
        Partial("CLOSE_RANGE_UNSHARE only in a process with one thread"),
    ),
    row(
        Sysno::openat2,
        fs::openat2,
        &[Fd, Str, Ptr, Len],
        Partial(
            "with --sysroot, symlinks the sysroot translation resolves are not seen by RESOLVE_NO_SYMLINKS",
        ),
    ),
    row(
        Sysno::pidfd_getfd,
        pm::pidfd_getfd,
        &[Fd, Int, Hex],
        Partial(
            "the caller's own descriptors; another process's are EPERM, as under Yama's ptrace scope 3",
        ),
    ),
    row(Sysno::faccessat2, fs::faccessat2, &[Fd, Str, Hex, Hex], Full),
    row(
        Sysno::process_madvise,
        pm::process_madvise,
        &[Fd, Ptr, Int, Int, Hex],
        Partial("the caller's own memory; another process is EPERM, as without CAP_SYS_NICE"),
    ),
    row(
        Sysno::epoll_pwait2,
        ev::epoll_pwait2,
        &[Fd, EpollEventsOut, Int, TimespecIn, SigsetIn, Len],
        Partial(EPOLL_NOTE),
    )
    .restart(Never),
    row(
        Sysno::mount_setattr,
        meta::mount_setattr,
        &[Fd, Str, Hex, Ptr, Len],
        Partial(
            "mounts are the host's: after Linux's argument checks, EPERM as without CAP_SYS_ADMIN",
        ),
    ),
    refuse(
        Sysno::quotactl_fd,
        &[Fd, Int, Int, Ptr],
        Errno::ENOSYS,
        "as a kernel built without CONFIG_QUOTACTL",
    ),
    refuse(Sysno::landlock_create_ruleset, &[Ptr, Len, Hex], Errno::ENOSYS, NO_LANDLOCK),
    refuse(Sysno::landlock_add_rule, &[Fd, Int, Ptr, Hex], Errno::ENOSYS, NO_LANDLOCK),
    refuse(Sysno::landlock_restrict_self, &[Fd, Hex], Errno::ENOSYS, NO_LANDLOCK),
    refuse(
        Sysno::memfd_secret,
        &[Hex],
        Errno::ENOSYS,
        "as a kernel built without CONFIG_SECRETMEM",
    ),
    row(
        Sysno::process_mrelease,
        pm::process_mrelease,
        &[Fd, Hex],
        Partial("no process is reaped early: one being killed is answered as a live one (EINVAL)"),
    ),
    row(Sysno::futex_waitv, futex::futex_waitv, &[Ptr, Int, Hex, Ptr, Int], Full),
    row(
        Sysno::set_mempolicy_home_node,
        numa::set_mempolicy_home_node,
        &[Ptr, Len, Int, Hex],
        Partial("range policies are not kept (see mbind): a range answers as one without (ENOENT)"),
    ),
];

/// The row for a syscall number.
pub fn lookup(nr: u64) -> Option<&'static Row> {
    static INDEX: OnceLock<Vec<Option<u16>>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index = vec![None; elfvisor_abi::sysno::SYSNO_LIMIT as usize];
        for (i, row) in TABLE.iter().enumerate() {
            index[row.nr.0 as usize] = Some(i as u16);
        }
        index
    });
    let slot = index.get(usize::try_from(nr).ok()?)?;
    slot.map(|i| &TABLE[usize::from(i)])
}

/// The support matrix that `elfvisor --syscalls` prints.
pub fn support_matrix() -> String {
    let mut text = String::from("nr   name                     support  note\n");
    for row in TABLE {
        let name = row.nr.name().unwrap_or("?");
        let (level, note) = match row.support {
            Full => ("full", String::new()),
            Partial(note) => ("partial", note.to_string()),
            Refused(errno, why) => ("refused", format!("{}: {why}", errno.name().unwrap_or("?"))),
        };
        text.push_str(&format!("{:<4} {name:<24} {level:<8} {note}\n", row.nr.0));
    }
    let full = TABLE.iter().filter(|r| r.support == Full).count();
    let partial = TABLE.iter().filter(|r| matches!(r.support, Partial(_))).count();
    let refused = TABLE.len() - full - partial;
    text.push_str(&format!(
        "{} of {} Linux aarch64 calls have a row: {full} full, {partial} partial, {refused} \
         refused with Linux's errno; every other number returns ENOSYS\n",
        TABLE.len(),
        Sysno::ALL.len()
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_table_is_sorted_unique_and_named() {
        assert!(TABLE.windows(2).all(|w| w[0].nr < w[1].nr), "rows must be in number order");
        assert!(TABLE.iter().all(|r| r.nr.name().is_some()));
        assert!(TABLE.iter().all(|r| r.args.len() <= 6));
    }

    #[test]
    fn test_refusals_are_linux_answers_with_a_reason() {
        for row in TABLE {
            if let Refused(errno, why) = row.support {
                let name = row.nr.name().unwrap_or("?");
                assert!(
                    [Errno::ENOSYS, Errno::EPERM, Errno::EOPNOTSUPP].contains(&errno),
                    "{name}: a refusal answers what Linux gives an unprivileged process or a \
                     kernel without the feature"
                );
                assert!(
                    why.starts_with("as ") || why.contains(", as ") || why.contains("; as "),
                    "{name}: {why}"
                );
            }
        }
        let matrix = support_matrix();
        assert!(matrix.contains("ptrace                   refused  EPERM: "), "{matrix}");
        assert!(matrix.contains("io_setup                 refused  ENOSYS: "), "{matrix}");
    }

    #[test]
    fn test_restart_column() {
        let restart = |nr: Sysno| lookup(nr.0.into()).map(|r| r.restart);
        assert_eq!(restart(Sysno::read), Some(Restart::UnlessHandlerRefuses));
        assert_eq!(restart(Sysno::wait4), Some(Restart::UnlessHandlerRefuses));
        assert_eq!(restart(Sysno::nanosleep), Some(Restart::NoHandler));
        assert_eq!(restart(Sysno::clock_nanosleep), Some(Restart::NoHandler));
        assert_eq!(restart(Sysno::ppoll), Some(Restart::NoHandler));
        assert_eq!(restart(Sysno::pselect6), Some(Restart::NoHandler));
        assert_eq!(restart(Sysno::epoll_pwait), Some(Restart::Never));
        assert_eq!(restart(Sysno::epoll_pwait2), Some(Restart::Never));
        assert_eq!(restart(Sysno::rt_sigsuspend), Some(Restart::Never));
        assert_eq!(restart(Sysno::rt_sigtimedwait), Some(Restart::Never));
    }

    #[test]
    fn test_quiesce_column() {
        let quiescing: Vec<(Sysno, Quiesce)> =
            TABLE.iter().filter(|r| r.quiesce != Quiesce::No).map(|r| (r.nr, r.quiesce)).collect();
        let always = [
            Sysno::shmat,
            Sysno::shmdt,
            Sysno::brk,
            Sysno::munmap,
            Sysno::mremap,
            Sysno::execve,
            Sysno::mmap,
            Sysno::mprotect,
            Sysno::madvise,
            Sysno::remap_file_pages,
            Sysno::execveat,
            Sysno::clone3,
        ];
        let mut expected: Vec<(Sysno, Quiesce)> =
            always.iter().map(|&nr| (nr, Quiesce::Always)).collect();
        expected.push((Sysno::clone, Quiesce::Fork));
        expected.sort_by_key(|(nr, _)| *nr);
        assert_eq!(quiescing, expected);
    }

    #[test]
    fn test_lookup() {
        assert_eq!(lookup(Sysno::write.0.into()).map(|r| r.nr), Some(Sysno::write));
        assert!(lookup(244).is_none(), "arch_specific_syscall names no call");
        assert!(lookup(u64::MAX).is_none());
        assert!(lookup(100_000).is_none());
    }

    #[test]
    fn test_support_matrix_lists_every_row() {
        let text = support_matrix();
        assert!(text.contains("openat"));
        assert_eq!(text.lines().count(), TABLE.len() + 2);
    }
}
