//! POSIX timers: the checks Linux makes before it looks at the timer (kernel/time/posix-timers.c
//! `do_timer_create`, `good_sigevent`, `do_timer_settime`), then `crate::timers`.

use elfvisor_abi::time::{
    Itimerspec, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID, Sigevent, TIMER_ABSTIME,
};
use elfvisor_abi::{Errno, Signo};

use super::ctx::{Ctx, SysResult};
use crate::task::types::TimerNotify;
use crate::timers;

pub fn timer_create(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (event_addr, id_addr) = (a[1], a[2]);
    // The sigevent is read before the clock is looked at (timer_create, then do_timer_create).
    let event = if event_addr == 0 { None } else { Some(ctx.read_obj::<Sigevent>(event_addr)?) };
    let clock = super::sys_time::clock_id(a[0])?;
    let (notify, signo, value) = if let Some(ev) = event {
        let notify = match ev.notify {
            SIGEV_NONE => TimerNotify::Nobody,
            SIGEV_SIGNAL | SIGEV_THREAD => TimerNotify::Process,
            n if n == SIGEV_SIGNAL | SIGEV_THREAD_ID => {
                // good_sigevent: the thread must be one of the caller's process.
                let tid = u32::try_from(ev.tid).map_err(|_| Errno::EINVAL)?;
                ctx.proc.group().find(tid).ok_or(Errno::EINVAL)?;
                TimerNotify::Thread(tid)
            }
            _ => return Err(Errno::EINVAL),
        };
        let signo = if notify == TimerNotify::Nobody {
            Signo::SIGALRM
        } else {
            u8::try_from(ev.signo)
                .ok()
                .filter(|s| (1..=64).contains(s))
                .map(Signo)
                .ok_or(Errno::EINVAL)?
        };
        (notify, signo, Some(ev.value))
    } else {
        // No sigevent: SIGALRM to the process, with the timer's id as its value (filled below).
        (TimerNotify::Process, Signo::SIGALRM, None)
    };
    let group = ctx.proc.group().clone();
    let id = timers::create(&group, clock, notify, signo, value.unwrap_or(0))?;
    if value.is_none() {
        if let Some(e) = group.timers().timers.get_mut(&id) {
            e.value = id as u64;
        }
    }
    // An unwritable id pointer is EFAULT and leaves no timer behind, as on Linux.
    if let Err(e) = ctx.write_obj(id_addr, &id) {
        let _ = timers::delete(&group, id);
        return Err(e);
    }
    Ok(0)
}

pub fn timer_settime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (id, flags, new_addr, old_addr) = (a[0] as i32, a[1] as u32, a[2], a[3]);
    if new_addr == 0 {
        return Err(Errno::EINVAL);
    }
    let new: Itimerspec = ctx.read_obj(new_addr)?;
    let host_flags = if flags & TIMER_ABSTIME != 0 { libc::TIMER_ABSTIME } else { 0 };
    let old = timers::settime(ctx.proc.group(), id, host_flags, &new)?;
    if old_addr != 0 {
        ctx.write_obj(old_addr, &old)?;
    }
    Ok(0)
}

pub fn timer_gettime(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let cur = timers::gettime(ctx.proc.group(), a[0] as i32)?;
    ctx.write_obj(a[1], &cur)?;
    Ok(0)
}

pub fn timer_getoverrun(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    timers::getoverrun(ctx.proc.group(), a[0] as i32)
}

pub fn timer_delete(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    timers::delete(ctx.proc.group(), a[0] as i32)
}
