//! Guest file flags (`asm-generic/fcntl.h` with the aarch64 overrides in `asm/fcntl.h`).
//!
//! aarch64 numbers O_DIRECTORY, O_NOFOLLOW, O_DIRECT and O_LARGEFILE differently from x86_64:
//! the runtime must translate open flags, never pass them through.

use crate::obj::GuestObj;

pub const O_ACCMODE: u32 = 0o3;
pub const O_RDONLY: u32 = 0o0;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DSYNC: u32 = 0o10000;
pub const O_ASYNC: u32 = 0o20000;
/// aarch64 value (x86_64: 0o40000).
pub const O_DIRECTORY: u32 = 0o40000;
/// aarch64 value (x86_64: 0o400000).
pub const O_NOFOLLOW: u32 = 0o100000;
/// aarch64 value (x86_64: 0o40000).
pub const O_DIRECT: u32 = 0o200000;
/// aarch64 value (x86_64: 0o100000).
pub const O_LARGEFILE: u32 = 0o400000;
pub const O_NOATIME: u32 = 0o1000000;
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_SYNC: u32 = 0o4000000 | O_DSYNC;
pub const O_PATH: u32 = 0o10000000;
pub const O_TMPFILE: u32 = 0o20000000 | O_DIRECTORY;

/// Every flag `openat2` accepts (`VALID_OPEN_FLAGS`); `openat` ignores the others.
pub const VALID_OPEN_FLAGS: u32 = O_ACCMODE
    | O_CREAT
    | O_EXCL
    | O_NOCTTY
    | O_TRUNC
    | O_APPEND
    | O_NONBLOCK
    | O_DSYNC
    | O_ASYNC
    | O_DIRECTORY
    | O_NOFOLLOW
    | O_DIRECT
    | O_LARGEFILE
    | O_NOATIME
    | O_CLOEXEC
    | O_SYNC
    | O_PATH
    | O_TMPFILE;

/// `struct open_how`'s first version: flags, mode, resolve (three `u64`s).
pub const OPEN_HOW_SIZE_VER0: usize = 24;
/// `open_how.resolve` bits (`linux/openat2.h`).
pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;
pub const RESOLVE_CACHED: u64 = 0x20;

pub const F_DUPFD: u32 = 0;
pub const F_GETFD: u32 = 1;
pub const F_SETFD: u32 = 2;
pub const F_GETFL: u32 = 3;
pub const F_SETFL: u32 = 4;
pub const F_GETLK: u32 = 5;
pub const F_SETLK: u32 = 6;
pub const F_SETLKW: u32 = 7;
pub const F_SETOWN: u32 = 8;
pub const F_GETOWN: u32 = 9;
/// The signal sent when I/O is possible (0: SIGIO), and the query.
pub const F_SETSIG: u32 = 10;
pub const F_GETSIG: u32 = 11;
/// The owner of the I/O signals as a `struct f_owner_ex` (a thread, process or group).
pub const F_SETOWN_EX: u32 = 15;
pub const F_GETOWN_EX: u32 = 16;
/// `sizeof(struct f_owner_ex)`: `{ int type; pid_t pid; }`.
pub const F_OWNER_EX_SIZE: usize = 8;
pub const F_OFD_GETLK: u32 = 36;
pub const F_OFD_SETLK: u32 = 37;
pub const F_OFD_SETLKW: u32 = 38;
/// A lease on the open file (`F_RDLCK`, `F_WRLCK`, `F_UNLCK`), and the query.
pub const F_SETLEASE: u32 = 1024;
pub const F_GETLEASE: u32 = 1025;
/// Directory change notification (dnotify).
pub const F_NOTIFY: u32 = 1026;
pub const F_DUPFD_CLOEXEC: u32 = 1030;
pub const F_SETPIPE_SZ: u32 = 1031;
pub const F_GETPIPE_SZ: u32 = 1032;
pub const F_ADD_SEALS: u32 = 1033;
pub const F_GET_SEALS: u32 = 1034;
pub const FD_CLOEXEC: u32 = 1;

/// `dirfd` meaning "the current directory".
pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_REMOVEDIR: u32 = 0x200;
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// `mount_setattr`, `open_tree`: the whole mount tree.
pub const AT_RECURSIVE: u32 = 0x8000;
pub const AT_EACCESS: u32 = 0x200;
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;

pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;
pub const RENAME_WHITEOUT: u32 = 4;

pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;
pub const SEEK_DATA: u32 = 3;
pub const SEEK_HOLE: u32 = 4;

/// `close_range`: mark the descriptors close-on-exec instead of closing them.
pub const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
/// `close_range`: give the caller a private descriptor table first.
pub const CLOSE_RANGE_UNSHARE: u32 = 1 << 1;

/// `utimensat`: a `tv_nsec` meaning "the current time".
pub const UTIME_NOW: i64 = (1 << 30) - 1;
/// `utimensat`: a `tv_nsec` meaning "leave this time as it is".
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

crate::guest_struct! {
    /// The guest `struct statfs` (asm-generic, 64-bit words): 120 bytes.
    pub struct Statfs: 120 {
        0 => pub f_type: i64,
        8 => pub f_bsize: i64,
        16 => pub f_blocks: u64,
        24 => pub f_bfree: u64,
        32 => pub f_bavail: u64,
        40 => pub f_files: u64,
        48 => pub f_ffree: u64,
        56 => pub f_fsid: [i32; 2],
        64 => pub f_namelen: i64,
        72 => pub f_frsize: i64,
        80 => pub f_flags: i64,
    }
}

/// `st_mode`'s file type bits and the types (`include/uapi/linux/stat.h`).
pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFIFO: u32 = 0o010000;

crate::guest_struct! {
    /// `struct statx_timestamp`: 16 bytes.
    #[derive(Default)]
    pub struct StatxTimestamp: 16 {
        0 => pub sec: i64,
        8 => pub nsec: u32,
    }
}

crate::guest_struct! {
    /// The leading fields of `struct statx` (`include/uapi/linux/stat.h`; the whole is 256
    /// bytes, the rest spare or newer than what is decoded here).
    #[derive(Default)]
    pub struct Statx: 256 {
        0 => pub mask: u32,
        4 => pub blksize: u32,
        8 => pub attributes: u64,
        16 => pub nlink: u32,
        20 => pub uid: u32,
        24 => pub gid: u32,
        28 => pub mode: u16,
        32 => pub ino: u64,
        40 => pub size: u64,
        48 => pub blocks: u64,
        56 => pub attributes_mask: u64,
        64 => pub atime: StatxTimestamp,
        80 => pub btime: StatxTimestamp,
        96 => pub ctime: StatxTimestamp,
        112 => pub mtime: StatxTimestamp,
        128 => pub rdev_major: u32,
        132 => pub rdev_minor: u32,
        136 => pub dev_major: u32,
        140 => pub dev_minor: u32,
    }
}

/// The guest `struct stat` (asm-generic, used by aarch64): 128 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i32,
    pub blocks: i64,
    pub atime: (i64, u64),
    pub mtime: (i64, u64),
    pub ctime: (i64, u64),
}

/// asm-generic `struct stat`: `st_dev` 0, `st_ino` 8, `st_mode` 16, `st_nlink` 20, `st_uid` 24,
/// `st_gid` 28, `st_rdev` 32, `__pad1` 40, `st_size` 48, `st_blksize` 56, `__pad2` 60,
/// `st_blocks` 64, then seconds and nanoseconds of `st_atime` 72, `st_mtime` 88, `st_ctime` 104,
/// and two unused words.
impl GuestObj for Stat {
    const SIZE: usize = 128;

    fn decode(b: &[u8]) -> Self {
        assert!(b.len() >= Self::SIZE, "{} bytes for a 128-byte struct stat", b.len());
        let time = |off: usize| (i64::decode(&b[off..]), u64::decode(&b[off + 8..]));
        Stat {
            dev: u64::decode(&b[0..]),
            ino: u64::decode(&b[8..]),
            mode: u32::decode(&b[16..]),
            nlink: u32::decode(&b[20..]),
            uid: u32::decode(&b[24..]),
            gid: u32::decode(&b[28..]),
            rdev: u64::decode(&b[32..]),
            size: i64::decode(&b[48..]),
            blksize: i32::decode(&b[56..]),
            blocks: i64::decode(&b[64..]),
            atime: time(72),
            mtime: time(88),
            ctime: time(104),
        }
    }

    fn encode(&self, out: &mut [u8]) {
        let b = &mut out[..Self::SIZE];
        b.fill(0);
        self.dev.encode(&mut b[0..]);
        self.ino.encode(&mut b[8..]);
        self.mode.encode(&mut b[16..]);
        self.nlink.encode(&mut b[20..]);
        self.uid.encode(&mut b[24..]);
        self.gid.encode(&mut b[28..]);
        self.rdev.encode(&mut b[32..]);
        self.size.encode(&mut b[48..]);
        self.blksize.encode(&mut b[56..]);
        self.blocks.encode(&mut b[64..]);
        for (off, (sec, nsec)) in [(72, self.atime), (88, self.mtime), (104, self.ctime)] {
            sec.encode(&mut b[off..]);
            nsec.encode(&mut b[off + 8..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_stat_layout_matches_asm_generic() {
        let st = Stat {
            dev: 1,
            ino: 2,
            mode: 0o100644,
            nlink: 3,
            size: 99,
            blksize: 4096,
            ..Stat::default()
        };
        let b = st.to_guest_bytes();
        assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(b[16..20].try_into().unwrap()), 0o100644);
        assert_eq!(i64::from_le_bytes(b[48..56].try_into().unwrap()), 99);
        assert_eq!(i32::from_le_bytes(b[56..60].try_into().unwrap()), 4096);
    }

    proptest::proptest! {
        #[test]
        fn prop_stat_round_trip(
            w in proptest::array::uniform8(proptest::prelude::any::<u64>()),
            s in proptest::array::uniform4(proptest::prelude::any::<u32>()),
            blksize: i32,
            t in proptest::array::uniform6(proptest::prelude::any::<i64>()),
        ) {
            let st = Stat {
                dev: w[0], ino: w[1], mode: s[0], nlink: s[1], uid: s[2], gid: s[3], rdev: w[2],
                size: w[3] as i64, blksize, blocks: w[4] as i64,
                atime: (t[0], w[5]), mtime: (t[1], w[6]), ctime: (t[2], w[7]),
            };
            crate::obj::testing::round_trip(&st);
            let b = st.to_guest_bytes();
            proptest::prop_assert_eq!(&b[40..48], &[0u8; 8]);
            proptest::prop_assert_eq!(&b[120..], &[0u8; 8]);
            proptest::prop_assert_eq!(i64::from_le_bytes(b[88..96].try_into().unwrap()), t[1]);
        }
    }

    #[test]
    fn test_aarch64_flag_values() {
        assert_eq!(O_DIRECTORY, 0x4000);
        assert_eq!(O_NOFOLLOW, 0x8000);
        assert_eq!(O_LARGEFILE, 0x20000);
        assert_eq!(O_CLOEXEC, 0x80000);
    }
}
