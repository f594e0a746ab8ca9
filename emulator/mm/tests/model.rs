//! Property test: random sequences of mmap/munmap/mprotect/mremap on a small arena, checked
//! after every step against a page-granular reference model. Each mapped page carries a tag in
//! its first 8 bytes, so the model also checks that moves keep data and new pages are zero.

use std::collections::BTreeMap;

use elfvisor_abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MREMAP_FIXED, MREMAP_MAYMOVE};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE as P, Prot};
use elfvisor_mm::{AddressSpace, MmapRequest, VmaName};
use proptest::prelude::*;

const ARENA: u64 = 1 << 24;
/// Pages in each of the two windows that operations target.
const WINDOW: u64 = 48;

/// An address in one of two windows: low (fixed mappings) or just below `mmap_top` (where
/// non-fixed mappings land).
#[derive(Debug, Clone, Copy)]
struct Loc {
    high: bool,
    page: u64,
}

#[derive(Debug, Clone)]
enum Op {
    MmapFixed { at: Loc, pages: u64, prot: u32 },
    MmapAny { hint: Option<Loc>, pages: u64, prot: u32 },
    Munmap { at: Loc, pages: u64 },
    Mprotect { at: Loc, pages: u64, prot: u32 },
    Mremap { at: Loc, old_pages: u64, new_pages: u64, may_move: bool, to: Option<Loc> },
}

fn loc() -> impl Strategy<Value = Loc> {
    (any::<bool>(), 0..WINDOW).prop_map(|(high, page)| Loc { high, page })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (loc(), 1..8u64, 0..8u32).prop_map(|(at, pages, prot)| Op::MmapFixed { at, pages, prot }),
        (proptest::option::of(loc()), 1..8u64, 0..8u32)
            .prop_map(|(hint, pages, prot)| Op::MmapAny { hint, pages, prot }),
        (loc(), 1..10u64).prop_map(|(at, pages)| Op::Munmap { at, pages }),
        (loc(), 1..8u64, 0..8u32).prop_map(|(at, pages, prot)| Op::Mprotect { at, pages, prot }),
        (loc(), 1..6u64, 1..8u64, any::<bool>(), proptest::option::of(loc())).prop_map(
            |(at, old_pages, new_pages, may_move, to)| Op::Mremap {
                at,
                old_pages,
                new_pages,
                may_move,
                to
            }
        ),
    ]
}

/// Guest page number → (protection, tag written into the page; 0 = fresh zero page).
type Model = BTreeMap<u64, (Prot, u64)>;

struct Harness {
    space: AddressSpace,
    model: Model,
    next_tag: u64,
    high_base: u64,
}

impl Harness {
    fn new() -> Harness {
        let space = AddressSpace::new(ARENA).unwrap();
        let high_base = space.layout().mmap_top.0 / P - WINDOW;
        Harness { space, model: Model::new(), next_tag: 1, high_base }
    }

    fn page(&self, l: Loc) -> u64 {
        if l.high { self.high_base + l.page } else { 0x100 + l.page }
    }

    fn tag_in_memory(&self, page: u64) -> u64 {
        let p = self.space.host_range(GuestAddr(page * P), 8, Prot::NONE).unwrap();
        // SAFETY: `host_range` checked the page is mapped (host RW for private mappings) and the
        // 8 bytes lie inside the arena; page starts are 8-byte aligned.
        unsafe { p.cast::<u64>().read_volatile() }
    }

    fn write_tag(&mut self, page: u64, tag: u64) {
        let p = self.space.host_range(GuestAddr(page * P), 8, Prot::NONE).unwrap();
        // SAFETY: as in `tag_in_memory`; private pages are host-writable whatever the guest
        // protection, and nothing else accesses guest memory in this test.
        unsafe { p.cast::<u64>().write_volatile(tag) }
    }

    fn free(&self, first: u64, n: u64) -> bool {
        (first..first + n).all(|p| !self.model.contains_key(&p))
    }

    /// The model's VMA holding `page`: the maximal run of mapped pages with its protection
    /// (compatible anonymous neighbours are always merged).
    fn vma_end(&self, page: u64) -> u64 {
        let prot = self.model[&page].0;
        let mut end = page;
        while self.model.get(&end).is_some_and(|e| e.0 == prot) {
            end += 1;
        }
        end
    }

    fn unmap(&mut self, first: u64, n: u64) {
        for p in first..first + n {
            self.model.remove(&p);
        }
    }

    fn map_fresh(&mut self, first: u64, n: u64, prot: Prot) {
        for p in first..first + n {
            self.model.insert(p, (prot, 0));
        }
    }

    /// Moves `old_n` pages from `from` to `to` and adds `new_n - old_n` fresh pages after them.
    fn move_pages(&mut self, from: u64, old_n: u64, to: u64, new_n: u64) {
        let prot = self.model[&from].0;
        let moved: Vec<(Prot, u64)> =
            (from..from + old_n).map(|p| self.model.remove(&p).unwrap()).collect();
        self.unmap(to, new_n);
        for (i, e) in moved.into_iter().enumerate() {
            self.model.insert(to + i as u64, e);
        }
        self.map_fresh(to + old_n, new_n.saturating_sub(old_n), prot);
    }

    fn step(&mut self, op: &Op) -> Vec<(u64, u64)> {
        match *op {
            Op::MmapFixed { at, pages, prot } => {
                let first = self.page(at);
                let r = self.space.mmap(anon(first * P, pages, prot, MAP_FIXED));
                assert_eq!(r, Ok(GuestAddr(first * P)));
                self.unmap(first, pages);
                self.map_fresh(first, pages, Prot(prot));
                vec![(first, pages)]
            }
            Op::MmapAny { hint, pages, prot } => {
                let hint = hint.map_or(0, |l| self.page(l) * P);
                let a = self.space.mmap(anon(hint, pages, prot, 0)).expect("room in the arena");
                let first = a.0 / P;
                assert!(self.free(first, pages), "non-fixed mmap at {a} replaced a mapping");
                if hint != 0 && self.free(hint / P, pages) {
                    assert_eq!(a.0, hint, "a free hint must be used");
                }
                self.map_fresh(first, pages, Prot(prot));
                vec![(first, pages)]
            }
            Op::Munmap { at, pages } => {
                let first = self.page(at);
                assert_eq!(self.space.munmap(GuestAddr(first * P), pages * P), Ok(()));
                self.unmap(first, pages);
                vec![(first, pages)]
            }
            Op::Mprotect { at, pages, prot } => {
                let first = self.page(at);
                let r = self.space.mprotect(GuestAddr(first * P), pages * P, Prot(prot));
                // Linux changes the pages before the first hole, then fails.
                let mut p = first;
                while p < first + pages && self.model.contains_key(&p) {
                    self.model.get_mut(&p).unwrap().0 = Prot(prot);
                    p += 1;
                }
                let expected = if p == first + pages { Ok(()) } else { Err(Errno::ENOMEM) };
                assert_eq!(r, expected);
                vec![(first, pages)]
            }
            Op::Mremap { at, old_pages, new_pages, may_move, to } => {
                self.mremap(self.page(at), old_pages, new_pages, may_move, to.map(|l| self.page(l)))
            }
        }
    }

    fn mremap(
        &mut self,
        old: u64,
        old_n: u64,
        new_n: u64,
        may_move: bool,
        to: Option<u64>,
    ) -> Vec<(u64, u64)> {
        let fixed = may_move && to.is_some();
        let flags = if fixed {
            MREMAP_MAYMOVE | MREMAP_FIXED
        } else if may_move {
            MREMAP_MAYMOVE
        } else {
            0
        };
        let dst = if fixed { to.unwrap() } else { 0 };
        let r =
            self.space.mremap(GuestAddr(old * P), old_n * P, new_n * P, flags, GuestAddr(dst * P));
        let touched = vec![(old, old_n.max(new_n)), (r.map_or(old, |a| a.0 / P), new_n)];
        let keep = old_n.min(new_n);
        let source_ok = self.model.contains_key(&old) && self.vma_end(old) >= old + keep;
        if fixed {
            if old + old_n > dst && dst + new_n > old {
                assert_eq!(r, Err(Errno::EINVAL));
            } else if !source_ok {
                assert_eq!(r, Err(Errno::EFAULT));
            } else {
                assert_eq!(r, Ok(GuestAddr(dst * P)));
                self.unmap(old + keep, old_n - keep);
                self.move_pages(old, keep, dst, new_n);
            }
        } else if new_n <= old_n {
            assert_eq!(r, Ok(GuestAddr(old * P)));
            self.unmap(old + new_n, old_n - new_n);
        } else if !source_ok {
            assert_eq!(r, Err(Errno::EFAULT));
        } else if self.vma_end(old) == old + old_n && self.free(old + old_n, new_n - old_n) {
            assert_eq!(r, Ok(GuestAddr(old * P)));
            let prot = self.model[&old].0;
            self.map_fresh(old + old_n, new_n - old_n, prot);
        } else if !may_move {
            assert_eq!(r, Err(Errno::ENOMEM));
        } else {
            let a = r.expect("room to move").0 / P;
            assert!(self.free(a, new_n), "mremap moved onto a mapping");
            self.move_pages(old, old_n, a, new_n);
        }
        touched
    }

    /// Compares the address space with the model on every model page and on `touched`.
    fn check(&mut self, touched: &[(u64, u64)]) {
        self.space.check_invariants().unwrap();
        let mut pages: Vec<u64> = self.model.keys().copied().collect();
        for &(first, n) in touched {
            pages.extend(first.saturating_sub(1)..first + n + 1);
        }
        for p in pages {
            let expect = self.model.get(&p).map(|e| e.0);
            let effective =
                expect.map(|pr| if pr.contains(Prot::WRITE) { pr | Prot::READ } else { pr });
            assert_eq!(self.space.prot_at(GuestAddr(p * P)), effective, "page {p:#x}");
            assert_eq!(
                self.space.prot_at(GuestAddr(p * P + P - 1)),
                effective,
                "end of page {p:#x}"
            );
        }
        let mapped: Vec<(u64, u64)> = self.model.iter().map(|(&p, &(_, t))| (p, t)).collect();
        for (p, tag) in mapped {
            assert_eq!(self.tag_in_memory(p), tag, "contents of page {p:#x}");
            if tag == 0 {
                let t = self.next_tag;
                self.next_tag += 1;
                self.write_tag(p, t);
                self.model.get_mut(&p).unwrap().1 = t;
            }
        }
        let vma_pages: u64 = self.space.vmas().map(|v| v.len() / P).sum();
        assert_eq!(vma_pages, self.model.len() as u64, "VMAs cover exactly the model's pages");
    }
}

fn anon(addr: u64, pages: u64, prot: u32, flags: u32) -> MmapRequest {
    MmapRequest {
        addr: GuestAddr(addr),
        len: pages * P,
        prot: Prot(prot),
        flags: MAP_PRIVATE | MAP_ANONYMOUS | flags,
        file: None,
        name: VmaName::None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn test_operations_match_page_model(ops in proptest::collection::vec(op(), 1..40)) {
        let mut h = Harness::new();
        for op in &ops {
            let touched = h.step(op);
            h.check(&touched);
        }
    }
}
