//! The host side of the kernel: every call into the host's C library or kernel, split by
//! concern, with errno and flag translation. All of the crate's host FFI lives here, and with
//! it nearly all of its `unsafe`.
//!
//! Guest values (elfvisor_abi) and host values (libc) never mix outside this module: every
//! conversion is an explicit table or function in it.

pub mod errno;
pub mod fs;
pub mod futex;
pub mod mem;
pub mod process;
pub mod shm;
pub mod signal;
pub mod time;

pub use errno::{open_flags_from_host, open_flags_to_host};
pub use fs::*;
pub use mem::{GuestBuf, guest_buffer};
pub use process::*;
pub use time::*;
