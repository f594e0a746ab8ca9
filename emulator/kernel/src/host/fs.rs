//! Host calls on descriptors and paths, and transfers between host descriptors and checked
//! guest memory ([`GuestBuf`]).

use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use elfvisor_abi::Errno;

use super::mem::GuestBuf;
use super::{check, path_call};

/// `read(2)` into checked, writable guest memory.
pub fn read(fd: RawFd, buf: GuestBuf) -> Result<u64, Errno> {
    // SAFETY: `GuestBuf` guarantees a mapped, writable range; the kernel writes at most `len`.
    check(unsafe { libc::read(fd, buf.ptr.cast(), buf.len) })
}

/// `write(2)` from checked, readable guest memory.
pub fn write(fd: RawFd, buf: GuestBuf) -> Result<u64, Errno> {
    // SAFETY: `GuestBuf` guarantees a mapped, readable range; the kernel only reads it.
    check(unsafe { libc::write(fd, buf.ptr.cast(), buf.len) })
}

pub fn pread(fd: RawFd, buf: GuestBuf, offset: i64) -> Result<u64, Errno> {
    // SAFETY: as for `read`.
    check(unsafe { libc::pread(fd, buf.ptr.cast(), buf.len, offset) })
}

pub fn pwrite(fd: RawFd, buf: GuestBuf, offset: i64) -> Result<u64, Errno> {
    // SAFETY: as for `write`.
    check(unsafe { libc::pwrite(fd, buf.ptr.cast(), buf.len, offset) })
}

/// A host iovec built from checked guest ranges.
pub type HostIovec = libc::iovec;

pub fn iovec(buf: GuestBuf) -> HostIovec {
    libc::iovec { iov_base: buf.ptr.cast(), iov_len: buf.len }
}

/// `readv`/`preadv` (offset `None` → `readv`) into checked, writable guest ranges.
pub fn readv(fd: RawFd, iov: &[HostIovec], offset: Option<i64>) -> Result<u64, Errno> {
    let count = i32::try_from(iov.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: every iovec covers guest memory checked writable by the caller; `iov` is a live
    // slice of `count` entries.
    check(unsafe {
        match offset {
            None => libc::readv(fd, iov.as_ptr(), count),
            Some(off) => libc::preadv(fd, iov.as_ptr(), count, off),
        }
    })
}

/// `writev`/`pwritev` from checked, readable guest ranges.
pub fn writev(fd: RawFd, iov: &[HostIovec], offset: Option<i64>) -> Result<u64, Errno> {
    let count = i32::try_from(iov.len()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: as for `readv`, with readable ranges the kernel only reads.
    check(unsafe {
        match offset {
            None => libc::writev(fd, iov.as_ptr(), count),
            Some(off) => libc::pwritev(fd, iov.as_ptr(), count, off),
        }
    })
}

/// `preadv2` (`write` false) or `pwritev2` with the guest's `RWF_*` flags; offset `-1` uses
/// the file position.
pub fn rw_v2(
    write: bool,
    fd: RawFd,
    iov: &[HostIovec],
    offset: i64,
    flags: u32,
) -> Result<u64, Errno> {
    let nr = if write { libc::SYS_pwritev2 } else { libc::SYS_preadv2 };
    // SAFETY: as for `readv`/`writev`: every iovec covers guest memory checked by the caller.
    check(unsafe { libc::syscall(nr, fd, iov.as_ptr(), iov.len(), offset, 0, flags) } as isize)
}

/// `getdents64` straight into a checked, writable guest buffer: `struct linux_dirent64` has the
/// same layout on every Linux architecture.
pub fn getdents64(fd: RawFd, buf: GuestBuf) -> Result<u64, Errno> {
    // SAFETY: as for `read`.
    check(unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.ptr, buf.len) } as isize)
}

pub fn openat(dirfd: RawFd, path: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: `path` is a valid NUL-terminated string.
    let fd = unsafe { libc::openat(dirfd, path.as_ptr(), flags, mode as libc::c_uint) };
    check(fd as isize).map(|fd| owned(fd as RawFd))
}

/// `openat2` with host open flags and the guest's mode and resolve bits (the same numbers on
/// both sides).
pub fn openat2(
    dirfd: RawFd,
    path: &CStr,
    flags: i32,
    mode: u64,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let how: [u64; 3] = [flags as u32 as u64, mode, resolve];
    // SAFETY: a NUL-terminated path and a live 24-byte `struct open_how`.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            how.as_ptr(),
            std::mem::size_of_val(&how),
        )
    };
    check(fd as isize).map(|fd| owned(fd as RawFd))
}

/// A descriptor a host call just created, which nothing else owns.
pub(super) fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: every caller passes a descriptor the host call it made just returned.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

pub fn lseek(fd: RawFd, offset: i64, whence: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::lseek(fd, offset, whence) } as isize)
}

/// The host `fstatat`, converted to the guest's `struct stat`.
pub fn fstatat(dirfd: RawFd, path: &CStr, flags: i32) -> Result<elfvisor_abi::fcntl::Stat, Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `path` is NUL-terminated and `st` has room for a `struct stat`.
    check(unsafe { libc::fstatat(dirfd, path.as_ptr(), st.as_mut_ptr(), flags) } as isize)?;
    // SAFETY: fstatat succeeded, so it filled `st`.
    let st = unsafe { st.assume_init() };
    Ok(guest_stat(&st))
}

fn guest_stat(st: &libc::stat) -> elfvisor_abi::fcntl::Stat {
    elfvisor_abi::fcntl::Stat {
        dev: st.st_dev,
        ino: st.st_ino,
        mode: st.st_mode,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev,
        size: st.st_size,
        blksize: st.st_blksize as i32,
        blocks: st.st_blocks,
        atime: (st.st_atime, st.st_atime_nsec as u64),
        mtime: (st.st_mtime, st.st_mtime_nsec as u64),
        ctime: (st.st_ctime, st.st_ctime_nsec as u64),
    }
}

/// The host `statx` into a guest buffer of 256 bytes: `struct statx` is architecture-neutral.
pub fn statx(dirfd: RawFd, path: &CStr, flags: i32, mask: u32) -> Result<[u8; 256], Errno> {
    let mut buf = [0u8; 256];
    // SAFETY: `path` is NUL-terminated; `buf` has room for a `struct statx` (256 bytes).
    check(unsafe {
        libc::syscall(libc::SYS_statx, dirfd, path.as_ptr(), flags, mask, buf.as_mut_ptr())
    } as isize)?;
    Ok(buf)
}

pub fn fcntl_int(fd: RawFd, cmd: i32, arg: i64) -> Result<u64, Errno> {
    // SAFETY: only integer-argument commands reach here.
    check(unsafe { libc::fcntl(fd, cmd, arg) } as isize)
}

/// An `fcntl` whose argument is a checked guest `struct flock` (readable and writable).
pub fn fcntl_ptr(fd: RawFd, cmd: i32, buf: GuestBuf) -> Result<u64, Errno> {
    if buf.len < 32 {
        return Err(Errno::EFAULT);
    }
    // SAFETY: `buf` covers a whole `struct flock` (32 bytes) of checked guest memory.
    check(unsafe { libc::fcntl(fd, cmd, buf.ptr) } as isize)
}

/// The host's `fcntl` commands the libc crate does not name on x86_64 (asm-generic values).
pub const HOST_F_SETSIG: i32 = 10;
pub const HOST_F_GETSIG: i32 = 11;
const HOST_F_SETOWN_EX: i32 = 15;
const HOST_F_GETOWN_EX: i32 = 16;

/// `F_GETOWN_EX` (`get`) or `F_SETOWN_EX` on a checked guest `struct f_owner_ex`
/// (`{ int type; pid_t pid; }`, 8 bytes on both sides).
pub fn fcntl_owner_ex(fd: RawFd, get: bool, buf: GuestBuf) -> Result<u64, Errno> {
    if buf.len < 8 {
        return Err(Errno::EFAULT);
    }
    let cmd = if get { HOST_F_GETOWN_EX } else { HOST_F_SETOWN_EX };
    // SAFETY: `buf` covers a whole `struct f_owner_ex` of checked guest memory, writable for
    // the query and readable for the set.
    check(unsafe { libc::fcntl(fd, cmd, buf.ptr) } as isize)
}

pub fn dup_min(fd: RawFd, min: RawFd, cloexec: bool) -> Result<OwnedFd, Errno> {
    let cmd = if cloexec { libc::F_DUPFD_CLOEXEC } else { libc::F_DUPFD };
    fcntl_int(fd, cmd, i64::from(min)).map(|v| owned(v as RawFd))
}

pub fn pipe2(cloexec_and_flags: i32) -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), cloexec_and_flags) } as isize)?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// An `ioctl` whose argument is a value, not a pointer.
pub fn ioctl_value(fd: RawFd, request: u64, arg: u64) -> Result<u64, Errno> {
    // SAFETY: the request takes its argument by value; no memory is passed.
    check(unsafe { libc::ioctl(fd, request as libc::c_ulong, arg as libc::c_ulong) } as isize)
}

/// `TIOCGPTPEER` on a pty master: a new descriptor on its peer, opened with host `flags`.
pub fn open_pty_peer(fd: RawFd, flags: i32) -> Result<OwnedFd, Errno> {
    ioctl_value(fd, libc::TIOCGPTPEER, flags as u64).map(|v| owned(v as RawFd))
}

/// An `ioctl` whose argument is a checked guest buffer of at least `size` bytes.
pub fn ioctl_buf(fd: RawFd, request: u64, buf: GuestBuf, size: usize) -> Result<u64, Errno> {
    if buf.len < size {
        return Err(Errno::EFAULT);
    }
    // SAFETY: `buf` covers the request's whole argument (`size` bytes) in checked guest memory.
    check(unsafe { libc::ioctl(fd, request as libc::c_ulong, buf.ptr) } as isize)
}

pub fn unlinkat(dirfd: RawFd, path: &CStr, flags: i32) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated path.
    path_call(unsafe { libc::unlinkat(dirfd, path.as_ptr(), flags) })
}

pub fn mkdirat(dirfd: RawFd, path: &CStr, mode: u32) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated path.
    path_call(unsafe { libc::mkdirat(dirfd, path.as_ptr(), mode as libc::mode_t) })
}

pub fn mknodat(dirfd: RawFd, path: &CStr, mode: u32, dev: u64) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated path.
    path_call(unsafe {
        libc::mknodat(dirfd, path.as_ptr(), mode as libc::mode_t, dev as libc::dev_t)
    })
}

pub fn symlinkat(target: &CStr, dirfd: RawFd, path: &CStr) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated paths.
    path_call(unsafe { libc::symlinkat(target.as_ptr(), dirfd, path.as_ptr()) })
}

pub fn linkat(
    olddir: RawFd,
    old: &CStr,
    newdir: RawFd,
    new: &CStr,
    flags: i32,
) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated paths.
    path_call(unsafe { libc::linkat(olddir, old.as_ptr(), newdir, new.as_ptr(), flags) })
}

pub fn renameat2(
    olddir: RawFd,
    old: &CStr,
    newdir: RawFd,
    new: &CStr,
    flags: u32,
) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated paths.
    check(unsafe {
        libc::syscall(libc::SYS_renameat2, olddir, old.as_ptr(), newdir, new.as_ptr(), flags)
    } as isize)
}

pub fn readlinkat(dirfd: RawFd, path: &CStr) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 4096];
    // SAFETY: NUL-terminated path; `buf` has `buf.len()` bytes of room.
    let n = check(unsafe {
        libc::readlinkat(dirfd, path.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
    })?;
    buf.truncate(n as usize);
    Ok(buf)
}

pub fn faccessat(dirfd: RawFd, path: &CStr, mode: i32, flags: i32) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated path.
    path_call(unsafe { libc::faccessat(dirfd, path.as_ptr(), mode, flags) })
}

pub fn fchmodat(dirfd: RawFd, path: &CStr, mode: u32) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated path.
    path_call(unsafe { libc::fchmodat(dirfd, path.as_ptr(), mode as libc::mode_t, 0) })
}

pub fn fchmod(fd: RawFd, mode: u32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::fchmod(fd, mode as libc::mode_t) })
}

pub fn sync() {
    // SAFETY: no arguments; cannot fail.
    unsafe { libc::sync() }
}

pub fn ftruncate(fd: RawFd, len: i64) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::ftruncate(fd, len) })
}

pub fn truncate(path: &CStr, len: i64) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated path.
    path_call(unsafe { libc::truncate(path.as_ptr(), len) })
}

pub fn fsync(fd: RawFd, data_only: bool) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { if data_only { libc::fdatasync(fd) } else { libc::fsync(fd) } })
}

pub fn chdir(path: &CStr) -> Result<u64, Errno> {
    // SAFETY: NUL-terminated path.
    path_call(unsafe { libc::chdir(path.as_ptr()) })
}

pub fn fchdir(fd: RawFd) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::fchdir(fd) })
}

pub fn umask(mask: u32) -> u32 {
    // SAFETY: no pointers; umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// `ppoll` over host descriptors (`i32::MAX` stands for a guest fd that is not open: the host
/// reports POLLNVAL for it); returns the ready count and each entry's revents.
pub fn ppoll(
    polls: &[(RawFd, i16)],
    timeout: Option<(i64, i64)>,
) -> Result<(u64, Vec<i16>), Errno> {
    let mut fds: Vec<libc::pollfd> =
        polls.iter().map(|&(fd, events)| libc::pollfd { fd, events, revents: 0 }).collect();
    let ts = timeout.map(|(sec, nsec)| libc::timespec { tv_sec: sec, tv_nsec: nsec });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a live array of `fds.len()` pollfds; `ts_ptr` is null or points at `ts`,
    // which lives until the call returns; no signal mask is passed.
    let n = check(unsafe {
        libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ts_ptr, std::ptr::null())
    } as isize)?;
    Ok((n, fds.iter().map(|p| p.revents).collect()))
}

/// Whether the host lets this process execute `path`.
pub fn can_execute(path: &CStr) -> Result<(), Errno> {
    // SAFETY: NUL-terminated path.
    path_call(unsafe { libc::access(path.as_ptr(), libc::X_OK) }).map(|_| ())
}
