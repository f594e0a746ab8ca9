//! Futex words outside the `futex` call: waking one (a thread's `clear_child_tid`, a dead
//! owner's robust futex) and the robust lists of ending threads.
//!
//! Robust lists are the emulator's: the list holds guest pointers, so [`exit_robust_list_of`]
//! walks it when a thread ends, as Linux's `exit_robust_list` does (the host kernel's share,
//! for an emulator killed outright, is `host::futex::ShadowRobustList`).

use std::sync::atomic::Ordering;

use elfvisor_abi::futex::{
    FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, FUTEX_WAKE, ROBUST_LIST_LIMIT, RobustListHead,
};
use elfvisor_abi::{Errno, GuestAddr, Prot};
use elfvisor_mm::AddressSpace;

use crate::host::futex::{FutexVal2, futex, futex_atomic, futex_word};

/// Wakes up to `n` waiters on the futex at guest `addr` (any kind: a thread's
/// `clear_child_tid`, a robust futex of a dead owner).
pub fn wake_address(mm: &AddressSpace, addr: u64, n: u32) -> Result<u64, Errno> {
    let uaddr = futex_word(mm, addr, Prot::READ)?;
    // Not FUTEX_PRIVATE: waiters may be in another process sharing the page.
    futex(uaddr, FUTEX_WAKE, n, FutexVal2::None, None, 0)
}

/// Linux's exit_robust_list for the thread `tid` whose list starts at guest `head` (a
/// `struct robust_list_head`; each entry's futex word is at entry + `futex_offset`): every
/// robust futex it still owns gets FUTEX_OWNER_DIED and one waiter woken. A head that cannot
/// be read ends the walk before it starts, as in Linux.
pub fn exit_robust_list_of(mm: &AddressSpace, head: u64, tid: u32) {
    if head == 0 {
        return;
    }
    let Ok(list) = mm.read_obj::<RobustListHead>(GuestAddr(head)) else { return };
    let (mut entry, offset, pending) =
        (list.list_next, list.futex_offset as u64, list.list_op_pending);
    let handle = |entry: u64| {
        // The low bit of an entry pointer marks a PI futex; the word is at entry + offset.
        let addr = (entry & !1).wrapping_add(offset);
        let Ok(atom) = futex_atomic(mm, addr) else { return };
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
        let next = mm.read_u64(GuestAddr(entry & !1)).ok();
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
