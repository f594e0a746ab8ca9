//! Guest memory as host memory: the checked ranges host calls transfer into or out of
//! ([`GuestBuf`]). The emulator's own copies that bypass the guest's protection (loading, fork,
//! vfork) are mm's `read_private_pages`/`write_private_pages`, which need no host pointer.

use elfvisor_abi::{Errno, GuestAddr, Prot};
use elfvisor_mm::AddressSpace;

/// A range of guest memory that was checked to be mapped with the access a call needs, as a
/// host pointer. Only [`GuestBuf::checked`] makes one, so every host call below that takes one
/// is safe: the kernel touches exactly that range, which lives in the guest arena.
#[derive(Debug, Clone, Copy)]
pub struct GuestBuf {
    pub(super) ptr: *mut u8,
    pub(super) len: usize,
}

impl GuestBuf {
    /// # Safety
    /// `ptr..ptr+len` must be host memory of the guest arena that the address space checked is
    /// mapped with the access the call it is passed to performs (read for writes to a file,
    /// write for reads), and it must stay mapped while that call runs.
    pub unsafe fn checked(ptr: *mut u8, len: usize) -> GuestBuf {
        GuestBuf { ptr, len }
    }

    /// An empty buffer (a zero-length transfer touches no memory).
    pub fn empty() -> GuestBuf {
        GuestBuf { ptr: std::ptr::NonNull::dangling().as_ptr(), len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

/// A [`GuestBuf`] over `len` bytes of guest memory at `addr`, accessible with `need`, clamped
/// to the mapped part: like Linux, a call moves what it can and faults only when not even the
/// first byte is accessible.
pub fn guest_buffer(
    mm: &AddressSpace,
    addr: u64,
    len: usize,
    need: Prot,
) -> Result<GuestBuf, Errno> {
    if len == 0 {
        return Ok(GuestBuf::empty());
    }
    let start = GuestAddr(addr);
    let mut end = start;
    let want_end = start.checked_add(len as u64).ok_or(Errno::EFAULT)?;
    for vma in mm.vmas() {
        if vma.end <= end {
            continue;
        }
        if vma.start > end || !vma.prot.contains(need) {
            break;
        }
        end = vma.end.min(want_end);
        if end >= want_end {
            break;
        }
    }
    let usable = end.offset_from(start).unwrap_or(0) as usize;
    if usable == 0 {
        return Err(Errno::EFAULT);
    }
    let ptr = mm.host_range(start, usable, need)?;
    // SAFETY: `host_range` just checked `usable` bytes from `start` for `need`, and the range
    // lies in the arena. The buffer outlives the address-space lock: what keeps it valid is
    // that the arena stays reserved as long as the address space exists, and the calling
    // task's `SharedMm` keeps it alive for the whole call. A sibling thread's munmap, mprotect
    // or mmap of the range meanwhile leaves it inside the arena (released pages become the
    // arena's PROT_NONE reservation again), so the host call then fails with EFAULT or reaches
    // the new mapping, as Linux's copy_to_user does under a racing munmap. Only the host
    // kernel touches the range; no Rust reference to it is ever made.
    Ok(unsafe { GuestBuf::checked(ptr, usable) })
}
