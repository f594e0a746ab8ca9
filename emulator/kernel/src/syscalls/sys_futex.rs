//! `futex`: carried out by the host kernel on the guest word's host address.
//!
//! Guest memory is host memory (the arena), so a host futex on `base + uaddr` is the guest's
//! futex: private futexes key on this process's host address space (all its guest threads are
//! host threads of this process), shared ones on the page behind a `MAP_SHARED` mapping — which
//! is the same host page in every emulator process that maps the object, so a waiter in one
//! process is woken from another. The operation numbers, flags, `FUTEX_WAKE_OP` encoding and
//! timeout semantics are Linux's on both sides, and so are EAGAIN, ETIMEDOUT and EINTR.
//! Robust lists are `crate::futex`'s.

use elfvisor_abi::futex::{
    FUTEX_32, FUTEX_CLOCK_REALTIME, FUTEX_CMD_MASK, FUTEX_CMP_REQUEUE, FUTEX_CMP_REQUEUE_PI,
    FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_PRIVATE_FLAG, FUTEX_REQUEUE, FUTEX_TID_MASK,
    FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI, FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI,
    FUTEX_WAITV_MAX, FUTEX_WAKE, FUTEX_WAKE_BITSET, FUTEX_WAKE_OP, FutexWaitv,
};
use elfvisor_abi::obj::GuestObj;
use elfvisor_abi::time::Timespec;
use elfvisor_abi::{Errno, Prot};

use super::ctx::{Ctx, SysResult};
use crate::host::futex::{
    FutexVal2, HostWaitv, futex as host_futex, futex_waitv as host_waitv, futex_word as word,
    futex_word_unread,
};

/// `futex_waitv` (kernel/futex/syscalls.c): flags, the count (1 to 128, and a list at all),
/// the clock and the absolute timeout, then each waiter (only FUTEX_32 and the private flag,
/// nothing reserved; an unaligned word is EINVAL, an unmapped one EFAULT), then the wait, on the
/// host on the words' host addresses as `futex` does: the index of the word woken, EAGAIN when
/// a word no longer holds its value, ETIMEDOUT.
pub fn futex_waitv(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (list, count, flags, timeout_at, clock) = (a[0], a[1], a[2] as u32, a[3], a[4] as i32);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    if count == 0 || count > FUTEX_WAITV_MAX || list == 0 {
        return Err(Errno::EINVAL);
    }
    let timeout = if timeout_at != 0 {
        if clock != libc::CLOCK_REALTIME && clock != libc::CLOCK_MONOTONIC {
            return Err(Errno::EINVAL);
        }
        let ts = ctx.read_obj::<Timespec>(timeout_at)?.validated()?;
        Some((ts.sec, ts.nsec))
    } else {
        None
    };
    let mut waiters = Vec::with_capacity(count as usize);
    for i in 0..count {
        let w: FutexWaitv = ctx.read_obj(list + i * FutexWaitv::SIZE as u64)?;
        if w.flags & !(FUTEX_32 | FUTEX_PRIVATE_FLAG) != 0 || w.reserved != 0 {
            return Err(Errno::EINVAL);
        }
        if w.flags & FUTEX_32 == 0 {
            return Err(Errno::EINVAL);
        }
        waiters.push(w);
    }
    let host = {
        let mm = ctx.proc.mm.read();
        let mut host = Vec::with_capacity(waiters.len());
        for w in &waiters {
            host.push(HostWaitv::new(word(&mm, w.uaddr, Prot::READ)?, w.val, w.flags));
        }
        host
    };
    host_waitv(&host, timeout, clock)
}

pub fn futex(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let op = a[1] as u32;
    let cmd = op & FUTEX_CMD_MASK;
    let timed =
        matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET | FUTEX_LOCK_PI2 | FUTEX_WAIT_REQUEUE_PI);
    if op & FUTEX_CLOCK_REALTIME != 0 && !timed {
        return Err(Errno::ENOSYS);
    }
    let val = a[2] as u32;
    // The guest's timespec, copied so the host reads a live one of its own.
    let timeout = |ctx: &Ctx<'_>| -> Result<FutexVal2, Errno> {
        if a[3] == 0 {
            return Ok(FutexVal2::None);
        }
        let Timespec { sec, nsec } = ctx.read_obj(a[3])?;
        Ok(FutexVal2::Timeout(sec, nsec))
    };
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let t = timeout(ctx)?;
            let uaddr = word(&ctx.proc.mm.read(), a[0], Prot::READ)?;
            host_futex(uaddr, op, val, t, None, a[5] as u32)
        }
        // A private wake reads no word (futex_wake: the bitset, then get_futex_key), so an
        // unmapped or inaccessible one wakes whoever waits on the address, as on Linux; a
        // shared one must find the page behind the word (EFAULT).
        FUTEX_WAKE | FUTEX_WAKE_BITSET if op & FUTEX_PRIVATE_FLAG != 0 => {
            if cmd == FUTEX_WAKE_BITSET && a[5] as u32 == 0 {
                return Err(Errno::EINVAL);
            }
            match futex_word_unread(&ctx.proc.mm.read(), a[0])? {
                Some(uaddr) => host_futex(uaddr, op, val, FutexVal2::None, None, a[5] as u32),
                None => Ok(0),
            }
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let uaddr = word(&ctx.proc.mm.read(), a[0], Prot::READ)?;
            host_futex(uaddr, op, val, FutexVal2::None, None, a[5] as u32)
        }
        // Priority-inheritance futexes hold the owner's tid, which the host reads as its own:
        // guest tids are host tids.
        // TRYLOCK_PI takes no timeout (futex_cmd_has_timeout), so its fourth argument is
        // never read.
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI => {
            let t = if cmd == FUTEX_TRYLOCK_PI { FutexVal2::None } else { timeout(ctx)? };
            let uaddr = word(&ctx.proc.mm.read(), a[0], Prot::RW)?;
            host_futex(uaddr, op, val, t, None, 0)
        }
        FUTEX_UNLOCK_PI => {
            // Linux's futex_unlock_pi reads the word before anything else (EFAULT), releases
            // only a lock the caller owns (EPERM), and only then builds the key, which is
            // where an unaligned word is EINVAL (get_futex_key).
            let mm = ctx.proc.mm.read();
            if mm.read_u32(elfvisor_abi::GuestAddr(a[0]))? & FUTEX_TID_MASK != ctx.proc.tid() {
                return Err(Errno::EPERM);
            }
            let uaddr = word(&mm, a[0], Prot::RW)?;
            drop(mm);
            host_futex(uaddr, op, val, FutexVal2::None, None, 0)
        }
        FUTEX_WAIT_REQUEUE_PI => {
            let t = timeout(ctx)?;
            let mm = ctx.proc.mm.read();
            let (uaddr, uaddr2) = (word(&mm, a[0], Prot::READ)?, word(&mm, a[4], Prot::RW)?);
            drop(mm);
            host_futex(uaddr, op, val, t, Some(uaddr2), 0)
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_CMP_REQUEUE_PI | FUTEX_WAKE_OP => {
            let mm = ctx.proc.mm.read();
            let uaddr = word(&mm, a[0], Prot::READ)?;
            // WAKE_OP writes the second word.
            let need2 = if cmd == FUTEX_REQUEUE || cmd == FUTEX_CMP_REQUEUE {
                Prot::READ
            } else {
                Prot::RW
            };
            let uaddr2 = word(&mm, a[4], need2)?;
            drop(mm);
            host_futex(uaddr, op, val, FutexVal2::Value(a[3]), Some(uaddr2), a[5] as u32)
        }
        _ => Err(Errno::ENOSYS),
    }
}
