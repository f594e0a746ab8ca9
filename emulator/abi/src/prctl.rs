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
