//! Signal actions, masks and alternate stacks; signals a process sends itself; `rt_sigreturn`.
//! Delivery itself (default actions, the handler frame) is `crate::signal`.

use elfvisor_abi::{Errno, Signo};

use super::ctx::{Ctx, SysResult};
use crate::signal::info::{AltStack, Detail, SI_TKILL, SI_USER, SigAction, SigInfo};
use crate::signal::{delivery, forward, frame};

const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;
/// SIGKILL and SIGSTOP can be neither caught nor blocked.
const UNBLOCKABLE: u64 = (1 << (9 - 1)) | (1 << (19 - 1));

fn signo(sig: u64) -> Result<u8, Errno> {
    if (1..=64).contains(&sig) { Ok(sig as u8) } else { Err(Errno::EINVAL) }
}

pub fn rt_sigaction(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let sig = signo(a[0])?;
    let new = if a[1] != 0 {
        if sig == Signo::SIGKILL.0 || sig == Signo::SIGSTOP.0 {
            return Err(Errno::EINVAL);
        }
        let b = ctx.copy_in::<32>(a[1])?;
        let word = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Some(SigAction {
            handler: word(0),
            flags: word(1),
            restorer: word(2),
            mask: word(3) & !UNBLOCKABLE,
        })
    } else {
        None
    };
    let slot = usize::from(sig - 1);
    if a[2] != 0 {
        let old = ctx.proc.sigactions().get(slot);
        let mut b = [0u8; 32];
        for (i, v) in [old.handler, old.flags, old.restorer, old.mask].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        ctx.copy_out(a[2], &b)?;
    }
    if let Some(new) = new {
        ctx.proc.sigactions().set(slot, new);
        if i32::from(sig) == libc::SIGCHLD {
            forward::sigchld_changed(&new);
        }
    }
    Ok(0)
}

pub fn rt_sigprocmask(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let old = ctx.proc.sigmask;
    let new = if a[1] != 0 {
        let set = ctx.read_u64(a[1])?;
        let mask = match a[0] {
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
        ctx.copy_out(a[2], &old.to_le_bytes())?;
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
    let new = if a[0] != 0 {
        let b = ctx.copy_in::<24>(a[0])?;
        let ss_sp = u64::from_le_bytes(b[..8].try_into().expect("8"));
        let flags = u32::from_le_bytes(b[8..12].try_into().expect("4"));
        let size = u64::from_le_bytes(b[16..].try_into().expect("8"));
        Some(AltStack { sp: ss_sp, flags, size })
    } else {
        None
    };
    if a[1] != 0 {
        let old = frame::altstack_report(ctx.proc, sp);
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&old.sp.to_le_bytes());
        b[8..12].copy_from_slice(&old.flags.to_le_bytes());
        b[16..].copy_from_slice(&old.size.to_le_bytes());
        ctx.copy_out(a[1], &b)?;
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
        // guest (`crate::signal::forward`).
        p if p != -1 => crate::host::kill(p, i32::from(sig)),
        _ => Err(Errno::EPERM),
    }
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

/// A signal for one thread: this one (delivered on the way out), a sibling (the host routes a
/// forwarded signal to its host thread, interrupting a blocking call; the others are queued
/// and its vCPU stopped), or a thread of another process (guest tids are host tids).
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
    if !std::sync::Arc::ptr_eq(&target, ctx.proc.handle()) && forward::forwarded(i32::from(sig)) {
        crate::host::tgkill(pid as i32, target.host_tid(), i32::from(sig))?;
    } else {
        let uid = crate::host::ids().0;
        let detail = Detail::Sender { pid, uid };
        delivery::send_to_thread(&target, SigInfo { signo: Signo(sig), code: SI_TKILL, detail });
    }
    Ok(0)
}

/// `rt_sigqueueinfo`: a signal with the caller's siginfo for a process (itself, or another
/// one through the host, which keeps the value and code).
pub fn rt_sigqueueinfo(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let sig = signo(a[1])?;
    let raw = ctx.copy_in::<128>(a[2])?;
    let word = |at: usize| i32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes"));
    let code = word(8);
    let pid = a[0] as i32;
    // Linux: only a process signalling itself may claim a kernel or tkill origin.
    if pid != ctx.proc.pid() as i32 && (code >= 0 || code == SI_TKILL) {
        return Err(Errno::EPERM);
    }
    if pid == ctx.proc.pid() as i32 {
        let value = u64::from_le_bytes(raw[24..32].try_into().expect("8 bytes"));
        let detail = Detail::Queued { pid: word(16) as u32, uid: word(20) as u32, value };
        delivery::send(ctx.proc, SigInfo { signo: Signo(sig), code, detail });
        return Ok(0);
    }
    if pid <= 0 {
        return Err(Errno::ESRCH);
    }
    crate::host::sigqueueinfo(pid, i32::from(sig), &raw)
}

pub fn rt_sigreturn(ctx: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    frame::sigreturn(ctx.proc, ctx.cpu);
    ctx.regs_restored = true;
    Ok(0)
}

pub fn rt_sigpending(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let set = delivery::pending_set(ctx.proc) & ctx.proc.sigmask;
    ctx.copy_out(a[0], &set.to_le_bytes())?;
    Ok(0)
}

/// `rt_sigsuspend`: waits with `mask` in place until a signal would run a handler or end the
/// process; always EINTR. The handler's frame keeps the old mask, so it comes back on return.
pub fn rt_sigsuspend(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let mask = ctx.read_u64(a[0])? & !UNBLOCKABLE;
    let old = ctx.proc.sigmask;
    ctx.proc.sigmask = mask;
    let task = &mut *ctx.proc;
    forward::wait_until(None, || {
        delivery::drain_host(task);
        delivery::has_deliverable(task)
    });
    ctx.proc.saved_sigmask = Some(old);
    Err(Errno::EINTR)
}

/// `rt_sigtimedwait`: takes a pending signal of `set` (waiting up to the timeout for one),
/// fills its siginfo and returns its number; EAGAIN when the time runs out, EINTR when another
/// signal runs a handler first.
pub fn rt_sigtimedwait(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[3] != 8 {
        return Err(Errno::EINVAL);
    }
    let set = ctx.read_u64(a[0])? & !UNBLOCKABLE;
    let timeout = if a[2] != 0 {
        let (sec, nsec) = super::sys_time::read_timespec(ctx, a[2])?;
        Some(std::time::Duration::new(sec as u64, nsec as u32))
    } else {
        None
    };
    let wanted = |i: &SigInfo| set & (1u64 << (i.signo.0 - 1)) != 0;
    let task = &mut *ctx.proc;
    let got = forward::wait_until(timeout, || {
        delivery::drain_host(task);
        delivery::pending_set(task) & set != 0 || delivery::has_deliverable(task)
    });
    match delivery::take_pending(ctx.proc, wanted) {
        Some(info) => {
            if a[1] != 0 {
                ctx.copy_out(a[1], &info.to_bytes())?;
            }
            Ok(u64::from(info.signo.0))
        }
        None if got => Err(Errno::EINTR),
        None => Err(Errno::EAGAIN),
    }
}
