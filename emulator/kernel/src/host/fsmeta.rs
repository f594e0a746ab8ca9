//! File metadata and file-system calls beyond open/stat: times, owners, file-system
//! statistics, advisory `flock` locks, space allocation and write-back hints. Raw system calls,
//! so `NULL` paths and the kernel's own argument checks reach the host unchanged.

use std::ffi::CStr;
use std::os::fd::RawFd;

use elfvisor_abi::Errno;
use elfvisor_abi::fcntl::Statfs;

use super::check;

fn path_ptr(path: Option<&CStr>) -> libc::c_long {
    path.map_or(0, |p| p.as_ptr() as libc::c_long)
}

/// `utimensat` with host `AT_*` flags; `times` holds (seconds, nanoseconds) pairs, with the
/// `UTIME_NOW`/`UTIME_OMIT` nanosecond values Linux uses on every architecture.
pub fn utimensat(
    dirfd: RawFd,
    path: Option<&CStr>,
    times: Option<[(i64, i64); 2]>,
    flags: i32,
) -> Result<u64, Errno> {
    let ts = times.map(|t| t.map(|(sec, nsec)| libc::timespec { tv_sec: sec, tv_nsec: nsec }));
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: `path` is null or a live C string, `ts_ptr` null or two live timespecs.
    let r = unsafe { libc::syscall(libc::SYS_utimensat, dirfd, path_ptr(path), ts_ptr, flags) };
    check(r as isize)
}

pub fn fchown(fd: RawFd, uid: u32, gid: u32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(libc::SYS_fchown, fd, uid, gid) } as isize)
}

pub fn fchownat(dirfd: RawFd, path: &CStr, uid: u32, gid: u32, flags: i32) -> Result<u64, Errno> {
    // SAFETY: `path` is a live C string.
    check(unsafe { libc::syscall(libc::SYS_fchownat, dirfd, path.as_ptr(), uid, gid, flags) }
        as isize)
}

/// `struct file_handle` with room for the largest handle (MAX_HANDLE_SZ, 128 bytes): the
/// same layout on every architecture (two 32-bit words, then the opaque bytes).
#[repr(C)]
pub struct FileHandle {
    pub handle_bytes: u32,
    pub handle_type: i32,
    pub bytes: [u8; FileHandle::MAX_BYTES],
}

impl FileHandle {
    pub const MAX_BYTES: usize = 128;
    pub const HEADER: usize = 8;
}

/// `name_to_handle_at`; `handle` None hands the kernel a null pointer (it answers EFAULT where
/// it reads the handle, after its own checks of the flags and the path). The mount id comes
/// back through `mount_id`, written by the kernel on success and on EOVERFLOW.
pub fn name_to_handle_at(
    dirfd: RawFd,
    path: &CStr,
    handle: Option<&mut FileHandle>,
    mount_id: &mut i32,
    flags: i32,
) -> Result<u64, Errno> {
    let h = handle.map_or(std::ptr::null_mut(), |h| h as *mut FileHandle);
    // SAFETY: `path` is a live C string; `h` null or a live FileHandle with room for the
    // largest handle (the kernel writes at most handle_bytes <= MAX_HANDLE_SZ bytes after the
    // header, and refuses a larger handle_bytes before writing); `mount_id` a live int.
    let r = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            dirfd,
            path.as_ptr(),
            h,
            mount_id as *mut i32,
            flags,
        )
    };
    check(r as isize)
}

/// `open_by_handle_at` with host open flags; `handle` None hands the kernel a null pointer.
pub fn open_by_handle_at(
    mount_fd: RawFd,
    handle: Option<&FileHandle>,
    flags: i32,
) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::FromRawFd;
    let h = handle.map_or(std::ptr::null(), |h| h as *const FileHandle);
    // SAFETY: `h` null or a live FileHandle whose handle_bytes the kernel checks against
    // MAX_HANDLE_SZ, the room the struct has, before reading the bytes.
    let r = unsafe { libc::syscall(libc::SYS_open_by_handle_at, mount_fd, h, flags) };
    let fd = check(r as isize)?;
    // SAFETY: a descriptor the kernel just opened for this process.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The host kernel's `struct statfs` (64-bit words on x86_64 and aarch64 alike; the libc
/// crate's hides `f_flags` in its spare words).
#[repr(C)]
#[derive(Default)]
struct HostStatfs {
    f_type: i64,
    f_bsize: i64,
    f_blocks: u64,
    f_bfree: u64,
    f_bavail: u64,
    f_files: u64,
    f_ffree: u64,
    f_fsid: [i32; 2],
    f_namelen: i64,
    f_frsize: i64,
    f_flags: i64,
    f_spare: [i64; 4],
}

fn guest_statfs(s: &HostStatfs) -> Statfs {
    Statfs {
        f_type: s.f_type,
        f_bsize: s.f_bsize,
        f_blocks: s.f_blocks,
        f_bfree: s.f_bfree,
        f_bavail: s.f_bavail,
        f_files: s.f_files,
        f_ffree: s.f_ffree,
        f_fsid: s.f_fsid,
        f_namelen: s.f_namelen,
        f_frsize: s.f_frsize,
        f_flags: s.f_flags,
    }
}

pub fn statfs(path: &CStr) -> Result<Statfs, Errno> {
    let mut s = HostStatfs::default();
    // SAFETY: `path` is a live C string and `s` a struct statfs.
    check(unsafe { libc::syscall(libc::SYS_statfs, path.as_ptr(), &raw mut s) } as isize)?;
    Ok(guest_statfs(&s))
}

pub fn fstatfs(fd: RawFd) -> Result<Statfs, Errno> {
    let mut s = HostStatfs::default();
    // SAFETY: `s` is a struct statfs.
    check(unsafe { libc::syscall(libc::SYS_fstatfs, fd, &raw mut s) } as isize)?;
    Ok(guest_statfs(&s))
}

/// A call on a descriptor with integer arguments only (`flock`, `fallocate`,
/// `sync_file_range`, `syncfs`, `fadvise64`, `readahead`): their operation, mode, advice and
/// flag values are Linux's own numbers on both sides, and the host checks them.
pub fn fd_call(nr: libc::c_long, fd: RawFd, a: [u64; 3]) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(nr, fd, a[0], a[1], a[2]) } as isize)
}

/// What an extended-attribute call acts on: a path (following a final symlink or not) or a
/// descriptor.
#[derive(Debug, Clone, Copy)]
pub enum XattrTarget<'a> {
    Path(&'a CStr),
    Link(&'a CStr),
    Fd(RawFd),
}

/// `getxattr`/`lgetxattr`/`fgetxattr` into `buf` (empty: ask for the size).
pub fn getxattr(target: XattrTarget<'_>, name: &CStr, buf: &mut [u8]) -> Result<u64, Errno> {
    let (ptr, len) = (buf.as_mut_ptr().cast(), buf.len());
    // SAFETY: live C strings, and `buf` is writable for `len` bytes.
    let r = unsafe {
        match target {
            XattrTarget::Path(p) => libc::getxattr(p.as_ptr(), name.as_ptr(), ptr, len),
            XattrTarget::Link(p) => libc::lgetxattr(p.as_ptr(), name.as_ptr(), ptr, len),
            XattrTarget::Fd(fd) => libc::fgetxattr(fd, name.as_ptr(), ptr, len),
        }
    };
    check(r)
}

/// `setxattr`/`lsetxattr`/`fsetxattr` (`XATTR_CREATE`/`XATTR_REPLACE` are the same numbers).
pub fn setxattr(
    target: XattrTarget<'_>,
    name: &CStr,
    value: &[u8],
    flags: i32,
) -> Result<u64, Errno> {
    let (ptr, len) = (value.as_ptr().cast(), value.len());
    // SAFETY: live C strings, and `value` is readable for `len` bytes.
    let r = unsafe {
        match target {
            XattrTarget::Path(p) => libc::setxattr(p.as_ptr(), name.as_ptr(), ptr, len, flags),
            XattrTarget::Link(p) => libc::lsetxattr(p.as_ptr(), name.as_ptr(), ptr, len, flags),
            XattrTarget::Fd(fd) => libc::fsetxattr(fd, name.as_ptr(), ptr, len, flags),
        }
    };
    check(r as isize)
}

/// `listxattr`/`llistxattr`/`flistxattr` into `buf` (empty: ask for the size).
pub fn listxattr(target: XattrTarget<'_>, buf: &mut [u8]) -> Result<u64, Errno> {
    let (ptr, len) = (buf.as_mut_ptr().cast(), buf.len());
    // SAFETY: live C strings, and `buf` is writable for `len` bytes.
    let r = unsafe {
        match target {
            XattrTarget::Path(p) => libc::listxattr(p.as_ptr(), ptr, len),
            XattrTarget::Link(p) => libc::llistxattr(p.as_ptr(), ptr, len),
            XattrTarget::Fd(fd) => libc::flistxattr(fd, ptr, len),
        }
    };
    check(r)
}

/// `removexattr`/`lremovexattr`/`fremovexattr`.
pub fn removexattr(target: XattrTarget<'_>, name: &CStr) -> Result<u64, Errno> {
    // SAFETY: live C strings.
    let r = unsafe {
        match target {
            XattrTarget::Path(p) => libc::removexattr(p.as_ptr(), name.as_ptr()),
            XattrTarget::Link(p) => libc::lremovexattr(p.as_ptr(), name.as_ptr()),
            XattrTarget::Fd(fd) => libc::fremovexattr(fd, name.as_ptr()),
        }
    };
    check(r as isize)
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_host_statfs_is_the_kernels_size() {
        assert_eq!(std::mem::size_of::<super::HostStatfs>(), 120);
    }
}
