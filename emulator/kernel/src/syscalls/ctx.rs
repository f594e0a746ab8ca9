//! What a system call handler works with: the calling task and its vCPU ([`Ctx`]), guest
//! memory helpers, and the shapes of a handler's result and `--strace` arguments.

use std::ffi::CString;
use std::os::fd::RawFd;

use elfvisor_abi::limits::PATH_MAX;
use elfvisor_abi::{Errno, GuestAddr, GuestObj, Prot};
use elfvisor_engine::Cpu;

use crate::host::GuestBuf;
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
}

/// The state a handler works on.
#[allow(missing_debug_implementations)] // `dyn Cpu` has no Debug.
pub struct Ctx<'a> {
    pub proc: &'a mut Task,
    pub cpu: &'a mut dyn Cpu,
    /// Set by a handler that rewrote the registers itself (`rt_sigreturn`): x0 keeps its value.
    pub regs_restored: bool,
}

impl Ctx<'_> {
    /// A guest path argument: EFAULT if unreadable, ENAMETOOLONG past PATH_MAX.
    pub fn path(&self, addr: u64) -> Result<CString, Errno> {
        let bytes = self.proc.mm.read().read_cstr(GuestAddr(addr), PATH_MAX)?;
        CString::new(bytes).map_err(|_| Errno::EINVAL)
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
