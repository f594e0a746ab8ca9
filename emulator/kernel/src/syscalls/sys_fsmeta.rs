//! File metadata and file-system calls: `utimensat`, `fchown`, `fchownat`, `statfs`,
//! `fstatfs`, `flock`, `fallocate`, `sync_file_range`, `syncfs`, `fadvise64`, `readahead`.
//! Paths go through [`Ctx::path`] like every other path; flags are translated, operation and
//! advice numbers are Linux's on both sides.

use elfvisor_abi::Errno;
use elfvisor_abi::fcntl::{self as g, UTIME_NOW, UTIME_OMIT};
use elfvisor_abi::time::Timespec;

use super::ctx::{Ctx, SysResult};
use crate::host::fsmeta as hf;

/// `AT_SYMLINK_NOFOLLOW` and `AT_EMPTY_PATH` as host flags; anything else is `EINVAL`.
fn at_flags(flags: u32) -> Result<i32, Errno> {
    if flags & !(g::AT_SYMLINK_NOFOLLOW | g::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let mut host = 0;
    if flags & g::AT_SYMLINK_NOFOLLOW != 0 {
        host |= libc::AT_SYMLINK_NOFOLLOW;
    }
    if flags & g::AT_EMPTY_PATH != 0 {
        host |= libc::AT_EMPTY_PATH;
    }
    Ok(host)
}

/// fs/utimes.c: the times are read first (`EFAULT`); two `UTIME_OMIT`s change nothing and
/// succeed at once; a null path on a descriptor takes no flags; the rest is the host's.
pub fn utimensat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (dirfd, path_addr, times_addr, flags) = (a[0], a[1], a[2], a[3] as u32);
    let times = if times_addr == 0 {
        None
    } else {
        let t: [Timespec; 2] = ctx.read_obj(times_addr)?;
        if t[0].nsec == UTIME_OMIT && t[1].nsec == UTIME_OMIT {
            return Ok(0);
        }
        Some(t.map(|t| (t.sec, t.nsec)))
    };
    debug_assert_eq!((UTIME_NOW, UTIME_OMIT), (libc::UTIME_NOW, libc::UTIME_OMIT));
    let path = match path_addr {
        0 => None,
        _ if flags & g::AT_SYMLINK_NOFOLLOW != 0 => Some(ctx.path_nofollow(path_addr)?),
        _ => Some(ctx.path(path_addr)?),
    };
    if path.is_none() && dirfd as i32 != g::AT_FDCWD && flags != 0 {
        return Err(Errno::EINVAL);
    }
    let host_flags = at_flags(flags)?;
    hf::utimensat(ctx.dirfd(dirfd)?, path.as_deref(), times, host_flags)
}

pub fn fchown(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hf::fchown(ctx.fd(a[0])?, a[1] as u32, a[2] as u32)
}

pub fn fchownat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = at_flags(a[4] as u32)?;
    let path = if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
        ctx.path_nofollow(a[1])?
    } else {
        ctx.path(a[1])?
    };
    let dirfd = ctx.dirfd(a[0])?;
    hf::fchownat(dirfd, &path, a[2] as u32, a[3] as u32, flags)
}

pub fn statfs(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let st = hf::statfs(&ctx.path(a[0])?)?;
    ctx.write_obj(a[1], &st)?;
    Ok(0)
}

pub fn fstatfs(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let st = hf::fstatfs(ctx.fd(a[0])?)?;
    ctx.write_obj(a[1], &st)?;
    Ok(0)
}

pub fn flock(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hf::fd_call(libc::SYS_flock, ctx.fd(a[0])?, [a[1], 0, 0])
}

pub fn fallocate(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hf::fd_call(libc::SYS_fallocate, ctx.fd(a[0])?, [a[1], a[2], a[3]])
}

pub fn sync_file_range(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hf::fd_call(libc::SYS_sync_file_range, ctx.fd(a[0])?, [a[1], a[2], a[3]])
}

pub fn syncfs(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hf::fd_call(libc::SYS_syncfs, ctx.fd(a[0])?, [0, 0, 0])
}

pub fn fadvise64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hf::fd_call(libc::SYS_fadvise64, ctx.fd(a[0])?, [a[1], a[2], a[3]])
}

pub fn readahead(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hf::fd_call(libc::SYS_readahead, ctx.fd(a[0])?, [a[1], a[2], 0])
}
