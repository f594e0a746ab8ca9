//! The host side of system calls: errno and flag translation, and the raw host calls that take
//! pointers into guest memory. All `unsafe` FFI of the syscall layer lives here.
//!
//! Guest values (elfvisor_abi) and host values (libc) never mix outside this module: every
//! conversion is an explicit table or function below.

use std::ffi::CStr;
use std::os::fd::RawFd;

use elfvisor_abi::Errno;
use elfvisor_abi::fcntl as g;

pub mod shm;

/// Host errno → guest errno. Identical numbers on Linux hosts; the table keeps other hosts honest.
pub fn guest_errno(host: i32) -> Errno {
    macro_rules! map {
        ($($name:ident),* $(,)?) => {
            $(if host == libc::$name { return Errno::$name; })*
        };
    }
    map!(
        EPERM,
        ENOENT,
        ESRCH,
        EINTR,
        EIO,
        ENXIO,
        E2BIG,
        ENOEXEC,
        EBADF,
        ECHILD,
        EAGAIN,
        ENOMEM,
        EACCES,
        EFAULT,
        ENOTBLK,
        EBUSY,
        EEXIST,
        EXDEV,
        ENODEV,
        ENOTDIR,
        EISDIR,
        EINVAL,
        ENFILE,
        EMFILE,
        ENOTTY,
        ETXTBSY,
        EFBIG,
        ENOSPC,
        ESPIPE,
        EROFS,
        EMLINK,
        EPIPE,
        EDOM,
        ERANGE,
        EDEADLK,
        ENAMETOOLONG,
        ENOLCK,
        ENOSYS,
        ENOTEMPTY,
        ELOOP,
        ENOMSG,
        EIDRM,
        ENODATA,
        ETIME,
        ENOSR,
        EOVERFLOW,
        EILSEQ,
        EUSERS,
        ENOTSOCK,
        EDESTADDRREQ,
        EMSGSIZE,
        EPROTOTYPE,
        ENOPROTOOPT,
        EPROTONOSUPPORT,
        EOPNOTSUPP,
        EAFNOSUPPORT,
        EADDRINUSE,
        EADDRNOTAVAIL,
        ENETDOWN,
        ENETUNREACH,
        ECONNABORTED,
        ECONNRESET,
        ENOBUFS,
        EISCONN,
        ENOTCONN,
        ETIMEDOUT,
        ECONNREFUSED,
        EHOSTUNREACH,
        EALREADY,
        EINPROGRESS,
        ESTALE,
        EDQUOT,
        ECANCELED,
        EOWNERDEAD,
        ENOTRECOVERABLE,
    );
    Errno::EIO
}

/// The calling thread's last host errno, as a guest errno.
pub fn last_errno() -> Errno {
    guest_errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
}

/// Turns a host call's `-1` into the guest errno.
fn check(ret: isize) -> Result<u64, Errno> {
    if ret < 0 { Err(last_errno()) } else { Ok(ret as u64) }
}

/// Guest open flags → host open flags. Unknown bits are ignored, as Linux does for open.
pub fn open_flags_to_host(guest: u32) -> i32 {
    let pairs: [(u32, i32); 17] = [
        (g::O_WRONLY, libc::O_WRONLY),
        (g::O_RDWR, libc::O_RDWR),
        (g::O_CREAT, libc::O_CREAT),
        (g::O_EXCL, libc::O_EXCL),
        (g::O_NOCTTY, libc::O_NOCTTY),
        (g::O_TRUNC, libc::O_TRUNC),
        (g::O_APPEND, libc::O_APPEND),
        (g::O_NONBLOCK, libc::O_NONBLOCK),
        (g::O_DSYNC, libc::O_DSYNC),
        (g::O_ASYNC, libc::O_ASYNC),
        (g::O_DIRECTORY, libc::O_DIRECTORY),
        (g::O_NOFOLLOW, libc::O_NOFOLLOW),
        (g::O_DIRECT, libc::O_DIRECT),
        (g::O_NOATIME, libc::O_NOATIME),
        (g::O_CLOEXEC, libc::O_CLOEXEC),
        (g::O_PATH, libc::O_PATH),
        (g::O_SYNC & !g::O_DSYNC, libc::O_SYNC & !libc::O_DSYNC),
    ];
    let mut host = 0;
    for (guest_bit, host_bit) in pairs {
        if guest & guest_bit == guest_bit {
            host |= host_bit;
        }
    }
    if guest & g::O_TMPFILE == g::O_TMPFILE {
        host |= libc::O_TMPFILE;
    }
    host
}

/// Host status flags (F_GETFL) → guest flags.
pub fn open_flags_from_host(host: i32) -> u32 {
    let pairs: [(i32, u32); 12] = [
        (libc::O_WRONLY, g::O_WRONLY),
        (libc::O_RDWR, g::O_RDWR),
        (libc::O_APPEND, g::O_APPEND),
        (libc::O_NONBLOCK, g::O_NONBLOCK),
        (libc::O_DSYNC, g::O_DSYNC),
        (libc::O_ASYNC, g::O_ASYNC),
        (libc::O_DIRECT, g::O_DIRECT),
        (libc::O_NOATIME, g::O_NOATIME),
        (libc::O_PATH, g::O_PATH),
        (libc::O_DIRECTORY, g::O_DIRECTORY),
        (libc::O_NOFOLLOW, g::O_NOFOLLOW),
        (libc::O_LARGEFILE, g::O_LARGEFILE),
    ];
    let mut guest = 0;
    for (host_bit, guest_bit) in pairs {
        if host_bit != 0 && host & host_bit == host_bit {
            guest |= guest_bit;
        }
    }
    // Linux reports O_LARGEFILE on 64-bit; so does the aarch64 kernel.
    guest | g::O_LARGEFILE
}

/// A range of guest memory that was checked to be mapped with the access a call needs, as a
/// host pointer. Only [`GuestBuf::checked`] makes one, so every host call below that takes one
/// is safe: the kernel touches exactly that range, which lives in the guest arena.
#[derive(Debug, Clone, Copy)]
pub struct GuestBuf {
    ptr: *mut u8,
    len: usize,
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

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

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

/// `getdents64` straight into a checked, writable guest buffer: `struct linux_dirent64` has the
/// same layout on every Linux architecture.
pub fn getdents64(fd: RawFd, buf: GuestBuf) -> Result<u64, Errno> {
    // SAFETY: as for `read`.
    check(unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.ptr, buf.len) } as isize)
}

pub fn openat(dirfd: RawFd, path: &CStr, flags: i32, mode: u32) -> Result<RawFd, Errno> {
    // SAFETY: `path` is a valid NUL-terminated string.
    let fd = unsafe { libc::openat(dirfd, path.as_ptr(), flags, mode as libc::c_uint) };
    check(fd as isize).map(|fd| fd as RawFd)
}

pub fn close(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: closing a descriptor the fd table owns and has just removed.
    check(unsafe { libc::close(fd) } as isize).map(|_| ())
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

pub fn dup_min(fd: RawFd, min: RawFd, cloexec: bool) -> Result<RawFd, Errno> {
    let cmd = if cloexec { libc::F_DUPFD_CLOEXEC } else { libc::F_DUPFD };
    fcntl_int(fd, cmd, i64::from(min)).map(|v| v as RawFd)
}

pub fn pipe2(cloexec_and_flags: i32) -> Result<(RawFd, RawFd), Errno> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), cloexec_and_flags) } as isize)?;
    Ok((fds[0], fds[1]))
}

/// An `ioctl` whose argument is a checked guest buffer of at least `size` bytes.
pub fn ioctl_buf(fd: RawFd, request: u64, buf: GuestBuf, size: usize) -> Result<u64, Errno> {
    if buf.len < size {
        return Err(Errno::EFAULT);
    }
    // SAFETY: `buf` covers the request's whole argument (`size` bytes) in checked guest memory.
    check(unsafe { libc::ioctl(fd, request as libc::c_ulong, buf.ptr) } as isize)
}

pub fn path_call(result: libc::c_int) -> Result<u64, Errno> {
    check(result as isize)
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

/// `clock_gettime` / `clock_getres` for a guest clock id (the ids are the same numbers).
pub fn clock(id: i32, resolution: bool) -> Result<(i64, i64), Errno> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to fill.
    let ret = unsafe {
        if resolution { libc::clock_getres(id, &mut ts) } else { libc::clock_gettime(id, &mut ts) }
    };
    path_call(ret)?;
    Ok((ts.tv_sec, ts.tv_nsec))
}

/// Sleeps; on EINTR returns the remaining time.
pub fn clock_nanosleep(
    id: i32,
    flags: i32,
    sec: i64,
    nsec: i64,
) -> Result<(), (Errno, (i64, i64))> {
    let req = libc::timespec { tv_sec: sec, tv_nsec: nsec };
    let mut rem = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid timespecs; clock_nanosleep returns the error number instead of setting errno.
    let ret = unsafe { libc::clock_nanosleep(id, flags, &req, &mut rem) };
    if ret == 0 { Ok(()) } else { Err((guest_errno(ret), (rem.tv_sec, rem.tv_nsec))) }
}

pub fn getrandom(buf: &mut [u8], flags: u32) -> Result<u64, Errno> {
    // SAFETY: `buf` is a live, writable slice.
    check(unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), flags) })
}

pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: no pointers.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn ids() -> (u32, u32, u32, u32) {
    // SAFETY: these calls cannot fail and take no pointers.
    unsafe { (libc::getuid(), libc::geteuid(), libc::getgid(), libc::getegid()) }
}

pub fn setpgid(pid: i32, pgid: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::setpgid(pid, pgid) })
}

pub fn getpgid(pid: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::getpgid(pid) })
}

pub fn getsid(pid: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::getsid(pid) })
}

pub fn setsid() -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::setsid() })
}

/// The host's node name (for the guest's `uname`).
pub fn nodename() -> Vec<u8> {
    let mut uts = std::mem::MaybeUninit::<libc::utsname>::zeroed();
    // SAFETY: `uts` has room for a struct utsname.
    if unsafe { libc::uname(uts.as_mut_ptr()) } != 0 {
        return b"localhost".to_vec();
    }
    // SAFETY: uname succeeded and filled it; nodename is NUL-terminated.
    let uts = unsafe { uts.assume_init() };
    // SAFETY: the field is a NUL-terminated C string inside `uts`.
    unsafe { CStr::from_ptr(uts.nodename.as_ptr()) }.to_bytes().to_vec()
}

/// The calling host thread's id.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

pub fn getppid() -> u32 {
    // SAFETY: cannot fail.
    unsafe { libc::getppid() as u32 }
}

pub fn sysinfo() -> Result<libc::sysinfo, Errno> {
    let mut info = std::mem::MaybeUninit::<libc::sysinfo>::zeroed();
    // SAFETY: `info` has room for a struct sysinfo.
    path_call(unsafe { libc::sysinfo(info.as_mut_ptr()) })?;
    // SAFETY: sysinfo succeeded and filled it.
    Ok(unsafe { info.assume_init() })
}

pub fn getrlimit(resource: i32) -> Result<(u64, u64), Errno> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid rlimit to fill.
    path_call(unsafe { libc::getrlimit(resource as _, &mut lim) })?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

pub fn setrlimit(resource: i32, cur: u64, max: u64) -> Result<u64, Errno> {
    let lim = libc::rlimit { rlim_cur: cur, rlim_max: max };
    // SAFETY: `lim` is a valid rlimit.
    path_call(unsafe { libc::setrlimit(resource as _, &lim) })
}

/// Ends this host process by `sig`, the way the guest died: default disposition, no core file.
pub fn die_by_signal(sig: i32) -> ! {
    let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain libc calls with valid arguments; `raise` with the default action ends the
    // process, and `abort` covers a signal whose default action is to ignore.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(sig, libc::SIG_DFL);
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
        libc::abort();
    }
}

/// `fork(2)` of the whole emulator process (the `host` fork strategy): the child is a
/// copy-on-write copy, unicorn instance included. Returns the child's pid in the parent and 0 in
/// the child.
pub fn fork() -> Result<u32, Errno> {
    // SAFETY: the emulator runs guest code on this one thread, so the child starts with every
    // lock and allocator state consistent; it only continues the guest's system call.
    let pid = unsafe { libc::fork() };
    check(pid as isize).map(|p| p as u32)
}

/// What `wait4` reports: the pid, the raw status word, and the `struct rusage` bytes (the
/// 144-byte layout is the same for every 64-bit Linux).
pub fn wait4(pid: i32, options: i32) -> Result<(u32, i32, [u8; 144]), Errno> {
    let mut status = 0;
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `status` and `ru` are valid out-parameters.
    let got = unsafe { libc::wait4(pid, &mut status, options, ru.as_mut_ptr()) };
    check(got as isize)?;
    // SAFETY: wait4 filled (or left zeroed) the rusage; it is plain old data.
    let ru = unsafe { ru.assume_init() };
    Ok((got as u32, status, rusage_bytes(&ru)))
}

// The field types differ between hosts; the casts say what the guest gets.
#[allow(clippy::unnecessary_cast)]
fn rusage_bytes(ru: &libc::rusage) -> [u8; 144] {
    let mut out = [0u8; 144];
    let words = [
        ru.ru_utime.tv_sec,
        ru.ru_utime.tv_usec,
        ru.ru_stime.tv_sec,
        ru.ru_stime.tv_usec,
        ru.ru_maxrss,
        ru.ru_ixrss,
        ru.ru_idrss,
        ru.ru_isrss,
        ru.ru_minflt,
        ru.ru_majflt,
        ru.ru_nswap,
        ru.ru_inblock,
        ru.ru_oublock,
        ru.ru_msgsnd,
        ru.ru_msgrcv,
        ru.ru_nsignals,
        ru.ru_nvcsw,
        ru.ru_nivcsw,
    ];
    for (i, w) in words.iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&(*w as i64).to_le_bytes());
    }
    out
}

/// `waitid` through the raw system call (it takes a rusage on Linux); returns the 128-byte
/// `siginfo_t` (same layout for SIGCHLD on every 64-bit Linux) and the rusage bytes.
pub fn waitid(idtype: i32, id: u32, options: i32) -> Result<([u8; 128], [u8; 144]), Errno> {
    let mut info = [0u8; 128];
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `info` has room for a siginfo_t and `ru` for a struct rusage.
    check(unsafe {
        libc::syscall(libc::SYS_waitid, idtype, id, info.as_mut_ptr(), options, ru.as_mut_ptr())
    } as isize)?;
    // SAFETY: plain old data, zeroed or filled by the kernel.
    let ru = unsafe { ru.assume_init() };
    Ok((info, rusage_bytes(&ru)))
}

/// `kill(2)` of another process (guest pids are host pids; signal numbers are Linux's).
pub fn kill(pid: i32, sig: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    path_call(unsafe { libc::kill(pid, sig) })
}

pub fn tgkill(tgid: i32, tid: i32, sig: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) } as isize)
}

/// `rt_sigqueueinfo` with a siginfo in Linux's layout (the host's for the fields it reads).
pub fn sigqueueinfo(pid: i32, sig: i32, info: &[u8; 128]) -> Result<u64, Errno> {
    // SAFETY: `info` is 128 live bytes, the size of a siginfo_t.
    check(unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, pid, sig, info.as_ptr()) } as isize)
}

/// The process a host thread id belongs to (`/proc/<tid>/status`), if it exists.
pub fn tgid_of(tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}

/// `read(2)` into a host buffer (descriptors the emulator owns, not guest memory).
pub fn read_raw(fd: RawFd, buf: &mut [u8]) -> Result<u64, Errno> {
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    check(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

pub fn set_child_subreaper(on: bool) -> Result<u64, Errno> {
    // SAFETY: an integer-argument prctl.
    path_call(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, libc::c_ulong::from(on)) })
}

pub fn child_subreaper() -> Result<bool, Errno> {
    let mut on: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int to the pointer, which is live.
    path_call(unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut on as *mut libc::c_int) })?;
    Ok(on != 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_errno_translation() {
        assert_eq!(guest_errno(libc::ENOENT), Errno::ENOENT);
        assert_eq!(guest_errno(libc::EAGAIN), Errno::EAGAIN);
        assert_eq!(guest_errno(99999), Errno::EIO);
    }

    #[test]
    fn test_open_flags_round_trip_the_aarch64_numbering() {
        let guest = g::O_RDWR | g::O_CREAT | g::O_DIRECTORY | g::O_NOFOLLOW | g::O_CLOEXEC;
        let host = open_flags_to_host(guest);
        assert_eq!(
            host,
            libc::O_RDWR | libc::O_CREAT | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC
        );
        assert_eq!(
            open_flags_from_host(libc::O_WRONLY | libc::O_APPEND | libc::O_DIRECTORY),
            g::O_WRONLY | g::O_APPEND | g::O_DIRECTORY | g::O_LARGEFILE
        );
        assert_eq!(open_flags_to_host(g::O_TMPFILE | g::O_RDWR), libc::O_TMPFILE | libc::O_RDWR);
    }
}
