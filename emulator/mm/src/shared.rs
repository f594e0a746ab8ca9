//! Shared mappings: creating their objects, mapping them on the host, the page states the CPU
//! engine sees (including pages past the end of an object), and `mincore`.

use std::sync::Arc;

use elfvisor_abi::addr::page_round_up;
use elfvisor_abi::mman::{MAP_GROWSDOWN, MAP_SHARED_VALIDATE, MAP_TYPE};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};

use crate::access::effective;
use crate::layout::GUEST_TASK_SIZE;
use crate::object::{ObjectKind, SharedObject};
use crate::space::{AddressSpace, check_prot};
use crate::vma::{Backing, Vma, VmaFlags, VmaName};
use elfvisor_host::errno_from_io;

/// What the guest may do with one page, for the CPU engine's TLB fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStatus {
    /// Mapped with this (effective) protection.
    Mapped(Prot),
    Unmapped,
    /// Inside a shared mapping but past the end of its object, or a page of a file that the
    /// host cannot provide (a full tmpfs): any access is `SIGBUS`.
    PastObjectEnd,
}

/// A shared object to map at a fixed range: how a respawned fork child rebuilds the parent's
/// shared mappings from the descriptors it received.
#[derive(Debug, Clone)]
pub struct ObjectMapping {
    pub start: GuestAddr,
    pub len: u64,
    pub prot: Prot,
    pub object: Arc<SharedObject>,
    /// Object byte shown at `start` (page aligned).
    pub offset: u64,
    pub name: VmaName,
}

impl AddressSpace {
    /// The backing of a new `MAP_SHARED|MAP_ANONYMOUS` mapping of `len` bytes: a fresh memfd
    /// of exactly that size, mapped from offset 0 (Linux ignores the offset here).
    pub(crate) fn shared_anonymous(&self, flags: u32, len: u64) -> Result<Backing, Errno> {
        // do_mmap: anonymous memory knows only MAP_SHARED and MAP_PRIVATE, and cannot grow down
        // when shared.
        if flags & MAP_TYPE == MAP_SHARED_VALIDATE || flags & MAP_GROWSDOWN != 0 {
            return Err(Errno::EINVAL);
        }
        let object = SharedObject::anonymous(len).map_err(|e| errno_from_io(&e))?;
        Ok(Backing::Shared { object, offset: 0 })
    }

    /// Maps `len` bytes of `object` from byte `offset` at `start` on the host, with the host
    /// protection that follows `prot`. SysV segments have no descriptor: they can only be
    /// attached whole, from offset 0; pages past a segment's end stay reserved.
    pub(crate) fn map_object_pages(
        &self,
        start: GuestAddr,
        len: u64,
        object: &SharedObject,
        offset: u64,
        prot: Prot,
    ) -> Result<(), Errno> {
        let host = |e: std::io::Error| errno_from_io(&e);
        if let Some(file) = object.file() {
            return self.arena.map_shared(start.0, len, file, offset, prot).map_err(host);
        }
        let ObjectKind::SysV { shmid, .. } = object.kind() else {
            unreachable!("only SysV objects have no descriptor")
        };
        let mapped = object.host_mapped(offset, len);
        if mapped == 0 {
            return Ok(());
        }
        let segment = page_round_up(object.cached_size()).unwrap_or(u64::MAX);
        if offset != 0 || mapped != segment {
            // A piece of a segment cannot be attached on its own.
            return Err(Errno::EINVAL);
        }
        let readonly = !object.max_prot().contains(Prot::WRITE);
        self.arena.attach_sysv(start.0, segment, shmid, readonly).map_err(host)?;
        let attached = if readonly { Prot::RX } else { Prot::RWX };
        if effective(prot).access() != attached {
            self.arena.protect_shared(start.0, segment, prot).map_err(host)?;
        }
        Ok(())
    }

    /// What the guest may do with the page holding `addr`: the CPU engine asks this on every
    /// TLB miss, so it costs a lookup and, only for pages past an object's cached end, one
    /// `fstat` (the file may have grown). Pages the guest may not access at all report their
    /// protection (a fault there is `SEGV_ACCERR` on Linux); other pages past the end report
    /// `PastObjectEnd` whatever the access.
    pub fn page_state(&self, addr: GuestAddr) -> PageStatus {
        let Some(v) = self.vmas.find(addr) else { return PageStatus::Unmapped };
        let prot = effective(v.prot);
        if prot.access() != Prot::NONE {
            let page_off = |offset: u64| offset + (addr.page_down().0 - v.start.0);
            let past_end = match &v.backing {
                Backing::Anonymous => false,
                Backing::File { file, offset } => {
                    self.file_sizes.page_past_end(file, page_off(*offset))
                }
                Backing::Shared { object, offset } => {
                    object.page_past_end(page_off(*offset), false)
                }
            };
            if past_end {
                return PageStatus::PastObjectEnd;
            }
        }
        PageStatus::Mapped(prot)
    }

    /// [`page_state`](Self::page_state) for an access the CPU is about to make (a write, or a
    /// read or fetch). A page of a file behind a shared mapping must also exist on the host: on
    /// a full tmpfs it cannot be allocated, and Linux's fault then raises `SIGBUS`
    /// (`shmem_fault` → `shmem_get_folio_gfp` fails with `ENOSPC` → `VM_FAULT_SIGBUS`, for a
    /// read of a hole as for a write). The host would raise it in the emulator itself, where
    /// the guest cannot be resumed, so the page is provided first and refused if it cannot be.
    pub fn page_state_for(&self, addr: GuestAddr, write: bool) -> PageStatus {
        let state = self.page_state(addr);
        // Only an access the page allows: any other is a protection fault, and the host would
        // refuse to populate for it (which must not read as a bus error).
        let need = if write { Prot::WRITE } else { Prot::READ };
        if let PageStatus::Mapped(prot) = state
            && prot.contains(need)
            && self.needs_host_page(addr)
            && !self.arena.provide(addr.page_down().0, PAGE_SIZE, write)
        {
            return PageStatus::PastObjectEnd;
        }
        state
    }

    /// Whether the page holding `addr` is a guest file's, behind a shared mapping: the pages
    /// whose allocation can fail (anonymous memory and its memfds fail only when the host is
    /// out of memory, which ends the process on Linux as on the host).
    pub(crate) fn needs_host_page(&self, addr: GuestAddr) -> bool {
        self.vmas.find(addr).is_some_and(|v| {
            matches!(&v.backing, Backing::Shared { object, .. } if object.kind() == ObjectKind::File)
        })
    }

    /// Re-reads the size of every mapped file: call after the guest truncated a file, so pages
    /// past the new end fault (`SIGBUS`) at once. Records invalidations for mappings whose
    /// file shrank, which the caller flushes from the engine.
    pub fn refresh_object_sizes(&mut self) {
        let mut shrunk = Vec::new();
        for v in self.vmas.iter() {
            let smaller = match &v.backing {
                Backing::Shared { object, .. } if object.kind() == ObjectKind::File => {
                    let before = object.cached_size();
                    object.current_size() < before
                }
                Backing::File { file, .. } => {
                    let (before, now) = self.file_sizes.refresh(file);
                    before.is_some_and(|b| now < b)
                }
                _ => false,
            };
            if smaller {
                shrunk.push((v.start, v.end, v.prot.contains(Prot::EXEC)));
            }
        }
        for (s, e, x) in shrunk {
            self.record(s, e, x);
        }
    }

    /// Linux `mincore`: one byte per page of `[addr, addr + len)`, bit 0 set when resident (in
    /// memory or, for file and shared pages, in the page cache). Returns the bytes for the
    /// mapped pages from `addr` on, and `Err(ENOMEM)` beside them if a hole ended the walk
    /// early: Linux copies out what it found before it reports the hole.
    pub fn mincore(&self, addr: GuestAddr, len: u64) -> (Vec<u8>, Result<(), Errno>) {
        if !addr.is_page_aligned() {
            return (Vec::new(), Err(Errno::EINVAL));
        }
        let Some(end) =
            page_round_up(len).and_then(|l| addr.checked_add(l)).filter(|e| e.0 <= GUEST_TASK_SIZE)
        else {
            return (Vec::new(), Err(Errno::ENOMEM));
        };
        if end == addr {
            return (Vec::new(), Ok(()));
        }
        let mut out = Vec::new();
        let mut at = addr;
        for v in self.vmas.overlapping(addr, end) {
            if v.start > at {
                break;
            }
            let piece_end = v.end.min(end);
            match self.arena.residency(at.0, piece_end.0 - at.0) {
                Ok(bytes) => out.extend(bytes.iter().map(|b| b & 1)),
                Err(e) => return (out, Err(errno_from_io(&e))),
            }
            at = piece_end;
        }
        let result = if at < end { Err(Errno::ENOMEM) } else { Ok(()) };
        (out, result)
    }

    /// Maps `m.object` at exactly `[m.start, m.start + m.len)`, replacing what is there: the
    /// way a respawned fork child re-creates a parent's shared mapping.
    pub fn map_object(&mut self, m: ObjectMapping) -> Result<(), Errno> {
        check_prot(m.prot)?;
        let end = m.start.checked_add(m.len).filter(|e| e.0 <= self.arena_size());
        let end = end.ok_or(Errno::ENOMEM)?;
        if !m.start.is_page_aligned() || m.len == 0 || m.len % PAGE_SIZE != 0 {
            return Err(Errno::EINVAL);
        }
        if m.offset % PAGE_SIZE != 0 || m.offset.checked_add(m.len).is_none() {
            return Err(Errno::EINVAL);
        }
        if !m.object.max_prot().contains(m.prot.access()) {
            return Err(Errno::EACCES);
        }
        self.unmap_range(m.start, end);
        let vma = Vma {
            start: m.start,
            end,
            prot: m.prot,
            shared: true,
            grows_down: false,
            flags: VmaFlags::NONE,
            backing: Backing::Shared { object: m.object, offset: m.offset },
            name: m.name,
        };
        let result = self.place(vma);
        self.debug_check();
        result
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fs::File;
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    use std::sync::Arc;

    use elfvisor_abi::mman::{
        MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_SYNC,
    };
    use elfvisor_abi::{Errno, GuestAddr, Prot};

    use super::*;
    use crate::space::tests::{P, map_fixed, ranges, space};
    use crate::{Invalidation, MmapRequest};

    /// `pages` pages of a fresh file, page `i` filled with `b'a' + i`.
    pub(crate) fn paged(pages: u64) -> Arc<File> {
        let mut f = tempfile::tempfile().unwrap();
        for i in 0..pages {
            f.write_all(&[b'a' + i as u8; P as usize]).unwrap();
        }
        Arc::new(f)
    }

    /// The same file reopened through /proc with `write` access or read-only.
    fn reopen(f: &File, write: bool) -> Arc<File> {
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(f));
        Arc::new(std::fs::OpenOptions::new().read(true).write(write).open(path).unwrap())
    }

    pub(crate) fn shared_file(
        addr: u64,
        len: u64,
        prot: Prot,
        file: &Arc<File>,
        off: u64,
    ) -> MmapRequest {
        MmapRequest {
            addr: GuestAddr(addr),
            len,
            prot,
            flags: MAP_SHARED | if addr != 0 { MAP_FIXED } else { 0 },
            file: Some((Arc::clone(file), off)),
            name: VmaName::None,
        }
    }

    pub(crate) fn shared_anon(addr: u64, len: u64, prot: Prot) -> MmapRequest {
        MmapRequest {
            addr: GuestAddr(addr),
            len,
            prot,
            flags: MAP_SHARED | MAP_ANONYMOUS | if addr != 0 { MAP_FIXED } else { 0 },
            file: None,
            name: VmaName::None,
        }
    }

    fn read(s: &AddressSpace, addr: u64, n: usize) -> Vec<u8> {
        let mut b = vec![0u8; n];
        s.copy_in(GuestAddr(addr), &mut b).unwrap();
        b
    }

    #[test]
    fn test_writable_shared_is_noted_by_mmap_and_mprotect_and_stays() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 4 * P, Prot::RW);
        let f = paged(2);
        let ro = s.mmap(shared_file(0x50_0000, 2 * P, Prot::READ, &f, 0)).unwrap();
        s.mprotect(GuestAddr(0x40_0000), P, Prot::READ).unwrap();
        assert!(!s.has_writable_shared(), "private and read-only shared mappings are not");
        s.mprotect(GuestAddr(ro.0 + P), P, Prot::RW).unwrap();
        assert!(s.has_writable_shared(), "mprotect made a shared page writable");
        s.munmap(ro, 2 * P).unwrap();
        assert!(s.has_writable_shared(), "it stays once seen");

        let mut s = space();
        s.mmap(shared_anon(0x50_0000, P, Prot::RW)).unwrap();
        assert!(s.has_writable_shared(), "MAP_SHARED|MAP_ANONYMOUS, writable");
    }

    #[test]
    fn test_shared_file_is_coherent_with_the_file_and_other_mappings() {
        let f = paged(2);
        let mut s = space();
        let a = s.mmap(shared_file(0, 2 * P, Prot::RW, &f, 0)).unwrap();
        let b = s.mmap(shared_file(0, 2 * P, Prot::READ, &f, 0)).unwrap();
        assert_ne!(a, b);
        s.copy_out(GuestAddr(a.0 + 100), b"through the map").unwrap();
        // pread and the second mapping see it at once, with no msync.
        let mut buf = [0u8; 15];
        f.read_exact_at(&mut buf, 100).unwrap();
        assert_eq!(&buf, b"through the map");
        assert_eq!(read(&s, b.0 + 100, 15), b"through the map");
        f.write_all_at(b"by pwrite", P + 7).unwrap();
        assert_eq!(read(&s, a.0 + P + 7, 9), b"by pwrite");
        // A second host mapping of the file outside the arena sees the guest's writes too.
        let mut other = vec![0u8; 15];
        // SAFETY: a fresh private host view of the file, read and unmapped here.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                P as usize,
                libc::PROT_READ,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&*f),
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            std::ptr::copy_nonoverlapping(p.cast::<u8>().add(100), other.as_mut_ptr(), 15);
            libc::munmap(p, P as usize);
        }
        assert_eq!(other, b"through the map");
        let v = s.vmas().find(|v| v.start == a).unwrap();
        assert!(v.shared && matches!(&v.backing, Backing::Shared { offset: 0, .. }));
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_shared_file_access_rules() {
        let f = paged(1);
        let ro = reopen(&f, false);
        let mut s = space();
        assert_eq!(s.mmap(shared_file(0, P, Prot::RW, &ro, 0)), Err(Errno::EACCES));
        let a = s.mmap(shared_file(0, P, Prot::READ, &ro, 0)).unwrap();
        // The host maps it read-only, and the guest may never make it writable.
        assert_eq!(s.mprotect(a, P, Prot::RW), Err(Errno::EACCES));
        assert_eq!(s.mprotect(a, P, Prot::RX), Ok(()));
        assert_eq!(s.copy_out(a, b"x"), Err(Errno::EFAULT));
        // A private mapping of the same fd may become writable: writes stay private.
        let mut req = shared_file(0, P, Prot::READ, &ro, 0);
        req.flags = MAP_PRIVATE;
        let p = s.mmap(req).unwrap();
        assert_eq!(s.mprotect(p, P, Prot::RW), Ok(()));
        let wo = Arc::new(std::fs::OpenOptions::new().write(true).open(proc_path(&f)).unwrap());
        assert_eq!(s.mmap(shared_file(0, P, Prot::WRITE, &wo, 0)), Err(Errno::EACCES));
        let mut v = shared_file(0, P, Prot::READ, &f, 0);
        v.flags = MAP_SHARED_VALIDATE | MAP_SYNC;
        assert_eq!(s.mmap(v.clone()), Err(Errno::EOPNOTSUPP));
        v.flags = MAP_SHARED | MAP_SYNC;
        assert!(s.mmap(v.clone()).is_ok());
        v.flags = MAP_SHARED | MAP_GROWSDOWN;
        assert_eq!(s.mmap(v), Err(Errno::EINVAL));
        s.check_invariants().unwrap();
    }

    fn proc_path(f: &File) -> String {
        format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(f))
    }

    #[test]
    fn test_mprotect_stops_at_a_mapping_that_may_not_get_the_protection() {
        let f = paged(1);
        let ro = reopen(&f, false);
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::READ);
        s.mmap(shared_file(0x40_1000, P, Prot::READ, &ro, 0)).unwrap();
        map_fixed(&mut s, 0x40_2000, P, Prot::READ);
        assert_eq!(s.mprotect(GuestAddr(0x40_0000), 3 * P, Prot::RW), Err(Errno::EACCES));
        assert_eq!(
            ranges(&s),
            vec![
                (0x40_0000, 0x40_1000, Prot::RW),
                (0x40_1000, 0x40_2000, Prot::READ),
                (0x40_2000, 0x40_3000, Prot::READ)
            ]
        );
    }

    #[test]
    fn test_host_protection_follows_shared_mappings() {
        let mut s = space();
        let a = s.mmap(shared_anon(0, P, Prot::RW)).unwrap();
        s.copy_out(a, b"one").unwrap();
        s.mprotect(a, P, Prot::READ).unwrap();
        // A host write through the arena would now fault: ask the host what it has.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        // SAFETY: arithmetic only.
        let host = unsafe { s.arena_base().add(a.0 as usize) } as usize;
        let line = maps.lines().find(|l| l.starts_with(&format!("{host:x}-"))).unwrap();
        assert!(line.contains(" r--s "), "{line}");
        s.mprotect(a, P, Prot::RW).unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps.lines().find(|l| l.starts_with(&format!("{host:x}-"))).unwrap();
        assert!(line.contains(" rw-s "), "{line}");
        assert_eq!(read(&s, a.0, 3), b"one");
    }

    #[test]
    fn test_shared_anonymous_is_a_memfd_of_the_mapping_size() {
        let mut s = space();
        assert_eq!(s.mmap(shared_anon(0, P, Prot::RW)).map(|_| ()), Ok(()));
        let mut bad = shared_anon(0, P, Prot::RW);
        bad.flags = MAP_SHARED_VALIDATE | MAP_ANONYMOUS;
        assert_eq!(s.mmap(bad.clone()), Err(Errno::EINVAL));
        bad.flags = MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN;
        assert_eq!(s.mmap(bad), Err(Errno::EINVAL));
        let a = s.mmap(shared_anon(0x40_0000, 3 * P, Prot::RW)).unwrap();
        assert_eq!(read(&s, a.0 + 2 * P, 4), [0; 4]);
        s.copy_out(GuestAddr(a.0 + P), b"shared").unwrap();
        let v = s.vmas().find(|v| v.start == a).unwrap();
        let Backing::Shared { object, offset: 0 } = &v.backing else { panic!("{v:?}") };
        assert_eq!(object.kind(), ObjectKind::Anonymous);
        let file = object.file().unwrap();
        assert_eq!(file.metadata().unwrap().len(), 3 * P);
        let mut buf = [0u8; 6];
        file.read_exact_at(&mut buf, P).unwrap();
        assert_eq!(&buf, b"shared");
        assert_eq!(s.page_state(GuestAddr(a.0 + 2 * P)), PageStatus::Mapped(Prot::RW));
    }

    #[test]
    fn test_pages_past_the_object_end_are_never_granted() {
        let f = Arc::new(tempfile::tempfile().unwrap());
        f.set_len(P + 10).unwrap();
        let mut s = space();
        let a = s.mmap(shared_file(0x40_0000, 4 * P, Prot::RW, &f, 0)).unwrap();
        assert_eq!(s.page_state(GuestAddr(a.0 + P + 4000)), PageStatus::Mapped(Prot::RW));
        assert_eq!(s.page_state(GuestAddr(a.0 + 2 * P)), PageStatus::PastObjectEnd);
        assert_eq!(s.copy_in(GuestAddr(a.0 + 2 * P), &mut [0u8; 1]), Err(Errno::EFAULT));
        assert_eq!(s.copy_out(GuestAddr(a.0 + 2 * P - 1), b"xy"), Err(Errno::EFAULT));
        // Extended by someone else: the lookup past the cached end notices.
        f.set_len(3 * P).unwrap();
        assert_eq!(s.page_state(GuestAddr(a.0 + 2 * P)), PageStatus::Mapped(Prot::RW));
        s.copy_out(GuestAddr(a.0 + 2 * P), b"grown").unwrap();
        let mut buf = [0u8; 5];
        f.read_exact_at(&mut buf, 2 * P).unwrap();
        assert_eq!(&buf, b"grown");
        assert_eq!(s.page_state(GuestAddr(a.0 + 3 * P)), PageStatus::PastObjectEnd);
        // Shrunk: the copies check afresh; the TLB path after a refresh.
        f.set_len(P).unwrap();
        assert_eq!(s.copy_in(GuestAddr(a.0 + P), &mut [0u8; 1]), Err(Errno::EFAULT));
        s.take_invalidations();
        f.set_len(P + 1).unwrap();
        s.refresh_object_sizes();
        f.set_len(0).unwrap();
        s.refresh_object_sizes();
        assert_eq!(
            s.take_invalidations(),
            vec![Invalidation { start: a, end: GuestAddr(a.0 + 4 * P), was_exec: false }]
        );
        assert_eq!(s.page_state(a), PageStatus::PastObjectEnd);
        // A page nobody may touch faults as a protection error first.
        s.mprotect(a, P, Prot::NONE).unwrap();
        assert_eq!(s.page_state(a), PageStatus::Mapped(Prot::NONE));
        assert_eq!(s.page_state(GuestAddr(a.0 + 4 * P)), PageStatus::Unmapped);
    }

    #[test]
    fn test_a_page_the_host_cannot_provide_is_a_bus_error_before_any_access() {
        let f = Arc::new(tempfile::tempfile().unwrap());
        f.set_len(2 * P).unwrap();
        let mut s = space();
        let a = s.mmap(shared_file(0x40_0000, 2 * P, Prot::RW, &f, 0)).unwrap();
        assert_eq!(s.page_state_for(a, true), PageStatus::Mapped(Prot::RW));
        // Provided: the page is there before the CPU touches it.
        let mut resident = [0u8; 1];
        // SAFETY: the page is mapped in the arena; `resident` has one byte for it.
        let r = unsafe {
            libc::mincore(s.arena.base().add(a.0 as usize).cast(), 4096, resident.as_mut_ptr())
        };
        assert_eq!((r, resident[0] & 1), (0, 1));
        // Shrunk behind our back: the cached size still covers the page, but the host would
        // raise SIGBUS there (as it does when a full tmpfs cannot allocate it): refused.
        f.set_len(0).unwrap();
        assert_eq!(s.page_state(GuestAddr(a.0 + P)), PageStatus::Mapped(Prot::RW));
        assert_eq!(s.page_state_for(GuestAddr(a.0 + P), false), PageStatus::PastObjectEnd);
        assert_eq!(s.page_state_for(GuestAddr(a.0 + P), true), PageStatus::PastObjectEnd);
        // A write to a read-only page is the protection fault's business, not a bus error.
        f.set_len(2 * P).unwrap();
        s.mprotect(a, P, Prot::READ).unwrap();
        assert_eq!(s.page_state_for(a, true), PageStatus::Mapped(Prot::READ));
        s.mprotect(a, P, Prot::NONE).unwrap();
        assert_eq!(s.page_state_for(a, false), PageStatus::Mapped(Prot::NONE));
    }

    #[test]
    fn test_shared_splits_keep_offsets_and_merge_back() {
        let f = paged(4);
        let mut s = space();
        s.mmap(shared_file(0x40_0000, 4 * P, Prot::RW, &f, 0)).unwrap();
        s.munmap(GuestAddr(0x40_1000), P).unwrap();
        s.mprotect(GuestAddr(0x40_3000), P, Prot::READ).unwrap();
        let offsets: Vec<(u64, Option<u64>)> =
            s.vmas().map(|v| (v.start.0, v.backing.offset())).collect();
        assert_eq!(
            offsets,
            vec![(0x40_0000, Some(0)), (0x40_2000, Some(2 * P)), (0x40_3000, Some(3 * P))]
        );
        assert_eq!(read(&s, 0x40_3000, 1), b"d");
        s.copy_out(GuestAddr(0x40_2000), b"C").unwrap();
        let mut b = [0u8];
        f.read_exact_at(&mut b, 2 * P).unwrap();
        assert_eq!(&b, b"C");
        s.mprotect(GuestAddr(0x40_3000), P, Prot::RW).unwrap();
        assert_eq!(
            ranges(&s),
            vec![(0x40_0000, 0x40_1000, Prot::RW), (0x40_2000, 0x40_4000, Prot::RW)]
        );
        // Separate mmaps of one file never merge: they are separate objects.
        s.mmap(shared_file(0x40_1000, P, Prot::RW, &f, P)).unwrap();
        assert_eq!(s.vmas().count(), 3);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_object_lives_as_long_as_its_mappings() {
        let f = paged(2);
        let weak = Arc::downgrade(&f);
        let mut s = space();
        let a = s.mmap(shared_file(0, 2 * P, Prot::RW, &f, 0)).unwrap();
        drop(f);
        s.munmap(a, P).unwrap();
        assert!(weak.upgrade().is_some());
        s.copy_out(GuestAddr(a.0 + P), b"still").unwrap();
        s.munmap(GuestAddr(a.0 + P), P).unwrap();
        assert!(weak.upgrade().is_none());
        // MAP_FIXED over a shared mapping drops its object too.
        let g = paged(1);
        let weak = Arc::downgrade(&g);
        s.mmap(shared_file(0x40_0000, P, Prot::RW, &g, 0)).unwrap();
        drop(g);
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        assert!(weak.upgrade().is_none());
        assert_eq!(read(&s, 0x40_0000, 2), [0, 0]);
    }

    #[test]
    fn test_mincore_reports_residency_and_holes() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 3 * P, Prot::RW);
        s.copy_out(GuestAddr(0x40_1000), b"touch").unwrap();
        let (v, r) = s.mincore(GuestAddr(0x40_0000), 3 * P);
        assert_eq!((v, r), (vec![0, 1, 0], Ok(())));
        assert_eq!(s.mincore(GuestAddr(0x40_0001), P).1, Err(Errno::EINVAL));
        assert_eq!(s.mincore(GuestAddr(0x40_0000), 0), (vec![], Ok(())));
        s.munmap(GuestAddr(0x40_2000), P).unwrap();
        let (v, r) = s.mincore(GuestAddr(0x40_1000), 2 * P + 1);
        assert_eq!((v, r), (vec![1], Err(Errno::ENOMEM)));
        assert_eq!(s.mincore(GuestAddr(0x50_0000), P), (vec![], Err(Errno::ENOMEM)));
        assert_eq!(s.mincore(GuestAddr(0x40_0000), u64::MAX).1, Err(Errno::ENOMEM));
        // Shared pages are resident when their object's page is (in the page cache).
        let f = paged(2);
        let a = s.mmap(shared_file(0, 2 * P, Prot::READ, &f, 0)).unwrap();
        assert_eq!(s.mincore(a, 2 * P).0, vec![1, 1]);
    }

    #[test]
    fn test_map_object_rebuilds_a_shared_mapping() {
        let mut s = space();
        let a = s.mmap(shared_anon(0, 2 * P, Prot::RW)).unwrap();
        s.copy_out(GuestAddr(a.0 + P), b"parent").unwrap();
        let Backing::Shared { object, .. } = s.vmas().next().unwrap().backing.clone() else {
            panic!("not shared")
        };
        let mut child = space();
        let m = ObjectMapping {
            start: GuestAddr(0x40_0000),
            len: P,
            prot: Prot::RW,
            object,
            offset: P,
            name: VmaName::None,
        };
        child.map_object(m.clone()).unwrap();
        assert_eq!(read(&child, 0x40_0000, 6), b"parent");
        child.copy_out(GuestAddr(0x40_0000), b"child!").unwrap();
        assert_eq!(read(&s, a.0 + P, 6), b"child!");
        assert_eq!(child.map_object(ObjectMapping { offset: 1, ..m.clone() }), Err(Errno::EINVAL));
        child.check_invariants().unwrap();
    }
}
