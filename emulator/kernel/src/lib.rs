//! elfvisor: runs Linux aarch64 programs on hosts that are not Linux aarch64.
//!
//! The kernel side of the runtime: the ELF loader, the guest process (address space,
//! descriptors, signal state), the system call table and the run loop. CPU engines live in
//! `elfvisor-engine`, the address space in `elfvisor-mm`, guest ABI values in `elfvisor-abi`.

pub mod exec;
pub mod fdtable;
pub mod host;
pub mod hostsig;
pub mod loader;
pub mod process;
pub mod procfs;
pub mod respawn;
pub mod run;
pub mod signal;
pub mod syscalls;
pub mod testing;
pub mod thread;
pub mod vfork;
