//! Where private anonymous pages come from on the host when they are not plain anonymous pages:
//! frozen objects, for the `respawn-snapshot` fork strategy.
//!
//! A fork in that strategy *freezes* the private anonymous pages written since the previous
//! fork: it writes them into a new host object ([`Frozen`], a memfd nobody writes again) and maps
//! them back `MAP_PRIVATE` from it, in the parent and in the child. Both processes then share
//! those pages copy-on-write, as after Linux's fork, and the next fork has only the pages written
//! since to freeze. The guest sees no difference: the VMAs stay [`Backing::Anonymous`]
//! (`crate::Backing`), and every host operation that would let a file mapping's semantics leak
//! through (`MADV_DONTNEED` re-reading the object instead of zeroing, a move) consults this map.
//!
//! [`LayerMap`] records, for each host range mapped from a frozen object, the object and offset.
//! The arena keeps it exact: every host mapping call clears the range it replaces, a move shifts
//! it, and only a freeze (or a child rebuilding its parent's layout) adds to it.

use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;

/// A host object holding frozen private pages: written once, then only mapped `MAP_PRIVATE`.
#[derive(Debug)]
pub struct Frozen {
    file: File,
    /// Bytes of page data written into it (its holes read as zero and cost nothing).
    bytes: u64,
}

impl Frozen {
    pub fn new(file: File, bytes: u64) -> Frozen {
        Frozen { file, bytes }
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Bytes of data the object holds (for deciding when to compact).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// One range's source: `[start, end)` of guest offsets is `object` from byte `offset`.
#[derive(Debug, Clone)]
pub struct Layer {
    pub start: u64,
    pub end: u64,
    pub object: Arc<Frozen>,
    pub offset: u64,
}

/// Non-overlapping layers keyed by start.
#[derive(Debug, Default)]
pub(crate) struct LayerMap {
    by_start: BTreeMap<u64, Layer>,
}

impl LayerMap {
    /// Forgets `[start, end)`: layers overlapping it are trimmed or split.
    pub(crate) fn clear(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let hit: Vec<u64> = self.overlapping(start, end).map(|l| l.start).collect();
        for key in hit {
            let l = self.by_start.remove(&key).expect("listed just above");
            if l.start < start {
                self.by_start.insert(l.start, Layer { end: start, ..l.clone() });
            }
            if l.end > end {
                let offset = l.offset + (end - l.start);
                self.by_start.insert(end, Layer { start: end, offset, ..l });
            }
        }
    }

    /// Records that `[start, end)` is `object` from `offset`, merging with a neighbour that
    /// continues the same object.
    pub(crate) fn insert(&mut self, start: u64, end: u64, object: Arc<Frozen>, offset: u64) {
        self.clear(start, end);
        let mut layer = Layer { start, end, object, offset };
        if let Some(prev) = self.by_start.range(..start).next_back().map(|(_, l)| l.clone())
            && prev.end == start
            && Arc::ptr_eq(&prev.object, &layer.object)
            && prev.offset + (prev.end - prev.start) == offset
        {
            self.by_start.remove(&prev.start);
            layer = Layer { start: prev.start, offset: prev.offset, ..layer };
        }
        if let Some(next) = self.by_start.get(&end).cloned()
            && Arc::ptr_eq(&next.object, &layer.object)
            && layer.offset + (end - layer.start) == next.offset
        {
            self.by_start.remove(&end);
            layer.end = next.end;
        }
        self.by_start.insert(layer.start, layer);
    }

    /// The layers overlapping `[start, end)`, clipped to it, in address order.
    pub(crate) fn pieces(&self, start: u64, end: u64) -> Vec<Layer> {
        self.overlapping(start, end)
            .map(|l| {
                let s = l.start.max(start);
                Layer {
                    start: s,
                    end: l.end.min(end),
                    object: Arc::clone(&l.object),
                    offset: l.offset + (s - l.start),
                }
            })
            .collect()
    }

    /// Moves the layers of `[from, from + len)` to `[to, to + len)` (whose own layers go).
    pub(crate) fn shift(&mut self, from: u64, to: u64, len: u64) {
        let moved = self.pieces(from, from + len);
        self.clear(from, from + len);
        self.clear(to, to + len);
        for l in moved {
            self.insert(l.start - from + to, l.end - from + to, l.object, l.offset);
        }
    }

    /// Every layer, in address order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Layer> {
        self.by_start.values()
    }

    fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = &Layer> {
        let before = self.by_start.range(..start).next_back().map(|(_, l)| l);
        before
            .filter(move |l| l.end > start)
            .into_iter()
            .chain(self.by_start.range(start..end).map(|(_, l)| l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> Arc<Frozen> {
        Arc::new(Frozen::new(tempfile::tempfile().unwrap(), 0))
    }

    fn spans(m: &LayerMap) -> Vec<(u64, u64, u64)> {
        m.all().map(|l| (l.start, l.end, l.offset)).collect()
    }

    #[test]
    fn test_clear_trims_and_splits() {
        let mut m = LayerMap::default();
        m.insert(0x1000, 0x5000, object(), 0x10000);
        m.clear(0x2000, 0x3000);
        assert_eq!(spans(&m), [(0x1000, 0x2000, 0x10000), (0x3000, 0x5000, 0x12000)]);
        m.clear(0, 0x1800);
        assert_eq!(spans(&m), [(0x1800, 0x2000, 0x10800), (0x3000, 0x5000, 0x12000)]);
        m.clear(0x4000, 0x9000);
        assert_eq!(spans(&m), [(0x1800, 0x2000, 0x10800), (0x3000, 0x4000, 0x12000)]);
        m.clear(0, u64::MAX);
        assert!(spans(&m).is_empty());
    }

    #[test]
    fn test_insert_merges_only_continuations_of_the_same_object() {
        let (a, b) = (object(), object());
        let mut m = LayerMap::default();
        m.insert(0x1000, 0x2000, Arc::clone(&a), 0);
        m.insert(0x3000, 0x4000, Arc::clone(&a), 0x2000);
        m.insert(0x2000, 0x3000, Arc::clone(&a), 0x1000);
        assert_eq!(spans(&m), [(0x1000, 0x4000, 0)]);
        m.insert(0x4000, 0x5000, Arc::clone(&b), 0x3000);
        m.insert(0x5000, 0x6000, Arc::clone(&a), 0x9000);
        assert_eq!(spans(&m).len(), 3, "other object, or a discontinuous offset: no merge");
        m.insert(0x1800, 0x2800, b, 0);
        assert_eq!(
            spans(&m),
            [
                (0x1000, 0x1800, 0),
                (0x1800, 0x2800, 0),
                (0x2800, 0x4000, 0x1800),
                (0x4000, 0x5000, 0x3000),
                (0x5000, 0x6000, 0x9000)
            ]
        );
    }

    #[test]
    fn test_pieces_are_clipped_and_shift_moves_them() {
        let mut m = LayerMap::default();
        m.insert(0x1000, 0x3000, object(), 0);
        m.insert(0x4000, 0x6000, object(), 0);
        let p: Vec<_> =
            m.pieces(0x2000, 0x5000).iter().map(|l| (l.start, l.end, l.offset)).collect();
        assert_eq!(p, [(0x2000, 0x3000, 0x1000), (0x4000, 0x5000, 0)]);
        m.insert(0x20000, 0x21000, object(), 0);
        m.shift(0x2000, 0x20000, 0x3000);
        assert_eq!(
            spans(&m),
            [
                (0x1000, 0x2000, 0),
                (0x5000, 0x6000, 0x1000),
                (0x20000, 0x21000, 0x1000),
                (0x22000, 0x23000, 0)
            ]
        );
    }
}
