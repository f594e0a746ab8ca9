//! Signal actions, masks and alternate stacks; signals a process sends itself; `rt_sigreturn`.
//! Delivery itself (default actions, the handler frame) is `crate::signal`.

use elfvisor_abi::signal::{
    SI_TKILL, SI_USER, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, SIGSET_SIZE, Sigaction, Siginfo,
    StackT, UNBLOCKABLE,
};
use elfvisor_abi::{Errno, GuestObj, Signo};

use super::ctx::{Ctx, SysResult};
use crate::signal::info::{Detail, SigInfo};
use crate::signal::{delivery, forward, frame};

fn signo(sig: u64) -> Result<u8, Errno> {
    if (1..=u64::from(Signo::SIGRTMAX)).contains(&sig) { Ok(sig as u8) } else { Err(Errno::EINVAL) }
}

/// The `sigsetsize` argument of the `rt_sig*` calls: only the kernel's own size.
fn check_sigset_size(size: u64) -> Result<(), Errno> {
    if size == SIGSET_SIZE as u64 { Ok(()) } else { Err(Errno::EINVAL) }
}

pub fn rt_sigaction(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    check_sigset_size(a[3])?;
    let sig = signo(a[0])?;
    let new = if a[1] != 0 {
        if sig == Signo::SIGKILL.0 || sig == Signo::SIGSTOP.0 {
            return Err(Errno::EINVAL);
        }
        let act: Sigaction = ctx.read_obj(a[1])?;
        Some(Sigaction { mask: act.mask & !UNBLOCKABLE, ..act })
    } else {
        None
    };
    let slot = usize::from(sig - 1);
    if a[2] != 0 {
        ctx.write_obj(a[2], &ctx.proc.sigactions().get(slot))?;
    }
    if let Some(new) = new {
        ctx.proc.sigactions().set(slot, new);
        if i32::from(sig) == libc::SIGCHLD {
            forward::sigchld_changed(&new);
        }
        crate::board::publish_actions(ctx.proc);
    }
    Ok(0)
}

pub fn rt_sigprocmask(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    check_sigset_size(a[3])?;
    let old = ctx.proc.sigmask;
    let new = if a[1] != 0 {
        let set = ctx.read_u64(a[1])?;
        let how = u32::try_from(a[0]).map_err(|_| Errno::EINVAL)?;
        let mask = match how {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        Some(mask & !UNBLOCKABLE)
    } else {
        None
    };
    if a[2] != 0 {
        ctx.write_obj(a[2], &old)?;
    }
    if let Some(mask) = new {
        ctx.proc.sigmask = mask;
    }
    Ok(0)
}

/// `sigaltstack(ss, old_ss)`: the old stack is reported as of the caller's stack pointer
/// (SS_ONSTACK while running on it), and no change is allowed while on it (EPERM).
pub fn sigaltstack(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let sp = ctx.cpu.reg(elfvisor_engine::Reg::Sp);
    let new = if a[0] != 0 { Some(ctx.read_obj::<StackT>(a[0])?) } else { None };
    if a[1] != 0 {
        ctx.write_obj(a[1], &frame::altstack_report(ctx.proc, sp))?;
    }
    if let Some(ss) = new {
        frame::set_altstack(ctx.proc, ss, sp)?;
    }
    Ok(0)
}

/// A signal this process sends itself: queued, then delivered on the way out of the call.
fn to_self(ctx: &mut Ctx<'_>, sig: u8, code: i32) -> SysResult {
    if sig == 0 {
        return Ok(0);
    }
    let uid = crate::host::ids().0;
    let info =
        SigInfo { signo: Signo(sig), code, detail: Detail::Sender { pid: ctx.proc.pid(), uid } };
    delivery::send(ctx.proc, info);
    Ok(0)
}

pub fn kill(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let sig = if a[1] == 0 { 0 } else { signo(a[1])? };
    match a[0] as i32 {
        p if p == ctx.proc.pid() as i32 => to_self(ctx, sig, SI_USER),
        // Every guest is its own emulator process and guest pids are host pids: another process
        // or a process group (0: the caller's, which includes itself) is signalled on the host
        // (Linux numbers its signals the same way); each target's forwarder hands it to its
        // guest (`crate::signal::forward`). -1 is every process the caller may signal but
        // itself and init: the host's own answer, since the caller is this emulator process.
        p => crate::host::kill(p, i32::from(sig)),
    }
}

/// `pidfd_send_signal` (kernel/signal.c): no flags are defined; a siginfo given must name the
/// same signal and, sent to another process, may not claim a kernel or tkill origin. The
/// process behind the descriptor is signalled on the host (this one's own forwarder hands a
/// signal to itself to its guest, as for `kill`).
pub fn pidfd_send_signal(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[3] != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = ctx.fd(a[0])?;
    let sig = if a[1] == 0 { 0 } else { signo(a[1])? };
    let info = if a[2] == 0 {
        None
    } else {
        let info: Siginfo = ctx.read_obj(a[2])?;
        if info.signo != i32::from(sig) {
            return Err(Errno::EINVAL);
        }
        Some(info.to_guest_bytes().try_into().map_err(|_| Errno::EINVAL)?)
    };
    crate::host::pidfd_send_signal(fd, i32::from(sig), info.as_ref())
}

pub fn tkill(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let sig = if a[1] == 0 { 0 } else { signo(a[1])? };
    let tid = a[0] as i32;
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    to_thread(ctx, None, tid as u32, sig)
}

pub fn tgkill(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let sig = if a[2] == 0 { 0 } else { signo(a[2])? };
    let (tgid, tid) = (a[0] as i32, a[1] as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    to_thread(ctx, Some(tgid as u32), tid as u32, sig)
}

/// A signal for one thread: this one (delivered on the way out), a sibling (queued for it
/// here, and it is interrupted), or a thread of another process (guest tids are host tids).
fn to_thread(ctx: &mut Ctx<'_>, tgid: Option<u32>, tid: u32, sig: u8) -> SysResult {
    let pid = ctx.proc.pid();
    let ours = if tgid.is_none_or(|t| t == pid) { ctx.proc.group().find(tid) } else { None };
    let Some(target) = ours else {
        if tgid == Some(pid) {
            return Err(Errno::ESRCH);
        }
        // Not ours: the host knows the thread, if it exists.
        let tgid = match tgid {
            Some(t) => t as i32,
            None => crate::host::tgid_of(tid as i32).ok_or(Errno::ESRCH)?,
        };
        return crate::host::tgkill(tgid, tid as i32, i32::from(sig));
    };
    if sig == 0 {
        return Ok(0);
    }
    // Queued by the sender, as Linux's do_send_sig_info does: the target's pending set shows
    // it when this call returns, and a sibling is interrupted (its vCPU stopped, its blocking
    // host call ended) to look at it.
    let uid = crate::host::ids().0;
    let detail = Detail::Sender { pid, uid };
    delivery::send_to_thread(&target, SigInfo { signo: Signo(sig), code: SI_TKILL, detail });
    Ok(0)
}

/// `rt_sigqueueinfo`: a signal with the caller's siginfo for a process (itself, or another
/// one through the host, which keeps the value and code).
pub fn rt_sigqueueinfo(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let sig = signo(a[1])?;
    let info: Siginfo = ctx.read_obj(a[2])?;
    let code = info.code;
    let pid = a[0] as i32;
    // Linux: only a process signalling itself may claim a kernel or tkill origin.
    if pid != ctx.proc.pid() as i32 && (code >= 0 || code == SI_TKILL) {
        return Err(Errno::EPERM);
    }
    if pid == ctx.proc.pid() as i32 {
        let detail = Detail::Given(info.fields);
        delivery::send(ctx.proc, SigInfo { signo: Signo(sig), code, detail });
        return Ok(0);
    }
    if pid <= 0 {
        return Err(Errno::ESRCH);
    }
    crate::host::sigqueueinfo(pid, i32::from(sig), &info)
}

/// `rt_tgsigqueueinfo` (kernel/signal.c, do_rt_tgsigqueueinfo): a signal with the caller's
/// siginfo for one thread. Only a thread signalling itself may claim a kernel or tkill
/// origin. A thread of this process gets it queued as any thread-directed signal; a thread of
/// another process, through the host (guest tids are host tids).
pub fn rt_tgsigqueueinfo(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (tgid, tid) = (a[0] as i32, a[1] as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let info: Siginfo = ctx.read_obj(a[3])?;
    let code = info.code;
    if (code >= 0 || code == SI_TKILL) && tid as u32 != ctx.proc.tid() {
        return Err(Errno::EPERM);
    }
    let sig = if a[2] == 0 { 0 } else { signo(a[2])? };
    let pid = ctx.proc.pid();
    if tgid as u32 != pid {
        return crate::host::tgsigqueueinfo(tgid, tid, i32::from(sig), &info);
    }
    let target = ctx.proc.group().find(tid as u32).ok_or(Errno::ESRCH)?;
    if sig != 0 {
        let detail = Detail::Given(info.fields);
        delivery::send_to_thread(&target, SigInfo { signo: Signo(sig), code, detail });
    }
    Ok(0)
}

/// `restart_syscall`: the emulator restarts interrupted calls itself and never leaves a
/// restart block for the guest, so a direct call finds none and answers EINTR, as Linux's
/// `do_no_restart_syscall` does.
pub fn restart_syscall(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    Err(Errno::EINTR)
}

pub fn rt_sigreturn(ctx: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    frame::sigreturn(ctx.proc, ctx.cpu);
    ctx.regs_restored = true;
    Ok(0)
}

pub fn rt_sigpending(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    check_sigset_size(a[1])?;
    let set = delivery::pending_set(ctx.proc) & ctx.proc.sigmask;
    ctx.write_obj(a[0], &set)?;
    Ok(0)
}

/// `rt_sigsuspend`: waits with `mask` in place until a signal would run a handler or end the
/// process; always EINTR. The handler's frame keeps the old mask, so it comes back on return.
pub fn rt_sigsuspend(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    check_sigset_size(a[1])?;
    let mask = ctx.read_u64(a[0])? & !UNBLOCKABLE;
    let old = ctx.proc.sigmask;
    ctx.proc.sigmask = mask;
    let task = &mut *ctx.proc;
    forward::wait_until(None, || {
        delivery::drain_host(task);
        delivery::has_deliverable(task) || crate::gdb::stop_requested(task)
    });
    if !delivery::has_deliverable(ctx.proc) {
        // A debugger stopped the guest, and no signal came: the call is made again when it
        // resumes, as Linux restarts a sigsuspend no handler ended (-ERESTARTNOHAND).
        ctx.proc.sigmask = old;
        let pc = ctx.cpu.reg(elfvisor_engine::Reg::Pc);
        ctx.cpu.set_reg(elfvisor_engine::Reg::Pc, pc - 4);
        ctx.regs_restored = true;
        return Ok(0);
    }
    ctx.proc.saved_sigmask = Some(old);
    Err(Errno::EINTR)
}

/// `rt_sigtimedwait`: takes a pending signal of `set` (waiting up to the timeout for one),
/// fills its siginfo and returns its number; EAGAIN when the time runs out, EINTR when another
/// signal runs a handler first.
pub fn rt_sigtimedwait(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    check_sigset_size(a[3])?;
    let set = ctx.read_u64(a[0])? & !UNBLOCKABLE;
    let timeout = if a[2] != 0 {
        let t = super::sys_time::read_timespec(ctx, a[2])?;
        Some(std::time::Duration::new(t.sec as u64, t.nsec as u32))
    } else {
        None
    };
    let wanted = |i: &SigInfo| set & i.signo.mask_bit() != 0;
    let task = &mut *ctx.proc;
    let got = forward::wait_until(timeout, || {
        delivery::drain_host(task);
        delivery::pending_set(task) & set != 0
            || delivery::has_deliverable(task)
            || crate::gdb::stop_requested(task)
    });
    match delivery::take_pending(ctx.proc, wanted) {
        Some(info) => {
            if a[1] != 0 {
                ctx.write_obj(a[1], &info.to_guest())?;
            }
            Ok(u64::from(info.signo.0))
        }
        None if got => Err(Errno::EINTR),
        None => Err(Errno::EAGAIN),
    }
}
