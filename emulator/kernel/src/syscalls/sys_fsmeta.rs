//! File metadata and file-system calls: `utimensat`, `fchown`, `fchownat`, `statfs`,
//! `fstatfs`, `flock`, `fallocate`, `sync_file_range`, `syncfs`, `fadvise64`, `readahead`,
//! `name_to_handle_at` and `open_by_handle_at`.
//! Paths go through [`Ctx::path`] like every other path; flags are translated, operation and
//! advice numbers are Linux's on both sides.

use elfvisor_abi::Errno;
use elfvisor_abi::fcntl::{self as g, UTIME_NOW, UTIME_OMIT};
use elfvisor_abi::time::Timespec;

use super::ctx::{Ctx, SysResult};
use crate::host::fsmeta::{self as hf, XattrTarget};

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

/// The largest extended-attribute value and list (`XATTR_SIZE_MAX`, `XATTR_LIST_MAX`), and the
/// longest name (`XATTR_NAME_MAX`).
const XATTR_SIZE_MAX: usize = 65536;
const XATTR_NAME_MAX: usize = 255;

/// How an extended-attribute call names its file: by path (following a final symlink or not),
/// or by descriptor.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Path,
    Link,
    Fd,
}

/// The call's file, as the host names it.
enum Named {
    Path(std::ffi::CString),
    Fd(std::os::fd::RawFd),
}

impl Named {
    fn of(ctx: &Ctx<'_>, by: By, arg: u64) -> Result<Named, Errno> {
        Ok(match by {
            By::Path => Named::Path(ctx.path(arg)?),
            By::Link => Named::Path(ctx.path_nofollow(arg)?),
            By::Fd => Named::Fd(ctx.fd(arg)?),
        })
    }

    fn target(&self, by: By) -> XattrTarget<'_> {
        match (self, by) {
            (Named::Path(p), By::Link) => XattrTarget::Link(p),
            (Named::Path(p), _) => XattrTarget::Path(p),
            (Named::Fd(fd), _) => XattrTarget::Fd(*fd),
        }
    }
}

/// An attribute name (fs/xattr.c `import_xattr_name`): `ERANGE` when empty or past
/// `XATTR_NAME_MAX`.
fn xattr_name(ctx: &Ctx<'_>, addr: u64) -> Result<std::ffi::CString, Errno> {
    let name = match ctx.proc.mm.read().read_cstr(elfvisor_abi::GuestAddr(addr), XATTR_NAME_MAX + 1)
    {
        Err(Errno::ENAMETOOLONG) => return Err(Errno::ERANGE),
        other => other?,
    };
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    std::ffi::CString::new(name).map_err(|_| Errno::ERANGE)
}

fn getxattr_by(ctx: &mut Ctx<'_>, a: &[u64; 6], by: By) -> SysResult {
    let file = Named::of(ctx, by, a[0])?;
    let name = xattr_name(ctx, a[1])?;
    // getxattr: a larger buffer is cut to XATTR_SIZE_MAX; size 0 asks for the length.
    let mut buf = vec![0u8; (a[3] as usize).min(XATTR_SIZE_MAX)];
    let n = hf::getxattr(file.target(by), &name, &mut buf)? as usize;
    if !buf.is_empty() {
        ctx.copy_out(a[2], &buf[..n])?;
    }
    Ok(n as u64)
}

fn setxattr_by(ctx: &mut Ctx<'_>, a: &[u64; 6], by: By) -> SysResult {
    /// `XATTR_CREATE | XATTR_REPLACE`.
    const KNOWN: u64 = 0x3;
    if a[4] & !KNOWN != 0 {
        return Err(Errno::EINVAL);
    }
    let file = Named::of(ctx, by, a[0])?;
    let name = xattr_name(ctx, a[1])?;
    let size = a[3] as usize;
    if size > XATTR_SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let mut value = vec![0u8; size];
    ctx.proc.mm.read().copy_in(elfvisor_abi::GuestAddr(a[2]), &mut value)?;
    hf::setxattr(file.target(by), &name, &value, a[4] as i32)
}

fn listxattr_by(ctx: &mut Ctx<'_>, a: &[u64; 6], by: By) -> SysResult {
    let file = Named::of(ctx, by, a[0])?;
    let mut buf = vec![0u8; (a[2] as usize).min(XATTR_SIZE_MAX)];
    let n = hf::listxattr(file.target(by), &mut buf)? as usize;
    if !buf.is_empty() {
        ctx.copy_out(a[1], &buf[..n])?;
    }
    Ok(n as u64)
}

fn removexattr_by(ctx: &mut Ctx<'_>, a: &[u64; 6], by: By) -> SysResult {
    let file = Named::of(ctx, by, a[0])?;
    let name = xattr_name(ctx, a[1])?;
    hf::removexattr(file.target(by), &name)
}

pub fn setxattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    setxattr_by(ctx, a, By::Path)
}

pub fn lsetxattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    setxattr_by(ctx, a, By::Link)
}

pub fn fsetxattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    setxattr_by(ctx, a, By::Fd)
}

pub fn getxattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    getxattr_by(ctx, a, By::Path)
}

pub fn lgetxattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    getxattr_by(ctx, a, By::Link)
}

pub fn fgetxattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    getxattr_by(ctx, a, By::Fd)
}

pub fn listxattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    listxattr_by(ctx, a, By::Path)
}

pub fn llistxattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    listxattr_by(ctx, a, By::Link)
}

pub fn flistxattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    listxattr_by(ctx, a, By::Fd)
}

pub fn removexattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    removexattr_by(ctx, a, By::Path)
}

pub fn lremovexattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    removexattr_by(ctx, a, By::Link)
}

pub fn fremovexattr(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    removexattr_by(ctx, a, By::Fd)
}

/// `mount_setattr` (fs/namespace.c): the flags, then the size of `struct mount_attr` (E2BIG past
/// a page, EINVAL below the first version), then `may_mount`: the host's mounts are not the
/// guest's to change, so the answer is EPERM, as without CAP_SYS_ADMIN.
pub fn mount_setattr(_ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (flags, size) = (a[2] as u32, a[4]);
    let known = g::AT_EMPTY_PATH | g::AT_RECURSIVE | g::AT_SYMLINK_NOFOLLOW | g::AT_NO_AUTOMOUNT;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if size > elfvisor_abi::PAGE_SIZE {
        return Err(Errno::E2BIG);
    }
    if size < elfvisor_abi::system::MOUNT_ATTR_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    Err(Errno::EPERM)
}

/// `name_to_handle_at` (fs/fhandle.c): the host file system's handle, which only the host
/// kernel can open again, so it is handed to the guest as the opaque bytes it is. The
/// kernel's checks keep their order: the flags, the path, whether the file system exports
/// handles (EOPNOTSUPP), the handle's header (EFAULT), its size (EINVAL past MAX_HANDLE_SZ,
/// EOVERFLOW with the size needed written back).
pub fn name_to_handle_at(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[4] as u32;
    if flags & !(g::AT_SYMLINK_FOLLOW | g::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let follow = flags & g::AT_SYMLINK_FOLLOW != 0;
    let path = ctx.path_follow_unless(a[1], !follow)?;
    let dirfd = ctx.dirfd(a[0])?;
    let mut host_flags = 0;
    if follow {
        host_flags |= libc::AT_SYMLINK_FOLLOW;
    }
    if flags & g::AT_EMPTY_PATH != 0 {
        host_flags |= libc::AT_EMPTY_PATH;
    }
    // A header the guest cannot give is the kernel's EFAULT, in its place among the checks.
    let mut handle = ctx.copy_in::<{ hf::FileHandle::HEADER }>(a[2]).ok().map(|header| {
        let word = u32::from_le_bytes(header[..4].try_into().expect("four bytes"));
        hf::FileHandle { handle_bytes: word, handle_type: 0, bytes: [0; hf::FileHandle::MAX_BYTES] }
    });
    let mut mount_id = 0i32;
    let result = hf::name_to_handle_at(dirfd, &path, handle.as_mut(), &mut mount_id, host_flags);
    let Some(h) = handle.filter(|_| matches!(result, Ok(_) | Err(Errno::EOVERFLOW))) else {
        return result;
    };
    // On EOVERFLOW only the header goes back, with the size needed (do_sys_name_to_handle).
    let n =
        if result.is_ok() { (h.handle_bytes as usize).min(hf::FileHandle::MAX_BYTES) } else { 0 };
    let mut out = Vec::with_capacity(hf::FileHandle::HEADER + n);
    out.extend_from_slice(&h.handle_bytes.to_le_bytes());
    out.extend_from_slice(&h.handle_type.to_le_bytes());
    out.extend_from_slice(&h.bytes[..n]);
    ctx.copy_out(a[3], &mount_id.to_le_bytes())?;
    ctx.copy_out(a[2], &out)?;
    result
}

/// `open_by_handle_at` (fs/fhandle.c): a handle `name_to_handle_at` gave, opened by the host
/// kernel, which checks CAP_DAC_READ_SEARCH (EPERM), the mount's descriptor, the handle's
/// header (EFAULT) and size (EINVAL) in that order, then finds the file.
pub fn open_by_handle_at(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let mount_fd = ctx.dirfd(a[0])?;
    let flags = a[2] as u32;
    let handle = ctx.copy_in::<{ hf::FileHandle::HEADER }>(a[1]).ok().and_then(|header| {
        let handle_bytes = u32::from_le_bytes(header[..4].try_into().expect("four bytes"));
        let handle_type = i32::from_le_bytes(header[4..].try_into().expect("four bytes"));
        let mut h =
            hf::FileHandle { handle_bytes, handle_type, bytes: [0; hf::FileHandle::MAX_BYTES] };
        let n = handle_bytes as usize;
        // A size the kernel refuses needs no bytes; bytes the guest cannot give are its
        // EFAULT, which the kernel answers for a header it cannot read as well.
        if (1..=hf::FileHandle::MAX_BYTES).contains(&n) {
            let mut bytes = vec![0u8; n];
            ctx.proc
                .mm
                .read()
                .copy_in(elfvisor_abi::GuestAddr(a[1] + hf::FileHandle::HEADER as u64), &mut bytes)
                .ok()?;
            h.bytes[..n].copy_from_slice(&bytes);
        }
        Some(h)
    });
    let host_flags = crate::host::open_flags_to_host(flags) | libc::O_CLOEXEC;
    let fd = hf::open_by_handle_at(mount_fd, handle.as_ref(), host_flags)?;
    let guest = ctx.proc.fds().install_host(fd, flags & g::O_CLOEXEC != 0)?;
    Ok(guest as u64)
}
