//! Checked access to guest memory: protection lookups for the CPU engine and copies for the
//! syscall layer. Nothing here touches a byte the VMAs do not grant.
//!
//! File and shared-object pages past the end of their object would raise `SIGBUS` on the host;
//! the checks here treat them as unmapped (`EFAULT`, as Linux's `copy_from_user` does) so a guest
//! pointer can never crash the runtime. The one window left: another process shrinking a file
//! between the check and the copy (see `object.rs`).

use std::ptr::NonNull;

use elfvisor_abi::addr::page_round_up;
use elfvisor_abi::obj::{GuestObj, decode_extensible};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};

use crate::object::ObjectKind;
use crate::space::AddressSpace;
use crate::vma::Backing;

/// Objects up to this size are staged on the stack by `read_obj`/`write_obj`.
const SMALL_OBJ: usize = 256;

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
        self.check_range(addr, len, need, true, true)
    }

    /// [`check_access`](Self::check_access), refusing shared VMAs unless `shared_ok`. With
    /// `fresh` the size of a file or shared object behind the range is read again (a `statx`);
    /// without it the cached size decides, and the file is asked only when that size puts a
    /// page past the end.
    fn check_range(
        &self,
        addr: GuestAddr,
        len: u64,
        need: Prot,
        shared_ok: bool,
        fresh: bool,
    ) -> Result<(), Errno> {
        let end =
            addr.checked_add(len).filter(|e| e.0 <= self.arena_size()).ok_or(Errno::EFAULT)?;
        let mut at = addr;
        for v in self.vmas.overlapping(addr, end) {
            if v.start > at || !effective(v.prot).contains(need) || (v.shared && !shared_ok) {
                return Err(Errno::EFAULT);
            }
            // Pages wholly past the end of a file or shared object SIGBUS on the host. The size
            // is read afresh when `fresh`: the object may have shrunk since the engine last
            // asked.
            let last = end.min(v.end).0 - 1;
            match &v.backing {
                Backing::File { file, offset } => {
                    let last_page_off = offset + (GuestAddr(last).page_down().0 - v.start.0);
                    let past = if fresh {
                        let (_, size) = self.file_sizes.refresh(file);
                        last_page_off >= page_round_up(size).unwrap_or(u64::MAX)
                    } else {
                        self.file_sizes.page_past_end(file, last_page_off)
                    };
                    if past {
                        return Err(Errno::EFAULT);
                    }
                }
                Backing::Shared { object, offset } => {
                    let last_page_off = offset + (GuestAddr(last).page_down().0 - v.start.0);
                    if object.page_past_end(last_page_off, fresh) {
                        return Err(Errno::EFAULT);
                    }
                    // A file's page the host cannot allocate (a full tmpfs) would raise SIGBUS
                    // in the copy: EFAULT, as Linux's copy_{from,to}_user gets from that fault.
                    let first = at.max(v.start).page_down();
                    let len = GuestAddr(last).page_down().0 + PAGE_SIZE - first.0;
                    if object.kind() == ObjectKind::File
                        && !self.arena.provide(first.0, len, need.contains(Prot::WRITE))
                    {
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

    /// Copies `data` into guest memory: `EFAULT` unless every byte is mapped writable.
    ///
    /// All or nothing: the whole range is checked before the first byte is written, so nothing
    /// is written when any byte is not writable. (Linux's `copy_to_user` may store a prefix
    /// before it faults; no guest can rely on that prefix, and this contract lets a caller
    /// report `EFAULT` knowing guest memory is untouched.)
    pub fn copy_out(&self, addr: GuestAddr, data: &[u8]) -> Result<(), Errno> {
        if data.is_empty() {
            return Ok(());
        }
        self.check_access(addr, data.len() as u64, Prot::WRITE)?;
        self.arena.write(addr.0, data);
        Ok(())
    }

    /// Reads a guest structure at `addr`: `EFAULT` unless all `T::SIZE` bytes are mapped
    /// readable (as [`copy_in`](Self::copy_in)).
    pub fn read_obj<T: GuestObj>(&self, addr: GuestAddr) -> Result<T, Errno> {
        let mut small = [0u8; SMALL_OBJ];
        if T::SIZE <= SMALL_OBJ {
            self.copy_in(addr, &mut small[..T::SIZE])?;
            return Ok(T::decode(&small));
        }
        let mut buf = vec![0u8; T::SIZE];
        self.copy_in(addr, &mut buf)?;
        Ok(T::decode(&buf))
    }

    /// Writes a guest structure at `addr` (padding zeroed): `EFAULT` unless all `T::SIZE` bytes
    /// are mapped writable, and then nothing is written (as [`copy_out`](Self::copy_out)).
    pub fn write_obj<T: GuestObj>(&self, addr: GuestAddr, value: &T) -> Result<(), Errno> {
        let mut small = [0u8; SMALL_OBJ];
        if T::SIZE <= SMALL_OBJ {
            value.encode(&mut small[..T::SIZE]);
            return self.copy_out(addr, &small[..T::SIZE]);
        }
        self.copy_out(addr, &value.to_guest_bytes())
    }

    pub fn read_u32(&self, addr: GuestAddr) -> Result<u32, Errno> {
        self.read_obj(addr)
    }

    pub fn read_u64(&self, addr: GuestAddr) -> Result<u64, Errno> {
        self.read_obj(addr)
    }

    pub fn write_u32(&self, addr: GuestAddr, value: u32) -> Result<(), Errno> {
        self.write_obj(addr, &value)
    }

    pub fn write_u64(&self, addr: GuestAddr, value: u64) -> Result<(), Errno> {
        self.write_obj(addr, &value)
    }

    /// Reads an array of `n` guest structures at `addr` (iovecs, pollfds, group ids). `n` is
    /// the guest's count and `max` the call's own limit on it (`UIO_MAXIOV`, the descriptor
    /// limit, `NGROUPS_MAX`): more than `max` is `EINVAL`, checked before any memory is read, as
    /// Linux does; then `EFAULT` unless the whole array is readable.
    pub fn read_objs<T: GuestObj>(
        &self,
        addr: GuestAddr,
        n: usize,
        max: usize,
    ) -> Result<Vec<T>, Errno> {
        if n > max {
            return Err(Errno::EINVAL);
        }
        let len = n.checked_mul(T::SIZE).ok_or(Errno::EINVAL)?;
        let mut buf = vec![0u8; len];
        self.copy_in(addr, &mut buf)?;
        Ok(buf.chunks_exact(T::SIZE.max(1)).take(n).map(T::decode).collect())
    }

    /// Writes an array of guest structures at `addr`: all or nothing, as
    /// [`copy_out`](Self::copy_out).
    pub fn write_objs<T: GuestObj>(&self, addr: GuestAddr, values: &[T]) -> Result<(), Errno> {
        let mut buf = vec![0u8; values.len() * T::SIZE];
        for (v, out) in values.iter().zip(buf.chunks_exact_mut(T::SIZE.max(1))) {
            v.encode(out);
        }
        self.copy_out(addr, &buf)
    }

    /// Reads an extensible structure the guest passed with its own `size` (`clone3`): the
    /// `size` bytes at `addr` must be readable (`EFAULT`), then
    /// [`decode_extensible`](elfvisor_abi::obj::decode_extensible) applies: an older, shorter
    /// version leaves newer fields zero, and bytes past the known ones must be zero (`E2BIG`).
    /// The caller checks `size` against the call's bounds first.
    pub fn read_extensible<T: GuestObj>(&self, addr: GuestAddr, size: usize) -> Result<T, Errno> {
        let mut buf = vec![0u8; size];
        self.copy_in(addr, &mut buf)?;
        decode_extensible(&buf)
    }

    /// Copies `out.len()` bytes of private guest memory at `addr` into `out`, whatever the
    /// guest's protection: what fork and vfork use to capture memory the guest may have made
    /// read-only or inaccessible. `EFAULT` unless every byte lies in the arena, in mapped
    /// private (not shared) VMAs, and in host pages that exist (not past the end of a mapped
    /// file). Need not be page aligned.
    ///
    /// Shared mappings are refused: their host protection follows the guest's, so the host
    /// could fault, and their contents travel as the shared object itself, never as bytes.
    pub fn read_private_pages(&self, addr: GuestAddr, out: &mut [u8]) -> Result<(), Errno> {
        if out.is_empty() {
            return Ok(());
        }
        self.check_range(addr, out.len() as u64, Prot::NONE, false, true)?;
        // Private mappings are host read/write whatever the guest protection (`arena.rs`).
        self.arena.read(addr.0, out);
        Ok(())
    }

    /// Writes `bytes` into private guest memory at `addr`, whatever the guest's protection:
    /// what fork and vfork use to restore captured memory. Same checks as
    /// [`read_private_pages`](Self::read_private_pages); all or nothing. The caller must make
    /// sure no guest code runs on this address space meanwhile if it needs the restored bytes
    /// to be seen whole (a vCPU could read a half-written range, as with any concurrent write).
    pub fn write_private_pages(&self, addr: GuestAddr, bytes: &[u8]) -> Result<(), Errno> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.check_range(addr, bytes.len() as u64, Prot::NONE, false, true)?;
        self.arena.write(addr.0, bytes);
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
    ///
    /// Copying private memory regardless of the guest's protection (fork, vfork) needs no
    /// pointer: [`read_private_pages`](Self::read_private_pages) and
    /// [`write_private_pages`](Self::write_private_pages) replace `host_range(.., Prot::NONE)`
    /// there.
    pub fn host_range(&self, addr: GuestAddr, len: usize, need: Prot) -> Result<*mut u8, Errno> {
        if len == 0 {
            return Ok(NonNull::dangling().as_ptr());
        }
        self.check_access(addr, len as u64, need)?;
        Ok(self.arena.host_bytes(addr.0, len))
    }

    /// [`host_range`](Self::host_range) for bytes that only the host kernel will touch, as the
    /// word of a host `futex` call: the size of a file behind the range is taken from the cache
    /// (asked again only when the cached size puts a page past the end), so the check makes no
    /// system call of its own. A file shrunk since it was last asked cannot crash the runtime
    /// here: the host kernel's own access to a page past the end fails with `EFAULT` (a fault
    /// in kernel mode is fixed up, never a `SIGBUS`), which is the errno the guest gets from
    /// Linux for it. The caller must never read or write the bytes itself.
    pub fn host_range_for_host_call(
        &self,
        addr: GuestAddr,
        len: usize,
        need: Prot,
    ) -> Result<*mut u8, Errno> {
        if len == 0 {
            return Ok(NonNull::dangling().as_ptr());
        }
        self.check_range(addr, len as u64, need, true, false)?;
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

    #[test]
    fn test_objects_round_trip_through_guest_memory() {
        use elfvisor_abi::signal::{SA_SIGINFO, Sigaction};
        use elfvisor_abi::time::Timespec;
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, 2 * P, Prot::RW);
        let act = Sigaction { handler: 0x1234, flags: SA_SIGINFO, restorer: 0, mask: 1 << 9 };
        // Straddles the page boundary between two VMAs' worth of pages.
        s.write_obj(GuestAddr(0x40_0ff0), &act).unwrap();
        assert_eq!(s.read_obj::<Sigaction>(GuestAddr(0x40_0ff0)), Ok(act));
        let mut raw = [0u8; 32];
        s.copy_in(GuestAddr(0x40_0ff0), &mut raw).unwrap();
        assert_eq!(&raw[8..16], &SA_SIGINFO.to_le_bytes());
        s.write_u32(GuestAddr(0x40_0100), 0xdead_beef).unwrap();
        assert_eq!(s.read_u32(GuestAddr(0x40_0100)), Ok(0xdead_beef));
        s.write_u64(GuestAddr(0x40_0108), u64::MAX - 5).unwrap();
        assert_eq!(s.read_u64(GuestAddr(0x40_0108)), Ok(u64::MAX - 5));
        // Larger than the stack staging buffer.
        let st = elfvisor_abi::fcntl::Stat { ino: 77, size: -1, ..Default::default() };
        let uts = elfvisor_abi::system::Utsname::new(b"Linux", b"n", b"r", b"v", b"aarch64", b"");
        s.write_obj(GuestAddr(0x40_0200), &uts).unwrap();
        assert_eq!(s.read_obj(GuestAddr(0x40_0200)), Ok(uts));
        s.write_obj(GuestAddr(0x40_0400), &st).unwrap();
        assert_eq!(s.read_obj(GuestAddr(0x40_0400)), Ok(st));
        let ts = Timespec { sec: 3, nsec: 4 };
        assert_eq!(s.read_obj::<Timespec>(GuestAddr(0x40_1ff8)), Err(Errno::EFAULT));
        assert_eq!(s.write_obj(GuestAddr(0x40_1ff8), &ts), Err(Errno::EFAULT));
    }

    #[test]
    fn test_write_obj_is_all_or_nothing() {
        use elfvisor_abi::time::Timespec;
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        map_fixed(&mut s, 0x40_1000, P, Prot::READ);
        let ts = Timespec { sec: -1, nsec: -1 };
        assert_eq!(s.write_obj(GuestAddr(0x40_0ff8), &ts), Err(Errno::EFAULT));
        assert_eq!(s.read_u64(GuestAddr(0x40_0ff8)), Ok(0));
        assert_eq!(s.write_u32(GuestAddr(0x40_0ffe), 1), Err(Errno::EFAULT));
        assert_eq!(s.read_obj::<[u8; 2]>(GuestAddr(0x40_0ffe)), Ok([0, 0]));
        // Readable is enough to read.
        assert_eq!(s.read_obj::<Timespec>(GuestAddr(0x40_0ff8)), Ok(Timespec::default()));
    }

    #[test]
    fn test_object_arrays_are_bounded() {
        use elfvisor_abi::uio::{Iovec, UIO_MAXIOV};
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        let iov: Vec<Iovec> = (0..4).map(|i| Iovec { base: 0x1000 * i, len: i }).collect();
        s.write_objs(GuestAddr(0x40_0fc0), &iov).unwrap();
        assert_eq!(s.read_objs::<Iovec>(GuestAddr(0x40_0fc0), 4, UIO_MAXIOV), Ok(iov.clone()));
        assert_eq!(s.read_objs::<Iovec>(GuestAddr(0x40_0fc0), 2, 2), Ok(iov[..2].to_vec()));
        assert_eq!(s.read_objs::<Iovec>(GuestAddr(0x40_0fc0), 3, 2), Err(Errno::EINVAL));
        // The count is checked before the pointer.
        assert_eq!(
            s.read_objs::<Iovec>(GuestAddr(0), UIO_MAXIOV + 1, UIO_MAXIOV),
            Err(Errno::EINVAL)
        );
        assert_eq!(s.read_objs::<Iovec>(GuestAddr(0x40_0fc0), 5, UIO_MAXIOV), Err(Errno::EFAULT));
        assert_eq!(s.read_objs::<Iovec>(GuestAddr(0), 0, UIO_MAXIOV), Ok(vec![]));
        assert_eq!(s.write_objs(GuestAddr(0x40_0fd0), &iov), Err(Errno::EFAULT));
        assert_eq!(s.read_obj(GuestAddr(0x40_0fd0)), Ok(iov[1]));
    }

    #[test]
    fn test_read_extensible_follows_copy_struct_from_user() {
        use elfvisor_abi::sched::{CLONE_VM, CloneArgs};
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        let args = CloneArgs {
            flags: CLONE_VM,
            pidfd: 0,
            child_tid: 1,
            parent_tid: 2,
            exit_signal: 17,
            stack: 3,
            stack_size: 4,
            tls: 5,
            set_tid: 6,
            set_tid_size: 7,
            cgroup: 8,
        };
        s.write_obj(GuestAddr(0x40_0000), &args).unwrap();
        assert_eq!(s.read_extensible::<CloneArgs>(GuestAddr(0x40_0000), 88), Ok(args));
        let v0 = s.read_extensible::<CloneArgs>(GuestAddr(0x40_0000), 64).unwrap();
        assert_eq!((v0.tls, v0.set_tid, v0.cgroup), (5, 0, 0));
        assert_eq!(s.read_extensible::<CloneArgs>(GuestAddr(0x40_0000), 128), Ok(args));
        s.write_u64(GuestAddr(0x40_0060), 1).unwrap();
        assert_eq!(s.read_extensible::<CloneArgs>(GuestAddr(0x40_0000), 128), Err(Errno::E2BIG));
        assert_eq!(s.read_extensible::<CloneArgs>(GuestAddr(0x40_0fc0), 88), Err(Errno::EFAULT));
    }

    #[test]
    fn test_private_pages_ignore_guest_protection() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        map_fixed(&mut s, 0x40_1000, P, Prot::READ);
        map_fixed(&mut s, 0x40_2000, P, Prot::NONE);
        let data: Vec<u8> = (0..3 * P).map(|i| (i % 251) as u8).collect();
        s.write_private_pages(GuestAddr(0x40_0000), &data).unwrap();
        let mut back = vec![0u8; data.len()];
        s.read_private_pages(GuestAddr(0x40_0000), &mut back).unwrap();
        assert_eq!(back, data);
        // The guest's own view is unchanged: it still cannot write there.
        assert_eq!(s.copy_out(GuestAddr(0x40_1000), b"x"), Err(Errno::EFAULT));
        let mut b = [0u8; 1];
        s.copy_in(GuestAddr(0x40_1001), &mut b).unwrap();
        assert_eq!(b[0], data[P as usize + 1]);
        // Unaligned pieces work too.
        s.write_private_pages(GuestAddr(0x40_2ffd), b"end").unwrap();
        let mut tail = [0u8; 3];
        s.read_private_pages(GuestAddr(0x40_2ffd), &mut tail).unwrap();
        assert_eq!(&tail, b"end");
        // Unmapped, past the arena, overflowing: EFAULT, and nothing written.
        assert_eq!(s.write_private_pages(GuestAddr(0x40_2fff), b"ab"), Err(Errno::EFAULT));
        assert_eq!(s.read_private_pages(GuestAddr(0x40_3000), &mut tail), Err(Errno::EFAULT));
        assert_eq!(s.read_private_pages(GuestAddr(0x3f_ffff), &mut tail), Err(Errno::EFAULT));
        let end = GuestAddr(s.arena_size() - 1);
        assert_eq!(s.read_private_pages(end, &mut tail), Err(Errno::EFAULT));
        assert_eq!(s.write_private_pages(GuestAddr(u64::MAX), b"a"), Err(Errno::EFAULT));
        s.read_private_pages(GuestAddr(0x40_2ffc), &mut tail[..1]).unwrap();
        assert_eq!(tail[0], data[3 * P as usize - 4]);
        assert_eq!(s.read_private_pages(GuestAddr(0), &mut []), Ok(()));
    }

    #[test]
    fn test_private_pages_refuse_shared_and_past_eof() {
        use elfvisor_abi::mman::{MAP_ANONYMOUS, MAP_SHARED};
        let mut s = space();
        let req = MmapRequest {
            addr: GuestAddr(0x50_0000),
            len: P,
            prot: Prot::RW,
            flags: MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
            file: None,
            name: VmaName::None,
        };
        assert_eq!(s.mmap(req), Ok(GuestAddr(0x50_0000)));
        map_fixed(&mut s, 0x50_1000, P, Prot::RW);
        let mut b = [0u8; 2];
        assert_eq!(s.read_private_pages(GuestAddr(0x50_0000), &mut b), Err(Errno::EFAULT));
        assert_eq!(s.write_private_pages(GuestAddr(0x50_0fff), b"ab"), Err(Errno::EFAULT));
        s.write_private_pages(GuestAddr(0x50_1000), b"ab").unwrap();
        // A private file mapping: pages inside the file are fine, those past its end are not.
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[5u8; 100]).unwrap();
        let f = Arc::new(f);
        map_file(&mut s, 0x60_0000, 2 * P, &f, 0);
        s.read_private_pages(GuestAddr(0x60_0063), &mut b).unwrap();
        assert_eq!(b, [5, 0]);
        s.write_private_pages(GuestAddr(0x60_0000), b"zz").unwrap();
        s.copy_in(GuestAddr(0x60_0000), &mut b).unwrap();
        assert_eq!(&b, b"zz");
        assert_eq!(s.read_private_pages(GuestAddr(0x60_0fff), &mut b), Err(Errno::EFAULT));
        assert_eq!(s.write_private_pages(GuestAddr(0x60_1000), b"zz"), Err(Errno::EFAULT));
    }

    /// The check for a word only host calls touch trusts the cached file size inside the file,
    /// asks the file again past it, and a page the file left since then is refused by the host
    /// kernel's own access (EFAULT, no SIGBUS), as the checked copies refuse it.
    #[test]
    fn test_host_call_range_uses_cached_size_and_host_faults_past_eof() {
        let mut s = space();
        let f = Arc::new(tempfile::tempfile().unwrap());
        f.set_len(100).unwrap();
        map_file(&mut s, 0x60_0000, 2 * P, &f, 0);
        let word = |s: &crate::AddressSpace, a: u64| {
            s.host_range_for_host_call(GuestAddr(a), 4, Prot::READ).map(|p| p.cast::<u32>())
        };
        assert!(word(&s, 0x60_0000).is_ok());
        assert_eq!(word(&s, 0x60_1000), Err(Errno::EFAULT), "a page past the end");
        // Grown: the cached size said past the end, so the file is asked again.
        f.set_len(P + 4).unwrap();
        let inside = word(&s, 0x60_1000).unwrap();
        // Shrunk behind the cache's back: the cached size still grants the page, the fresh
        // check does not, and the host kernel's access through the futex call fails cleanly.
        f.set_len(100).unwrap();
        assert!(word(&s, 0x60_1000).is_ok(), "cached until asked again");
        let mut b = [0u8; 4];
        assert_eq!(s.copy_in(GuestAddr(0x60_1000), &mut b), Err(Errno::EFAULT));
        // SAFETY: a private futex wait on a word of the arena (mapped, past the file's end on
        // the host): the host kernel reads it in kernel mode and fails, it never sleeps.
        let r = unsafe {
            libc::syscall(
                libc::SYS_futex,
                inside,
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                0u32,
                std::ptr::null::<libc::timespec>(),
            )
        };
        assert_eq!((r, std::io::Error::last_os_error().raw_os_error()), (-1, Some(libc::EFAULT)));
        // The fresh check above refreshed the cache: now the cheap check refuses it too.
        assert_eq!(word(&s, 0x60_1000), Err(Errno::EFAULT));
    }
}
