//! `futex`: carried out by the host kernel on the guest word's host address.
//!
//! Guest memory is host memory (the arena), so a host futex on `base + uaddr` is the guest's
//! futex: private futexes key on this process's host address space (all its guest threads are
//! host threads of this process), shared ones on the page behind a `MAP_SHARED` mapping — which
//! is the same host page in every emulator process that maps the object, so a waiter in one
//! process is woken from another. The operation numbers, flags, `FUTEX_WAKE_OP` encoding and
//! timeout semantics are Linux's on both sides, and so are EAGAIN, ETIMEDOUT and EINTR.
//!
//! Robust lists are the emulator's: the list holds guest pointers, so [`exit_robust_list`]
//! walks it when a thread ends, as Linux's `exit_robust_list` does.

use std::sync::atomic::{AtomicU32, Ordering};

use elfvisor_abi::{Errno, GuestAddr, Prot};
use elfvisor_mm::AddressSpace;

use super::{Ctx, SysResult};

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_LOCK_PI: u32 = 6;
const FUTEX_UNLOCK_PI: u32 = 7;
const FUTEX_TRYLOCK_PI: u32 = 8;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
const FUTEX_CMP_REQUEUE_PI: u32 = 12;
const FUTEX_LOCK_PI2: u32 = 13;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

/// The host address of the aligned futex word at guest `addr`.
fn word(mm: &AddressSpace, addr: u64, need: Prot) -> Result<*mut u32, Errno> {
    if addr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(mm.host_range(GuestAddr(addr), 4, need)?.cast())
}

fn host_futex(
    uaddr: *mut u32,
    op: u32,
    val: u32,
    timeout_or_val2: usize,
    uaddr2: *mut u32,
    val3: u32,
) -> SysResult {
    // SAFETY: `uaddr` and `uaddr2` (or null) point into the arena's mapped guest pages, which
    // stay mapped while the call runs (an unmap quiesces this thread first, and a thread in a
    // system call holds no engine state); `timeout_or_val2` is a live timespec or a count.
    let r = unsafe {
        libc::syscall(libc::SYS_futex, uaddr, op as libc::c_int, val, timeout_or_val2, uaddr2, val3)
    };
    if r < 0 { Err(crate::host::last_errno()) } else { Ok(r as u64) }
}

pub fn futex(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let op = a[1] as u32;
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let timed =
        matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET | FUTEX_LOCK_PI2 | FUTEX_WAIT_REQUEUE_PI);
    if op & FUTEX_CLOCK_REALTIME != 0 && !timed {
        return Err(Errno::ENOSYS);
    }
    let val = a[2] as u32;
    // The guest's timespec, copied so the host reads a live one of its own.
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    let timeout = |ctx: &Ctx<'_>, ts: &mut libc::timespec| -> Result<usize, Errno> {
        if a[3] == 0 {
            return Ok(0);
        }
        let b = ctx.copy_in::<16>(a[3])?;
        ts.tv_sec = i64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
        ts.tv_nsec = i64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
        Ok(ts as *mut libc::timespec as usize)
    };
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let t = timeout(ctx, &mut ts)?;
            let uaddr = word(&ctx.proc.mm.read(), a[0], Prot::READ)?;
            host_futex(uaddr, op, val, t, std::ptr::null_mut(), a[5] as u32)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let uaddr = word(&ctx.proc.mm.read(), a[0], Prot::READ)?;
            host_futex(uaddr, op, val, 0, std::ptr::null_mut(), a[5] as u32)
        }
        // Priority-inheritance futexes hold the owner's tid, which the host reads as its own:
        // guest tids are host tids.
        FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_TRYLOCK_PI | FUTEX_UNLOCK_PI => {
            let t = if cmd == FUTEX_UNLOCK_PI { 0 } else { timeout(ctx, &mut ts)? };
            let uaddr = word(&ctx.proc.mm.read(), a[0], Prot::RW)?;
            host_futex(uaddr, op, val, t, std::ptr::null_mut(), 0)
        }
        FUTEX_WAIT_REQUEUE_PI => {
            let t = timeout(ctx, &mut ts)?;
            let mm = ctx.proc.mm.read();
            let (uaddr, uaddr2) = (word(&mm, a[0], Prot::READ)?, word(&mm, a[4], Prot::RW)?);
            drop(mm);
            host_futex(uaddr, op, val, t, uaddr2, 0)
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
            host_futex(uaddr, op, val, a[3] as usize, uaddr2, a[5] as u32)
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// Wakes up to `n` waiters on the futex at guest `addr` (any kind: a thread's
/// `clear_child_tid`, a robust futex of a dead owner).
pub fn wake_address(mm: &AddressSpace, addr: u64, n: u32) -> SysResult {
    let uaddr = word(mm, addr, Prot::READ)?;
    // Not FUTEX_PRIVATE: waiters may be in another process sharing the page.
    host_futex(uaddr, FUTEX_WAKE, n, 0, std::ptr::null_mut(), 0)
}

/// `set_robust_list` heads are `{ next, futex_offset, list_op_pending }`; each entry's futex
/// word is at entry + futex_offset. Bits Linux defines in the word:
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Linux stops after this many entries (a loop in a corrupt list).
const ROBUST_LIST_LIMIT: usize = 2048;

/// Linux's exit_robust_list for the thread `tid` whose list starts at guest `head`: every robust
/// futex it still owns gets FUTEX_OWNER_DIED and one waiter woken.
pub fn exit_robust_list_of(mm: &AddressSpace, head: u64, tid: u32) {
    if head == 0 {
        return;
    }
    let read = |addr: u64| -> Option<u64> {
        let mut b = [0u8; 8];
        mm.copy_in(GuestAddr(addr), &mut b).ok()?;
        Some(u64::from_le_bytes(b))
    };
    let Some(mut entry) = read(head) else { return };
    let Some(offset) = read(head + 8) else { return };
    let pending = read(head + 16).unwrap_or(0);
    let handle = |entry: u64| {
        // The low bit of an entry pointer marks a PI futex; the word is at entry + offset.
        let addr = (entry & !1).wrapping_add(offset);
        let Ok(ptr) = word(mm, addr, Prot::RW) else { return };
        // SAFETY: `word` checked the aligned word is mapped and writable; other threads (and
        // processes) change it only with atomic operations too.
        let atom = unsafe { AtomicU32::from_ptr(ptr) };
        let mut value = atom.load(Ordering::SeqCst);
        loop {
            if value & FUTEX_TID_MASK != tid {
                return;
            }
            let died = (value & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
            match atom.compare_exchange(value, died, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => break,
                Err(now) => value = now,
            }
        }
        if value & FUTEX_WAITERS != 0 {
            let _ = wake_address(mm, addr, 1);
        }
    };
    for _ in 0..ROBUST_LIST_LIMIT {
        if entry == head || entry == 0 {
            break;
        }
        let next = read(entry & !1);
        if entry != pending {
            handle(entry);
        }
        match next {
            Some(n) => entry = n,
            None => break,
        }
    }
    if pending != 0 {
        handle(pending);
    }
}

/// A robust-list head the host kernel walks when this host thread dies without a word (a
/// SIGKILL of the emulator): `{ next, futex_offset, list_op_pending }` in the host's layout.
///
/// The guest's list holds guest pointers, which the host cannot follow, so the shadow names
/// the guest's first entry and pending entry as they are, with the arena base added to the
/// futex offset: the host then finds the futex words of those two, marks them OWNER_DIED and
/// wakes a waiter, and stops at the next link it cannot read. That covers the usual case, a
/// process killed while holding its most recently locked robust mutex (glibc and musl put it
/// first). It is refreshed at every system call, when the guest's list is what it was since
/// the last one.
#[derive(Debug, Default)]
pub struct ShadowRobustList {
    words: [std::sync::atomic::AtomicU64; 3],
}

impl ShadowRobustList {
    /// Registers this shadow as the calling host thread's robust list.
    pub fn register(&self) {
        self.clear();
        // SAFETY: the three words live as long as the thread's task (an Arc it holds until the
        // host thread ends); the kernel only reads them at this thread's exit.
        unsafe {
            libc::syscall(libc::SYS_set_robust_list, self.words.as_ptr(), 24usize);
        }
    }

    fn clear(&self) {
        let own = self.words.as_ptr() as u64;
        self.words[0].store(own, Ordering::SeqCst);
        self.words[1].store(0, Ordering::SeqCst);
        self.words[2].store(0, Ordering::SeqCst);
    }

    /// Mirrors the guest list at `head` (0: none) of an address space based at `base`.
    pub fn refresh(&self, mm: &AddressSpace, head: u64) {
        if head == 0 {
            self.clear();
            return;
        }
        let mut b = [0u8; 24];
        if mm.copy_in(GuestAddr(head), &mut b).is_err() {
            self.clear();
            return;
        }
        let word = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let (next, offset, pending) = (word(0), word(1), word(2));
        let base = mm.arena_base() as u64;
        // An empty guest list points at its own head: the shadow is empty too.
        let first = if next == head { self.words.as_ptr() as u64 } else { next };
        self.words[0].store(first, Ordering::SeqCst);
        self.words[1].store(offset.wrapping_add(base), Ordering::SeqCst);
        self.words[2].store(pending, Ordering::SeqCst);
    }
}
