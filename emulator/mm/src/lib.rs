//! The guest address space: one host arena per guest process, the VMA set that says what the
//! guest may see at every address, Linux semantics for the memory system calls, and checked
//! access to guest memory for the syscall layer.
//!
//! The VMA set is the truth. The arena (`arena.rs`, the only module with host mapping code)
//! mirrors it: every mapped guest page is a host page at `arena_base + addr`, every other page is
//! `PROT_NONE` reservation. Guest permissions are enforced by the VMAs, not the host: the CPU
//! engine asks [`AddressSpace::page_state`] on every TLB miss, and the copy helpers check the
//! VMAs before they touch a byte (shared pages additionally carry the guest's protection on the
//! host, since their objects may allow no more). After each mutation,
//! [`AddressSpace::take_invalidations`] says which cached translations the engine must drop.
//!
//! Shared mappings map host objects ([`SharedObject`]): the guest's files, a memfd per
//! `MAP_SHARED|MAP_ANONYMOUS` mapping, host SysV segments. See the crate README.

mod access;
mod advise;
mod arena;
mod growsdown;
mod heap;
mod layers;
mod layout;
mod limits;
mod lock;
mod object;
mod remap;
mod residency;
mod shared;
mod snapshot;
mod space;
mod sysv;
mod vma;

use std::io;

use elfvisor_abi::{GuestAddr, PAGE_SIZE};

pub use growsdown::STACK_GUARD_GAP;
pub use layers::{Frozen, Layer};
pub use layout::{
    GUEST_TASK_SIZE, HEAP_RESERVE, Layout, MIN_ARENA_SIZE, MMAP_MIN_ADDR, STACK_REGION,
};
pub use limits::{Limit, RLIM_INFINITY, VmLimits};
pub use lock::LockLimit;
pub use object::{ObjectKind, SharedObject};
pub use shared::{ObjectMapping, PageStatus};
pub use snapshot::FrozenRange;
pub use space::{AddressSpace, MmapRequest, Startup};
pub use sysv::ShmAttach;
pub use vma::{Backing, Vma, VmaFlags, VmaName};

/// Host failures creating an address space.
#[derive(Debug, thiserror::Error)]
pub enum MmError {
    #[error(
        "arena size {0:#x} must be a multiple of the page size, at least {MIN_ARENA_SIZE:#x} and at most {GUEST_TASK_SIZE:#x}"
    )]
    ArenaSize(u64),
    #[error("host page size is {0} bytes; only hosts with {PAGE_SIZE}-byte pages are supported")]
    HostPageSize(u64),
    #[error("cannot reserve {size:#x} bytes of host address space for the guest")]
    Reserve {
        size: u64,
        #[source]
        source: io::Error,
    },
}

/// A page range whose cached translations the CPU engine must drop: it was unmapped, replaced,
/// moved, lost protection or had its contents reset behind the engine's back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalidation {
    pub start: GuestAddr,
    pub end: GuestAddr,
    /// Some page in the range was executable: translated code for it must be flushed too.
    pub was_exec: bool,
}
