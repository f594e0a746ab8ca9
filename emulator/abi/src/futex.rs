//! Futexes (`include/uapi/linux/futex.h`): operations, their flags, the bits of a robust or PI
//! futex word, and `struct robust_list_head`.

use crate::guest_struct;

pub const FUTEX_WAIT: u32 = 0;
pub const FUTEX_WAKE: u32 = 1;
/// Removed in Linux 2.6.26; `ENOSYS`.
pub const FUTEX_FD: u32 = 2;
pub const FUTEX_REQUEUE: u32 = 3;
pub const FUTEX_CMP_REQUEUE: u32 = 4;
pub const FUTEX_WAKE_OP: u32 = 5;
pub const FUTEX_LOCK_PI: u32 = 6;
pub const FUTEX_UNLOCK_PI: u32 = 7;
pub const FUTEX_TRYLOCK_PI: u32 = 8;
pub const FUTEX_WAIT_BITSET: u32 = 9;
pub const FUTEX_WAKE_BITSET: u32 = 10;
pub const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
pub const FUTEX_CMP_REQUEUE_PI: u32 = 12;
/// Linux 5.14: `FUTEX_LOCK_PI` with a selectable clock.
pub const FUTEX_LOCK_PI2: u32 = 13;

/// The futex is private to the process (no shared-memory key).
pub const FUTEX_PRIVATE_FLAG: u32 = 128;
/// The timeout is on `CLOCK_REALTIME` (the waits and `FUTEX_LOCK_PI2` only).
pub const FUTEX_CLOCK_REALTIME: u32 = 256;
/// The operation number without its flags.
pub const FUTEX_CMD_MASK: u32 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);

/// The bitset that matches every waiter (`FUTEX_WAIT_BITSET`/`FUTEX_WAKE_BITSET`).
pub const FUTEX_BITSET_MATCH_ANY: u32 = 0xffff_ffff;

/// Bits of a PI or robust futex word: someone waits for it.
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
/// Its owner died without releasing it.
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
/// The owner's tid.
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// How many robust-list entries Linux walks at most (a loop in a corrupt list ends there).
pub const ROBUST_LIST_LIMIT: usize = 2048;

/// `FUTEX_WAKE_OP`'s operations (the `op` field of `val3`).
pub const FUTEX_OP_SET: u32 = 0;
pub const FUTEX_OP_ADD: u32 = 1;
pub const FUTEX_OP_OR: u32 = 2;
pub const FUTEX_OP_ANDN: u32 = 3;
pub const FUTEX_OP_XOR: u32 = 4;
/// Flag on the operation: the operand is `1 << oparg`.
pub const FUTEX_OP_OPARG_SHIFT: u32 = 8;
/// `FUTEX_WAKE_OP`'s comparisons.
pub const FUTEX_OP_CMP_EQ: u32 = 0;
pub const FUTEX_OP_CMP_NE: u32 = 1;
pub const FUTEX_OP_CMP_LT: u32 = 2;
pub const FUTEX_OP_CMP_LE: u32 = 3;
pub const FUTEX_OP_CMP_GT: u32 = 4;
pub const FUTEX_OP_CMP_GE: u32 = 5;

guest_struct! {
    /// `struct robust_list_head` (64-bit): 24 bytes, the size `set_robust_list` insists on and
    /// `get_robust_list` reports. Each list entry's futex word is at entry + `futex_offset`; the
    /// low bit of an entry pointer marks a PI futex.
    pub struct RobustListHead: 24 {
        /// `list.next`: the first entry, or the head's own address when the list is empty.
        0 => pub list_next: u64,
        8 => pub futex_offset: i64,
        16 => pub list_op_pending: u64,
    }
}

/// `struct futex_waitv`'s flags: the word is 32 bits (the only size there is).
pub const FUTEX_32: u32 = 2;
/// The most words one `futex_waitv` waits on.
pub const FUTEX_WAITV_MAX: u64 = 128;

guest_struct! {
    /// `struct futex_waitv`: 24 bytes, one word `futex_waitv` waits on.
    pub struct FutexWaitv: 24 {
        0 => pub val: u64,
        8 => pub uaddr: u64,
        16 => pub flags: u32,
        20 => pub reserved: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj::GuestObj;
    use crate::obj::testing::{offset, round_trip};
    use proptest::prelude::*;

    #[test]
    fn test_values_and_layout() {
        assert_eq!(FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 137);
        assert_eq!(FUTEX_CMD_MASK & (FUTEX_LOCK_PI2 | FUTEX_CLOCK_REALTIME), FUTEX_LOCK_PI2);
        assert_eq!(FUTEX_WAITERS | FUTEX_OWNER_DIED | FUTEX_TID_MASK, u32::MAX);
        assert_eq!(RobustListHead::SIZE, 24);
        assert_eq!(offset(RobustListHead::OFFSETS, "futex_offset"), 8);
        assert_eq!(offset(RobustListHead::OFFSETS, "list_op_pending"), 16);
    }

    proptest! {
        #[test]
        fn prop_round_trip(list_next: u64, futex_offset: i64, list_op_pending: u64) {
            round_trip(&RobustListHead { list_next, futex_offset, list_op_pending });
        }
    }
}
