//! Calls that reach into a process named by pid or pidfd: `pidfd_getfd`, `process_vm_readv`,
//! `process_vm_writev`, `process_madvise` and `process_mrelease`.
//!
//! Each checks its arguments in Linux's order and serves the caller's own process in full. A
//! guest process's descriptors and memory are another emulator's state: its descriptor numbers
//! and its arena are known only inside that emulator, so another process is refused where
//! Linux asks `ptrace_may_access(PTRACE_MODE_ATTACH)` — EPERM, as Linux answers under Yama's
//! scope 3, the policy the `ptrace` row follows — and `process_madvise`, whose advice only
//! hints, answers another process as Linux does without CAP_SYS_NICE.

use elfvisor_abi::mman::{MADV_COLD, MADV_COLLAPSE, MADV_PAGEOUT, MADV_WILLNEED};
use elfvisor_abi::uio::{Iovec, UIO_MAXIOV};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};

use super::ctx::{Ctx, SysResult};
use crate::fdtable::FdEntry;
use crate::host;

/// The pid a guest pidfd names (`pidfd_get_task`): EBADF for no pidfd, ESRCH once reaped.
fn pidfd_target(ctx: &Ctx<'_>, pidfd: u64) -> Result<i32, Errno> {
    let fd = ctx.fd(pidfd)?;
    match host::pidfd_pid(fd)? {
        pid if pid > 0 => Ok(pid),
        _ => Err(Errno::ESRCH),
    }
}

/// Whether `pid` (0: the caller) is the caller's own process.
fn is_self(ctx: &Ctx<'_>, pid: i32) -> bool {
    pid == 0 || pid as u32 == ctx.proc.pid()
}

/// `pidfd_getfd` (kernel/pid.c): flags first, then the pidfd, then the target's descriptor,
/// which arrives close-on-exec (`receive_fd(file, O_CLOEXEC)`) sharing the open file.
pub fn pidfd_getfd(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[2] != 0 {
        return Err(Errno::EINVAL);
    }
    let pid = pidfd_target(ctx, a[0])?;
    if !is_self(ctx, pid) {
        // __pidfd_fget: ptrace_may_access(PTRACE_MODE_ATTACH_REALCREDS) refused.
        return Err(Errno::EPERM);
    }
    let entry = ctx.proc.fds().get(i64::from(a[1] as i32))?.clone();
    ctx.proc.fds().install(FdEntry { cloexec: true, ..entry }, 0).map(|fd| fd as u64)
}

/// A guest iovec array, checked as Linux's `import_iovec` checks it: at most UIO_MAXIOV
/// entries (EINVAL), readable (EFAULT), a total that fits in a signed size (EINVAL).
fn read_iovecs(ctx: &Ctx<'_>, addr: u64, count: u64) -> Result<Vec<Iovec>, Errno> {
    let count = usize::try_from(count).map_err(|_| Errno::EINVAL)?;
    if count > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    let vecs: Vec<Iovec> = ctx.proc.mm.read().read_objs(GuestAddr(addr), count, UIO_MAXIOV)?;
    let mut total: u64 = 0;
    for v in &vecs {
        total = total.checked_add(v.len).filter(|t| *t <= i64::MAX as u64).ok_or(Errno::EINVAL)?;
    }
    Ok(vecs)
}

/// The local side of a transfer: the caller's iovecs, filled or drained in order.
struct LocalIter {
    vecs: Vec<Iovec>,
    index: usize,
    offset: u64,
}

impl LocalIter {
    /// The next piece of at most `max` bytes (None when every vector is used up).
    fn next_piece(&mut self, max: u64) -> Option<(u64, u64)> {
        while let Some(v) = self.vecs.get(self.index) {
            if self.offset < v.len {
                let len = (v.len - self.offset).min(max);
                return Some((v.base.wrapping_add(self.offset), len));
            }
            self.index += 1;
            self.offset = 0;
        }
        None
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
    }
}

/// One remote vector of `process_vm_rw_single_vec` in the caller's own address space: page
/// by page (Linux pins the remote pages, which must allow the access, then copies), stopping
/// at the first remote page that does not (EFAULT when not even the first byte moved) or a
/// local buffer that faults (EFAULT).
fn transfer_vec(
    ctx: &Ctx<'_>,
    local: &mut LocalIter,
    remote: Iovec,
    write: bool,
    moved: &mut u64,
) -> Result<(), Errno> {
    let mm = ctx.proc.mm.read();
    let (mut at, end) = (remote.base, remote.base.saturating_add(remote.len));
    let mut buf = Vec::new();
    while at < end {
        let page_end = (at / PAGE_SIZE + 1).saturating_mul(PAGE_SIZE).min(end);
        let Some((laddr, llen)) = local.next_piece(page_end - at) else { return Ok(()) };
        buf.resize(llen as usize, 0);
        let need = if write { Prot::WRITE } else { Prot::READ };
        // The remote page must allow the access (get_user_pages_remote without FOLL_FORCE).
        if mm.host_range(GuestAddr(at), llen as usize, need).is_err() {
            return Err(Errno::EFAULT);
        }
        if write {
            mm.copy_in(GuestAddr(laddr), &mut buf)?;
            mm.copy_out(GuestAddr(at), &buf)?;
        } else {
            mm.copy_in(GuestAddr(at), &mut buf)?;
            mm.copy_out(GuestAddr(laddr), &buf)?;
        }
        local.advance(llen);
        at += llen;
        *moved += llen;
    }
    Ok(())
}

/// `process_vm_readv`/`process_vm_writev` (mm/process_vm_access.c, process_vm_rw).
fn process_vm_rw(ctx: &mut Ctx<'_>, a: &[u64; 6], write: bool) -> SysResult {
    let (pid, lvec, liovcnt, rvec, riovcnt, flags) = (a[0] as i32, a[1], a[2], a[3], a[4], a[5]);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let local = read_iovecs(ctx, lvec, liovcnt)?;
    if local.iter().all(|v| v.len == 0) {
        return Ok(0);
    }
    let remote = read_iovecs(ctx, rvec, riovcnt)?;
    // process_vm_rw_core: nothing to pin is 0 before the process is looked up.
    if remote.iter().all(|v| v.len == 0) {
        return Ok(0);
    }
    if !is_self(ctx, pid) {
        host::kill(pid, 0).map_err(|e| if e == Errno::ESRCH { e } else { Errno::EPERM })?;
        // mm_access(PTRACE_MODE_ATTACH_REALCREDS) refused: EACCES, which Linux turns into EPERM.
        return Err(Errno::EPERM);
    }
    let mut iter = LocalIter { vecs: local, index: 0, offset: 0 };
    let mut moved = 0;
    for r in remote {
        if iter.next_piece(1).is_none() {
            break;
        }
        if let Err(e) = transfer_vec(ctx, &mut iter, r, write, &mut moved) {
            // What moved before the fault is the answer; only a transfer of nothing fails.
            return if moved > 0 { Ok(moved) } else { Err(e) };
        }
    }
    Ok(moved)
}

pub fn process_vm_readv(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    process_vm_rw(ctx, a, false)
}

pub fn process_vm_writev(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    process_vm_rw(ctx, a, true)
}

/// `process_madvise` (mm/madvise.c): flags, the vectors, the pidfd, the advice (only the
/// non-destructive ones), then CAP_SYS_NICE; each range is advised in turn and the answer is
/// the bytes advised before the first range that fails, or its error.
pub fn process_madvise(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (vec, vlen, advice, flags) = (a[1], a[2], a[3] as u32, a[4]);
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let ranges = read_iovecs(ctx, vec, vlen)?;
    let pid = pidfd_target(ctx, a[0])?;
    if !matches!(advice, MADV_COLD | MADV_PAGEOUT | MADV_WILLNEED | MADV_COLLAPSE) {
        return Err(Errno::EINVAL);
    }
    if !is_self(ctx, pid) {
        // Another emulator's memory is not reachable from here: as without CAP_SYS_NICE.
        return Err(if host::has_memory(pid)? { Errno::EPERM } else { Errno::ESRCH });
    }
    if !host::capable_sys_nice() {
        return Err(Errno::EPERM);
    }
    let mut advised = 0;
    for r in ranges {
        let result =
            super::sys_mmap::changing(ctx, |mm| mm.madvise(GuestAddr(r.base), r.len, advice));
        if let Err(e) = result {
            return if advised > 0 { Ok(advised) } else { Err(e) };
        }
        advised += r.len;
    }
    Ok(advised)
}

/// `process_mrelease` (mm/oom_kill.c): flags, the pidfd, then a process whose memory is gone
/// is ESRCH and one that is not being killed is EINVAL. A guest process is never reaped early
/// here: one with a SIGKILL on its way is answered as a live one.
pub fn process_mrelease(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    if a[1] != 0 {
        return Err(Errno::EINVAL);
    }
    let pid = pidfd_target(ctx, a[0])?;
    if !is_self(ctx, pid) && !host::has_memory(pid)? {
        return Err(Errno::ESRCH);
    }
    Err(Errno::EINVAL)
}
