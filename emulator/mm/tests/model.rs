//! Property test: random sequences of mmap/munmap/mprotect/mremap on a small arena, private and
//! shared anonymous, checked after every step against a page-granular reference model. Each
//! mapped page carries a tag in its first 8 bytes, so the model also checks that moves keep data
//! and new pages are zero. A shared page is a page of an object: its tag lives in the object
//! (read and written through the object's descriptor, and compared with what the arena shows),
//! and pages a mremap grew past the object's end must be reported as past it.

use std::collections::BTreeMap;

use std::os::fd::AsRawFd;
use std::sync::Arc;

use elfvisor_abi::mman::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MREMAP_FIXED, MREMAP_MAYMOVE,
};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE as P, Prot};
use elfvisor_mm::{AddressSpace, Backing, MmapRequest, PageStatus, SharedObject, VmaName};
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
    MmapFixed {
        at: Loc,
        pages: u64,
        prot: u32,
    },
    MmapAny {
        hint: Option<Loc>,
        pages: u64,
        prot: u32,
    },
    /// `MAP_SHARED|MAP_ANONYMOUS`, at a fixed place or anywhere.
    MmapShared {
        at: Option<Loc>,
        pages: u64,
        prot: u32,
    },
    Munmap {
        at: Loc,
        pages: u64,
    },
    Mprotect {
        at: Loc,
        pages: u64,
        prot: u32,
    },
    Mremap {
        at: Loc,
        old_pages: u64,
        new_pages: u64,
        may_move: bool,
        to: Option<Loc>,
    },
}

fn loc() -> impl Strategy<Value = Loc> {
    (any::<bool>(), 0..WINDOW).prop_map(|(high, page)| Loc { high, page })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (loc(), 1..8u64, 0..8u32).prop_map(|(at, pages, prot)| Op::MmapFixed { at, pages, prot }),
        (proptest::option::of(loc()), 1..8u64, 0..8u32)
            .prop_map(|(hint, pages, prot)| Op::MmapAny { hint, pages, prot }),
        (proptest::option::of(loc()), 1..8u64, 0..8u32)
            .prop_map(|(at, pages, prot)| Op::MmapShared { at, pages, prot }),
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

/// What a model page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    /// A private page and the tag written into it (0: a fresh zero page).
    Private(u64),
    /// Page `index` of shared object `object` (whose tags the harness keeps).
    Shared { object: usize, index: u64 },
}

/// Guest page number → (protection, content).
type Model = BTreeMap<u64, (Prot, Content)>;

/// A shared anonymous object: one tag per page of its size (0: still zero).
struct ObjectModel {
    tags: Vec<u64>,
    /// The real object, once a check has seen it.
    real: Option<Arc<SharedObject>>,
}

struct Harness {
    space: AddressSpace,
    model: Model,
    objects: Vec<ObjectModel>,
    next_tag: u64,
    high_base: u64,
}

/// What the hardware grants for `prot` on aarch64 Linux: write and exec imply read.
fn effective(prot: Prot) -> Prot {
    if prot.0 & (Prot::WRITE.0 | Prot::EXEC.0) != 0 { prot | Prot::READ } else { prot }
}

/// The content of the page after `c` in the same mapping (for growth): zero, or the object's
/// next page.
fn next_content(c: Content) -> Content {
    match c {
        Content::Private(_) => Content::Private(0),
        Content::Shared { object, index } => Content::Shared { object, index: index + 1 },
    }
}

impl Harness {
    fn new() -> Harness {
        let space = AddressSpace::new(ARENA).unwrap();
        let high_base = space.layout().mmap_top.0 / P - WINDOW;
        Harness { space, model: Model::new(), objects: Vec::new(), next_tag: 1, high_base }
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
    /// and compatible contents (private anonymous neighbours are always merged, shared pages
    /// when they continue the same object).
    fn vma_end(&self, page: u64) -> u64 {
        let (prot, mut content) = self.model[&page];
        let mut end = page + 1;
        while let Some(&(p, c)) = self.model.get(&end) {
            let continues = match (content, c) {
                (Content::Private(_), Content::Private(_)) => true,
                (
                    Content::Shared { object: a, index: i },
                    Content::Shared { object: b, index: j },
                ) => a == b && j == i + 1,
                _ => false,
            };
            if p != prot || !continues {
                break;
            }
            content = c;
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
            self.model.insert(p, (prot, Content::Private(0)));
        }
    }

    /// `n` pages of a new shared object of `n` pages at `first`.
    fn map_object(&mut self, first: u64, n: u64, prot: Prot) {
        let object = self.objects.len();
        self.objects.push(ObjectModel { tags: vec![0; n as usize], real: None });
        for index in 0..n {
            self.model.insert(first + index, (prot, Content::Shared { object, index }));
        }
    }

    /// `n` pages after `last` (an entry of the same mapping) that continue it: zero pages for
    /// private memory, the object's next pages (maybe past its end) for shared memory.
    fn extend(&mut self, first: u64, n: u64, last: (Prot, Content)) {
        let (prot, mut content) = last;
        for p in first..first + n {
            content = next_content(content);
            self.model.insert(p, (prot, content));
        }
    }

    /// Moves `old_n` pages from `from` to `to` and adds `new_n - old_n` pages after them that
    /// continue the mapping.
    fn move_pages(&mut self, from: u64, old_n: u64, to: u64, new_n: u64) {
        let moved: Vec<(Prot, Content)> =
            (from..from + old_n).map(|p| self.model.remove(&p).unwrap()).collect();
        let last = *moved.last().unwrap();
        self.unmap(to, new_n);
        for (i, e) in moved.into_iter().enumerate() {
            self.model.insert(to + i as u64, e);
        }
        self.extend(to + old_n, new_n.saturating_sub(old_n), last);
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
            Op::MmapShared { at, pages, prot } => {
                let req = shared(at.map_or(0, |l| self.page(l) * P), pages, prot, at.is_some());
                let a = self.space.mmap(req).expect("room in the arena").0 / P;
                if let Some(l) = at {
                    assert_eq!(a, self.page(l));
                    self.unmap(a, pages);
                } else {
                    assert!(
                        self.free(a, pages),
                        "non-fixed mmap at page {a:#x} replaced a mapping"
                    );
                }
                self.map_object(a, pages, Prot(prot));
                vec![(a, pages)]
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
            let last = self.model[&(old + old_n - 1)];
            self.extend(old + old_n, new_n - old_n, last);
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
            let expect = self.model.get(&p).map(|e| effective(e.0));
            assert_eq!(self.space.prot_at(GuestAddr(p * P)), expect, "page {p:#x}");
            assert_eq!(self.space.prot_at(GuestAddr(p * P + P - 1)), expect, "end of page {p:#x}");
            let state = match self.model.get(&p) {
                None => PageStatus::Unmapped,
                Some(&(prot, Content::Shared { object, index }))
                    if effective(prot) != Prot::NONE
                        && index >= self.objects[object].tags.len() as u64 =>
                {
                    PageStatus::PastObjectEnd
                }
                Some(&(prot, _)) => PageStatus::Mapped(effective(prot)),
            };
            assert_eq!(self.space.page_state(GuestAddr(p * P)), state, "state of page {p:#x}");
        }
        let mapped: Vec<(u64, Prot, Content)> =
            self.model.iter().map(|(&p, &(prot, c))| (p, prot, c)).collect();
        for (p, prot, content) in mapped {
            match content {
                Content::Private(tag) => {
                    assert_eq!(self.tag_in_memory(p), tag, "contents of page {p:#x}");
                    if tag == 0 {
                        let t = self.new_tag();
                        self.write_tag(p, t);
                        self.model.get_mut(&p).unwrap().1 = Content::Private(t);
                    }
                }
                Content::Shared { object, index } => self.check_shared(p, prot, object, index),
            }
        }
        let vma_pages: u64 = self.space.vmas().map(|v| v.len() / P).sum();
        assert_eq!(vma_pages, self.model.len() as u64, "VMAs cover exactly the model's pages");
    }

    fn new_tag(&mut self) -> u64 {
        self.next_tag += 1;
        self.next_tag
    }

    /// A shared page: its VMA maps the model's object at the model's page, the object holds
    /// the model's tag, and the arena shows it when the page is readable.
    fn check_shared(&mut self, p: u64, prot: Prot, object: usize, index: u64) {
        let addr = GuestAddr(p * P);
        let vma = self.space.vmas().find(|v| v.contains(addr)).unwrap();
        let Backing::Shared { object: real, offset } = &vma.backing else {
            panic!("page {p:#x} should be shared: {vma:?}")
        };
        assert_eq!(offset + (addr.0 - vma.start.0), index * P, "object offset of page {p:#x}");
        let model = &mut self.objects[object];
        match &model.real {
            Some(known) => assert!(Arc::ptr_eq(known, real), "page {p:#x} maps another object"),
            None => model.real = Some(Arc::clone(real)),
        }
        let Some(&tag) = model.tags.get(index as usize) else { return };
        let fd = real.fd().unwrap().as_raw_fd();
        let mut word = [0u8; 8];
        // SAFETY: reads 8 bytes of the object into a local buffer.
        let n = unsafe { libc::pread(fd, word.as_mut_ptr().cast(), 8, (index * P) as i64) };
        assert_eq!(n, 8);
        assert_eq!(u64::from_le_bytes(word), tag, "object {object} page {index} (at {p:#x})");
        if effective(prot).contains(Prot::READ) {
            let mut seen = [0u8; 8];
            self.space.copy_in(addr, &mut seen).unwrap();
            assert_eq!(u64::from_le_bytes(seen), tag, "arena view of page {p:#x}");
        }
        if tag == 0 {
            let t = self.new_tag();
            // SAFETY: writes 8 bytes from a local buffer into the object.
            let n =
                unsafe { libc::pwrite(fd, t.to_le_bytes().as_ptr().cast(), 8, (index * P) as i64) };
            assert_eq!(n, 8);
            self.objects[object].tags[index as usize] = t;
        }
    }
}

fn shared(addr: u64, pages: u64, prot: u32, fixed: bool) -> MmapRequest {
    MmapRequest {
        addr: GuestAddr(addr),
        len: pages * P,
        prot: Prot(prot),
        flags: MAP_SHARED | MAP_ANONYMOUS | if fixed { MAP_FIXED } else { 0 },
        file: None,
        name: VmaName::None,
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
