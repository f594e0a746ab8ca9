//! SysV shared memory attaches: `shmat(2)` and `shmdt(2)`, following Linux's `ipc/shm.c`.
//!
//! The segments are the host's own (`shmget` on the host): the syscall layer looks a segment up
//! and hands its size here, and the host attaches it into the arena with `SHM_REMAP`. The host
//! kernel therefore keeps the segment registry, permissions, attach counts and the
//! destroy-after-last-detach rule, across every process, guest or not.

use elfvisor_abi::addr::page_round_up;
use elfvisor_abi::shm::{SHM_EXEC, SHM_RDONLY, SHM_REMAP, SHM_RND, SHMLBA};
use elfvisor_abi::{Errno, GuestAddr, Prot};

use crate::object::{ObjectKind, SharedObject};
use crate::space::AddressSpace;
use crate::vma::{Backing, Vma, VmaName};
use elfvisor_host::errno_from_io;

/// One `shmat` call, with the segment already looked up on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmAttach {
    pub shmid: i32,
    /// The key the segment was created with (named in `/proc/self/maps`).
    pub key: i32,
    /// The segment's size in bytes (`shm_segsz`).
    pub size: u64,
    /// The requested address (0: the kernel picks).
    pub addr: GuestAddr,
    /// Guest `SHM_*` flags.
    pub flags: u32,
}

impl AddressSpace {
    /// Linux `do_shmat`: attaches the segment and returns its address.
    pub fn shmat(&mut self, req: ShmAttach) -> Result<GuestAddr, Errno> {
        let remap = req.flags & SHM_REMAP != 0;
        let mut addr = req.addr.0;
        if addr != 0 {
            if addr % SHMLBA != 0 {
                if req.flags & SHM_RND == 0 {
                    return Err(Errno::EINVAL);
                }
                addr &= !(SHMLBA - 1);
                // The round-down must not be NULL when remapping.
                if addr == 0 && remap {
                    return Err(Errno::EINVAL);
                }
            }
        } else if remap {
            return Err(Errno::EINVAL);
        }
        // A non-zero address (even one rounded down to 0) is MAP_FIXED.
        let fixed = req.addr.0 != 0;
        let readonly = req.flags & SHM_RDONLY != 0;
        let mut prot = if readonly { Prot::READ } else { Prot::RW };
        if req.flags & SHM_EXEC != 0 {
            prot = prot | Prot::EXEC;
        }
        if fixed && !remap {
            let end = addr.checked_add(req.size).ok_or(Errno::EINVAL)?;
            let end = GuestAddr(end.min(self.arena_size()));
            if GuestAddr(addr) < end && !self.vmas.is_free(GuestAddr(addr), end) {
                return Err(Errno::EINVAL);
            }
        }
        let len = page_round_up(req.size).filter(|&l| l != 0).ok_or(Errno::EINVAL)?;
        let start = if fixed {
            self.fixed_range(GuestAddr(addr), len)?
        } else {
            self.pick(GuestAddr::NULL, len)?
        };
        let end = GuestAddr(start.0 + len);
        // The host attach replaces the host pages itself (and fails leaving them alone), so the
        // old VMAs are dropped afterwards, without releasing what is now the segment.
        self.arena.attach_sysv(start.0, len, req.shmid, readonly).map_err(|e| errno_from_io(&e))?;
        for v in self.vmas.remove_range(start, end) {
            self.record(v.start, v.end, v.prot.contains(Prot::EXEC));
        }
        let object = SharedObject::sysv(req.shmid, req.key, req.size, readonly);
        self.vmas.insert(Vma {
            start,
            end,
            prot,
            shared: true,
            grows_down: false,
            flags: self.def_flags,
            backing: Backing::Shared { object, offset: 0 },
            name: VmaName::None,
        });
        self.debug_check();
        Ok(start)
    }

    /// Linux `do_shmdt`: unmaps the attach that starts at `addr` — the first SysV mapping at or
    /// above it whose object offset equals its distance from `addr` — and every other piece of
    /// the same attach within the segment's size from `addr` (pieces left by `mprotect` or
    /// `munmap`). `EINVAL` if there is none.
    pub fn shmdt(&mut self, addr: GuestAddr) -> Result<(), Errno> {
        if !addr.is_page_aligned() {
            return Err(Errno::EINVAL);
        }
        let is_piece = |v: &Vma| match &v.backing {
            Backing::Shared { object, offset } => {
                matches!(object.kind(), ObjectKind::SysV { .. })
                    && v.start.offset_from(addr) == Some(*offset)
            }
            _ => false,
        };
        let first = self.vmas.iter().filter(|v| v.end > addr).find(|v| is_piece(v)).cloned();
        let Some(first) = first else { return Err(Errno::EINVAL) };
        let Backing::Shared { object, .. } = &first.backing else { unreachable!("a SysV piece") };
        let object = std::sync::Arc::clone(object);
        let limit = page_round_up(object.cached_size()).unwrap_or(u64::MAX);
        let mut doomed = vec![(first.start, first.end)];
        for v in self.vmas.iter().filter(|v| v.start > first.start) {
            if v.end.0 - addr.0 > limit {
                break;
            }
            let same = matches!(&v.backing, Backing::Shared { object: o, .. }
                if std::sync::Arc::ptr_eq(o, &object));
            if same && is_piece(v) {
                doomed.push((v.start, v.end));
            }
        }
        for (s, e) in doomed {
            self.unmap_range(s, e);
        }
        self.debug_check();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use elfvisor_abi::shm::{SHM_RDONLY, SHM_REMAP, SHM_RND};
    use elfvisor_abi::{Errno, GuestAddr, Prot};

    use super::*;
    use crate::PageStatus;
    use crate::space::tests::{P, map_fixed, ranges, space};

    /// A private host SysV segment of `size` bytes, removed when dropped (it lives on while
    /// attached).
    struct Segment(i32);

    impl Segment {
        fn new(size: u64) -> Segment {
            // SAFETY: plain IPC call without pointers.
            let id =
                unsafe { libc::shmget(libc::IPC_PRIVATE, size as usize, libc::IPC_CREAT | 0o600) };
            assert!(id >= 0, "shmget: {}", std::io::Error::last_os_error());
            Segment(id)
        }

        fn attach(&self, size: u64, addr: u64, flags: u32) -> ShmAttach {
            ShmAttach { shmid: self.0, key: 0, size, addr: GuestAddr(addr), flags }
        }

        fn nattch(&self) -> u64 {
            let mut ds = std::mem::MaybeUninit::<libc::shmid_ds>::zeroed();
            // SAFETY: `ds` has room for a shmid_ds.
            assert_eq!(unsafe { libc::shmctl(self.0, libc::IPC_STAT, ds.as_mut_ptr()) }, 0);
            // SAFETY: IPC_STAT filled it.
            unsafe { ds.assume_init() }.shm_nattch
        }
    }

    impl Drop for Segment {
        fn drop(&mut self) {
            // SAFETY: IPC_RMID takes no buffer.
            unsafe { libc::shmctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }

    #[test]
    fn test_shmat_address_rules() {
        let seg = Segment::new(P + 1);
        let mut s = space();
        let unaligned = seg.attach(P + 1, 0x40_0001, 0);
        assert_eq!(s.shmat(unaligned), Err(Errno::EINVAL));
        assert_eq!(s.shmat(seg.attach(P + 1, 0, SHM_REMAP)), Err(Errno::EINVAL));
        assert_eq!(s.shmat(seg.attach(P + 1, 0x10, SHM_RND | SHM_REMAP)), Err(Errno::EINVAL));
        // Rounded down to NULL: MAP_FIXED at 0, below mmap_min_addr.
        assert_eq!(s.shmat(seg.attach(P + 1, 0x10, SHM_RND)), Err(Errno::EPERM));
        assert_eq!(s.shmat(seg.attach(P + 1, 0x40_0123, SHM_RND)), Ok(GuestAddr(0x40_0000)));
        assert_eq!(ranges(&s), vec![(0x40_0000, 0x40_2000, Prot::RW)]);
        // Overlap without SHM_REMAP is refused; with it the old mapping goes.
        map_fixed(&mut s, 0x50_1000, P, Prot::READ);
        assert_eq!(s.shmat(seg.attach(P + 1, 0x50_0000, 0)), Err(Errno::EINVAL));
        assert_eq!(s.shmat(seg.attach(P + 1, 0x50_0000, SHM_REMAP)), Ok(GuestAddr(0x50_0000)));
        assert_eq!(seg.nattch(), 2);
        s.copy_out(GuestAddr(0x40_0010), b"sysv").unwrap();
        let mut b = [0u8; 4];
        s.copy_in(GuestAddr(0x50_0010), &mut b).unwrap();
        assert_eq!(&b, b"sysv");
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_shmat_readonly_and_unknown_segment() {
        let seg = Segment::new(2 * P);
        let mut s = space();
        let a = s.shmat(seg.attach(2 * P, 0, SHM_RDONLY)).unwrap();
        assert_eq!(s.copy_out(a, b"x"), Err(Errno::EFAULT));
        assert_eq!(s.mprotect(a, P, Prot::RW), Err(Errno::EACCES));
        assert_eq!(s.page_state(GuestAddr(a.0 + P)), PageStatus::Mapped(Prot::READ));
        assert_eq!(s.page_state(GuestAddr(a.0 + 2 * P)), PageStatus::Unmapped);
        let gone = ShmAttach { shmid: i32::MAX, key: 0, size: P, addr: GuestAddr(0), flags: 0 };
        assert_eq!(s.shmat(gone), Err(Errno::EINVAL));
        assert_eq!(s.vmas().count(), 1);
    }

    #[test]
    fn test_shmdt_finds_the_attach_and_its_pieces() {
        let seg = Segment::new(4 * P);
        let mut s = space();
        let a = s.shmat(seg.attach(4 * P, 0x40_0000, 0)).unwrap();
        s.mprotect(GuestAddr(a.0 + P), P, Prot::READ).unwrap();
        s.munmap(GuestAddr(a.0 + 2 * P), P).unwrap();
        assert_eq!(s.shmdt(GuestAddr(a.0 + 1)), Err(Errno::EINVAL));
        // Not the start of the attach: offset 1 page at distance 0.
        assert_eq!(s.shmdt(GuestAddr(a.0 + P)), Err(Errno::EINVAL));
        assert_eq!(s.shmdt(GuestAddr(0x30_0000)), Err(Errno::EINVAL));
        assert_eq!(s.shmdt(a), Ok(()));
        assert_eq!(s.vmas().count(), 0);
        assert_eq!(s.shmdt(a), Err(Errno::EINVAL));
        assert_eq!(seg.nattch(), 0);
        s.check_invariants().unwrap();
    }

    #[test]
    fn test_sysv_grown_past_its_segment_is_past_the_end() {
        let seg = Segment::new(P);
        let mut s = space();
        let a = s.shmat(seg.attach(P, 0x40_0000, 0)).unwrap();
        s.copy_out(a, b"seg").unwrap();
        assert_eq!(s.mremap(a, P, 3 * P, 0, GuestAddr(0)), Ok(a));
        assert_eq!(s.page_state(GuestAddr(a.0 + P)), PageStatus::PastObjectEnd);
        // Moving it moves the attach.
        let flags = elfvisor_abi::mman::MREMAP_MAYMOVE | elfvisor_abi::mman::MREMAP_FIXED;
        assert_eq!(
            s.mremap(a, 3 * P, 3 * P, flags, GuestAddr(0x60_0000)),
            Ok(GuestAddr(0x60_0000))
        );
        let mut b = [0u8; 3];
        s.copy_in(GuestAddr(0x60_0000), &mut b).unwrap();
        assert_eq!(&b, b"seg");
        assert_eq!(seg.nattch(), 1);
        assert_eq!(s.shmdt(GuestAddr(0x60_0000)), Ok(()));
        assert_eq!(seg.nattch(), 0);
        s.check_invariants().unwrap();
    }
}
