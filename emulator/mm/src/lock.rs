//! Memory locking (`mlock`, `mlock2`, `munlock`, `mlockall`, `munlockall`) and what a fork
//! child keeps of the address space (`MADV_DONTFORK`, `MADV_WIPEONFORK`, locks).
//!
//! Locks are recorded in the VMAs as Linux's `VM_LOCKED`: locked memory is faulted in, refuses
//! `MADV_DONTNEED`, and is unlocked in a fork child. Nothing is pinned on the host. How much
//! may be locked is the caller's [`LockLimit`] (`RLIMIT_MEMLOCK`, or none with `CAP_IPC_LOCK`),
//! asked through the function given to [`AddressSpace::set_lock_limit`] whenever a lock is
//! taken; the locked amount is counted from the VMAs, as Linux's `mm->locked_vm` would be.

use elfvisor_abi::mman::{MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};

use crate::space::AddressSpace;
use crate::vma::{Backing, VmaFlags};

const LOCK_MASK: VmaFlags = VmaFlags::LOCKED.with(VmaFlags::LOCKONFAULT);

/// How much memory a process may lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockLimit {
    /// `CAP_IPC_LOCK`: any amount.
    Unlimited,
    /// The soft `RLIMIT_MEMLOCK`, in bytes.
    Bytes(u64),
}

impl LockLimit {
    /// Linux `can_do_mlock`: a zero limit forbids locking at all (`EPERM`).
    pub fn may_lock(self) -> bool {
        self != LockLimit::Bytes(0)
    }

    /// The limit in whole pages, as Linux compares it (`rlimit >> PAGE_SHIFT`).
    fn pages(self) -> Option<u64> {
        match self {
            LockLimit::Unlimited => None,
            LockLimit::Bytes(b) => Some(b / PAGE_SIZE),
        }
    }
}

impl AddressSpace {
    /// Where the lock limit comes from (the default allows any amount).
    pub fn set_lock_limit(&mut self, source: fn() -> LockLimit) {
        self.lock_limit = source;
    }

    /// Pages in locked VMAs: Linux's `mm->locked_vm`.
    pub fn locked_pages(&self) -> u64 {
        self.locked_pages_in(GuestAddr::NULL, GuestAddr(u64::MAX))
    }

    /// Locked pages inside `[start, end)` (Linux's `count_mm_mlocked_page_nr`).
    fn locked_pages_in(&self, start: GuestAddr, end: GuestAddr) -> u64 {
        self.vmas
            .overlapping(start, end)
            .filter(|v| v.flags.contains(VmaFlags::LOCKED))
            .map(|v| (v.end.min(end).0 - v.start.max(start).0) / PAGE_SIZE)
            .sum()
    }

    /// Linux `mlock_future_ok`: whether `bytes` more of a mapping with `flags` may be mapped.
    pub(crate) fn may_lock_more(&self, flags: VmaFlags, bytes: u64) -> bool {
        if !flags.contains(VmaFlags::LOCKED) {
            return true;
        }
        (self.lock_limit)()
            .pages()
            .is_none_or(|limit| self.locked_pages() + bytes / PAGE_SIZE <= limit)
    }

    /// Linux `mlock` (`lock` = `LOCKED`), `mlock2(MLOCK_ONFAULT)` (`LOCKED|LOCKONFAULT`) and
    /// `munlock` (`NONE`): the start is rounded down to its page, the length up. Like Linux,
    /// VMAs before a hole keep their new state and the hole makes the call fail with `ENOMEM`.
    /// Locking checks the limit as `do_mlock` does: `EPERM` with a zero limit, `ENOMEM` when the
    /// pages not yet locked would take the total past it.
    pub fn mlock(&mut self, addr: GuestAddr, len: u64, lock: VmaFlags) -> Result<(), Errno> {
        let limit = if lock.contains(VmaFlags::LOCKED) {
            let limit = (self.lock_limit)();
            if !limit.may_lock() {
                return Err(Errno::EPERM);
            }
            limit.pages()
        } else {
            None
        };
        let start = addr.page_down();
        let end = len
            .checked_add(addr.0 - start.0)
            .and_then(|l| l.checked_add(PAGE_SIZE - 1))
            .and_then(|l| start.checked_add(l & !(PAGE_SIZE - 1)))
            .ok_or(Errno::EINVAL)?;
        if let Some(limit) = limit {
            let mut locked = (end.0 - start.0) / PAGE_SIZE + self.locked_pages();
            if locked > limit {
                locked -= self.locked_pages_in(start, end);
            }
            if locked > limit {
                return Err(Errno::ENOMEM);
            }
        }
        if end == start {
            return Ok(());
        }
        if self.vmas.find(start).is_none() {
            return Err(Errno::ENOMEM);
        }
        let reached = self.vmas.update_range(start, end, |v| {
            v.flags = v.flags.without(LOCK_MASK).with(lock);
        });
        if lock.contains(VmaFlags::LOCKED) && !lock.contains(VmaFlags::LOCKONFAULT) {
            self.populate(start, reached);
        }
        self.debug_check();
        if reached < end { Err(Errno::ENOMEM) } else { Ok(()) }
    }

    /// Linux `mlockall`: `MCL_CURRENT` locks every mapping, `MCL_FUTURE` every later one,
    /// `MCL_ONFAULT` only as a modifier of those.
    pub fn mlockall(&mut self, flags: u32) -> Result<(), Errno> {
        if flags == 0
            || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0
            || flags == MCL_ONFAULT
        {
            return Err(Errno::EINVAL);
        }
        let limit = (self.lock_limit)();
        if !limit.may_lock() {
            return Err(Errno::EPERM);
        }
        // Linux's mlockall: MCL_CURRENT needs every mapped page under the limit.
        let total: u64 = self.vmas.iter().map(|v| v.len() / PAGE_SIZE).sum();
        if flags & MCL_CURRENT != 0 && limit.pages().is_some_and(|l| total > l) {
            return Err(Errno::ENOMEM);
        }
        let lock = if flags & MCL_ONFAULT != 0 { LOCK_MASK } else { VmaFlags::LOCKED };
        self.def_flags = self.def_flags.without(LOCK_MASK);
        if flags & MCL_FUTURE != 0 {
            self.def_flags = self.def_flags.with(lock);
        }
        if flags & MCL_CURRENT != 0 {
            self.relock_all(lock);
            if flags & MCL_ONFAULT == 0 {
                self.populate(GuestAddr::NULL, GuestAddr(self.arena_size()));
            }
        }
        self.debug_check();
        Ok(())
    }

    /// Linux `munlockall`: nothing locked, now or later.
    pub fn munlockall(&mut self) {
        self.def_flags = self.def_flags.without(LOCK_MASK);
        self.relock_all(VmaFlags::NONE);
        self.debug_check();
    }

    fn relock_all(&mut self, lock: VmaFlags) {
        let ranges: Vec<_> = self.vmas.iter().map(|v| (v.start, v.end)).collect();
        for (s, e) in ranges {
            self.vmas.update_range(s, e, |v| v.flags = v.flags.without(LOCK_MASK).with(lock));
        }
    }

    /// Makes a fork child's copy of the address space what Linux's `dup_mmap` gives it: no
    /// `MADV_DONTFORK` ranges, zero pages in `MADV_WIPEONFORK` ranges, no locks. Call in the
    /// child of a fork that copied the address space (not for `CLONE_VM`).
    pub fn after_fork(&mut self) {
        let mut dropped = Vec::new();
        let mut wiped = Vec::new();
        for v in self.vmas.iter() {
            if v.flags.contains(VmaFlags::DONTFORK) {
                dropped.push((v.start, v.end));
            } else if v.flags.contains(VmaFlags::WIPEONFORK)
                && matches!(v.backing, Backing::Anonymous)
            {
                wiped.push(v.clone());
            }
        }
        for (s, e) in dropped {
            self.unmap_range(s, e);
        }
        for v in wiped {
            let r = self.arena.discard(v.start.0, v.len());
            debug_assert!(r.is_ok(), "wiping {}..{} failed: {r:?}", v.start, v.end);
            if v.prot.contains(Prot::EXEC) {
                self.record(v.start, v.end, true);
            }
        }
        self.def_flags = self.def_flags.without(LOCK_MASK);
        self.relock_all(VmaFlags::NONE);
        self.debug_check();
    }
}

#[cfg(test)]
mod tests {
    use elfvisor_abi::mman::{
        MADV_DONTFORK, MADV_DONTNEED, MADV_WIPEONFORK, MAP_FIXED, MAP_LOCKED,
    };

    use super::*;
    use crate::space::tests::{P, anon, map_fixed, space};

    fn flags_of(s: &AddressSpace) -> Vec<(u64, VmaFlags)> {
        s.vmas().map(|v| (v.start.0, v.flags)).collect()
    }

    #[test]
    fn test_mlock_records_and_rounds() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 4 * P, Prot::RW);
        assert_eq!(s.mlock(GuestAddr(0x40_0010), P, VmaFlags::LOCKED), Ok(()));
        assert_eq!(flags_of(&s), vec![(0x40_0000, VmaFlags::LOCKED), (0x40_2000, VmaFlags::NONE)]);
        assert_eq!(s.madvise(GuestAddr(0x40_0000), P, MADV_DONTNEED), Err(Errno::EINVAL));
        assert_eq!(s.mlock(GuestAddr(0x40_0000), 0, VmaFlags::LOCKED), Ok(()));
        assert_eq!(s.mlock(GuestAddr(0x40_0000), 4 * P, VmaFlags::NONE), Ok(()));
        assert_eq!(flags_of(&s), vec![(0x40_0000, VmaFlags::NONE)]);
        s.munmap(GuestAddr(0x40_1000), P).unwrap();
        assert_eq!(s.mlock(GuestAddr(0x40_0000), 3 * P, LOCK_MASK), Err(Errno::ENOMEM));
        assert_eq!(s.mlock(GuestAddr(0x40_1000), P, VmaFlags::LOCKED), Err(Errno::ENOMEM));
        assert_eq!(flags_of(&s), vec![(0x40_0000, LOCK_MASK), (0x40_2000, VmaFlags::NONE)]);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_lock_limit_counts_pages_not_yet_locked() {
        let mut s = space();
        s.set_lock_limit(|| LockLimit::Bytes(4 * P));
        map_fixed(&mut s, 0x40_0000, 8 * P, Prot::RW);
        assert_eq!(s.mlock(GuestAddr(0x40_0000), 3 * P, VmaFlags::LOCKED), Ok(()));
        assert_eq!(s.locked_pages(), 3);
        // Already locked pages count once; new ones push past the limit.
        assert_eq!(s.mlock(GuestAddr(0x40_0000), 4 * P, VmaFlags::LOCKED), Ok(()));
        assert_eq!(s.mlock(GuestAddr(0x40_0000), 5 * P, VmaFlags::LOCKED), Err(Errno::ENOMEM));
        assert_eq!(s.locked_pages(), 4);
        let locked = anon(0x60_0000, P, Prot::RW, MAP_FIXED | MAP_LOCKED);
        assert_eq!(s.mmap(locked), Err(Errno::EAGAIN));
        assert_eq!(s.mlockall(MCL_CURRENT), Err(Errno::ENOMEM));
        assert_eq!(s.mlock(GuestAddr(0x40_0000), 8 * P, VmaFlags::NONE), Ok(()));
        assert_eq!(s.locked_pages(), 0);
        s.set_lock_limit(|| LockLimit::Bytes(P - 1));
        assert_eq!(s.mlock(GuestAddr(0x40_0000), P, VmaFlags::LOCKED), Err(Errno::ENOMEM));
        s.set_lock_limit(|| LockLimit::Bytes(0));
        assert_eq!(s.mlock(GuestAddr(0x40_0000), P, VmaFlags::LOCKED), Err(Errno::EPERM));
        let locked = anon(0x60_0000, P, Prot::RW, MAP_FIXED | MAP_LOCKED);
        assert_eq!(s.mmap(locked), Err(Errno::EPERM));
        assert_eq!(s.mlockall(MCL_FUTURE), Err(Errno::EPERM));
        assert_eq!(s.mlock(GuestAddr(0x40_0000), P, VmaFlags::NONE), Ok(()));
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mlockall_future_and_flags() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        assert_eq!(s.mlockall(0), Err(Errno::EINVAL));
        assert_eq!(s.mlockall(MCL_ONFAULT), Err(Errno::EINVAL));
        assert_eq!(s.mlockall(MCL_CURRENT | 8), Err(Errno::EINVAL));
        assert_eq!(s.mlockall(MCL_FUTURE), Ok(()));
        assert_eq!(flags_of(&s), vec![(0x40_0000, VmaFlags::NONE)]);
        assert_eq!(s.mmap(anon(0x50_0000, P, Prot::RW, MAP_FIXED)), Ok(GuestAddr(0x50_0000)));
        assert_eq!(s.vmas().last().unwrap().flags, VmaFlags::LOCKED);
        assert_eq!(s.mlockall(MCL_CURRENT), Ok(()));
        assert!(s.vmas().all(|v| v.flags == VmaFlags::LOCKED));
        s.munlockall();
        assert!(s.vmas().all(|v| v.flags == VmaFlags::NONE));
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_after_fork_applies_fork_advice() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 3 * P, Prot::RW);
        for i in 0..3 {
            s.copy_out(GuestAddr(0x40_0000 + i * P), b"data").unwrap();
        }
        s.madvise(GuestAddr(0x40_0000), P, MADV_DONTFORK).unwrap();
        s.madvise(GuestAddr(0x40_1000), P, MADV_WIPEONFORK).unwrap();
        s.mlock(GuestAddr(0x40_2000), P, VmaFlags::LOCKED).unwrap();
        s.after_fork();
        assert_eq!(s.prot_at(GuestAddr(0x40_0000)), None);
        let mut b = [9u8; 4];
        s.copy_in(GuestAddr(0x40_1000), &mut b).unwrap();
        assert_eq!(b, [0; 4]);
        s.copy_in(GuestAddr(0x40_2000), &mut b).unwrap();
        assert_eq!(&b, b"data");
        assert_eq!(
            flags_of(&s),
            vec![(0x40_1000, VmaFlags::WIPEONFORK), (0x40_2000, VmaFlags::NONE)]
        );
        s.check_invariants().unwrap();
    }
}
