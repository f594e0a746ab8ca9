//! System calls: one table row per call drives dispatch, `--strace` and the support matrix.
//!
//! Handlers are thin (`sys_<family>.rs`): decode the arguments, reject unknown flags, call the
//! address space or the host. The table is data (`table.rs`).

use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::RawFd;

use elfvisor_abi::{Errno, GuestAddr, Prot, Sysno};
use elfvisor_engine::{Cpu, Reg, SyscallAction, SyscallHandler};

use crate::host::GuestBuf;
use crate::process::Process;

mod sys_clone;
mod sys_fs;
pub mod sys_futex;
mod sys_mmap;
mod sys_process;
mod sys_shm;
mod sys_signal;
mod sys_time;
pub mod table;

pub use table::{Row, Support, TABLE};

/// What a handler returns: the value for x0, or a guest errno.
pub type SysResult = Result<u64, Errno>;

/// How `--strace` prints an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A signed integer.
    Int,
    /// A file descriptor (`AT_FDCWD` printed by name).
    Fd,
    /// A guest pointer.
    Ptr,
    /// A NUL-terminated guest string, printed quoted.
    Str,
    /// Flags, in hex.
    Hex,
    /// A size or count.
    Len,
    /// A file mode, in octal.
    Mode,
}

/// The state a handler works on.
#[allow(missing_debug_implementations)] // `dyn Cpu` has no Debug.
pub struct Ctx<'a> {
    pub proc: &'a mut Process,
    pub cpu: &'a mut dyn Cpu,
    /// Set by a handler that rewrote the registers itself (`rt_sigreturn`): x0 keeps its value.
    pub regs_restored: bool,
}

/// The longest path a guest may pass (PATH_MAX).
const PATH_MAX: usize = 4096;

impl Ctx<'_> {
    /// A guest path argument: EFAULT if unreadable, ENAMETOOLONG past PATH_MAX.
    pub fn path(&self, addr: u64) -> Result<CString, Errno> {
        let bytes = self.proc.mm.read().read_cstr(GuestAddr(addr), PATH_MAX)?;
        CString::new(bytes).map_err(|_| Errno::EINVAL)
    }

    /// A `dirfd` argument as a host descriptor (`AT_FDCWD` passes through).
    pub fn dirfd(&self, fd: u64) -> Result<RawFd, Errno> {
        let fd = fd as i32;
        if fd == elfvisor_abi::fcntl::AT_FDCWD {
            return Ok(libc::AT_FDCWD);
        }
        self.proc.fds().raw(i64::from(fd))
    }

    /// The host descriptor of a guest fd argument.
    pub fn fd(&self, fd: u64) -> Result<RawFd, Errno> {
        self.proc.fds().raw(i64::from(fd as i32))
    }

    /// Copies a guest-layout value out to guest memory (EFAULT if not writable).
    pub fn copy_out(&self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        self.proc.mm.read().copy_out(GuestAddr(addr), bytes)
    }

    /// Reads `N` bytes of guest memory (EFAULT if not readable).
    pub fn copy_in<const N: usize>(&self, addr: u64) -> Result<[u8; N], Errno> {
        let mut buf = [0u8; N];
        self.proc.mm.read().copy_in(GuestAddr(addr), &mut buf)?;
        Ok(buf)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        self.copy_in::<8>(addr).map(u64::from_le_bytes)
    }

    /// A host pointer to `len` bytes of guest memory starting at `addr`, accessible with `need`,
    /// clamped to the mapped part: like Linux, a call moves what it can and faults only when not
    /// even the first byte is accessible.
    pub fn buffer(&self, addr: u64, len: usize, need: Prot) -> Result<GuestBuf, Errno> {
        let mm = self.proc.mm.read();
        if len == 0 {
            return Ok(GuestBuf::empty());
        }
        let start = GuestAddr(addr);
        let mut end = start;
        let want_end = start.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        for vma in mm.vmas() {
            if vma.end <= end {
                continue;
            }
            if vma.start > end || !vma.prot.contains(need) {
                break;
            }
            end = vma.end.min(want_end);
            if end >= want_end {
                break;
            }
        }
        let usable = end.offset_from(start).unwrap_or(0) as usize;
        if usable == 0 {
            return Err(Errno::EFAULT);
        }
        let ptr = mm.host_range(start, usable, need)?;
        // SAFETY: `host_range` just checked `usable` bytes from `start` for `need`; the address
        // space outlives the call the buffer is made for (single-threaded guest).
        Ok(unsafe { GuestBuf::checked(ptr, usable) })
    }
}

/// Formats one argument for `--strace`.
fn format_arg(ctx: &Ctx<'_>, kind: Arg, value: u64) -> String {
    match kind {
        Arg::Int => (value as i64).to_string(),
        Arg::Fd if value as i32 == elfvisor_abi::fcntl::AT_FDCWD => "AT_FDCWD".into(),
        Arg::Fd => (value as i32).to_string(),
        Arg::Ptr if value == 0 => "NULL".into(),
        Arg::Ptr => format!("{value:#x}"),
        Arg::Str => match ctx.proc.mm.read().read_cstr(GuestAddr(value), 256) {
            Ok(bytes) => format!("{:?}", String::from_utf8_lossy(&bytes)),
            Err(_) => format!("{value:#x}"),
        },
        Arg::Hex => format!("{value:#x}"),
        Arg::Len => value.to_string(),
        Arg::Mode => format!("{value:#o}"),
    }
}

fn trace_line(
    ctx: &Ctx<'_>,
    nr: u64,
    row: Option<&Row>,
    args: &[u64; 6],
    result: &SysResult,
) -> String {
    let name = Sysno(nr as u32).name().unwrap_or("unknown");
    let mut line = format!("[{}] {name}(", ctx.proc.tid);
    match row {
        Some(row) => {
            for (i, kind) in row.args.iter().enumerate() {
                if i > 0 {
                    line.push_str(", ");
                }
                line.push_str(&format_arg(ctx, *kind, args[i]));
            }
        }
        None => line.push_str(&format!("{:#x}, {:#x}, {:#x}", args[0], args[1], args[2])),
    }
    match result {
        Ok(v) if row.is_some_and(|r| r.hex_result) => {
            let _ = write!(line, ") = {v:#x}");
        }
        Ok(v) => {
            let _ = write!(line, ") = {}", *v as i64);
        }
        Err(e) => {
            let _ = write!(line, ") = -1 {e}");
        }
    }
    line
}

/// How Linux treats a call a signal interrupted (`-ERESTARTSYS` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// Restarted when no handler runs, or the handler has SA_RESTART (most blocking calls).
    UnlessHandlerRefuses,
    /// Restarted only when no handler runs (sleeps, poll/select, epoll waits).
    NoHandler,
    /// Never restarted: EINTR is their answer (rt_sigsuspend, rt_sigtimedwait).
    Never,
}

fn restart_kind(nr: u64) -> Restart {
    match Sysno(nr as u32) {
        Sysno::rt_sigsuspend | Sysno::rt_sigtimedwait => Restart::Never,
        Sysno::nanosleep
        | Sysno::clock_nanosleep
        | Sysno::ppoll
        | Sysno::pselect6
        | Sysno::epoll_pwait
        | Sysno::epoll_pwait2 => Restart::NoHandler,
        _ => Restart::UnlessHandlerRefuses,
    }
}

impl SyscallHandler for Process {
    fn syscall(&mut self, cpu: &mut dyn Cpu) -> SyscallAction {
        let nr = cpu.reg(Reg::X(8));
        let args = [0, 1, 2, 3, 4, 5].map(|i| cpu.reg(Reg::X(i)));
        let row = table::lookup(nr);
        // Out of guest code until the call returns: a quiesce need not wait for this thread.
        self.thread.leave_guest();
        if self.robust_list.0 != 0 {
            self.thread.shadow_robust.refresh(&self.mm.read(), self.robust_list.0);
        }
        // Changes other vCPUs may have cached, and fork captures, hold the other threads out of
        // guest code while they happen.
        let _quiesced = (self.group.is_multithreaded() && needs_quiesce(nr, &args))
            .then(|| self.group.quiesce(&self.thread));
        let mut ctx = Ctx { proc: self, cpu, regs_restored: false };
        // Respawned children admitted since the last call may exit now; a setpgid (the usual
        // call right after fork) may move them first.
        let release_after = !ctx.proc.unreleased.is_empty() && nr == u64::from(Sysno::setpgid.0);
        if !release_after && !ctx.proc.unreleased.is_empty() {
            crate::respawn::control::release_children(ctx.proc);
        }
        let result = match row {
            // A row marked ENOSYS is a deliberate, documented refusal (glibc probes rseq, say).
            Some(row) if row.support == Support::Enosys => Err(Errno::ENOSYS),
            Some(row) => (row.handler)(&mut ctx, &args),
            None => {
                if ctx.proc.unknown_seen.insert(nr) {
                    let name = Sysno(nr as u32).name().unwrap_or("an unknown call");
                    eprintln!("elfvisor: {name} (syscall {nr}) is not supported; returning ENOSYS");
                }
                Err(Errno::ENOSYS)
            }
        };
        if release_after {
            crate::respawn::control::release_children(ctx.proc);
        }
        if ctx.proc.trace.enabled {
            eprintln!("{}", trace_line(&ctx, nr, row, &args, &result));
        }
        let value = match result {
            Ok(v) => v,
            Err(e) => e.as_return(),
        };
        // exit/exit_group leave x0 alone: the guest never sees it; a successful execve
        // replaces every register.
        if ctx.proc.exit.is_some() || ctx.proc.pending_exec.is_some() {
            return SyscallAction::Stop;
        }
        // A host signal interrupted a blocking call: Linux restarts it unless a handler runs
        // (and for most calls, unless that handler lacks SA_RESTART).
        if result == Err(Errno::EINTR) {
            crate::hostsig::drain(ctx.proc);
            let restart = match (restart_kind(nr), crate::signal::next_handler(ctx.proc)) {
                (Restart::Never, _) => false,
                (_, None) => true,
                (Restart::UnlessHandlerRefuses, Some(flags)) => {
                    flags & crate::signal::SA_RESTART != 0
                }
                (Restart::NoHandler, Some(_)) => false,
            };
            if restart {
                // Back onto the `svc` with the first argument as it was.
                let pc = ctx.cpu.reg(Reg::Pc);
                ctx.cpu.set_reg(Reg::Pc, pc - 4);
                ctx.regs_restored = true;
            }
        }
        if !ctx.regs_restored {
            ctx.cpu.set_reg(Reg::X(0), value);
        }
        if crate::hostsig::any() {
            crate::hostsig::drain(ctx.proc);
        }
        // Signals raised by the call (or still pending) are delivered on the way back out.
        if signal_pending(ctx.proc) {
            crate::signal::deliver(ctx.proc, ctx.cpu);
            if ctx.proc.exit.is_some() {
                return SyscallAction::Stop;
            }
        }
        // An rt_sigsuspend whose signal ran no handler returns to its old mask here.
        if let Some(mask) = ctx.proc.saved_sigmask.take() {
            ctx.proc.sigmask = mask;
        }
        drop(_quiesced);
        if !ctx.proc.group.enter_guest(&ctx.proc.thread, ctx.cpu) {
            // Another thread's execve replaced the process image while this call ran.
            ctx.proc.vanish();
            return SyscallAction::Stop;
        }
        SyscallAction::Continue
    }
}

/// Calls that change the address space other vCPUs may have cached, or capture it for a fork.
fn needs_quiesce(nr: u64, args: &[u64; 6]) -> bool {
    const CLONE_THREAD: u64 = 0x10000;
    const CLONE_VFORK: u64 = 0x4000;
    let Ok(nr) = u32::try_from(nr) else { return false };
    match Sysno(nr) {
        Sysno::munmap
        | Sysno::mprotect
        | Sysno::pkey_mprotect
        | Sysno::mremap
        | Sysno::madvise
        | Sysno::brk
        | Sysno::shmdt
        | Sysno::shmat
        | Sysno::mmap
        | Sysno::execve
        | Sysno::execveat => true,
        // A vfork quiesces only for the capture (the clone handler does), not while the caller
        // waits for its child: Linux stops only the calling thread.
        Sysno::clone => args[0] & (CLONE_THREAD | CLONE_VFORK) == 0,
        // clone3 keeps its flags in memory: quiesce for every one.
        Sysno::clone3 => true,
        _ => false,
    }
}

/// Whether this thread or its process has a signal queued.
fn signal_pending(proc: &Process) -> bool {
    proc.thread.has_pending() || proc.group.has_pending()
}
