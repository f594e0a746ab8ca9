//! The host side of the kernel: every call into the host's C library or kernel, split by
//! concern, with errno and flag translation. All of the crate's host FFI lives here, and with
//! it nearly all of its `unsafe`.
//!
//! Guest values (elfvisor_abi) and host values (libc) never mix outside this module: every
//! conversion is an explicit table or function in it.

pub mod event;
pub mod flags;
pub mod fs;
pub mod fsmeta;
pub mod futex;
pub mod ipc;
pub mod mem;
pub mod mqueue;
pub mod process;
pub mod ptimer;
pub mod sched;
pub mod shm;
pub mod signal;
pub mod time;

pub use flags::{open_flags_from_host, open_flags_to_host};
pub use fs::*;
pub use mem::{GuestBuf, guest_buffer};
pub use process::*;
pub use time::*;

/// Turns a host call's `-1` into the guest errno (through `elfvisor_host`, the one table).
pub(crate) fn check(ret: isize) -> Result<u64, elfvisor_abi::Errno> {
    if ret < 0 { Err(elfvisor_host::last_errno()) } else { Ok(ret as u64) }
}

/// [`check`] for the calls that return a C `int`.
pub(crate) fn path_call(result: libc::c_int) -> Result<u64, elfvisor_abi::Errno> {
    check(result as isize)
}
