//! RLIMIT_FSIZE, kept as guest state and enforced here on the guest's own writes.
//!
//! Applied to the emulator process, the guest's limit would also bound the emulator's own
//! files: the memfd behind every `MAP_SHARED|MAP_ANONYMOUS` mapping (sized with `ftruncate`)
//! and the snapshot a `respawn-snapshot` fork writes, so a guest with a small limit could no
//! longer map shared memory or fork. So the host limit stays unlimited and the calls that make
//! a regular file grow check the guest's limit as Linux does: a write is cut at the limit, and
//! one that starts at or past it fails with EFBIG and raises SIGXFSZ in the caller
//! (`generic_write_checks_count`, mm/filemap.c); a size change past it does the same
//! (`inode_newsize_ok`, fs/attr.c). Other files (pipes, sockets, devices) have no limit.

use std::os::fd::RawFd;

use elfvisor_abi::Errno;
use elfvisor_abi::fcntl::{S_IFMT, S_IFREG};

use super::ctx::Ctx;
use crate::host;

/// The guest's soft RLIMIT_FSIZE, if it has one.
fn limit(ctx: &Ctx<'_>) -> Option<u64> {
    Some(ctx.proc.fds().fsize().0).filter(|&l| l != u64::MAX)
}

/// Raises SIGXFSZ in the caller, as Linux's `send_sig(SIGXFSZ, current, 0)`, and answers EFBIG.
fn too_big(ctx: &mut Ctx<'_>) -> Errno {
    let info = crate::signal::info::SigInfo {
        signo: elfvisor_abi::Signo::SIGXFSZ,
        code: elfvisor_abi::signal::SI_USER,
        detail: crate::signal::info::Detail::Sender { pid: ctx.proc.pid(), uid: host::ids().0 },
    };
    crate::signal::delivery::send(ctx.proc, info);
    Errno::EFBIG
}

/// The size of `fd`'s file when it is a regular file.
fn regular_size(fd: RawFd) -> Option<u64> {
    let st = host::fstatat(fd, c"", libc::AT_EMPTY_PATH).ok()?;
    (st.mode & S_IFMT == S_IFREG).then_some(st.size.max(0) as u64)
}

/// How many of `count` bytes a write at `pos` (`None`: the file position, or the end for an
/// `O_APPEND` descriptor) may write to `fd` under the guest's RLIMIT_FSIZE.
pub(super) fn write_count(
    ctx: &mut Ctx<'_>,
    fd: RawFd,
    pos: Option<i64>,
    count: usize,
) -> Result<usize, Errno> {
    let Some(limit) = limit(ctx) else { return Ok(count) };
    let Some(size) = regular_size(fd) else { return Ok(count) };
    if count == 0 {
        return Ok(0);
    }
    let pos = match pos {
        Some(pos) => pos.max(0) as u64,
        None => {
            let flags = host::fcntl_int(fd, libc::F_GETFL, 0).unwrap_or(0) as i32;
            if flags & libc::O_APPEND != 0 {
                size
            } else {
                host::lseek(fd, 0, libc::SEEK_CUR).unwrap_or(0)
            }
        }
    };
    if pos >= limit {
        return Err(too_big(ctx));
    }
    Ok(count.min(usize::try_from(limit - pos).unwrap_or(usize::MAX)))
}

/// Cuts checked host iovecs down to `count` bytes in all.
pub(super) fn cut_iovecs(iov: &mut Vec<host::HostIovec>, count: usize) {
    let mut left = count;
    iov.retain_mut(|v| {
        let keep = v.iov_len.min(left);
        v.iov_len = keep;
        left -= keep;
        keep > 0
    });
}

/// `inode_newsize_ok`: a regular file (`fd`, or `path` when `fd` is `None`) may not grow past
/// the guest's RLIMIT_FSIZE (by `truncate`, `ftruncate` or `fallocate`).
pub(super) fn new_size(
    ctx: &mut Ctx<'_>,
    fd: Option<RawFd>,
    path: Option<&std::ffi::CStr>,
    size: u64,
) -> Result<(), Errno> {
    let Some(limit) = limit(ctx) else { return Ok(()) };
    if size <= limit {
        return Ok(());
    }
    let st = match (fd, path) {
        (Some(fd), _) => host::fstatat(fd, c"", libc::AT_EMPTY_PATH),
        (None, Some(path)) => host::fstatat(libc::AT_FDCWD, path, 0),
        (None, None) => return Ok(()),
    };
    // Anything the host call itself will refuse (no such file, not regular) is its answer.
    let Ok(st) = st else { return Ok(()) };
    if st.mode & S_IFMT != S_IFREG || size <= st.size.max(0) as u64 {
        return Ok(());
    }
    Err(too_big(ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cut_iovecs_keeps_the_first_bytes_and_drops_empty_vectors() {
        let mut bytes = [0u8; 30];
        let base = bytes.as_mut_ptr();
        let v = |off: usize, len: usize| libc::iovec {
            // SAFETY: `off` is inside `bytes`; the pointer is only compared, never read.
            iov_base: unsafe { base.add(off) }.cast(),
            iov_len: len,
        };
        let mut iov = vec![v(0, 10), v(10, 10), v(20, 10)];
        cut_iovecs(&mut iov, 15);
        assert_eq!(iov.iter().map(|v| v.iov_len).collect::<Vec<_>>(), [10, 5]);
        cut_iovecs(&mut iov, 0);
        assert!(iov.is_empty());
    }
}
