//! Guest SysV semaphores and message queues (`linux/ipc.h`, `linux/sem.h`, `linux/msg.h`,
//! `asm-generic/sembuf.h`, `asm-generic/msgbuf.h`), with the aarch64 layouts of the structures
//! `semctl`, `semop` and `msgctl` exchange. The permission block is shm's [`IpcPerm`].
//!
//! As for shared memory, aarch64 has only the 64-bit interface, and a command with the
//! `IPC_64` bit is unknown.

use crate::obj::GuestObj;
pub use crate::shm::IpcPerm;

/// Fail with `EAGAIN` (semop) or `ENOMSG` (msgrcv) instead of waiting.
pub const IPC_NOWAIT: u32 = 0o4000;

/// A `sembuf` flag: the operation is undone when the process exits.
pub const SEM_UNDO: u32 = 0x1000;
pub const GETPID: u32 = 11;
pub const GETVAL: u32 = 12;
pub const GETALL: u32 = 13;
pub const GETNCNT: u32 = 14;
pub const GETZCNT: u32 = 15;
pub const SETVAL: u32 = 16;
pub const SETALL: u32 = 17;
pub const SEM_STAT: u32 = 18;
pub const SEM_INFO: u32 = 19;
pub const SEM_STAT_ANY: u32 = 20;

pub const MSG_STAT: u32 = 11;
pub const MSG_INFO: u32 = 12;
pub const MSG_STAT_ANY: u32 = 13;
/// msgrcv: truncate a message longer than the buffer instead of failing with `E2BIG`.
pub const MSG_NOERROR: u32 = 0o10000;
/// msgrcv: the first message whose type is not `msgtyp`.
pub const MSG_EXCEPT: u32 = 0o20000;
/// msgrcv: a copy of the message at index `msgtyp`, left on the queue.
pub const MSG_COPY: u32 = 0o40000;

/// `struct sembuf`: 6 bytes, the same on every architecture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sembuf {
    pub num: u16,
    pub op: i16,
    pub flg: i16,
}

/// `struct semid64_ds` (asm-generic, 64-bit): 88 bytes on aarch64 (x86_64 has padding words
/// after each time, so it is translated field by field).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SemidDs {
    pub perm: IpcPerm,
    pub otime: i64,
    pub ctime: i64,
    pub nsems: u64,
}

/// `struct msqid64_ds` (asm-generic, 64-bit): 120 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MsqidDs {
    pub perm: IpcPerm,
    pub stime: i64,
    pub rtime: i64,
    pub ctime: i64,
    pub cbytes: u64,
    pub qnum: u64,
    pub qbytes: u64,
    pub lspid: i32,
    pub lrpid: i32,
}

/// `struct seminfo`, what `IPC_INFO` and `SEM_INFO` return: ten ints, 40 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seminfo {
    pub semmap: i32,
    pub semmni: i32,
    pub semmns: i32,
    pub semmnu: i32,
    pub semmsl: i32,
    pub semopm: i32,
    pub semume: i32,
    pub semusz: i32,
    pub semvmx: i32,
    pub semaem: i32,
}

/// `struct msginfo`, what `IPC_INFO` and `MSG_INFO` return: 32 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Msginfo {
    pub msgpool: i32,
    pub msgmap: i32,
    pub msgmax: i32,
    pub msgmnb: i32,
    pub msgmni: i32,
    pub msgssz: i32,
    pub msgtql: i32,
    pub msgseg: u16,
}

impl GuestObj for Sembuf {
    const SIZE: usize = 6;

    fn decode(b: &[u8]) -> Self {
        Sembuf { num: u16::decode(&b[0..]), op: i16::decode(&b[2..]), flg: i16::decode(&b[4..]) }
    }

    fn encode(&self, out: &mut [u8]) {
        self.num.encode(&mut out[0..]);
        self.op.encode(&mut out[2..]);
        self.flg.encode(&mut out[4..]);
    }
}

impl GuestObj for SemidDs {
    const SIZE: usize = 88;

    fn decode(b: &[u8]) -> Self {
        assert!(b.len() >= Self::SIZE, "{} bytes for an 88-byte semid64_ds", b.len());
        SemidDs {
            perm: IpcPerm::decode(b),
            otime: i64::decode(&b[48..]),
            ctime: i64::decode(&b[56..]),
            nsems: u64::decode(&b[64..]),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..Self::SIZE];
        b.fill(0);
        self.perm.encode(b);
        self.otime.encode(&mut b[48..]);
        self.ctime.encode(&mut b[56..]);
        self.nsems.encode(&mut b[64..]);
        // 72: __unused3, 80: __unused4.
    }
}

impl GuestObj for MsqidDs {
    const SIZE: usize = 120;

    fn decode(b: &[u8]) -> Self {
        assert!(b.len() >= Self::SIZE, "{} bytes for a 120-byte msqid64_ds", b.len());
        MsqidDs {
            perm: IpcPerm::decode(b),
            stime: i64::decode(&b[48..]),
            rtime: i64::decode(&b[56..]),
            ctime: i64::decode(&b[64..]),
            cbytes: u64::decode(&b[72..]),
            qnum: u64::decode(&b[80..]),
            qbytes: u64::decode(&b[88..]),
            lspid: i32::decode(&b[96..]),
            lrpid: i32::decode(&b[100..]),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..Self::SIZE];
        b.fill(0);
        self.perm.encode(b);
        self.stime.encode(&mut b[48..]);
        self.rtime.encode(&mut b[56..]);
        self.ctime.encode(&mut b[64..]);
        self.cbytes.encode(&mut b[72..]);
        self.qnum.encode(&mut b[80..]);
        self.qbytes.encode(&mut b[88..]);
        self.lspid.encode(&mut b[96..]);
        self.lrpid.encode(&mut b[100..]);
        // 104: __unused4, 112: __unused5.
    }
}

impl Seminfo {
    fn fields(&self) -> [i32; 10] {
        [
            self.semmap,
            self.semmni,
            self.semmns,
            self.semmnu,
            self.semmsl,
            self.semopm,
            self.semume,
            self.semusz,
            self.semvmx,
            self.semaem,
        ]
    }
}

impl GuestObj for Seminfo {
    const SIZE: usize = 40;

    fn decode(b: &[u8]) -> Self {
        assert!(b.len() >= Self::SIZE, "{} bytes for a 40-byte seminfo", b.len());
        let w = |i: usize| i32::decode(&b[4 * i..]);
        Seminfo {
            semmap: w(0),
            semmni: w(1),
            semmns: w(2),
            semmnu: w(3),
            semmsl: w(4),
            semopm: w(5),
            semume: w(6),
            semusz: w(7),
            semvmx: w(8),
            semaem: w(9),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        for (i, v) in self.fields().into_iter().enumerate() {
            v.encode(&mut out[4 * i..]);
        }
    }
}

impl GuestObj for Msginfo {
    const SIZE: usize = 32;

    fn decode(b: &[u8]) -> Self {
        assert!(b.len() >= Self::SIZE, "{} bytes for a 32-byte msginfo", b.len());
        let w = |i: usize| i32::decode(&b[4 * i..]);
        Msginfo {
            msgpool: w(0),
            msgmap: w(1),
            msgmax: w(2),
            msgmnb: w(3),
            msgmni: w(4),
            msgssz: w(5),
            msgtql: w(6),
            msgseg: u16::decode(&b[28..]),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..Self::SIZE];
        b.fill(0);
        let ints = [
            self.msgpool,
            self.msgmap,
            self.msgmax,
            self.msgmnb,
            self.msgmni,
            self.msgssz,
            self.msgtql,
        ];
        for (i, v) in ints.into_iter().enumerate() {
            v.encode(&mut b[4 * i..]);
        }
        self.msgseg.encode(&mut b[28..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_semid_ds_layout() {
        let ds = SemidDs {
            perm: IpcPerm { key: 7, mode: 0o640, seq: 3, ..IpcPerm::default() },
            otime: 5,
            ctime: 6,
            nsems: 4,
        };
        let b = ds.to_guest_bytes();
        assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 0o640);
        assert_eq!(i64::from_le_bytes(b[48..56].try_into().unwrap()), 5);
        assert_eq!(i64::from_le_bytes(b[56..64].try_into().unwrap()), 6);
        assert_eq!(u64::from_le_bytes(b[64..72].try_into().unwrap()), 4);
        assert_eq!(&b[72..], &[0u8; 16]);
        assert_eq!(SemidDs::decode(&b), ds);
    }

    #[test]
    fn test_msqid_ds_layout() {
        let ds = MsqidDs { qbytes: 16384, lspid: 9, lrpid: 10, qnum: 2, ..MsqidDs::default() };
        let b = ds.to_guest_bytes();
        assert_eq!(u64::from_le_bytes(b[80..88].try_into().unwrap()), 2);
        assert_eq!(u64::from_le_bytes(b[88..96].try_into().unwrap()), 16384);
        assert_eq!(i32::from_le_bytes(b[96..100].try_into().unwrap()), 9);
        assert_eq!(i32::from_le_bytes(b[100..104].try_into().unwrap()), 10);
        assert_eq!(MsqidDs::decode(&b), ds);
    }

    proptest::proptest! {
        #[test]
        fn prop_round_trips(
            w in proptest::array::uniform8(proptest::prelude::any::<u64>()),
            s in proptest::array::uniform10(proptest::prelude::any::<i32>()),
            h: u16,
        ) {
            use crate::obj::testing::round_trip;
            round_trip(&Sembuf { num: h, op: s[0] as i16, flg: s[1] as i16 });
            round_trip(&SemidDs {
                perm: IpcPerm { key: s[0], uid: s[1] as u32, mode: s[2] as u32, seq: h, ..IpcPerm::default() },
                otime: w[0] as i64, ctime: w[1] as i64, nsems: w[2],
            });
            round_trip(&MsqidDs {
                perm: IpcPerm { gid: s[3] as u32, cuid: s[4] as u32, cgid: s[5] as u32, ..IpcPerm::default() },
                stime: w[0] as i64, rtime: w[1] as i64, ctime: w[2] as i64, cbytes: w[3], qnum: w[4],
                qbytes: w[5], lspid: s[6], lrpid: s[7],
            });
            round_trip(&Seminfo {
                semmap: s[0], semmni: s[1], semmns: s[2], semmnu: s[3], semmsl: s[4], semopm: s[5],
                semume: s[6], semusz: s[7], semvmx: s[8], semaem: s[9],
            });
            round_trip(&Msginfo {
                msgpool: s[0], msgmap: s[1], msgmax: s[2], msgmnb: s[3], msgmni: s[4], msgssz: s[5],
                msgtql: s[6], msgseg: h,
            });
        }
    }
}
