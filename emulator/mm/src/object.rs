//! Shared objects: what a `MAP_SHARED` mapping maps.
//!
//! Every shared mapping is backed by a host object from the moment it is created, and the host
//! maps that object `MAP_SHARED` at the guest range, so the host page cache keeps every view of
//! it coherent: other mappings, `read`/`write`, the file on disk, other processes. The object is
//! one of:
//!
//! - a guest file (a regular file, a `/dev/shm` object, a guest memfd): the runtime's own dup of
//!   the guest's descriptor, so closing the guest fd does not end the mapping;
//! - the host memfd created for one `MAP_SHARED|MAP_ANONYMOUS` mapping;
//! - a host SysV shared memory segment, attached with `shmat` (it has no descriptor; see the
//!   crate README for why SysV segments are the host's own).
//!
//! Pages past the end of the object must never reach the guest (Linux raises `SIGBUS` there), so
//! each object caches its size. Files can change size behind our back (another process truncates
//! or extends them): a lookup past the cached end re-reads the size before it answers. A file
//! shrunk by someone else between that check and the access still makes the host raise `SIGBUS`
//! in the runtime; the kernel crate turns that into the guest's death by `SIGBUS`.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use elfvisor_abi::addr::page_round_up;
use elfvisor_abi::{PAGE_SIZE, Prot};

use crate::arena;

/// What a shared object is, which decides how it is mapped and how `/proc/self/maps` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A guest file (regular file, `/dev/shm` object, guest memfd); its size may change at any
    /// time, through the guest or anyone else.
    File,
    /// The memfd behind one `MAP_SHARED|MAP_ANONYMOUS` mapping (`/dev/zero (deleted)` in
    /// `/proc/self/maps`). Sized once: growing the mapping with `mremap` does not grow it.
    Anonymous,
    /// One attach of a host SysV segment (`/SYSV<key> (deleted)`). Fixed size.
    SysV { shmid: i32, key: i32 },
}

#[derive(Debug)]
enum Handle {
    Fd(Arc<File>),
    SysV,
}

/// A host object that shared mappings map. VMAs hold it through an `Arc`: the descriptor lives
/// exactly as long as some mapping of it does.
pub struct SharedObject {
    handle: Handle,
    kind: ObjectKind,
    /// The object's size in bytes, as last seen.
    size: AtomicU64,
    /// The most any mapping of it may allow (`VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC`): write only if
    /// the descriptor is open for writing (or the SysV attach is not read-only).
    max_prot: Prot,
}

impl fmt::Debug for SharedObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedObject")
            .field("kind", &self.kind)
            .field("size", &self.size.load(Ordering::Relaxed))
            .field("max_prot", &self.max_prot)
            .finish_non_exhaustive()
    }
}

impl SharedObject {
    /// A guest file mapped shared. `file` must be open for reading (mmap's `EACCES` rule, which
    /// the caller checks); it may be written through the mapping iff it is open for writing.
    pub fn from_file(file: Arc<File>, writable: bool) -> io::Result<Arc<SharedObject>> {
        let size = file.metadata()?.len();
        Ok(Arc::new(SharedObject {
            handle: Handle::Fd(file),
            kind: ObjectKind::File,
            size: AtomicU64::new(size),
            max_prot: if writable { Prot::RWX } else { Prot::RX },
        }))
    }

    /// A fresh zero-filled object of `len` bytes for a `MAP_SHARED|MAP_ANONYMOUS` mapping.
    pub(crate) fn anonymous(len: u64) -> io::Result<Arc<SharedObject>> {
        let file = arena::memfd(c"elfvisor-shared-anon", len)?;
        Ok(Arc::new(SharedObject {
            handle: Handle::Fd(Arc::new(file)),
            kind: ObjectKind::Anonymous,
            size: AtomicU64::new(len),
            max_prot: Prot::RWX,
        }))
    }

    /// One attach of host SysV segment `shmid` (created with `key`) of `size` bytes.
    pub(crate) fn sysv(shmid: i32, key: i32, size: u64, readonly: bool) -> Arc<SharedObject> {
        Arc::new(SharedObject {
            handle: Handle::SysV,
            kind: ObjectKind::SysV { shmid, key },
            size: AtomicU64::new(size),
            max_prot: if readonly { Prot::RX } else { Prot::RWX },
        })
    }

    /// Rebuilds an object received from elsewhere (a respawned fork child gets its descriptor
    /// over a socket): `file` is `None` exactly for SysV objects, which are re-attached by id.
    pub fn restore(
        file: Option<File>,
        kind: ObjectKind,
        size: u64,
        max_prot: Prot,
    ) -> io::Result<Arc<SharedObject>> {
        let handle = match (file, kind) {
            (None, ObjectKind::SysV { .. }) => Handle::SysV,
            (Some(f), ObjectKind::File | ObjectKind::Anonymous) => Handle::Fd(Arc::new(f)),
            _ => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
        };
        let size = match &handle {
            Handle::Fd(f) if kind == ObjectKind::File => f.metadata()?.len(),
            _ => size,
        };
        Ok(Arc::new(SharedObject {
            handle,
            kind,
            size: AtomicU64::new(size),
            max_prot: max_prot & Prot::RWX,
        }))
    }

    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// The host descriptor behind the object (`None` for SysV segments).
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.handle {
            Handle::Fd(f) => Some(f.as_fd()),
            Handle::SysV => None,
        }
    }

    pub(crate) fn file(&self) -> Option<&File> {
        match &self.handle {
            Handle::Fd(f) => Some(f),
            Handle::SysV => None,
        }
    }

    pub fn max_prot(&self) -> Prot {
        self.max_prot
    }

    /// The size in bytes as last seen (see [`SharedObject::current_size`]).
    pub fn cached_size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    /// The size now: files are asked again (and the cache updated), other objects never change
    /// size. A file that cannot be asked keeps its cached size.
    pub fn current_size(&self) -> u64 {
        match (&self.handle, self.kind) {
            (Handle::Fd(f), ObjectKind::File) => match f.metadata() {
                Ok(m) => {
                    self.size.store(m.len(), Ordering::Relaxed);
                    m.len()
                }
                Err(_) => self.cached_size(),
            },
            _ => self.cached_size(),
        }
    }

    /// Whether the page at byte `offset` (page aligned) of the object lies wholly past its end.
    /// With `fresh` the size is always re-read; otherwise only when the cached size says so
    /// (the CPU's TLB-fill path, where a system call per miss would cost too much).
    pub(crate) fn page_past_end(&self, offset: u64, fresh: bool) -> bool {
        let end = |size: u64| page_round_up(size).unwrap_or(u64::MAX);
        if fresh {
            return offset >= end(self.current_size());
        }
        offset >= end(self.cached_size()) && offset >= end(self.current_size())
    }

    /// How many bytes from object offset `offset` the host has pages for: all of a
    /// descriptor's range (the host maps files past their end, and the pages appear when the
    /// file grows), but only the attached segment of a SysV object.
    pub(crate) fn host_mapped(&self, offset: u64, len: u64) -> u64 {
        match self.handle {
            Handle::Fd(_) => len,
            Handle::SysV => {
                let seg = page_round_up(self.cached_size()).unwrap_or(u64::MAX);
                seg.saturating_sub(offset).min(len) / PAGE_SIZE * PAGE_SIZE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_file_object_tracks_size_changes() {
        let f = Arc::new(tempfile::tempfile().unwrap());
        f.set_len(100).unwrap();
        let o = SharedObject::from_file(Arc::clone(&f), true).unwrap();
        assert_eq!((o.kind(), o.cached_size(), o.max_prot()), (ObjectKind::File, 100, Prot::RWX));
        assert!(!o.page_past_end(0, false));
        assert!(o.page_past_end(PAGE_SIZE, false));
        // Grown behind our back: a lookup past the cached end re-reads the size.
        f.set_len(2 * PAGE_SIZE + 1).unwrap();
        assert!(!o.page_past_end(2 * PAGE_SIZE, false));
        assert_eq!(o.cached_size(), 2 * PAGE_SIZE + 1);
        // Shrunk: the cache still says yes until someone asks afresh.
        f.set_len(0).unwrap();
        assert!(!o.page_past_end(0, false));
        assert!(o.page_past_end(0, true));
        assert_eq!(o.cached_size(), 0);
    }

    #[test]
    fn test_anonymous_object_is_a_sized_memfd() {
        let o = SharedObject::anonymous(3 * PAGE_SIZE).unwrap();
        assert_eq!(o.kind(), ObjectKind::Anonymous);
        assert_eq!(o.file().unwrap().metadata().unwrap().len(), 3 * PAGE_SIZE);
        assert!(!o.page_past_end(2 * PAGE_SIZE, true));
        assert!(o.page_past_end(3 * PAGE_SIZE, true));
        assert_eq!(o.host_mapped(PAGE_SIZE, 5 * PAGE_SIZE), 5 * PAGE_SIZE);
    }

    #[test]
    fn test_sysv_object_maps_only_its_segment() {
        let o = SharedObject::sysv(7, 0x162e, PAGE_SIZE + 1, true);
        assert!(o.fd().is_none());
        assert_eq!(o.max_prot(), Prot::RX);
        assert_eq!(o.host_mapped(0, 4 * PAGE_SIZE), 2 * PAGE_SIZE);
        assert_eq!(o.host_mapped(PAGE_SIZE, 4 * PAGE_SIZE), PAGE_SIZE);
        assert_eq!(o.host_mapped(3 * PAGE_SIZE, PAGE_SIZE), 0);
        assert!(!o.page_past_end(PAGE_SIZE, false));
        assert!(o.page_past_end(2 * PAGE_SIZE, false));
    }

    #[test]
    fn test_restore_checks_kind_against_descriptor() {
        let f = tempfile::tempfile().unwrap();
        assert!(SharedObject::restore(None, ObjectKind::File, 0, Prot::RW).is_err());
        let kind = ObjectKind::SysV { shmid: 1, key: 0 };
        assert!(SharedObject::restore(Some(f), kind, 0, Prot::RW).is_err());
        let o = SharedObject::restore(None, kind, 5, Prot::RWX | Prot::SEM).unwrap();
        assert_eq!((o.cached_size(), o.max_prot()), (5, Prot::RWX));
    }
}
