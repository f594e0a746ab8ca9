//! The address space: brk, mmap, munmap, mprotect, mremap, madvise, msync, mlock. The semantics
//! live in `elfvisor_mm`; these handlers decode, resolve descriptors and flush the engine.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use elfvisor_abi::fcntl as g;
use elfvisor_abi::mman::{MAP_ANONYMOUS, MAP_SHARED, MAP_TYPE};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};
use elfvisor_mm::{MmapRequest, VmaName};

use super::{Ctx, SysResult};
use crate::host;

/// Runs an address-space change, then drops whatever the engine cached for it.
fn changing<T>(
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
    let file = if flags & MAP_ANONYMOUS != 0 {
        None
    } else {
        let entry = ctx.proc.fds.get(i64::from(fd))?;
        let host_flags = host::fcntl_int(entry.raw(), libc::F_GETFL, 0)? as i32;
        let access = host::open_flags_from_host(host_flags) & g::O_ACCMODE;
        // mmap(2): EACCES for a descriptor not open for reading, or a shared writable
        // mapping of one not open for writing.
        let shared = flags & MAP_TYPE == MAP_SHARED
            || flags & MAP_TYPE == elfvisor_abi::mman::MAP_SHARED_VALIDATE;
        if access == g::O_WRONLY || (shared && prot & Prot::WRITE.0 != 0 && access == g::O_RDONLY) {
            return Err(Errno::EACCES);
        }
        let dup: OwnedFd = entry.file.try_clone().map_err(|_| Errno::ENFILE)?;
        Some((Arc::new(std::fs::File::from(dup)), offset))
    };
    let name = VmaName::None;
    let req = MmapRequest { addr: GuestAddr(addr), len, prot: Prot(prot), flags, file, name };
    changing(ctx, |mm| mm.mmap(req)).map(|a| a.0)
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

pub fn mlock(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    // Nothing is swapped out from under a guest here; the range must still be mapped.
    let start = GuestAddr(a[0]).page_down();
    let end =
        GuestAddr(a[0]).checked_add(a[1]).and_then(GuestAddr::page_up).ok_or(Errno::ENOMEM)?;
    let mm = ctx.proc.mm.read();
    let mut at = start;
    while at < end {
        mm.prot_at(at).ok_or(Errno::ENOMEM)?;
        at = GuestAddr(at.0 + PAGE_SIZE);
    }
    Ok(0)
}

pub fn mlockall(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    const MCL_ALL: u64 = 1 | 2 | 4;
    if a[0] & !MCL_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
