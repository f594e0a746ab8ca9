//! Guest shared-memory objects: `memfd_create` flags (`linux/memfd.h`) and SysV shared memory
//! (`linux/ipc.h`, `linux/shm.h`, `asm-generic/ipcbuf.h`, `asm-generic/shmbuf.h`), with the
//! aarch64 layouts of the structures `shmctl` exchanges.
//!
//! aarch64 has only the 64-bit IPC interface and does not parse an `IPC_64` bit: a command with
//! it is unknown (`EINVAL`). The aarch64 libcs never add it.

use crate::obj::GuestObj;

pub const MFD_CLOEXEC: u32 = 0x1;
pub const MFD_ALLOW_SEALING: u32 = 0x2;
pub const MFD_HUGETLB: u32 = 0x4;
/// Linux 6.3: the memfd is not executable and sealed so.
pub const MFD_NOEXEC_SEAL: u32 = 0x8;
/// Linux 6.3: the memfd is executable.
pub const MFD_EXEC: u32 = 0x10;
/// Huge page size bits (`MFD_HUGE_MASK << MFD_HUGE_SHIFT`), valid only with `MFD_HUGETLB`.
pub const MFD_HUGE_BITS: u32 = 0x3f << 26;
/// The longest memfd name: 255 minus the `memfd:` prefix the kernel adds.
pub const MFD_NAME_MAX_LEN: usize = 249;

/// `shmget` key meaning "a new segment nobody else can look up by key".
pub const IPC_PRIVATE: i32 = 0;
pub const IPC_CREAT: u32 = 0o1000;
pub const IPC_EXCL: u32 = 0o2000;
pub const SHM_HUGETLB: u32 = 0o4000;
pub const SHM_NORESERVE: u32 = 0o10000;

pub const IPC_RMID: u32 = 0;
pub const IPC_SET: u32 = 1;
pub const IPC_STAT: u32 = 2;
pub const IPC_INFO: u32 = 3;
pub const SHM_LOCK: u32 = 11;
pub const SHM_UNLOCK: u32 = 12;
pub const SHM_STAT: u32 = 13;
pub const SHM_INFO: u32 = 14;
pub const SHM_STAT_ANY: u32 = 15;

pub const SHM_RDONLY: u32 = 0o10000;
pub const SHM_RND: u32 = 0o20000;
pub const SHM_REMAP: u32 = 0o40000;
pub const SHM_EXEC: u32 = 0o100000;

/// Segment attach addresses are multiples of this. arm64 uses `asm-generic/shmparam.h`
/// (`PAGE_SIZE`) for native tasks; only 32-bit compat tasks get 4 pages.
pub const SHMLBA: u64 = crate::PAGE_SIZE;

/// `struct ipc64_perm` (asm-generic): 48 bytes on aarch64.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpcPerm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// `__kernel_mode_t` is 32 bits on aarch64.
    pub mode: u32,
    pub seq: u16,
}

/// `struct shmid64_ds` (asm-generic, 64-bit): 112 bytes on aarch64.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShmidDs {
    pub perm: IpcPerm,
    pub segsz: u64,
    pub atime: i64,
    pub dtime: i64,
    pub ctime: i64,
    pub cpid: i32,
    pub lpid: i32,
    pub nattch: u64,
}

/// `struct shminfo64`, what `IPC_INFO` returns: the system's limits. 72 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShmLimits {
    pub shmmax: u64,
    pub shmmin: u64,
    pub shmmni: u64,
    pub shmseg: u64,
    pub shmall: u64,
}

/// `struct shm_info`, what `SHM_INFO` returns: the system's usage. 48 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShmUsage {
    pub used_ids: i32,
    pub shm_tot: u64,
    pub shm_rss: u64,
    pub shm_swp: u64,
    pub swap_attempts: u64,
    pub swap_successes: u64,
}

impl GuestObj for IpcPerm {
    const SIZE: usize = 48;

    fn decode(b: &[u8]) -> Self {
        assert!(b.len() >= Self::SIZE, "{} bytes for a 48-byte ipc64_perm", b.len());
        IpcPerm {
            key: i32::decode(&b[0..]),
            uid: u32::decode(&b[4..]),
            gid: u32::decode(&b[8..]),
            cuid: u32::decode(&b[12..]),
            cgid: u32::decode(&b[16..]),
            mode: u32::decode(&b[20..]),
            seq: u16::decode(&b[24..]),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..Self::SIZE];
        b.fill(0);
        self.key.encode(&mut b[0..]);
        self.uid.encode(&mut b[4..]);
        self.gid.encode(&mut b[8..]);
        self.cuid.encode(&mut b[12..]);
        self.cgid.encode(&mut b[16..]);
        self.mode.encode(&mut b[20..]);
        self.seq.encode(&mut b[24..]);
        // 26: __pad2 (u16), 32: __unused1, 40: __unused2.
    }
}

impl GuestObj for ShmidDs {
    const SIZE: usize = 112;

    fn decode(b: &[u8]) -> Self {
        assert!(b.len() >= Self::SIZE, "{} bytes for a 112-byte shmid64_ds", b.len());
        ShmidDs {
            perm: IpcPerm::decode(b),
            segsz: u64::decode(&b[48..]),
            atime: i64::decode(&b[56..]),
            dtime: i64::decode(&b[64..]),
            ctime: i64::decode(&b[72..]),
            cpid: i32::decode(&b[80..]),
            lpid: i32::decode(&b[84..]),
            nattch: u64::decode(&b[88..]),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..Self::SIZE];
        b.fill(0);
        self.perm.encode(b);
        self.segsz.encode(&mut b[48..]);
        self.atime.encode(&mut b[56..]);
        self.dtime.encode(&mut b[64..]);
        self.ctime.encode(&mut b[72..]);
        self.cpid.encode(&mut b[80..]);
        self.lpid.encode(&mut b[84..]);
        self.nattch.encode(&mut b[88..]);
        // 96: __unused4, 104: __unused5.
    }
}

impl GuestObj for ShmLimits {
    const SIZE: usize = 72;

    fn decode(b: &[u8]) -> Self {
        let w = |i: usize| u64::decode(&b[8 * i..]);
        assert!(b.len() >= Self::SIZE, "{} bytes for a 72-byte shminfo64", b.len());
        ShmLimits { shmmax: w(0), shmmin: w(1), shmmni: w(2), shmseg: w(3), shmall: w(4) }
    }

    fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..Self::SIZE];
        b.fill(0);
        let words = [self.shmmax, self.shmmin, self.shmmni, self.shmseg, self.shmall];
        for (i, v) in words.into_iter().enumerate() {
            v.encode(&mut b[8 * i..]);
        }
    }
}

impl GuestObj for ShmUsage {
    const SIZE: usize = 48;

    fn decode(b: &[u8]) -> Self {
        let w = |i: usize| u64::decode(&b[8 + 8 * i..]);
        assert!(b.len() >= Self::SIZE, "{} bytes for a 48-byte shm_info", b.len());
        ShmUsage {
            used_ids: i32::decode(b),
            shm_tot: w(0),
            shm_rss: w(1),
            shm_swp: w(2),
            swap_attempts: w(3),
            swap_successes: w(4),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..Self::SIZE];
        b.fill(0);
        self.used_ids.encode(b);
        let rest =
            [self.shm_tot, self.shm_rss, self.shm_swp, self.swap_attempts, self.swap_successes];
        for (i, v) in rest.into_iter().enumerate() {
            v.encode(&mut b[8 + 8 * i..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_shmid_ds_layout_matches_asm_generic() {
        let ds = ShmidDs {
            perm: IpcPerm { key: 0x162e, uid: 1, gid: 2, cuid: 3, cgid: 4, mode: 0o1600, seq: 7 },
            segsz: 4097,
            atime: 10,
            dtime: 11,
            ctime: 12,
            cpid: 100,
            lpid: 101,
            nattch: 2,
        };
        let b = ds.to_guest_bytes();
        assert_eq!(i32::from_le_bytes(b[0..4].try_into().unwrap()), 0x162e);
        assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 0o1600);
        assert_eq!(u16::from_le_bytes(b[24..26].try_into().unwrap()), 7);
        assert_eq!(u64::from_le_bytes(b[48..56].try_into().unwrap()), 4097);
        assert_eq!(i64::from_le_bytes(b[72..80].try_into().unwrap()), 12);
        assert_eq!(i32::from_le_bytes(b[84..88].try_into().unwrap()), 101);
        assert_eq!(u64::from_le_bytes(b[88..96].try_into().unwrap()), 2);
        assert_eq!(&b[96..], &[0u8; 16]);
        assert_eq!(ShmidDs::decode(&b), ds);
    }

    #[test]
    fn test_info_layouts() {
        let l =
            ShmLimits { shmmax: 1, shmmin: 2, shmmni: 3, shmseg: 4, shmall: 5 }.to_guest_bytes();
        assert_eq!(u64::from_le_bytes(l[32..40].try_into().unwrap()), 5);
        assert_eq!(&l[40..], &[0u8; 32]);
        let u = ShmUsage { used_ids: 3, shm_tot: 9, swap_successes: 6, ..ShmUsage::default() };
        let u = u.to_guest_bytes();
        assert_eq!(i32::from_le_bytes(u[0..4].try_into().unwrap()), 3);
        assert_eq!(u64::from_le_bytes(u[8..16].try_into().unwrap()), 9);
        assert_eq!(u64::from_le_bytes(u[40..48].try_into().unwrap()), 6);
    }

    proptest::proptest! {
        #[test]
        fn prop_round_trips(
            w in proptest::array::uniform8(proptest::prelude::any::<u64>()),
            s in proptest::array::uniform7(proptest::prelude::any::<u32>()),
            seq: u16,
        ) {
            use crate::obj::testing::round_trip;
            round_trip(&ShmidDs {
                perm: IpcPerm {
                    key: s[0] as i32, uid: s[1], gid: s[2], cuid: s[3], cgid: s[4], mode: s[5], seq,
                },
                segsz: w[0], atime: w[1] as i64, dtime: w[2] as i64, ctime: w[3] as i64,
                cpid: s[6] as i32, lpid: s[0] as i32, nattch: w[4],
            });
            round_trip(&ShmLimits { shmmax: w[0], shmmin: w[1], shmmni: w[2], shmseg: w[3], shmall: w[4] });
            round_trip(&ShmUsage {
                used_ids: s[0] as i32, shm_tot: w[0], shm_rss: w[1], shm_swp: w[2],
                swap_attempts: w[3], swap_successes: w[4],
            });
        }
    }
}
