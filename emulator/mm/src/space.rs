//! `AddressSpace`: the VMA set, the arena that mirrors it, and mmap/munmap/mprotect.
//!
//! Every public mutation validates its arguments completely before it changes anything (except
//! where Linux itself changes part of a range and then fails, as `mprotect` does at a hole), then
//! updates the host arena and the VMA set together, records invalidations, and in debug builds
//! checks the invariants.

use std::fmt;
use std::fs::File;
use std::sync::Arc;

use elfvisor_abi::addr::page_round_up;
use elfvisor_abi::mman::{
    LEGACY_MAP_MASK, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_HUGE_BITS,
    MAP_HUGETLB, MAP_LOCKED, MAP_NONBLOCK, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED,
    MAP_SHARED_VALIDATE, MAP_TYPE,
};
use elfvisor_abi::{Errno, GuestAddr, Prot};

use crate::access::effective;
use crate::arena::{self, Arena};
use crate::heap::Brk;
use crate::layout::{GUEST_TASK_SIZE, Layout, MIN_ARENA_SIZE};
use crate::limits::VmLimits;
use crate::lock::LockLimit;
use crate::object::{FileSizes, SharedObject};
use crate::vma::{Backing, Vma, VmaFlags, VmaName, VmaSet};
use crate::{Invalidation, MmError};
use elfvisor_host::errno_from_io;

/// Protection bits a guest may ask for: `PROT_READ|WRITE|EXEC|SEM` and aarch64's `BTI`/`MTE`.
pub(crate) const PROT_VALID: u32 = Prot::RWX.0 | Prot::SEM.0 | Prot::BTI.0 | Prot::MTE.0;

/// The arguments of one `mmap` call, with the fd already resolved by the syscall layer.
#[derive(Debug, Clone)]
pub struct MmapRequest {
    /// The hint, or the exact address with `MAP_FIXED`/`MAP_FIXED_NOREPLACE`.
    pub addr: GuestAddr,
    pub len: u64,
    pub prot: Prot,
    /// Guest `MAP_*` flags.
    pub flags: u32,
    /// A dup of the guest's fd and the byte offset, for mappings without `MAP_ANONYMOUS`. The
    /// syscall layer checks the offset's alignment itself for anonymous mappings (Linux rejects
    /// an unaligned offset even there).
    pub file: Option<(Arc<File>, u64)>,
    pub name: VmaName,
}

/// One guest process's address space. `Send + Sync`: the kernel shares it between the threads
/// of a guest process behind a lock.
pub struct AddressSpace {
    pub(crate) arena: Arena,
    pub(crate) vmas: VmaSet,
    pub(crate) layout: Layout,
    pub(crate) brk: Option<Brk>,
    /// Where the program's arguments and environment strings lie, and its auxiliary vector
    /// (Linux's `mm->arg_start`…`env_end` and `saved_auxv`), for `/proc/<pid>/cmdline`,
    /// `environ` and `auxv`.
    startup: Startup,
    /// Flags every new mapping gets (`VM_LOCKED` after `mlockall(MCL_FUTURE)`).
    pub(crate) def_flags: VmaFlags,
    /// Sizes of the files behind private file mappings, for the TLB-fill path.
    pub(crate) file_sizes: FileSizes,
    /// How much memory the process may lock, asked whenever a lock is to be taken.
    pub(crate) lock_limit: fn() -> LockLimit,
    /// The guest's RLIMIT_AS, RLIMIT_DATA and RLIMIT_STACK (`limits.rs`).
    pub(crate) limits: VmLimits,
    /// Linux's `end_data - start_data` of the program, which `brk` counts against
    /// RLIMIT_DATA beside the heap.
    pub(crate) data_size: u64,
    invalidations: Vec<Invalidation>,
}

impl fmt::Debug for AddressSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressSpace")
            .field("arena_size", &format_args!("{:#x}", self.arena.size()))
            .field("vmas", &self.vmas.len())
            .field("brk", &self.brk)
            .finish_non_exhaustive()
    }
}

/// The backing of a file mapping, with `do_mmap`'s checks in its order: `MAP_SHARED_VALIDATE`
/// with flags the file does not support, a shared writable mapping of a descriptor not open for
/// writing, any mapping of one not open for reading, `MAP_GROWSDOWN`.
fn file_backing(file: &Arc<File>, offset: u64, flags: u32, prot: Prot) -> Result<Backing, Errno> {
    let (readable, writable) = arena::access_mode(file).map_err(|e| errno_from_io(&e))?;
    let shared = flags & MAP_TYPE != MAP_PRIVATE;
    if shared {
        // Plain MAP_SHARED ignores unknown flags; MAP_SHARED_VALIDATE refuses them. No file here
        // supports MAP_SYNC (DAX only). The huge page size bits are ignored.
        let unknown = flags & !(LEGACY_MAP_MASK | MAP_HUGE_BITS);
        if flags & MAP_TYPE == MAP_SHARED_VALIDATE && unknown != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if prot.contains(Prot::WRITE) && !writable {
            return Err(Errno::EACCES);
        }
    }
    if !readable {
        return Err(Errno::EACCES);
    }
    if flags & MAP_GROWSDOWN != 0 {
        return Err(Errno::EINVAL);
    }
    if !shared {
        return Ok(Backing::File { file: Arc::clone(file), offset });
    }
    let object =
        SharedObject::from_file(Arc::clone(file), writable).map_err(|e| errno_from_io(&e))?;
    Ok(Backing::Shared { object, offset })
}

/// The most a VMA may be given (`VM_MAYREAD|VM_MAYWRITE|VM_MAYEXEC`): anything for private
/// memory (writes stay private), what the object allows for shared mappings.
pub(crate) fn may_prot(v: &Vma) -> Prot {
    match &v.backing {
        Backing::Shared { object, .. } => object.max_prot(),
        _ => Prot::RWX,
    }
}

/// Rejects protection bits Linux does not know for aarch64.
pub(crate) fn check_prot(prot: Prot) -> Result<(), Errno> {
    if prot.0 & !PROT_VALID != 0 { Err(Errno::EINVAL) } else { Ok(()) }
}

/// The program's start as `/proc` shows it: the guest ranges holding the argument and the
/// environment strings, and the auxiliary vector's pairs (up to and including AT_NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Startup {
    pub args: (GuestAddr, GuestAddr),
    pub env: (GuestAddr, GuestAddr),
    pub auxv: Vec<(u64, u64)>,
    /// The initial stack pointer (at argc).
    pub stack: GuestAddr,
}

impl AddressSpace {
    /// Reserves an arena of `arena_size` bytes (a page multiple, at least `MIN_ARENA_SIZE`).
    pub fn new(arena_size: u64) -> Result<AddressSpace, MmError> {
        let host_page = arena::host_page_size();
        if host_page != elfvisor_abi::PAGE_SIZE {
            return Err(MmError::HostPageSize(host_page));
        }
        if !GuestAddr(arena_size).is_page_aligned()
            || !(MIN_ARENA_SIZE..=GUEST_TASK_SIZE).contains(&arena_size)
        {
            return Err(MmError::ArenaSize(arena_size));
        }
        let arena = Arena::new(arena_size)
            .map_err(|source| MmError::Reserve { size: arena_size, source })?;
        Ok(AddressSpace {
            arena,
            vmas: VmaSet::default(),
            layout: Layout::for_arena(arena_size),
            brk: None,
            startup: Startup::default(),
            def_flags: VmaFlags::NONE,
            file_sizes: FileSizes::default(),
            lock_limit: || LockLimit::Unlimited,
            limits: VmLimits::default(),
            data_size: 0,
            invalidations: Vec::new(),
        })
    }

    /// Whether this address space has had a writable shared mapping (`MAP_SHARED` files,
    /// shared anonymous memory, POSIX and SysV shm, memfd; made writable by `mmap`, `mprotect`
    /// or `mremap`, or inherited across fork) at any time since it was made: memory another
    /// process may write at the same time, so the engine must keep guest atomics on it
    /// parallel-safe. It stays true after the mapping goes (a process never switches back).
    pub fn has_writable_shared(&self) -> bool {
        self.vmas.has_writable_shared()
    }

    /// Host address of guest address 0. Guest `g` lives at `arena_base() + g`.
    pub fn arena_base(&self) -> *mut u8 {
        self.arena.base()
    }

    pub fn arena_size(&self) -> u64 {
        self.arena.size()
    }

    /// What the loader recorded of the program's start (see [`Startup`]).
    pub fn startup(&self) -> &Startup {
        &self.startup
    }

    /// Records it (the loader, and a respawned child rebuilding its parent's).
    pub fn set_startup(&mut self, startup: Startup) {
        self.startup = startup;
    }

    /// Where the stack, the mmap area and the heap reserve are.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Takes Linux's randomized layout ([`Layout::randomized`]) for a process without
    /// `ADDR_NO_RANDOMIZE`, before anything is mapped (at exec, or in a respawned child that
    /// rebuilds its parent's). EINVAL once something is mapped.
    pub fn randomize_layout(&mut self) -> Result<(), Errno> {
        if self.vmas.iter().next().is_some() {
            return Err(Errno::EINVAL);
        }
        self.layout = self.layout.randomized(self.arena.size());
        Ok(())
    }

    /// Whether the layout is the randomized one.
    pub fn layout_randomized(&self) -> bool {
        self.layout != Layout::for_arena(self.arena.size())
    }

    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.iter()
    }

    /// Sorted, non-overlapping, page-aligned, non-empty VMAs inside the arena with page-aligned
    /// file offsets, and a consistent break.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.vmas.check(self.arena.size())?;
        if let Some(b) = self.brk {
            b.check(self.arena.size())?;
        }
        Ok(())
    }

    /// The ranges the CPU engine must drop from its TLBs (and translation cache where
    /// `was_exec`) since the last call.
    pub fn take_invalidations(&mut self) -> Vec<Invalidation> {
        std::mem::take(&mut self.invalidations)
    }

    /// Linux `mmap`. Private mappings are host private mappings in the arena; shared ones map
    /// a [`SharedObject`](crate::SharedObject) `MAP_SHARED` (the guest's file, or a fresh memfd
    /// for `MAP_SHARED|MAP_ANONYMOUS`).
    pub fn mmap(&mut self, req: MmapRequest) -> Result<GuestAddr, Errno> {
        let anonymous = req.flags & MAP_ANONYMOUS != 0;
        let file = if anonymous { None } else { req.file.as_ref() };
        if let Some((_, off)) = file {
            // arm64 sys_mmap: the offset must be page aligned.
            if !GuestAddr(*off).is_page_aligned() {
                return Err(Errno::EINVAL);
            }
        }
        if req.flags & MAP_HUGETLB != 0 {
            // ksys_mmap_pgoff: a plain file cannot be hugetlb; anonymous hugetlb finds no pool.
            return Err(if anonymous { Errno::ENOMEM } else { Errno::EINVAL });
        }
        if req.len == 0 {
            return Err(Errno::EINVAL);
        }
        // do_mmap ignores protection bits it does not know (only mprotect's arch_validate_prot
        // rejects them): the VMA keeps the known ones.
        let prot = Prot(req.prot.0 & PROT_VALID);
        let len = page_round_up(req.len).filter(|&l| l != 0).ok_or(Errno::ENOMEM)?;
        if let Some((_, off)) = file {
            if off.checked_add(len).is_none() {
                return Err(Errno::EOVERFLOW);
            }
        }
        let fixed = req.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        let start =
            if fixed { self.fixed_range(req.addr, len)? } else { self.pick(req.addr, len)? };
        let end = GuestAddr(start.0 + len);
        if req.flags & MAP_FIXED_NOREPLACE != 0 && !self.vmas.is_free(start, end) {
            return Err(Errno::EEXIST);
        }
        let flags = if req.flags & MAP_LOCKED != 0 {
            self.def_flags.with(VmaFlags::LOCKED)
        } else {
            self.def_flags
        };
        // do_mmap: MAP_LOCKED needs can_do_mlock, and no locked mapping may pass the limit.
        if req.flags & MAP_LOCKED != 0 && !(self.lock_limit)().may_lock() {
            return Err(Errno::EPERM);
        }
        if !self.may_lock_more(flags, len) {
            return Err(Errno::EAGAIN);
        }
        let shared = match req.flags & MAP_TYPE {
            MAP_PRIVATE => false,
            MAP_SHARED | MAP_SHARED_VALIDATE => true,
            _ => return Err(Errno::EINVAL),
        };
        let grows_down = req.flags & MAP_GROWSDOWN != 0;
        let backing = match (anonymous, file) {
            (true, _) if shared => self.shared_anonymous(req.flags, len)?,
            (true, _) => Backing::Anonymous,
            (false, Some((f, off))) => file_backing(f, *off, req.flags, prot)?,
            (false, None) => return Err(Errno::EBADF),
        };
        let vma = Vma { start, end, prot, shared, grows_down, flags, backing, name: req.name };
        // mmap_region: the new pages (less those a fixed mapping replaces) must fit the limits.
        if !self.may_map(&vma) {
            return Err(Errno::ENOMEM);
        }
        if fixed {
            self.unmap_range(start, end);
        }
        let result = self.place(vma).map(|()| start);
        // do_mmap: MAP_POPULATE (without MAP_NONBLOCK) and locked mappings are faulted in.
        let populate = req.flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE
            || flags.contains(VmaFlags::LOCKED);
        if result.is_ok() && populate {
            self.populate(start, end);
        }
        self.debug_check();
        result
    }

    /// Faults `[start, end)` in like Linux's `populate_vma_page_range`: private writable memory
    /// for writing (breaking copy-on-write), everything else accessible for reading, and
    /// nothing past an object's end.
    pub(crate) fn populate(&self, start: GuestAddr, end: GuestAddr) {
        for v in self.vmas.overlapping(start, end) {
            let prot = effective(v.prot);
            if prot.access() == Prot::NONE {
                continue;
            }
            let piece = v.slice(start, end);
            let len = match &piece.backing {
                Backing::Shared { object, offset } => object.host_mapped(*offset, piece.len()),
                _ => piece.len(),
            };
            if len > 0 {
                let write = prot.contains(Prot::WRITE) && !v.shared;
                self.arena.populate(piece.start.0, len, write);
            }
        }
    }

    /// Validates a `MAP_FIXED` range, in Linux's order: out of range, unaligned, below
    /// `mmap_min_addr` (EPERM for an unprivileged process).
    pub(crate) fn fixed_range(&self, addr: GuestAddr, len: u64) -> Result<GuestAddr, Errno> {
        if addr.checked_add(len).is_none_or(|end| end.0 > self.arena.size()) {
            return Err(Errno::ENOMEM);
        }
        if !addr.is_page_aligned() {
            return Err(Errno::EINVAL);
        }
        if addr < self.layout.mmap_min {
            return Err(Errno::EPERM);
        }
        Ok(addr)
    }

    /// Chooses where a non-fixed mapping goes: the hint (rounded down to a page, raised to
    /// `mmap_min`) if that range is free, else the highest free range in the mmap area.
    pub(crate) fn pick(&self, hint: GuestAddr, len: u64) -> Result<GuestAddr, Errno> {
        if len > self.arena.size() - self.layout.mmap_min.0 {
            return Err(Errno::ENOMEM);
        }
        let hint = match hint.page_down() {
            GuestAddr(0) => None,
            h => Some(h.max(self.layout.mmap_min)),
        };
        if let Some(h) = hint {
            if let Some(end) = h.checked_add(len).filter(|e| e.0 <= self.arena.size()) {
                if self.vmas.is_free(h, end) {
                    return Ok(h);
                }
            }
        }
        self.layout.find_free(&self.vmas, len, self.heap_reserve()).ok_or(Errno::ENOMEM)
    }

    /// Linux `munmap`: unmapping pages that are not mapped is not an error.
    pub fn munmap(&mut self, addr: GuestAddr, len: u64) -> Result<(), Errno> {
        if !addr.is_page_aligned() || addr.0 > GUEST_TASK_SIZE || len > GUEST_TASK_SIZE - addr.0 {
            return Err(Errno::EINVAL);
        }
        let len = page_round_up(len).filter(|&l| l != 0).ok_or(Errno::EINVAL)?;
        let end = GuestAddr((addr.0 + len).min(self.arena.size()));
        if addr < end {
            self.unmap_range(addr, end);
        }
        self.debug_check();
        Ok(())
    }

    /// Linux `mprotect`, including `PROT_GROWSDOWN` (extends the range down to the start of a
    /// `MAP_GROWSDOWN` VMA). Like Linux, VMAs before a hole keep their new protection when the
    /// hole makes the call fail with `ENOMEM`.
    pub fn mprotect(&mut self, addr: GuestAddr, len: u64, prot: Prot) -> Result<(), Errno> {
        let grows = prot & (Prot::GROWSDOWN | Prot::GROWSUP);
        let prot = Prot(prot.0 & !grows.0);
        if grows == (Prot::GROWSDOWN | Prot::GROWSUP) || !addr.is_page_aligned() {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let end = page_round_up(len)
            .and_then(|l| addr.checked_add(l))
            .filter(|&e| e > addr)
            .ok_or(Errno::ENOMEM)?;
        check_prot(prot)?;
        let first =
            self.vmas.first_ending_after(addr).filter(|v| v.start < end).ok_or(Errno::ENOMEM)?;
        let start = if grows == Prot::GROWSDOWN {
            if !first.grows_down {
                return Err(Errno::EINVAL);
            }
            first.start
        } else if first.start > addr {
            return Err(Errno::ENOMEM);
        } else if grows == Prot::GROWSUP {
            // No aarch64 VMA grows up.
            return Err(Errno::EINVAL);
        } else {
            addr
        };
        // Linux stops at the first VMA that may not get `prot` (a shared mapping of a read-only
        // descriptor cannot become writable): EACCES, after changing the VMAs before it.
        let forbidden = self
            .vmas
            .overlapping(start, end)
            .find(|v| !may_prot(v).contains(prot.access()))
            .map(|v| v.start.max(start));
        let limit = forbidden.unwrap_or(end);
        let mut lowered = Vec::new();
        let mut shared = Vec::new();
        let reached = if limit > start {
            self.vmas.update_range(start, limit, |v| {
                let old = v.prot;
                let lost = !prot.contains(old.access());
                if lost || (old.contains(Prot::EXEC) && old != prot) {
                    lowered.push((v.start, v.end, old.contains(Prot::EXEC)));
                }
                v.prot = prot;
                if let Backing::Shared { object, offset } = &v.backing {
                    shared.push((v.start, v.len(), Arc::clone(object), *offset));
                }
            })
        } else {
            start
        };
        for (s, e, x) in lowered {
            self.record(s, e, x);
        }
        // Shared host pages carry the guest's protection (the host object allows no more).
        for (s, len, object, offset) in shared {
            let host_len = object.host_mapped(offset, len);
            if host_len > 0 {
                let r = self.arena.protect_shared(s.0, host_len, prot);
                debug_assert!(r.is_ok(), "host mprotect of shared {s}+{host_len:#x}: {r:?}");
            }
        }
        self.debug_check();
        if forbidden.is_some_and(|f| reached == f) {
            Err(Errno::EACCES)
        } else if reached < end {
            Err(Errno::ENOMEM)
        } else {
            Ok(())
        }
    }

    /// Removes `[start, end)` from the VMA set and gives its host pages back to the reservation.
    pub(crate) fn unmap_range(&mut self, start: GuestAddr, end: GuestAddr) {
        let removed = self.vmas.remove_range(start, end);
        let mut pending: Option<(GuestAddr, GuestAddr)> = None;
        for v in &removed {
            self.record(v.start, v.end, v.prot.contains(Prot::EXEC));
            pending = match pending {
                Some((s, e)) if e == v.start => Some((s, v.end)),
                Some((s, e)) => {
                    self.release(s, e);
                    Some((v.start, v.end))
                }
                None => Some((v.start, v.end)),
            };
        }
        if let Some((s, e)) = pending {
            self.release(s, e);
        }
    }

    /// Returns host pages to the reservation. A failure (the host ran out of mapping slots)
    /// leaves them mapped on the host, but no VMA grants them, so the guest cannot reach them.
    pub(crate) fn release(&self, start: GuestAddr, end: GuestAddr) {
        let r = self.arena.release(start.0, end.0 - start.0);
        debug_assert!(r.is_ok(), "releasing {start}..{end} failed: {r:?}");
    }

    /// Maps `vma`'s host pages from its backing and inserts it; its range must be free.
    pub(crate) fn place(&mut self, vma: Vma) -> Result<(), Errno> {
        if let Err(e) = self.host_map(&vma) {
            self.release(vma.start, vma.end);
            return Err(e);
        }
        self.vmas.insert(vma);
        Ok(())
    }

    /// Maps `vma`'s range on the host from its backing, replacing whatever the host had there.
    pub(crate) fn host_map(&self, vma: &Vma) -> Result<(), Errno> {
        let (off, len) = (vma.start.0, vma.len());
        let r = match &vma.backing {
            Backing::Anonymous => {
                self.arena.map_anon_accounted(off, len, vma.prot.contains(Prot::WRITE))
            }
            Backing::File { file, offset } => self.arena.map_file(off, len, file, *offset),
            Backing::Shared { object, offset } => {
                return self.map_object_pages(vma.start, len, object, *offset, vma.prot);
            }
        };
        r.map_err(|e| errno_from_io(&e))
    }

    /// Notes that cached translations for `[start, end)` are stale.
    pub(crate) fn record(&mut self, start: GuestAddr, end: GuestAddr, was_exec: bool) {
        if let Some(last) = self.invalidations.last_mut() {
            // Touching or overlapping the previous record: widen it instead.
            if start <= last.end && end >= last.start {
                last.start = last.start.min(start);
                last.end = last.end.max(end);
                last.was_exec |= was_exec;
                return;
            }
        }
        self.invalidations.push(Invalidation { start, end, was_exec });
    }

    /// In debug builds, panics if a mutation broke an invariant.
    pub(crate) fn debug_check(&self) {
        if cfg!(debug_assertions) {
            if let Err(msg) = self.check_invariants() {
                panic!("address space invariant broken: {msg}");
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use elfvisor_abi::PAGE_SIZE;
    use elfvisor_abi::mman::{MAP_NORESERVE, MAP_POPULATE, MAP_STACK};

    pub(crate) const ARENA: u64 = 1 << 32;
    pub(crate) const P: u64 = PAGE_SIZE;

    pub(crate) fn space() -> AddressSpace {
        AddressSpace::new(ARENA).unwrap()
    }

    pub(crate) fn anon(addr: u64, len: u64, prot: Prot, flags: u32) -> MmapRequest {
        MmapRequest {
            addr: GuestAddr(addr),
            len,
            prot,
            flags: MAP_PRIVATE | MAP_ANONYMOUS | flags,
            file: None,
            name: VmaName::None,
        }
    }

    /// Maps `len` RW bytes at `addr` with MAP_FIXED and checks the result.
    pub(crate) fn map_fixed(s: &mut AddressSpace, addr: u64, len: u64, prot: Prot) {
        assert_eq!(s.mmap(anon(addr, len, prot, MAP_FIXED)), Ok(GuestAddr(addr)));
        s.check_invariants().unwrap();
    }

    pub(crate) fn ranges(s: &AddressSpace) -> Vec<(u64, u64, Prot)> {
        s.vmas().map(|v| (v.start.0, v.end.0, v.prot)).collect()
    }

    #[test]
    fn test_new_rejects_bad_sizes() {
        assert!(matches!(AddressSpace::new(ARENA + 1), Err(MmError::ArenaSize(_))));
        assert!(matches!(AddressSpace::new(P), Err(MmError::ArenaSize(_))));
        let s = space();
        assert_eq!(s.arena_size(), ARENA);
        assert!(!s.arena_base().is_null());
        assert_eq!(s.vmas().count(), 0);
    }

    #[test]
    fn test_mmap_argument_errors() {
        let mut s = space();
        assert_eq!(s.mmap(anon(0, 0, Prot::RW, 0)), Err(Errno::EINVAL));
        assert_eq!(s.mmap(anon(0, u64::MAX, Prot::RW, 0)), Err(Errno::ENOMEM));
        assert_eq!(s.mmap(anon(0, ARENA, Prot::RW, 0)), Err(Errno::ENOMEM));
        assert_eq!(s.mmap(anon(0x10_0800, P, Prot::RW, MAP_FIXED)), Err(Errno::EINVAL));
        assert_eq!(s.mmap(anon(ARENA - P, 2 * P, Prot::RW, MAP_FIXED)), Err(Errno::ENOMEM));
        assert_eq!(s.mmap(anon(0x1000, P, Prot::RW, MAP_FIXED)), Err(Errno::EPERM));
        assert_eq!(s.mmap(anon(0, P, Prot::RW, MAP_HUGETLB)), Err(Errno::ENOMEM));
        let mut req = anon(0, P, Prot::RW, 0);
        req.flags = MAP_ANONYMOUS;
        assert_eq!(s.mmap(req.clone()), Err(Errno::EINVAL));
        req.flags = MAP_ANONYMOUS | 0xf;
        assert_eq!(s.mmap(req.clone()), Err(Errno::EINVAL));
        req.flags = MAP_PRIVATE;
        assert_eq!(s.mmap(req), Err(Errno::EBADF));
        assert_eq!(s.vmas().count(), 0);
        assert_eq!(s.take_invalidations(), vec![]);
    }

    #[test]
    fn test_mmap_ignores_unknown_prot_bits() {
        let mut s = space();
        let a = s.mmap(anon(0, P, Prot(0x40 | Prot::READ.0), 0)).unwrap();
        assert_eq!(s.vmas().next().unwrap().prot, Prot::READ);
        // mprotect is stricter (arch_validate_prot).
        assert_eq!(s.mprotect(a, P, Prot(0x40)), Err(Errno::EINVAL));
    }

    #[test]
    fn test_mmap_is_top_down_and_rounds_len() {
        let mut s = space();
        let top = s.layout().mmap_top.0;
        let a = s.mmap(anon(0, 1, Prot::RW, MAP_NORESERVE | MAP_POPULATE)).unwrap();
        assert_eq!(a, GuestAddr(top - P));
        let b = s.mmap(anon(0, P + 1, Prot::READ, MAP_STACK)).unwrap();
        assert_eq!(b, GuestAddr(top - 3 * P));
        assert_eq!(ranges(&s), vec![(top - 3 * P, top - P, Prot::READ), (top - P, top, Prot::RW)]);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mmap_hint_used_when_free() {
        let mut s = space();
        assert_eq!(s.mmap(anon(0x20_0123, P, Prot::RW, 0)), Ok(GuestAddr(0x20_0000)));
        // Taken: falls back to the top-down search.
        let top = s.layout().mmap_top.0;
        assert_eq!(s.mmap(anon(0x20_0000, P, Prot::RW, 0)), Ok(GuestAddr(top - P)));
        // Below mmap_min: raised to it.
        assert_eq!(s.mmap(anon(0x1000, P, Prot::RW, 0)), Ok(GuestAddr(0x1_0000)));
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mmap_fixed_replaces_and_records_invalidation() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 4 * P, Prot::RX);
        s.copy_out(GuestAddr(0x40_0000), b"x").unwrap_err();
        s.take_invalidations();
        map_fixed(&mut s, 0x40_1000, P, Prot::RW);
        assert_eq!(
            ranges(&s),
            vec![
                (0x40_0000, 0x40_1000, Prot::RX),
                (0x40_1000, 0x40_2000, Prot::RW),
                (0x40_2000, 0x40_4000, Prot::RX)
            ]
        );
        assert_eq!(
            s.take_invalidations(),
            vec![Invalidation {
                start: GuestAddr(0x40_1000),
                end: GuestAddr(0x40_2000),
                was_exec: true
            }]
        );
        assert_eq!(s.take_invalidations(), vec![]);
    }

    #[test]
    fn test_mmap_fixed_noreplace() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        assert_eq!(
            s.mmap(anon(0x40_1000, 2 * P, Prot::RW, MAP_FIXED_NOREPLACE)),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            s.mmap(anon(0x40_2000, P, Prot::READ, MAP_FIXED_NOREPLACE)),
            Ok(GuestAddr(0x40_2000))
        );
        assert_eq!(s.mmap(anon(0x40_3001, P, Prot::READ, MAP_FIXED_NOREPLACE)), Err(Errno::EINVAL));
        assert_eq!(s.vmas().count(), 2);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mmap_fixed_data_replaced_by_zero() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        s.copy_out(GuestAddr(0x40_0010), b"old").unwrap();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        let mut b = [9u8; 3];
        s.copy_in(GuestAddr(0x40_0010), &mut b).unwrap();
        assert_eq!(b, [0, 0, 0]);
    }

    #[test]
    fn test_mmap_growsdown_is_recorded() {
        let mut s = space();
        let a = s.mmap(anon(0, 4 * P, Prot::RW, MAP_GROWSDOWN)).unwrap();
        assert!(s.vmas().next().unwrap().grows_down);
        // mprotect(PROT_GROWSDOWN) extends down to the VMA start.
        assert_eq!(s.mprotect(GuestAddr(a.0 + 2 * P), P, Prot::READ | Prot::GROWSDOWN), Ok(()));
        assert_eq!(
            ranges(&s),
            vec![(a.0, a.0 + 3 * P, Prot::READ), (a.0 + 3 * P, a.0 + 4 * P, Prot::RW)]
        );
    }

    #[test]
    fn test_munmap_errors_and_holes() {
        let mut s = space();
        assert_eq!(s.munmap(GuestAddr(0x40_0001), P), Err(Errno::EINVAL));
        assert_eq!(s.munmap(GuestAddr(0x40_0000), 0), Err(Errno::EINVAL));
        assert_eq!(s.munmap(GuestAddr(0x40_0000), u64::MAX), Err(Errno::EINVAL));
        assert_eq!(s.munmap(GuestAddr(0x40_0000), 16 * P), Ok(()));
        // Above the arena but below the guest TASK_SIZE: nothing mapped there, so fine.
        assert_eq!(s.munmap(GuestAddr(1 << 40), P), Ok(()));
        assert_eq!(s.take_invalidations(), vec![]);
    }

    #[test]
    fn test_munmap_splits_and_invalidates() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 4 * P, Prot::RW);
        map_fixed(&mut s, 0x40_4000, 2 * P, Prot::RX);
        s.take_invalidations();
        s.munmap(GuestAddr(0x40_1000), 4 * P).unwrap();
        assert_eq!(
            ranges(&s),
            vec![(0x40_0000, 0x40_1000, Prot::RW), (0x40_5000, 0x40_6000, Prot::RX)]
        );
        assert_eq!(
            s.take_invalidations(),
            vec![Invalidation {
                start: GuestAddr(0x40_1000),
                end: GuestAddr(0x40_5000),
                was_exec: true
            }]
        );
        assert_eq!(s.prot_at(GuestAddr(0x40_1000)), None);
        assert_eq!(s.prot_at(GuestAddr(0x40_0fff)), Some(Prot::RW));
        // Remapping the hole reads zero.
        map_fixed(&mut s, 0x40_1000, P, Prot::RW);
        let mut b = [1u8];
        s.copy_in(GuestAddr(0x40_1000), &mut b).unwrap();
        assert_eq!(b, [0]);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_mprotect_errors() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        assert_eq!(s.mprotect(GuestAddr(0x40_0001), P, Prot::READ), Err(Errno::EINVAL));
        assert_eq!(s.mprotect(GuestAddr(0x40_0000), P, Prot(0x40)), Err(Errno::EINVAL));
        assert_eq!(
            s.mprotect(GuestAddr(0x40_0000), P, Prot::READ | Prot::GROWSDOWN | Prot::GROWSUP),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            s.mprotect(GuestAddr(0x40_0000), P, Prot::READ | Prot::GROWSDOWN),
            Err(Errno::EINVAL)
        );
        assert_eq!(s.mprotect(GuestAddr(0x40_0000), 0, Prot::READ), Ok(()));
        assert_eq!(s.mprotect(GuestAddr(0x50_0000), P, Prot::READ), Err(Errno::ENOMEM));
        assert_eq!(s.mprotect(GuestAddr(0x3f_f000), 2 * P, Prot::READ), Err(Errno::ENOMEM));
        assert_eq!(s.mprotect(GuestAddr(0x40_0000), u64::MAX, Prot::READ), Err(Errno::ENOMEM));
        assert_eq!(ranges(&s), vec![(0x40_0000, 0x40_2000, Prot::RW)]);
    }

    #[test]
    fn test_mprotect_changes_vmas_before_a_hole() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        map_fixed(&mut s, 0x40_3000, P, Prot::RW);
        s.take_invalidations();
        assert_eq!(s.mprotect(GuestAddr(0x40_1000), 3 * P, Prot::READ), Err(Errno::ENOMEM));
        assert_eq!(
            ranges(&s),
            vec![
                (0x40_0000, 0x40_1000, Prot::RW),
                (0x40_1000, 0x40_2000, Prot::READ),
                (0x40_3000, 0x40_4000, Prot::RW)
            ]
        );
        assert_eq!(
            s.take_invalidations(),
            vec![Invalidation {
                start: GuestAddr(0x40_1000),
                end: GuestAddr(0x40_2000),
                was_exec: false
            }]
        );
    }

    #[test]
    fn test_mprotect_raise_records_nothing_and_merges() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 3 * P, Prot::READ);
        s.take_invalidations();
        s.mprotect(GuestAddr(0x40_1000), P, Prot::RW).unwrap();
        assert_eq!(s.vmas().count(), 3);
        assert_eq!(s.take_invalidations(), vec![]);
        s.mprotect(GuestAddr(0x40_1000), P, Prot::READ).unwrap();
        assert_eq!(ranges(&s), vec![(0x40_0000, 0x40_3000, Prot::READ)]);
        assert_eq!(s.take_invalidations().len(), 1);
        s.mprotect(GuestAddr(0x40_0000), 3 * P, Prot::RX).unwrap();
        s.mprotect(GuestAddr(0x40_0000), P, Prot::RX | Prot::BTI).unwrap();
        assert_eq!(
            s.take_invalidations(),
            vec![Invalidation {
                start: GuestAddr(0x40_0000),
                end: GuestAddr(0x40_1000),
                was_exec: true
            }]
        );
        s.check_invariants().unwrap();
    }

    /// A temp file of `pages` pages, page `i` filled with byte `b'a' + i`.
    fn paged_file(pages: u64) -> Arc<File> {
        use std::io::Write;
        let mut f = tempfile::tempfile().unwrap();
        for i in 0..pages {
            f.write_all(&[b'a' + i as u8; P as usize]).unwrap();
        }
        Arc::new(f)
    }

    fn file_req(
        addr: u64,
        len: u64,
        prot: Prot,
        file: &Arc<File>,
        off: u64,
        flags: u32,
    ) -> MmapRequest {
        MmapRequest {
            addr: GuestAddr(addr),
            len,
            prot,
            flags: MAP_PRIVATE | flags,
            file: Some((Arc::clone(file), off)),
            name: VmaName::Path("/data".into()),
        }
    }

    fn byte_at(s: &AddressSpace, addr: u64) -> u8 {
        let mut b = [0u8];
        s.copy_in(GuestAddr(addr), &mut b).unwrap();
        b[0]
    }

    #[test]
    fn test_file_mapping_errors() {
        let f = paged_file(2);
        let mut s = space();
        assert_eq!(s.mmap(file_req(0, P, Prot::READ, &f, 100, 0)), Err(Errno::EINVAL));
        assert_eq!(s.mmap(file_req(0, P, Prot::READ, &f, 0, MAP_HUGETLB)), Err(Errno::EINVAL));
        assert_eq!(s.mmap(file_req(0, P, Prot::READ, &f, !(P - 1), 0)), Err(Errno::EOVERFLOW));
        assert_eq!(s.mmap(file_req(0, P, Prot::READ, &f, 0, MAP_GROWSDOWN)), Err(Errno::EINVAL));
        // A directory cannot be mapped: the host's ENODEV reaches the guest.
        let dir = Arc::new(File::open(std::env::temp_dir()).unwrap());
        assert_eq!(s.mmap(file_req(0, P, Prot::READ, &dir, 0, 0)), Err(Errno::ENODEV));
        assert_eq!(s.vmas().count(), 0);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_file_mapping_contents_and_private_writes() {
        use std::os::unix::fs::FileExt;
        let f = paged_file(3);
        let mut s = space();
        let a = s.mmap(file_req(0, 2 * P, Prot::RW, &f, P, 0)).unwrap();
        assert_eq!(byte_at(&s, a.0), b'b');
        assert_eq!(byte_at(&s, a.0 + P), b'c');
        s.copy_out(a, b"private").unwrap();
        let mut disk = [0u8; 7];
        f.read_exact_at(&mut disk, P).unwrap();
        assert_eq!(&disk, b"bbbbbbb");
        // Pages not yet written keep following the file; written ones do not.
        f.write_all_at(b"XY", P).unwrap();
        f.write_all_at(b"Z", 2 * P).unwrap();
        assert_eq!(byte_at(&s, a.0), b'p');
        assert_eq!(byte_at(&s, a.0 + P), b'Z');
        assert!(
            matches!(s.vmas().next().unwrap().backing, Backing::File { offset, .. } if offset == P)
        );
        assert_eq!(s.vmas().next().unwrap().name, VmaName::Path("/data".into()));
    }

    #[test]
    fn test_read_only_fd_maps_copy_on_write() {
        let f = paged_file(1);
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&*f));
        let ro = Arc::new(File::open(path).unwrap());
        let mut s = space();
        let a = s.mmap(file_req(0, P, Prot::READ, &ro, 0, 0)).unwrap();
        s.mprotect(a, P, Prot::RW).unwrap();
        s.copy_out(a, b"w").unwrap();
        assert_eq!(byte_at(&s, a.0), b'w');
        assert_eq!(byte_at(&s, a.0 + 1), b'a');
    }

    #[test]
    fn test_file_mapping_splits_keep_offsets() {
        let f = paged_file(4);
        let mut s = space();
        assert_eq!(
            s.mmap(file_req(0x40_0000, 4 * P, Prot::READ, &f, 0, MAP_FIXED)),
            Ok(GuestAddr(0x40_0000))
        );
        s.munmap(GuestAddr(0x40_1000), P).unwrap();
        s.mprotect(GuestAddr(0x40_3000), P, Prot::RW).unwrap();
        let offsets: Vec<(u64, u64)> = s
            .vmas()
            .map(|v| match &v.backing {
                Backing::File { offset, .. } => (v.start.0, *offset),
                other => panic!("not a private file VMA: {other:?}"),
            })
            .collect();
        assert_eq!(offsets, vec![(0x40_0000, 0), (0x40_2000, 2 * P), (0x40_3000, 3 * P)]);
        assert_eq!(byte_at(&s, 0x40_2000), b'c');
        assert_eq!(byte_at(&s, 0x40_3000), b'd');
        // Restoring the protection merges the pieces again, offsets being contiguous.
        s.mprotect(GuestAddr(0x40_3000), P, Prot::READ).unwrap();
        assert_eq!(
            ranges(&s),
            vec![(0x40_0000, 0x40_1000, Prot::READ), (0x40_2000, 0x40_4000, Prot::READ)]
        );
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_file_mremap_grow_keeps_reading_file() {
        let f = paged_file(4);
        let mut s = space();
        s.mmap(file_req(0x40_0000, P, Prot::READ, &f, P, MAP_FIXED)).unwrap();
        map_fixed(&mut s, 0x40_1000, P, Prot::READ);
        let to = s
            .mremap(
                GuestAddr(0x40_0000),
                P,
                3 * P,
                elfvisor_abi::mman::MREMAP_MAYMOVE,
                GuestAddr(0),
            )
            .unwrap();
        assert_ne!(to, GuestAddr(0x40_0000));
        assert_eq!(byte_at(&s, to.0), b'b');
        assert_eq!(byte_at(&s, to.0 + P), b'c');
        assert_eq!(byte_at(&s, to.0 + 2 * P), b'd');
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_file_kept_alive_by_vmas() {
        let f = paged_file(1);
        let weak = Arc::downgrade(&f);
        let mut s = space();
        let a = s.mmap(file_req(0, P, Prot::READ, &f, 0, 0)).unwrap();
        drop(f);
        assert!(weak.upgrade().is_some());
        assert_eq!(byte_at(&s, a.0), b'a');
        s.munmap(a, P).unwrap();
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn test_address_space_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<AddressSpace>();
    }
}
