//! The Linux aarch64 ABI as a guest program sees it.
//!
//! Every value here is a *guest* value (asm-generic numbering, as used by Linux on aarch64). Host
//! `libc::` constants never appear in this crate: where the host differs (macOS numbers its signals
//! and errnos differently), the runtime translates explicitly.
//!
//! Structures the guest passes by pointer implement [`GuestObj`]: their aarch64 size and
//! little-endian encoding, field by field (see [`obj`]; [`structs`] lists them all).
#![forbid(unsafe_code)]

pub mod addr;
pub mod auxv;
pub mod errno;
pub mod event;
pub mod fcntl;
pub mod futex;
pub mod ioctl;
pub mod ipc;
pub mod limits;
pub mod mman;
pub mod mqueue;
pub mod numa;
pub mod obj;
pub mod poll;
pub mod prctl;
pub mod random;
pub mod resource;
pub mod sched;
pub mod shm;
pub mod sigframe;
pub mod signal;
pub mod structs;
pub mod sysno;
pub mod system;
pub mod time;
pub mod uio;
pub mod wait;

pub use addr::{GuestAddr, PAGE_SIZE};
pub use errno::Errno;
pub use mman::Prot;
pub use obj::GuestObj;
pub use signal::Signo;
pub use sysno::Sysno;
