//! Automatic growth of `MAP_GROWSDOWN` mappings: Linux's `expand_stack` on a fault below one.

use elfvisor_abi::{GuestAddr, PAGE_SIZE, Prot};

use crate::access::effective;
use crate::space::AddressSpace;
use crate::vma::Vma;

/// Linux's default `stack_guard_gap`: a grown mapping stays this far above any accessible
/// mapping below it (that is not itself growing down).
pub const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

impl AddressSpace {
    /// The `MAP_GROWSDOWN` mapping a fault at `addr` would grow: `addr` is unmapped and the
    /// first mapping above it grows down.
    fn grows_into(&self, addr: GuestAddr) -> Option<&Vma> {
        if self.vmas.find(addr).is_some() {
            return None;
        }
        self.vmas.first_ending_after(addr).filter(|v| v.grows_down && v.start > addr)
    }

    /// Whether a fault at `addr` may grow a `MAP_GROWSDOWN` mapping (a cheap check for the
    /// TLB-fill path before it takes the address space for writing).
    pub fn may_grow_down(&self, addr: GuestAddr) -> bool {
        self.grows_into(addr).is_some()
    }

    /// Linux `expand_downwards`: grows the `MAP_GROWSDOWN` mapping above `addr` down to
    /// `addr`'s page, unless it would then be larger than the guest's `RLIMIT_STACK`, pass
    /// `RLIMIT_AS` (`acct_stack_growth`), come within [`STACK_GUARD_GAP`] of an accessible
    /// mapping below, or reach below `mmap_min_addr`. Returns whether it grew; the new pages
    /// are zero.
    pub fn grow_down(&mut self, addr: GuestAddr) -> bool {
        let Some(v) = self.grows_into(addr).cloned() else { return false };
        let new_start = addr.page_down();
        if new_start < self.layout.mmap_min || v.end.0 - new_start.0 > self.limits.stack.0 {
            return false;
        }
        let grow = (v.start.0 - new_start.0) / PAGE_SIZE;
        if !self.may_expand_vm(crate::limits::is_data(v.prot, v.shared, true), grow) {
            return false;
        }
        if let Some(prev) = self.vmas.below(v.start).next() {
            let accessible = effective(prev.prot).access() != Prot::NONE;
            if !prev.grows_down && accessible && new_start.0 - prev.end.0 < STACK_GUARD_GAP {
                return false;
            }
        }
        let grown = Vma { start: new_start, end: v.start, backing: v.backing.clone(), ..v };
        let ok = self.place(grown).is_ok();
        self.debug_check();
        ok
    }
}

#[cfg(test)]
mod tests {
    use elfvisor_abi::mman::{MAP_FIXED, MAP_GROWSDOWN};
    use elfvisor_abi::{GuestAddr, Prot};

    use super::*;
    use crate::space::tests::{P, anon, map_fixed, ranges, space};

    /// Grows with RLIMIT_STACK at `limit`.
    fn grow(s: &mut AddressSpace, addr: GuestAddr, limit: u64) -> bool {
        let limits = crate::VmLimits { stack: (limit, limit), ..crate::VmLimits::default() };
        s.set_vm_limits(limits);
        s.grow_down(addr)
    }

    #[test]
    fn test_growsdown_mapping_grows_to_the_fault() {
        let mut s = space();
        map_fixed(&mut s, 0x40_0000, P, Prot::RW);
        let top = 0x80_0000;
        s.mmap(anon(top, P, Prot::RW, MAP_FIXED | MAP_GROWSDOWN)).unwrap();
        s.copy_out(GuestAddr(top), b"top").unwrap();
        assert!(!s.may_grow_down(GuestAddr(top)));
        assert!(s.may_grow_down(GuestAddr(top - 1)));
        assert!(!s.may_grow_down(GuestAddr(0x40_0000 - 1)));
        // Beyond the limit: no.
        assert!(!grow(&mut s, GuestAddr(top - 64 * P), 64 * P));
        assert!(grow(&mut s, GuestAddr(top - 64 * P + 5), 65 * P));
        assert_eq!(ranges(&s).last(), Some(&(top - 64 * P, top + P, Prot::RW)));
        let mut b = [9u8; 3];
        s.copy_in(GuestAddr(top - 64 * P), &mut b).unwrap();
        assert_eq!(b, [0; 3]);
        s.copy_in(GuestAddr(top), &mut b).unwrap();
        assert_eq!(&b, b"top");
        // Within the guard gap of the accessible mapping below: no.
        let near = 0x40_1000 + STACK_GUARD_GAP - P;
        assert!(!grow(&mut s, GuestAddr(near), u64::MAX));
        assert!(grow(&mut s, GuestAddr(near + P), u64::MAX));
        // A mapping that does not grow down never grows.
        map_fixed(&mut s, 0x90_0000, P, Prot::RW);
        assert!(!grow(&mut s, GuestAddr(0x8f_f000), u64::MAX));
        s.check_invariants().unwrap();
    }
}
