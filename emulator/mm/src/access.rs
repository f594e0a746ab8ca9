//! Checked access to guest memory: protection lookups for the CPU engine and copies for the
//! syscall layer. Nothing here touches a byte the VMAs do not grant.
//!
//! File and shared-object pages past the end of their object would raise `SIGBUS` on the host;
//! the checks here treat them as unmapped (`EFAULT`, as Linux's `copy_from_user` does) so a guest
//! pointer can never crash the runtime. The one window left: another process shrinking a file
//! between the check and the copy (see `object.rs`).

use std::ptr::NonNull;

use elfvisor_abi::addr::page_round_up;
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};

use crate::space::AddressSpace;
use crate::vma::Backing;

/// What the page tables grant for `prot`: arm64's protection map turns write-only into
/// read-write, and execute-only into read-execute (Linux dropped arm64's execute-only user
/// mappings in 5.13: `PROT_EXEC` pages are readable).
pub(crate) fn effective(prot: Prot) -> Prot {
    if prot.0 & (Prot::WRITE.0 | Prot::EXEC.0) != 0 { prot | Prot::READ } else { prot }
}

impl AddressSpace {
    /// Protection of the page holding `addr`, or `None` if it is unmapped. O(log n): called on
    /// every TLB miss. This is the protection the hardware enforces, which is what the guest asked
    /// for except that aarch64 Linux has no write-only or execute-only pages: `PROT_WRITE` and
    /// `PROT_EXEC` imply `PROT_READ` (the VMA, as `vmas()` shows it, keeps the guest's bits).
    pub fn prot_at(&self, addr: GuestAddr) -> Option<Prot> {
        self.vmas.find(addr).map(|v| effective(v.prot))
    }

    /// Checks that `[addr, addr + len)` is mapped with at least `need` and backed by host pages
    /// that exist; `len` must be non-zero.
    fn check_access(&self, addr: GuestAddr, len: u64, need: Prot) -> Result<(), Errno> {
        let end =
            addr.checked_add(len).filter(|e| e.0 <= self.arena_size()).ok_or(Errno::EFAULT)?;
        let mut at = addr;
        for v in self.vmas.overlapping(addr, end) {
            if v.start > at || !effective(v.prot).contains(need) {
                return Err(Errno::EFAULT);
            }
            // Pages wholly past the end of a file or shared object SIGBUS on the host. The size
            // is read afresh: the object may have shrunk since the engine last asked.
            let last = end.min(v.end).0 - 1;
            match &v.backing {
                Backing::File { file, offset } => {
                    let (_, size) = self.file_sizes.refresh(file);
                    let last_page_off = offset + (GuestAddr(last).page_down().0 - v.start.0);
                    if last_page_off >= page_round_up(size).unwrap_or(u64::MAX) {
                        return Err(Errno::EFAULT);
                    }
                }
                Backing::Shared { object, offset } => {
                    let last_page_off = offset + (GuestAddr(last).page_down().0 - v.start.0);
                    if object.page_past_end(last_page_off, true) {
                        return Err(Errno::EFAULT);
                    }
                }
                Backing::Anonymous => {}
            }
            at = v.end;
            if at >= end {
                return Ok(());
            }
        }
        Err(Errno::EFAULT)
    }

    /// Copies guest memory into `buf`: `EFAULT` unless every byte is mapped readable.
    pub fn copy_in(&self, addr: GuestAddr, buf: &mut [u8]) -> Result<(), Errno> {
        if buf.is_empty() {
            return Ok(());
        }
        self.check_access(addr, buf.len() as u64, Prot::READ)?;
        self.arena.read(addr.0, buf);
        Ok(())
    }

    /// Copies `data` into guest memory: `EFAULT` unless every byte is mapped writable. Nothing
    /// is written when any byte is not.
    pub fn copy_out(&self, addr: GuestAddr, data: &[u8]) -> Result<(), Errno> {
        if data.is_empty() {
            return Ok(());
        }
        self.check_access(addr, data.len() as u64, Prot::WRITE)?;
        self.arena.write(addr.0, data);
        Ok(())
    }

    /// Reads a NUL-terminated string (without the NUL). `ENAMETOOLONG` if none of the first
    /// `max_len` bytes is NUL; `EFAULT` if an unreadable byte comes before the NUL.
    pub fn read_cstr(&self, addr: GuestAddr, max_len: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < max_len {
            // One page (or what is left of `max_len`) at a time: never reads past the NUL's page.
            let page_left = PAGE_SIZE - (at.0 % PAGE_SIZE);
            let chunk = page_left.min((max_len - out.len()) as u64) as usize;
            let mut buf = vec![0u8; chunk];
            self.copy_in(at, &mut buf)?;
            if let Some(nul) = buf.iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..nul]);
                return Ok(out);
            }
            out.extend_from_slice(&buf);
            at = at.checked_add(chunk as u64).ok_or(Errno::EFAULT)?;
        }
        Err(Errno::ENAMETOOLONG)
    }

    /// Host view of `[addr, addr + len)` for bulk transfers without an extra copy: `EFAULT`
    /// unless every byte is mapped with `need`. For `len == 0` returns a dangling, well-aligned
    /// pointer (valid for empty slices) without checking `addr`.
    ///
    /// The pointer stays valid while the range stays mapped: the caller must hold the address
    /// space (e.g. its read lock) for as long as it uses the pointer. Other guest threads may
    /// write the same memory concurrently, so treat it as shared memory, not a Rust slice that
    /// nobody else mutates.
    pub fn host_range(&self, addr: GuestAddr, len: usize, need: Prot) -> Result<*mut u8, Errno> {
        if len == 0 {
            return Ok(NonNull::dangling().as_ptr());
        }
        self.check_access(addr, len as u64, need)?;
        Ok(self.arena.host_bytes(addr.0, len))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use elfvisor_abi::mman::{MAP_FIXED, MAP_PRIVATE};

    use crate::space::tests::{P, map_fixed, space};
    use crate::{AddressSpace, MmapRequest, VmaName};
    use elfvisor_abi::{Errno, GuestAddr, Prot};

    #[test]
    fn test_copy_across_vmas() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        map_fixed(&mut s, 0x40_1000, P, Prot::RWX);
        s.copy_out(GuestAddr(0x40_0ffe), b"abcd").unwrap();
        let mut b = [0u8; 4];
        s.copy_in(GuestAddr(0x40_0ffe), &mut b).unwrap();
        assert_eq!(&b, b"abcd");
        assert_eq!(s.copy_in(GuestAddr(0x40_1ffe), &mut b), Err(Errno::EFAULT));
        assert_eq!(s.copy_in(GuestAddr(0x3f_fffe), &mut b), Err(Errno::EFAULT));
        assert_eq!(s.copy_in(GuestAddr(u64::MAX - 1), &mut b), Err(Errno::EFAULT));
        assert_eq!(s.copy_in(GuestAddr(s.arena_size() - 2), &mut b), Err(Errno::EFAULT));
        assert_eq!(s.copy_in(GuestAddr(0x1234), &mut []), Ok(()));
    }

    #[test]
    fn test_copy_respects_protection() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        map_fixed(&mut s, 0x40_1000, P, Prot::READ);
        map_fixed(&mut s, 0x40_2000, P, Prot::NONE);
        map_fixed(&mut s, 0x40_3000, P, Prot::WRITE);
        let mut b = [0u8; 2];
        assert_eq!(s.copy_out(GuestAddr(0x40_0fff), b"xy"), Err(Errno::EFAULT));
        // Nothing was written on failure.
        s.copy_in(GuestAddr(0x40_0fff), &mut b[..1]).unwrap();
        assert_eq!(b[0], 0);
        assert_eq!(s.copy_in(GuestAddr(0x40_1fff), &mut b), Err(Errno::EFAULT));
        assert_eq!(s.copy_in(GuestAddr(0x40_2000), &mut b), Err(Errno::EFAULT));
        assert_eq!(s.copy_out(GuestAddr(0x40_2000), b"z"), Err(Errno::EFAULT));
        // arm64 has no write-only pages.
        assert_eq!(s.copy_out(GuestAddr(0x40_3000), b"ok"), Ok(()));
        assert_eq!(s.copy_in(GuestAddr(0x40_3000), &mut b), Ok(()));
        assert_eq!(&b, b"ok");
        assert_eq!(s.prot_at(GuestAddr(0x40_3000)), Some(Prot::RW));
        assert_eq!(s.vmas().last().unwrap().prot, Prot::WRITE);
        assert_eq!(s.prot_at(GuestAddr(0x40_2abc)), Some(Prot::NONE));
        assert_eq!(s.prot_at(GuestAddr(0x40_4000)), None);
    }

    #[test]
    fn test_read_cstr_limits() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        s.copy_out(GuestAddr(0x40_0ffd), b"hello\0").unwrap();
        assert_eq!(s.read_cstr(GuestAddr(0x40_0ffd), 4096), Ok(b"hello".to_vec()));
        assert_eq!(s.read_cstr(GuestAddr(0x40_0ffd), 6), Ok(b"hello".to_vec()));
        assert_eq!(s.read_cstr(GuestAddr(0x40_0ffd), 5), Err(Errno::ENAMETOOLONG));
        assert_eq!(s.read_cstr(GuestAddr(0x40_1002), 1), Ok(vec![]));
        assert_eq!(s.read_cstr(GuestAddr(0x40_1002), 0), Err(Errno::ENAMETOOLONG));
        // No NUL before the end of the mapping: EFAULT, not ENAMETOOLONG.
        s.copy_out(GuestAddr(0x40_1ffe), b"ab").unwrap();
        assert_eq!(s.read_cstr(GuestAddr(0x40_1ffe), 4096), Err(Errno::EFAULT));
        assert_eq!(s.read_cstr(GuestAddr(0x40_1ffe), 2), Err(Errno::ENAMETOOLONG));
        s.mprotect(GuestAddr(0x40_0000), P, Prot::NONE).unwrap();
        assert_eq!(s.read_cstr(GuestAddr(0x40_0ffd), 4096), Err(Errno::EFAULT));
    }

    #[test]
    fn test_host_range_checks_and_points_into_arena() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::READ);
        let p = s.host_range(GuestAddr(0x40_0010), 100, Prot::READ).unwrap();
        // SAFETY: arithmetic only; the pointer is not dereferenced.
        assert_eq!(p, unsafe { s.arena_base().add(0x40_0010) });
        assert_eq!(s.host_range(GuestAddr(0x40_0010), 100, Prot::WRITE), Err(Errno::EFAULT));
        assert_eq!(
            s.host_range(GuestAddr(0x40_1000), 2 * P as usize, Prot::READ),
            Err(Errno::EFAULT)
        );
        assert!(s.host_range(GuestAddr(u64::MAX), 0, Prot::WRITE).is_ok());
    }

    fn map_file(s: &mut AddressSpace, addr: u64, len: u64, file: &Arc<std::fs::File>, off: u64) {
        let req = MmapRequest {
            addr: GuestAddr(addr),
            len,
            prot: Prot::READ,
            flags: MAP_PRIVATE | MAP_FIXED,
            file: Some((Arc::clone(file), off)),
            name: VmaName::Path("f".into()),
        };
        assert_eq!(s.mmap(req), Ok(GuestAddr(addr)));
    }

    #[test]
    fn test_copy_past_end_of_file_is_efault() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[5u8; 100]).unwrap();
        let f = Arc::new(f);
        let mut s = space();
        map_file(&mut s, 0x40_0000, 3 * P, &f, 0);
        let mut b = [0u8; 2];
        s.copy_in(GuestAddr(0x40_0063), &mut b).unwrap();
        assert_eq!(b, [5, 0]);
        s.copy_in(GuestAddr(0x40_0ffe), &mut b).unwrap();
        assert_eq!(s.copy_in(GuestAddr(0x40_0fff), &mut b), Err(Errno::EFAULT));
        assert_eq!(s.read_cstr(GuestAddr(0x40_1000), 10), Err(Errno::EFAULT));
        assert_eq!(s.prot_at(GuestAddr(0x40_2000)), Some(Prot::READ));
    }
}
