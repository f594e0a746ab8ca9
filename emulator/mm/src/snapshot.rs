//! Freezing private anonymous memory for a copy-on-write fork (`respawn-snapshot`; see
//! `layers.rs` for the model).
//!
//! A freeze writes only the pages written since the previous freeze — the host's page map says
//! which — into one new object, and maps them back from it. A range whose pages have scattered
//! into many layers, or a process whose objects hold far more than it still maps, is compacted:
//! all its data goes into the new object, so host mappings and dead bytes stay bounded.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE};
use elfvisor_host::errno_from_io;

use crate::AddressSpace;
use crate::layers::{Frozen, Layer};
use crate::vma::Backing;

/// More layers than this in one range and the next freeze rewrites the range as one.
const MAX_LAYERS_PER_RANGE: usize = 64;
/// Objects may hold this much more than twice the bytes still mapped from them before
/// every range is compacted.
const DEAD_BYTES_SLACK: u64 = 32 << 20;

/// One private anonymous range as a fork hands it to the child: where its pages come from
/// (pages no layer covers are zero).
#[derive(Debug, Clone)]
pub struct FrozenRange {
    pub start: GuestAddr,
    pub end: GuestAddr,
    pub layers: Vec<Layer>,
}

/// What one range's freeze must write: runs of pages `[first, last)`, indices into the range.
struct Plan {
    start: u64,
    runs: Vec<(usize, usize)>,
    /// The pages present before the freeze (the host's page map): one that the freeze leaves a
    /// hole in the new object is faulted in again, so the process keeps its residency.
    present: Vec<bool>,
}

fn page_is_zero(page: &[u8]) -> bool {
    page.chunks_exact(16).all(|c| u128::from_ne_bytes(c.try_into().expect("16 bytes")) == 0)
}

/// Maximal runs of `true`.
fn runs(pages: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < pages.len() {
        if !pages[at] {
            at += 1;
            continue;
        }
        let first = at;
        while at < pages.len() && pages[at] {
            at += 1;
        }
        out.push((first, at));
    }
    out
}

impl AddressSpace {
    /// Freezes the private anonymous memory of `ranges` (page aligned, each within one private
    /// anonymous VMA): afterwards every written page of them comes from a frozen object, and
    /// the result says from which. The guest-visible contents do not change; on an error they
    /// are kept too (pages whose remapping failed are copied back).
    ///
    /// The caller must keep every vCPU of this process stopped for the duration: the pages are
    /// read while no guest code can write them.
    pub fn freeze(&self, ranges: &[(GuestAddr, GuestAddr)]) -> io::Result<Vec<FrozenRange>> {
        for (start, end) in ranges {
            let whole = self.vmas.find(*start).is_some_and(|v| {
                !v.shared && matches!(v.backing, Backing::Anonymous) && v.end >= *end
            });
            assert!(whole, "freeze of {start}..{end}: not one private anonymous VMA");
        }
        let compact_all = self.dead_bytes_exceed_slack();
        let mut plans = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            let len = end.0 - start.0;
            let mut take = self.arena.written_pages(start.0, len)?;
            let present = take.clone();
            let layers = self.arena.layers(start.0, len);
            let mut layered = vec![false; take.len()];
            for l in &layers {
                let first = ((l.start - start.0) / PAGE_SIZE) as usize;
                let last = ((l.end - start.0) / PAGE_SIZE) as usize;
                layered[first..last].iter_mut().for_each(|t| *t = true);
            }
            // A zero page over no layer is as good as untouched (reads map the host's zero
            // page); one over a layer must be frozen, as a hole, to hide the layer's bytes.
            for (i, t) in take.iter_mut().enumerate() {
                if *t && !layered[i] && self.page_is_zero(start.0 + i as u64 * PAGE_SIZE) {
                    *t = false;
                }
            }
            if compact_all || layers.len() + 2 * runs(&take).len() > MAX_LAYERS_PER_RANGE {
                // Everything with data moves into the new object, as one layer per run.
                take.iter_mut().zip(&layered).for_each(|(t, l)| *t |= l);
            }
            plans.push(Plan { start: start.0, runs: runs(&take), present });
        }
        let total: usize = plans.iter().flat_map(|p| &p.runs).map(|(a, b)| b - a).sum();
        if total > 0 {
            self.write_and_map(&plans, total as u64 * PAGE_SIZE)?;
        }
        Ok(ranges
            .iter()
            .map(|(start, end)| FrozenRange {
                start: *start,
                end: *end,
                layers: self.arena.layers(start.0, end.0 - start.0),
            })
            .collect())
    }

    /// Which pages of mapped guest range `[start, start + len)` this process has written since
    /// the host last mapped them (private anonymous data per the host's page map): for a
    /// private file mapping, the pages that no longer follow the file.
    pub fn written_pages(&self, start: GuestAddr, len: u64) -> io::Result<Vec<bool>> {
        self.arena.written_pages(start.0, len)
    }

    /// Which pages of mapped guest range `[start, start + len)` this process holds alone: after
    /// a host fork, those it wrote since; in a respawned child, those it wrote since it mapped
    /// its parent's frozen memory (a `CLONE_VM` child returns exactly these to its parent).
    pub fn own_pages(&self, start: GuestAddr, len: u64) -> io::Result<Vec<bool>> {
        self.arena.own_pages(start.0, len)
    }

    /// Maps `[start, start + len)` of a private anonymous VMA from frozen `object` at `offset`:
    /// a respawned child rebuilding its parent's layers. The object must cover the range.
    pub fn map_frozen(
        &self,
        start: GuestAddr,
        len: u64,
        object: &Arc<Frozen>,
        offset: u64,
    ) -> Result<(), Errno> {
        let end = start.0.checked_add(len).ok_or(Errno::EINVAL)?;
        let inside = self.vmas.find(start).is_some_and(|v| {
            !v.shared && matches!(v.backing, Backing::Anonymous) && v.end.0 >= end
        });
        let size = object.file().metadata().map_err(|e| errno_from_io(&e))?.len();
        if !inside
            || len == 0
            || start.0 % PAGE_SIZE != 0
            || len % PAGE_SIZE != 0
            || offset % PAGE_SIZE != 0
            || offset.checked_add(len).is_none_or(|e| e > size)
        {
            return Err(Errno::EINVAL);
        }
        self.arena.map_frozen(start.0, len, object, offset).map_err(|e| errno_from_io(&e))
    }

    /// Whether the page at guest offset `at` reads as zero (it is mapped, private).
    pub(crate) fn page_is_zero(&self, at: u64) -> bool {
        let host = self.arena.host_bytes(at, PAGE_SIZE as usize);
        // SAFETY: as in `write_and_map`: a mapped private page, read while no vCPU runs.
        page_is_zero(unsafe { std::slice::from_raw_parts(host, PAGE_SIZE as usize) })
    }

    /// Whether the frozen objects this process maps hold much more than it maps from them
    /// (pages overwritten since, ranges unmapped): then the next freeze compacts everything.
    fn dead_bytes_exceed_slack(&self) -> bool {
        let layers = self.arena.all_layers();
        let mapped: u64 = layers.iter().map(|l| l.end - l.start).sum();
        let mut seen: Vec<&Arc<Frozen>> = Vec::new();
        for l in &layers {
            if !seen.iter().any(|o| Arc::ptr_eq(o, &l.object)) {
                seen.push(&l.object);
            }
        }
        let held: u64 = seen.iter().map(|o| o.bytes()).sum();
        held > 2 * mapped + DEAD_BYTES_SLACK
    }

    /// Writes the planned runs into one new object and maps each back from it.
    fn write_and_map(&self, plans: &[Plan], size: u64) -> io::Result<()> {
        let file = crate::arena::memfd(c"elfvisor-frozen", size)?;
        let page = PAGE_SIZE as usize;
        let mut at = 0u64;
        let mut bytes = 0u64;
        let mut placed = Vec::new();
        let mut holes = Vec::new();
        for plan in plans {
            for &(first, last) in &plan.runs {
                let start = plan.start + first as u64 * PAGE_SIZE;
                let len = (last - first) * page;
                let host = self.arena.host_bytes(start, len);
                // SAFETY: the range lies in a mapped private VMA (checked by `freeze`), which
                // is host-readable; the caller keeps every vCPU stopped, so nothing writes it
                // while this shared view exists.
                let data = unsafe { std::slice::from_raw_parts(host, len) };
                // Zero pages stay holes in the object: they read as zero and cost nothing. Runs
                // of the others go in one write each.
                let mut i = 0;
                while i < len / page {
                    if page_is_zero(&data[i * page..(i + 1) * page]) {
                        if plan.present[first + i] {
                            holes.push(start + (i * page) as u64);
                        }
                        i += 1;
                        continue;
                    }
                    let first = i;
                    while i < len / page && !page_is_zero(&data[i * page..(i + 1) * page]) {
                        i += 1;
                    }
                    file.write_all_at(&data[first * page..i * page], at + (first * page) as u64)?;
                    bytes += ((i - first) * page) as u64;
                }
                placed.push((start, len as u64, at));
                at += len as u64;
            }
        }
        let object = Arc::new(Frozen::new(file, bytes));
        for &(start, len, offset) in &placed {
            if let Err(e) = self.arena.map_frozen(start, len, &object, offset) {
                self.restore(start, len, object.file(), offset);
                return Err(e);
            }
        }
        for hole in holes {
            self.arena.populate(hole, PAGE_SIZE, false);
        }
        Ok(())
    }

    /// After a failed remap: the run's bytes are still in the object; put them back in fresh
    /// anonymous pages so the guest loses nothing.
    fn restore(&self, start: u64, len: u64, file: &File, offset: u64) {
        let mut data = vec![0u8; len as usize];
        let read = file.read_exact_at(&mut data, offset);
        let mapped = self.arena.map_anon(start, len);
        debug_assert!(read.is_ok() && mapped.is_ok(), "restoring {start:#x}: {read:?} {mapped:?}");
        self.arena.write(start, &data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::tests::{P, anon, space};
    use elfvisor_abi::Prot;

    fn region(s: &mut AddressSpace, pages: u64) -> GuestAddr {
        s.mmap(anon(0, pages * P, Prot::RW, 0)).unwrap()
    }

    fn fill(s: &AddressSpace, addr: u64, byte: u8) {
        s.copy_out(GuestAddr(addr), &[byte; 16]).unwrap();
    }

    fn byte(s: &AddressSpace, addr: u64) -> u8 {
        let mut b = [0u8];
        s.copy_in(GuestAddr(addr), &mut b).unwrap();
        b[0]
    }

    #[test]
    fn test_runs_of_true() {
        assert_eq!(runs(&[true, true, false, true, false, false, true]), [(0, 2), (3, 4), (6, 7)]);
        assert!(runs(&[false, false]).is_empty());
    }

    #[test]
    fn test_freeze_keeps_contents_and_only_takes_new_writes() {
        let mut s = space();
        let a = region(&mut s, 8);
        fill(&s, a.0, 1);
        fill(&s, a.0 + 3 * P, 3);
        let r = s.freeze(&[(a, GuestAddr(a.0 + 8 * P))]).unwrap();
        let spans: Vec<_> = r[0].layers.iter().map(|l| (l.start - a.0, l.end - a.0)).collect();
        assert_eq!(spans, [(0, P), (3 * P, 4 * P)]);
        assert_eq!((byte(&s, a.0), byte(&s, a.0 + 3 * P), byte(&s, a.0 + P)), (1, 3, 0));
        let first = Arc::clone(&r[0].layers[0].object);
        assert_eq!(first.bytes(), 2 * P);

        // A write after the freeze is private to this process, and the only page frozen next.
        fill(&s, a.0 + 3 * P, 9);
        let r = s.freeze(&[(a, GuestAddr(a.0 + 8 * P))]).unwrap();
        assert_eq!(r[0].layers.len(), 2);
        assert!(Arc::ptr_eq(&r[0].layers[0].object, &first));
        assert!(!Arc::ptr_eq(&r[0].layers[1].object, &first));
        assert_eq!(r[0].layers[1].object.bytes(), P);
        let mut old = [0u8];
        first.file().read_exact_at(&mut old, P).unwrap();
        assert_eq!((old[0], byte(&s, a.0 + 3 * P)), (3, 9), "the first object is frozen");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn test_own_pages_are_the_writes_since_the_freeze() {
        let mut s = space();
        let a = region(&mut s, 4);
        fill(&s, a.0, 1);
        fill(&s, a.0 + P, 2);
        let len = 4 * P;
        assert_eq!(s.own_pages(a, len).unwrap(), [true, true, false, false]);
        s.freeze(&[(a, GuestAddr(a.0 + len))]).unwrap();
        // Frozen pages are the object's, a page only read is the zero page: none is ours.
        assert_eq!(byte(&s, a.0 + 2 * P), 0);
        assert_eq!(s.own_pages(a, len).unwrap(), [false; 4]);
        fill(&s, a.0 + P, 7);
        fill(&s, a.0 + 3 * P, 8);
        assert_eq!(s.own_pages(a, len).unwrap(), [false, true, false, true]);
    }

    #[test]
    fn test_a_page_zeroed_over_a_layer_stays_resident() {
        let mut s = space();
        let a = region(&mut s, 2);
        let range = [(a, GuestAddr(a.0 + 2 * P))];
        fill(&s, a.0, 1);
        s.freeze(&range).unwrap();
        fill(&s, a.0, 0);
        s.freeze(&range).unwrap();
        let (resident, r) = s.mincore(a, 2 * P);
        r.unwrap();
        assert_eq!(resident, [1, 0], "a hole in the new object, faulted in again");
        assert_eq!(byte(&s, a.0), 0);
    }

    #[test]
    fn test_an_object_nothing_maps_any_more_is_let_go() {
        let mut s = space();
        let a = region(&mut s, 1);
        let range = [(a, GuestAddr(a.0 + P))];
        fill(&s, a.0, 1);
        let first = Arc::clone(&s.freeze(&range).unwrap()[0].layers[0].object);
        fill(&s, a.0, 2);
        s.freeze(&range).unwrap();
        assert_eq!(Arc::strong_count(&first), 1, "only this test still holds the first object");
        assert_eq!(byte(&s, a.0), 2);
    }

    #[test]
    fn test_discard_of_frozen_pages_gives_zero_not_the_object() {
        let mut s = space();
        let a = region(&mut s, 2);
        fill(&s, a.0, 7);
        s.freeze(&[(a, GuestAddr(a.0 + 2 * P))]).unwrap();
        s.madvise(a, 2 * P, elfvisor_abi::mman::MADV_DONTNEED).unwrap();
        assert_eq!(byte(&s, a.0), 0);
        assert!(s.arena.layers(a.0, 2 * P).is_empty());
    }

    #[test]
    fn test_mremap_moves_frozen_pages_with_their_layers() {
        let mut s = space();
        let a = region(&mut s, 4);
        for i in 0..4 {
            fill(&s, a.0 + i * P, i as u8 + 1);
        }
        s.freeze(&[(a, GuestAddr(a.0 + 4 * P))]).unwrap();
        fill(&s, a.0 + P, 0x42); // a private copy inside the frozen range
        let blocker = anon(a.0 + 4 * P, P, Prot::RW, elfvisor_abi::mman::MAP_FIXED);
        s.mmap(blocker).unwrap(); // so the range must move to grow
        let flags = elfvisor_abi::mman::MREMAP_MAYMOVE;
        let b = s.mremap(a, 4 * P, 8 * P, flags, GuestAddr(0)).unwrap();
        assert_ne!(a, b);
        let got: Vec<u8> = (0..5).map(|i| byte(&s, b.0 + i * P)).collect();
        assert_eq!(got, [1, 0x42, 3, 4, 0]);
        assert!(s.arena.layers(a.0, 4 * P).is_empty());
        assert_eq!(s.arena.layers(b.0, 8 * P).len(), 1);
    }

    #[test]
    fn test_scattered_layers_are_compacted() {
        let mut s = space();
        let pages = 2 * MAX_LAYERS_PER_RANGE as u64;
        let a = region(&mut s, pages);
        let range = [(a, GuestAddr(a.0 + pages * P))];
        for round in 0..3u64 {
            for i in (round..pages).step_by(3) {
                fill(&s, a.0 + i * P, i as u8);
            }
            s.freeze(&range).unwrap();
        }
        let layers = s.arena.layers(a.0, pages * P);
        assert!(layers.len() <= MAX_LAYERS_PER_RANGE, "{} layers", layers.len());
        for i in 0..pages {
            assert_eq!(byte(&s, a.0 + i * P), i as u8);
        }
    }

    #[test]
    fn test_map_frozen_checks_the_range_and_the_object() {
        let mut s = space();
        let a = region(&mut s, 2);
        let file = crate::arena::memfd(c"t", P).unwrap();
        file.write_all_at(b"frozen", 0).unwrap();
        let object = Arc::new(Frozen::new(file, P));
        assert_eq!(s.map_frozen(a, 2 * P, &object, 0), Err(Errno::EINVAL), "past the object");
        assert_eq!(s.map_frozen(GuestAddr(a.0 + P), 2 * P, &object, 0), Err(Errno::EINVAL));
        s.map_frozen(GuestAddr(a.0 + P), P, &object, 0).unwrap();
        assert_eq!(byte(&s, a.0 + P), b'f');
    }
}
