//! Process and thread creation: `clone` flags (`include/uapi/linux/sched.h`) and `clone3`'s
//! `struct clone_args`, the same on every architecture.

use crate::guest_struct;

/// The low byte of `clone`'s flags: the signal the parent gets when the child exits.
pub const CSIGNAL: u64 = 0x0000_00ff;
pub const CLONE_VM: u64 = 0x0000_0100;
pub const CLONE_FS: u64 = 0x0000_0200;
pub const CLONE_FILES: u64 = 0x0000_0400;
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
/// Linux 5.2: return a pidfd for the child (`clone` stores it at `parent_tid`).
pub const CLONE_PIDFD: u64 = 0x0000_1000;
pub const CLONE_PTRACE: u64 = 0x0000_2000;
pub const CLONE_VFORK: u64 = 0x0000_4000;
pub const CLONE_PARENT: u64 = 0x0000_8000;
pub const CLONE_THREAD: u64 = 0x0001_0000;
pub const CLONE_NEWNS: u64 = 0x0002_0000;
pub const CLONE_SYSVSEM: u64 = 0x0004_0000;
pub const CLONE_SETTLS: u64 = 0x0008_0000;
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
/// Ignored by Linux since 2.6.
pub const CLONE_DETACHED: u64 = 0x0040_0000;
pub const CLONE_UNTRACED: u64 = 0x0080_0000;
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
pub const CLONE_NEWPID: u64 = 0x2000_0000;
pub const CLONE_NEWNET: u64 = 0x4000_0000;
pub const CLONE_IO: u64 = 0x8000_0000;
/// `clone3` only: clear every signal handler in the child (Linux 5.5).
pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
/// `clone3` only: place the child in the cgroup `clone_args.cgroup` names (Linux 5.7).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// `clone3` only: a new time namespace (Linux 5.6; shares its value with `CSIGNAL`'s range).
pub const CLONE_NEWTIME: u64 = 0x0000_0080;
/// Every flag `clone` can carry: its flags argument is read as 32 bits (`lower_32_bits`).
pub const CLONE_LEGACY_FLAGS: u64 = 0xffff_ffff;
/// The most pid namespace levels `clone3`'s `set_tid` may name (`MAX_PID_NS_LEVEL`).
pub const MAX_PID_NS_LEVEL: u64 = 32;

/// `sizeof(struct clone_args)` as first published (Linux 5.3): up to `tls`.
pub const CLONE_ARGS_SIZE_VER0: usize = 64;
/// With `set_tid` and `set_tid_size` (Linux 5.5).
pub const CLONE_ARGS_SIZE_VER1: usize = 80;
/// With `cgroup` (Linux 5.7): the latest.
pub const CLONE_ARGS_SIZE_VER2: usize = 88;

guest_struct! {
    /// `struct clone_args`, what `clone3(args, size)` reads; every field is a `__aligned_u64`.
    /// `size` names a version: read it with
    /// [`decode_extensible`](crate::obj::decode_extensible) (`AddressSpace::read_extensible`).
    pub struct CloneArgs: 88 {
        0 => pub flags: u64,
        /// Where to store the child's pidfd (`CLONE_PIDFD`).
        8 => pub pidfd: u64,
        16 => pub child_tid: u64,
        24 => pub parent_tid: u64,
        32 => pub exit_signal: u64,
        /// The lowest address of the child's stack (not its top, unlike `clone`'s).
        40 => pub stack: u64,
        48 => pub stack_size: u64,
        56 => pub tls: u64,
        64 => pub set_tid: u64,
        72 => pub set_tid_size: u64,
        80 => pub cgroup: u64,
    }
}

impl CloneArgs {
    /// Linux's bounds on `clone3`'s size argument (`copy_clone_args_from_user`): more than a
    /// page is `E2BIG`, less than the first version `EINVAL`.
    pub fn check_size(size: u64) -> Result<usize, crate::Errno> {
        if size > crate::PAGE_SIZE {
            return Err(crate::Errno::E2BIG);
        }
        if size < CLONE_ARGS_SIZE_VER0 as u64 {
            return Err(crate::Errno::EINVAL);
        }
        Ok(size as usize)
    }
}

/// `struct sched_attr`'s first version: the least `sched_setattr`/`sched_getattr` take.
pub const SCHED_ATTR_SIZE_VER0: usize = 48;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Errno;
    use crate::obj::testing::{offset, round_trip};
    use crate::obj::{GuestObj, decode_extensible};
    use proptest::prelude::*;

    #[test]
    fn test_layout_matches_linux() {
        assert_eq!(CloneArgs::SIZE, CLONE_ARGS_SIZE_VER2);
        assert_eq!(offset(CloneArgs::OFFSETS, "tls"), 56);
        assert_eq!(offset(CloneArgs::OFFSETS, "set_tid_size"), 72);
        assert_eq!(offset(CloneArgs::OFFSETS, "cgroup"), 80);
        assert_eq!(CLONE_VM | CLONE_VFORK | CLONE_THREAD, 0x14100);
        assert_eq!(CLONE_CHILD_SETTID, 0x100_0000);
    }

    #[test]
    fn test_versions() {
        assert_eq!(CloneArgs::check_size(63), Err(Errno::EINVAL));
        assert_eq!(CloneArgs::check_size(4097), Err(Errno::E2BIG));
        assert_eq!(CloneArgs::check_size(64), Ok(64));
        let mut b = vec![0u8; 96];
        b[0] = 0x11;
        b[80] = 5;
        let v0 = decode_extensible::<CloneArgs>(&b[..64]).unwrap();
        assert_eq!((v0.flags, v0.cgroup), (0x11, 0));
        assert_eq!(decode_extensible::<CloneArgs>(&b).unwrap().cgroup, 5);
        b[90] = 1;
        assert_eq!(decode_extensible::<CloneArgs>(&b), Err(Errno::E2BIG));
    }

    proptest! {
        #[test]
        fn prop_round_trip(w in proptest::array::uniform11(any::<u64>())) {
            let [flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
                set_tid, set_tid_size, cgroup] = w;
            round_trip(&CloneArgs {
                flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
                set_tid, set_tid_size, cgroup,
            });
        }
    }
}
