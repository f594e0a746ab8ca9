//! Files and descriptors: open/close, read/write and their vector and positional forms, seek,
//! stat, fcntl, dup, pipes, directories, links, terminal ioctls.

use elfvisor_abi::fcntl as g;
use elfvisor_abi::{Errno, GuestAddr, Prot};

use super::ctx::{Ctx, SysResult};
use crate::fdtable::FdEntry;
use crate::host;

/// Linux's IOV_MAX.
const UIO_MAXIOV: u64 = 1024;
/// Linux's MAX_RW_COUNT (`INT_MAX & PAGE_MASK`): no single read or write moves more.
const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// A read or write count as Linux's vfs_read/vfs_write clamp it.
fn rw_count(count: u64) -> usize {
    count.min(MAX_RW_COUNT) as usize
}

pub fn openat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let dirfd = ctx.dirfd(a[0])?;
    let path = ctx.path(a[1])?;
    let flags = a[2] as u32;
    if super::procfs::is_own_maps(path.as_bytes(), ctx.proc.pid()) {
        return super::procfs::open_maps(ctx, flags);
    }
    let host_flags = host::open_flags_to_host(flags) | libc::O_CLOEXEC;
    let fd = host::openat(dirfd, &path, host_flags, (a[3] as u32) & 0o7777)?;
    let guest = ctx.proc.fds().install_host(fd, flags & g::O_CLOEXEC != 0)?;
    if flags & g::O_TRUNC != 0 {
        super::sys_mmap::file_resized(ctx);
    }
    Ok(guest as u64)
}

pub fn close(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    ctx.proc.fds().close(i64::from(a[0] as i32)).map(|_| 0)
}

pub fn read(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let buf = ctx.buffer(a[1], rw_count(a[2]), Prot::WRITE)?;
    host::read(fd, buf)
}

/// A write to a pipe or socket without readers also raises SIGPIPE in the writer (pipe(7));
/// the emulator itself ignores the host's SIGPIPE, so it is raised here, in the guest.
fn broken_pipe(ctx: &mut Ctx<'_>, result: SysResult) -> SysResult {
    if result == Err(Errno::EPIPE) {
        let info = crate::signal::info::SigInfo {
            signo: elfvisor_abi::Signo::SIGPIPE,
            code: crate::signal::info::SI_USER,
            detail: crate::signal::info::Detail::Sender { pid: ctx.proc.pid(), uid: host::ids().0 },
        };
        crate::signal::delivery::send(ctx.proc, info);
    }
    result
}

pub fn write(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let buf = ctx.buffer(a[1], rw_count(a[2]), Prot::READ)?;
    let result = host::write(fd, buf);
    broken_pipe(ctx, result)
}

pub fn pread64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let buf = ctx.buffer(a[1], rw_count(a[2]), Prot::WRITE)?;
    host::pread(fd, buf, a[3] as i64)
}

pub fn pwrite64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    if (a[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let buf = ctx.buffer(a[1], rw_count(a[2]), Prot::READ)?;
    host::pwrite(fd, buf, a[3] as i64)
}

/// Reads a guest iovec array and turns it into checked host iovecs.
fn iovecs(ctx: &Ctx<'_>, addr: u64, count: u64, need: Prot) -> Result<Vec<host::HostIovec>, Errno> {
    if count > UIO_MAXIOV || (count as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; count as usize * 16];
    ctx.proc.mm.read().copy_in(GuestAddr(addr), &mut raw)?;
    let mut out = Vec::with_capacity(count as usize);
    let mut total: u64 = 0;
    for chunk in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(chunk[..8].try_into().expect("8 bytes"));
        let len = u64::from_le_bytes(chunk[8..].try_into().expect("8 bytes"));
        total = total.checked_add(len).filter(|t| *t <= i64::MAX as u64).ok_or(Errno::EINVAL)?;
        if len == 0 {
            continue;
        }
        let buf = ctx.buffer(base, len as usize, need)?;
        out.push(host::iovec(buf));
        if buf.len() < len as usize {
            break; // Like Linux: transfer up to the first inaccessible byte.
        }
    }
    Ok(out)
}

pub fn readv(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let iov = iovecs(ctx, a[1], a[2], Prot::WRITE)?;
    host::readv(fd, &iov, None)
}

pub fn writev(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let iov = iovecs(ctx, a[1], a[2], Prot::READ)?;
    let result = host::writev(fd, &iov, None);
    broken_pipe(ctx, result)
}

pub fn preadv(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let iov = iovecs(ctx, a[1], a[2], Prot::WRITE)?;
    host::readv(fd, &iov, Some(a[3] as i64))
}

pub fn pwritev(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let iov = iovecs(ctx, a[1], a[2], Prot::READ)?;
    host::writev(fd, &iov, Some(a[3] as i64))
}

pub fn lseek(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let whence = match a[2] as u32 {
        g::SEEK_SET => libc::SEEK_SET,
        g::SEEK_CUR => libc::SEEK_CUR,
        g::SEEK_END => libc::SEEK_END,
        g::SEEK_DATA => libc::SEEK_DATA,
        g::SEEK_HOLE => libc::SEEK_HOLE,
        _ => return Err(Errno::EINVAL),
    };
    host::lseek(fd, a[1] as i64, whence)
}

/// Guest `AT_*` flags for the stat family → host flags; unknown bits are EINVAL.
fn at_flags(flags: u32) -> Result<i32, Errno> {
    let known =
        g::AT_SYMLINK_NOFOLLOW | g::AT_NO_AUTOMOUNT | g::AT_EMPTY_PATH | g::AT_STATX_SYNC_TYPE;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let mut host = 0;
    if flags & g::AT_SYMLINK_NOFOLLOW != 0 {
        host |= libc::AT_SYMLINK_NOFOLLOW;
    }
    if flags & g::AT_NO_AUTOMOUNT != 0 {
        host |= libc::AT_NO_AUTOMOUNT;
    }
    if flags & g::AT_EMPTY_PATH != 0 {
        host |= libc::AT_EMPTY_PATH;
    }
    Ok(host | (flags & g::AT_STATX_SYNC_TYPE) as i32)
}

pub fn fstat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let st = host::fstatat(fd, c"", libc::AT_EMPTY_PATH)?;
    ctx.copy_out(a[1], &st.to_bytes())?;
    Ok(0)
}

pub fn newfstatat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let dirfd = ctx.dirfd(a[0])?;
    let path = ctx.path(a[1])?;
    let st = host::fstatat(dirfd, &path, at_flags(a[3] as u32)?)?;
    ctx.copy_out(a[2], &st.to_bytes())?;
    Ok(0)
}

pub fn statx(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let dirfd = ctx.dirfd(a[0])?;
    let path = ctx.path(a[1])?;
    let buf = host::statx(dirfd, &path, at_flags(a[2] as u32)?, a[3] as u32)?;
    ctx.copy_out(a[4], &buf)?;
    Ok(0)
}

pub fn fcntl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = i64::from(a[0] as i32);
    let entry = ctx.proc.fds().get(fd)?.clone();
    match a[1] as u32 {
        cmd @ (g::F_DUPFD | g::F_DUPFD_CLOEXEC) => {
            let min = usize::try_from(a[2] as i32).map_err(|_| Errno::EINVAL)?;
            if min >= ctx.proc.fds().limit() {
                return Err(Errno::EINVAL);
            }
            let cloexec = cmd == g::F_DUPFD_CLOEXEC;
            ctx.proc.fds().install(FdEntry { cloexec, ..entry }, min).map(|fd| fd as u64)
        }
        g::F_GETFD => Ok(u64::from(entry.cloexec) * u64::from(g::FD_CLOEXEC)),
        g::F_SETFD => {
            ctx.proc.fds().get_mut(fd)?.cloexec = a[2] as u32 & g::FD_CLOEXEC != 0;
            Ok(0)
        }
        g::F_GETFL => {
            let host = host::fcntl_int(entry.raw(), libc::F_GETFL, 0)?;
            Ok(u64::from(host::open_flags_from_host(host as i32)))
        }
        g::F_SETFL => {
            let settable = g::O_APPEND | g::O_NONBLOCK | g::O_ASYNC | g::O_DIRECT | g::O_NOATIME;
            let flags = host::open_flags_to_host(a[2] as u32 & settable);
            host::fcntl_int(entry.raw(), libc::F_SETFL, i64::from(flags))
        }
        cmd @ (g::F_GETLK
        | g::F_SETLK
        | g::F_SETLKW
        | g::F_OFD_GETLK
        | g::F_OFD_SETLK
        | g::F_OFD_SETLKW) => {
            // struct flock has the same 32-byte layout on aarch64 and x86_64 Linux.
            let buf = ctx.buffer(a[2], 32, Prot::RW)?;
            let host_cmd = match cmd {
                g::F_GETLK => libc::F_GETLK,
                g::F_SETLK => libc::F_SETLK,
                g::F_SETLKW => libc::F_SETLKW,
                g::F_OFD_GETLK => libc::F_OFD_GETLK,
                g::F_OFD_SETLK => libc::F_OFD_SETLK,
                _ => libc::F_OFD_SETLKW,
            };
            host::fcntl_ptr(entry.raw(), host_cmd, buf)
        }
        g::F_GETPIPE_SZ => host::fcntl_int(entry.raw(), libc::F_GETPIPE_SZ, 0),
        g::F_SETPIPE_SZ => host::fcntl_int(entry.raw(), libc::F_SETPIPE_SZ, a[2] as i64),
        g::F_GET_SEALS => host::fcntl_int(entry.raw(), libc::F_GET_SEALS, 0),
        g::F_ADD_SEALS => host::fcntl_int(entry.raw(), libc::F_ADD_SEALS, a[2] as i64),
        _ => Err(Errno::EINVAL),
    }
}

pub fn dup(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let entry = ctx.proc.fds().get(i64::from(a[0] as i32))?.clone();
    ctx.proc.fds().install(FdEntry { cloexec: false, ..entry }, 0).map(|fd| fd as u64)
}

pub fn dup3(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (old, new, flags) = (a[0] as i32, a[1] as i32, a[2] as u32);
    if flags & !g::O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let entry = ctx.proc.fds().get(i64::from(old))?.clone();
    if old == new {
        return Err(Errno::EINVAL);
    }
    let new = usize::try_from(new).map_err(|_| Errno::EBADF)?;
    ctx.proc.fds().install_at(new, FdEntry { cloexec: flags & g::O_CLOEXEC != 0, ..entry })?;
    Ok(new as u64)
}

pub fn pipe2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[1] as u32;
    if flags & !(g::O_CLOEXEC | g::O_NONBLOCK | g::O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    // Fault before creating anything, so nothing needs undoing.
    ctx.copy_out(a[0], &[0u8; 8])?;
    let host_flags =
        libc::O_CLOEXEC | host::open_flags_to_host(flags & (g::O_NONBLOCK | g::O_DIRECT));
    let (r, w) = host::pipe2(host_flags)?;
    let cloexec = flags & g::O_CLOEXEC != 0;
    let gr = ctx.proc.fds().install_host(r, cloexec);
    let gw = ctx.proc.fds().install_host(w, cloexec);
    match (gr, gw) {
        (Ok(gr), Ok(gw)) => {
            let mut out = [0u8; 8];
            out[..4].copy_from_slice(&(gr as i32).to_le_bytes());
            out[4..].copy_from_slice(&(gw as i32).to_le_bytes());
            ctx.copy_out(a[0], &out)?;
            Ok(0)
        }
        (gr, gw) => {
            for fd in [gr, gw].into_iter().flatten() {
                let _ = ctx.proc.fds().close(fd as i64);
            }
            Err(Errno::EMFILE)
        }
    }
}

pub fn getdents64(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let buf = ctx.buffer(a[1], a[2] as u32 as usize, Prot::WRITE)?;
    host::getdents64(fd, buf)
}

pub fn unlinkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[2] as u32;
    if flags & !g::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let dirfd = ctx.dirfd(a[0])?;
    let path = ctx.path(a[1])?;
    host::unlinkat(dirfd, &path, if flags != 0 { libc::AT_REMOVEDIR } else { 0 })
}

pub fn renameat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    renameat2(ctx, &[a[0], a[1], a[2], a[3], 0, 0])
}

pub fn renameat2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[4] as u32;
    if flags & !(g::RENAME_NOREPLACE | g::RENAME_EXCHANGE | g::RENAME_WHITEOUT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (olddir, old) = (ctx.dirfd(a[0])?, ctx.path(a[1])?);
    let (newdir, new) = (ctx.dirfd(a[2])?, ctx.path(a[3])?);
    host::renameat2(olddir, &old, newdir, &new, flags)
}

pub fn mkdirat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (dirfd, path) = (ctx.dirfd(a[0])?, ctx.path(a[1])?);
    host::mkdirat(dirfd, &path, a[2] as u32 & 0o7777)
}

pub fn mknodat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (dirfd, path) = (ctx.dirfd(a[0])?, ctx.path(a[1])?);
    host::mknodat(dirfd, &path, a[2] as u32, a[3])
}

pub fn symlinkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let target = ctx.path(a[0])?;
    let (dirfd, path) = (ctx.dirfd(a[1])?, ctx.path(a[2])?);
    host::symlinkat(&target, dirfd, &path)
}

pub fn linkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[4] as u32;
    if flags & !(g::AT_SYMLINK_FOLLOW | g::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let mut host_flags = 0;
    if flags & g::AT_SYMLINK_FOLLOW != 0 {
        host_flags |= libc::AT_SYMLINK_FOLLOW;
    }
    if flags & g::AT_EMPTY_PATH != 0 {
        host_flags |= libc::AT_EMPTY_PATH;
    }
    let (olddir, old) = (ctx.dirfd(a[0])?, ctx.path(a[1])?);
    let (newdir, new) = (ctx.dirfd(a[2])?, ctx.path(a[3])?);
    host::linkat(olddir, &old, newdir, &new, host_flags)
}

pub fn truncate(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let path = ctx.path(a[0])?;
    let r = host::truncate(&path, a[1] as i64)?;
    super::sys_mmap::file_resized(ctx);
    Ok(r)
}

pub fn ftruncate(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let r = host::ftruncate(fd, a[1] as i64)?;
    super::sys_mmap::file_resized(ctx);
    Ok(r)
}

fn access_mode(mode: u64) -> Result<i32, Errno> {
    if mode & !0o7 != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(mode as i32)
}

pub fn faccessat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (dirfd, path) = (ctx.dirfd(a[0])?, ctx.path(a[1])?);
    host::faccessat(dirfd, &path, access_mode(a[2])?, 0)
}

pub fn faccessat2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[3] as u32;
    if flags & !(g::AT_EACCESS | g::AT_SYMLINK_NOFOLLOW | g::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let mut host_flags = 0;
    if flags & g::AT_EACCESS != 0 {
        host_flags |= libc::AT_EACCESS;
    }
    if flags & g::AT_SYMLINK_NOFOLLOW != 0 {
        host_flags |= libc::AT_SYMLINK_NOFOLLOW;
    }
    if flags & g::AT_EMPTY_PATH != 0 {
        host_flags |= libc::AT_EMPTY_PATH;
    }
    let (dirfd, path) = (ctx.dirfd(a[0])?, ctx.path(a[1])?);
    host::faccessat(dirfd, &path, access_mode(a[2])?, host_flags)
}

/// `/proc/self/exe` (and `/proc/<own pid>/exe`) name the guest program, not the emulator.
fn is_own_exe(ctx: &Ctx<'_>, path: &[u8]) -> bool {
    path == b"/proc/self/exe" || path == format!("/proc/{}/exe", ctx.proc.pid()).as_bytes()
}

pub fn readlinkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let size = a[3] as i32;
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    let dirfd = ctx.dirfd(a[0])?;
    let path = ctx.path(a[1])?;
    let target = if is_own_exe(ctx, path.as_bytes()) {
        ctx.proc.group().exe().as_os_str().as_encoded_bytes().to_vec()
    } else {
        host::readlinkat(dirfd, &path)?
    };
    let n = target.len().min(size as usize);
    ctx.copy_out(a[2], &target[..n])?;
    Ok(n as u64)
}

pub fn getcwd(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let cwd = std::env::current_dir()
        .map_err(|e| host::guest_errno(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let mut bytes = cwd.into_os_string().into_encoded_bytes();
    bytes.push(0);
    if bytes.len() > a[1] as usize {
        return Err(Errno::ERANGE);
    }
    ctx.copy_out(a[0], &bytes)?;
    Ok(bytes.len() as u64)
}

pub fn chdir(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let path = ctx.path(a[0])?;
    host::chdir(&path)
}

pub fn fchdir(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::fchdir(ctx.fd(a[0])?)
}

pub fn fchmod(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    host::fchmod(fd, a[1] as u32 & 0o7777)
}

pub fn fchmodat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (dirfd, path) = (ctx.dirfd(a[0])?, ctx.path(a[1])?);
    host::fchmodat(dirfd, &path, a[2] as u32 & 0o7777)
}

pub fn umask(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    Ok(u64::from(host::umask(a[0] as u32 & 0o777)))
}

pub fn sync(_: &mut Ctx<'_>, _: &[u64; 6]) -> SysResult {
    host::sync();
    Ok(0)
}

pub fn fsync(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::fsync(ctx.fd(a[0])?, false)
}

pub fn fdatasync(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    host::fsync(ctx.fd(a[0])?, true)
}

/// Terminal and queue-size ioctls: the argument sizes are the same on aarch64 and x86_64.
pub fn ioctl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    const TCGETS: u64 = 0x5401;
    const TCSETS: u64 = 0x5402;
    const TCSETSW: u64 = 0x5403;
    const TCSETSF: u64 = 0x5404;
    const TIOCGPGRP: u64 = 0x540f;
    const TIOCSPGRP: u64 = 0x5410;
    const TIOCGWINSZ: u64 = 0x5413;
    const TIOCSWINSZ: u64 = 0x5414;
    const FIONREAD: u64 = 0x541b;
    const FIONBIO: u64 = 0x5421;
    const FIOCLEX: u64 = 0x5451;
    const FIONCLEX: u64 = 0x5450;
    /// struct termios as the kernel's ioctls see it: 4 flag words, c_line, 19 control chars.
    const TERMIOS: usize = 36;
    let fd = i64::from(a[0] as i32);
    let host_fd = ctx.proc.fds().raw(fd)?;
    let (request, size, need) = match a[1] as u32 as u64 {
        TCGETS => (libc::TCGETS, TERMIOS, Prot::WRITE),
        r @ (TCSETS | TCSETSW | TCSETSF) => (r, TERMIOS, Prot::READ),
        TIOCGPGRP => (libc::TIOCGPGRP, 4, Prot::WRITE),
        TIOCSPGRP => (libc::TIOCSPGRP, 4, Prot::READ),
        TIOCGWINSZ => (libc::TIOCGWINSZ, 8, Prot::WRITE),
        TIOCSWINSZ => (libc::TIOCSWINSZ, 8, Prot::READ),
        FIONREAD => (libc::FIONREAD, 4, Prot::WRITE),
        FIONBIO => (libc::FIONBIO, 4, Prot::READ),
        FIOCLEX | FIONCLEX => {
            ctx.proc.fds().get_mut(fd)?.cloexec = a[1] as u32 as u64 == FIOCLEX;
            return Ok(0);
        }
        _ => return Err(Errno::ENOTTY),
    };
    let buf = ctx.buffer(a[2], size, need)?;
    host::ioctl_buf(host_fd, request, buf, size)
}

/// `ppoll`: the guest's descriptors are translated to the host's, polled on the host, and the
/// results copied back (`struct pollfd` and the POLL* bits are the same on every Linux).
/// A forwarded host signal interrupts the wait (EINTR, restarted only when no handler runs);
/// the temporary signal mask is checked for validity and otherwise not applied.
pub fn ppoll(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let count = a[1] as usize;
    if count > ctx.proc.fds().limit() {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; count * 8];
    ctx.proc.mm.read().copy_in(GuestAddr(a[0]), &mut raw)?;
    let timeout = if a[2] != 0 {
        let b = ctx.copy_in::<16>(a[2])?;
        let sec = i64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
        let nsec = i64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        Some((sec, nsec))
    } else {
        None
    };
    if a[3] != 0 && a[4] != 8 {
        return Err(Errno::EINVAL);
    }
    let mut polls: Vec<(i32, i16)> = Vec::with_capacity(count);
    for entry in raw.chunks_exact(8) {
        let fd = i32::from_le_bytes(entry[..4].try_into().expect("4 bytes"));
        let events = i16::from_le_bytes(entry[4..6].try_into().expect("2 bytes"));
        // A negative fd is ignored; an fd that is not open reports POLLNVAL.
        let host_fd =
            if fd < 0 { -1 } else { ctx.proc.fds().raw(i64::from(fd)).unwrap_or(i32::MAX) };
        polls.push((host_fd, events));
    }
    let (ready, revents) = host::ppoll(&polls, timeout)?;
    for (i, rev) in revents.iter().enumerate() {
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&rev.to_le_bytes());
    }
    ctx.copy_out(a[0], &raw)?;
    Ok(ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_reads_and_writes_move_at_most_max_rw_count() {
        assert_eq!(rw_count(10), 10);
        assert_eq!(rw_count(MAX_RW_COUNT + 1), MAX_RW_COUNT as usize);
        assert_eq!(rw_count(u64::MAX), 0x7fff_f000);
    }
}
