//! Guest shared-memory objects: `memfd_create` flags (`linux/memfd.h`) and SysV shared memory
//! (`linux/ipc.h`, `linux/shm.h`, `asm-generic/ipcbuf.h`, `asm-generic/shmbuf.h`), with the
//! aarch64 layouts of the structures `shmctl` exchanges.
//!
//! aarch64 has only the 64-bit IPC interface: the kernel ignores the `IPC_64` bit that libcs
//! may add to `shmctl` commands.

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
/// Added by libcs to select the 64-bit structures; meaningless (and stripped) on aarch64.
pub const IPC_64: u32 = 0x100;

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

fn put(b: &mut [u8], off: usize, bytes: &[u8]) {
    b[off..off + bytes.len()].copy_from_slice(bytes);
}

fn get<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    b[off..off + N].try_into().expect("slice of N bytes")
}

impl ShmidDs {
    pub const SIZE: usize = 112;

    /// The bytes the guest sees (reserved fields zero).
    ///
    /// Kept for existing callers; [`GuestObj::encode`] (or `AddressSpace::write_obj`) replaces
    /// it.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        let p = &self.perm;
        put(&mut b, 0, &p.key.to_le_bytes());
        put(&mut b, 4, &p.uid.to_le_bytes());
        put(&mut b, 8, &p.gid.to_le_bytes());
        put(&mut b, 12, &p.cuid.to_le_bytes());
        put(&mut b, 16, &p.cgid.to_le_bytes());
        put(&mut b, 20, &p.mode.to_le_bytes());
        put(&mut b, 24, &p.seq.to_le_bytes());
        // 26: __pad2 (u16), 32: __unused1, 40: __unused2.
        put(&mut b, 48, &self.segsz.to_le_bytes());
        put(&mut b, 56, &self.atime.to_le_bytes());
        put(&mut b, 64, &self.dtime.to_le_bytes());
        put(&mut b, 72, &self.ctime.to_le_bytes());
        put(&mut b, 80, &self.cpid.to_le_bytes());
        put(&mut b, 84, &self.lpid.to_le_bytes());
        put(&mut b, 88, &self.nattch.to_le_bytes());
        // 96: __unused4, 104: __unused5.
        b
    }

    /// Decodes a guest structure (what `IPC_SET` reads).
    ///
    /// Kept for existing callers; [`GuestObj::decode`] (or `AddressSpace::read_obj`) replaces
    /// it.
    pub fn from_bytes(b: &[u8; Self::SIZE]) -> ShmidDs {
        ShmidDs {
            perm: IpcPerm {
                key: i32::from_le_bytes(get(b, 0)),
                uid: u32::from_le_bytes(get(b, 4)),
                gid: u32::from_le_bytes(get(b, 8)),
                cuid: u32::from_le_bytes(get(b, 12)),
                cgid: u32::from_le_bytes(get(b, 16)),
                mode: u32::from_le_bytes(get(b, 20)),
                seq: u16::from_le_bytes(get(b, 24)),
            },
            segsz: u64::from_le_bytes(get(b, 48)),
            atime: i64::from_le_bytes(get(b, 56)),
            dtime: i64::from_le_bytes(get(b, 64)),
            ctime: i64::from_le_bytes(get(b, 72)),
            cpid: i32::from_le_bytes(get(b, 80)),
            lpid: i32::from_le_bytes(get(b, 84)),
            nattch: u64::from_le_bytes(get(b, 88)),
        }
    }
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

impl ShmLimits {
    pub const SIZE: usize = 72;

    /// Kept for existing callers; [`GuestObj::encode`] replaces it.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        for (i, v) in [self.shmmax, self.shmmin, self.shmmni, self.shmseg, self.shmall]
            .into_iter()
            .enumerate()
        {
            put(&mut b, 8 * i, &v.to_le_bytes());
        }
        b
    }
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

impl ShmUsage {
    pub const SIZE: usize = 48;

    /// Kept for existing callers; [`GuestObj::encode`] replaces it.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        put(&mut b, 0, &self.used_ids.to_le_bytes());
        let rest =
            [self.shm_tot, self.shm_rss, self.shm_swp, self.swap_attempts, self.swap_successes];
        for (i, v) in rest.into_iter().enumerate() {
            put(&mut b, 8 + 8 * i, &v.to_le_bytes());
        }
        b
    }
}

impl GuestObj for ShmidDs {
    const SIZE: usize = 112;

    fn decode(b: &[u8]) -> Self {
        ShmidDs::from_bytes(b[..Self::SIZE].try_into().expect("112 bytes"))
    }

    fn encode(&self, out: &mut [u8]) {
        out[..Self::SIZE].copy_from_slice(&self.to_bytes());
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
        out[..Self::SIZE].copy_from_slice(&self.to_bytes());
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
        out[..Self::SIZE].copy_from_slice(&self.to_bytes());
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
        let b = ds.to_bytes();
        assert_eq!(i32::from_le_bytes(b[0..4].try_into().unwrap()), 0x162e);
        assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 0o1600);
        assert_eq!(u16::from_le_bytes(b[24..26].try_into().unwrap()), 7);
        assert_eq!(u64::from_le_bytes(b[48..56].try_into().unwrap()), 4097);
        assert_eq!(i64::from_le_bytes(b[72..80].try_into().unwrap()), 12);
        assert_eq!(i32::from_le_bytes(b[84..88].try_into().unwrap()), 101);
        assert_eq!(u64::from_le_bytes(b[88..96].try_into().unwrap()), 2);
        assert_eq!(&b[96..], &[0u8; 16]);
        assert_eq!(ShmidDs::from_bytes(&b), ds);
    }

    #[test]
    fn test_info_layouts() {
        let l = ShmLimits { shmmax: 1, shmmin: 2, shmmni: 3, shmseg: 4, shmall: 5 }.to_bytes();
        assert_eq!(u64::from_le_bytes(l[32..40].try_into().unwrap()), 5);
        assert_eq!(&l[40..], &[0u8; 32]);
        let u = ShmUsage { used_ids: 3, shm_tot: 9, swap_successes: 6, ..ShmUsage::default() };
        let u = u.to_bytes();
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
