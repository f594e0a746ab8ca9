//! `mremap(2)`, following Linux's `mm/mremap.c`.
//!
//! Shared mappings move by mapping their object at the destination (the pages live in the
//! object, so nothing is copied); growing one never grows its object, so the new part may lie
//! past the object's end (`SIGBUS` on access, as on Linux). `old_len == 0` duplicates a shared
//! mapping. SysV attaches, which have no descriptor, move as host mappings.
//!
//! One deliberate difference: Linux unmaps the `MREMAP_FIXED` destination (and a shrinking
//! source's tail) before it looks the source up, so a call that then fails with `EFAULT` has
//! already unmapped them. Here the source is validated first and a failing call changes nothing.

use elfvisor_abi::addr::page_round_up;
use elfvisor_abi::mman::{MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};

use crate::layout::GUEST_TASK_SIZE;
use crate::space::AddressSpace;
use crate::vma::{Backing, Vma};
use elfvisor_host::errno_from_io;

impl AddressSpace {
    /// Linux `mremap`. Returns the (possibly new) address of the mapping.
    pub fn mremap(
        &mut self,
        old: GuestAddr,
        old_len: u64,
        new_len: u64,
        flags: u32,
        new_addr: GuestAddr,
    ) -> Result<GuestAddr, Errno> {
        if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
            return Err(Errno::EINVAL);
        }
        let may_move = flags & MREMAP_MAYMOVE != 0;
        if flags & MREMAP_FIXED != 0 && !may_move {
            return Err(Errno::EINVAL);
        }
        // DONTUNMAP is always a move and never a resize (compared before page rounding).
        if flags & MREMAP_DONTUNMAP != 0 && (!may_move || old_len != new_len) {
            return Err(Errno::EINVAL);
        }
        if !old.is_page_aligned() {
            return Err(Errno::EINVAL);
        }
        let old_len = page_round_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_round_up(new_len).filter(|&l| l != 0).ok_or(Errno::EINVAL)?;
        let result = if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
            self.remap_to(old, old_len, new_len, flags, new_addr)
        } else if old_len >= new_len {
            // Always allow a shrinking remap: that just unmaps the tail, mapped or not.
            if old_len > new_len {
                let tail = old.checked_add(new_len).ok_or(Errno::EINVAL)?;
                self.munmap(tail, old_len - new_len)?;
            }
            Ok(old)
        } else {
            self.grow(old, old_len, new_len, may_move)
        };
        self.debug_check();
        result
    }

    /// Linux `vma_to_resize`: the VMA holding `[old, old + old_len)`, which must lie in one VMA.
    fn resizable(&self, old: GuestAddr, old_len: u64, new_len: u64) -> Result<Vma, Errno> {
        let v = self.vmas.find(old).ok_or(Errno::EFAULT)?;
        if old_len == 0 && !v.shared {
            // `old_len == 0` duplicates a shared mapping; for a private one that makes no sense
            // (and Linux refuses it).
            return Err(Errno::EINVAL);
        }
        if old_len > v.end.0 - old.0 {
            return Err(Errno::EFAULT);
        }
        if let Some(offset) = v.backing.offset() {
            if (offset + (old.0 - v.start.0)).checked_add(new_len).is_none() {
                return Err(Errno::EINVAL);
            }
        }
        // A locked mapping may not grow past the lock limit.
        if !self.may_lock_more(v.flags, new_len.saturating_sub(old_len)) {
            return Err(Errno::EAGAIN);
        }
        // Growing must fit RLIMIT_AS and RLIMIT_DATA (may_expand_vm).
        let data = crate::limits::is_data(v.prot, v.shared, v.grows_down);
        if !self.may_expand_vm(data, new_len.saturating_sub(old_len) / PAGE_SIZE) {
            return Err(Errno::ENOMEM);
        }
        Ok(v.clone())
    }

    /// `mremap(old, 0, new_len)` of a shared mapping: a second mapping of the same object range
    /// at `dst`, the original untouched.
    fn duplicate(
        &mut self,
        v: &Vma,
        old: GuestAddr,
        dst: GuestAddr,
        new_len: u64,
    ) -> Result<(), Errno> {
        let copy = Vma {
            start: dst,
            end: GuestAddr(dst.0 + new_len),
            backing: v.backing.advanced(old.0 - v.start.0),
            ..v.clone()
        };
        self.place(copy)
    }

    /// Grows `[old, old + old_len)` to `new_len`: in place when it ends its VMA and the pages
    /// after it are free, else (with `MREMAP_MAYMOVE`) at a new address.
    fn grow(
        &mut self,
        old: GuestAddr,
        old_len: u64,
        new_len: u64,
        may_move: bool,
    ) -> Result<GuestAddr, Errno> {
        let v = self.resizable(old, old_len, new_len)?;
        let old_end = GuestAddr(old.0 + old_len);
        if old_end == v.end {
            let new_end = old.checked_add(new_len).filter(|e| e.0 <= self.arena_size());
            if let Some(new_end) = new_end.filter(|&e| self.vmas.is_free(old_end, e)) {
                let tail = Vma {
                    start: old_end,
                    end: new_end,
                    backing: v.backing.advanced(old_end.0 - v.start.0),
                    ..v
                };
                self.place(tail)?;
                return Ok(old);
            }
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let dst = self.pick(GuestAddr::NULL, new_len)?;
        if old_len == 0 {
            self.duplicate(&v, old, dst, new_len)?;
        } else {
            self.move_vma(v.slice(old, old_end), dst, new_len, false)?;
        }
        Ok(dst)
    }

    /// Linux `mremap_to`: the `MREMAP_FIXED` and/or `MREMAP_DONTUNMAP` cases.
    fn remap_to(
        &mut self,
        old: GuestAddr,
        old_len: u64,
        new_len: u64,
        flags: u32,
        new_addr: GuestAddr,
    ) -> Result<GuestAddr, Errno> {
        if !new_addr.is_page_aligned()
            || new_len > GUEST_TASK_SIZE
            || new_addr.0 > GUEST_TASK_SIZE - new_len
        {
            return Err(Errno::EINVAL);
        }
        // The old and new ranges must not overlap (u128: `old + old_len` may exceed u64).
        let (o, ol, n, nl) = (old.0 as u128, old_len as u128, new_addr.0 as u128, new_len as u128);
        if o + ol > n && n + nl > o {
            return Err(Errno::EINVAL);
        }
        let keep_len = old_len.min(new_len);
        let v = self.resizable(old, keep_len, new_len)?;
        // mremap_to: a source that stays mapped (MREMAP_DONTUNMAP) counts twice.
        let data = crate::limits::is_data(v.prot, v.shared, v.grows_down);
        if flags & MREMAP_DONTUNMAP != 0 && !self.may_expand_vm(data, old_len / PAGE_SIZE) {
            return Err(Errno::ENOMEM);
        }
        let fixed = flags & MREMAP_FIXED != 0;
        let dst = if fixed {
            if new_addr.0 + new_len > self.arena_size() {
                return Err(Errno::ENOMEM);
            }
            if new_addr < self.layout.mmap_min {
                return Err(Errno::EPERM);
            }
            new_addr
        } else {
            self.pick(new_addr, new_len)?
        };
        if fixed {
            self.unmap_range(dst, GuestAddr(dst.0 + new_len));
        }
        if old_len > new_len {
            // The tail may run past the source VMA, the arena or even u64 (Linux just unmaps
            // whatever is there): clip it to the arena. `old + new_len` is inside the VMA.
            let tail_end = GuestAddr(old.0.saturating_add(old_len).min(self.arena_size()));
            let tail = GuestAddr(old.0 + new_len);
            if tail < tail_end {
                self.unmap_range(tail, tail_end);
            }
        }
        if keep_len == 0 {
            self.duplicate(&v, old, dst, new_len)?;
            return Ok(dst);
        }
        self.move_vma(
            v.slice(old, GuestAddr(old.0 + keep_len)),
            dst,
            new_len,
            flags & MREMAP_DONTUNMAP != 0,
        )?;
        Ok(dst)
    }

    /// Moves the pages of `src` (one VMA's slice) to `[dst, dst + new_len)`, which is free,
    /// keeping contents; the part past `src.len()` is zero (anonymous) or continues the file.
    /// With `keep_source` the source stays mapped with fresh pages (`MREMAP_DONTUNMAP`).
    fn move_vma(
        &mut self,
        src: Vma,
        dst: GuestAddr,
        new_len: u64,
        keep_source: bool,
    ) -> Result<(), Errno> {
        let moved = Vma { start: dst, end: GuestAddr(dst.0 + new_len), ..src.clone() };
        match &src.backing {
            // A shared object holds the pages: map it at the destination, drop the source.
            Backing::Shared { object, .. } if object.fd().is_some() => {
                if let Err(e) = self.host_map(&moved) {
                    self.release(moved.start, moved.end);
                    return Err(e);
                }
                self.release(src.start, src.end);
            }
            // A SysV attach cannot be re-made at an offset: move the host's attach itself.
            Backing::Shared { object, offset } => {
                let attached = object.host_mapped(*offset, src.len());
                if attached > 0 {
                    self.move_attach(src.start.0, dst.0, attached)?;
                }
                self.release(src.start, src.end);
            }
            // Map the whole destination first: if that fails nothing has moved yet, and the
            // page moves below then only replace pages inside an existing mapping, so they
            // cannot fail (they fall back to copying).
            _ => {
                if let Err(e) = self.host_map(&moved) {
                    self.release(moved.start, moved.end);
                    return Err(e);
                }
                self.move_host(src.start.0, dst.0, src.len());
            }
        }
        self.vmas.remove_range(src.start, src.end);
        self.record(src.start, src.end, src.prot.contains(Prot::EXEC));
        self.vmas.insert(moved);
        if keep_source {
            // The old range reads as new: zero for anonymous memory, the file for file pages.
            // Should the host refuse (out of mapping slots) it simply stays unmapped.
            let _ = self.place(src);
        }
        Ok(())
    }

    /// Moves the host pages of a SysV attach, splitting the range where the host holds it as
    /// several mappings (after `mprotect`). They cannot be copied: copies would not be shared.
    fn move_attach(&self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        match self.arena.move_pages(from, to, len) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) && len > PAGE_SIZE => {
                let half = len / 2 / PAGE_SIZE * PAGE_SIZE;
                self.move_attach(from, to, half)?;
                self.move_attach(from + half, to + half, len - half)
            }
            Err(e) => Err(errno_from_io(&e)),
        }
    }

    /// Moves host pages with `mremap`, splitting the range where it spans several host
    /// mappings, and copying where the host cannot move. Leaves the source released.
    fn move_host(&self, from: u64, to: u64, len: u64) {
        match self.arena.move_pages(from, to, len) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) && len > PAGE_SIZE => {
                let half = len / 2 / PAGE_SIZE * PAGE_SIZE;
                self.move_host(from, to, half);
                self.move_host(from + half, to + half, len - half);
            }
            // A range the arena refuses (never one the VMA checks let through) moves nothing.
            Err(_) => {
                if self.arena.copy_pages(from, to, len).is_ok() {
                    self.release(GuestAddr(from), GuestAddr(from + len));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::space::tests::{P, anon, map_fixed, ranges, space};
    use crate::{AddressSpace, Invalidation};
    use elfvisor_abi::mman::{MAP_FIXED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE};
    use elfvisor_abi::{Errno, GuestAddr, Prot};

    fn fill(s: &AddressSpace, addr: u64, pages: u64) {
        for i in 0..pages {
            s.copy_out(GuestAddr(addr + i * P), &[i as u8 + 1; 8]).unwrap();
        }
    }

    fn expect(s: &AddressSpace, addr: u64, pages: u64) {
        for i in 0..pages {
            let mut b = [0u8; 8];
            s.copy_in(GuestAddr(addr + i * P), &mut b).unwrap();
            assert_eq!(b, [i as u8 + 1; 8], "page {i} at {:#x}", addr + i * P);
        }
    }

    #[test]
    fn test_mremap_argument_errors() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        let a = GuestAddr(0x40_0000);
        assert_eq!(s.mremap(a, P, P, 8, GuestAddr(0)), Err(Errno::EINVAL));
        assert_eq!(s.mremap(a, P, P, MREMAP_FIXED, GuestAddr(0x50_0000)), Err(Errno::EINVAL));
        assert_eq!(s.mremap(a, P, P, MREMAP_DONTUNMAP, GuestAddr(0)), Err(Errno::EINVAL));
        assert_eq!(
            s.mremap(a, P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, GuestAddr(0)),
            Err(Errno::EINVAL)
        );
        assert_eq!(s.mremap(GuestAddr(0x40_0010), P, P, 0, GuestAddr(0)), Err(Errno::EINVAL));
        assert_eq!(s.mremap(a, P, 0, MREMAP_MAYMOVE, GuestAddr(0)), Err(Errno::EINVAL));
        assert_eq!(s.mremap(a, 0, P, MREMAP_MAYMOVE, GuestAddr(0)), Err(Errno::EINVAL));
        assert_eq!(
            s.mremap(GuestAddr(0x60_0000), P, 2 * P, MREMAP_MAYMOVE, GuestAddr(0)),
            Err(Errno::EFAULT)
        );
        assert_eq!(s.mremap(a, 3 * P, 4 * P, MREMAP_MAYMOVE, GuestAddr(0)), Err(Errno::EFAULT));
        let fixed = MREMAP_MAYMOVE | MREMAP_FIXED;
        assert_eq!(s.mremap(a, P, P, fixed, GuestAddr(0x50_0001)), Err(Errno::EINVAL));
        assert_eq!(s.mremap(a, 2 * P, 2 * P, fixed, GuestAddr(0x40_1000)), Err(Errno::EINVAL));
        assert_eq!(s.mremap(a, P, P, fixed, GuestAddr(0x60_0000)).map(|_| ()), Ok(()));
        assert_eq!(
            ranges(&s),
            vec![(0x40_1000, 0x40_2000, Prot::RW), (0x60_0000, 0x60_1000, Prot::RW)]
        );
    }

    #[test]
    fn test_mremap_shrink_in_place() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 4 * P, Prot::RW);
        fill(&s, 0x40_0000, 4);
        s.take_invalidations();
        assert_eq!(
            s.mremap(GuestAddr(0x40_0000), 4 * P, P + 1, 0, GuestAddr(0)),
            Ok(GuestAddr(0x40_0000))
        );
        assert_eq!(ranges(&s), vec![(0x40_0000, 0x40_2000, Prot::RW)]);
        expect(&s, 0x40_0000, 2);
        assert_eq!(
            s.take_invalidations(),
            vec![Invalidation {
                start: GuestAddr(0x40_2000),
                end: GuestAddr(0x40_4000),
                was_exec: false
            }]
        );
        // Shrinking never looks at the source (Linux just unmaps the tail).
        assert_eq!(
            s.mremap(GuestAddr(0x70_0000), 2 * P, P, 0, GuestAddr(0)),
            Ok(GuestAddr(0x70_0000))
        );
    }

    #[test]
    fn test_mremap_grow_in_place() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        fill(&s, 0x40_0000, 2);
        assert_eq!(
            s.mremap(GuestAddr(0x40_0000), 2 * P, 4 * P, 0, GuestAddr(0)),
            Ok(GuestAddr(0x40_0000))
        );
        assert_eq!(ranges(&s), vec![(0x40_0000, 0x40_4000, Prot::RW)]);
        expect(&s, 0x40_0000, 2);
        let mut b = [1u8; 4];
        s.copy_in(GuestAddr(0x40_3ffc), &mut b).unwrap();
        assert_eq!(b, [0; 4]);
    }

    #[test]
    fn test_mremap_grow_without_room() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        map_fixed(&mut s, 0x40_2000, P, Prot::READ);
        fill(&s, 0x40_0000, 2);
        assert_eq!(
            s.mremap(GuestAddr(0x40_0000), 2 * P, 3 * P, 0, GuestAddr(0)),
            Err(Errno::ENOMEM)
        );
        // Not the end of its VMA: cannot grow in place either.
        assert_eq!(s.mremap(GuestAddr(0x40_0000), P, 2 * P, 0, GuestAddr(0)), Err(Errno::ENOMEM));
        s.take_invalidations();
        let top = s.layout().mmap_top.0;
        let moved =
            s.mremap(GuestAddr(0x40_0000), 2 * P, 3 * P, MREMAP_MAYMOVE, GuestAddr(0)).unwrap();
        assert_eq!(moved, GuestAddr(top - 3 * P));
        expect(&s, moved.0, 2);
        let mut b = [1u8; 4];
        s.copy_in(GuestAddr(moved.0 + 2 * P), &mut b).unwrap();
        assert_eq!(b, [0; 4]);
        assert_eq!(s.prot_at(GuestAddr(0x40_0000)), None);
        assert_eq!(s.prot_at(moved), Some(Prot::RW));
        assert_eq!(
            s.take_invalidations(),
            vec![Invalidation {
                start: GuestAddr(0x40_0000),
                end: GuestAddr(0x40_2000),
                was_exec: false
            }]
        );
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mremap_fixed_replaces_destination() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 3 * P, Prot::RX);
        map_fixed(&mut s, 0x50_0000, 8 * P, Prot::READ);
        s.mprotect(GuestAddr(0x40_0000), 3 * P, Prot::RW).unwrap();
        fill(&s, 0x40_0000, 3);
        s.mprotect(GuestAddr(0x40_0000), 3 * P, Prot::RX).unwrap();
        s.take_invalidations();
        let flags = MREMAP_MAYMOVE | MREMAP_FIXED;
        // Shrinks while moving: only the first two pages travel.
        assert_eq!(
            s.mremap(GuestAddr(0x40_0000), 3 * P, 2 * P, flags, GuestAddr(0x50_2000)),
            Ok(GuestAddr(0x50_2000))
        );
        assert_eq!(
            ranges(&s),
            vec![
                (0x50_0000, 0x50_2000, Prot::READ),
                (0x50_2000, 0x50_4000, Prot::RX),
                (0x50_4000, 0x50_8000, Prot::READ)
            ]
        );
        expect(&s, 0x50_2000, 2);
        let inv = s.take_invalidations();
        assert!(inv.contains(&Invalidation {
            start: GuestAddr(0x50_2000),
            end: GuestAddr(0x50_4000),
            was_exec: false
        }));
        assert!(inv.contains(&Invalidation {
            start: GuestAddr(0x40_0000),
            end: GuestAddr(0x40_3000),
            was_exec: true
        }));
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mremap_dontunmap_keeps_zeroed_source() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        fill(&s, 0x40_0000, 2);
        let flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
        let to = s.mremap(GuestAddr(0x40_0000), 2 * P, 2 * P, flags, GuestAddr(0x60_0000)).unwrap();
        assert_eq!(to, GuestAddr(0x60_0000));
        expect(&s, 0x60_0000, 2);
        let mut b = [1u8; 8];
        s.copy_in(GuestAddr(0x40_1000), &mut b).unwrap();
        assert_eq!(b, [0; 8]);
        assert_eq!(s.prot_at(GuestAddr(0x40_0000)), Some(Prot::RW));
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mremap_move_across_merged_host_mappings() {
        // Two separately created, touched mappings merged into one guest VMA. Older hosts keep
        // two host mappings here, which `move_host` must split (tested directly below).
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        fill(&s, 0x40_0000, 2);
        assert_eq!(s.mmap(anon(0x50_0000, 2 * P, Prot::RW, MAP_FIXED)), Ok(GuestAddr(0x50_0000)));
        s.copy_out(GuestAddr(0x50_0000), &[3; 8]).unwrap();
        s.copy_out(GuestAddr(0x50_1000), &[4; 8]).unwrap();
        // Moved next to the first: the host keeps two mappings (different anon_vmas).
        let flags = MREMAP_MAYMOVE | MREMAP_FIXED;
        assert_eq!(
            s.mremap(GuestAddr(0x50_0000), 2 * P, 2 * P, flags, GuestAddr(0x40_2000)),
            Ok(GuestAddr(0x40_2000))
        );
        assert_eq!(s.vmas().count(), 1);
        let to = s.mremap(GuestAddr(0x40_0000), 4 * P, 5 * P, flags, GuestAddr(0x60_0000)).unwrap();
        assert_eq!(to, GuestAddr(0x60_0000));
        expect(&s, to.0, 2);
        let mut b = [0u8; 8];
        s.copy_in(GuestAddr(0x60_3000), &mut b).unwrap();
        assert_eq!(b, [4; 8]);
        assert_eq!(ranges(&s), vec![(0x60_0000, 0x60_5000, Prot::RW)]);
        s.check_invariants().unwrap();
    }

    fn read(s: &AddressSpace, addr: u64, n: usize) -> Vec<u8> {
        let mut b = vec![0u8; n];
        s.copy_in(GuestAddr(addr), &mut b).unwrap();
        b
    }

    #[test]
    fn test_mremap_shared_anonymous_grows_past_its_object() {
        use crate::PageStatus;
        use crate::shared::tests::shared_anon;
        let mut s = space();
        let a = s.mmap(shared_anon(0x40_0000, 2 * P, Prot::RW)).unwrap();
        s.copy_out(GuestAddr(a.0 + P), b"kept").unwrap();
        // In place: the grown part lies past the memfd's end (SIGBUS on Linux).
        assert_eq!(s.mremap(a, 2 * P, 4 * P, 0, GuestAddr(0)), Ok(a));
        assert_eq!(ranges(&s), vec![(0x40_0000, 0x40_4000, Prot::RW)]);
        assert_eq!(s.page_state(GuestAddr(a.0 + P)), PageStatus::Mapped(Prot::RW));
        assert_eq!(s.page_state(GuestAddr(a.0 + 2 * P)), PageStatus::PastObjectEnd);
        // Moved: same object, same contents, no copy.
        map_fixed(&mut s, 0x40_4000, P, Prot::READ);
        let to = s.mremap(a, 4 * P, 5 * P, MREMAP_MAYMOVE, GuestAddr(0)).unwrap();
        assert_ne!(to, a);
        assert_eq!(read(&s, to.0 + P, 4), b"kept");
        assert_eq!(s.page_state(GuestAddr(to.0 + 4 * P)), PageStatus::PastObjectEnd);
        assert_eq!(s.prot_at(a), None);
        // Shrunk, then moved to a fixed place.
        assert_eq!(s.mremap(to, 5 * P, 2 * P, 0, GuestAddr(0)), Ok(to));
        let flags = MREMAP_MAYMOVE | MREMAP_FIXED;
        assert_eq!(
            s.mremap(to, 2 * P, 2 * P, flags, GuestAddr(0x60_0000)),
            Ok(GuestAddr(0x60_0000))
        );
        assert_eq!(read(&s, 0x60_1000, 4), b"kept");
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mremap_zero_old_len_duplicates_shared_mappings() {
        use crate::shared::tests::shared_anon;
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        assert_eq!(
            s.mremap(GuestAddr(0x40_0000), 0, P, MREMAP_MAYMOVE, GuestAddr(0)),
            Err(Errno::EINVAL)
        );
        let a = s.mmap(shared_anon(0x50_0000, 2 * P, Prot::RW)).unwrap();
        assert_eq!(s.mremap(GuestAddr(a.0 + P), 0, P, 0, GuestAddr(0)), Err(Errno::ENOMEM));
        let d = s.mremap(GuestAddr(a.0 + P), 0, P, MREMAP_MAYMOVE, GuestAddr(0)).unwrap();
        s.copy_out(d, b"dup").unwrap();
        assert_eq!(read(&s, a.0 + P, 3), b"dup");
        let flags = MREMAP_MAYMOVE | MREMAP_FIXED;
        let f = s.mremap(a, 0, 2 * P, flags, GuestAddr(0x60_0000)).unwrap();
        assert_eq!(read(&s, f.0 + P, 3), b"dup");
        assert_eq!(s.vmas().count(), 4);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mremap_shared_file_keeps_following_the_file() {
        use crate::shared::tests::{paged, shared_file};
        use std::os::unix::fs::FileExt;
        let f = paged(4);
        let mut s = space();
        let a = s.mmap(shared_file(0x40_0000, P, Prot::RW, &f, P)).unwrap();
        map_fixed(&mut s, 0x40_1000, P, Prot::READ);
        let to = s.mremap(a, P, 3 * P, MREMAP_MAYMOVE, GuestAddr(0)).unwrap();
        assert_eq!(read(&s, to.0 + 2 * P, 1), b"d");
        s.copy_out(GuestAddr(to.0 + P), b"C").unwrap();
        let mut b = [0u8];
        f.read_exact_at(&mut b, 2 * P).unwrap();
        assert_eq!(&b, b"C");
        let flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
        let moved = s.mremap(to, 3 * P, 3 * P, flags, GuestAddr(0x60_0000)).unwrap();
        // The source still maps the object, as Linux does for shared mappings.
        assert_eq!(read(&s, to.0 + P, 1), b"C");
        assert_eq!(read(&s, moved.0 + P, 1), b"C");
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_move_host_splits_across_host_mappings() {
        use std::io::Write;
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[b'f'; 4096]).unwrap();
        let s = space();
        // An anonymous and a file page side by side: before Linux 6.17 one host mremap cannot
        // move both (EFAULT) and `move_host` splits the range; newer hosts move both at once.
        s.arena.map_anon(0x40_0000, P).unwrap();
        s.arena.map_file(0x40_1000, P, &f, 0).unwrap();
        s.arena.write(0x40_0000, b"anon");
        s.arena.map_anon(0x60_0000, 2 * P).unwrap();
        s.move_host(0x40_0000, 0x60_0000, 2 * P);
        let mut b = [0u8; 4];
        s.arena.read(0x60_0000, &mut b);
        assert_eq!(&b, b"anon");
        s.arena.read(0x60_1000, &mut b);
        assert_eq!(&b, b"ffff");
    }
}
