//! SysV semaphores and message queues: the host's own objects. Ids, keys, permissions, wait
//! queues and `SEM_UNDO` are the host kernel's, so guests, their children on every fork
//! strategy and native programs share one registry (as for SysV shared memory, `shm.rs`).
//!
//! The calls are raw system calls, so the structures here are the host kernel's layouts
//! (`asm/sembuf.h`, `asm-generic/msgbuf.h`), not a C library's; each is converted to the
//! guest's field by field.

use elfvisor_abi::Errno;
use elfvisor_abi::ipc::{IpcPerm, Msginfo, MsqidDs, Sembuf, SemidDs, Seminfo};
use elfvisor_abi::time::Timespec;

use super::check;

/// The host's `struct ipc64_perm` (asm-generic on x86_64 and aarch64 alike).
#[repr(C)]
#[derive(Default)]
struct HostIpcPerm {
    key: i32,
    uid: u32,
    gid: u32,
    cuid: u32,
    cgid: u32,
    mode: u32,
    seq: u16,
    pad2: u16,
    unused1: u64,
    unused2: u64,
}

/// The host's `struct semid64_ds`: x86_64 has a padding word after each time.
#[repr(C)]
#[derive(Default)]
struct HostSemidDs {
    perm: HostIpcPerm,
    otime: i64,
    #[cfg(target_arch = "x86_64")]
    unused1: u64,
    ctime: i64,
    #[cfg(target_arch = "x86_64")]
    unused2: u64,
    nsems: u64,
    unused3: u64,
    unused4: u64,
}

/// The host's `struct msqid64_ds` (asm-generic, 64-bit).
#[repr(C)]
#[derive(Default)]
struct HostMsqidDs {
    perm: HostIpcPerm,
    stime: i64,
    rtime: i64,
    ctime: i64,
    cbytes: u64,
    qnum: u64,
    qbytes: u64,
    lspid: i32,
    lrpid: i32,
    unused4: u64,
    unused5: u64,
}

fn guest_perm(h: &HostIpcPerm) -> IpcPerm {
    IpcPerm {
        key: h.key,
        uid: h.uid,
        gid: h.gid,
        cuid: h.cuid,
        cgid: h.cgid,
        mode: h.mode,
        seq: h.seq,
    }
}

/// What `IPC_SET` reads: the owner and the permission bits (the rest is ignored, as on Linux).
fn host_perm(g: &IpcPerm) -> HostIpcPerm {
    HostIpcPerm { uid: g.uid, gid: g.gid, mode: g.mode, ..HostIpcPerm::default() }
}

/// The argument of a `semctl` command.
pub enum SemArg<'a> {
    /// No argument, or an integer one (`SETVAL`'s value, passed on as the guest gave it).
    Value(u64),
    /// `IPC_STAT`, `SEM_STAT`, `SEM_STAT_ANY`: the set's state.
    Stat(&'a mut SemidDs),
    /// `IPC_SET`: the new owner and mode.
    Set(&'a SemidDs),
    /// `GETALL` / `SETALL`: one value per semaphore.
    Values(&'a mut [u16]),
    /// `IPC_INFO`, `SEM_INFO`.
    Info(&'a mut Seminfo),
}

/// Host `semctl` command numbers: the guest's are the same Linux numbers (`linux/sem.h`), so
/// the handler passes them through after its own check.
pub fn semctl(id: i32, num: i32, cmd: i32, arg: SemArg<'_>) -> Result<u64, Errno> {
    let raw = |ptr: u64| {
        // SAFETY: `ptr` is 0, an integer the command reads as one, or a live buffer of the
        // size the command reads or writes (the matching host structure or array).
        check(unsafe { libc::syscall(libc::SYS_semctl, id, num, cmd, ptr) } as isize)
    };
    match arg {
        SemArg::Value(v) => raw(v),
        SemArg::Stat(out) => {
            let mut h = HostSemidDs::default();
            let r = raw(&raw mut h as u64)?;
            *out = SemidDs {
                perm: guest_perm(&h.perm),
                otime: h.otime,
                ctime: h.ctime,
                nsems: h.nsems,
            };
            Ok(r)
        }
        SemArg::Set(g) => {
            let mut h = HostSemidDs { perm: host_perm(&g.perm), ..HostSemidDs::default() };
            raw(&raw mut h as u64)
        }
        SemArg::Values(values) => raw(values.as_mut_ptr() as u64),
        SemArg::Info(out) => {
            let mut h = [0i32; 10];
            let r = raw(h.as_mut_ptr() as u64)?;
            *out = Seminfo {
                semmap: h[0],
                semmni: h[1],
                semmns: h[2],
                semmnu: h[3],
                semmsl: h[4],
                semopm: h[5],
                semume: h[6],
                semusz: h[7],
                semvmx: h[8],
                semaem: h[9],
            };
            Ok(r)
        }
    }
}

pub fn semget(key: i32, nsems: i32, flags: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(libc::SYS_semget, key, nsems, flags) } as isize)
}

/// `semtimedop` (and `semop`, without a timeout). Blocks in the host; a guest signal
/// interrupts it with `EINTR` like any blocking host call.
pub fn semtimedop(id: i32, ops: &[Sembuf], timeout: Option<Timespec>) -> Result<u64, Errno> {
    let mut host: Vec<libc::sembuf> =
        ops.iter().map(|o| libc::sembuf { sem_num: o.num, sem_op: o.op, sem_flg: o.flg }).collect();
    let ts =
        timeout.map(|t| libc::timespec { tv_sec: t.sec as libc::time_t, tv_nsec: t.nsec as _ });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `host` holds `ops.len()` sembufs and `ts_ptr` is null or a live timespec.
    let r =
        unsafe { libc::syscall(libc::SYS_semtimedop, id, host.as_mut_ptr(), host.len(), ts_ptr) };
    check(r as isize)
}

pub fn msgget(key: i32, flags: i32) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    check(unsafe { libc::syscall(libc::SYS_msgget, key, flags) } as isize)
}

/// `msgsnd` of `msg`: the 8-byte type, then the text.
pub fn msgsnd(id: i32, msg: &[u8], flags: i32) -> Result<u64, Errno> {
    let text = msg.len().saturating_sub(8);
    // SAFETY: `msg` holds the type and `text` bytes of text.
    check(unsafe { libc::syscall(libc::SYS_msgsnd, id, msg.as_ptr(), text, flags) } as isize)
}

/// `msgrcv` into `buf` (the type, then room for `buf.len() - 8` bytes of text): the text's
/// length.
pub fn msgrcv(id: i32, buf: &mut [u8], typ: i64, flags: i32) -> Result<u64, Errno> {
    let room = buf.len().saturating_sub(8);
    // SAFETY: `buf` has room for the type and `room` bytes of text.
    check(
        unsafe { libc::syscall(libc::SYS_msgrcv, id, buf.as_mut_ptr(), room, typ, flags) } as isize
    )
}

/// The argument of a `msgctl` command.
pub enum MsgArg<'a> {
    None,
    Stat(&'a mut MsqidDs),
    /// `IPC_SET`: owner, mode and `msg_qbytes`.
    Set(&'a MsqidDs),
    Info(&'a mut Msginfo),
}

pub fn msgctl(id: i32, cmd: i32, arg: MsgArg<'_>) -> Result<u64, Errno> {
    let raw = |ptr: u64| {
        // SAFETY: `ptr` is 0 or a live buffer of the host structure the command exchanges.
        check(unsafe { libc::syscall(libc::SYS_msgctl, id, cmd, ptr) } as isize)
    };
    match arg {
        MsgArg::None => raw(0),
        MsgArg::Stat(out) => {
            let mut h = HostMsqidDs::default();
            let r = raw(&raw mut h as u64)?;
            *out = MsqidDs {
                perm: guest_perm(&h.perm),
                stime: h.stime,
                rtime: h.rtime,
                ctime: h.ctime,
                cbytes: h.cbytes,
                qnum: h.qnum,
                qbytes: h.qbytes,
                lspid: h.lspid,
                lrpid: h.lrpid,
            };
            Ok(r)
        }
        MsgArg::Set(g) => {
            let mut h = HostMsqidDs {
                perm: host_perm(&g.perm),
                qbytes: g.qbytes,
                ..HostMsqidDs::default()
            };
            raw(&raw mut h as u64)
        }
        MsgArg::Info(out) => {
            // struct msginfo: seven ints and an unsigned short.
            let mut h = [0i32; 8];
            let r = raw(h.as_mut_ptr() as u64)?;
            *out = Msginfo {
                msgpool: h[0],
                msgmap: h[1],
                msgmax: h[2],
                msgmnb: h[3],
                msgmni: h[4],
                msgssz: h[5],
                msgtql: h[6],
                msgseg: h[7] as u16,
            };
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_host_layouts_match_the_host_kernel() {
        assert_eq!(std::mem::size_of::<HostIpcPerm>(), 48);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(std::mem::size_of::<HostSemidDs>(), 104);
        assert_eq!(std::mem::size_of::<HostMsqidDs>(), 120);
    }
}
