//! The host reservation that holds one guest address space, and the only host mapping code.
//!
//! Guest address `g` lives at host address `base + g`. The whole reservation is mapped
//! `PROT_NONE|MAP_NORESERVE` from creation to drop, so no other host code can ever be handed an
//! address inside it: ranges the guest gives back are *released* (re-reserved with `MAP_FIXED`),
//! never `munmap`ed. Callers pass guest offsets; every function checks them against the size, so a
//! bad offset is an error (or a panic for a programming error), never a stray host access.
//!
//! Private mappings are always host read/write: guest permissions are enforced by the CPU engine's
//! TLB hook and by the checked copies in `access.rs`, both of which consult the VMA set. Shared
//! mappings carry the host protection that follows the guest's ([`shared_host_prot`]): the host
//! object may not allow more (a read-only descriptor maps only `PROT_READ`).

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex, MutexGuard};

use elfvisor_abi::mman::{MS_ASYNC, MS_INVALIDATE, MS_SYNC};
use elfvisor_abi::{PAGE_SIZE, Prot};

use crate::layers::{Frozen, Layer, LayerMap};

/// `/proc/self/pagemap` entry bits (Documentation/admin-guide/mm/pagemap.rst).
#[cfg(target_os = "linux")]
const PM_PRESENT: u64 = 1 << 63;
#[cfg(target_os = "linux")]
const PM_SWAPPED: u64 = 1 << 62;
#[cfg(target_os = "linux")]
const PM_FILE_OR_SHARED: u64 = 1 << 61;
#[cfg(target_os = "linux")]
const PM_EXCLUSIVE: u64 = 1 << 56;

/// Inaccessible host memory reserved right below and right above every arena, never mapped: a
/// host access that runs off either end of the guest's space (an emulator bug, or an engine
/// access straddling the last page) faults there instead of reaching another host mapping.
/// Virtual only: `PROT_NONE|MAP_NORESERVE` costs no memory.
pub(crate) const GUARD: u64 = 1 << 20;

/// One host reservation, `size` bytes at `base`, between two [`GUARD`] zones.
#[derive(Debug)]
pub(crate) struct Arena {
    base: NonNull<u8>,
    size: u64,
    /// Host ranges mapped from frozen objects (see `layers.rs`); every mapping call keeps it
    /// exact.
    layers: Mutex<LayerMap>,
}

// SAFETY: `Arena` owns its reservation exclusively (it is unmapped only in `drop`) and holds no
// thread-affine state: the raw pointer is just the reservation's address. Host mapping calls are
// thread-safe system calls, and the byte copies below go through raw pointers into memory that
// guest threads may also touch concurrently — exactly as the guest's own vCPUs do. Mutating the
// mappings needs `&mut AddressSpace`, so Rust's aliasing rules serialise layout changes.
unsafe impl Send for Arena {}
// SAFETY: see `Send` above: shared references only read `base`/`size` or copy bytes through raw
// pointers; nothing is cached that another thread could invalidate.
unsafe impl Sync for Arena {}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// The host's page size in bytes.
pub(crate) fn host_page_size() -> u64 {
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is always supported.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).unwrap_or(0)
}

/// Host protection of a shared mapping whose guest protection is `prot`: readable whenever the
/// guest may read or execute (the CPU engine fetches instructions through host reads), writable
/// when the guest may write. Private mappings are always host RW instead.
pub(crate) fn shared_host_prot(prot: Prot) -> libc::c_int {
    let mut host = libc::PROT_NONE;
    if prot.0 & Prot::RWX.0 != 0 {
        host |= libc::PROT_READ;
    }
    if prot.contains(Prot::WRITE) {
        host |= libc::PROT_WRITE;
    }
    host
}

/// Opens this process's `/proc/self/pagemap`. A process that is not dumpable (the guest's
/// `PR_SET_DUMPABLE` 0, or credentials it changed with the emulator's) has its `/proc/self`
/// files owned by root (`task_dump_owner`), so the open fails for any other user although the
/// reads themselves are allowed to the process's own thread group (`proc_mem_open`); the
/// process is made dumpable for the open alone.
#[cfg(target_os = "linux")]
fn open_page_map() -> io::Result<File> {
    const PATH: &str = "/proc/self/pagemap";
    match File::open(PATH) {
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
            // SAFETY: PR_GET_DUMPABLE takes no argument and only reads the process's flag.
            if unsafe { libc::prctl(libc::PR_GET_DUMPABLE) } != 0 {
                return Err(e);
            }
            // SAFETY: PR_SET_DUMPABLE with 1, then back to 0, changes only the flag.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1 as libc::c_ulong) };
            let map = File::open(PATH);
            // SAFETY: as above.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong) };
            map
        }
        other => other,
    }
}

/// A new host memfd of `size` bytes (close-on-exec), for shared anonymous memory.
pub(crate) fn memfd(name: &CStr, size: u64) -> io::Result<File> {
    // SAFETY: `name` is NUL-terminated; the flags are valid.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(last_error());
    }
    // SAFETY: memfd_create just returned this descriptor; nothing else owns it.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.set_len(size)?;
    Ok(file)
}

/// Whether `file` is a memfd sealed against writes through new shared mappings.
pub(crate) fn write_sealed(file: &File) -> bool {
    // SAFETY: F_GET_SEALS takes no argument; files that cannot be sealed return EINVAL.
    let seals = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) };
    seals > 0 && seals & (libc::F_SEAL_WRITE | libc::F_SEAL_FUTURE_WRITE) != 0
}

/// Whether `file` is open for reading and for writing (its `O_ACCMODE`).
pub(crate) fn access_mode(file: &File) -> io::Result<(bool, bool)> {
    // SAFETY: F_GETFL takes no argument and only reads the descriptor's status flags.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(last_error());
    }
    Ok(match flags & libc::O_ACCMODE {
        libc::O_RDONLY => (true, false),
        libc::O_WRONLY => (false, true),
        libc::O_RDWR => (true, true),
        _ => (false, false), // O_PATH descriptors and the like.
    })
}

impl Arena {
    /// Reserves `size` bytes (a multiple of `PAGE_SIZE`) of inaccessible, unbacked host memory,
    /// with a [`GUARD`] zone on each side.
    pub(crate) fn new(size: u64) -> io::Result<Arena> {
        let len = size
            .checked_add(2 * GUARD)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address overlaps nothing we own;
        // the arguments are valid constants and a length checked to fit `usize`.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_error());
        }
        // SAFETY: `GUARD < len`, so the arena starts inside the reservation just made.
        let start = unsafe { p.cast::<u8>().add(GUARD as usize) };
        let base = NonNull::new(start).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(Arena { base, size, layers: Mutex::default() })
    }

    fn layer_map(&self) -> MutexGuard<'_, LayerMap> {
        self.layers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The frozen layers overlapping `[off, off + len)`, clipped to it.
    pub(crate) fn layers(&self, off: u64, len: u64) -> Vec<Layer> {
        self.layer_map().pieces(off, off + len)
    }

    /// Every frozen layer of the arena.
    pub(crate) fn all_layers(&self) -> Vec<Layer> {
        self.layer_map().all().cloned().collect()
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Host address of guest range `[off, off + len)`. A range that is empty, not page aligned
    /// or not inside the arena is `EINVAL`: callers validate guest input first, but a wrong
    /// range must never take the emulator down.
    fn host_pages(&self, off: u64, len: u64) -> io::Result<(*mut libc::c_void, usize)> {
        if off % PAGE_SIZE != 0
            || len % PAGE_SIZE != 0
            || len == 0
            || off.checked_add(len).is_none_or(|end| end > self.size)
        {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // Both fit in usize: they are bounded by `size`, which fit when the arena was created.
        let (off, len) = (off as usize, len as usize);
        // SAFETY: `off + len <= size`, so the result stays inside the reservation.
        Ok((unsafe { self.base.as_ptr().add(off) }.cast(), len))
    }

    /// `mmap(MAP_FIXED | flags)` over `[off, off + len)` of the reservation.
    fn map_fixed(
        &self,
        off: u64,
        len: u64,
        prot: libc::c_int,
        flags: libc::c_int,
        fd: libc::c_int,
        file_off: u64,
    ) -> io::Result<()> {
        let (addr, len) = self.host_pages(off, len)?;
        let file_off = libc::off_t::try_from(file_off)
            .map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))?;
        // SAFETY: `MAP_FIXED` replaces only pages inside our own reservation (checked by
        // `host_pages`); no Rust reference points into guest memory. A file's fd is open for the
        // duration of the call (callers pass a borrowed `File`).
        let p = unsafe { libc::mmap(addr, len, prot, flags | libc::MAP_FIXED, fd, file_off) };
        // Whatever the outcome, what was there is gone or unknown: no layer survives it.
        self.layer_map().clear(off, off + len as u64);
        if p == libc::MAP_FAILED { Err(last_error()) } else { Ok(()) }
    }

    /// Replaces `[off, off + len)` with a private copy-on-write view of frozen `object` from
    /// byte `offset`, recorded as a layer: guest-anonymous memory with a frozen past.
    pub(crate) fn map_frozen(
        &self,
        off: u64,
        len: u64,
        object: &Arc<Frozen>,
        offset: u64,
    ) -> io::Result<()> {
        self.map_file(off, len, object.file(), offset)?;
        self.layer_map().insert(off, off + len, Arc::clone(object), offset);
        Ok(())
    }

    /// The host's page-map entries for `[off, off + len)`, one per page (`/proc/self/pagemap`).
    #[cfg(target_os = "linux")]
    fn page_map(&self, off: u64, len: u64) -> io::Result<Vec<u64>> {
        use std::os::unix::fs::FileExt;
        if len == 0 {
            return Ok(Vec::new());
        }
        let (addr, n) = self.host_pages(off, len)?;
        let pages = n / PAGE_SIZE as usize;
        let map = open_page_map()?;
        let mut raw = vec![0u8; pages * 8];
        map.read_exact_at(&mut raw, (addr as u64 / PAGE_SIZE) * 8)?;
        Ok(raw
            .chunks_exact(8)
            .map(|e| u64::from_le_bytes(e.try_into().expect("chunks of 8 bytes")))
            .collect())
    }

    /// Which pages of `[off, off + len)` hold private anonymous data on the host: present or
    /// swapped, and not a file or shared page (`/proc/self/pagemap`). A private file page the
    /// process wrote is such a page; one it only read is not.
    #[cfg(target_os = "linux")]
    pub(crate) fn written_pages(&self, off: u64, len: u64) -> io::Result<Vec<bool>> {
        Ok(self
            .page_map(off, len)?
            .into_iter()
            .map(|v| v & (PM_PRESENT | PM_SWAPPED) != 0 && v & PM_FILE_OR_SHARED == 0)
            .collect())
    }

    /// Without a page map every page counts as written (a snapshot then copies them all).
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn written_pages(&self, _off: u64, len: u64) -> io::Result<Vec<bool>> {
        Ok(vec![true; (len / PAGE_SIZE) as usize])
    }

    /// Which pages of `[off, off + len)` hold private anonymous data mapped by this process
    /// alone (present, not a file or shared page, `PM_MMAP_EXCLUSIVE`): after a host fork, the
    /// pages written since; in a process built from frozen objects, the pages written since
    /// they were mapped. Swapped-out pages do not say whether they are shared and count as not.
    #[cfg(target_os = "linux")]
    pub(crate) fn own_pages(&self, off: u64, len: u64) -> io::Result<Vec<bool>> {
        Ok(self
            .page_map(off, len)?
            .into_iter()
            .map(|v| {
                v & (PM_PRESENT | PM_FILE_OR_SHARED | PM_EXCLUSIVE) == PM_PRESENT | PM_EXCLUSIVE
            })
            .collect())
    }

    /// Without a page map every page counts as the process's own.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn own_pages(&self, _off: u64, len: u64) -> io::Result<Vec<bool>> {
        Ok(vec![true; (len / PAGE_SIZE) as usize])
    }

    /// Whether `[off, off + len)` holds a page this process wrote and still maps alone: an
    /// anonymous page (present, not a file or shared page, `PM_MMAP_EXCLUSIVE`) or a swapped
    /// one. A page only read is the shared zero page, which is neither. Read in pieces, so a
    /// huge mapping costs no huge buffer.
    #[cfg(target_os = "linux")]
    pub(crate) fn holds_written_page(&self, off: u64, len: u64) -> io::Result<bool> {
        const PIECE: u64 = 16 * 1024 * PAGE_SIZE;
        let mut at = off;
        while at < off + len {
            let n = PIECE.min(off + len - at);
            let written = self.page_map(at, n)?.into_iter().any(|v| {
                v & PM_SWAPPED != 0
                    || v & (PM_PRESENT | PM_FILE_OR_SHARED | PM_EXCLUSIVE)
                        == PM_PRESENT | PM_EXCLUSIVE
            });
            if written {
                return Ok(true);
            }
            at += n;
        }
        Ok(false)
    }

    /// Without a page map any mapping may have been written.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn holds_written_page(&self, _off: u64, _len: u64) -> io::Result<bool> {
        Ok(true)
    }

    /// Replaces `[off, off + len)` with fresh zero-filled private anonymous pages, host RW.
    pub(crate) fn map_anon(&self, off: u64, len: u64) -> io::Result<()> {
        self.map_anon_accounted(off, len, true)
    }

    /// [`Arena::map_anon`], charged to the host's commit accounting only when `accounted`.
    /// Linux charges a private mapping only when it is writable (`accountable_mapping`), so a
    /// guest may reserve far more inaccessible or read-only space than the host has memory
    /// (language runtimes reserve their heaps so); the host pages are writable either way,
    /// so such a range is mapped `MAP_NORESERVE`.
    pub(crate) fn map_anon_accounted(&self, off: u64, len: u64, accounted: bool) -> io::Result<()> {
        let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        if !accounted {
            flags |= libc::MAP_NORESERVE;
        }
        self.map_fixed(off, len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0)
    }

    /// Replaces `[off, off + len)` with a private copy-on-write view of `file` from byte
    /// `file_off` (page aligned). Host RW even for read-only fds: writes stay private.
    pub(crate) fn map_file(
        &self,
        off: u64,
        len: u64,
        file: &File,
        file_off: u64,
    ) -> io::Result<()> {
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        self.map_fixed(off, len, rw, libc::MAP_PRIVATE, file.as_raw_fd(), file_off)
    }

    /// Replaces `[off, off + len)` with a shared view of `file` from byte `file_off` (page
    /// aligned), with the host protection that follows guest protection `prot`
    /// ([`shared_host_prot`]). Pages past the end of the file are mapped too: the host faults
    /// on them until the file grows, and the caller never grants them before that.
    pub(crate) fn map_shared(
        &self,
        off: u64,
        len: u64,
        file: &File,
        file_off: u64,
        prot: Prot,
    ) -> io::Result<()> {
        let fd = file.as_raw_fd();
        self.map_fixed(off, len, shared_host_prot(prot), libc::MAP_SHARED, fd, file_off)
    }

    /// Attaches host SysV segment `shmid` at `off`, replacing whatever the host had there
    /// (`SHM_REMAP`); it covers the segment's size rounded up to pages.
    pub(crate) fn attach_sysv(
        &self,
        off: u64,
        len: u64,
        shmid: i32,
        readonly: bool,
    ) -> io::Result<()> {
        let (addr, _) = self.host_pages(off, len)?;
        let flags = libc::SHM_REMAP | if readonly { libc::SHM_RDONLY } else { 0 };
        // SAFETY: `SHM_REMAP` at an address inside our reservation (checked by `host_pages`,
        // for the `len` the caller computed from the segment's size) replaces only our own pages.
        let p = unsafe { libc::shmat(shmid, addr, flags) };
        self.layer_map().clear(off, off + len);
        if p as isize == -1 {
            return Err(last_error());
        }
        if p != addr {
            // Cannot happen with SHM_REMAP at a page-aligned address; do not keep a stray attach.
            // SAFETY: `p` is the attach the host just made; nothing else refers to it.
            unsafe { libc::shmdt(p) };
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(())
    }

    /// Sets the host protection of shared pages to follow guest protection `prot`.
    pub(crate) fn protect_shared(&self, off: u64, len: u64, prot: Prot) -> io::Result<()> {
        let (addr, len) = self.host_pages(off, len)?;
        // SAFETY: the range is inside our reservation; mprotect changes access, not layout.
        let r = unsafe { libc::mprotect(addr, len, shared_host_prot(prot)) };
        if r == 0 { Ok(()) } else { Err(last_error()) }
    }

    /// Writes shared file pages back: host `msync` with guest `MS_*` flags translated.
    pub(crate) fn sync(&self, off: u64, len: u64, guest_flags: u32) -> io::Result<()> {
        let (addr, len) = self.host_pages(off, len)?;
        let mut flags = 0;
        if guest_flags & MS_ASYNC != 0 {
            flags |= libc::MS_ASYNC;
        }
        if guest_flags & MS_SYNC != 0 {
            flags |= libc::MS_SYNC;
        }
        if guest_flags & MS_INVALIDATE != 0 {
            flags |= libc::MS_INVALIDATE;
        }
        // SAFETY: the range is inside our reservation; msync only writes pages back.
        let r = unsafe { libc::msync(addr, len, flags) };
        if r == 0 { Ok(()) } else { Err(last_error()) }
    }

    /// Frees the object's storage behind shared writable pages (`MADV_REMOVE`): they read as
    /// zero afterwards, in every view of the object.
    pub(crate) fn punch(&self, off: u64, len: u64) -> io::Result<()> {
        let (addr, len) = self.host_pages(off, len)?;
        // SAFETY: the range is inside our reservation; MADV_REMOVE changes contents, not layout.
        let r = unsafe { libc::madvise(addr, len, libc::MADV_REMOVE) };
        if r == 0 { Ok(()) } else { Err(last_error()) }
    }

    /// Faults `[off, off + len)` in (`MAP_POPULATE`, `MAP_LOCKED`): for writing to break
    /// copy-on-write, or for reading. Best effort, as on Linux: errors are ignored.
    pub(crate) fn populate(&self, off: u64, len: u64, write: bool) {
        let Ok((addr, len)) = self.host_pages(off, len) else { return };
        let advice = if write { libc::MADV_POPULATE_WRITE } else { libc::MADV_POPULATE_READ };
        // SAFETY: the range is inside our reservation; populating changes no contents.
        unsafe { libc::madvise(addr, len, advice) };
    }

    /// Makes the host provide the pages of `[off, off + len)` for a read or a write, as a fault
    /// there would: `false` only when the host says an access would raise `SIGBUS` (a file
    /// system that cannot allocate the page: a full tmpfs, `shmem_fault` → `VM_FAULT_SIGBUS`).
    /// Any other answer (an old host without `MADV_POPULATE_*`, an interrupted call) is `true`:
    /// the access then happens as before.
    pub(crate) fn provide(&self, off: u64, len: u64, write: bool) -> bool {
        let Ok((addr, len)) = self.host_pages(off, len) else { return true };
        let advice = if write { libc::MADV_POPULATE_WRITE } else { libc::MADV_POPULATE_READ };
        // SAFETY: the range is inside our reservation; populating changes no contents.
        let r = unsafe { libc::madvise(addr, len, advice) };
        r == 0 || last_error().raw_os_error() != Some(libc::EFAULT)
    }

    /// Which pages of `[off, off + len)` are resident (one byte per page, bit 0).
    pub(crate) fn residency(&self, off: u64, len: u64) -> io::Result<Vec<u8>> {
        let (addr, n) = self.host_pages(off, len)?;
        let mut vec = vec![0u8; n / PAGE_SIZE as usize];
        // SAFETY: the range is inside our reservation, and `vec` has one byte per page of it.
        let r = unsafe { libc::mincore(addr, n, vec.as_mut_ptr()) };
        if r == 0 { Ok(vec) } else { Err(last_error()) }
    }

    /// Gives `[off, off + len)` back to the reservation: inaccessible and unbacked again.
    pub(crate) fn release(&self, off: u64, len: u64) -> io::Result<()> {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        self.map_fixed(off, len, libc::PROT_NONE, flags, -1, 0)
    }

    /// Drops the contents of private pages: anonymous pages read as zero again, private file
    /// pages re-read the file. Frozen layers are anonymous memory to the guest: they become
    /// fresh zero pages, not the object's bytes again.
    pub(crate) fn discard(&self, off: u64, len: u64) -> io::Result<()> {
        for layer in self.layers(off, len) {
            self.map_anon(layer.start, layer.end - layer.start)?;
        }
        let (addr, len) = self.host_pages(off, len)?;
        // SAFETY: the range is inside our reservation; MADV_DONTNEED changes contents, not layout.
        let r = unsafe { libc::madvise(addr, len, libc::MADV_DONTNEED) };
        if r == 0 { Ok(()) } else { Err(last_error()) }
    }

    /// Moves the host pages of `[from, from + len)` to `[to, to + len)` (which must not overlap),
    /// keeping their contents and backing, and leaves `from` released. `Err` means nothing moved
    /// (EFAULT: the range spans several host mappings; the caller splits it or copies).
    #[cfg(target_os = "linux")]
    pub(crate) fn move_pages(&self, from: u64, to: u64, len: u64) -> io::Result<()> {
        let (old, n) = self.host_pages(from, len)?;
        let (new, _) = self.host_pages(to, len)?;
        // MREMAP_DONTUNMAP (Linux 5.7 anonymous, 5.13 any private mapping) leaves the source
        // mapped, so the reservation never has a hole another host thread's mmap could land in.
        for extra in [libc::MREMAP_DONTUNMAP, 0] {
            // SAFETY: both ranges lie inside our reservation and do not overlap (callers move
            // into free guest space); MREMAP_FIXED replaces only our own reserved pages.
            let p = unsafe {
                libc::mremap(old, n, n, libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | extra, new)
            };
            if p != libc::MAP_FAILED {
                self.layer_map().shift(from, to, len);
                // Without DONTUNMAP the source is now a hole: re-reserve it at once. With it,
                // the source holds fresh pages we do not want either.
                return self.release(from, len);
            }
            let err = last_error();
            if extra == 0 || err.raw_os_error() != Some(libc::EINVAL) {
                return Err(err);
            }
        }
        unreachable!("the loop returns on its last iteration")
    }

    /// Non-Linux hosts have no `mremap`: the caller falls back to map + copy + release.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn move_pages(&self, _from: u64, _to: u64, _len: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    /// Copies `buf.len()` bytes from guest offset `off`. Panics outside the arena; the caller
    /// has checked that the host can access the range: VMAs that grant the access (`copy_in`,
    /// `copy_out`), or private VMAs, which are host RW whatever the guest protection
    /// (`read_private_pages`, `write_private_pages`), and no page past the end of a file.
    pub(crate) fn read(&self, off: u64, buf: &mut [u8]) {
        let src = self.host_bytes(off, buf.len());
        // SAFETY: `host_bytes` checked `[off, off + len)` lies inside the reservation, and the
        // caller checked it is mapped with host access (see above). `ptr::copy` tolerates `buf`
        // itself pointing into guest memory. Concurrent guest writes may tear the copy, as on
        // Linux.
        unsafe { ptr::copy(src, buf.as_mut_ptr(), buf.len()) }
    }

    /// Copies `data` to guest offset `off`. Same contract as `read`.
    pub(crate) fn write(&self, off: u64, data: &[u8]) {
        let dst = self.host_bytes(off, data.len());
        // SAFETY: as in `read`: inside the reservation and mapped with host write access (a VMA
        // granting the guest write, or a private VMA).
        unsafe { ptr::copy(data.as_ptr(), dst, data.len()) }
    }

    /// Copies `len` bytes from guest offset `from` to `to` (page-aligned, non-overlapping,
    /// both mapped on the host): the fallback for `move_pages`.
    pub(crate) fn copy_pages(&self, from: u64, to: u64, len: u64) -> io::Result<()> {
        let (src, n) = self.host_pages(from, len)?;
        let (dst, _) = self.host_pages(to, len)?;
        // SAFETY: both ranges are inside the reservation (checked by `host_pages`) and the
        // caller has mapped both host RW; `ptr::copy` is correct even if they overlapped.
        unsafe { ptr::copy(src.cast::<u8>(), dst.cast::<u8>(), n) };
        Ok(())
    }

    /// Host pointer to guest byte range `[off, off + len)`; panics outside the arena.
    pub(crate) fn host_bytes(&self, off: u64, len: usize) -> *mut u8 {
        assert!(
            off.checked_add(len as u64).is_some_and(|end| end <= self.size),
            "arena access {off:#x}+{len:#x} outside {:#x}",
            self.size
        );
        // SAFETY: `off + len <= size`, so the pointer stays inside (or one past) the reservation;
        // `off` fits usize because `size` did.
        unsafe { self.base.as_ptr().add(off as usize) }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the reservation (the arena and its two guard zones) is ours and unmapped
        // exactly once, here. Guest memory is only reachable through `&self`/`&mut self` and
        // pointers whose validity ends with the `AddressSpace` (documented on `host_range`).
        let r = unsafe {
            libc::munmap(
                self.base.as_ptr().sub(GUARD as usize).cast(),
                (self.size + 2 * GUARD) as usize,
            )
        };
        debug_assert_eq!(r, 0, "munmap of the arena failed: {}", last_error());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SIZE: u64 = 1 << 24;

    /// The host mapping holding host address `at`, as its `/proc/self/maps` line's (start, end,
    /// permissions).
    fn host_mapping(at: usize) -> Option<(usize, usize, String)> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines().find_map(|line| {
            let mut fields = line.split_whitespace();
            let (range, perms) = (fields.next()?, fields.next()?);
            let (lo, hi) = range.split_once('-')?;
            let (lo, hi) =
                (usize::from_str_radix(lo, 16).ok()?, usize::from_str_radix(hi, 16).ok()?);
            (lo <= at && at < hi).then(|| (lo, hi, perms.to_string()))
        })
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn test_guard_zones_stay_inaccessible_around_the_arena() {
        let a = Arena::new(SIZE).unwrap();
        a.map_anon(0, PAGE_SIZE).unwrap();
        a.map_anon(SIZE - PAGE_SIZE, PAGE_SIZE).unwrap();
        let base = a.base() as usize;
        let (guard, size) = (GUARD as usize, SIZE as usize);
        let guards = [base - guard, base - 1, base + size, base + size + guard - 1];
        for at in guards {
            let (_, _, perms) = host_mapping(at).expect("the guard zone is reserved");
            assert_eq!(perms, "---p", "host address {at:#x}");
        }
        assert_eq!(host_mapping(base).unwrap().2, "rw-p");
        // Releasing the whole arena leaves the guard zones as they were.
        a.release(0, SIZE).unwrap();
        for at in guards {
            assert_eq!(host_mapping(at).unwrap().2, "---p", "host address {at:#x}");
        }
    }

    #[test]
    fn test_anon_pages_are_zero_and_writable() {
        let a = Arena::new(SIZE).unwrap();
        a.map_anon(0x10_000, 2 * PAGE_SIZE).unwrap();
        let mut buf = [0xffu8; 8];
        a.read(0x10_ff8, &mut buf);
        assert_eq!(buf, [0; 8]);
        a.write(0x10_ffc, b"abcdefgh");
        a.read(0x10_ffc, &mut buf);
        assert_eq!(&buf, b"abcdefgh");
    }

    #[test]
    fn test_discard_zeroes_anon_pages() {
        let a = Arena::new(SIZE).unwrap();
        a.map_anon(0, PAGE_SIZE).unwrap();
        a.write(100, b"x");
        a.discard(0, PAGE_SIZE).unwrap();
        let mut b = [1u8];
        a.read(100, &mut b);
        assert_eq!(b, [0]);
    }

    #[test]
    fn test_move_keeps_contents() {
        let a = Arena::new(SIZE).unwrap();
        a.map_anon(0x1000, 2 * PAGE_SIZE).unwrap();
        a.write(0x1000, b"first");
        a.write(0x2000, b"second");
        let r = a.move_pages(0x1000, 0x8000, 2 * PAGE_SIZE);
        if cfg!(target_os = "linux") {
            r.unwrap();
            let mut b = [0u8; 6];
            a.read(0x9000, &mut b);
            assert_eq!(&b, b"second");
        } else {
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::Unsupported);
        }
    }

    #[test]
    fn test_private_file_pages_are_copy_on_write() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[7u8; 4096]).unwrap();
        let a = Arena::new(SIZE).unwrap();
        a.map_file(0x4000, PAGE_SIZE, &f, 0).unwrap();
        let mut b = [0u8; 2];
        a.read(0x4000, &mut b);
        assert_eq!(b, [7, 7]);
        a.write(0x4000, &[1]);
        a.read(0x4000, &mut b);
        assert_eq!(b, [1, 7]);
    }

    #[test]
    fn test_a_bad_range_is_einval() {
        let a = Arena::new(SIZE).unwrap();
        for (off, len) in [(1, PAGE_SIZE), (0, 1), (SIZE, PAGE_SIZE), (u64::MAX - 4095, PAGE_SIZE)]
        {
            assert_eq!(a.map_anon(off, len).unwrap_err().raw_os_error(), Some(libc::EINVAL));
        }
        assert_eq!(a.copy_pages(0, 1, PAGE_SIZE).unwrap_err().raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn test_access_outside_arena_panics() {
        let a = Arena::new(SIZE).unwrap();
        a.host_bytes(SIZE - 1, 2);
    }
}
