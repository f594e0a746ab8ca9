//! System-wide information: `uname`'s `struct new_utsname` (`include/uapi/linux/utsname.h`)
//! and `sysinfo`'s `struct sysinfo` (`include/uapi/linux/sysinfo.h`).

use crate::guest_struct;

/// The size of each `utsname` field, NUL included.
pub const UTS_FIELD_LEN: usize = 65;

guest_struct! {
    /// `struct new_utsname`: six NUL-padded strings of 65 bytes; 390 bytes.
    pub struct Utsname: 390 {
        0 => pub sysname: [u8; 65],
        65 => pub nodename: [u8; 65],
        130 => pub release: [u8; 65],
        195 => pub version: [u8; 65],
        260 => pub machine: [u8; 65],
        325 => pub domainname: [u8; 65],
    }
}

impl Utsname {
    /// A field holding `s`, cut to 64 bytes so a NUL always ends it.
    pub fn field(s: &[u8]) -> [u8; UTS_FIELD_LEN] {
        let mut f = [0u8; UTS_FIELD_LEN];
        let n = s.len().min(UTS_FIELD_LEN - 1);
        f[..n].copy_from_slice(&s[..n]);
        f
    }

    /// A utsname from its six strings (each cut to 64 bytes).
    pub fn new(
        sysname: &[u8],
        nodename: &[u8],
        release: &[u8],
        version: &[u8],
        machine: &[u8],
        domainname: &[u8],
    ) -> Utsname {
        Utsname {
            sysname: Self::field(sysname),
            nodename: Self::field(nodename),
            release: Self::field(release),
            version: Self::field(version),
            machine: Self::field(machine),
            domainname: Self::field(domainname),
        }
    }
}

guest_struct! {
    /// `struct sysinfo` (64-bit): 112 bytes. Memory sizes are in units of `mem_unit` bytes;
    /// loads are fixed point with 16 fractional bits.
    #[derive(Default)]
    pub struct Sysinfo: 112 {
        0 => pub uptime: i64,
        8 => pub loads: [u64; 3],
        32 => pub totalram: u64,
        40 => pub freeram: u64,
        48 => pub sharedram: u64,
        56 => pub bufferram: u64,
        64 => pub totalswap: u64,
        72 => pub freeswap: u64,
        80 => pub procs: u16,
        88 => pub totalhigh: u64,
        96 => pub freehigh: u64,
        104 => pub mem_unit: u32,
    }
}

/// The execution-domain byte of a `personality` value (`linux/personality.h`).
pub const PER_MASK: u32 = 0x00ff;
/// The default execution domain.
pub const PER_LINUX: u32 = 0x0000;
/// 32-bit user space (AArch32 on arm64).
pub const PER_LINUX32: u32 = 0x0008;
/// `uname` reports a 2.6.x release.
pub const UNAME26: u32 = 0x0020000;
/// Disables address-space randomisation.
pub const ADDR_NO_RANDOMIZE: u32 = 0x0040000;
/// PROT_READ mappings are executable too.
pub const READ_IMPLIES_EXEC: u32 = 0x0400000;
/// The `personality` argument that only asks.
pub const PERSONALITY_QUERY: u32 = 0xffff_ffff;

/// `mount_setattr`: the size of the first `struct mount_attr`.
pub const MOUNT_ATTR_SIZE_VER0: u64 = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj::GuestObj;
    use crate::obj::testing::{offset, round_trip};
    use proptest::prelude::*;

    #[test]
    fn test_layouts() {
        assert_eq!(Utsname::SIZE, 6 * UTS_FIELD_LEN);
        assert_eq!(offset(Utsname::OFFSETS, "machine"), 260);
        assert_eq!(Sysinfo::SIZE, 112);
        assert_eq!(offset(Sysinfo::OFFSETS, "procs"), 80);
        assert_eq!(offset(Sysinfo::OFFSETS, "totalhigh"), 88);
        assert_eq!(offset(Sysinfo::OFFSETS, "mem_unit"), 104);
        let long = [b'x'; 80];
        let u = Utsname::new(b"Linux", &long, b"6.1", b"#1", b"aarch64", b"(none)");
        let b = u.to_guest_bytes();
        assert_eq!(&b[..6], b"Linux\0");
        assert_eq!(b[65 + 63], b'x');
        assert_eq!(b[65 + 64], 0);
        assert_eq!(&b[260..268], b"aarch64\0");
        round_trip(&u);
    }

    proptest! {
        #[test]
        fn prop_sysinfo_round_trip(w in proptest::array::uniform12(any::<u64>()), procs: u16, unit: u32) {
            round_trip(&Sysinfo {
                uptime: w[0] as i64,
                loads: [w[1], w[2], w[3]],
                totalram: w[4], freeram: w[5], sharedram: w[6], bufferram: w[7],
                totalswap: w[8], freeswap: w[9], procs, totalhigh: w[10], freehigh: w[11],
                mem_unit: unit,
            });
        }

        #[test]
        fn prop_utsname_round_trip(s in proptest::collection::vec(any::<u8>(), 0..70)) {
            round_trip(&Utsname::new(&s, &s, &s, &s, &s, &s));
        }
    }
}
