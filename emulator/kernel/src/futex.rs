//! Futex words outside the `futex` call: waking one (a thread's `clear_child_tid`, a dead
//! owner's robust futex) and the robust lists of ending threads.
//!
//! Robust lists are the emulator's: the list holds guest pointers, so [`exit_robust_list_of`]
//! walks it when a thread ends, as Linux's `exit_robust_list` does, and a
//! [`ShadowRobustList`] gives the host kernel what it can release if the emulator is killed.

use std::sync::atomic::{AtomicU32, Ordering};

use elfvisor_abi::{Errno, GuestAddr, Prot};
use elfvisor_mm::AddressSpace;

/// What a futex operation returns: the host's value, or a guest errno.
type FutexResult = Result<u64, Errno>;

pub(crate) const FUTEX_WAIT: u32 = 0;
pub(crate) const FUTEX_WAKE: u32 = 1;

/// The host address of the aligned futex word at guest `addr`.
pub(crate) fn word(mm: &AddressSpace, addr: u64, need: Prot) -> Result<*mut u32, Errno> {
    if addr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(mm.host_range(GuestAddr(addr), 4, need)?.cast())
}

pub(crate) fn host_futex(
    uaddr: *mut u32,
    op: u32,
    val: u32,
    timeout_or_val2: usize,
    uaddr2: *mut u32,
    val3: u32,
) -> FutexResult {
    // SAFETY: `uaddr` and `uaddr2` (or null) point into the arena's mapped guest pages, which
    // stay mapped while the call runs (an unmap quiesces this thread first, and a thread in a
    // system call holds no engine state); `timeout_or_val2` is a live timespec or a count.
    let r = unsafe {
        libc::syscall(libc::SYS_futex, uaddr, op as libc::c_int, val, timeout_or_val2, uaddr2, val3)
    };
    if r < 0 { Err(crate::host::last_errno()) } else { Ok(r as u64) }
}

/// Wakes up to `n` waiters on the futex at guest `addr` (any kind: a thread's
/// `clear_child_tid`, a robust futex of a dead owner).
pub fn wake_address(mm: &AddressSpace, addr: u64, n: u32) -> FutexResult {
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
