//! The address space: brk, mmap, munmap, mprotect, mremap, madvise, msync, mincore, mlock. The
//! semantics live in `elfvisor_mm`; these handlers decode, resolve descriptors and flush the
//! engine.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use elfvisor_abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_POPULATE, MAP_SHARED, MLOCK_ONFAULT};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};
use elfvisor_mm::{Backing, MmapRequest, VmaFlags, VmaName};

use super::ctx::{Ctx, SysResult};

/// Runs an address-space change, then drops whatever the engine cached for it.
pub(super) fn changing<T>(
    ctx: &mut Ctx<'_>,
    f: impl FnOnce(&mut elfvisor_mm::AddressSpace) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let result = f(&mut ctx.proc.mm.write());
    ctx.proc.flush_mm(ctx.cpu);
    result
}

pub fn brk(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| Ok(mm.brk(GuestAddr(a[0])).0))
}

pub fn mmap(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (addr, len, prot, flags, fd, offset) =
        (a[0], a[1], a[2] as u32, a[3] as u32, a[4] as i32, a[5]);
    if offset % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    // The mapping keeps its own dup of the descriptor: the guest may close its fd at once.
    // The access rules (EACCES for descriptors not open as the mapping needs) are mm's.
    let file = if flags & MAP_ANONYMOUS != 0 {
        None
    } else {
        let entry = ctx.proc.fds().get(i64::from(fd))?.clone();
        let dup: OwnedFd = entry
            .file
            .try_clone()
            .map_err(|e| e.raw_os_error().map_or(Errno::ENFILE, elfvisor_host::errno_from_host))?;
        Some((Arc::new(std::fs::File::from(dup)), offset))
    };
    let name = VmaName::None;
    let req = MmapRequest { addr: GuestAddr(addr), len, prot: Prot(prot), flags, file, name };
    changing(ctx, |mm| mm.mmap(req)).map(|a| a.0)
}

/// `remap_file_pages` (mm/mmap.c): the old call Linux now carries out as an mmap. `prot` must
/// be 0; the range (rounded down to pages, not wrapping, nor its page offset) must start in a
/// shared mapping and may run on only into adjacent mappings of the same object with the same
/// protection and flags; its pages then show the object from page `pgoff` on, with the
/// mapping's protection (`MAP_SHARED|MAP_FIXED|MAP_POPULATE`). SysV segments, which have no
/// descriptor here, are refused with EINVAL.
pub fn remap_file_pages(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (start, size, prot, pgoff) = (a[0], a[1], a[2], a[3]);
    if prot != 0 {
        return Err(Errno::EINVAL);
    }
    let (start, size) = (start & !(PAGE_SIZE - 1), size & !(PAGE_SIZE - 1));
    let end = start.checked_add(size).filter(|&e| e > start).ok_or(Errno::EINVAL)?;
    pgoff.checked_add(size / PAGE_SIZE).ok_or(Errno::EINVAL)?;
    let offset = pgoff.checked_mul(PAGE_SIZE).ok_or(Errno::EINVAL)?;
    let req = {
        let mm = ctx.proc.mm.read();
        let mut vmas = mm.vmas().skip_while(|v| v.end.0 <= start);
        let first = vmas.next().filter(|v| v.start.0 <= start).ok_or(Errno::EINVAL)?;
        let Backing::Shared { object, .. } = &first.backing else { return Err(Errno::EINVAL) };
        let mut reach = first.end.0;
        for next in vmas {
            if reach >= end {
                break;
            }
            let same = matches!(&next.backing, Backing::Shared { object: o, .. } if Arc::ptr_eq(o, object));
            if next.start.0 != reach
                || !same
                || next.prot != first.prot
                || next.flags != first.flags
            {
                return Err(Errno::EINVAL);
            }
            reach = next.end.0;
        }
        if reach < end {
            return Err(Errno::EINVAL);
        }
        let fd = object.fd().ok_or(Errno::EINVAL)?;
        let dup = fd
            .try_clone_to_owned()
            .map_err(|e| e.raw_os_error().map_or(Errno::ENFILE, elfvisor_host::errno_from_host))?;
        MmapRequest {
            addr: GuestAddr(start),
            len: size,
            prot: Prot(first.prot.0 & (Prot::READ.0 | Prot::WRITE.0 | Prot::EXEC.0)),
            flags: MAP_SHARED | MAP_FIXED | MAP_POPULATE,
            file: Some((Arc::new(std::fs::File::from(dup)), offset)),
            name: first.name.clone(),
        }
    };
    changing(ctx, |mm| mm.mmap(req)).map(|_| 0)
}

pub fn munmap(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| mm.munmap(GuestAddr(a[0]), a[1])).map(|()| 0)
}

pub fn mprotect(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| mm.mprotect(GuestAddr(a[0]), a[1], Prot(a[2] as u32))).map(|()| 0)
}

pub fn mremap(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| mm.mremap(GuestAddr(a[0]), a[1], a[2], a[3] as u32, GuestAddr(a[4])))
        .map(|a| a.0)
}

pub fn madvise(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| mm.madvise(GuestAddr(a[0]), a[1], a[2] as u32)).map(|()| 0)
}

pub fn msync(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    ctx.proc.mm.read().msync(GuestAddr(a[0]), a[1], a[2] as u32).map(|()| 0)
}

/// How many pages `mincore` looks at per step: Linux's do_mincore fills one page of the
/// guest's vector at a time, so the host never holds a vector sized by the guest's length.
const MINCORE_CHUNK_PAGES: u64 = 4096;

pub fn mincore(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (start, len, vec) = (a[0], a[1], a[2]);
    let chunk = MINCORE_CHUNK_PAGES * PAGE_SIZE;
    // An unaligned start or a wrapping range: the address space's own checks answer.
    let whole = start % PAGE_SIZE != 0 || start.checked_add(len).is_none() || len <= chunk;
    let mut done = 0;
    loop {
        let step = if whole { len } else { (len - done).min(chunk) };
        let (resident, result) = ctx.proc.mm.read().mincore(GuestAddr(start + done), step);
        // Like Linux, what was found before a hole is copied out before the hole is reported.
        if !resident.is_empty() {
            ctx.copy_out(vec + done / PAGE_SIZE, &resident)?;
        }
        result?;
        done += step;
        if done >= len {
            return Ok(0);
        }
    }
}

/// After the guest changed a file's size (truncate, ftruncate, open with O_TRUNC): pages of
/// shared mappings past the new end fault (SIGBUS) from now on, not only after a TLB miss.
pub(super) fn file_resized(ctx: &mut Ctx<'_>) {
    let _ = changing(ctx, |mm| {
        mm.refresh_object_sizes();
        Ok(())
    });
}

pub fn mlock(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| mm.mlock(GuestAddr(a[0]), a[1], VmaFlags::LOCKED)).map(|()| 0)
}

pub fn munlock(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| mm.mlock(GuestAddr(a[0]), a[1], VmaFlags::NONE)).map(|()| 0)
}

pub fn mlock2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[2] as u32;
    if flags & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    let lock = if flags & MLOCK_ONFAULT != 0 {
        VmaFlags::LOCKED.with(VmaFlags::LOCKONFAULT)
    } else {
        VmaFlags::LOCKED
    };
    changing(ctx, |mm| mm.mlock(GuestAddr(a[0]), a[1], lock)).map(|()| 0)
}

pub fn mlockall(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| mm.mlockall(a[0] as u32)).map(|()| 0)
}

pub fn munlockall(ctx: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| {
        mm.munlockall();
        Ok(0)
    })
}
