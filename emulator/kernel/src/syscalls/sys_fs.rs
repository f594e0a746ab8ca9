//! Files and descriptors: open/close, read/write and their vector and positional forms, seek,
//! stat, fcntl, dup, pipes, directories, links, terminal ioctls.

use elfvisor_abi::fcntl as g;
use elfvisor_abi::ioctl::{
    FIOASYNC, FIOCLEX, FIONBIO, FIONCLEX, FIONREAD, IFREQ_SIZE, SIOCGIFFLAGS, SIOCGIFINDEX,
    SIOCGIFNAME, TCGETS, TCGETS2, TCSETS, TCSETS2, TCSETSF, TCSETSF2, TCSETSW, TCSETSW2, TIOCGPGRP,
    TIOCGPKT, TIOCGPTLCK, TIOCGPTN, TIOCGPTPEER, TIOCGWINSZ, TIOCNOTTY, TIOCPKT, TIOCSCTTY,
    TIOCSPGRP, TIOCSPTLCK, TIOCSWINSZ, Termios, Termios2, Winsize,
};
use elfvisor_abi::limits::MAX_RW_COUNT;
use elfvisor_abi::uio::{Iovec, UIO_MAXIOV};
use elfvisor_abi::{Errno, GuestAddr, GuestObj, Prot};

use super::ctx::{Ctx, SysResult};
use crate::fdtable::FdEntry;
use crate::host;

/// A read or write count as Linux's vfs_read/vfs_write clamp it.
fn rw_count(count: u64) -> usize {
    count.min(MAX_RW_COUNT) as usize
}

pub fn openat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let dirfd = ctx.dirfd(a[0])?;
    let flags = a[2] as u32;
    // O_NOFOLLOW, and O_CREAT|O_EXCL, do not follow a last-component symlink (open_last_lookups).
    let excl = g::O_CREAT | g::O_EXCL;
    let path = ctx.path_follow_unless(a[1], flags & g::O_NOFOLLOW != 0 || flags & excl == excl)?;
    if let Some(opened) = open_generated(ctx, path.as_bytes(), flags) {
        return opened;
    }
    let host_flags = host::open_flags_to_host(flags) | libc::O_CLOEXEC;
    let fd = host::openat(dirfd, &path, host_flags, (a[3] as u32) & 0o7777)?;
    let guest = ctx.proc.fds().install_host(fd, flags & g::O_CLOEXEC != 0)?;
    if flags & g::O_TRUNC != 0 {
        super::sys_mmap::file_resized(ctx);
    }
    Ok(guest as u64)
}

/// An open of one of the guest's own `/proc` files, which the emulator generates (`maps`,
/// `super::proc_files`); `None` for every other path.
fn open_generated(ctx: &mut Ctx<'_>, path: &[u8], flags: u32) -> Option<SysResult> {
    let pid = ctx.proc.pid();
    if super::procfs::is_own_maps(path, pid) {
        return Some(super::procfs::open_maps(ctx, flags));
    }
    let group = ctx.proc.group().clone();
    // This process's files, or another guest process's (one that publishes a board).
    let source =
        match super::proc_files::lookup(path, pid, ctx.proc.tid(), |t| group.find(t).is_some()) {
            Some(file) => Ok(file),
            None => {
                let (other, file) = super::proc_files::lookup_other(path, pid)?;
                let memory = super::proc_files::shows_memory(file);
                Err((other, file, crate::board::read(other, memory)?))
            }
        };
    Some((|| {
        if flags & g::O_ACCMODE != g::O_RDONLY {
            return Err(Errno::EACCES);
        }
        if flags & g::O_DIRECTORY != 0 {
            return Err(Errno::ENOTDIR);
        }
        let text = match source {
            Ok(file) => super::proc_files::generate(ctx, file)?,
            Err((other, file, view)) => super::proc_files::generate_other(other, file, &view)?,
        };
        let fd = host::shm::read_only_memfd(c"proc", &text)?;
        Ok(ctx.proc.fds().install_host(fd, flags & g::O_CLOEXEC != 0)? as u64)
    })())
}

/// `openat2` (fs/open.c, the system call and build_open_flags): the size and `struct
/// open_how` are checked first (a tail past the first version must be zero), then unknown
/// flags and resolve bits, a mode without O_CREAT or O_TMPFILE, and RESOLVE_BENEATH with
/// RESOLVE_IN_ROOT; the host resolves the rest. Under RESOLVE_IN_ROOT an absolute path is
/// relative to the directory, so the guest's path goes to the host as it is; any other is
/// translated like `openat`'s.
pub fn openat2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let size = a[3] as usize;
    if size < g::OPEN_HOW_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    if size > elfvisor_abi::PAGE_SIZE as usize {
        return Err(Errno::E2BIG);
    }
    let mut how = vec![0u8; size];
    ctx.proc.mm.read().copy_in(GuestAddr(a[2]), &mut how)?;
    if how[g::OPEN_HOW_SIZE_VER0..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize| u64::from_le_bytes(how[8 * i..8 * i + 8].try_into().unwrap_or_default());
    let (flags, mode, resolve) = (word(0), word(1), word(2));
    let valid_resolve = g::RESOLVE_NO_XDEV
        | g::RESOLVE_NO_MAGICLINKS
        | g::RESOLVE_NO_SYMLINKS
        | g::RESOLVE_BENEATH
        | g::RESOLVE_IN_ROOT
        | g::RESOLVE_CACHED;
    if flags & !u64::from(g::VALID_OPEN_FLAGS) != 0 || resolve & !valid_resolve != 0 {
        return Err(Errno::EINVAL);
    }
    let flags = flags as u32;
    let creates = flags & g::O_CREAT != 0 || flags & g::O_TMPFILE == g::O_TMPFILE;
    if (creates && mode & !0o7777 != 0) || (!creates && mode != 0) {
        return Err(Errno::EINVAL);
    }
    if resolve & g::RESOLVE_BENEATH != 0 && resolve & g::RESOLVE_IN_ROOT != 0 {
        return Err(Errno::EINVAL);
    }
    let dirfd = ctx.dirfd(a[0])?;
    let path = if resolve & g::RESOLVE_IN_ROOT != 0 {
        ctx.string(a[1])?
    } else {
        let excl = g::O_CREAT | g::O_EXCL;
        ctx.path_follow_unless(a[1], flags & g::O_NOFOLLOW != 0 || flags & excl == excl)?
    };
    if resolve & g::RESOLVE_IN_ROOT == 0 {
        if let Some(opened) = open_generated(ctx, path.as_bytes(), flags) {
            return opened;
        }
    }
    let host_flags = host::open_flags_to_host(flags) | libc::O_CLOEXEC;
    let fd = host::openat2(dirfd, &path, host_flags, mode, resolve)?;
    let guest = ctx.proc.fds().install_host(fd, flags & g::O_CLOEXEC != 0)?;
    if flags & g::O_TRUNC != 0 {
        super::sys_mmap::file_resized(ctx);
    }
    Ok(guest as u64)
}

pub fn close(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    ctx.proc.fds().close(i64::from(a[0] as i32)).map(|_| 0)
}

/// `close_range` (fs/file.c `__close_range`): unknown flags or a first descriptor past the
/// last are `EINVAL`; descriptors in the range that are not open are skipped. The guest's
/// threads share one table, so `CLOSE_RANGE_UNSHARE` can be honoured only by a process with
/// one thread (its table is then already its own).
pub fn close_range(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (first, last, flags) = (a[0] as u32, a[1] as u32, a[2] as u32);
    if flags & !(g::CLOSE_RANGE_UNSHARE | g::CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    if flags & g::CLOSE_RANGE_UNSHARE != 0 && ctx.proc.group().is_multithreaded() {
        return Err(Errno::EINVAL);
    }
    let mut fds = ctx.proc.fds();
    let open: Vec<usize> = fds
        .entries()
        .map(|(fd, _)| fd)
        .filter(|&fd| (first as usize..=last as usize).contains(&fd))
        .collect();
    for fd in open {
        if flags & g::CLOSE_RANGE_CLOEXEC != 0 {
            fds.get_mut(fd as i64)?.cloexec = true;
        } else {
            fds.close(fd as i64)?;
        }
    }
    Ok(0)
}

pub fn read(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if let Some(sfd) = super::sys_event::signalfd_of(ctx, a[0]) {
        return super::sys_event::signalfd_read(ctx, a, &sfd);
    }
    let fd = ctx.fd(a[0])?;
    let buf = ctx.buffer(a[1], rw_count(a[2]), Prot::WRITE)?;
    host::read(fd, buf)
}

/// A write to a pipe or socket without readers also raises SIGPIPE in the writer (pipe(7));
/// the emulator itself ignores the host's SIGPIPE, so it is raised here, in the guest.
pub(super) fn broken_pipe(ctx: &mut Ctx<'_>, result: SysResult) -> SysResult {
    if result == Err(Errno::EPIPE) {
        let info = crate::signal::info::SigInfo {
            signo: elfvisor_abi::Signo::SIGPIPE,
            code: elfvisor_abi::signal::SI_USER,
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
pub(super) fn iovecs(
    ctx: &Ctx<'_>,
    addr: u64,
    count: u64,
    need: Prot,
) -> Result<Vec<host::HostIovec>, Errno> {
    let count = usize::try_from(count).map_err(|_| Errno::EINVAL)?;
    let vecs: Vec<Iovec> = ctx.proc.mm.read().read_objs(GuestAddr(addr), count, UIO_MAXIOV)?;
    let mut out = Vec::with_capacity(vecs.len());
    let mut total: u64 = 0;
    for Iovec { base, len } in vecs {
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

/// `preadv2`/`pwritev2`: on 64-bit the offset is `pos_l` alone and `-1` means the file
/// position. The `RWF_*` flags are Linux's numbers everywhere; one the guest's kernel does not
/// know is `EOPNOTSUPP` (kiocb_set_rw_flags), whatever a newer host would make of it.
fn rw_flags(flags: u64) -> Result<u32, Errno> {
    let flags = flags as u32;
    if flags & !elfvisor_abi::uio::RWF_SUPPORTED != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(flags)
}

pub fn preadv2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let iov = iovecs(ctx, a[1], a[2], Prot::WRITE)?;
    host::rw_v2(false, fd, &iov, a[3] as i64, rw_flags(a[5])?)
}

pub fn pwritev2(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = ctx.fd(a[0])?;
    let iov = iovecs(ctx, a[1], a[2], Prot::READ)?;
    let result = host::rw_v2(true, fd, &iov, a[3] as i64, rw_flags(a[5])?);
    broken_pipe(ctx, result)
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
    ctx.write_obj(a[1], &st)?;
    Ok(0)
}

pub fn newfstatat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let dirfd = ctx.dirfd(a[0])?;
    let path = ctx.path_follow_unless(a[1], a[3] as u32 & g::AT_SYMLINK_NOFOLLOW != 0)?;
    let st = host::fstatat(dirfd, &path, at_flags(a[3] as u32)?)?;
    ctx.write_obj(a[2], &st)?;
    Ok(0)
}

pub fn statx(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let dirfd = ctx.dirfd(a[0])?;
    let path = ctx.path_follow_unless(a[1], a[2] as u32 & g::AT_SYMLINK_NOFOLLOW != 0)?;
    let buf = host::statx(dirfd, &path, at_flags(a[2] as u32)?, a[3] as u32)?;
    ctx.copy_out(a[4], &buf)?;
    Ok(0)
}

/// Whether a host descriptor was opened with `O_PATH`.
fn is_path_fd(host_fd: i32) -> Result<bool, Errno> {
    Ok(host::fcntl_int(host_fd, libc::F_GETFL, 0)? as i32 & libc::O_PATH != 0)
}

pub fn fcntl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let fd = i64::from(a[0] as i32);
    let entry = ctx.proc.fds().get(fd)?.clone();
    // Linux's fcntl takes O_PATH descriptors (fdget_raw) but serves them only the commands
    // check_fcntl_cmd lists: anything else is EBADF.
    let path_ok = [g::F_DUPFD, g::F_DUPFD_CLOEXEC, g::F_GETFD, g::F_SETFD, g::F_GETFL];
    if !path_ok.contains(&(a[1] as u32)) && is_path_fd(entry.raw())? {
        return Err(Errno::EBADF);
    }
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
        // I/O signals, their owner and leases: the descriptor is the host's and the owner a host
        // pid or tid (the guest's), so the host serves them, errors included.
        g::F_SETOWN => host::fcntl_int(entry.raw(), libc::F_SETOWN, i64::from(a[2] as i32)),
        g::F_GETOWN => host::fcntl_int(entry.raw(), libc::F_GETOWN, 0),
        g::F_SETSIG => host::fcntl_int(entry.raw(), host::HOST_F_SETSIG, a[2] as i64),
        g::F_GETSIG => host::fcntl_int(entry.raw(), host::HOST_F_GETSIG, 0),
        g::F_SETLEASE => host::fcntl_int(entry.raw(), libc::F_SETLEASE, a[2] as i64),
        g::F_GETLEASE => host::fcntl_int(entry.raw(), libc::F_GETLEASE, 0),
        // dnotify's events would name the host's descriptor in `si_fd`, which the guest knows
        // by another number: answered as a kernel without CONFIG_DNOTIFY, whose
        // `fcntl_dirnotify` is EINVAL (inotify is served in full).
        g::F_NOTIFY => Err(Errno::EINVAL),
        cmd @ (g::F_GETOWN_EX | g::F_SETOWN_EX) => {
            let get = cmd == g::F_GETOWN_EX;
            let need = if get { Prot::WRITE } else { Prot::READ };
            let buf = ctx.buffer(a[2], g::F_OWNER_EX_SIZE, need)?;
            host::fcntl_owner_ex(entry.raw(), get, buf)
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
    // Linux's ksys_dup3: the same descriptor twice is EINVAL before either is looked at.
    if old == new {
        return Err(Errno::EINVAL);
    }
    let entry = ctx.proc.fds().get(i64::from(old))?.clone();
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
    ctx.write_obj(a[0], &[0i32; 2])?;
    let host_flags =
        libc::O_CLOEXEC | host::open_flags_to_host(flags & (g::O_NONBLOCK | g::O_DIRECT));
    let (r, w) = host::pipe2(host_flags)?;
    let cloexec = flags & g::O_CLOEXEC != 0;
    let gr = ctx.proc.fds().install_host(r, cloexec);
    let gw = ctx.proc.fds().install_host(w, cloexec);
    match (gr, gw) {
        (Ok(gr), Ok(gw)) => {
            ctx.write_obj(a[0], &[gr as i32, gw as i32])?;
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
    if let Some(dir) = super::proc_files::dir_of(fd) {
        // The guest's descriptors or threads; the position is the host description's, so
        // dup, fork and rewinddir share and reset it as for any directory.
        let pos = host::lseek(fd, 0, libc::SEEK_CUR)?;
        let (records, next) = super::proc_files::getdents(ctx, dir, pos, a[2] as u32 as usize)?;
        ctx.copy_out(a[1], &records)?;
        host::lseek(fd, next as i64, libc::SEEK_SET)?;
        return Ok(records.len() as u64);
    }
    let buf = ctx.buffer(a[1], a[2] as u32 as usize, Prot::WRITE)?;
    host::getdents64(fd, buf)
}

pub fn unlinkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let flags = a[2] as u32;
    if flags & !g::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let dirfd = ctx.dirfd(a[0])?;
    let path = ctx.path_nofollow(a[1])?;
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
    let (olddir, old) = (ctx.dirfd(a[0])?, ctx.path_nofollow(a[1])?);
    let (newdir, new) = (ctx.dirfd(a[2])?, ctx.path_nofollow(a[3])?);
    host::renameat2(olddir, &old, newdir, &new, flags)
}

pub fn mkdirat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (dirfd, path) = (ctx.dirfd(a[0])?, ctx.path_nofollow(a[1])?);
    host::mkdirat(dirfd, &path, a[2] as u32 & 0o7777)
}

pub fn mknodat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (dirfd, path) = (ctx.dirfd(a[0])?, ctx.path_nofollow(a[1])?);
    host::mknodat(dirfd, &path, a[2] as u32, a[3])
}

pub fn symlinkat(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    // The target is the link's text, stored as the guest wrote it.
    let target = ctx.string(a[0])?;
    let (dirfd, path) = (ctx.dirfd(a[1])?, ctx.path_nofollow(a[2])?);
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
    let follow = flags & g::AT_SYMLINK_FOLLOW != 0;
    let (olddir, old) = (ctx.dirfd(a[0])?, ctx.path_follow_unless(a[1], !follow)?);
    let (newdir, new) = (ctx.dirfd(a[2])?, ctx.path_nofollow(a[3])?);
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
    let nofollow = flags & g::AT_SYMLINK_NOFOLLOW != 0;
    let (dirfd, path) = (ctx.dirfd(a[0])?, ctx.path_follow_unless(a[1], nofollow)?);
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
    let path = ctx.path_nofollow(a[1])?;
    let target = if is_own_exe(ctx, path.as_bytes()) {
        ctx.proc.group().exe().as_os_str().as_encoded_bytes().to_vec()
    } else {
        host::readlinkat(dirfd, &path)?
    };
    let n = target.len().min(size as usize);
    ctx.copy_out(a[2], &target[..n])?;
    Ok(n as u64)
}

/// `getcwd` (fs/d_path.c): the working directory from the guest's root; one the root does
/// not reach (a `chroot` without `chdir`) is `(unreachable)` and its path from the host's `/`.
pub fn getcwd(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let cwd = std::env::current_dir().map_err(|e| elfvisor_host::errno_from_io(&e))?;
    let mut bytes = match crate::sysroot::root() {
        Some(root) if !cwd.starts_with(&root) => {
            let mut b = b"(unreachable)".to_vec();
            b.extend_from_slice(cwd.as_os_str().as_encoded_bytes());
            b
        }
        Some(_) => crate::sysroot::guest_name(&cwd).into_os_string().into_encoded_bytes(),
        None => cwd.into_os_string().into_encoded_bytes(),
    };
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

/// `chroot` (fs/open.c, SYSCALL_DEFINE1(chroot)): the path must name a directory the caller
/// may search, then CAP_SYS_CHROOT is needed (the emulator process's own, EPERM without it),
/// and the directory becomes the guest's root: every path the guest names from then on
/// resolves inside it (`crate::sysroot`). The emulator's own root stays the host's.
pub fn chroot(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let path = ctx.path(a[0])?;
    let st = host::fstatat(libc::AT_FDCWD, &path, 0)?;
    if st.mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    // path_permission(MAY_EXEC | MAY_CHDIR): search permission with the caller's ids.
    host::faccessat(libc::AT_FDCWD, &path, libc::X_OK, libc::AT_EACCESS)?;
    if !crate::host::process::may_chroot() {
        return Err(Errno::EPERM);
    }
    let dir =
        &*<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(path.into_bytes());
    crate::sysroot::set_root(std::path::Path::new(dir))?;
    Ok(0)
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
    let fd = i64::from(a[0] as i32);
    let host_fd = ctx.proc.fds().raw(fd)?;
    // Linux's ioctl looks the descriptor up with fdget, which does not see O_PATH files: every
    // request on one, FIOCLEX included, is EBADF.
    if is_path_fd(host_fd)? {
        return Err(Errno::EBADF);
    }
    let (request, size, need) = match a[1] as u32 {
        TCGETS => (libc::TCGETS, Termios::SIZE, Prot::WRITE),
        TCSETS => (libc::TCSETS, Termios::SIZE, Prot::READ),
        TCSETSW => (libc::TCSETSW, Termios::SIZE, Prot::READ),
        TCSETSF => (libc::TCSETSF, Termios::SIZE, Prot::READ),
        // The host's numbers are the guest's (see `elfvisor_abi::ioctl::TCGETS2`).
        TCGETS2 => (u64::from(TCGETS2), Termios2::SIZE, Prot::WRITE),
        TCSETS2 => (u64::from(TCSETS2), Termios2::SIZE, Prot::READ),
        TCSETSW2 => (u64::from(TCSETSW2), Termios2::SIZE, Prot::READ),
        TCSETSF2 => (u64::from(TCSETSF2), Termios2::SIZE, Prot::READ),
        TIOCGPGRP => (libc::TIOCGPGRP, i32::SIZE, Prot::WRITE),
        TIOCSPGRP => (libc::TIOCSPGRP, i32::SIZE, Prot::READ),
        TIOCGWINSZ => (libc::TIOCGWINSZ, Winsize::SIZE, Prot::WRITE),
        TIOCSWINSZ => (libc::TIOCSWINSZ, Winsize::SIZE, Prot::READ),
        FIONREAD => (libc::FIONREAD, i32::SIZE, Prot::WRITE),
        FIONBIO => (libc::FIONBIO, i32::SIZE, Prot::READ),
        // O_ASYNC on the host description, as F_SETFL sets it: SIGIO goes to the owner the
        // host knows (a guest pid is a host pid).
        FIOASYNC => (libc::FIOASYNC, i32::SIZE, Prot::READ),
        // Pseudo-terminals, served by the host's pty (`/dev/ptmx` is the host's):
        // `pty_unix98_ioctl` and `tty_ioctl` (drivers/tty/pty.c, tty_io.c).
        TIOCGPTN => (libc::TIOCGPTN, u32::SIZE, Prot::WRITE),
        TIOCSPTLCK => (libc::TIOCSPTLCK, i32::SIZE, Prot::READ),
        TIOCGPTLCK => (libc::TIOCGPTLCK, i32::SIZE, Prot::WRITE),
        TIOCPKT => (libc::TIOCPKT, i32::SIZE, Prot::READ),
        TIOCGPKT => (libc::TIOCGPKT, i32::SIZE, Prot::WRITE),
        TIOCGPTPEER => {
            // The argument is open flags; `ptm_open_peer` installs the peer like an open.
            let flags = a[2] as u32;
            let host_flags = host::open_flags_to_host(flags) | libc::O_CLOEXEC;
            let peer = host::open_pty_peer(host_fd, host_flags)?;
            let guest = ctx.proc.fds().install_host(peer, flags & g::O_CLOEXEC != 0)?;
            return Ok(guest as u64);
        }
        // `struct ifreq` in and out: the index (NAME) or name (INDEX, FLAGS) in, the other out.
        SIOCGIFNAME => (libc::SIOCGIFNAME, IFREQ_SIZE, Prot::READ | Prot::WRITE),
        SIOCGIFINDEX => (libc::SIOCGIFINDEX, IFREQ_SIZE, Prot::READ | Prot::WRITE),
        SIOCGIFFLAGS => (libc::SIOCGIFFLAGS, IFREQ_SIZE, Prot::READ | Prot::WRITE),
        // The argument is a value: TIOCSCTTY's steal flag; TIOCNOTTY takes none.
        TIOCSCTTY => return host::ioctl_value(host_fd, libc::TIOCSCTTY, a[2]),
        TIOCNOTTY => return host::ioctl_value(host_fd, libc::TIOCNOTTY, 0),
        FIOCLEX | FIONCLEX => {
            ctx.proc.fds().get_mut(fd)?.cloexec = a[1] as u32 == FIOCLEX;
            return Ok(0);
        }
        request => {
            if ctx.proc.group().first_ioctl_report(request) {
                eprintln!("elfvisor: ioctl {request:#x} is not supported; returning ENOTTY");
            }
            return Err(Errno::ENOTTY);
        }
    };
    let buf = ctx.buffer(a[2], size, need)?;
    host::ioctl_buf(host_fd, request, buf, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_reads_and_writes_move_at_most_max_rw_count() {
        assert_eq!(rw_count(10), 10);
        assert_eq!(rw_count(MAX_RW_COUNT + 1), MAX_RW_COUNT as usize);
        assert_eq!(MAX_RW_COUNT, 0x7fff_f000);
        assert_eq!(rw_count(u64::MAX), 0x7fff_f000);
    }
}
