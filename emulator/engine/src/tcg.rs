//! The `tcg` engine: QEMU's TCG through unicorn (patched for parallel code, see build.rs).
//!
//! The whole arena is handed to unicorn once as one RWX region (`mem_map_ptr`) and unicorn runs
//! with a virtual TLB whose fill hook asks the kernel's [`PageSource`](crate::PageSource):
//! identity translation, the VMA's permissions (exec only for executable pages), nothing for
//! unmapped or forbidden pages. Unicorn thus never touches a host page the guest may not access,
//! and an address-space change is only a TLB flush. Refused accesses are recorded by that hook,
//! because unicorn itself reports only "exception" at the faulting pc.
//!
//! Translated loads and stores do not start with unicorn's TLB: they test this vCPU's page
//! table ([`FastPages`], filled by the same hook and emptied with the TLB) and access host
//! memory at `base + address` directly (`base` in the thread's GS base, [`GsBase`], where the
//! host allows), leaving everything else to the TLB.
//!
//! # Stops
//!
//! Unicorn alone loses stops: `uc_emu_stop` outside `uc_emu_start` only sets a flag that the
//! next start clears, a stop that lands while `uc_emu_start` is still resetting its requests is
//! cleared by those resets, and so is one that lands while the CPU loop restarts after a PC
//! written in a hook. A guest spinning in `b .` then never comes back. So each vCPU has a
//! pending-stop word (`StopState`) that decides instead:
//!
//! 1. A stop (a [`Stopper`], or [`stop_current_thread`] in a signal handler) stores 1 in the
//!    word, then a full fence, then calls `uc_emu_stop`.
//! 2. [`Vcpu::run`] swaps the word to 0 on entry; if it was set the run returns
//!    [`Exit::Interrupted`] at once, without entering unicorn (registers untouched).
//! 3. Inside `uc_emu_start`, unicorn (elfvisor's edit, `xtask/src/unicorn.rs`) reads the word
//!    after a full fence before every entry to its CPU loop (`cpu_exec`), which comes after
//!    every reset of its stop and exit requests: set, the run ends before guest code.
//! 4. `run` swaps the word to 0 again when unicorn returns: a stop asked before that point is
//!    answered by this return, whatever its exit; one asked after it is found by step 2.
//!
//! Why nothing falls between 2 and 3: if the check of step 3 misses the word, the stop's store
//! comes after that check in the fences' total order, so the `uc_emu_stop` of step 1 sees the
//! emulation running (`emulation_done` was cleared before the check) and calls `cpu_exit`,
//! whose exit request nothing resets before `cpu_exec` honours it at the next block — the only
//! later reset, on a restart after a PC written in a hook, is followed by the check again. On
//! the vCPU's own thread (a signal handler) the same holds in program order. The check costs a
//! fence per entry to the CPU loop (per run and per PC written in a hook), nothing per block.
//!
//! `cpu_exit` itself needs QEMU's memory barriers, which unicorn compiles to nothing: it sets
//! `exit_request`, then the flag every block entry tests; the CPU loop clears that flag, then
//! reads `exit_request`. Without a full barrier between the loop's store and load, a
//! `cpu_exit` from another thread could land between them and leave the request set with the
//! flag cleared — a guest spinning in chained blocks never looked again (the entry race test
//! hung on a loaded machine). Two more edits put QEMU's barriers back on both sides.
//!
//! A stop that races with the end of a run may also end the next run early: `Interrupted`
//! promises only that the caller should look at its pending work, never that a stop was asked.

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::sync::{Arc, Mutex};

use elfvisor_abi::{GuestAddr, Prot};
use unicorn_engine::unicorn_const::{Arch, Arm64Insn, Mode, Prot as UcProt, TlbType};
use unicorn_engine::{Arm64CpuModel, MemType, RegisterARM64, RegisterARM64CP, TlbEntry, Unicorn};

use crate::{
    Access, Cpu, Engine, EngineError, Exit, FaultCause, GuestMemory, PageState, Reg, Stopper,
    SyscallAction, SyscallHandler, Vcpu, hwcap,
};

/// QEMU's aarch64 exception numbers, as unicorn passes them to the interrupt hook.
const EXCP_UDEF: u32 = 1;
const EXCP_SWI: u32 = 2;
const EXCP_PREFETCH_ABORT: u32 = 3;
const EXCP_DATA_ABORT: u32 = 4;
const EXCP_BKPT: u32 = 7;

/// The `until` address of every run. Unicorn stops when the pc reaches it, and after each run it
/// probes that address for translated code to drop — through the TLB-fill hook, which would
/// refuse it — unless it is 0. A guest that jumps to 0 therefore stops the run too; `run` turns
/// that into the fetch fault Linux would raise.
const UNTIL: u64 = 0;

/// The tcg engine.
#[derive(Debug, Default)]
pub struct Tcg;

impl Engine for Tcg {
    fn name(&self) -> &'static str {
        "tcg"
    }

    fn hwcaps(&self) -> (u64, u64) {
        // What unicorn 2.1.5's `max` CPU executes; tests/tcg.rs runs one instruction of each. Pointer
        // authentication and SVE are executed but not advertised: the kernel state behind
        // them (keys, vector length control) is not emulated.
        let hwcap = hwcap::FP
            | hwcap::ASIMD
            | hwcap::AES
            | hwcap::PMULL
            | hwcap::SHA1
            | hwcap::SHA2
            | hwcap::CRC32
            | hwcap::ATOMICS
            | hwcap::FPHP
            | hwcap::ASIMDHP
            | hwcap::ASIMDRDM
            | hwcap::JSCVT
            | hwcap::FCMA
            | hwcap::LRCPC
            | hwcap::DCPOP
            | hwcap::SHA3
            | hwcap::SM3
            | hwcap::SM4
            | hwcap::ASIMDDP
            | hwcap::SHA512;
        (hwcap, 0)
    }

    fn create_vcpu(&self, memory: GuestMemory) -> Result<Box<dyn Vcpu>, EngineError> {
        Ok(Box::new(TcgVcpu::new(memory)?))
    }
}

/// A refused access, as the TLB-fill hook saw it.
#[derive(Debug, Clone, Copy)]
struct Refusal {
    addr: u64,
    access: Access,
    cause: FaultCause,
}

/// What the hooks share with [`TcgVcpu::run`].
struct HookData {
    memory: GuestMemory,
    /// The syscall handler of the run in progress; only set while `emu_start` runs.
    handler: Option<NonNull<dyn SyscallHandler>>,
    exit: Option<Exit>,
    refusal: Option<Refusal>,
    /// Whether unicorn translates atomics as plain accesses ([`Cpu::set_parallel`]).
    serial: bool,
    /// The fast path's page table, if the host gave one. Owned by [`TcgVcpu`], which closes
    /// the unicorn instance (and so these hooks) first.
    fast: Option<Rc<FastPages>>,
    /// x0-x30 in the instance's CPU state (`uc_elfvisor_xregs`), which lives as long as the
    /// instance; null until set after its creation.
    xregs: *mut u64,
}

fn backend(what: &'static str) -> impl FnOnce(unicorn_engine::uc_error) -> EngineError {
    move |e| EngineError::Backend { what, detail: format!("{e:?}") }
}

unsafe extern "C" {
    /// elfvisor's unicorn edit: registers the word unicorn's CPU loop reads before every entry
    /// (non-zero ends the run). The word must outlive the instance or be unregistered (NULL).
    fn uc_elfvisor_set_stop_flag(uc: *mut unicorn_engine::uc_engine, flag: *const u32);
    /// elfvisor's unicorn edit: plain (`true`) or parallel-safe atomics in the blocks
    /// translated from now on; already translated blocks are the caller's to drop.
    fn uc_elfvisor_set_serial(uc: *mut unicorn_engine::uc_engine, serial: bool);
    /// elfvisor's unicorn edit: the linear fast path for blocks translated from now on — one
    /// byte per guest page (see [`FastPages`]), the host address of guest address 0, the
    /// number of pages, and whether every thread that runs the instance has its GS base at
    /// `base` (direct accesses are then `%gs:(address)`; see [`GsBase`]). The table must
    /// outlive the instance's translated code.
    /// elfvisor's unicorn edit: whether the instance holds translated code on the page of guest
    /// address `addr`.
    fn uc_elfvisor_page_has_code(uc: *mut unicorn_engine::uc_engine, addr: u64) -> bool;
    /// elfvisor's unicorn edit: x0-x30 of the instance's CPU state, which unicorn's register
    /// calls read and write without side effects.
    fn uc_elfvisor_xregs(uc: *mut unicorn_engine::uc_engine) -> *mut u64;
    fn uc_elfvisor_set_fast_path(
        uc: *mut unicorn_engine::uc_engine,
        table: *const u8,
        base: usize,
        pages: u64,
        gs: bool,
    );
}

/// The vCPU's page table for the linear fast path (`xtask/src/unicorn.rs`): one byte per guest
/// page of the arena, [`FastPages::READ`] and [`FastPages::WRITE`] set when the guest may read
/// or write the page with a direct host access. Translated code tests the page's bit (and, for
/// an access that may run onto the next page, whether it does) and accesses `base + address`;
/// a clear bit, or an access onto the next page, goes through the softmmu TLB, which decides
/// (and faults) exactly.
///
/// It is a second level of this vCPU's TLB, with the same lifetime rules: filled only by
/// [`tlb_fill`] from the [`PageSource`](crate::PageSource)'s grants, emptied by every TLB
/// flush. So it grants nothing the TLB could not hold, and a revocation reaches it exactly when
/// it reaches the TLB: the thread changing the address space flushes its own vCPU before the
/// call returns, and every other vCPU of the process is held out of guest code by that call's
/// quiesce and flushes at its next entry (`ThreadGroup::enter_guest`) — no vCPU can be between
/// the byte's test and its access while a permission is taken away. A grant needs no flush: a
/// clear byte only costs one trip through the TLB, which sets it.
///
/// A page holding this vCPU's translated code never has a write bit: its stores keep taking
/// the TLB, whose entries for such pages route stores to the code-invalidating slow path. The
/// fill leaves the bits clear on such a page, and translating a block on a page clears them
/// (unicorn edit), so an executable page is written directly only while it holds no code.
///
/// The table is private anonymous memory reserved without swap (`MAP_NORESERVE`): untouched
/// parts cost nothing. Emptying it zeroes the few 4 KiB granules written since the last time,
/// or drops the whole table (`MADV_DONTNEED`) when more were. Private, so a `host` fork child
/// owns a copy, as it owns a copy of the vCPU.
struct FastPages {
    table: NonNull<u8>,
    len: usize,
    /// The table's granules ([`FastPages::GRANULE`] bytes) written since the last clear, up to
    /// [`FastPages::DIRTY_MAX`]; past that, `overflow`. A clear then zeroes a few granules
    /// instead of asking the host to drop the whole table.
    dirty: RefCell<Vec<usize>>,
    overflow: Cell<bool>,
}

impl FastPages {
    const READ: u8 = 1;
    const WRITE: u8 = 2;
    /// One host page of the table: 16 MiB of guest pages.
    const GRANULE: usize = 4096;
    const DIRTY_MAX: usize = 16;

    /// A table for `pages` guest pages, all clear; `None` if the host refuses the reservation
    /// (the vCPU then runs without the fast path).
    fn new(pages: u64) -> Option<FastPages> {
        let len = usize::try_from(pages).ok()?.max(1);
        let map = |low: libc::c_int| {
            // SAFETY: a fresh anonymous mapping; no existing memory is touched.
            unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | low,
                    -1,
                    0,
                )
            }
        };
        // Below 2 GiB if the host has room there: translated code then names the table by a
        // 32-bit displacement instead of loading its address into a register first.
        #[cfg(target_arch = "x86_64")]
        let ptr = match map(libc::MAP_32BIT) {
            libc::MAP_FAILED => map(0),
            ptr => ptr,
        };
        #[cfg(not(target_arch = "x86_64"))]
        let ptr = map(0);
        if ptr == libc::MAP_FAILED {
            return None;
        }
        Some(FastPages {
            table: NonNull::new(ptr.cast())?,
            len,
            dirty: RefCell::new(Vec::with_capacity(FastPages::DIRTY_MAX)),
            overflow: Cell::new(false),
        })
    }

    /// Records what the guest may do with the page `page` (a page number inside the arena);
    /// `code`: the vCPU holds translated code there.
    fn grant(&self, page: u64, prot: Prot, code: bool) {
        let Ok(index) = usize::try_from(page) else { return };
        if index >= self.len {
            return;
        }
        let mut bits = 0;
        if prot.contains(Prot::READ) {
            bits |= FastPages::READ;
        }
        // Write only with read: a read-modify-write in serial code tests the write bit alone
        // for its load and its store (unicorn edit), as arm64 has no write-only pages anyway.
        if prot.contains(Prot::WRITE) && prot.contains(Prot::READ) && !code {
            bits |= FastPages::WRITE;
        }
        self.mark(index);
        // SAFETY: `index < len`, inside the table's mapping, which lives as long as `self`.
        // Only this vCPU's thread writes it; translated code on the same thread reads it.
        unsafe { self.table.as_ptr().add(index).write(bits) };
    }

    /// Notes that the byte at `index` is about to be written (for [`FastPages::clear`]).
    fn mark(&self, index: usize) {
        if self.overflow.get() {
            return;
        }
        let granule = index / FastPages::GRANULE;
        let mut dirty = self.dirty.borrow_mut();
        if !dirty.contains(&granule) {
            if dirty.len() < FastPages::DIRTY_MAX {
                dirty.push(granule);
            } else {
                self.overflow.set(true);
            }
        }
    }

    /// Clears every byte (the TLB flush's counterpart).
    fn clear(&self) {
        let mut dirty = self.dirty.borrow_mut();
        if self.overflow.replace(false) {
            // SAFETY: the whole mapping, private anonymous: DONTNEED makes it read as zeros.
            let ok =
                unsafe { libc::madvise(self.table.as_ptr().cast(), self.len, libc::MADV_DONTNEED) };
            if ok != 0 {
                // Not expected for a private anonymous mapping; zeroing is always correct.
                // SAFETY: as above, `len` bytes of the table's mapping.
                unsafe { std::ptr::write_bytes(self.table.as_ptr(), 0, self.len) };
            }
        } else {
            for &granule in dirty.iter() {
                let start = granule * FastPages::GRANULE;
                let n = FastPages::GRANULE.min(self.len - start);
                // SAFETY: `start < len` (the granule of a written index), and `n` bytes end at
                // the table's end at the latest.
                unsafe { std::ptr::write_bytes(self.table.as_ptr().add(start), 0, n) };
            }
        }
        dirty.clear();
    }
}

impl Drop for FastPages {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; nothing refers to it any more (the unicorn
        // instance whose code embeds its address is closed first: field order in `TcgVcpu`).
        unsafe { libc::munmap(self.table.as_ptr().cast(), self.len) };
    }
}

/// One vCPU's pending stop, shared by the vCPU, its [`Stopper`]s, this thread's signal
/// handlers (through [`CURRENT`]) and unicorn (which reads `pending`). See the module docs.
struct StopState {
    /// 1 while a stop is asked that no return from [`Vcpu::run`] has answered yet.
    pending: AtomicU32,
    /// The unicorn instance as an address, for other threads' stoppers; `None` once the vCPU
    /// is dropped (under this lock, before the instance is closed).
    handle: Mutex<Option<usize>>,
    /// The same instance for the signal path, which takes no lock: only used through
    /// [`CURRENT`], which the vCPU's drop clears before the instance is closed.
    raw: usize,
}

impl StopState {
    /// Step 1's first half: the word, then a full fence before any look at unicorn's state.
    /// Only an atomic store and a fence: async-signal-safe.
    fn ask(&self) {
        self.pending.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Whether a stop was pending, clearing it (steps 2 and 4).
    fn take(&self) -> bool {
        self.pending.swap(0, Ordering::SeqCst) != 0
    }
}

thread_local! {
    /// The vCPU this thread runs: the last one created or run on it, until dropped. A signal
    /// handler's [`stop_current_thread`] stops it.
    static CURRENT: Cell<*const StopState> = const { Cell::new(std::ptr::null()) };
}

/// Asks the vCPU of this thread (the last one created or run on it), if any, to stop: the run
/// in progress returns promptly — [`Exit::Interrupted`], or the exit it was already returning —
/// and if none is in progress, the next run returns [`Exit::Interrupted`] at once. Never lost,
/// whenever it lands (see the module docs). Async-signal-safe: for a host signal handler that
/// must get a spinning guest to its signal promptly; it only stores a word, fences, and asks
/// unicorn to leave its CPU loop (flag stores).
pub fn stop_current_thread() {
    // A const-initialised thread-local of a raw pointer: a plain TLS read, no lazy init.
    let state = CURRENT.with(Cell::get);
    if state.is_null() {
        return;
    }
    // SAFETY: `CURRENT` points at the `StopState` of a vCPU alive on this thread: its drop,
    // on this thread, clears `CURRENT` before releasing it, and a signal handler runs either
    // wholly before or wholly after that store.
    let state = unsafe { &*state };
    state.ask();
    // SAFETY: as above, the instance is alive (the vCPU closes it only after clearing
    // `CURRENT`); `uc_emu_stop` only sets flags and asks the CPU loop to exit (unicorn's own
    // timeout thread calls it asynchronously).
    unsafe {
        unicorn_engine::uc_emu_stop(state.raw as *mut unicorn_engine::uc_engine);
    }
}

/// A unicorn instance for one guest thread.
pub struct TcgVcpu {
    uc: Unicorn<'static, HookData>,
    /// The pending stop, unicorn's handle for [`Stopper`]s (cleared when this vCPU is dropped).
    stop: Arc<StopState>,
    /// The fast path's page table, kept until after `uc` (fields drop in order).
    _fast: Option<Rc<FastPages>>,
    /// The GS base translated code expects (the arena's host address), if it uses one.
    gs: Option<usize>,
}

/// The host thread's GS base, which the fast path's direct accesses add to the guest address
/// (`%gs:(address)`, one instruction, as qemu-user does with its guest base). Nothing else in
/// the process uses GS on x86-64 (the C library's thread pointer is FS). The base is per host
/// thread, inherited by a thread's clones and a fork child; a thread-local remembers what this
/// thread set last, so a run sets it only when another arena's vCPU ran on the thread since.
struct GsBase {
    /// What to put back when the guard goes: a base set earlier on this thread, for a run nested
    /// inside another vCPU's (0: nothing to put back).
    previous: usize,
}

thread_local! {
    /// The GS base this thread last set (0: none, or unknown).
    static GS_BASE: Cell<usize> = const { Cell::new(0) };
}

impl GsBase {
    /// Makes `base` this thread's GS base until the guard goes; `None` if the host refuses.
    fn enter(base: usize) -> Option<GsBase> {
        let previous = GS_BASE.with(Cell::get);
        if previous == base {
            return Some(GsBase { previous: 0 });
        }
        if !GsBase::set(base) {
            return None;
        }
        Some(GsBase { previous })
    }

    #[cfg(target_arch = "x86_64")]
    fn set(base: usize) -> bool {
        const ARCH_SET_GS: libc::c_long = 0x1001;
        // SAFETY: sets this thread's GS base, which no Rust or C library code here reads.
        let ok = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_SET_GS, base) } == 0;
        if ok {
            GS_BASE.with(|b| b.set(base));
        }
        ok
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn set(_base: usize) -> bool {
        false
    }
}

impl Drop for GsBase {
    fn drop(&mut self) {
        if self.previous != 0 {
            GsBase::set(self.previous);
        }
    }
}

impl std::fmt::Debug for TcgVcpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcgVcpu").field("pc", &self.reg(Reg::Pc)).finish()
    }
}

fn uc_prot(prot: Prot) -> UcProt {
    let mut p = UcProt::NONE;
    if prot.contains(Prot::READ) {
        p |= UcProt::READ;
    }
    if prot.contains(Prot::WRITE) {
        p |= UcProt::WRITE;
    }
    if prot.contains(Prot::EXEC) {
        p |= UcProt::EXEC;
    }
    p
}

/// A data address without its top-byte tag: bits 63..56 become copies of bit 55 (arm64's
/// `untagged_addr`).
fn untag(vaddr: u64) -> u64 {
    (((vaddr << 8) as i64) >> 8) as u64
}

/// The `si_addr` of a fault at `vaddr`: arm64's `untagged_addr` ANDs the address with its sign
/// extension from bit 55, so a lower-half address loses its tag and an upper-half one keeps its
/// top byte as it was (a fault at `0x5aff_ffff_ffff_fff8` reports exactly that).
fn fault_addr(vaddr: u64) -> u64 {
    vaddr & untag(vaddr)
}

/// log2 of the guest page size.
const PAGE_SHIFT: u32 = elfvisor_abi::PAGE_SIZE.trailing_zeros();

/// TCR_EL1.TBI0: top byte ignored for addresses in the lower (user) half.
const TCR_TBI0: u64 = 1 << 37;

/// The TLB-fill hook: identity translation with the VMA's permissions, or a recorded refusal.
fn tlb_fill(uc: &mut Unicorn<'_, HookData>, vaddr: u64, kind: MemType) -> Option<TlbEntry> {
    let handle = uc.get_handle();
    let data = uc.get_data_mut();
    let (access, need) = match kind {
        MemType::WRITE => (Access::Write, Prot::WRITE),
        MemType::FETCH => (Access::Fetch, Prot::EXEC),
        _ => (Access::Read, Prot::READ),
    };
    // Top-byte-ignore (TCR_EL1.TBI0, set in `TcgVcpu::new` as Linux sets it for user space):
    // QEMU's system-mode translator hands the TLB the tagged address and leaves dropping the tag
    // to the page-table walk, which this hook replaces. Sign-extending from bit 55 drops the top
    // byte of every lower-half address (TBI0) and leaves an upper-half one (no TBI1) outside the
    // arena. A fault reports the address as Linux's `get_signal` does through
    // `hide_si_addr_tag_bits` → arm64's `arch_untagged_si_addr` (`untagged_addr`, see
    // [`fault_addr`]) unless the handler asked for `SA_EXPOSE_TAGBITS`, which elfvisor does not
    // offer. The TLB entry stays keyed by the tagged page and maps it onto the untagged one.
    let tagged = vaddr;
    let vaddr = untag(vaddr);
    let state = if vaddr < data.memory.size {
        data.memory.pages.page_for(GuestAddr(vaddr), access == Access::Write)
    } else {
        PageState::Unmapped
    };
    let cause = match state {
        // Identity: unicorn masks both addresses to the page itself.
        PageState::Mapped(prot) if prot.contains(need) => {
            if let Some(fast) = &data.fast {
                let code = prot.contains(Prot::EXEC | Prot::WRITE) && {
                    let page = vaddr & !(elfvisor_abi::PAGE_SIZE - 1);
                    // SAFETY: the live instance running this hook; the call only reads its
                    // page descriptors.
                    unsafe { uc_elfvisor_page_has_code(handle, page) }
                };
                fast.grant(vaddr >> PAGE_SHIFT, prot, code);
            }
            return Some(TlbEntry { paddr: vaddr, perms: uc_prot(prot) });
        }
        PageState::Mapped(_) => FaultCause::Protection,
        PageState::Unmapped => FaultCause::Unmapped,
        PageState::PastObjectEnd => FaultCause::PastObjectEnd,
    };
    data.refusal = Some(Refusal { addr: fault_addr(tagged), access, cause });
    None
}

/// `IC IVAU` as the SYS instruction hook sees it: op0 1, op1 3, CRn 7, CRm 5, op2 1.
const IC_IVAU: (u32, u32, u32, u32, u32) = (1, 3, 7, 5, 1);

/// The instruction-cache line of the `max` CPU: CTR_EL0.IminLine is 4, 16 words.
const ICACHE_LINE: u64 = 64;

/// The SYS instruction hook: reports `IC IVAU` to the handler (see
/// [`SyscallHandler::code_invalidated`]) and lets every SYS instruction run as before (`false`:
/// not skipped). Unicorn calls it for every SYS instruction (`DC ZVA` too), only when
/// executed.
fn sys_insn(uc: &mut Unicorn<'_, HookData>, _rt: RegisterARM64, op: &RegisterARM64CP) -> bool {
    if (op.op0, op.op1, op.crn, op.crm, op.op2) != IC_IVAU {
        return false;
    }
    let Some(mut handler) = uc.get_data().handler else {
        return false;
    };
    // SAFETY: as in `interrupt`: `handler` is set only while `emu_start` runs in
    // `TcgVcpu::run`, from a `&mut dyn SyscallHandler` not otherwise used meanwhile, and hooks
    // run on that thread inside `emu_start`.
    let handler = unsafe { handler.as_mut() };
    let start = untag(op.val) & !(ICACHE_LINE - 1);
    handler.code_invalidated(GuestAddr(start), GuestAddr(start.wrapping_add(ICACHE_LINE)));
    false
}

/// The interrupt hook: serves `svc` through the handler, turns everything else into an exit.
fn interrupt(uc: &mut Unicorn<'_, HookData>, intno: u32) {
    let exit = match intno {
        EXCP_SWI => {
            let Some(mut handler) = uc.get_data().handler else {
                return;
            };
            // SAFETY: `handler` is set only for the duration of `emu_start` in `TcgVcpu::run`,
            // from a `&mut dyn SyscallHandler` that outlives that call and is not otherwise used
            // while it runs; hooks run on the same thread, inside `emu_start`.
            let handler = unsafe { handler.as_mut() };
            let action = handler.syscall(&mut UcCpu(uc));
            match action {
                SyscallAction::Continue => return,
                SyscallAction::Stop => Exit::Stopped,
            }
        }
        EXCP_DATA_ABORT | EXCP_PREFETCH_ABORT => {
            let refusal = uc.get_data_mut().refusal.take();
            match refusal {
                Some(r) => {
                    Exit::Fault { addr: GuestAddr(r.addr), access: r.access, cause: r.cause }
                }
                // An abort the TLB hook did not cause (alignment, say): report what we know.
                None => Exit::Fault {
                    addr: GuestAddr(uc.pc_read().unwrap_or(0)),
                    access: if intno == EXCP_PREFETCH_ABORT { Access::Fetch } else { Access::Read },
                    cause: FaultCause::Protection,
                },
            }
        }
        EXCP_BKPT => {
            let pc = uc.pc_read().unwrap_or(0);
            let mut insn = [0u8; 4];
            let imm = match uc.get_data().memory.pages.page(GuestAddr(pc)) {
                PageState::Mapped(p) if p.contains(Prot::READ) || p.contains(Prot::EXEC) => {
                    let _ = uc.mem_read(pc, &mut insn);
                    ((u32::from_le_bytes(insn) >> 5) & 0xffff) as u16
                }
                _ => 0,
            };
            Exit::Breakpoint { imm }
        }
        EXCP_UDEF => Exit::Undefined,
        _ => Exit::Undefined,
    };
    uc.get_data_mut().exit = Some(exit);
    let _ = uc.emu_stop();
}

impl TcgVcpu {
    pub fn new(memory: GuestMemory) -> Result<TcgVcpu, EngineError> {
        let (base, size) = (memory.host_base, memory.size);
        let pages = size >> PAGE_SHIFT;
        // The translated test compares the page number with a 32-bit immediate.
        let fast = (pages <= i32::MAX as u64).then(|| FastPages::new(pages)).flatten().map(Rc::new);
        let data = HookData {
            memory,
            handler: None,
            exit: None,
            refusal: None,
            serial: false,
            fast: fast.clone(),
            xregs: std::ptr::null_mut(),
        };
        let mut uc = Unicorn::new_with_data(Arch::ARM64, Mode::ARM, data)
            .map_err(backend("create a unicorn instance"))?;
        uc.ctl_set_cpu_model(Arm64CpuModel::MAX as i32).map_err(backend("select the max CPU"))?;
        // Translate in guest pages (QEMU's arm default is 1 KiB: four times the TLB misses).
        uc.ctl_set_page_size(elfvisor_abi::PAGE_SIZE as u32)
            .map_err(backend("set the page size"))?;
        uc.ctl_set_tlb_type(TlbType::VIRTUAL).map_err(backend("select the virtual TLB"))?;
        // SAFETY: `base..base+size` is the arena reservation owned by the address space the
        // caller built `memory` from, which outlives this vCPU (the kernel drops vCPUs first).
        // Unicorn only touches pages the TLB hook grants, and those are mapped in the arena.
        unsafe { uc.mem_map_ptr(0, size, UcProt::ALL, base.cast()) }
            .map_err(backend("map the arena"))?;
        uc.add_tlb_hook(0, u64::MAX, tlb_fill).map_err(backend("install the TLB hook"))?;
        uc.add_intr_hook(interrupt).map_err(backend("install the interrupt hook"))?;
        uc.add_insn_sys_hook_arm64(Arm64Insn::UC_ARM64_INS_SYS, 0, u64::MAX, sys_insn)
            .map_err(backend("install the SYS instruction hook"))?;
        // FP/SIMD enabled (CPACR_EL1.FPEN = 0b11), as Linux runs user space.
        let cpacr = uc.reg_read(RegisterARM64::CPACR_EL1).map_err(backend("read CPACR_EL1"))?;
        uc.reg_write(RegisterARM64::CPACR_EL1, cpacr | (3 << 20))
            .map_err(backend("enable FP/SIMD"))?;
        // Top-byte-ignore for user addresses, as Linux runs arm64 user space (`__cpu_setup`
        // sets TCR_EL1.TBI0): translated code then strips tags from branch targets, and the
        // TLB-fill hook from data addresses. TCR_EL1 is op0 3, op1 0, CRn 2, CRm 0, op2 2.
        let mut tcr = RegisterARM64CP { crn: 2, crm: 0, op0: 3, op1: 0, op2: 2, val: 0 };
        uc.reg_read_arm64_coproc(&mut tcr).map_err(backend("read TCR_EL1"))?;
        tcr.val |= TCR_TBI0;
        uc.reg_write_arm64_coproc(&tcr).map_err(backend("enable top-byte-ignore"))?;
        let raw = uc.get_handle();
        // SAFETY: `raw` is the live instance; the pointer is into its CPU state, which lives
        // until the instance is closed, with the hooks that use it.
        uc.get_data_mut().xregs = unsafe { uc_elfvisor_xregs(raw) };
        let stop = Arc::new(StopState {
            pending: AtomicU32::new(0),
            handle: Mutex::new(Some(raw as usize)),
            raw: raw as usize,
        });
        // SAFETY: `raw` is the live instance; the word lives in `stop`, which this vCPU holds
        // until after the instance is closed, and `drop` unregisters it first anyway.
        unsafe { uc_elfvisor_set_stop_flag(raw, stop.pending.as_ptr()) };
        // The GS base is this thread's to set (no other code of the process uses it), and `run`
        // sets it on whichever thread runs the vCPU; a host that refuses gets the register form.
        let gs = fast.is_some() && GsBase::enter(base as usize).is_some();
        if let Some(fast) = &fast {
            // SAFETY: the table lives in `fast`, held by this vCPU (`_fast`, dropped after the
            // instance) and by the hooks' data; nothing is translated yet.
            unsafe {
                uc_elfvisor_set_fast_path(raw, fast.table.as_ptr(), base as usize, pages, gs)
            };
        }
        CURRENT.with(|c| c.set(Arc::as_ptr(&stop)));
        Ok(TcgVcpu { uc, stop, _fast: fast, gs: gs.then_some(base as usize) })
    }
}

impl Drop for TcgVcpu {
    fn drop(&mut self) {
        // Before the instance goes: this thread's signal handlers stop using it...
        if CURRENT.with(Cell::get) == Arc::as_ptr(&self.stop) {
            CURRENT.with(|c| c.set(std::ptr::null()));
        }
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
        // ...and so do other threads' stoppers.
        *self.stop.handle.lock().unwrap_or_else(|e| e.into_inner()) = None;
        // SAFETY: the instance is still open (`uc` is dropped after this).
        unsafe { uc_elfvisor_set_stop_flag(self.uc.get_handle(), std::ptr::null()) };
    }
}

/// Unicorn register ids for the kernel's register names.
fn reg_id(reg: Reg) -> i32 {
    match reg {
        Reg::X(n @ 0..=28) => RegisterARM64::X0 as i32 + i32::from(n),
        Reg::X(29) => RegisterARM64::X29 as i32,
        Reg::X(30) => RegisterARM64::X30 as i32,
        Reg::X(n) => panic!("there is no register x{n}"),
        Reg::Sp => RegisterARM64::SP as i32,
        Reg::Pc => RegisterARM64::PC as i32,
        Reg::Nzcv => RegisterARM64::NZCV as i32,
        Reg::TpidrEl0 => RegisterARM64::TPIDR_EL0 as i32,
        Reg::Fpcr => RegisterARM64::FPCR as i32,
        Reg::Fpsr => RegisterARM64::FPSR as i32,
    }
}

/// x0-x30 straight from the CPU state (a system call reads seven of them and writes one), the
/// rest through unicorn's register calls.
fn read(uc: &Unicorn<'_, HookData>, reg: Reg) -> u64 {
    let xregs = uc.get_data().xregs;
    match reg {
        // SAFETY: `xregs` points at the 31 (and more) registers of the live instance's state;
        // unicorn reads them there, with no other effect, and no other thread runs this vCPU.
        Reg::X(n @ 0..=30) if !xregs.is_null() => unsafe { xregs.add(usize::from(n)).read() },
        _ => {
            uc.reg_read(reg_id(reg)).expect("unicorn reads every aarch64 register the kernel names")
        }
    }
}

fn write(uc: &mut Unicorn<'_, HookData>, reg: Reg, value: u64) {
    let xregs = uc.get_data().xregs;
    match reg {
        // SAFETY: as in `read`; unicorn's write of x0-x30 is this store alone.
        Reg::X(n @ 0..=30) if !xregs.is_null() => unsafe { xregs.add(usize::from(n)).write(value) },
        _ => uc
            .reg_write(reg_id(reg), value)
            .expect("unicorn writes every aarch64 register the kernel names"),
    }
}

fn read_q(uc: &Unicorn<'_, HookData>, index: u8) -> u128 {
    assert!(index < 32, "there is no register q{index}");
    let bytes = uc
        .reg_read_long(RegisterARM64::Q0 as i32 + i32::from(index))
        .expect("unicorn reads q registers");
    let mut le = [0u8; 16];
    le.copy_from_slice(&bytes[..16]);
    u128::from_le_bytes(le)
}

fn write_q(uc: &Unicorn<'_, HookData>, index: u8, value: u128) {
    assert!(index < 32, "there is no register q{index}");
    uc.reg_write_long(RegisterARM64::Q0 as i32 + i32::from(index), &value.to_le_bytes())
        .expect("unicorn writes q registers");
}

/// Register access from inside a hook.
struct UcCpu<'a, 'b>(&'a mut Unicorn<'b, HookData>);

impl Cpu for UcCpu<'_, '_> {
    fn reg(&self, reg: Reg) -> u64 {
        read(self.0, reg)
    }
    fn set_reg(&mut self, reg: Reg, value: u64) {
        write(self.0, reg, value)
    }
    fn vreg(&self, index: u8) -> u128 {
        read_q(self.0, index)
    }
    fn set_vreg(&mut self, index: u8, value: u128) {
        write_q(self.0, index, value)
    }
    fn flush_tlb(&mut self) {
        flush_tlb(self.0)
    }
    fn flush_code(&mut self, start: GuestAddr, end: GuestAddr) {
        flush_code(self.0, start, end)
    }
    fn set_parallel(&mut self, parallel: bool) {
        set_parallel(self.0, parallel)
    }
}

/// The serial/parallel switch of [`Cpu::set_parallel`]: the flag for new blocks, then every
/// translated block dropped, so that no block of the other kind (nor a chain to one) runs.
fn set_parallel(uc: &mut Unicorn<'_, HookData>, parallel: bool) {
    if uc.get_data().serial != parallel {
        return;
    }
    // SAFETY: the instance is live (borrowed); the call only stores a flag in its CPU state.
    unsafe { uc_elfvisor_set_serial(uc.get_handle(), !parallel) };
    uc.get_data_mut().serial = !parallel;
    uc.ctl_flush_tb().expect("unicorn drops translated code");
}

fn flush_tlb(uc: &mut Unicorn<'_, HookData>) {
    uc.ctl_flush_tlb().expect("unicorn flushes its TLB");
    if let Some(fast) = &uc.get_data().fast {
        fast.clear();
    }
}

fn flush_code(uc: &mut Unicorn<'_, HookData>, start: GuestAddr, end: GuestAddr) {
    if end > start {
        // Not `ctl_remove_cache`: unicorn finds the code of a range by translating its first
        // address as an instruction fetch, through the TLB-fill hook — which, for a range just
        // unmapped or made non-executable, refuses it. Unicorn then skips the invalidation and
        // ends the run with a spurious fault. Dropping all translated code is always correct, and
        // address-space changes to code are rare.
        uc.ctl_flush_tb().expect("unicorn drops translated code");
    }
}

impl Cpu for TcgVcpu {
    fn reg(&self, reg: Reg) -> u64 {
        read(&self.uc, reg)
    }
    fn set_reg(&mut self, reg: Reg, value: u64) {
        write(&mut self.uc, reg, value)
    }
    fn vreg(&self, index: u8) -> u128 {
        read_q(&self.uc, index)
    }
    fn set_vreg(&mut self, index: u8, value: u128) {
        write_q(&self.uc, index, value)
    }
    fn flush_tlb(&mut self) {
        flush_tlb(&mut self.uc)
    }
    fn flush_code(&mut self, start: GuestAddr, end: GuestAddr) {
        flush_code(&mut self.uc, start, end)
    }
    fn set_parallel(&mut self, parallel: bool) {
        set_parallel(&mut self.uc, parallel)
    }
}

impl Vcpu for TcgVcpu {
    fn run(&mut self, handler: &mut dyn SyscallHandler) -> Result<Exit, EngineError> {
        self.run_counted(handler, 0)
    }

    fn step(&mut self, handler: &mut dyn SyscallHandler) -> Result<Exit, EngineError> {
        // A stop between two instructions of a block is never honoured (elfvisor's unicorn
        // checks for exits at block starts only), so unicorn's instruction count cannot end a
        // step. Its exit addresses can: translation ends a block before any instruction at an
        // exit. The exits are every address the instruction at the pc may continue at, and
        // code translated with or without them must not be reused by the other kind of run.
        let pc = read(&self.uc, Reg::Pc);
        let insn = self.fetch(pc);
        let mut exits = vec![UNTIL, pc.wrapping_add(4)];
        // Register 31 of `BR` is the zero register.
        let x = |n: u8| if n < 31 { read(&self.uc, Reg::X(n)) } else { 0 };
        exits.extend(insn.and_then(|insn| branch_target(insn, pc, x)));
        let set = |uc: &mut Unicorn<'_, HookData>| -> Result<(), EngineError> {
            uc.ctl_exits_enable().and_then(|()| uc.ctl_set_exits(&exits)).map_err(|e| {
                EngineError::Backend { what: "set step exits", detail: format!("{e:?}") }
            })
        };
        flush_code(&mut self.uc, GuestAddr(0), GuestAddr(u64::MAX));
        set(&mut self.uc)?;
        let exit = self.run_counted(handler, 0);
        let _ = self.uc.ctl_exits_disable();
        flush_code(&mut self.uc, GuestAddr(0), GuestAddr(u64::MAX));
        exit
    }

    fn stopper(&self) -> Stopper {
        self.stopper_of()
    }
}

/// Where a branch instruction at `pc` may go besides `pc + 4` (A64 encodings: `B`, `BL`,
/// `B.cond`, `CBZ`/`CBNZ`, `TBZ`/`TBNZ`, and `BR`/`BLR`/`RET` through register `x(n)`).
fn branch_target(insn: u32, pc: u64, x: impl Fn(u8) -> u64) -> Option<u64> {
    // A signed field of `bits` bits at `lsb`, in instructions, as a byte offset.
    let offset = |lsb: u32, bits: u32| -> u64 {
        let field = (insn >> lsb) & ((1 << bits) - 1);
        ((i64::from(field) << (64 - bits)) >> (64 - bits - 2)) as u64
    };
    if insn & 0x7c00_0000 == 0x1400_0000 {
        Some(pc.wrapping_add(offset(0, 26)))
    } else if insn & 0xff00_0010 == 0x5400_0000 || insn & 0x7e00_0000 == 0x3400_0000 {
        Some(pc.wrapping_add(offset(5, 19)))
    } else if insn & 0x7e00_0000 == 0x3600_0000 {
        Some(pc.wrapping_add(offset(5, 14)))
    } else if insn & 0xfe00_0000 == 0xd600_0000 {
        Some(x(((insn >> 5) & 31) as u8))
    } else {
        None
    }
}

impl TcgVcpu {
    /// The instruction at `pc`, if the guest may execute it.
    fn fetch(&self, pc: u64) -> Option<u32> {
        let data = self.uc.get_data();
        if pc >= data.memory.size {
            return None;
        }
        match data.memory.pages.page(GuestAddr(pc)) {
            PageState::Mapped(p) if p.contains(Prot::EXEC) && pc % 4 == 0 => {
                let mut insn = [0u8; 4];
                self.uc.mem_read(pc, &mut insn).ok()?;
                Some(u32::from_le_bytes(insn))
            }
            _ => None,
        }
    }

    /// [`Vcpu::run`], or with `count` > 0 at most that many instructions.
    fn run_counted(
        &mut self,
        handler: &mut dyn SyscallHandler,
        count: usize,
    ) -> Result<Exit, EngineError> {
        let handler: NonNull<dyn SyscallHandler + '_> = NonNull::from(handler);
        // SAFETY: only the lifetime is erased. The pointer is cleared below before `run`
        // returns, so no hook can use it after the borrow it came from ends.
        let handler: NonNull<dyn SyscallHandler> = unsafe { std::mem::transmute(handler) };
        // This thread's signal handlers stop this vCPU from now on (step 2 of the module docs).
        CURRENT.with(|c| c.set(Arc::as_ptr(&self.stop)));
        if self.stop.take() {
            return Ok(Exit::Interrupted);
        }
        {
            let data = self.uc.get_data_mut();
            data.handler = Some(handler);
            data.exit = None;
            data.refusal = None;
        }
        let pc = read(&self.uc, Reg::Pc);
        // Translated code reaches the arena through the GS base: this thread's must be ours
        // while guest code runs (and is put back for a run this one was nested in).
        let gs = self.gs.and_then(GsBase::enter);
        let result = self.uc.emu_start(pc, UNTIL, 0, count);
        drop(gs);
        // Step 4: every stop asked until now is answered by this return.
        self.stop.take();
        let stopped_at = read(&self.uc, Reg::Pc);
        let data = self.uc.get_data_mut();
        data.handler = None;
        let exit = data.exit.take();
        match (result, exit) {
            (_, Some(exit)) => Ok(exit),
            (Ok(()), None) if stopped_at == UNTIL => Ok(Exit::Fault {
                addr: GuestAddr(UNTIL),
                access: Access::Fetch,
                cause: FaultCause::Unmapped,
            }),
            (Ok(()), None) => Ok(Exit::Interrupted),
            (Err(e), None) => {
                // Unicorn failed without a hook seeing an exception: a refused fetch of the very
                // first instruction ends up here.
                match data.refusal.take() {
                    Some(r) => {
                        if r.access == Access::Fetch {
                            // An instruction abort happens at the instruction being fetched.
                            // Unicorn may have rewound the pc to the branch that led there
                            // (its code lookup runs inside the caller's block), but the branch
                            // has completed: the link register already holds its return address.
                            write(&mut self.uc, Reg::Pc, r.addr);
                        }
                        Ok(Exit::Fault {
                            addr: GuestAddr(r.addr),
                            access: r.access,
                            cause: r.cause,
                        })
                    }
                    None => Err(EngineError::Backend {
                        what: "run guest code",
                        detail: format!("{e:?}"),
                    }),
                }
            }
        }
    }

    fn stopper_of(&self) -> Stopper {
        let state = Arc::clone(&self.stop);
        Stopper::new(move || {
            state.ask();
            let guard = state.handle.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(raw) = *guard {
                // SAFETY: the handle is live while the Option is Some: `TcgVcpu::drop` clears it
                // under this lock before the instance is freed. `uc_emu_stop` may be called from
                // another thread (unicorn's own timeout thread does).
                unsafe {
                    unicorn_engine::uc_emu_stop(raw as *mut _);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_fault_addresses_hide_tags_as_linux_does() {
        assert_eq!(untag(0x5a00_0000_0000_1000), 0x1000);
        assert_eq!(fault_addr(0x5a00_0000_0000_1000), 0x1000);
        assert_eq!(fault_addr(0xff00_ffff_ffff_ffff), 0xffff_ffff_ffff);
        // An upper-half address keeps its top byte, whatever it is.
        assert_eq!(untag(0x5aff_ffff_ffff_fff8), 0xffff_ffff_ffff_fff8);
        assert_eq!(fault_addr(0x5aff_ffff_ffff_fff8), 0x5aff_ffff_ffff_fff8);
        assert_eq!(fault_addr(0xffff_ffff_ffff_fff8), 0xffff_ffff_ffff_fff8);
    }
}
