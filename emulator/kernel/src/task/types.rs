//! Plain values a task and its thread group keep: how a process ended, the hardware
//! capabilities, the robust list head, the engine handle and the shared address space.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use elfvisor_abi::{GuestAddr, Signo};
use elfvisor_engine::{Engine, PageSource, PageState};
use elfvisor_mm::{AddressSpace, PageStatus};

/// How a guest process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Exited(i32),
    Signaled(Signo),
}

/// AT_HWCAP and AT_HWCAP2 of the engine, for the images `execve` loads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HwCaps {
    pub hwcap: u64,
    pub hwcap2: u64,
}

impl From<(u64, u64)> for HwCaps {
    fn from((hwcap, hwcap2): (u64, u64)) -> HwCaps {
        HwCaps { hwcap, hwcap2 }
    }
}

impl From<HwCaps> for (u64, u64) {
    fn from(h: HwCaps) -> (u64, u64) {
        (h.hwcap, h.hwcap2)
    }
}

/// A thread's `set_robust_list` registration: the guest address of its
/// `struct robust_list_head` and the length it passed (0, 0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RobustList {
    pub head: u64,
    pub len: u64,
}

/// The engine a process's threads create their vCPUs with.
pub type EngineRef = &'static (dyn Engine + Sync);

/// An [`EngineRef`] a process keeps (for the vCPUs of threads it starts).
#[derive(Clone, Copy)]
pub struct EngineHandle(pub EngineRef);

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

/// The guest address space, shared with the engine's TLB-fill hook.
#[derive(Debug, Clone)]
pub struct SharedMm(pub Arc<RwLock<AddressSpace>>);

impl SharedMm {
    pub fn new(mm: AddressSpace) -> SharedMm {
        SharedMm(Arc::new(RwLock::new(mm)))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, AddressSpace> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, AddressSpace> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl SharedMm {
    /// The page state the CPU engine sees, for an access of `write` (`None`: no access, only
    /// the state).
    fn engine_page(&self, addr: GuestAddr, write: Option<bool>) -> PageState {
        let state = |mm: &AddressSpace| match write {
            Some(write) => mm.page_state_for(addr, write),
            None => mm.page_state(addr),
        };
        let mut state = state(&self.read());
        // A fault below a MAP_GROWSDOWN mapping grows it (Linux's expand_stack), within
        // the guest's RLIMIT_STACK and RLIMIT_AS.
        if state == PageStatus::Unmapped && self.read().may_grow_down(addr) {
            let mut mm = self.write();
            if mm.grow_down(addr) {
                state = mm.page_state(addr);
            }
        }
        match state {
            PageStatus::Mapped(prot) => PageState::Mapped(prot),
            PageStatus::Unmapped => PageState::Unmapped,
            PageStatus::PastObjectEnd => PageState::PastObjectEnd,
        }
    }
}

impl PageSource for SharedMm {
    fn page(&self, addr: GuestAddr) -> PageState {
        self.engine_page(addr, None)
    }

    fn page_for(&self, addr: GuestAddr, write: bool) -> PageState {
        self.engine_page(addr, Some(write))
    }
}

/// Whom a POSIX timer's expiry signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerNotify {
    /// `SIGEV_NONE`: nobody (the timer is only read).
    Nobody,
    /// `SIGEV_SIGNAL` (and a C library's `SIGEV_THREAD`): the process.
    Process,
    /// `SIGEV_THREAD_ID`: this thread of the process.
    Thread(u32),
}

/// One POSIX timer of a process. Its id is its host timer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerEntry {
    pub notify: TimerNotify,
    pub signo: Signo,
    /// `sigev_value`, handed back as `si_value`.
    pub value: u64,
    /// Expiries while its signal waited in a pending queue (it is queued once).
    pub overrun_queued: i32,
    /// The overrun its last delivered signal carried (`timer_getoverrun`).
    pub overrun_last: i32,
}

/// A process's POSIX timers, by id, and the host thread that turns their expiries into guest
/// signals once one needs it.
#[derive(Debug, Default)]
pub struct TimerTable {
    pub timers: std::collections::BTreeMap<i32, TimerEntry>,
    pub service_tid: Option<i32>,
}

/// A thread's NUMA memory policy (`set_mempolicy`): the mode with its flags as given, and the
/// nodes it names (the host is one node, 0). Inherited by threads and fork, kept by exec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemPolicy {
    /// `MPOL_*` with the `MPOL_F_STATIC_NODES`/`MPOL_F_RELATIVE_NODES` flags.
    pub mode: u32,
    /// Bit n: node n.
    pub nodes: u64,
}
