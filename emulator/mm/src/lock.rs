//! Memory locking (`mlock`, `mlock2`, `munlock`, `mlockall`, `munlockall`) and what a fork
//! child keeps of the address space (`MADV_DONTFORK`, `MADV_WIPEONFORK`, locks).
//!
//! Locks are recorded in the VMAs as Linux's `VM_LOCKED`: locked memory is faulted in, refuses
//! `MADV_DONTNEED`, and is unlocked in a fork child. Nothing is pinned on the host, and
//! `RLIMIT_MEMLOCK` is not enforced (the guest behaves as if it had `CAP_IPC_LOCK`).

use elfvisor_abi::mman::{MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};

use crate::space::AddressSpace;
use crate::vma::{Backing, VmaFlags};

const LOCK_MASK: VmaFlags = VmaFlags::LOCKED.with(VmaFlags::LOCKONFAULT);

impl AddressSpace {
    /// Linux `mlock` (`lock` = `LOCKED`), `mlock2(MLOCK_ONFAULT)` (`LOCKED|LOCKONFAULT`) and
    /// `munlock` (`NONE`): the start is rounded down to its page, the length up. Like Linux,
    /// VMAs before a hole keep their new state and the hole makes the call fail with `ENOMEM`.
    pub fn mlock(&mut self, addr: GuestAddr, len: u64, lock: VmaFlags) -> Result<(), Errno> {
        let start = addr.page_down();
        let end = len
            .checked_add(addr.0 - start.0)
            .and_then(|l| l.checked_add(PAGE_SIZE - 1))
            .and_then(|l| start.checked_add(l & !(PAGE_SIZE - 1)))
            .ok_or(Errno::EINVAL)?;
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
    use elfvisor_abi::mman::{MADV_DONTFORK, MADV_DONTNEED, MADV_WIPEONFORK, MAP_FIXED};

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
