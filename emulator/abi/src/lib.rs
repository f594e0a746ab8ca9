//! The Linux aarch64 ABI as a guest program sees it.
//!
//! Every value here is a *guest* value (asm-generic numbering, as used by Linux on aarch64). Host
//! `libc::` constants never appear in this crate: where the host differs (macOS numbers its signals
//! and errnos differently), the runtime translates explicitly.
#![forbid(unsafe_code)]

pub mod addr;
pub mod errno;
pub mod fcntl;
pub mod mman;
pub mod prctl;
pub mod shm;
pub mod signal;
pub mod sysno;

pub use addr::{GuestAddr, PAGE_SIZE};
pub use errno::Errno;
pub use mman::Prot;
pub use signal::Signo;
pub use sysno::Sysno;
