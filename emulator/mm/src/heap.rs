//! The program break: `brk(2)`.

use elfvisor_abi::{GuestAddr, PAGE_SIZE, Prot};

use crate::space::AddressSpace;
use crate::vma::{Backing, Vma, VmaFlags, VmaName};

/// The heap's bounds: `start` (page aligned) and the current break (any byte address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Brk {
    pub(crate) start: GuestAddr,
    pub(crate) current: GuestAddr,
}

impl Brk {
    pub(crate) fn check(&self, limit: u64) -> Result<(), String> {
        if !self.start.is_page_aligned() {
            return Err(format!("brk start {} is not page aligned", self.start));
        }
        if self.current < self.start {
            return Err(format!("break {} is below the heap start {}", self.current, self.start));
        }
        if self.current.0 > limit {
            return Err(format!("break {} is past the arena ({limit:#x})", self.current));
        }
        Ok(())
    }
}

fn page_up(a: GuestAddr) -> GuestAddr {
    // Cannot overflow: breaks never exceed the arena size, which is far below u64::MAX.
    GuestAddr(a.0.div_ceil(PAGE_SIZE) * PAGE_SIZE)
}

impl AddressSpace {
    /// Sets the start of the heap (end of the loaded program, page aligned up by the caller).
    /// The break starts there; non-fixed mmaps leave `layout().heap_reserve` bytes above it free.
    pub fn init_brk(&mut self, start: GuestAddr) {
        assert!(start.is_page_aligned(), "heap start {start} is not page aligned");
        assert!(start.0 <= self.arena_size(), "heap start {start} is past the arena");
        self.brk = Some(Brk { start, current: start });
        self.debug_check();
    }

    /// The heap's start and current break, if `init_brk` was called.
    pub fn brk_state(&self) -> Option<(GuestAddr, GuestAddr)> {
        self.brk.map(|b| (b.start, b.current))
    }

    /// Restores the break of an address space rebuilt elsewhere (a respawned fork child): the
    /// heap's pages are among the VMAs already mapped, so nothing is mapped here.
    pub fn restore_brk(&mut self, start: GuestAddr, current: GuestAddr) {
        assert!(
            start.is_page_aligned() && current >= start,
            "inconsistent break {start}..{current}"
        );
        self.brk = Some(Brk { start, current });
        self.debug_check();
    }

    /// Records the size of the program's data (Linux's `end_data - start_data`), which `brk`
    /// counts against RLIMIT_DATA.
    pub fn set_data_size(&mut self, size: u64) {
        self.data_size = size;
    }

    pub fn data_size(&self) -> u64 {
        self.data_size
    }

    /// The current break (`GuestAddr::NULL` before `init_brk`).
    pub fn current_brk(&self) -> GuestAddr {
        self.brk.map_or(GuestAddr::NULL, |b| b.current)
    }

    /// Linux `brk(2)`: returns the new break, or the old one when refused. Growth maps
    /// zero-filled anonymous pages named `Heap` and needs a free page after the new break (as
    /// Linux does); shrinking releases whole pages, so re-grown memory reads as zero.
    pub fn brk(&mut self, requested: GuestAddr) -> GuestAddr {
        let Some(b) = self.brk else { return GuestAddr::NULL };
        if requested < b.start || requested.0 > self.arena_size() {
            return b.current;
        }
        // check_data_rlimit (include/linux/mm.h), asked before shrinking too: the heap and
        // the program's data must fit RLIMIT_DATA.
        let data_limit = self.limits.data.0;
        if data_limit != crate::limits::RLIM_INFINITY
            && (requested.0 - b.start.0).saturating_add(self.data_size) > data_limit
        {
            return b.current;
        }
        let (old_top, new_top) = (page_up(b.current), page_up(requested));
        if new_top < old_top {
            self.unmap_range(new_top, old_top);
        } else if new_top > old_top {
            // Linux's check_brk: the new heap end plus a guard page must not reach a mapping.
            let guard_end = GuestAddr(new_top.0.saturating_add(PAGE_SIZE).min(self.arena_size()));
            // do_brk_flags: the new pages must fit RLIMIT_AS (and RLIMIT_DATA) too.
            if !self.vmas.is_free(old_top, guard_end)
                || !self.may_lock_more(self.def_flags, new_top.0 - old_top.0)
                || !self.may_expand_vm(true, (new_top.0 - old_top.0) / PAGE_SIZE)
            {
                return b.current;
            }
            let vma = Vma {
                start: old_top,
                end: new_top,
                prot: Prot::RW,
                shared: false,
                grows_down: false,
                flags: self.def_flags,
                backing: Backing::Anonymous,
                name: VmaName::Heap,
            };
            if self.place(vma).is_err() {
                return b.current;
            }
            // Linux's brk: memory added under mlockall(MCL_FUTURE) is faulted in.
            if self.def_flags.contains(VmaFlags::LOCKED)
                && !self.def_flags.contains(VmaFlags::LOCKONFAULT)
            {
                self.populate(old_top, new_top);
            }
        }
        self.brk = Some(Brk { current: requested, ..b });
        self.debug_check();
        requested
    }

    /// The heap's growth room that non-fixed mappings avoid.
    pub(crate) fn heap_reserve(&self) -> Option<(GuestAddr, GuestAddr)> {
        let b = self.brk?;
        let end = b.start.0.saturating_add(self.layout.heap_reserve).min(self.arena_size());
        Some((b.start, GuestAddr(end)))
    }
}

#[cfg(test)]
mod tests {
    use crate::space::tests::{P, anon, map_fixed, space};
    use elfvisor_abi::{GuestAddr, Prot};

    #[test]
    fn test_brk_before_init_is_null() {
        let mut s = space();
        assert_eq!(s.brk(GuestAddr(0x50_0000)), GuestAddr::NULL);
        assert_eq!(s.vmas().count(), 0);
    }

    #[test]
    fn test_brk_grows_with_zeroed_heap_pages() {
        let mut s = space();
        s.init_brk(GuestAddr(0x50_0000));
        assert_eq!(s.brk(GuestAddr(0)), GuestAddr(0x50_0000));
        assert_eq!(s.brk(GuestAddr(0x4f_ffff)), GuestAddr(0x50_0000));
        assert_eq!(s.brk(GuestAddr(0x50_0010)), GuestAddr(0x50_0010));
        assert_eq!(s.current_brk(), GuestAddr(0x50_0010));
        let v = s.vmas().next().unwrap();
        assert_eq!(
            (v.start, v.end, v.name.clone()),
            (GuestAddr(0x50_0000), GuestAddr(0x50_1000), crate::VmaName::Heap)
        );
        // Within the same page: no new VMA.
        assert_eq!(s.brk(GuestAddr(0x50_0fff)), GuestAddr(0x50_0fff));
        assert_eq!(s.brk(GuestAddr(0x50_2001)), GuestAddr(0x50_2001));
        assert_eq!(s.vmas().count(), 1);
        assert_eq!(s.vmas().next().unwrap().end, GuestAddr(0x50_3000));
        let mut b = [7u8; 4];
        s.copy_in(GuestAddr(0x50_2ffc), &mut b).unwrap();
        assert_eq!(b, [0; 4]);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_brk_shrink_releases_and_regrow_reads_zero() {
        let mut s = space();
        s.init_brk(GuestAddr(0x50_0000));
        s.brk(GuestAddr(0x50_3000));
        s.copy_out(GuestAddr(0x50_2000), b"dirty").unwrap();
        s.take_invalidations();
        assert_eq!(s.brk(GuestAddr(0x50_1800)), GuestAddr(0x50_1800));
        assert_eq!(s.prot_at(GuestAddr(0x50_2000)), None);
        assert_eq!(s.prot_at(GuestAddr(0x50_1fff)), Some(Prot::RW));
        assert_eq!(s.take_invalidations().len(), 1);
        assert_eq!(s.brk(GuestAddr(0x50_3000)), GuestAddr(0x50_3000));
        let mut b = [1u8; 5];
        s.copy_in(GuestAddr(0x50_2000), &mut b).unwrap();
        assert_eq!(b, [0; 5]);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_brk_refuses_to_collide() {
        let mut s = space();
        s.init_brk(GuestAddr(0x50_0000));
        map_fixed(&mut s, 0x50_4000, P, Prot::READ);
        assert_eq!(s.brk(GuestAddr(0x50_3000)), GuestAddr(0x50_3000));
        // 0x50_4000 would leave no guard page before the mapping.
        assert_eq!(s.brk(GuestAddr(0x50_3001)), GuestAddr(0x50_3000));
        assert_eq!(s.brk(GuestAddr(0x60_0000)), GuestAddr(0x50_3000));
        assert_eq!(s.brk(GuestAddr(u64::MAX)), GuestAddr(0x50_3000));
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mmap_avoids_heap_reserve() {
        let mut s = space();
        s.init_brk(GuestAddr(0x50_0000));
        let l = s.layout();
        // Fill the mmap area down to the reserve, then one more mapping must go below the heap.
        let above = l.mmap_top.0 - (0x50_0000 + l.heap_reserve);
        assert_eq!(
            s.mmap(anon(0, above, Prot::NONE, 0)),
            Ok(GuestAddr(0x50_0000 + l.heap_reserve))
        );
        let a = s.mmap(anon(0, P, Prot::RW, 0)).unwrap();
        assert_eq!(a, GuestAddr(0x50_0000 - P));
        s.check_invariants().unwrap();
    }
}
