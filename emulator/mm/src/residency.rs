//! Which private anonymous pages a fork child finds present, as on Linux.
//!
//! Linux's `dup_mmap` (kernel/fork.c) calls `copy_page_range` (mm/memory.c) for each VMA, which
//! copies the parent's page table only where `vma_needs_copy` says so: for a private anonymous
//! VMA, exactly when it has an `anon_vma`, which it gets on its first write fault (a read fault
//! maps the shared zero page and gives it none). The child of a VMA that was written therefore
//! has every page present that the parent had present, zero pages included; the child of one
//! that was never written has none, and `mincore` (`mincore_pte_range` in mm/mincore.c) reports
//! a private anonymous page with no page-table entry as not resident. File and shared pages
//! report their object's page cache instead, which the host gives every fork strategy as is.
//!
//! [`VmaFlags::ANON`] stands for the `anon_vma`. It is recorded when a fork captures the parent
//! ([`AddressSpace::note_anon_writes`]); a respawned child applies the parent's residency page
//! by page ([`AddressSpace::resident_runs`], [`AddressSpace::make_resident`]) and a host fork
//! child drops the zero pages of VMAs never written ([`AddressSpace::drop_unwritten_pages`]).

use std::io;

use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};
use elfvisor_host::errno_from_io;

use crate::AddressSpace;
use crate::vma::{Backing, Vma, VmaFlags};

/// Pages asked of the host per `mincore` call: bounds the buffer for huge mappings.
const PIECE_PAGES: u64 = 16 * 1024;

fn private_anonymous(v: &Vma) -> bool {
    !v.shared && matches!(v.backing, Backing::Anonymous)
}

impl AddressSpace {
    /// Gives [`VmaFlags::ANON`] to every private anonymous VMA that holds a page this process
    /// wrote (the host's page map: an anonymous page it maps alone, or a swapped one). Call in
    /// the parent of a fork before the child's memory is captured: a page written since the
    /// previous fork is the process's own until then, and earlier writes were recorded by the
    /// forks before. Writing any byte, even a zero, counts, as a write fault does on Linux.
    /// A VMA found holding a byte that is not zero counts too, whatever the page map says:
    /// only zero pages are ever left behind.
    pub fn note_anon_writes(&mut self) -> io::Result<()> {
        let mut written = Vec::new();
        for v in self.vmas.iter() {
            if private_anonymous(v)
                && !v.flags.contains(VmaFlags::ANON)
                && (self.arena.holds_written_page(v.start.0, v.len())? || self.holds_data(v)?)
            {
                written.push((v.start, v.end));
            }
        }
        for (start, end) in written {
            self.vmas.update_range(start, end, |v| v.flags = v.flags.with(VmaFlags::ANON));
        }
        self.debug_check();
        Ok(())
    }

    /// Gives `[start, end)` of private anonymous VMAs [`VmaFlags::ANON`]: a respawned child
    /// rebuilding a VMA its parent had written.
    pub fn mark_anon(&mut self, start: GuestAddr, end: GuestAddr) {
        self.vmas.update_range(start, end, |v| {
            if private_anonymous(v) {
                v.flags = v.flags.with(VmaFlags::ANON);
            }
        });
        self.debug_check();
    }

    /// The maximal runs of resident pages in mapped range `[start, end)` (page aligned), as
    /// guest address ranges in ascending order.
    pub fn resident_runs(
        &self,
        start: GuestAddr,
        end: GuestAddr,
    ) -> io::Result<Vec<(GuestAddr, GuestAddr)>> {
        let mut runs: Vec<(GuestAddr, GuestAddr)> = Vec::new();
        let mut at = start.0;
        while at < end.0 {
            let n = (PIECE_PAGES * PAGE_SIZE).min(end.0 - at);
            for (i, byte) in self.arena.residency(at, n)?.into_iter().enumerate() {
                if byte & 1 == 0 {
                    continue;
                }
                let page = at + i as u64 * PAGE_SIZE;
                match runs.last_mut() {
                    Some((_, run_end)) if run_end.0 == page => run_end.0 += PAGE_SIZE,
                    _ => runs.push((GuestAddr(page), GuestAddr(page + PAGE_SIZE))),
                }
            }
            at += n;
        }
        Ok(runs)
    }

    /// Whether a resident page of `v` holds a byte that is not zero.
    fn holds_data(&self, v: &Vma) -> io::Result<bool> {
        Ok(self.resident_runs(v.start, v.end)?.iter().any(|(s, e)| {
            (s.0..e.0).step_by(PAGE_SIZE as usize).any(|page| !self.page_is_zero(page))
        }))
    }

    /// Makes `[start, start + len)` of one private VMA present on the host without changing a
    /// byte: pages with no data become the zero page, frozen pages their object's. A respawned
    /// child applies its parent's residency with it.
    pub fn make_resident(&self, start: GuestAddr, len: u64) -> Result<(), Errno> {
        let end = start.0.checked_add(len).ok_or(Errno::EINVAL)?;
        let inside = self.vmas.find(start).is_some_and(|v| !v.shared && v.end.0 >= end);
        if !inside || len == 0 || start.0 % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL);
        }
        // Only what is not resident yet is faulted in: a frozen page is resident already (its
        // object's page cache), and a child of a big snapshot would fault every one in for
        // nothing.
        let present = self.resident_runs(start, GuestAddr(end)).map_err(|e| errno_from_io(&e))?;
        let mut at = start.0;
        for (s, e) in present.into_iter().chain([(GuestAddr(end), GuestAddr(end))]) {
            if s.0 > at {
                self.arena.populate(at, s.0 - at, false);
            }
            at = e.0;
        }
        Ok(())
    }

    /// In the child of a host fork, after [`after_fork`](Self::after_fork): drops the pages of
    /// every private anonymous VMA without [`VmaFlags::ANON`], which Linux's child would not
    /// have (the host copied every page of the arena). Such a VMA holds only zero pages, so
    /// dropping them changes no byte; a VMA found holding anything else is kept as it is and
    /// counted as written. `MADV_WIPEONFORK` ranges lose the flag (`dup_mmap` gives them no
    /// `anon_vma`).
    pub fn drop_unwritten_pages(&mut self) {
        let wiped: Vec<_> = self
            .vmas
            .iter()
            .filter(|v| private_anonymous(v) && v.flags.contains(VmaFlags::WIPEONFORK))
            .map(|v| (v.start, v.end))
            .collect();
        for (start, end) in wiped {
            self.vmas.update_range(start, end, |v| v.flags = v.flags.without(VmaFlags::ANON));
        }
        let unwritten: Vec<Vma> = self
            .vmas
            .iter()
            .filter(|v| private_anonymous(v) && !v.flags.contains(VmaFlags::ANON))
            .cloned()
            .collect();
        for v in unwritten {
            match (self.resident_runs(v.start, v.end), self.holds_data(&v)) {
                (Ok(runs), Ok(false)) if !runs.is_empty() => {}
                (_, Ok(true)) => {
                    self.mark_anon(v.start, v.end);
                    continue;
                }
                _ => continue,
            }
            let r = self.arena.discard(v.start.0, v.len());
            debug_assert!(r.is_ok(), "dropping {}..{} failed: {r:?}", v.start, v.end);
            if v.prot.contains(Prot::EXEC) {
                self.record(v.start, v.end, true);
            }
        }
        self.debug_check();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::tests::{P, anon, space};
    use elfvisor_abi::mman::{MAP_LOCKED, MAP_POPULATE};

    fn flags_at(s: &AddressSpace, addr: GuestAddr) -> VmaFlags {
        s.vmas.find(addr).unwrap().flags
    }

    fn resident(s: &AddressSpace, a: GuestAddr, pages: u64) -> Vec<u8> {
        let (v, r) = s.mincore(a, pages * P);
        r.unwrap();
        v
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn test_only_written_mappings_get_the_flag() {
        let mut s = space();
        let read_only = s.mmap(anon(0, 4 * P, Prot::READ, MAP_LOCKED)).unwrap();
        // Different protections, so that no two of them merge into one VMA.
        let populated = s.mmap(anon(0, 4 * P, Prot::RWX, MAP_POPULATE)).unwrap();
        let zeroed = s.mmap(anon(0, 4 * P, Prot::RW, 0)).unwrap();
        let untouched = s.mmap(anon(0, 4 * P, Prot::READ, 0)).unwrap();
        s.copy_out(GuestAddr(zeroed.0 + P), &[0u8; 8]).unwrap();
        let mut b = [0u8; 1];
        s.copy_in(untouched, &mut b).unwrap();
        assert_eq!(resident(&s, read_only, 4), [1, 1, 1, 1], "zero pages, present");
        s.note_anon_writes().unwrap();
        assert!(!flags_at(&s, read_only).contains(VmaFlags::ANON));
        assert!(flags_at(&s, populated).contains(VmaFlags::ANON), "populated for writing");
        assert!(flags_at(&s, zeroed).contains(VmaFlags::ANON), "a zero written is a write");
        assert!(!flags_at(&s, untouched).contains(VmaFlags::ANON), "only read");
    }

    #[test]
    fn test_resident_runs_and_make_resident() {
        let mut s = space();
        let a = s.mmap(anon(0, 6 * P, Prot::RW, 0)).unwrap();
        for page in [0, 1, 4] {
            s.copy_out(GuestAddr(a.0 + page * P), &[7]).unwrap();
        }
        let end = GuestAddr(a.0 + 6 * P);
        let runs = s.resident_runs(a, end).unwrap();
        let want = [(a, GuestAddr(a.0 + 2 * P)), (GuestAddr(a.0 + 4 * P), GuestAddr(a.0 + 5 * P))];
        assert_eq!(runs, want);
        s.make_resident(GuestAddr(a.0 + 2 * P), P).unwrap();
        assert_eq!(resident(&s, a, 6), [1, 1, 1, 0, 1, 0]);
        let mut b = [1u8];
        s.copy_in(GuestAddr(a.0 + 2 * P), &mut b).unwrap();
        assert_eq!(b, [0], "made present, still zero");
        s.make_resident(a, 6 * P).unwrap();
        assert_eq!(resident(&s, a, 6), [1; 6], "the gaps between resident runs too");
        s.copy_in(GuestAddr(a.0 + 4 * P), &mut b).unwrap();
        assert_eq!(b, [7]);
        assert_eq!(s.make_resident(GuestAddr(a.0 + 5 * P), 2 * P), Err(Errno::EINVAL));
        assert_eq!(s.make_resident(GuestAddr(a.0 + 1), P), Err(Errno::EINVAL));
    }

    #[test]
    fn test_unwritten_pages_are_dropped_and_written_ones_kept() {
        let mut s = space();
        let zero = s.mmap(anon(0, 2 * P, Prot::READ, MAP_LOCKED)).unwrap();
        let data = s.mmap(anon(0, 2 * P, Prot::RW, 0)).unwrap();
        s.copy_out(data, &[5]).unwrap();
        // Not recorded as written (no fork noted it): found holding data, it is kept.
        s.drop_unwritten_pages();
        assert_eq!(resident(&s, zero, 2), [0, 0]);
        assert_eq!(resident(&s, data, 2), [1, 0]);
        assert!(flags_at(&s, data).contains(VmaFlags::ANON));
        let mut b = [0u8];
        s.copy_in(data, &mut b).unwrap();
        assert_eq!(b, [5]);
    }
}
