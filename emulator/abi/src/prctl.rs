//! Guest `prctl` options (`linux/prctl.h`; the same numbers on every architecture).

/// Sets the signal the caller gets when the thread that created it dies (0: none).
pub const PR_SET_PDEATHSIG: u32 = 1;
/// Stores the parent-death signal as an `int` at the pointer.
pub const PR_GET_PDEATHSIG: u32 = 2;
/// Returns the calling thread's timer slack in nanoseconds.
pub const PR_GET_TIMERSLACK: u32 = 30;
/// Sets the calling thread's timer slack (0: back to its default).
pub const PR_SET_TIMERSLACK: u32 = 29;

/// Returns whether the process may dump core (`SUID_DUMP_*`: 0 no, 1 yes, 2 root-only).
pub const PR_GET_DUMPABLE: u32 = 3;
/// Sets whether the process may dump core: only 0 and 1 are accepted.
pub const PR_SET_DUMPABLE: u32 = 4;

/// Sets the calling thread's name (`comm`) from a string of up to 15 bytes.
pub const PR_SET_NAME: u32 = 15;
/// Copies the calling thread's name, NUL-padded, into a 16-byte buffer.
pub const PR_GET_NAME: u32 = 16;

/// The size of a task name with its NUL (`TASK_COMM_LEN`).
pub const TASK_COMM_LEN: usize = 16;

/// Makes the caller a child subreaper: orphaned descendants are reparented to it.
pub const PR_SET_CHILD_SUBREAPER: u32 = 36;
/// Stores whether the caller is a child subreaper as an `int` at the pointer.
pub const PR_GET_CHILD_SUBREAPER: u32 = 37;

/// Returns whether the thread keeps its capabilities across a change of uid from 0.
pub const PR_GET_KEEPCAPS: u32 = 7;
/// Sets it (0 or 1).
pub const PR_SET_KEEPCAPS: u32 = 8;
/// Sets no_new_privs (arg2 must be 1, the rest 0): execve can no longer grant privileges.
pub const PR_SET_NO_NEW_PRIVS: u32 = 38;
/// Returns no_new_privs.
pub const PR_GET_NO_NEW_PRIVS: u32 = 39;
/// Stores the thread's `clear_child_tid` address at the pointer.
pub const PR_GET_TID_ADDRESS: u32 = 40;
