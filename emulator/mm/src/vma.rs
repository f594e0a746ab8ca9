//! Virtual memory areas: what the guest sees at every address, independent of how the host maps it.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::sync::Arc;

use elfvisor_abi::{GuestAddr, PAGE_SIZE, Prot};

use crate::object::SharedObject;

/// What provides a VMA's pages.
#[derive(Clone)]
pub enum Backing {
    /// Private anonymous memory: zero-filled on first touch.
    Anonymous,
    /// A private copy-on-write view of a file; page `start` shows file byte `offset`. The file is
    /// the runtime's own dup of the guest's fd, kept open as long as a VMA uses it.
    File { file: Arc<File>, offset: u64 },
    /// A shared view of a host object (file, shared anonymous memfd, SysV segment); page
    /// `start` shows object byte `offset`. Exactly the VMAs with `shared` set have it.
    Shared { object: Arc<SharedObject>, offset: u64 },
}

impl Backing {
    /// The backing of the part of a VMA that starts `delta` bytes after this one's start.
    pub(crate) fn advanced(&self, delta: u64) -> Backing {
        match self {
            Backing::Anonymous => Backing::Anonymous,
            Backing::File { file, offset } => Backing::File {
                file: Arc::clone(file),
                // Cannot overflow: mmap rejects mappings whose file range overflows (EOVERFLOW).
                offset: offset + delta,
            },
            Backing::Shared { object, offset } => Backing::Shared {
                object: Arc::clone(object),
                // Cannot overflow: as for files (mremap checks growth the same way).
                offset: offset + delta,
            },
        }
    }

    /// The object offset of the first page, for file and shared backings.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Backing::Anonymous => None,
            Backing::File { offset, .. } | Backing::Shared { offset, .. } => Some(*offset),
        }
    }

    /// Whether `next`, placed directly after `len` bytes of this backing, continues it.
    fn continues_into(&self, len: u64, next: &Backing) -> bool {
        match (self, next) {
            (Backing::Anonymous, Backing::Anonymous) => true,
            (Backing::File { file: a, offset: ao }, Backing::File { file: b, offset: bo }) => {
                Arc::ptr_eq(a, b) && ao.checked_add(len) == Some(*bo)
            }
            (
                Backing::Shared { object: a, offset: ao },
                Backing::Shared { object: b, offset: bo },
            ) => Arc::ptr_eq(a, b) && ao.checked_add(len) == Some(*bo),
            _ => false,
        }
    }
}

impl fmt::Debug for Backing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backing::Anonymous => f.write_str("Anonymous"),
            Backing::File { offset, .. } => write!(f, "File@{offset:#x}"),
            Backing::Shared { object, offset } => {
                write!(f, "Shared({:?})@{offset:#x}", object.kind())
            }
        }
    }
}

/// VMA state beyond protection that Linux keeps in `vm_flags`: memory locking (`mlock`) and
/// fork advice (`madvise`). Recorded here; the fork strategies apply the fork advice.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct VmaFlags(u8);

impl VmaFlags {
    pub const NONE: VmaFlags = VmaFlags(0);
    /// `VM_LOCKED`: `mlock`ed (nothing is pinned on the host; `MADV_DONTNEED` is refused).
    pub const LOCKED: VmaFlags = VmaFlags(1);
    /// `VM_LOCKONFAULT`: `mlock2(MLOCK_ONFAULT)`.
    pub const LOCKONFAULT: VmaFlags = VmaFlags(2);
    /// `VM_DONTCOPY`: `MADV_DONTFORK`, a fork child does not get the range.
    pub const DONTFORK: VmaFlags = VmaFlags(4);
    /// `VM_WIPEONFORK`: `MADV_WIPEONFORK`, a fork child gets zero pages.
    pub const WIPEONFORK: VmaFlags = VmaFlags(8);
    /// The mapping has held a page the process wrote: Linux's `anon_vma`, which a private
    /// mapping gets on its first write fault (`anon_vma_prepare`) and keeps until it is
    /// unmapped. A fork child inherits the pages of such a VMA (`vma_needs_copy` in
    /// mm/memory.c copies its page table), and of no other private anonymous VMA. Recorded at
    /// each fork from the host's page map (`AddressSpace::note_anon_writes`); sticky, kept by
    /// splits, moves and merges (`is_mergeable_anon_vma` lets a VMA without one merge).
    pub const ANON: VmaFlags = VmaFlags(16);

    pub const fn contains(self, other: VmaFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn with(self, other: VmaFlags) -> VmaFlags {
        VmaFlags(self.0 | other.0)
    }

    pub const fn without(self, other: VmaFlags) -> VmaFlags {
        VmaFlags(self.0 & !other.0)
    }
}

impl fmt::Debug for VmaFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (VmaFlags::LOCKED, "LOCKED"),
            (VmaFlags::LOCKONFAULT, "LOCKONFAULT"),
            (VmaFlags::DONTFORK, "DONTFORK"),
            (VmaFlags::WIPEONFORK, "WIPEONFORK"),
            (VmaFlags::ANON, "ANON"),
        ];
        let set: Vec<&str> =
            names.iter().filter(|(v, _)| self.contains(*v)).map(|(_, n)| *n).collect();
        write!(f, "VmaFlags({})", set.join("|"))
    }
}

/// The label `/proc/self/maps` shows for a VMA.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VmaName {
    #[default]
    None,
    Heap,
    Stack,
    Path(String),
}

/// One guest mapping: `[start, end)`, page aligned and non-empty.
#[derive(Debug, Clone)]
pub struct Vma {
    pub start: GuestAddr,
    pub end: GuestAddr,
    /// Guest protection (`PROT_READ|WRITE|EXEC` plus `SEM`/`BTI`/`MTE` as the guest asked).
    pub prot: Prot,
    /// `MAP_SHARED` (and SysV attaches): set exactly when the backing is `Backing::Shared`.
    pub shared: bool,
    /// Created with `MAP_GROWSDOWN`: `mprotect(PROT_GROWSDOWN)` extends to its start, and a
    /// fault below it grows it (`AddressSpace::grow_down`).
    pub grows_down: bool,
    /// Locking and fork advice.
    pub flags: VmaFlags,
    pub backing: Backing,
    pub name: VmaName,
}

impl Vma {
    pub fn len(&self) -> u64 {
        self.end.0 - self.start.0
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn contains(&self, addr: GuestAddr) -> bool {
        self.start <= addr && addr < self.end
    }

    /// The part of this VMA inside `[start, end)` (which must intersect it), with its backing
    /// offset adjusted.
    pub(crate) fn slice(&self, start: GuestAddr, end: GuestAddr) -> Vma {
        let s = start.max(self.start);
        let e = end.min(self.end);
        debug_assert!(s < e, "slice {s}..{e} outside {}..{}", self.start, self.end);
        Vma { start: s, end: e, backing: self.backing.advanced(s.0 - self.start.0), ..self.clone() }
    }

    /// Whether `next`, which starts where this VMA ends, could be one VMA with it.
    fn mergeable_with(&self, next: &Vma) -> bool {
        self.end == next.start
            && self.prot == next.prot
            && self.shared == next.shared
            && self.grows_down == next.grows_down
            && self.flags.without(VmaFlags::ANON) == next.flags.without(VmaFlags::ANON)
            && self.name == next.name
            && self.backing.continues_into(self.len(), &next.backing)
    }
}

/// The sorted, non-overlapping set of VMAs, keyed by start address.
#[derive(Debug, Default)]
pub(crate) struct VmaSet {
    map: BTreeMap<u64, Vma>,
    /// Whether a shared VMA has been writable since the set was made (see
    /// [`VmaSet::has_writable_shared`]).
    writable_shared: bool,
}

impl VmaSet {
    /// Whether the set has held a writable shared VMA at any time since it was made: kept by
    /// [`VmaSet::insert`] and [`VmaSet::update_range`], through which every new VMA and every
    /// protection change passes (mmap, SysV attaches, mremap's moves, mprotect, the mappings a
    /// respawned child re-creates). It stays set after that VMA goes.
    pub(crate) fn has_writable_shared(&self) -> bool {
        self.writable_shared
    }

    fn note(&mut self, vma: &Vma) {
        self.writable_shared |= vma.shared && vma.prot.contains(Prot::WRITE);
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.map.values()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The VMA containing `addr`. O(log n).
    pub(crate) fn find(&self, addr: GuestAddr) -> Option<&Vma> {
        self.map.range(..=addr.0).next_back().map(|(_, v)| v).filter(|v| v.contains(addr))
    }

    /// VMAs intersecting `[start, end)`, in address order.
    pub(crate) fn overlapping(
        &self,
        start: GuestAddr,
        end: GuestAddr,
    ) -> impl Iterator<Item = &Vma> {
        let first = self.find(start).map_or(start.0, |v| v.start.0);
        self.map.range(first..end.0.max(first)).map(|(_, v)| v).filter(move |v| v.end > start)
    }

    /// The first VMA that ends after `addr` (containing it or above it).
    pub(crate) fn first_ending_after(&self, addr: GuestAddr) -> Option<&Vma> {
        self.find(addr).or_else(|| self.map.range(addr.0..).next().map(|(_, v)| v))
    }

    /// VMAs that start below `addr`, highest first.
    pub(crate) fn below(&self, addr: GuestAddr) -> impl Iterator<Item = &Vma> {
        self.map.range(..addr.0).rev().map(|(_, v)| v)
    }

    pub(crate) fn is_free(&self, start: GuestAddr, end: GuestAddr) -> bool {
        self.overlapping(start, end).next().is_none()
    }

    /// Whether `[start, end)` is covered by VMAs without holes.
    pub(crate) fn is_covered(&self, start: GuestAddr, end: GuestAddr) -> bool {
        let mut at = start;
        for v in self.overlapping(start, end) {
            if v.start > at {
                return false;
            }
            at = v.end;
        }
        at >= end
    }

    /// Splits the VMA containing `addr` (if any, and if `addr` is not its start) in two.
    fn split_at(&mut self, addr: GuestAddr) {
        let Some(v) = self.find(addr) else { return };
        if v.start == addr {
            return;
        }
        let right = v.slice(addr, v.end);
        let left_start = v.start.0;
        if let Some(left) = self.map.get_mut(&left_start) {
            left.end = addr;
        }
        self.map.insert(addr.0, right);
    }

    /// Removes everything inside `[start, end)`, splitting VMAs that straddle its edges, and
    /// returns the removed pieces in address order.
    pub(crate) fn remove_range(&mut self, start: GuestAddr, end: GuestAddr) -> Vec<Vma> {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.map.range(start.0..end.0).map(|(k, _)| *k).collect();
        keys.into_iter().filter_map(|k| self.map.remove(&k)).collect()
    }

    /// Inserts `vma` into free space and merges it with compatible neighbours.
    pub(crate) fn insert(&mut self, vma: Vma) {
        debug_assert!(self.is_free(vma.start, vma.end), "insert over {}..{}", vma.start, vma.end);
        let start = vma.start;
        self.note(&vma);
        self.map.insert(start.0, vma);
        self.merge_around(start);
    }

    /// Merges the VMA starting at `start` with its neighbours where compatible.
    pub(crate) fn merge_around(&mut self, start: GuestAddr) {
        let mut key = start.0;
        let prev = self.map.range(..key).next_back().map(|(k, v)| (*k, v.clone()));
        if let Some((pk, prev)) = prev {
            if prev.mergeable_with(&self.map[&key]) {
                let cur = self.map.remove(&key).expect("VMA at key");
                let merged = self.map.get_mut(&pk).expect("previous VMA");
                merged.end = cur.end;
                merged.flags = merged.flags.with(cur.flags);
                key = pk;
            }
        }
        let end = self.map[&key].end;
        if let Some(next) = self.map.get(&end.0) {
            if self.map[&key].mergeable_with(next) {
                let next = self.map.remove(&end.0).expect("next VMA");
                let merged = self.map.get_mut(&key).expect("current VMA");
                merged.end = next.end;
                merged.flags = merged.flags.with(next.flags);
            }
        }
    }

    /// Applies `f` to every VMA inside `[start, end)` after splitting at the edges, then merges.
    /// Stops at the first hole and returns the address where coverage ended (`end` if none).
    pub(crate) fn update_range(
        &mut self,
        start: GuestAddr,
        end: GuestAddr,
        mut f: impl FnMut(&mut Vma),
    ) -> GuestAddr {
        self.split_at(start);
        self.split_at(end);
        let mut at = start;
        let keys: Vec<u64> = self.map.range(start.0..end.0).map(|(k, _)| *k).collect();
        let mut touched = Vec::new();
        for k in keys {
            if k != at.0 {
                break;
            }
            let v = self.map.get_mut(&k).expect("VMA at key");
            f(v);
            at = v.end;
            self.writable_shared |= v.shared && v.prot.contains(Prot::WRITE);
            touched.push(k);
        }
        for k in touched {
            if self.map.contains_key(&k) {
                self.merge_around(GuestAddr(k));
            }
        }
        // Splits that nothing was applied to (the walk stopped at a hole) are undone.
        for edge in [start, end] {
            if self.map.contains_key(&edge.0) {
                self.merge_around(edge);
            }
        }
        at
    }

    /// Checks the structural invariants, with `limit` the end of the arena.
    pub(crate) fn check(&self, limit: u64) -> Result<(), String> {
        let mut prev_end = 0u64;
        for (&key, v) in &self.map {
            let what = format!("VMA {}..{}", v.start, v.end);
            if key != v.start.0 {
                return Err(format!("{what} stored under key {key:#x}"));
            }
            if !v.start.is_page_aligned() || !v.end.is_page_aligned() {
                return Err(format!("{what} is not page aligned"));
            }
            if v.start >= v.end {
                return Err(format!("{what} is empty or inverted"));
            }
            if v.end.0 > limit {
                return Err(format!("{what} ends past the arena ({limit:#x})"));
            }
            if v.start.0 < prev_end {
                return Err(format!("{what} overlaps the previous VMA ending at {prev_end:#x}"));
            }
            if let Some(offset) = v.backing.offset() {
                if offset % PAGE_SIZE != 0 {
                    return Err(format!("{what} has unaligned file offset {offset:#x}"));
                }
                if offset.checked_add(v.len()).is_none() {
                    return Err(format!("{what} has file offset {offset:#x} that overflows"));
                }
            }
            match &v.backing {
                Backing::Shared { object, .. } => {
                    if !v.shared {
                        return Err(format!("{what} maps a shared object but is not shared"));
                    }
                    if !object.max_prot().contains(v.prot.access()) {
                        return Err(format!(
                            "{what} allows {:?}, more than its object ({:?})",
                            v.prot,
                            object.max_prot()
                        ));
                    }
                }
                _ if v.shared => return Err(format!("{what} is shared without a shared object")),
                _ => {}
            }
            prev_end = v.end.0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(start: u64, end: u64, prot: Prot) -> Vma {
        Vma {
            start: GuestAddr(start),
            end: GuestAddr(end),
            prot,
            shared: false,
            grows_down: false,
            flags: VmaFlags::NONE,
            backing: Backing::Anonymous,
            name: VmaName::None,
        }
    }

    fn ranges(s: &VmaSet) -> Vec<(u64, u64)> {
        s.iter().map(|v| (v.start.0, v.end.0)).collect()
    }

    #[test]
    fn test_insert_merges_compatible_neighbours() {
        let mut s = VmaSet::default();
        s.insert(anon(0x1000, 0x2000, Prot::RW));
        s.insert(anon(0x3000, 0x4000, Prot::RW));
        s.insert(anon(0x2000, 0x3000, Prot::RW));
        assert_eq!(ranges(&s), vec![(0x1000, 0x4000)]);
        s.insert(anon(0x4000, 0x5000, Prot::READ));
        assert_eq!(ranges(&s), vec![(0x1000, 0x4000), (0x4000, 0x5000)]);
        s.check(1 << 20).unwrap();
    }

    #[test]
    fn test_anon_flag_does_not_stop_a_merge_and_survives_splits() {
        let mut s = VmaSet::default();
        let written = Vma { flags: VmaFlags::ANON, ..anon(0x1000, 0x3000, Prot::RW) };
        s.insert(written);
        s.insert(anon(0x3000, 0x4000, Prot::RW));
        assert_eq!(ranges(&s), vec![(0x1000, 0x4000)]);
        assert!(s.find(GuestAddr(0x3000)).unwrap().flags.contains(VmaFlags::ANON));
        s.update_range(GuestAddr(0x2000), GuestAddr(0x3000), |v| v.prot = Prot::READ);
        assert_eq!(ranges(&s).len(), 3);
        assert!(s.iter().all(|v| v.flags.contains(VmaFlags::ANON)), "each piece keeps it");
    }

    #[test]
    fn test_remove_range_splits_file_offsets() {
        let file = Arc::new(tempfile::tempfile().unwrap());
        let mut s = VmaSet::default();
        let mut v = anon(0x10_000, 0x14_000, Prot::READ);
        v.backing = Backing::File { file, offset: 0x2000 };
        s.insert(v);
        let removed = s.remove_range(GuestAddr(0x11_000), GuestAddr(0x12_000));
        assert_eq!(removed.len(), 1);
        assert!(matches!(removed[0].backing, Backing::File { offset: 0x3000, .. }));
        assert_eq!(ranges(&s), vec![(0x10_000, 0x11_000), (0x12_000, 0x14_000)]);
        let right = s.find(GuestAddr(0x13_fff)).unwrap();
        assert!(matches!(right.backing, Backing::File { offset: 0x4000, .. }));
        s.check(1 << 20).unwrap();
    }

    #[test]
    fn test_file_vmas_merge_only_when_contiguous() {
        let file = Arc::new(tempfile::tempfile().unwrap());
        let mut s = VmaSet::default();
        let mut a = anon(0x1000, 0x2000, Prot::READ);
        a.backing = Backing::File { file: Arc::clone(&file), offset: 0 };
        let mut b = anon(0x2000, 0x3000, Prot::READ);
        b.backing = Backing::File { file: Arc::clone(&file), offset: 0x2000 };
        s.insert(a.clone());
        s.insert(b);
        assert_eq!(s.len(), 2);
        s.remove_range(GuestAddr(0x2000), GuestAddr(0x3000));
        let mut c = anon(0x2000, 0x3000, Prot::READ);
        c.backing = Backing::File { file, offset: 0x1000 };
        s.insert(c);
        assert_eq!(ranges(&s), vec![(0x1000, 0x3000)]);
    }

    #[test]
    fn test_update_range_stops_at_hole() {
        let mut s = VmaSet::default();
        s.insert(anon(0x1000, 0x3000, Prot::RW));
        s.insert(anon(0x4000, 0x5000, Prot::RW));
        let at = s.update_range(GuestAddr(0x2000), GuestAddr(0x5000), |v| v.prot = Prot::READ);
        assert_eq!(at, GuestAddr(0x3000));
        assert_eq!(s.find(GuestAddr(0x1000)).unwrap().prot, Prot::RW);
        assert_eq!(s.find(GuestAddr(0x2000)).unwrap().prot, Prot::READ);
        assert_eq!(s.find(GuestAddr(0x4000)).unwrap().prot, Prot::RW);
        assert!(s.is_covered(GuestAddr(0x1000), GuestAddr(0x3000)));
        assert!(!s.is_covered(GuestAddr(0x1000), GuestAddr(0x4001)));
        s.check(1 << 20).unwrap();
    }

    #[test]
    fn test_check_rejects_overlap_and_misalignment() {
        let mut s = VmaSet::default();
        s.map.insert(0x1000, anon(0x1000, 0x3000, Prot::RW));
        s.map.insert(0x2000, anon(0x2000, 0x4000, Prot::RW));
        assert!(s.check(1 << 20).unwrap_err().contains("overlaps"));
        let mut s = VmaSet::default();
        s.map.insert(0x1000, anon(0x1000, 0x1800, Prot::RW));
        assert!(s.check(1 << 20).unwrap_err().contains("aligned"));
        let mut s = VmaSet::default();
        s.map.insert(0x1000, anon(0x1000, 0x2000, Prot::RW));
        assert!(s.check(0x1000).unwrap_err().contains("past the arena"));
    }
}
