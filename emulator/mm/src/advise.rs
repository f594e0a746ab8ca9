//! `madvise(2)` and `msync(2)`.
//!
//! Advice that only tunes the host kernel's paging (`WILLNEED`, `HUGEPAGE`, `COLD`...) is
//! accepted and ignored. `MADV_FREE` on private anonymous memory zero-fills at once like
//! `MADV_DONTNEED`: Linux may free the pages lazily, and reading zeroes is one of the outcomes it
//! allows. Fork-related advice (`DONTFORK`, `WIPEONFORK`...) is recorded in the VMAs' flags
//! ([`AddressSpace::after_fork`] applies it in a child). On shared mappings `MADV_DONTNEED` drops the process's view
//! only (the object keeps the contents, which the next access re-reads) and `MADV_REMOVE`
//! frees the object's storage.

use elfvisor_abi::addr::page_round_up;
use elfvisor_abi::mman::{
    MADV_COLD, MADV_DODUMP, MADV_DOFORK, MADV_DONTDUMP, MADV_DONTFORK, MADV_DONTNEED, MADV_FREE,
    MADV_HUGEPAGE, MADV_KEEPONFORK, MADV_MERGEABLE, MADV_NOHUGEPAGE, MADV_NORMAL, MADV_PAGEOUT,
    MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_RANDOM, MADV_REMOVE, MADV_SEQUENTIAL,
    MADV_UNMERGEABLE, MADV_WILLNEED, MADV_WIPEONFORK, MS_ASYNC, MS_INVALIDATE, MS_SYNC,
};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};

use crate::access::effective;
use crate::object::ObjectKind;
use crate::space::AddressSpace;
use crate::vma::{Backing, Vma, VmaFlags};
use elfvisor_host::errno_from_io;

/// Every advice value Linux 6.x accepts from an unprivileged process, except the newest
/// (`MADV_DONTNEED_LOCKED`, `MADV_COLLAPSE`, guard regions), which get `EINVAL` like older kernels.
fn known_advice(advice: u32) -> bool {
    matches!(
        advice,
        MADV_NORMAL
            | MADV_RANDOM
            | MADV_SEQUENTIAL
            | MADV_WILLNEED
            | MADV_DONTNEED
            | MADV_FREE
            | MADV_REMOVE
            | MADV_DONTFORK
            | MADV_DOFORK
            | MADV_MERGEABLE
            | MADV_UNMERGEABLE
            | MADV_HUGEPAGE
            | MADV_NOHUGEPAGE
            | MADV_DONTDUMP
            | MADV_DODUMP
            | MADV_WIPEONFORK
            | MADV_KEEPONFORK
            | MADV_COLD
            | MADV_PAGEOUT
            | MADV_POPULATE_READ
            | MADV_POPULATE_WRITE
    )
}

impl AddressSpace {
    /// Linux `madvise`. Like Linux, the advice is applied to the mapped parts of the range in
    /// order, and a hole anywhere makes the call return `ENOMEM` afterwards; a per-VMA error
    /// (e.g. `MADV_FREE` on a file mapping) stops the walk at that VMA.
    pub fn madvise(&mut self, addr: GuestAddr, len: u64, advice: u32) -> Result<(), Errno> {
        if !known_advice(advice) || !addr.is_page_aligned() {
            return Err(Errno::EINVAL);
        }
        let rounded = page_round_up(len).ok_or(Errno::EINVAL)?;
        if len != 0 && rounded == 0 {
            return Err(Errno::EINVAL);
        }
        let end = addr.checked_add(rounded).ok_or(Errno::EINVAL)?;
        if end == addr {
            return Ok(());
        }
        let clipped = GuestAddr(end.0.min(self.arena_size()));
        let pieces: Vec<Vma> =
            self.vmas.overlapping(addr, clipped).map(|v| v.slice(addr, clipped)).collect();
        if pieces.is_empty() {
            return Err(Errno::ENOMEM);
        }
        let mut at = addr;
        let mut hole = false;
        for piece in &pieces {
            hole |= piece.start > at;
            self.advise_vma(piece, advice)?;
            at = piece.end;
        }
        if hole || at < end { Err(Errno::ENOMEM) } else { Ok(()) }
    }

    /// Applies `advice` to one VMA's slice.
    fn advise_vma(&mut self, v: &Vma, advice: u32) -> Result<(), Errno> {
        let anonymous = matches!(v.backing, Backing::Anonymous);
        // can_madv_lru_vma, madvise_remove: locked memory keeps its pages.
        if v.flags.contains(VmaFlags::LOCKED)
            && matches!(advice, MADV_DONTNEED | MADV_FREE | MADV_COLD | MADV_PAGEOUT | MADV_REMOVE)
        {
            return Err(Errno::EINVAL);
        }
        // Fork advice is recorded in the VMAs (split as needed), for the fork strategies.
        let fork_flags = match advice {
            MADV_DONTFORK => Some((VmaFlags::DONTFORK, true)),
            MADV_DOFORK => Some((VmaFlags::DONTFORK, false)),
            // Only private anonymous memory can be wiped (KEEPONFORK undoes it anywhere).
            MADV_WIPEONFORK if !anonymous => return Err(Errno::EINVAL),
            MADV_WIPEONFORK => Some((VmaFlags::WIPEONFORK, true)),
            MADV_KEEPONFORK => Some((VmaFlags::WIPEONFORK, false)),
            _ => None,
        };
        if let Some((flag, set)) = fork_flags {
            self.vmas.update_range(v.start, v.end, |v| {
                v.flags = if set { v.flags.with(flag) } else { v.flags.without(flag) };
            });
            return Ok(());
        }
        match advice {
            // On private memory the host's DONTNEED is exactly Linux's: anonymous pages read as
            // zero again, private file pages re-read the file.
            MADV_DONTNEED => self.discard(v),
            // MADV_FREE works only on private anonymous memory.
            MADV_FREE if anonymous => self.discard(v),
            MADV_FREE => return Err(Errno::EINVAL),
            // madvise_remove: punches holes in the object behind shared writable mappings only.
            MADV_REMOVE => match &v.backing {
                Backing::Shared { object, offset } if v.prot.contains(Prot::WRITE) => {
                    let len = object.host_mapped(*offset, v.len());
                    if len > 0 {
                        self.arena.punch(v.start.0, len).map_err(|e| errno_from_io(&e))?;
                    }
                    if v.prot.contains(Prot::EXEC) {
                        self.record(v.start, v.end, true);
                    }
                }
                _ => return Err(if anonymous { Errno::EINVAL } else { Errno::EACCES }),
            },
            MADV_POPULATE_READ if !effective(v.prot).contains(Prot::READ) => {
                return Err(Errno::EINVAL);
            }
            MADV_POPULATE_WRITE if !v.prot.contains(Prot::WRITE) => return Err(Errno::EINVAL),
            // Populating a page past the end of its object would raise SIGBUS: EFAULT.
            MADV_POPULATE_READ | MADV_POPULATE_WRITE => {
                if let Backing::Shared { object, offset } = &v.backing {
                    let last = offset + v.len() - PAGE_SIZE;
                    if object.page_past_end(last, true) {
                        return Err(Errno::EFAULT);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Resets a slice's contents. Translated code for it is stale afterwards.
    fn discard(&mut self, v: &Vma) {
        let r = self.arena.discard(v.start.0, v.len());
        debug_assert!(r.is_ok(), "MADV_DONTNEED of {}..{} failed: {r:?}", v.start, v.end);
        if v.prot.contains(Prot::EXEC) {
            self.record(v.start, v.end, true);
        }
    }

    /// Linux `msync`: `MS_SYNC` writes shared file pages back (host `msync`, which waits for
    /// the disk); private and anonymous memory has nothing to write. Like Linux, unmapped
    /// parts of the range are skipped and reported as `ENOMEM` at the end.
    pub fn msync(&self, addr: GuestAddr, len: u64, flags: u32) -> Result<(), Errno> {
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 || !addr.is_page_aligned() {
            return Err(Errno::EINVAL);
        }
        if flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
            return Err(Errno::EINVAL);
        }
        let end = page_round_up(len).and_then(|l| addr.checked_add(l)).ok_or(Errno::ENOMEM)?;
        if end == addr {
            return Ok(());
        }
        let clipped = GuestAddr(end.0.min(self.arena_size()));
        let covered = end.0 <= self.arena_size() && self.vmas.is_covered(addr, end);
        if flags & MS_SYNC != 0 {
            for v in self.vmas.overlapping(addr, clipped) {
                let Backing::Shared { object, offset } = &v.backing else { continue };
                if object.kind() != ObjectKind::File {
                    continue;
                }
                let piece = v.slice(addr, clipped);
                let piece_off = offset + (piece.start.0 - v.start.0);
                let n = object.host_mapped(piece_off, piece.len());
                self.arena.sync(piece.start.0, n, flags).map_err(|e| errno_from_io(&e))?;
            }
        }
        if covered { Ok(()) } else { Err(Errno::ENOMEM) }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    use std::sync::Arc;

    use elfvisor_abi::mman::{MAP_FIXED, MAP_PRIVATE};

    use super::*;
    use crate::space::tests::{P, map_fixed, space};
    use crate::{Invalidation, MmapRequest, VmaName};

    #[test]
    fn test_madvise_argument_errors() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        let a = GuestAddr(0x40_0000);
        assert_eq!(s.madvise(a, P, 7), Err(Errno::EINVAL));
        assert_eq!(s.madvise(a, P, 24), Err(Errno::EINVAL));
        assert_eq!(s.madvise(GuestAddr(0x40_0001), P, MADV_NORMAL), Err(Errno::EINVAL));
        assert_eq!(s.madvise(a, u64::MAX, MADV_NORMAL), Err(Errno::EINVAL));
        assert_eq!(s.madvise(a, 0, MADV_DONTNEED), Ok(()));
        assert_eq!(s.madvise(GuestAddr(0x50_0000), P, MADV_WILLNEED), Err(Errno::ENOMEM));
        assert_eq!(s.madvise(a, 3 * P, MADV_WILLNEED), Err(Errno::ENOMEM));
        for advice in
            [MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTFORK, MADV_DOFORK]
        {
            assert_eq!(s.madvise(a, 2 * P, advice), Ok(()));
        }
        for advice in
            [MADV_MERGEABLE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_COLD, MADV_PAGEOUT]
        {
            assert_eq!(s.madvise(a, 2 * P, advice), Ok(()));
        }
        assert_eq!(s.madvise(a, P, MADV_REMOVE), Err(Errno::EINVAL));
        assert_eq!(s.madvise(a, P, MADV_WIPEONFORK), Ok(()));
        s.mprotect(a, P, Prot::READ).unwrap();
        assert_eq!(s.madvise(a, P, MADV_POPULATE_READ), Ok(()));
        assert_eq!(s.madvise(a, P, MADV_POPULATE_WRITE), Err(Errno::EINVAL));
    }

    #[test]
    fn test_madvise_dontneed_zeroes_anonymous() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 3 * P, Prot::RW);
        for i in 0..3 {
            s.copy_out(GuestAddr(0x40_0000 + i * P), b"data").unwrap();
        }
        assert_eq!(s.madvise(GuestAddr(0x40_1000), P, MADV_DONTNEED), Ok(()));
        assert_eq!(s.madvise(GuestAddr(0x40_2000), P, MADV_FREE), Ok(()));
        let mut b = [0u8; 4];
        s.copy_in(GuestAddr(0x40_0000), &mut b).unwrap();
        assert_eq!(&b, b"data");
        for page in [0x40_1000, 0x40_2000] {
            s.copy_in(GuestAddr(page), &mut b).unwrap();
            assert_eq!(b, [0; 4]);
        }
        assert_eq!(s.take_invalidations(), vec![]);
    }

    #[test]
    fn test_madvise_applies_before_hole_then_enomem() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RWX);
        map_fixed(&mut s, 0x40_2000, P, Prot::RW);
        s.copy_out(GuestAddr(0x40_0000), b"a").unwrap();
        s.copy_out(GuestAddr(0x40_2000), b"b").unwrap();
        s.take_invalidations();
        assert_eq!(s.madvise(GuestAddr(0x40_0000), 3 * P, MADV_DONTNEED), Err(Errno::ENOMEM));
        let mut b = [9u8];
        s.copy_in(GuestAddr(0x40_0000), &mut b).unwrap();
        assert_eq!(b, [0]);
        s.copy_in(GuestAddr(0x40_2000), &mut b).unwrap();
        assert_eq!(b, [0]);
        assert_eq!(
            s.take_invalidations(),
            vec![Invalidation {
                start: GuestAddr(0x40_0000),
                end: GuestAddr(0x40_1000),
                was_exec: true
            }]
        );
    }

    #[test]
    fn test_madvise_dontneed_rereads_private_file() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[b'f'; 4096]).unwrap();
        let f = Arc::new(f);
        let mut s = space();
        let req = MmapRequest {
            addr: GuestAddr(0x40_0000),
            len: P,
            prot: Prot::RW,
            flags: MAP_PRIVATE | MAP_FIXED,
            file: Some((Arc::clone(&f), 0)),
            name: VmaName::Path("/f".into()),
        };
        s.mmap(req).unwrap();
        s.copy_out(GuestAddr(0x40_0000), b"mine").unwrap();
        f.write_all_at(b"disk", 0).unwrap();
        let mut b = [0u8; 4];
        s.copy_in(GuestAddr(0x40_0000), &mut b).unwrap();
        assert_eq!(&b, b"mine");
        s.madvise(GuestAddr(0x40_0000), P, MADV_DONTNEED).unwrap();
        s.copy_in(GuestAddr(0x40_0000), &mut b).unwrap();
        assert_eq!(&b, b"disk");
        assert_eq!(s.madvise(GuestAddr(0x40_0000), P, MADV_FREE), Err(Errno::EINVAL));
        assert_eq!(s.madvise(GuestAddr(0x40_0000), P, MADV_REMOVE), Err(Errno::EACCES));
        assert_eq!(s.madvise(GuestAddr(0x40_0000), P, MADV_WIPEONFORK), Err(Errno::EINVAL));
    }

    #[test]
    fn test_madvise_on_shared_mappings_keeps_or_removes_contents() {
        use crate::shared::tests::{paged, shared_anon, shared_file};
        let mut s = space();
        let a = s.mmap(shared_anon(0x40_0000, 2 * P, Prot::RW)).unwrap();
        s.copy_out(a, b"keep").unwrap();
        s.copy_out(GuestAddr(a.0 + P), b"gone").unwrap();
        assert_eq!(s.madvise(a, 2 * P, MADV_DONTNEED), Ok(()));
        let mut b = [0u8; 4];
        s.copy_in(a, &mut b).unwrap();
        assert_eq!(&b, b"keep");
        assert_eq!(s.madvise(a, P, MADV_FREE), Err(Errno::EINVAL));
        assert_eq!(s.madvise(a, P, MADV_WIPEONFORK), Err(Errno::EINVAL));
        assert_eq!(s.madvise(GuestAddr(a.0 + P), P, MADV_REMOVE), Ok(()));
        s.copy_in(GuestAddr(a.0 + P), &mut b).unwrap();
        assert_eq!(b, [0; 4]);
        s.mprotect(a, P, Prot::READ).unwrap();
        assert_eq!(s.madvise(a, P, MADV_REMOVE), Err(Errno::EACCES));
        // Growing past the object: populating those pages would SIGBUS.
        // (The read-only first page is a VMA of its own now.)
        assert_eq!(s.mremap(a, 2 * P, 3 * P, 0, GuestAddr(0)), Err(Errno::EFAULT));
        let tail = GuestAddr(a.0 + P);
        assert_eq!(s.mremap(tail, P, 2 * P, 0, GuestAddr(0)), Ok(tail));
        assert_eq!(s.madvise(GuestAddr(a.0 + P), P, MADV_POPULATE_WRITE), Ok(()));
        assert_eq!(s.madvise(GuestAddr(a.0 + P), 2 * P, MADV_POPULATE_WRITE), Err(Errno::EFAULT));
        let f = paged(1);
        let m = s.mmap(shared_file(0, P, Prot::RW, &f, 0)).unwrap();
        s.copy_out(m, b"disk").unwrap();
        assert_eq!(s.madvise(m, P, MADV_DONTNEED), Ok(()));
        let mut d = [0u8; 4];
        f.read_exact_at(&mut d, 0).unwrap();
        assert_eq!(&d, b"disk");
        s.copy_in(m, &mut b).unwrap();
        assert_eq!(&b, b"disk");
    }

    #[test]
    fn test_msync_of_shared_file_and_holes() {
        use crate::shared::tests::{paged, shared_anon, shared_file};
        let f = paged(2);
        let mut s = space();
        let m = s.mmap(shared_file(0x40_0000, 2 * P, Prot::RW, &f, 0)).unwrap();
        s.copy_out(m, b"synced").unwrap();
        assert_eq!(s.msync(m, 2 * P, MS_SYNC), Ok(()));
        assert_eq!(s.msync(m, 10, MS_ASYNC | MS_INVALIDATE), Ok(()));
        let mut d = [0u8; 6];
        f.read_exact_at(&mut d, 0).unwrap();
        assert_eq!(&d, b"synced");
        s.munmap(GuestAddr(m.0 + P), P).unwrap();
        assert_eq!(s.msync(m, 2 * P, MS_SYNC), Err(Errno::ENOMEM));
        let a = s.mmap(shared_anon(0, P, Prot::RW)).unwrap();
        assert_eq!(s.msync(a, P, MS_SYNC), Ok(()));
    }

    #[test]
    fn test_msync_rules() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::READ);
        let a = GuestAddr(0x40_0000);
        assert_eq!(s.msync(a, P, MS_SYNC), Ok(()));
        assert_eq!(s.msync(a, 2 * P, MS_ASYNC | MS_INVALIDATE), Ok(()));
        assert_eq!(s.msync(a, P, 0), Ok(()));
        assert_eq!(s.msync(a, P, 8), Err(Errno::EINVAL));
        assert_eq!(s.msync(a, P, MS_SYNC | MS_ASYNC), Err(Errno::EINVAL));
        assert_eq!(s.msync(GuestAddr(0x40_0800), P, MS_SYNC), Err(Errno::EINVAL));
        assert_eq!(s.msync(a, 3 * P, MS_SYNC), Err(Errno::ENOMEM));
        assert_eq!(s.msync(GuestAddr(0x3f_f000), P, MS_SYNC), Err(Errno::ENOMEM));
        assert_eq!(s.msync(a, u64::MAX, MS_SYNC), Err(Errno::ENOMEM));
        assert_eq!(s.msync(GuestAddr(0x50_0000), 0, MS_SYNC), Ok(()));
    }
}
