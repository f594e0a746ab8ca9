//! The guest's memory resource limits: `RLIMIT_AS`, `RLIMIT_DATA` and `RLIMIT_STACK`.
//!
//! They are guest state, kept with the address space they bound (inherited by fork, carried
//! across `execve` by the kernel), and never the emulator's own host limits: a guest that lowers
//! its `RLIMIT_AS` must not take the emulator's allocations down with it. Linux checks them in
//! `may_expand_vm` (mm/mmap.c) for every mapping that grows the address space, in `brk` against
//! `RLIMIT_DATA` (`check_data_rlimit`) and in `acct_stack_growth` against `RLIMIT_STACK`.

use elfvisor_abi::{GuestAddr, PAGE_SIZE, Prot};

use crate::space::AddressSpace;
use crate::vma::Vma;

/// `RLIM_INFINITY`.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// One limit: soft (enforced) and hard (the ceiling of the soft one).
pub type Limit = (u64, u64);

/// The memory limits the address space enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmLimits {
    /// `RLIMIT_AS`: every mapped page counts.
    pub address_space: Limit,
    /// `RLIMIT_DATA`: private writable mappings that do not grow down, and the heap.
    pub data: Limit,
    /// `RLIMIT_STACK`: the size a growing-down mapping may reach.
    pub stack: Limit,
}

impl Default for VmLimits {
    /// Linux's defaults for init (include/asm-generic/resource.h): everything unlimited but
    /// the stack, 8 MiB soft.
    fn default() -> VmLimits {
        VmLimits {
            address_space: (RLIM_INFINITY, RLIM_INFINITY),
            data: (RLIM_INFINITY, RLIM_INFINITY),
            stack: (8 << 20, RLIM_INFINITY),
        }
    }
}

/// Linux's `is_data_mapping`: writable, not shared, not a stack (`VM_STACK`, which is
/// `VM_GROWSDOWN` on arm64).
pub(crate) fn is_data(prot: Prot, shared: bool, grows_down: bool) -> bool {
    prot.contains(Prot::WRITE) && !shared && !grows_down
}

fn pages(limit: u64) -> u64 {
    limit / PAGE_SIZE
}

impl AddressSpace {
    pub fn vm_limits(&self) -> VmLimits {
        self.limits
    }

    /// Sets the limits; the caller checked them as `do_prlimit` does. Mappings already past
    /// a lowered limit stay, as on Linux.
    pub fn set_vm_limits(&mut self, limits: VmLimits) {
        self.limits = limits;
    }

    /// Linux's `total_vm` and `data_vm` over `[start, end)`, in pages.
    pub(crate) fn vm_pages(&self, start: GuestAddr, end: GuestAddr) -> (u64, u64) {
        let mut total = 0;
        let mut data = 0;
        for v in self.vmas.overlapping(start, end) {
            let n = v.slice(start, end).len() / PAGE_SIZE;
            total += n;
            if is_data(v.prot, v.shared, v.grows_down) {
                data += n;
            }
        }
        (total, data)
    }

    /// Linux's `may_expand_vm`: whether `npages` more pages of a mapping (a data mapping when
    /// `data`) fit under `RLIMIT_AS` and `RLIMIT_DATA`. Valgrind's exception is kept: a soft
    /// `RLIMIT_DATA` of 0 lets data mappings grow up to the hard limit.
    pub(crate) fn may_expand_vm(&self, data: bool, npages: u64) -> bool {
        let l = self.limits;
        if l.address_space.0 == RLIM_INFINITY && l.data.0 == RLIM_INFINITY {
            return true;
        }
        let (total, data_vm) = self.vm_pages(GuestAddr(0), GuestAddr(u64::MAX));
        if total.saturating_add(npages) > pages(l.address_space.0) {
            return false;
        }
        if data && data_vm.saturating_add(npages) > pages(l.data.0) {
            return l.data.0 == 0 && data_vm.saturating_add(npages) <= pages(l.data.1);
        }
        true
    }

    /// `may_expand_vm` for a new mapping `v`, as `mmap_region` asks it: with every page, and
    /// failing that, less the pages already mapped in its range (which a fixed mapping
    /// replaces), whatever their kind.
    pub(crate) fn may_map(&self, v: &Vma) -> bool {
        let data = is_data(v.prot, v.shared, v.grows_down);
        let npages = v.len() / PAGE_SIZE;
        self.may_expand_vm(data, npages)
            || self.may_expand_vm(data, npages - self.vm_pages(v.start, v.end).0)
    }
}

#[cfg(test)]
mod tests {
    use elfvisor_abi::mman::MAP_FIXED;
    use elfvisor_abi::{Errno, Prot};

    use super::*;
    use crate::space::tests::{P, anon, space};

    #[test]
    fn test_rlimit_as_refuses_a_mapping_that_would_pass_it() {
        let mut s = space();
        s.set_vm_limits(VmLimits { address_space: (16 * P, 16 * P), ..VmLimits::default() });
        s.mmap(anon(0x40_0000, 10 * P, Prot::NONE, MAP_FIXED)).unwrap();
        assert_eq!(s.mmap(anon(0x80_0000, 7 * P, Prot::READ, MAP_FIXED)), Err(Errno::ENOMEM));
        s.mmap(anon(0x80_0000, 6 * P, Prot::READ, MAP_FIXED)).unwrap();
        // Replacing mapped pages adds nothing.
        s.mmap(anon(0x40_0000, 10 * P, Prot::RW, MAP_FIXED)).unwrap();
    }

    #[test]
    fn test_rlimit_data_counts_private_writable_memory_only() {
        let mut s = space();
        s.set_vm_limits(VmLimits { data: (4 * P, 4 * P), ..VmLimits::default() });
        assert_eq!(s.mmap(anon(0x40_0000, 5 * P, Prot::RW, MAP_FIXED)), Err(Errno::ENOMEM));
        s.mmap(anon(0x40_0000, 5 * P, Prot::READ, MAP_FIXED)).unwrap();
        s.mmap(anon(0xc0_0000, 4 * P, Prot::RW, MAP_FIXED)).unwrap();
        assert_eq!(s.mmap(anon(0xd0_0000, P, Prot::RW, MAP_FIXED)), Err(Errno::ENOMEM));
    }

    #[test]
    fn test_rlimit_data_soft_zero_allows_up_to_the_hard_limit() {
        let mut s = space();
        s.set_vm_limits(VmLimits { data: (0, 2 * P), ..VmLimits::default() });
        s.mmap(anon(0x40_0000, 2 * P, Prot::RW, MAP_FIXED)).unwrap();
        assert_eq!(s.mmap(anon(0x80_0000, P, Prot::RW, MAP_FIXED)), Err(Errno::ENOMEM));
    }
}
