//! Guest memory-management flags (`asm-generic/mman-common.h`, `asm-generic/mman.h`,
//! `asm/mman.h` for aarch64).

use std::fmt;
use std::ops::{BitAnd, BitOr};

/// Page protection, as the guest passes it to `mmap`/`mprotect`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Prot(pub u32);

impl Prot {
    pub const NONE: Prot = Prot(0);
    pub const READ: Prot = Prot(0x1);
    pub const WRITE: Prot = Prot(0x2);
    pub const EXEC: Prot = Prot(0x4);
    pub const SEM: Prot = Prot(0x8);
    /// aarch64: branch target identification guarded page.
    pub const BTI: Prot = Prot(0x10);
    /// aarch64: memory tagging.
    pub const MTE: Prot = Prot(0x20);
    pub const GROWSDOWN: Prot = Prot(0x0100_0000);
    pub const GROWSUP: Prot = Prot(0x0200_0000);
    pub const RW: Prot = Prot(0x3);
    pub const RX: Prot = Prot(0x5);
    pub const RWX: Prot = Prot(0x7);

    pub fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }

    /// Only the read/write/exec bits.
    pub fn access(self) -> Prot {
        Prot(self.0 & Self::RWX.0)
    }
}

impl BitOr for Prot {
    type Output = Prot;
    fn bitor(self, rhs: Prot) -> Prot {
        Prot(self.0 | rhs.0)
    }
}

impl BitAnd for Prot {
    type Output = Prot;
    fn bitand(self, rhs: Prot) -> Prot {
        Prot(self.0 & rhs.0)
    }
}

impl fmt::Debug for Prot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |p: Prot, c: char| if self.contains(p) { c } else { '-' };
        write!(f, "{}{}{}", flag(Prot::READ, 'r'), flag(Prot::WRITE, 'w'), flag(Prot::EXEC, 'x'))
    }
}

pub const MAP_SHARED: u32 = 0x01;
pub const MAP_PRIVATE: u32 = 0x02;
pub const MAP_SHARED_VALIDATE: u32 = 0x03;
pub const MAP_TYPE: u32 = 0x0f;
pub const MAP_FIXED: u32 = 0x10;
pub const MAP_ANONYMOUS: u32 = 0x20;
pub const MAP_GROWSDOWN: u32 = 0x0100;
pub const MAP_DENYWRITE: u32 = 0x0800;
pub const MAP_EXECUTABLE: u32 = 0x1000;
pub const MAP_LOCKED: u32 = 0x2000;
pub const MAP_NORESERVE: u32 = 0x4000;
pub const MAP_POPULATE: u32 = 0x8000;
pub const MAP_NONBLOCK: u32 = 0x1_0000;
pub const MAP_STACK: u32 = 0x2_0000;
pub const MAP_HUGETLB: u32 = 0x4_0000;
pub const MAP_SYNC: u32 = 0x8_0000;
pub const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;
pub const MAP_UNINITIALIZED: u32 = 0x400_0000;
/// The flags every kernel accepts (`LEGACY_MAP_MASK`): `MAP_SHARED_VALIDATE` rejects any other
/// bit with `EOPNOTSUPP` (unless the file supports it: `MAP_SYNC` on DAX files only).
pub const LEGACY_MAP_MASK: u32 = MAP_SHARED
    | MAP_PRIVATE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_UNINITIALIZED
    | MAP_GROWSDOWN
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB;
/// Huge page size bits (`MAP_HUGE_MASK << MAP_HUGE_SHIFT`).
pub const MAP_HUGE_BITS: u32 = 0x3f << 26;

pub const MREMAP_MAYMOVE: u32 = 1;
pub const MREMAP_FIXED: u32 = 2;
pub const MREMAP_DONTUNMAP: u32 = 4;

pub const MCL_CURRENT: u32 = 1;
pub const MCL_FUTURE: u32 = 2;
pub const MCL_ONFAULT: u32 = 4;
pub const MLOCK_ONFAULT: u32 = 1;

pub const MS_ASYNC: u32 = 1;
pub const MS_INVALIDATE: u32 = 2;
pub const MS_SYNC: u32 = 4;

pub const MADV_NORMAL: u32 = 0;
pub const MADV_RANDOM: u32 = 1;
pub const MADV_SEQUENTIAL: u32 = 2;
pub const MADV_WILLNEED: u32 = 3;
pub const MADV_DONTNEED: u32 = 4;
pub const MADV_FREE: u32 = 8;
pub const MADV_REMOVE: u32 = 9;
pub const MADV_DONTFORK: u32 = 10;
pub const MADV_DOFORK: u32 = 11;
pub const MADV_MERGEABLE: u32 = 12;
pub const MADV_UNMERGEABLE: u32 = 13;
pub const MADV_HUGEPAGE: u32 = 14;
pub const MADV_NOHUGEPAGE: u32 = 15;
pub const MADV_DONTDUMP: u32 = 16;
pub const MADV_DODUMP: u32 = 17;
pub const MADV_WIPEONFORK: u32 = 18;
pub const MADV_KEEPONFORK: u32 = 19;
pub const MADV_COLD: u32 = 20;
pub const MADV_PAGEOUT: u32 = 21;
/// Collapse the range into transparent huge pages (one of `process_madvise`'s advice).
pub const MADV_COLLAPSE: u32 = 25;
pub const MADV_POPULATE_READ: u32 = 22;
pub const MADV_POPULATE_WRITE: u32 = 23;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_prot_ops() {
        let rw = Prot::READ | Prot::WRITE;
        assert_eq!(rw, Prot::RW);
        assert!(rw.contains(Prot::READ) && !rw.contains(Prot::EXEC));
        assert_eq!(format!("{:?}", Prot::RX), "r-x");
        assert_eq!((Prot::RWX | Prot::BTI).access(), Prot::RWX);
    }
}
