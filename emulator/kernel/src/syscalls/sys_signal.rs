//! Signal state (recorded) and signals a process sends itself. Delivery to guest handlers, with
//! the aarch64 signal frame, comes with the threads-and-signals work; until then a signal whose
//! action is to run a handler is reported once and otherwise ignored.

use elfvisor_abi::{Errno, Signo};

use super::{Ctx, SysResult};
use crate::process::{SigAction, Termination};

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
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
        let old = ctx.proc.sigactions[slot];
        let mut b = [0u8; 32];
        for (i, v) in [old.handler, old.flags, old.restorer, old.mask].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        ctx.copy_out(a[2], &b)?;
    }
    if let Some(new) = new {
        ctx.proc.sigactions[slot] = new;
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

pub fn sigaltstack(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    const SS_DISABLE: u32 = 2;
    const SS_AUTODISARM: u32 = 1 << 31;
    const MINSIGSTKSZ: u64 = 5120;
    let new = if a[0] != 0 {
        let b = ctx.copy_in::<24>(a[0])?;
        let sp = u64::from_le_bytes(b[..8].try_into().expect("8"));
        let flags = u32::from_le_bytes(b[8..12].try_into().expect("4"));
        let size = u64::from_le_bytes(b[16..].try_into().expect("8"));
        if flags & !(SS_DISABLE | SS_AUTODISARM) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & SS_DISABLE == 0 && size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        }
        Some((sp, flags, size))
    } else {
        None
    };
    if a[1] != 0 {
        let (sp, flags, size) = ctx.proc.altstack;
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&sp.to_le_bytes());
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..].copy_from_slice(&size.to_le_bytes());
        ctx.copy_out(a[1], &b)?;
    }
    if let Some(ss) = new {
        ctx.proc.altstack = ss;
    }
    Ok(0)
}

/// Signals whose default action is to do nothing.
fn ignored_by_default(sig: u8) -> bool {
    [Signo::SIGCHLD, Signo::SIGCONT, Signo::SIGURG, Signo::SIGWINCH].iter().any(|s| s.0 == sig)
}

/// A signal this process sends itself.
fn to_self(ctx: &mut Ctx<'_>, sig: u8) -> SysResult {
    if sig == 0 {
        return Ok(0);
    }
    let action = ctx.proc.sigactions[usize::from(sig - 1)];
    let blocked = ctx.proc.sigmask & (1 << (sig - 1)) != 0;
    match action.handler {
        _ if blocked => {}
        SIG_IGN => {}
        SIG_DFL if ignored_by_default(sig) => {}
        SIG_DFL => ctx.proc.exit = Some(Termination::Signaled(Signo(sig))),
        _ => {
            if ctx.proc.unknown_seen.insert(u64::MAX - u64::from(sig)) {
                eprintln!(
                    "elfvisor: {} has a guest handler, but running handlers is not supported yet; \
                     the signal is dropped",
                    Signo(sig).display_name()
                );
            }
        }
    }
    Ok(0)
}

pub fn kill(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let sig = if a[1] == 0 { 0 } else { signo(a[1])? };
    match a[0] as i32 {
        0 => to_self(ctx, sig),
        p if p == ctx.proc.pid as i32 => to_self(ctx, sig),
        _ => Err(Errno::ESRCH),
    }
}

pub fn tkill(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let sig = if a[1] == 0 { 0 } else { signo(a[1])? };
    if a[0] as i32 != ctx.proc.pid as i32 {
        return Err(if (a[0] as i32) <= 0 { Errno::EINVAL } else { Errno::ESRCH });
    }
    to_self(ctx, sig)
}

pub fn tgkill(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let sig = if a[2] == 0 { 0 } else { signo(a[2])? };
    let (tgid, tid) = (a[0] as i32, a[1] as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    if tgid != ctx.proc.pid as i32 || tid != ctx.proc.pid as i32 {
        return Err(Errno::ESRCH);
    }
    to_self(ctx, sig)
}
