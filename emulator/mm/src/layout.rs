//! Where things go in the guest address space, and the top-down search for free ranges.
//!
//! ```text
//!   arena_size ┬─────────────────────────────┐
//!              │ gap (STACK_GAP)             │ free, as Linux's top of user space usually is
//!    stack_top ├─────────────────────────────┤
//!              │ stack region (stack_region) │ the loader maps the main stack here
//!     mmap_top ├─────────────────────────────┤
//!              │ mmap area, filled top-down  │ non-fixed mmap/mremap allocations
//!              │              ↓              │
//!              │             ...             │
//!              │              ↑              │
//!              │ heap growth reserve         │ [brk start, + heap_reserve): never picked
//!    brk start ├─────────────────────────────┤
//!              │ program (ELF link address)  │ placed by the loader with MAP_FIXED
//!     mmap_min ├─────────────────────────────┤ 0x1_0000: nothing is ever mapped below
//!            0 └─────────────────────────────┘
//! ```

use elfvisor_abi::{GuestAddr, PAGE_SIZE};

use crate::vma::VmaSet;

/// Lowest address any mapping may use (Linux's default `vm.mmap_min_addr`).
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;
/// Size of the stack region at the top of the arena that non-fixed mmaps avoid (Linux keeps a
/// gap of at least 128 MiB between the stack top and `mmap_base`). Smaller arenas use 1/16.
pub const STACK_REGION: u64 = 128 << 20;
/// Free room between the end of the arena and the stack top, in arenas of at least 64 GiB (the
/// runtime's; test arenas have none). Linux's stack top is `TASK_SIZE` less a random number of
/// pages up to `STACK_RND_MASK` (1 GiB with 4 KiB pages, `randomize_stack_top`), so the last
/// bytes of user space are unmapped, and an access there faults, unless a program maps them.
pub const STACK_GAP: u64 = 1 << 30;
/// The heap may grow this far (or 1/8 of the arena if smaller) before mmaps may take its room.
pub const HEAP_RESERVE: u64 = 64 << 30;
/// The smallest arena `AddressSpace::new` accepts.
pub const MIN_ARENA_SIZE: u64 = 1 << 20;
/// The guest's `TASK_SIZE` (48-bit virtual addresses). Arguments are validated against it so
/// errors match Linux; addresses between the arena's end and this limit are simply never mapped.
pub const GUEST_TASK_SIZE: u64 = 1 << 48;

/// The fixed regions of one address space, derived from the arena size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// One past the main stack's highest address: the arena size less [`STACK_GAP`].
    pub stack_top: GuestAddr,
    /// Non-fixed mappings are placed below this address, highest first.
    pub mmap_top: GuestAddr,
    /// Nothing is mapped below this address.
    pub mmap_min: GuestAddr,
    /// Bytes above the initial break that non-fixed mappings leave free for the heap.
    pub heap_reserve: u64,
}

fn page_down(v: u64) -> u64 {
    v & !(PAGE_SIZE - 1)
}

impl Layout {
    pub fn for_arena(arena_size: u64) -> Layout {
        let stack = STACK_REGION.min(page_down(arena_size / 16));
        let gap = if arena_size >= 64 * STACK_GAP { STACK_GAP } else { 0 };
        Layout {
            stack_top: GuestAddr(arena_size - gap),
            mmap_top: GuestAddr(arena_size - gap - stack),
            mmap_min: GuestAddr(MMAP_MIN_ADDR),
            heap_reserve: HEAP_RESERVE.min(page_down(arena_size / 8)),
        }
    }

    /// The highest free, page-aligned range of `len` bytes in the mmap area that avoids
    /// `reserved` (the heap's growth room), or `None` if there is none.
    pub(crate) fn find_free(
        &self,
        vmas: &VmaSet,
        len: u64,
        reserved: Option<(GuestAddr, GuestAddr)>,
    ) -> Option<GuestAddr> {
        let floor = self.mmap_min.0;
        let mut hi = self.mmap_top.0;
        // Walk the gaps between VMAs from the top down: [vma.end, hi) for each VMA below `hi`.
        for vma in vmas.below(GuestAddr(hi)) {
            if let Some(found) = fit(vma.end.0.max(floor), hi, len, reserved) {
                return Some(GuestAddr(found));
            }
            hi = hi.min(vma.start.0);
            if hi <= floor {
                return None;
            }
        }
        fit(floor, hi, len, reserved).map(GuestAddr)
    }
}

/// The highest start for `len` bytes inside `[lo, hi)` that does not intersect `reserved`.
fn fit(lo: u64, hi: u64, len: u64, reserved: Option<(GuestAddr, GuestAddr)>) -> Option<u64> {
    let try_fit = |lo: u64, hi: u64| hi.checked_sub(len).filter(|&s| s >= lo);
    let start = try_fit(lo, hi)?;
    match reserved {
        // The highest candidate overlaps the reserve, so nothing above the reserve fits either.
        Some((rs, re)) if start < re.0 && start + len > rs.0 => try_fit(lo, hi.min(rs.0)),
        _ => Some(start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vma::{Backing, Vma, VmaFlags, VmaName};
    use elfvisor_abi::Prot;

    fn vma(start: u64, end: u64) -> Vma {
        Vma {
            start: GuestAddr(start),
            end: GuestAddr(end),
            prot: Prot::RW,
            shared: false,
            grows_down: false,
            flags: VmaFlags::NONE,
            backing: Backing::Anonymous,
            name: VmaName::None,
        }
    }

    #[test]
    fn test_layout_for_runtime_and_test_arenas() {
        let l = Layout::for_arena(1 << 40);
        assert_eq!(l.stack_top, GuestAddr((1 << 40) - (1 << 30)));
        assert_eq!(l.mmap_top, GuestAddr((1 << 40) - (1 << 30) - (128 << 20)));
        assert_eq!(l.heap_reserve, 64 << 30);
        let l = Layout::for_arena(1 << 24);
        assert_eq!(l.mmap_top, GuestAddr((1 << 24) - (1 << 20)));
        assert_eq!(l.heap_reserve, 2 << 20);
    }

    #[test]
    fn test_find_free_is_top_down_and_skips_vmas() {
        let l = Layout::for_arena(1 << 24);
        let top = l.mmap_top.0;
        let mut s = VmaSet::default();
        assert_eq!(l.find_free(&s, 0x2000, None), Some(GuestAddr(top - 0x2000)));
        s.insert(vma(top - 0x1000, top));
        s.insert(vma(top - 0x4000, top - 0x2000));
        assert_eq!(l.find_free(&s, 0x1000, None), Some(GuestAddr(top - 0x2000)));
        assert_eq!(l.find_free(&s, 0x2000, None), Some(GuestAddr(top - 0x6000)));
    }

    #[test]
    fn test_find_free_avoids_reserve_and_floor() {
        let l = Layout::for_arena(1 << 24);
        let s = VmaSet::default();
        let reserve = Some((GuestAddr(0x10_0000), GuestAddr(l.mmap_top.0 - 0x1000)));
        assert_eq!(l.find_free(&s, 0x1000, reserve), Some(GuestAddr(l.mmap_top.0 - 0x1000)));
        assert_eq!(l.find_free(&s, 0x2000, reserve), Some(GuestAddr(0x10_0000 - 0x2000)));
        assert_eq!(
            l.find_free(&s, 0x10_0000 - MMAP_MIN_ADDR, reserve),
            Some(GuestAddr(MMAP_MIN_ADDR))
        );
        assert_eq!(l.find_free(&s, 0x10_0000, reserve), None);
    }
}
