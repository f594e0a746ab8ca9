//! SysV semaphores (`semget`, `semctl`, `semop`, `semtimedop`) and message queues (`msgget`,
//! `msgsnd`, `msgrcv`, `msgctl`). The objects are the host's (see `host/ipc.rs`); these
//! handlers check the arguments in Linux's order (ipc/sem.c, ipc/msg.c), move the guest's
//! structures and buffers, and translate the layouts.

use elfvisor_abi::ipc::{
    GETALL, GETNCNT, GETPID, GETVAL, GETZCNT, IPC_NOWAIT, MSG_COPY, MSG_EXCEPT, MSG_INFO,
    MSG_NOERROR, MSG_STAT, MSG_STAT_ANY, Msginfo, MsqidDs, SEM_INFO, SEM_STAT, SEM_STAT_ANY,
    SEM_UNDO, SETALL, SETVAL, Sembuf, SemidDs, Seminfo,
};
use elfvisor_abi::shm::{IPC_CREAT, IPC_EXCL, IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT};
use elfvisor_abi::time::Timespec;
use elfvisor_abi::{Errno, GuestAddr};

use super::ctx::{Ctx, SysResult};
use crate::host::ipc::{self as hi, MsgArg, SemArg};

/// `semget`/`msgget` flags: the permission bits, `IPC_CREAT` and `IPC_EXCL` (ipcget ignores
/// the rest).
fn get_flags(flags: u32) -> i32 {
    let mut host = (flags & 0o777) as i32;
    for (guest, bit) in [(IPC_CREAT, libc::IPC_CREAT), (IPC_EXCL, libc::IPC_EXCL)] {
        if flags & guest != 0 {
            host |= bit;
        }
    }
    host
}

/// A control command as the kernel switches on it: negative ids are `EINVAL`. arm64 parses no
/// `IPC_64` bit (it has only the 64-bit structures), so a command carrying one is unknown.
fn command(id: u64, cmd: u64) -> Result<(i32, u32), Errno> {
    let (id, cmd) = (id as i32, cmd as i32);
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    Ok((id, cmd as u32))
}

pub fn semget(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hi::semget(a[0] as i32, a[1] as i32, get_flags(a[2] as u32))
}

/// The host command number for a guest `semctl` command (the same Linux numbers).
fn sem_cmd(cmd: u32) -> i32 {
    cmd as i32
}

pub fn semctl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (id, cmd) = command(a[0], a[2])?;
    let (num, arg) = (a[1] as i32, a[3]);
    match cmd {
        IPC_INFO | SEM_INFO => {
            let mut info = Seminfo::default();
            let r = hi::semctl(id, 0, sem_cmd(cmd), SemArg::Info(&mut info))?;
            ctx.write_obj(arg, &info)?;
            Ok(r)
        }
        IPC_STAT | SEM_STAT | SEM_STAT_ANY => {
            let mut ds = SemidDs::default();
            let r = hi::semctl(id, 0, sem_cmd(cmd), SemArg::Stat(&mut ds))?;
            ctx.write_obj(arg, &ds)?;
            Ok(r)
        }
        IPC_SET => {
            let ds: SemidDs = ctx.read_obj(arg)?;
            hi::semctl(id, 0, sem_cmd(cmd), SemArg::Set(&ds))
        }
        GETALL => {
            // The set's size (fixed at creation); IPC_STAT needs the read permission GETALL
            // needs too.
            let mut ds = SemidDs::default();
            hi::semctl(id, 0, sem_cmd(IPC_STAT), SemArg::Stat(&mut ds))?;
            let mut values = vec![0u16; ds.nsems as usize];
            let r = hi::semctl(id, 0, sem_cmd(cmd), SemArg::Values(&mut values))?;
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            ctx.copy_out(arg, &bytes)?;
            Ok(r)
        }
        SETALL => {
            let mut ds = SemidDs::default();
            hi::semctl(id, 0, sem_cmd(IPC_STAT), SemArg::Stat(&mut ds))?;
            let mut bytes = vec![0u8; ds.nsems as usize * 2];
            ctx.proc.mm.read().copy_in(GuestAddr(arg), &mut bytes)?;
            let mut values: Vec<u16> =
                bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            hi::semctl(id, 0, sem_cmd(cmd), SemArg::Values(&mut values))
        }
        GETVAL | GETPID | GETNCNT | GETZCNT | IPC_RMID => {
            hi::semctl(id, num, sem_cmd(cmd), SemArg::Value(0))
        }
        // The union semun's int, as the guest passed it.
        SETVAL => hi::semctl(id, num, sem_cmd(cmd), SemArg::Value(arg)),
        _ => Err(Errno::EINVAL),
    }
}

/// The system's `SEMOPM`: the most operations one `semop` may take.
fn semopm() -> Result<usize, Errno> {
    let mut info = Seminfo::default();
    hi::semctl(0, 0, libc::IPC_INFO, SemArg::Info(&mut info))?;
    Ok(info.semopm.max(0) as usize)
}

/// `semtimedop` (`semop` without a timeout) in ksys_semtimedop/do_semtimedop's order: the
/// timeout is read first, then `E2BIG` past `SEMOPM` and `EINVAL` for no operations, then the
/// operations are read; the rest (the timeout's range, the id, each operation) is the host's.
/// `SEM_UNDO` is the host process's, which is the guest process.
fn semtimedop_common(ctx: &mut Ctx<'_>, a: &[u64; 6], timeout: Option<u64>) -> SysResult {
    let timeout = match timeout {
        Some(addr) => Some(ctx.read_obj::<Timespec>(addr)?),
        None => None,
    };
    let nsops = a[2] as u32 as usize;
    if nsops > semopm()? {
        return Err(Errno::E2BIG);
    }
    if nsops == 0 {
        return Err(Errno::EINVAL);
    }
    let ops: Vec<Sembuf> = ctx.proc.mm.read().read_objs(GuestAddr(a[1]), nsops, nsops)?;
    // The flag bits are the same numbers on the host.
    debug_assert_eq!(SEM_UNDO as i32, libc::SEM_UNDO);
    debug_assert_eq!(IPC_NOWAIT as i32, libc::IPC_NOWAIT);
    hi::semtimedop(a[0] as i32, &ops, timeout)
}

pub fn semop(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    semtimedop_common(ctx, a, None)
}

pub fn semtimedop(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    semtimedop_common(ctx, a, (a[3] != 0).then_some(a[3]))
}

pub fn msgget(_: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    hi::msgget(a[0] as i32, get_flags(a[1] as u32))
}

/// The system's `MSGMAX`: the longest message.
fn msgmax() -> Result<usize, Errno> {
    let mut info = Msginfo::default();
    hi::msgctl(0, libc::IPC_INFO, MsgArg::Info(&mut info))?;
    Ok(info.msgmax.max(0) as usize)
}

/// `msgrcv`/`msgsnd` flags the host knows by the same numbers.
fn msg_flags(flags: u32) -> i32 {
    let mut host = 0;
    for (guest, bit) in [
        (IPC_NOWAIT, libc::IPC_NOWAIT),
        (MSG_NOERROR, libc::MSG_NOERROR),
        (MSG_EXCEPT, libc::MSG_EXCEPT),
        (MSG_COPY, libc::MSG_COPY),
    ] {
        if flags & guest != 0 {
            host |= bit;
        }
    }
    host
}

/// ksys_msgsnd/do_msgsnd's order: the type is read (`EFAULT`), then a size past `MSGMAX`, a
/// negative id or a type below 1 are `EINVAL`, then the text is read.
pub fn msgsnd(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (id, addr, size) = (a[0] as i32, a[1], a[2]);
    let mtype = ctx.read_u64(addr)? as i64;
    if size > msgmax()? as u64 || (size as i64) < 0 || id < 0 || mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let mut msg = vec![0u8; 8 + size as usize];
    msg[..8].copy_from_slice(&mtype.to_le_bytes());
    let text = GuestAddr(addr).checked_add(8).ok_or(Errno::EFAULT)?;
    ctx.proc.mm.read().copy_in(text, &mut msg[8..])?;
    hi::msgsnd(id, &msg, msg_flags(a[3] as u32))
}

/// do_msgrcv: a negative id or size is `EINVAL`; the message is taken off the queue first and
/// copied to the guest after, so an unwritable buffer loses it with `EFAULT`, as on Linux.
pub fn msgrcv(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (id, addr, size, typ, flags) = (a[0] as i32, a[1], a[2], a[3] as i64, a[4] as u32);
    if id < 0 || (size as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    // No message is longer than MSGMAX, so a longer buffer needs no more room than that.
    let room = if size <= 65536 { size as usize } else { (size as usize).min(msgmax()?) };
    let mut buf = vec![0u8; 8 + room];
    let n = hi::msgrcv(id, &mut buf, typ, msg_flags(flags))? as usize;
    ctx.copy_out(addr, &buf[..8 + n])?;
    Ok(n as u64)
}

pub fn msgctl(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (id, cmd) = command(a[0], a[1])?;
    let buf = a[2];
    match cmd {
        IPC_INFO | MSG_INFO => {
            let mut info = Msginfo::default();
            let r = hi::msgctl(id, cmd as i32, MsgArg::Info(&mut info))?;
            ctx.write_obj(buf, &info)?;
            Ok(r)
        }
        IPC_STAT | MSG_STAT | MSG_STAT_ANY => {
            let mut ds = MsqidDs::default();
            let r = hi::msgctl(id, cmd as i32, MsgArg::Stat(&mut ds))?;
            ctx.write_obj(buf, &ds)?;
            Ok(r)
        }
        IPC_SET => {
            let ds: MsqidDs = ctx.read_obj(buf)?;
            hi::msgctl(id, cmd as i32, MsgArg::Set(&ds))
        }
        IPC_RMID => hi::msgctl(id, cmd as i32, MsgArg::None),
        _ => Err(Errno::EINVAL),
    }
}
