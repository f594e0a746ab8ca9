//! What a system call handler works with: the calling task and its vCPU ([`Ctx`]), guest
//! memory helpers, and the shapes of a handler's result and `--strace` arguments.

use std::ffi::CString;
use std::os::fd::RawFd;

use elfvisor_abi::limits::PATH_MAX;
use elfvisor_abi::{Errno, GuestAddr, GuestObj, Prot};
use elfvisor_engine::Cpu;

use crate::host::GuestBuf;
use crate::sysroot::Follow;
use crate::task::Task;

/// What a handler returns: the value for x0, or a guest errno.
pub type SysResult = Result<u64, Errno>;

/// How `--strace` prints an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A signed integer.
    Int,
    /// A file descriptor (`AT_FDCWD` printed by name).
    Fd,
    /// A guest pointer.
    Ptr,
    /// A NUL-terminated guest string, printed quoted.
    Str,
    /// Flags, in hex.
    Hex,
    /// A size or count.
    Len,
    /// A file mode, in octal.
    Mode,
    /// `open` flags, by name (`O_RDONLY|O_CLOEXEC`).
    OpenFlags,
    /// `PROT_*`, by name.
    Prot,
    /// `MAP_*`, by name.
    MapFlags,
    /// `CLONE_*` with the exit signal, by name.
    CloneFlags,
    /// A signal number, by name.
    Signal,
    /// `SIG_BLOCK`, `SIG_UNBLOCK` or `SIG_SETMASK`.
    SigHow,
    /// `SEEK_SET`, `SEEK_CUR`, `SEEK_END`, `SEEK_DATA` or `SEEK_HOLE`.
    Whence,
    /// Bytes the call reads from the guest, as long as the next argument says: shown as a string.
    InBuf,
    /// Bytes the call writes for the guest, as many as it returns: shown as a string after it.
    OutBuf,
    /// Out-parameters (shown when the call succeeded) and in-parameters (`…In`), decoded as
    /// strace prints them (`syscalls/strace/structs.rs`).
    StatOut,
    StatxOut,
    TimespecIn,
    TimespecOut,
    ItimerspecIn,
    ItimerspecOut,
    SigactionIn,
    SigactionOut,
    /// A `sigset_t`: `[INT TERM]`.
    SigsetIn,
    SigsetOut,
    /// `stack_t` (`sigaltstack`).
    StackIn,
    StackOut,
    /// An `iovec` array whose length is the next argument; `IovecOut` shows as many bytes as
    /// the call returned.
    IovecIn,
    IovecOut,
    /// A `pollfd` array whose length is the next argument; the ready ones follow the result.
    Pollfds,
    EpollEventIn,
    /// The `epoll_event`s a wait returned, as many as its result.
    EpollEventsOut,
    /// A socket address as long as the next argument says.
    SockaddrIn,
    /// A socket address the call fills, its length in the `socklen_t` the next argument
    /// points to.
    SockaddrOut,
    /// A pointer to a `socklen_t`: `[16]`.
    SockLenPtr,
    RlimitIn,
    RlimitOut,
    UtsnameOut,
    /// A wait status (`wait4`): `[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]`.
    WaitStatusOut,
    /// Two descriptors (`pipe2`, `socketpair`): `[3, 4]`.
    FdPairOut,
    /// A clock by name (`CLOCK_MONOTONIC`).
    ClockId,
    /// A resource limit by name (`RLIMIT_NOFILE`).
    Resource,
    /// `AT_*` flags by name.
    AtFlags,
    /// `statx`'s mask by name (`STATX_BASIC_STATS`).
    StatxMask,
    /// An address family by name (`AF_UNIX`).
    Family,
    /// A socket type with its flags (`SOCK_STREAM|SOCK_CLOEXEC`).
    SockType,
    /// `EPOLL_CTL_ADD`, `EPOLL_CTL_DEL` or `EPOLL_CTL_MOD`.
    EpollOp,
}

/// A path into the guest's descriptor directory: the descriptor (None when the name is not one
/// Linux accepts: leading zeros, or out of range) and what follows it (empty or from a `/`).
#[derive(Debug, PartialEq, Eq)]
pub struct FdLink<'p> {
    pub fd: Option<i32>,
    pub rest: &'p [u8],
}

/// Whether `path` goes through the calling process's descriptor directory: `/dev/fd/N`,
/// `/proc/self/fd/N`, `/proc/thread-self/fd/N`, `/proc/<pid>/fd/N` (its own pid), or
/// `/dev/stdin`, `/dev/stdout`, `/dev/stderr` (links to its 0, 1 and 2).
pub fn fd_link(path: &[u8], pid: u32) -> Option<FdLink<'_>> {
    for (name, fd) in [(&b"/dev/stdin"[..], 0), (b"/dev/stdout", 1), (b"/dev/stderr", 2)] {
        if let Some(rest) = path.strip_prefix(name) {
            if rest.is_empty() || rest[0] == b'/' {
                return Some(FdLink { fd: Some(fd), rest });
            }
        }
    }
    let own = format!("/proc/{pid}/fd/");
    let tail = [&b"/dev/fd/"[..], b"/proc/self/fd/", b"/proc/thread-self/fd/", own.as_bytes()]
        .into_iter()
        .find_map(|prefix| path.strip_prefix(prefix))?;
    let digits = tail.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, rest) = tail.split_at(digits);
    if number.is_empty() || !(rest.is_empty() || rest[0] == b'/') {
        return None;
    }
    // `name_to_int` (fs/proc/util.c): no leading zero, and the value fits an unsigned int.
    let fd = if number.len() > 1 && number[0] == b'0' {
        None
    } else {
        std::str::from_utf8(number).ok().and_then(|n| n.parse::<i32>().ok())
    };
    Some(FdLink { fd, rest })
}

/// The state a handler works on.
#[allow(missing_debug_implementations)] // `dyn Cpu` has no Debug.
pub struct Ctx<'a> {
    pub proc: &'a mut Task,
    pub cpu: &'a mut dyn Cpu,
    /// Set by a handler that rewrote the registers itself (`rt_sigreturn`): x0 keeps its value.
    pub regs_restored: bool,
    /// Set by a handler whose interrupted wait Linux ends with plain -EINTR whatever its row
    /// says (a socket wait limited by `SO_RCVTIMEO`/`SO_SNDTIMEO`: `sock_intr_errno`).
    pub no_restart: bool,
}

impl Ctx<'_> {
    /// A guest path argument as the host names it, for a call that follows a symlink in the
    /// last component: the guest's name ([`Ctx::guest_path`]) through the sysroot
    /// (`crate::sysroot`; the identity without one).
    pub fn path(&self, addr: u64) -> Result<CString, Errno> {
        self.path_with(addr, Follow::Last)
    }

    /// [`Ctx::path`] for a call that acts on a symlink in the last component itself (`lstat`,
    /// `readlink`, `unlink`, `rename`, `mkdir`, `O_NOFOLLOW`…): only the components before it
    /// are resolved in the sysroot.
    pub fn path_nofollow(&self, addr: u64) -> Result<CString, Errno> {
        self.path_with(addr, Follow::NotLast)
    }

    /// [`Ctx::path`] or [`Ctx::path_nofollow`], as `nofollow` (the call's own flag) says.
    pub fn path_follow_unless(&self, addr: u64, nofollow: bool) -> Result<CString, Errno> {
        self.path_with(addr, if nofollow { Follow::NotLast } else { Follow::Last })
    }

    fn path_with(&self, addr: u64, follow: Follow) -> Result<CString, Errno> {
        let guest = self.guest_path(addr)?;
        let host = crate::sysroot::host_path(&guest, follow)?;
        CString::new(host).map_err(|_| Errno::EINVAL)
    }

    /// A guest string argument read verbatim (a symlink's target): EFAULT if unreadable,
    /// ENAMETOOLONG past PATH_MAX.
    pub fn string(&self, addr: u64) -> Result<CString, Errno> {
        let bytes = self.proc.mm.read().read_cstr(GuestAddr(addr), PATH_MAX)?;
        CString::new(bytes).map_err(|_| Errno::EINVAL)
    }

    /// A guest path argument as the guest names it: EFAULT if unreadable, ENAMETOOLONG past
    /// PATH_MAX.
    ///
    /// A path through the guest's own descriptor directory (`/dev/fd/N`, `/proc/self/fd/N`,
    /// `/dev/stdin`…) names the guest's descriptor N: it becomes the host's link to the host
    /// descriptor behind it, or ENOENT when N is not open (as `proc_fd_instantiate` finds no
    /// file). The host's own links would name the emulator's descriptor N.
    pub fn guest_path(&self, addr: u64) -> Result<Vec<u8>, Errno> {
        let bytes = self.proc.mm.read().read_cstr(GuestAddr(addr), PATH_MAX)?;
        let bytes = match fd_link(&bytes, self.proc.pid()) {
            Some(link) => {
                let fd = link.fd.ok_or(Errno::ENOENT)?;
                let host = self.proc.fds().raw(i64::from(fd)).map_err(|_| Errno::ENOENT)?;
                let mut path = format!("/proc/self/fd/{host}").into_bytes();
                path.extend_from_slice(link.rest);
                path
            }
            None => bytes,
        };
        if bytes.contains(&0) {
            return Err(Errno::EINVAL);
        }
        Ok(bytes)
    }

    /// A `dirfd` argument as a host descriptor (`AT_FDCWD` passes through).
    pub fn dirfd(&self, fd: u64) -> Result<RawFd, Errno> {
        let fd = fd as i32;
        if fd == elfvisor_abi::fcntl::AT_FDCWD {
            return Ok(libc::AT_FDCWD);
        }
        self.proc.fds().raw(i64::from(fd))
    }

    /// The host descriptor of a guest fd argument.
    pub fn fd(&self, fd: u64) -> Result<RawFd, Errno> {
        self.proc.fds().raw(i64::from(fd as i32))
    }

    /// Copies a guest-layout value out to guest memory (EFAULT if not writable).
    pub fn copy_out(&self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        self.proc.mm.read().copy_out(GuestAddr(addr), bytes)
    }

    /// Reads `N` bytes of guest memory (EFAULT if not readable).
    pub fn copy_in<const N: usize>(&self, addr: u64) -> Result<[u8; N], Errno> {
        let mut buf = [0u8; N];
        self.proc.mm.read().copy_in(GuestAddr(addr), &mut buf)?;
        Ok(buf)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        self.proc.mm.read().read_u64(GuestAddr(addr))
    }

    /// Reads a guest structure (EFAULT unless all of it is readable).
    pub fn read_obj<T: GuestObj>(&self, addr: u64) -> Result<T, Errno> {
        self.proc.mm.read().read_obj(GuestAddr(addr))
    }

    /// Writes a guest structure (EFAULT unless all of it is writable; then nothing is written).
    pub fn write_obj<T: GuestObj>(&self, addr: u64, value: &T) -> Result<(), Errno> {
        self.proc.mm.read().write_obj(GuestAddr(addr), value)
    }

    /// A host pointer to `len` bytes of guest memory starting at `addr`, accessible with `need`,
    /// clamped to the mapped part: like Linux, a call moves what it can and faults only when not
    /// even the first byte is accessible.
    pub fn buffer(&self, addr: u64, len: usize, need: Prot) -> Result<GuestBuf, Errno> {
        crate::host::guest_buffer(&self.proc.mm.read(), addr, len, need)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_fd_links_name_the_guests_descriptors() {
        let link = |p: &'static [u8]| fd_link(p, 42).map(|l| (l.fd, l.rest));
        assert_eq!(link(b"/dev/fd/3"), Some((Some(3), &b""[..])));
        assert_eq!(link(b"/proc/self/fd/12/sub"), Some((Some(12), &b"/sub"[..])));
        assert_eq!(link(b"/proc/42/fd/0"), Some((Some(0), &b""[..])));
        assert_eq!(link(b"/proc/thread-self/fd/1"), Some((Some(1), &b""[..])));
        assert_eq!(link(b"/dev/stderr"), Some((Some(2), &b""[..])));
        assert_eq!(link(b"/dev/fd/03"), Some((None, &b""[..])));
        assert_eq!(link(b"/dev/fd/99999999999"), Some((None, &b""[..])));
        assert_eq!(link(b"/proc/43/fd/0"), None);
        assert_eq!(link(b"/dev/fd/"), None);
        assert_eq!(link(b"/dev/fd/3x"), None);
        assert_eq!(link(b"/dev/stdinx"), None);
        assert_eq!(link(b"/tmp/dev/fd/3"), None);
    }
}
