//! Guest memory as host memory: the checked ranges host calls transfer into or out of
//! ([`GuestBuf`]), and the one copy between guest and host memory that bypasses the guest's
//! protection ([`copy_host_view`]), for the emulator's own use (loading, fork, vfork).

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

/// What [`copy_host_view`] does.
#[derive(Debug)]
pub enum HostCopy<'a> {
    /// Guest memory into this buffer.
    Read(&'a mut [u8]),
    /// These bytes into guest memory.
    Write(&'a [u8]),
    /// Zeros over this many bytes.
    Zero(usize),
}

impl HostCopy<'_> {
    fn len(&self) -> usize {
        match self {
            HostCopy::Read(b) => b.len(),
            HostCopy::Write(b) => b.len(),
            HostCopy::Zero(n) => *n,
        }
    }
}

/// Copies between host memory and guest memory at `addr` whatever the guest's protection —
/// the emulator's own view of the guest's pages, for loading an image (.bss zeroing), sending
/// memory to a respawned child and receiving it, and a vfork child's writes. The range must
/// lie in mapped VMAs (EFAULT otherwise), and must not reach file-backed pages past the end of
/// their file (the host raises SIGBUS there, as it would for the guest). Only private
/// mappings qualify (EFAULT otherwise): shared ones follow the guest's protection on the host.
pub fn copy_host_view(mm: &AddressSpace, addr: GuestAddr, op: HostCopy<'_>) -> Result<(), Errno> {
    let len = op.len();
    let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
    if mm.vmas().any(|v| v.shared && v.start < end && addr < v.end) {
        return Err(Errno::EFAULT);
    }
    let ptr = mm.host_range(addr, len, Prot::NONE)?;
    // SAFETY: `host_range` checked that `[addr, addr + len)` is mapped in this address space's
    // arena (with `Prot::NONE`, whatever the guest's protection), and the check above that no
    // shared mapping overlaps it: the arena maps private guest pages host-readable and
    // host-writable whatever the guest protection. `mm` is borrowed (its lock held by the
    // caller) for the whole copy, so no unmap or remap can run meanwhile. The host buffer is a
    // Rust slice distinct from the arena. Guest code of other threads may store to the same
    // bytes concurrently: guest memory is shared memory the emulator never makes a Rust
    // reference to, and a racing guest store leaves either value, as on Linux.
    unsafe {
        match op {
            HostCopy::Read(out) => std::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr(), len),
            HostCopy::Write(bytes) => std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, len),
            HostCopy::Zero(n) => std::ptr::write_bytes(ptr, 0, n),
        }
    }
    Ok(())
}
