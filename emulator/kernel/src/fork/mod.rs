//! New processes and threads' arguments: the one [`CloneArgs`] every entry point (`clone`,
//! `clone3`, a respawned child's setup) decodes to, the [`ForkStrategy`], and the mechanisms —
//! a host fork ([`host`]), vfork's wait and memory hand-back ([`vfork`]) and the respawn
//! strategies ([`respawn`]). Threads start in `crate::run`.

pub mod host;
pub mod respawn;
pub mod vfork;

use elfvisor_abi::sched::CLONE_SETTLS;

/// The arguments of a `clone`, whatever the entry point: `clone`'s registers, `clone3`'s
/// `struct clone_args` (its stack already turned into a stack top).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloneArgs {
    /// `CLONE_*` flags, with the exit signal in the low byte.
    pub flags: u64,
    /// The new stack pointer (0: the caller's).
    pub stack: u64,
    /// Where `CLONE_PARENT_SETTID` stores the child's id.
    pub parent_tid: u64,
    /// Where `CLONE_CHILD_SETTID` stores it, and what `CLONE_CHILD_CLEARTID` clears.
    pub child_tid: u64,
    /// TPIDR_EL0 with `CLONE_SETTLS`.
    pub tls: u64,
}

impl CloneArgs {
    pub fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }

    /// The thread pointer the child starts with: `tls` with `CLONE_SETTLS`, else `current`.
    pub fn tls_or(&self, current: u64) -> u64 {
        if self.has(CLONE_SETTLS) { self.tls } else { current }
    }

    /// The registers a child starts with: the caller's, but x0 = 0, and its own stack and TLS
    /// when asked for.
    pub fn child_registers(
        &self,
        mut regs: elfvisor_engine::Registers,
    ) -> elfvisor_engine::Registers {
        regs.x[0] = 0;
        if self.stack != 0 {
            regs.sp = self.stack;
        }
        regs.tpidr = self.tls_or(regs.tpidr);
        regs
    }
}

/// How a guest `fork` is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForkStrategy {
    /// A host `fork()` of the emulator: copy-on-write by the host kernel.
    #[default]
    Host,
    /// A fresh emulator process; private memory is streamed over the socket.
    RespawnCopy,
    /// A fresh emulator process that maps a snapshot of the private memory copy-on-write.
    RespawnSnapshot,
}

impl ForkStrategy {
    pub fn from_name(name: &str) -> Option<ForkStrategy> {
        match name {
            "host" => Some(ForkStrategy::Host),
            "respawn-copy" => Some(ForkStrategy::RespawnCopy),
            "respawn-snapshot" => Some(ForkStrategy::RespawnSnapshot),
            _ => None,
        }
    }
}
