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

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};

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

/// A file's size for past-the-end checks: only regular files (memfds included) have an end;
/// devices (`/dev/zero`, ...) are mapped whole.
fn file_size(file: &File) -> io::Result<u64> {
    let m = file.metadata()?;
    Ok(if m.file_type().is_file() { m.len() } else { u64::MAX })
}

impl SharedObject {
    /// A guest file mapped shared. `file` must be open for reading (mmap's `EACCES` rule, which
    /// the caller checks); it may be written through the mapping iff it is open for writing.
    /// A memfd sealed against writes (`F_SEAL_WRITE`, `F_SEAL_FUTURE_WRITE`) may be mapped
    /// shared only read-only, and never made writable.
    pub fn from_file(file: Arc<File>, writable: bool) -> io::Result<Arc<SharedObject>> {
        let size = file_size(&file)?;
        let writable = writable && !arena::write_sealed(&file);
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
    /// `size` is used for SysV and anonymous objects; a file's size is read from the file.
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
            Handle::Fd(f) if kind == ObjectKind::File => file_size(f)?,
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
            (Handle::Fd(f), ObjectKind::File) => match file_size(f) {
                Ok(size) => {
                    self.size.store(size, Ordering::Relaxed);
                    size
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

/// The sizes of the files behind private file mappings, for the TLB-fill path (the checked
/// copies ask the file every time). Keyed by the `Arc<File>` the VMAs share; the `Weak` keeps
/// a dead entry's allocation, so a key can never name a different file.
#[derive(Debug, Default)]
pub(crate) struct FileSizes {
    map: RwLock<HashMap<usize, (Weak<File>, u64)>>,
}

impl FileSizes {
    fn cached(&self, file: &Arc<File>) -> Option<u64> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let (weak, size) = map.get(&(Arc::as_ptr(file) as usize))?;
        (Weak::as_ptr(weak) == Arc::as_ptr(file)).then_some(*size)
    }

    /// Reads `file`'s size now and caches it; returns (cached before, now).
    pub(crate) fn refresh(&self, file: &Arc<File>) -> (Option<u64>, u64) {
        let before = self.cached(file);
        let Ok(now) = file_size(file) else { return (before, before.unwrap_or(0)) };
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() > 64 {
            map.retain(|_, (weak, _)| weak.strong_count() > 0);
        }
        map.insert(Arc::as_ptr(file) as usize, (Arc::downgrade(file), now));
        (before, now)
    }

    /// Whether the page at byte `offset` (page aligned) of `file` lies wholly past its end,
    /// asking the file only when the cached size says so (or on first sight).
    pub(crate) fn page_past_end(&self, file: &Arc<File>, offset: u64) -> bool {
        let end = |size: u64| page_round_up(size).unwrap_or(u64::MAX);
        if self.cached(file).is_some_and(|size| offset < end(size)) {
            return false;
        }
        offset >= end(self.refresh(file).1)
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
    fn test_devices_have_no_end() {
        let zero = Arc::new(File::open("/dev/zero").unwrap());
        let o = SharedObject::from_file(Arc::clone(&zero), false).unwrap();
        assert!(!o.page_past_end(1 << 40, true));
        assert!(!FileSizes::default().page_past_end(&zero, 1 << 40));
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
    fn test_write_sealed_memfd_is_never_writable() {
        let f = Arc::new(arena::memfd(c"sealed", PAGE_SIZE).unwrap());
        assert_eq!(SharedObject::from_file(Arc::clone(&f), true).unwrap().max_prot(), Prot::RWX);
        // memfds made by `arena::memfd` do not allow sealing: use the host call directly.
        // SAFETY: NUL-terminated name, valid flags.
        let fd = unsafe { libc::memfd_create(c"s".as_ptr(), libc::MFD_ALLOW_SEALING) };
        assert!(fd >= 0);
        // SAFETY: the descriptor was just created and is owned here only.
        let f = Arc::new(unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) });
        // SAFETY: F_ADD_SEALS takes an integer.
        assert_eq!(unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_WRITE) }, 0);
        assert_eq!(SharedObject::from_file(f, true).unwrap().max_prot(), Prot::RX);
    }

    #[test]
    fn test_file_sizes_cache_rereads_past_the_cached_end() {
        let f = Arc::new(tempfile::tempfile().unwrap());
        f.set_len(10).unwrap();
        let sizes = FileSizes::default();
        assert!(!sizes.page_past_end(&f, 0));
        assert!(sizes.page_past_end(&f, PAGE_SIZE));
        f.set_len(PAGE_SIZE + 1).unwrap();
        assert!(!sizes.page_past_end(&f, PAGE_SIZE));
        f.set_len(0).unwrap();
        assert!(!sizes.page_past_end(&f, 0), "cached until refreshed");
        assert_eq!(sizes.refresh(&f), (Some(PAGE_SIZE + 1), 0));
        assert!(sizes.page_past_end(&f, 0));
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
