//! Guest `prctl` options (`linux/prctl.h`; the same numbers on every architecture).

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
