//! Guest virtual addresses.

use std::fmt;

/// The guest's page size. Linux on aarch64 as Debian builds it uses 4 KiB pages, and that is what
/// guests see in `AT_PAGESZ` whatever the host's page size.
pub const PAGE_SIZE: u64 = 4096;

/// An address in the guest's virtual address space. Never a host pointer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GuestAddr(pub u64);

impl GuestAddr {
    pub const NULL: GuestAddr = GuestAddr(0);

    pub fn value(self) -> u64 {
        self.0
    }

    /// `self + n`, or `None` on overflow.
    pub fn checked_add(self, n: u64) -> Option<GuestAddr> {
        self.0.checked_add(n).map(GuestAddr)
    }

    /// `self - n`, or `None` on underflow.
    pub fn checked_sub(self, n: u64) -> Option<GuestAddr> {
        self.0.checked_sub(n).map(GuestAddr)
    }

    /// The distance from `base` up to `self`, or `None` if `self` is below `base`.
    pub fn offset_from(self, base: GuestAddr) -> Option<u64> {
        self.0.checked_sub(base.0)
    }

    pub fn is_page_aligned(self) -> bool {
        self.0 % PAGE_SIZE == 0
    }

    /// Rounded down to its page.
    pub fn page_down(self) -> GuestAddr {
        GuestAddr(self.0 & !(PAGE_SIZE - 1))
    }

    /// Rounded up to a page boundary, or `None` past the top of the address space.
    pub fn page_up(self) -> Option<GuestAddr> {
        self.0.checked_add(PAGE_SIZE - 1).map(|v| GuestAddr(v & !(PAGE_SIZE - 1)))
    }
}

/// A length rounded up to whole pages, or `None` on overflow.
pub fn page_round_up(len: u64) -> Option<u64> {
    len.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

impl fmt::Debug for GuestAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GuestAddr({:#x})", self.0)
    }
}

impl fmt::Display for GuestAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for GuestAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_page_rounding() {
        assert_eq!(GuestAddr(0x1001).page_down(), GuestAddr(0x1000));
        assert_eq!(GuestAddr(0x1001).page_up(), Some(GuestAddr(0x2000)));
        assert_eq!(GuestAddr(0x2000).page_up(), Some(GuestAddr(0x2000)));
        assert_eq!(GuestAddr(u64::MAX).page_up(), None);
        assert_eq!(page_round_up(1), Some(PAGE_SIZE));
        assert_eq!(page_round_up(u64::MAX), None);
    }

    #[test]
    fn test_checked_arithmetic() {
        assert_eq!(GuestAddr(u64::MAX).checked_add(1), None);
        assert_eq!(GuestAddr(5).checked_sub(6), None);
        assert_eq!(GuestAddr(10).offset_from(GuestAddr(4)), Some(6));
        assert_eq!(GuestAddr(4).offset_from(GuestAddr(10)), None);
        assert_eq!(format!("{}", GuestAddr(0x400000)), "0x400000");
    }
}
