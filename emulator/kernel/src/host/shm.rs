//! Host calls for shared memory objects: memfds, the host's SysV segments (with explicit
//! translation of `struct shmid_ds` between the host's and the guest's layouts), and the
//! `SIGBUS` a shared file truncated behind our back raises.
//!
//! SysV segments are the host's own: the host kernel keeps the registry, so guests and native
//! programs see each other's segments, and attach counts and removal work across processes.

use std::ffi::{CStr, CString};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use elfvisor_abi::Errno;
use elfvisor_abi::shm::{IpcPerm, ShmLimits, ShmUsage, ShmidDs};

use super::check;

/// Host `shmctl` commands the libc crate does not name (Linux values on every architecture).
const HOST_SHM_STAT: i32 = 13;
const HOST_SHM_INFO: i32 = 14;
const HOST_SHM_STAT_ANY: i32 = 15;

/// The host's `struct shminfo` (IPC_INFO): nine `unsigned long`s (64-bit Linux hosts only).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct HostShminfo {
    shmmax: u64,
    shmmin: u64,
    shmmni: u64,
    shmseg: u64,
    shmall: u64,
    unused: [u64; 4],
}

/// The host's `struct shm_info` (SHM_INFO).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct HostShmInfo {
    used_ids: libc::c_int,
    shm_tot: u64,
    shm_rss: u64,
    shm_swp: u64,
    swap_attempts: u64,
    swap_successes: u64,
}

/// `memfd_create` on the host; the caller translated and validated the flags.
pub fn memfd_create(name: &CStr, flags: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::memfd_create(name.as_ptr(), flags) } as isize)
        .map(|fd| super::fs::owned(fd as RawFd))
}

/// A read-only descriptor on a new memfd holding `contents` (a generated `/proc` file). The
/// writable descriptor used to fill it is closed before returning.
pub fn read_only_memfd(name: &CStr, contents: &[u8]) -> Result<OwnedFd, Errno> {
    let io = |e: std::io::Error| elfvisor_host::errno_from_io(&e);
    let mut file = std::fs::File::from(memfd_create(name, libc::MFD_CLOEXEC)?);
    let fd = file.as_raw_fd();
    file.write_all(contents).map_err(io)?;
    let path = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL in a number");
    super::fs::openat(libc::AT_FDCWD, &path, libc::O_RDONLY | libc::O_CLOEXEC, 0)
}

/// `shmget` on the host: key, size and flag bits are the same numbers for the guest.
pub fn shmget(key: i32, size: u64, flags: i32) -> Result<u64, Errno> {
    let size = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
    // SAFETY: no pointers.
    check(unsafe { libc::shmget(key, size, flags) } as isize)
}

/// The raw `shmctl` system call: no libc layout conversions in between.
fn shmctl(id: i32, cmd: i32, buf: *mut libc::c_void) -> Result<u64, Errno> {
    // SAFETY: `buf` is null or points to a buffer of the size `cmd` writes or reads (the callers
    // below pass the matching host structure).
    check(unsafe { libc::syscall(libc::SYS_shmctl, id, cmd, buf) } as isize)
}

/// Which segment a stat command names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmStat {
    /// `IPC_STAT` of a segment id.
    Id,
    /// `SHM_STAT` of a kernel index (needs read permission).
    Index,
    /// `SHM_STAT_ANY` of a kernel index (no permission check).
    IndexAny,
}

/// A segment's state in the guest's layout, and the call's result (0 for `IPC_STAT`, the
/// segment's id for the index forms).
pub fn shm_stat(id: i32, how: ShmStat) -> Result<(u64, ShmidDs), Errno> {
    let cmd = match how {
        ShmStat::Id => libc::IPC_STAT,
        ShmStat::Index => HOST_SHM_STAT,
        ShmStat::IndexAny => HOST_SHM_STAT_ANY,
    };
    let mut ds = std::mem::MaybeUninit::<libc::shmid_ds>::zeroed();
    let r = shmctl(id, cmd, ds.as_mut_ptr().cast())?;
    // SAFETY: the call succeeded, so the kernel filled the structure (it started zeroed).
    Ok((r, guest_shmid_ds(&unsafe { ds.assume_init() })))
}

/// `IPC_SET`: only the owner and the permission bits of `ds` are used, as on Linux.
pub fn shm_set(id: i32, ds: &ShmidDs) -> Result<u64, Errno> {
    let mut host = host_shmid_ds(ds);
    shmctl(id, libc::IPC_SET, (&raw mut host).cast())
}

/// `IPC_RMID`, `SHM_LOCK`, `SHM_UNLOCK`: commands without a buffer.
pub fn shm_command(id: i32, cmd: u32) -> Result<u64, Errno> {
    use elfvisor_abi::shm as gs;
    let cmd = match cmd {
        gs::IPC_RMID => libc::IPC_RMID,
        gs::SHM_LOCK => libc::SHM_LOCK,
        gs::SHM_UNLOCK => libc::SHM_UNLOCK,
        _ => return Err(Errno::EINVAL),
    };
    shmctl(id, cmd, std::ptr::null_mut())
}

/// `IPC_INFO`: the system's limits, and the highest used index.
pub fn shm_limits() -> Result<(u64, ShmLimits), Errno> {
    let mut info = HostShminfo::default();
    let r = shmctl(0, libc::IPC_INFO, (&raw mut info).cast())?;
    let limits = ShmLimits {
        shmmax: info.shmmax,
        shmmin: info.shmmin,
        shmmni: info.shmmni,
        shmseg: info.shmseg,
        shmall: info.shmall,
    };
    Ok((r, limits))
}

/// `SHM_INFO`: the system's usage, and the highest used index.
pub fn shm_usage() -> Result<(u64, ShmUsage), Errno> {
    let mut info = HostShmInfo::default();
    let r = shmctl(0, HOST_SHM_INFO, (&raw mut info).cast())?;
    let usage = ShmUsage {
        used_ids: info.used_ids,
        shm_tot: info.shm_tot,
        shm_rss: info.shm_rss,
        shm_swp: info.shm_swp,
        swap_attempts: info.swap_attempts,
        swap_successes: info.swap_successes,
    };
    Ok((r, usage))
}

/// Host `struct shmid_ds` → the guest's. Field by field: the host libc's layout (a 16-bit
/// `mode` and padding on glibc) is not the guest's (32-bit `mode`).
fn guest_shmid_ds(h: &libc::shmid_ds) -> ShmidDs {
    let p = &h.shm_perm;
    ShmidDs {
        perm: IpcPerm {
            key: p.__key,
            uid: p.uid,
            gid: p.gid,
            cuid: p.cuid,
            cgid: p.cgid,
            mode: u32::from(p.mode),
            seq: p.__seq,
        },
        segsz: h.shm_segsz as u64,
        atime: h.shm_atime,
        dtime: h.shm_dtime,
        ctime: h.shm_ctime,
        cpid: h.shm_cpid,
        lpid: h.shm_lpid,
        nattch: h.shm_nattch,
    }
}

/// The guest's `struct shmid_ds` → the host's, for `IPC_SET` (which reads uid, gid and the low
/// 9 mode bits).
fn host_shmid_ds(g: &ShmidDs) -> libc::shmid_ds {
    // SAFETY: shmid_ds is plain old data; all-zero is a valid value.
    let mut h: libc::shmid_ds = unsafe { std::mem::zeroed() };
    h.shm_perm.__key = g.perm.key;
    h.shm_perm.uid = g.perm.uid;
    h.shm_perm.gid = g.perm.gid;
    h.shm_perm.cuid = g.perm.cuid;
    h.shm_perm.cgid = g.perm.cgid;
    // The kernel keeps only S_IRWXUGO from IPC_SET; the rest of the 32-bit field cannot fit.
    h.shm_perm.mode = (g.perm.mode & 0o7777) as libc::c_ushort;
    h.shm_perm.__seq = g.perm.seq;
    h.shm_segsz = g.segsz as libc::size_t;
    h.shm_atime = g.atime;
    h.shm_dtime = g.dtime;
    h.shm_ctime = g.ctime;
    h.shm_cpid = g.cpid;
    h.shm_lpid = g.lpid;
    h.shm_nattch = g.nattch;
    h
}

/// Makes a host `SIGBUS` end this process by `SIGBUS`, as the guest dies on Linux.
///
/// The runtime never grants a page past the end of a shared object, but another process may
/// shrink a file between the size check and the access: the host then raises `SIGBUS` in the
/// emulator itself (in guest code or in a copy). The guest cannot be resumed there, so the
/// handler ends the process the way Linux ends a guest without a `SIGBUS` handler: default
/// action, a core as [`die_by_signal`](super::die_by_signal) leaves one.
pub fn install_sigbus_handler() {
    extern "C" fn on_sigbus(sig: libc::c_int) {
        super::process::core_without_memory();
        // SAFETY: signal and raise are async-signal-safe. SIGBUS is blocked while the handler
        // runs, so the raised one stays pending and kills the process, with the default
        // action, as soon as the handler returns.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
    // SAFETY: installs a handler that only makes async-signal-safe calls; `sa` is fully
    // initialised (zeroed, then the handler and an empty mask).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elfvisor_abi::obj::GuestObj;

    #[test]
    fn test_shmid_ds_translation_is_explicit_both_ways() {
        // SAFETY: plain old data.
        let mut h: libc::shmid_ds = unsafe { std::mem::zeroed() };
        h.shm_perm.__key = 0x162e;
        h.shm_perm.uid = 1000;
        h.shm_perm.cgid = 7;
        h.shm_perm.mode = 0o1600;
        h.shm_perm.__seq = 3;
        h.shm_segsz = 4097;
        h.shm_ctime = 1_700_000_000;
        h.shm_cpid = 42;
        h.shm_nattch = 2;
        let g = guest_shmid_ds(&h);
        assert_eq!(
            g.perm,
            IpcPerm { key: 0x162e, uid: 1000, gid: 0, cuid: 0, cgid: 7, mode: 0o1600, seq: 3 }
        );
        assert_eq!((g.segsz, g.ctime, g.cpid, g.nattch), (4097, 1_700_000_000, 42, 2));
        let bytes = g.to_guest_bytes();
        assert_eq!(u32::decode(&bytes[20..]), 0o1600);
        let back = host_shmid_ds(&ShmidDs::decode(&bytes));
        assert_eq!((back.shm_perm.uid, back.shm_perm.mode, back.shm_segsz), (1000, 0o1600, 4097));
    }

    #[test]
    fn test_host_segments_round_trip() {
        let id = shmget(libc::IPC_PRIVATE, 8192, libc::IPC_CREAT | 0o600).unwrap() as i32;
        let (r, ds) = shm_stat(id, ShmStat::Id).unwrap();
        assert_eq!((r, ds.segsz, ds.perm.mode & 0o777, ds.nattch), (0, 8192, 0o600, 0));
        let mut changed = ds;
        changed.perm.mode = 0o640;
        shm_set(id, &changed).unwrap();
        assert_eq!(shm_stat(id, ShmStat::Id).unwrap().1.perm.mode & 0o777, 0o640);
        assert!(shm_limits().unwrap().1.shmmni > 0);
        assert!(shm_usage().unwrap().1.used_ids >= 1);
        shm_command(id, elfvisor_abi::shm::IPC_RMID).unwrap();
        assert_eq!(shm_stat(id, ShmStat::Id), Err(Errno::EINVAL));
    }
}
