//! Shared memory objects: `memfd_create` and SysV shared memory (`shmget`, `shmat`, `shmdt`,
//! `shmctl`). POSIX `shm_open` needs nothing here: libcs open `/dev/shm/<name>` themselves
//! (`O_NOFOLLOW|O_CLOEXEC`), which the host's `/dev/shm` serves through `openat`.
//!
//! SysV segments are the host's own (see `host/shm.rs`): ids are host ids, so guests, their
//! children and native programs share one registry, and Linux's visibility rules (keys,
//! permissions, `IPC_RMID` destroying a segment after its last detach while attached processes
//! keep it) are the host kernel's.

use std::ffi::CString;

use elfvisor_abi::shm::{
    IPC_CREAT, IPC_EXCL, IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT, MFD_ALLOW_SEALING, MFD_CLOEXEC,
    MFD_EXEC, MFD_HUGE_BITS, MFD_HUGETLB, MFD_NAME_MAX_LEN, MFD_NOEXEC_SEAL, SHM_HUGETLB, SHM_INFO,
    SHM_LOCK, SHM_NORESERVE, SHM_STAT, SHM_STAT_ANY, SHM_UNLOCK, ShmidDs,
};
use elfvisor_abi::{Errno, GuestAddr};
use elfvisor_mm::ShmAttach;

use super::ctx::{Ctx, SysResult};
use super::sys_mmap::changing;
use crate::host::shm::{self as hs, ShmStat};

pub fn memfd_create(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[1] as u32;
    // memfd_create: huge page size bits only with MFD_HUGETLB; EXEC and NOEXEC_SEAL exclude
    // each other.
    let known = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;
    let allowed = if flags & MFD_HUGETLB != 0 { known | MFD_HUGE_BITS } else { known };
    if flags & !allowed != 0 || (flags & MFD_EXEC != 0 && flags & MFD_NOEXEC_SEAL != 0) {
        return Err(Errno::EINVAL);
    }
    // The name, NUL included, may take MFD_NAME_MAX_LEN + 1 bytes.
    let name = match ctx.proc.mm.read().read_cstr(GuestAddr(a[0]), MFD_NAME_MAX_LEN + 1) {
        Ok(name) => name,
        Err(Errno::ENAMETOOLONG) => return Err(Errno::EINVAL),
        Err(e) => return Err(e),
    };
    let name = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // Guest and host share these numbers; the host side is always close-on-exec.
    let mut host_flags = libc::MFD_CLOEXEC;
    for (guest, host) in [
        (MFD_ALLOW_SEALING, libc::MFD_ALLOW_SEALING),
        (MFD_HUGETLB, libc::MFD_HUGETLB),
        (MFD_NOEXEC_SEAL, libc::MFD_NOEXEC_SEAL),
        (MFD_EXEC, libc::MFD_EXEC),
    ] {
        if flags & guest != 0 {
            host_flags |= host;
        }
    }
    host_flags |= flags & MFD_HUGE_BITS;
    let fd = hs::memfd_create(&name, host_flags)?;
    let guest = ctx.proc.fds().install_host(fd, flags & MFD_CLOEXEC != 0)?;
    Ok(guest as u64)
}

pub fn shmget(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (key, size, flags) = (a[0] as i32, a[1], a[2] as u32);
    let mut host = (flags & 0o777) as i32;
    for (guest, bit) in [
        (IPC_CREAT, libc::IPC_CREAT),
        (IPC_EXCL, libc::IPC_EXCL),
        (SHM_HUGETLB, libc::SHM_HUGETLB),
        (SHM_NORESERVE, libc::SHM_NORESERVE),
    ] {
        if flags & guest != 0 {
            host |= bit;
        }
    }
    // The huge page size bits (SHM_HUGE_SHIFT = 26) share the mmap encoding.
    host |= (flags & elfvisor_abi::mman::MAP_HUGE_BITS) as i32;
    hs::shmget(key, size, host)
}

pub fn shmat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let shmid = a[0] as i32;
    // The segment's size and key: IPC_STAT needs read permission, as any attach does.
    let (_, ds) = hs::shm_stat(shmid, ShmStat::Id)?;
    let req = ShmAttach {
        shmid,
        key: ds.perm.key,
        size: ds.segsz,
        addr: GuestAddr(a[1]),
        flags: a[2] as u32,
    };
    changing(ctx, |mm| mm.shmat(req)).map(|a| a.0)
}

pub fn shmdt(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    changing(ctx, |mm| mm.shmdt(GuestAddr(a[0]))).map(|()| 0)
}

pub fn shmctl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (id, cmd, buf) = (a[0] as i32, a[1] as i32, a[2]);
    // ksys_shmctl: negative ids and commands are EINVAL. arm64 parses no IPC_64 bit
    // (no ipc_parse_version), so a command carrying it is unknown.
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    match cmd as u32 {
        c @ (IPC_STAT | SHM_STAT | SHM_STAT_ANY) => {
            let how = match c {
                IPC_STAT => ShmStat::Id,
                SHM_STAT => ShmStat::Index,
                _ => ShmStat::IndexAny,
            };
            let (r, ds) = hs::shm_stat(id, how)?;
            ctx.write_obj(buf, &ds)?;
            Ok(r)
        }
        IPC_SET => hs::shm_set(id, &ctx.read_obj::<ShmidDs>(buf)?),
        c @ (IPC_RMID | SHM_LOCK | SHM_UNLOCK) => hs::shm_command(id, c),
        IPC_INFO => {
            let (r, limits) = hs::shm_limits()?;
            ctx.write_obj(buf, &limits)?;
            Ok(r)
        }
        SHM_INFO => {
            let (r, usage) = hs::shm_usage()?;
            ctx.write_obj(buf, &usage)?;
            Ok(r)
        }
        _ => Err(Errno::EINVAL),
    }
}
