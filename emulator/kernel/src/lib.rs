//! elfvisor: runs Linux aarch64 programs on hosts that are not Linux aarch64.
//!
//! The kernel side of the runtime: the ELF loader, the guest tasks and their thread groups,
//! signals, fork and exec, the system call table and the run loop. CPU engines live in
//! `elfvisor-engine`, the address space in `elfvisor-mm`, guest ABI values in `elfvisor-abi`.
//!
//! The public surface is what the `elfvisor` binary and the tests use: running a program
//! ([`run_program`]) or a respawned fork child ([`run_fork_child`]), the support matrix, the
//! loader and the test helpers. Everything else is the crate's own.

pub(crate) mod board;
pub(crate) mod exec;
pub(crate) mod fdtable;
pub(crate) mod fork;
pub(crate) mod futex;
pub mod gdb;
pub(crate) mod host;
pub mod loader;
pub(crate) mod run;
pub(crate) mod signal;
pub(crate) mod syscalls;
pub use syscalls::strace;
pub mod sysroot;
pub(crate) mod task;
pub mod testing;
pub(crate) mod timers;
pub(crate) mod vdso;

pub use fork::ForkStrategy;
pub use fork::respawn::child::child_main as run_fork_child;
pub use host::die_by_signal;
pub use run::{RunError, RunOptions, StartError, run_program, start_failure_status};
pub use syscalls::table::support_matrix;
pub use task::types::Termination;
