//! elfvisor: runs Linux aarch64 programs on hosts that are not Linux aarch64.
//!
//! The kernel side of the runtime: the ELF loader, the guest tasks and their thread groups,
//! signals, fork and exec, the system call table and the run loop. CPU engines live in
//! `elfvisor-engine`, the address space in `elfvisor-mm`, guest ABI values in `elfvisor-abi`.

pub mod exec;
pub mod fdtable;
pub mod fork;
pub mod futex;
pub mod host;
pub mod loader;
pub mod run;
pub mod signal;
pub mod syscalls;
pub mod task;
pub mod testing;
