//! The tcg engine against real aarch64 code: syscalls served in the hook, faults with their
//! address and kind, breakpoints, undefined instructions, FP, guest atomics that lose nothing
//! across vCPUs on two threads and two processes (the reason elfvisor builds its own unicorn),
//! stops that are never lost, wherever they land, and translated code that follows the memory
//! under it (code written and then run, code pages unmapped or made inaccessible), and a TLB
//! that grows past its first 256 entries and still empties at a flush.
//!
//! No test here depends on timing: a stop that the engine lost would leave a run spinning
//! forever, and the test runner's per-test time limit names that test.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use elfvisor_abi::{GuestAddr, Prot};
use elfvisor_engine::tcg::Tcg;
use elfvisor_engine::{
    Access, Cpu, Engine, Exit, FaultCause, GuestMemory, PageSource, PageState, Reg, Registers,
    Stopper, SyscallAction, SyscallHandler, Vcpu, hwcap,
};

// Machine code, assembled with `aarch64-linux-gnu-as -march=armv8.1-a`.
/// x0 = counter, x1 = iterations: `ldadd` 1 to the counter x1 times, then `svc`.
const LDADD_LOOP: [u32; 5] = [0xd2800022, 0xf8220003, 0xf1000421, 0x54ffffc1, 0xd4000001];
/// The same with an `ldaxr`/`stlxr` retry loop.
const EXCL_LOOP: [u32; 7] =
    [0xc85ffc03, 0x91000463, 0xc804fc03, 0x35ffffa4, 0xf1000421, 0x54ffff61, 0xd4000001];
/// The same with a `casal` retry loop.
const CAS_LOOP: [u32; 10] = [
    0xf9400003, 0x91000464, 0xaa0303e5, 0xc8e5fc04, 0xeb0300bf, 0xaa0503e3, 0x54ffff61, 0xf1000421,
    0x54ffff01, 0xd4000001,
];
/// x0 = counter, x1 = iterations: a plain increment under a `swpa`/`swpl` spin lock at x0 + 8
/// (an exchange that read and then wrote would let both vCPUs in).
const SWP_LOCK_LOOP: [u32; 11] = [
    0x91002005, 0x52800022, 0xb8a280a3, 0x35ffffe3, 0xf9400004, 0x91000484, 0xf9000004, 0xb87f80a3,
    0xf1000421, 0x54ffff01, 0xd4000001,
];
/// x0 = 16-byte pair: `ldaxp`/`stlxp` adding 1 and 2 to its halves, x1 times.
const PAIR_LOOP: [u32; 8] = [
    0xc87f9003, 0x91000463, 0x91000884, 0xc8259003, 0x35ffff85, 0xf1000421, 0x54ffff41, 0xd4000001,
];
/// write(…) with x0 = 7, then exit with x1 = the result.
const SYSCALLS: [u32; 6] = [0xd2800808, 0xd28000e0, 0xd4000001, 0xaa0003e1, 0xd2800ba8, 0xd4000001];
/// `ldr x1, [x0]`; `brk #0x3e8`; `udf #0`.
const FAULTS: [u32; 3] = [0xf9400001, 0xd4207d00, 0x00000000];
/// d1 = 1.5 + 1.5, moved to x0, then `svc`.
const FP: [u32; 4] = [0x1e6f1000, 0x1e602801, 0x9e660020, 0xd4000001];

const CODE: u64 = 0x1_0000;
const DATA: u64 = 0x2_0000;
const RODATA: u64 = 0x3_0000;
/// Inside a mapping but past its object's end.
const BEYOND: u64 = 0x4_0000;
/// A second code region (RX), which [`Switchable`] can unmap or make inaccessible.
const CODE2: u64 = 0x5_0000;
/// Two read-write-execute regions (executable stacks, JIT heaps).
const RWX_A: u64 = 0x6_0000;
const RWX_B: u64 = 0x7_0000;
const ARENA: u64 = 1 << 24;
const RWX: Prot = Prot(Prot::RW.0 | Prot::EXEC.0);

/// A fixed page table: code RX, data RW, rodata R, the rest unmapped.
struct Pages;

impl PageSource for Pages {
    fn page(&self, addr: GuestAddr) -> PageState {
        match addr.0 & !0xffff {
            CODE => PageState::Mapped(Prot::RX),
            DATA => PageState::Mapped(Prot::RW),
            RODATA => PageState::Mapped(Prot::READ),
            BEYOND => PageState::PastObjectEnd,
            CODE2 => PageState::Mapped(Prot::RX),
            RWX_A | RWX_B => PageState::Mapped(RWX),
            _ => PageState::Unmapped,
        }
    }
}

/// [`Pages`], with [`CODE2`] switchable: RX (0), unmapped (1) or `PROT_NONE` (2).
#[derive(Default)]
struct Switchable {
    code2: AtomicU8,
}

impl PageSource for Switchable {
    fn page(&self, addr: GuestAddr) -> PageState {
        match (addr.0 & !0xffff, self.code2.load(Ordering::SeqCst)) {
            (CODE2, 1) => PageState::Unmapped,
            (CODE2, 2) => PageState::Mapped(Prot::NONE),
            _ => Pages.page(addr),
        }
    }
}

/// A host arena with the three 64 KiB regions backed by memory.
struct Arena {
    base: *mut u8,
}

impl Arena {
    fn new() -> Arena {
        Arena::with_data(None)
    }

    /// With `shared`, the data region is that memfd, mapped shared.
    fn with_data(shared: Option<i32>) -> Arena {
        // SAFETY: a fresh private reservation; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ARENA as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        for region in [CODE, DATA, RODATA, CODE2, RWX_A, RWX_B] {
            let (flags, fd) = match shared {
                Some(fd) if region == DATA => (libc::MAP_SHARED | libc::MAP_FIXED, fd),
                _ => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED, -1),
            };
            // SAFETY: the target lies inside the reservation made above.
            let got = unsafe {
                libc::mmap(
                    base.cast::<u8>().add(region as usize).cast(),
                    0x1_0000,
                    libc::PROT_READ | libc::PROT_WRITE,
                    flags,
                    fd,
                    0,
                )
            };
            assert_ne!(got, libc::MAP_FAILED);
        }
        Arena { base: base.cast() }
    }

    fn memory(&self) -> GuestMemory {
        self.memory_with(Arc::new(Pages))
    }

    fn memory_with(&self, pages: Arc<dyn PageSource>) -> GuestMemory {
        GuestMemory { host_base: self.base, size: ARENA, pages }
    }

    fn write_code(&self, addr: u64, words: &[u32]) {
        for (i, w) in words.iter().enumerate() {
            self.write_u32(addr + 4 * i as u64, *w);
        }
    }

    fn write_u32(&self, addr: u64, value: u32) {
        // SAFETY: every address the tests use is inside one of the mapped regions.
        unsafe { self.base.add(addr as usize).cast::<u32>().write_volatile(value) }
    }

    fn read_u64(&self, addr: u64) -> u64 {
        // SAFETY: as in write_u32.
        unsafe { self.base.add(addr as usize).cast::<u64>().read_volatile() }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the reservation made in `with_data`.
        unsafe { libc::munmap(self.base.cast(), ARENA as usize) };
    }
}

/// Records every syscall; stops on the given number.
struct Recorder {
    calls: Vec<(u64, u64)>,
    stop_on: u64,
}

impl SyscallHandler for Recorder {
    fn syscall(&mut self, cpu: &mut dyn Cpu) -> SyscallAction {
        let nr = cpu.reg(Reg::X(8));
        self.calls.push((nr, cpu.reg(Reg::X(0))));
        if nr == self.stop_on {
            return SyscallAction::Stop;
        }
        cpu.set_reg(Reg::X(0), 1000 + cpu.reg(Reg::X(0)));
        SyscallAction::Continue
    }
}

fn vcpu(arena: &Arena, pc: u64) -> Box<dyn Vcpu> {
    let mut vcpu = Tcg.create_vcpu(arena.memory()).unwrap();
    vcpu.set_reg(Reg::Pc, pc);
    vcpu
}

#[test]
fn test_syscalls_are_served_inside_the_run() {
    let arena = Arena::new();
    arena.write_code(CODE, &SYSCALLS);
    let mut cpu = vcpu(&arena, CODE);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    assert_eq!(handler.calls, vec![(64, 7), (93, 1007)]);
    assert_eq!(cpu.reg(Reg::X(1)), 1007, "the handler's x0 reached the guest");
    assert_eq!(cpu.reg(Reg::Pc), CODE + 24, "the pc is past the svc that stopped");
}

/// The translated-code buffer is not advised for huge pages (a whole 2 MiB page zeroed at an
/// instance's first translation, the most of a short guest's startup): once an instance has
/// translated and run code, no mapping of this process carries the huge-page advice.
#[test]
fn test_the_code_buffer_is_not_advised_for_huge_pages() {
    let arena = Arena::new();
    arena.write_code(CODE, &SYSCALLS);
    let mut cpu = vcpu(&arena, CODE);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let flags: Vec<&str> = smaps.lines().filter(|l| l.starts_with("VmFlags:")).collect();
    assert!(!flags.is_empty(), "smaps lists VmFlags");
    let advised: Vec<&&str> =
        flags.iter().filter(|l| l.split_whitespace().any(|f| f == "hg")).collect();
    assert!(advised.is_empty(), "mappings advised for huge pages: {advised:?}");
}

/// More blocks than the block hash table starts with (it starts small and grows): 5,000
/// blocks, each ending in an indirect branch to the next, so the runs find them through the
/// table; both runs count every block, the second one finding the first run's translations.
#[test]
fn test_more_blocks_than_the_first_hash_table_holds() {
    const BLOCKS: u32 = 5000;
    let arena = Arena::new();
    // mov x8, #93; then per block: add x0, x0, #1; adr x1, .+8; br x1; then svc #0.
    let mut code = vec![0xd2800ba8];
    for _ in 0..BLOCKS {
        code.extend([0x91000400, 0x10000041, 0xd61f0020]);
    }
    code.push(0xd4000001);
    assert!(code.len() * 4 <= 0x1_0000, "the code fits its region");
    arena.write_code(CODE, &code);
    let mut cpu = vcpu(&arena, CODE);
    for run in 0..2 {
        let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
        cpu.set_reg(Reg::Pc, CODE);
        cpu.set_reg(Reg::X(0), 0);
        assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
        assert_eq!(handler.calls, vec![(93, u64::from(BLOCKS))], "run {run}");
    }
}

#[test]
fn test_step_runs_one_instruction_and_serves_its_syscall() {
    let arena = Arena::new();
    arena.write_code(CODE, &SYSCALLS);
    let mut cpu = vcpu(&arena, CODE);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    // A full run first, so translated code without the step's counting exists.
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    handler.calls.clear();
    cpu.set_reg(Reg::Pc, CODE);
    cpu.set_reg(Reg::X(8), 0);
    assert_eq!(cpu.step(&mut handler).unwrap(), Exit::Interrupted);
    assert_eq!((cpu.reg(Reg::Pc), cpu.reg(Reg::X(8))), (CODE + 4, 64));
    assert_eq!(cpu.step(&mut handler).unwrap(), Exit::Interrupted);
    assert_eq!(cpu.reg(Reg::Pc), CODE + 8);
    assert!(handler.calls.is_empty());
    assert_eq!(cpu.step(&mut handler).unwrap(), Exit::Interrupted);
    assert_eq!(handler.calls, vec![(64, 7)], "the svc stepped over was served");
    assert_eq!((cpu.reg(Reg::Pc), cpu.reg(Reg::X(0))), (CODE + 12, 1007));
    // A branch: `b .+8` over an instruction, stepped, lands on its target.
    arena.write_code(CODE + 0x100, &[0x14000002, 0xd2800020, 0xd2800040, 0xd4000001]);
    cpu.set_reg(Reg::Pc, CODE + 0x100);
    assert_eq!(cpu.step(&mut handler).unwrap(), Exit::Interrupted);
    assert_eq!(cpu.reg(Reg::Pc), CODE + 0x100 + 8);
    cpu.set_reg(Reg::Pc, CODE + 12);
    // A run after steps runs to the end again.
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    assert_eq!(cpu.reg(Reg::Pc), CODE + 24);
}

#[test]
fn test_faults_report_address_access_and_cause() {
    let arena = Arena::new();
    arena.write_code(CODE, &FAULTS);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };

    let mut cpu = vcpu(&arena, CODE);
    cpu.set_reg(Reg::X(0), 0x50_0008);
    let exit = cpu.run(&mut handler).unwrap();
    assert_eq!(
        exit,
        Exit::Fault {
            addr: GuestAddr(0x50_0008),
            access: Access::Read,
            cause: FaultCause::Unmapped
        }
    );
    assert_eq!(cpu.reg(Reg::Pc), CODE, "the pc stays at the faulting load");

    // A mapped address: the load passes, then the breakpoint and the undefined instruction.
    cpu.set_reg(Reg::X(0), RODATA);
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Breakpoint { imm: 0x3e8 });
    assert_eq!(cpu.reg(Reg::Pc), CODE + 4);
    cpu.set_reg(Reg::Pc, CODE + 8);
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Undefined);
    assert_eq!(cpu.reg(Reg::Pc), CODE + 8);
}

#[test]
fn test_write_to_read_only_and_fetch_from_data_fault() {
    let arena = Arena::new();
    // str x1, [x0] at CODE; then jump into the data page.
    arena.write_code(CODE, &[0xf9000001]);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    let mut cpu = vcpu(&arena, CODE);
    cpu.set_reg(Reg::X(0), RODATA + 16);
    assert_eq!(
        cpu.run(&mut handler).unwrap(),
        Exit::Fault {
            addr: GuestAddr(RODATA + 16),
            access: Access::Write,
            cause: FaultCause::Protection
        }
    );
    arena.write_code(DATA, &SYSCALLS);
    let mut cpu = vcpu(&arena, DATA);
    assert_eq!(
        cpu.run(&mut handler).unwrap(),
        Exit::Fault { addr: GuestAddr(DATA), access: Access::Fetch, cause: FaultCause::Protection },
        "data pages are never executable"
    );
    assert!(handler.calls.is_empty());
}

/// Translated code's fast path takes an access running onto the next page only when both pages
/// allow it: an 8-byte store from the end of a writable page onto a read-only one goes through
/// the TLB, which checks both pages, and faults at the instruction — after the writable page was
/// written through the fast path, so its byte in the vCPU's page table is set; the same for a
/// load onto a page past its object's end (not even mapped in the host here).
#[test]
fn test_accesses_running_onto_a_forbidden_page_fault() {
    let arena = Arena::new();
    // str x1, [x0]; brk #0x3e8
    arena.write_code(CODE, &[0xf9000001, 0xd4207d00]);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    let mut cpu = vcpu(&arena, CODE);
    for _ in 0..3 {
        cpu.set_reg(Reg::Pc, CODE);
        cpu.set_reg(Reg::X(0), RODATA - 16);
        cpu.set_reg(Reg::X(1), 7);
        assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Breakpoint { imm: 0x3e8 });
    }
    assert_eq!(arena.read_u64(RODATA - 16), 7);
    cpu.set_reg(Reg::Pc, CODE);
    cpu.set_reg(Reg::X(0), RODATA - 4);
    let exit = cpu.run(&mut handler).unwrap();
    assert!(
        matches!(
            exit,
            Exit::Fault { addr, access: Access::Write, cause: FaultCause::Protection }
                if (RODATA - 4..=RODATA).contains(&addr.0)
        ),
        "{exit:?}"
    );
    assert_eq!(cpu.reg(Reg::Pc), CODE, "the pc stays at the faulting store");

    // Loads: onto a readable page they read both halves (again and again, once both pages are
    // in the table); onto a page past its object's end they fault.
    let load = CODE + 0x100;
    // ldr x1, [x0]; brk #0x3e8
    arena.write_code(load, &[0xf9400001, 0xd4207d00]);
    arena.write_u32(RODATA - 4, 0x1111_2222);
    arena.write_u32(RODATA, 0x3333_4444);
    for x0 in [RODATA - 4, BEYOND - 16, RODATA - 4, BEYOND - 16, RODATA - 4] {
        cpu.set_reg(Reg::Pc, load);
        cpu.set_reg(Reg::X(0), x0);
        assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Breakpoint { imm: 0x3e8 });
    }
    assert_eq!(cpu.reg(Reg::X(1)), 0x3333_4444_1111_2222);
    cpu.set_reg(Reg::Pc, load);
    cpu.set_reg(Reg::X(0), BEYOND - 4);
    let exit = cpu.run(&mut handler).unwrap();
    assert!(
        matches!(
            exit,
            Exit::Fault { addr, access: Access::Read, cause: FaultCause::PastObjectEnd }
                if (BEYOND - 4..=BEYOND).contains(&addr.0)
        ),
        "{exit:?}"
    );
    assert_eq!(cpu.reg(Reg::Pc), load, "the pc stays at the faulting load");
}

/// Accesses that must be aligned (LSE atomics, exclusives) take the fast path too, with plain
/// and with parallel-safe atomics: the alignment is tested inline, and a misaligned address, a
/// page without the needed bit, or one outside the table still go to the TLB, which faults
/// exactly — at the instruction, with neither memory nor the destination register changed.
#[test]
fn test_aligned_accesses_on_the_fast_path_fault_exactly() {
    // ldaddal x2, x3, [x0]; brk; ldaxr x3, [x0]; brk; ldaxr w3, [x0]; brk
    let code = [0xf8e20003, 0xd4207d00, 0xc85ffc03, 0xd4207d00, 0x885ffc03, 0xd4207d00];
    let (ldaddal, ldaxr_x, ldaxr_w) = (CODE, CODE + 8, CODE + 16);
    for parallel in [false, true] {
        let arena = Arena::new();
        arena.write_code(CODE, &code);
        let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
        let mut cpu = vcpu(&arena, CODE);
        cpu.set_parallel(parallel);
        let mut run = |cpu: &mut Box<dyn Vcpu>, pc: u64, x0: u64| {
            cpu.set_reg(Reg::Pc, pc);
            cpu.set_reg(Reg::X(0), x0);
            cpu.set_reg(Reg::X(2), 5);
            cpu.set_reg(Reg::X(3), 0xdead);
            cpu.run(&mut handler).unwrap()
        };
        for i in 0..3 {
            assert_eq!(run(&mut cpu, ldaddal, DATA + 8), Exit::Breakpoint { imm: 0x3e8 });
            assert_eq!(cpu.reg(Reg::X(3)), 5 * i, "parallel {parallel}");
        }
        assert_eq!(arena.read_u64(DATA + 8), 15);
        arena.write_u32(DATA + 16, 0x1234_5678);
        assert_eq!(run(&mut cpu, ldaxr_w, DATA + 16), Exit::Breakpoint { imm: 0x3e8 });
        assert_eq!(cpu.reg(Reg::X(3)), 0x1234_5678);

        // A read-only page, readable through the fast path once an exclusive load read it.
        arena.write_u32(RODATA + 8, 77);
        assert_eq!(run(&mut cpu, ldaxr_x, RODATA + 8), Exit::Breakpoint { imm: 0x3e8 });
        assert_eq!(cpu.reg(Reg::X(3)), 77);
        let addr = GuestAddr(RODATA + 8);
        assert_eq!(
            run(&mut cpu, ldaddal, RODATA + 8),
            Exit::Fault { addr, access: Access::Write, cause: FaultCause::Protection },
            "parallel {parallel}"
        );
        assert_eq!((cpu.reg(Reg::Pc), cpu.reg(Reg::X(3))), (ldaddal, 0xdead));
        assert_eq!(arena.read_u64(RODATA + 8), 77);

        // Misaligned, on pages whose bits are set: an alignment fault at the instruction.
        for (pc, x0) in [(ldaddal, DATA + 12), (ldaxr_x, DATA + 12), (ldaxr_w, DATA + 18)] {
            let exit = run(&mut cpu, pc, x0);
            assert!(matches!(exit, Exit::Fault { .. }), "{pc:#x} at {x0:#x}: {exit:?}");
            assert_eq!((cpu.reg(Reg::Pc), cpu.reg(Reg::X(3))), (pc, 0xdead), "{pc:#x}");
        }
        assert_eq!(arena.read_u64(DATA + 8), 15);
        // A fault in a read-modify-write's load leaves its store unrun: the next one is whole.
        assert_eq!(run(&mut cpu, ldaddal, DATA + 8), Exit::Breakpoint { imm: 0x3e8 });
        assert_eq!((cpu.reg(Reg::X(3)), arena.read_u64(DATA + 8)), (15, 20), "parallel {parallel}");

        // Unmapped, and outside the arena.
        for x0 in [0x50_0008, ARENA + 8] {
            let exit = run(&mut cpu, ldaddal, x0);
            assert!(
                matches!(exit, Exit::Fault { addr, cause: FaultCause::Unmapped, .. }
                    if addr == GuestAddr(x0)),
                "{exit:?}"
            );
            assert_eq!((cpu.reg(Reg::Pc), cpu.reg(Reg::X(3))), (ldaddal, 0xdead));
        }
    }
}

#[test]
fn test_access_past_an_object_end_is_reported_as_such() {
    let arena = Arena::new();
    arena.write_code(CODE, &FAULTS);
    let mut cpu = vcpu(&arena, CODE);
    cpu.set_reg(Reg::X(0), BEYOND + 0x18);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    let exit = cpu.run(&mut handler).unwrap();
    let addr = GuestAddr(BEYOND + 0x18);
    assert_eq!(exit, Exit::Fault { addr, access: Access::Read, cause: FaultCause::PastObjectEnd });
}

#[test]
fn test_floating_point_is_enabled() {
    let arena = Arena::new();
    arena.write_code(CODE, &FP);
    let mut cpu = vcpu(&arena, CODE);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 0 };
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    assert_eq!(f64::from_bits(cpu.reg(Reg::X(0))), 3.0);
    assert_eq!(cpu.vreg(1) as u64, 3.0f64.to_bits());
}

const ITERATIONS: u64 = 200_000;

/// Runs the counting loop at `pc` on `cpu` to its exit call: `iterations` increments of the
/// counter at `target`.
fn count(cpu: &mut dyn Vcpu, pc: u64, target: u64, iterations: u64) {
    cpu.set_reg(Reg::Pc, pc);
    cpu.set_reg(Reg::X(0), target);
    cpu.set_reg(Reg::X(1), iterations);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 0 };
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
}

/// Runs `code` on `threads` vCPUs at once, each incrementing the counter at `target`.
fn race(arena: &Arena, code: &[u32], target: u64, threads: usize) {
    arena.write_code(CODE, code);
    let memory = arena.memory();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let memory = memory.clone();
            scope.spawn(move || {
                count(&mut *Tcg.create_vcpu(memory).unwrap(), CODE, target, ITERATIONS);
            });
        }
    });
}

#[test]
fn test_atomics_lose_nothing_across_threads() {
    let cases: [(&str, &[u32], u64); 4] = [
        ("ldadd", &LDADD_LOOP, DATA),
        ("ldaxr/stlxr", &EXCL_LOOP, DATA + 64),
        ("casal", &CAS_LOOP, DATA + 128),
        ("swp lock", &SWP_LOCK_LOOP, DATA + 192),
    ];
    for (name, code, target) in cases {
        let arena = Arena::new();
        race(&arena, code, target, 2);
        assert_eq!(arena.read_u64(target), 2 * ITERATIONS, "{name} lost increments");
    }
    let arena = Arena::new();
    race(&arena, &PAIR_LOOP, DATA + 256, 2);
    assert_eq!(arena.read_u64(DATA + 256), 2 * ITERATIONS, "ldaxp/stlxp low half");
    assert_eq!(arena.read_u64(DATA + 264), 4 * ITERATIONS, "ldaxp/stlxp high half");
}

const CHILD_ENV: &str = "ELFVISOR_ENGINE_TEST_CHILD_MEMFD";

/// The loops both processes race on the shared data page, each with its counter.
const SHARED_LOOPS: [(&[u32], u64); 3] =
    [(&LDADD_LOOP, DATA), (&EXCL_LOOP, DATA + 64), (&CAS_LOOP, DATA + 128)];

/// A fresh 64 KiB memfd for the data region, inherited by the child process.
fn shared_memfd() -> i32 {
    // SAFETY: memfd_create with a NUL-terminated name; the fd is inherited by the child.
    let fd = unsafe { libc::memfd_create(c"elfvisor-engine-test".as_ptr(), 0) };
    assert!(fd >= 0);
    // SAFETY: `fd` is the memfd just created.
    assert_eq!(unsafe { libc::ftruncate(fd, 0x1_0000) }, 0);
    fd
}

/// Starts this test binary again, running only `atomic_child_process` on the memfd `fd`.
fn spawn_child(fd: i32) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "atomic_child_process", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, fd.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// In the child process of the test below: the same loops on the inherited memfd page.
#[test]
fn atomic_child_process() {
    let Some(fd) = std::env::var(CHILD_ENV).ok().and_then(|v| v.parse::<i32>().ok()) else {
        return; // Only meaningful when started by test_atomics_lose_nothing_across_processes.
    };
    let arena = Arena::with_data(Some(fd));
    for (code, target) in SHARED_LOOPS {
        race(&arena, code, target, 1);
    }
}

#[test]
fn test_atomics_lose_nothing_across_processes() {
    let fd = shared_memfd();
    let arena = Arena::with_data(Some(fd));
    let child = spawn_child(fd);
    for (code, target) in SHARED_LOOPS {
        race(&arena, code, target, 1);
    }
    let status = child.wait_with_output().unwrap().status;
    assert!(status.success(), "the child process failed: {status}");
    assert_eq!(arena.read_u64(DATA), 2 * ITERATIONS, "ldadd lost increments across processes");
    assert_eq!(
        arena.read_u64(DATA + 64),
        2 * ITERATIONS,
        "ldaxr/stlxr lost increments across processes"
    );
    assert_eq!(
        arena.read_u64(DATA + 128),
        2 * ITERATIONS,
        "casal lost increments across processes"
    );
}

/// `b .`: spins forever; only a stop ends its run.
const SPIN: [u32; 1] = [0x14000000];

/// Asks `vcpu_thread`'s vCPU to stop: through its stopper, or a host signal handled on it.
#[derive(Debug, Clone, Copy)]
enum StopBy {
    Stopper,
    Signal,
}

impl StopBy {
    fn stop(self, stopper: &Stopper, vcpu_thread: i32) {
        match self {
            StopBy::Stopper => stopper.stop(),
            StopBy::Signal => signal_stop(vcpu_thread),
        }
    }
}

/// SIGURG to a thread of this process, whose handler asks that thread's vCPU to stop.
fn signal_stop(thread: i32) {
    // SAFETY: a signal to a thread of this process, handled by `stop_from_handler`.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), thread, libc::SIGURG) };
}

fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Waits (spinning, yielding now and then to a loaded machine) until `value` holds `want`.
fn spin_until(value: &AtomicUsize, want: usize) {
    let mut spins = 0u32;
    while value.load(Ordering::SeqCst) != want {
        spins += 1;
        if spins % 1024 == 0 {
            std::thread::yield_now();
        }
        std::hint::spin_loop();
    }
}

/// Runs `cpu` `runs` times, each run ended by exactly one stop that another thread asks (`by`).
/// The stopping thread spins on the run's announcement, so its stop follows the call to `run`
/// by a delay that varies from run to run — mostly a few microseconds, i.e. while the run enters
/// the engine, sometimes far longer, while guest code runs — and sometimes precedes it. `check`
/// sees every exit. The next run starts only once the stop call has returned, so no stop can
/// spill into it. A lost stop leaves a run spinning: the test hangs and the runner's time limit
/// names it.
fn one_stop_per_run(
    cpu: &mut dyn Vcpu,
    runs: usize,
    by: StopBy,
    mut check: impl FnMut(&mut dyn Vcpu, Exit),
) {
    if matches!(by, StopBy::Signal) {
        install_stop_handler();
    }
    let stopper = cpu.stopper();
    let me = gettid();
    // The run about to start (1-based), and the last run whose stop call returned.
    let (announced, stopped) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for run in 1..=runs {
                spin_until(&announced, run);
                let delay = if run % 7 == 0 { 3000 } else { (run % 61) * 3 };
                for _ in 0..delay {
                    std::hint::spin_loop();
                }
                by.stop(&stopper, me);
                stopped.store(run, Ordering::SeqCst);
            }
        });
        let mut handler = Recorder { calls: Vec::new(), stop_on: 0 };
        for run in 1..=runs {
            announced.store(run, Ordering::SeqCst);
            let exit = cpu.run(&mut handler).unwrap();
            spin_until(&stopped, run);
            check(cpu, exit);
        }
    });
}

#[test]
fn test_a_stop_racing_with_entry_always_ends_a_spinning_run() {
    // Without the engine's pending-stop word, a few thousand stopper runs lose a stop.
    for (by, runs) in [(StopBy::Stopper, 10_000), (StopBy::Signal, 5_000)] {
        let arena = Arena::new();
        arena.write_code(CODE, &SPIN);
        let mut cpu = vcpu(&arena, CODE);
        one_stop_per_run(cpu.as_mut(), runs, by, |cpu, exit| {
            assert_eq!(exit, Exit::Interrupted, "{by:?}");
            assert_eq!(cpu.reg(Reg::Pc), CODE, "{by:?}");
        });
    }
}

/// A stop asked (by `ask`) before a run: the run returns `Interrupted` at once, running
/// nothing, and the stop is spent — the next run runs the guest to its exit.
fn a_stop_before_a_run(ask: impl Fn(&Stopper)) {
    let arena = Arena::new();
    arena.write_code(CODE, &SYSCALLS);
    let mut cpu = vcpu(&arena, CODE);
    cpu.set_reg(Reg::X(5), 55);
    let before = Registers::capture(cpu.as_ref());
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    ask(&cpu.stopper());
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Interrupted);
    assert_eq!(Registers::capture(cpu.as_ref()), before, "registers untouched");
    assert!(handler.calls.is_empty(), "no guest code ran");
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped, "the stop was spent");
    assert_eq!(handler.calls, vec![(64, 7), (93, 1007)]);
}

#[test]
fn test_a_stop_before_a_run_returns_at_once_and_is_spent() {
    a_stop_before_a_run(|stopper| stopper.stop());
    // Asked twice: still one stop.
    a_stop_before_a_run(|stopper| {
        stopper.stop();
        stopper.stop();
    });
    // From another thread, finished before the run.
    a_stop_before_a_run(|stopper| {
        let stopper = stopper.clone();
        std::thread::spawn(move || stopper.stop()).join().unwrap();
    });
}

#[test]
fn test_a_stop_of_the_current_thread_before_a_run_returns_at_once_and_is_spent() {
    // Called directly on the vCPU's thread...
    a_stop_before_a_run(|_| elfvisor_engine::tcg::stop_current_thread());
    // ...and from a host signal handler there: a signal a thread sends itself is handled
    // before `tgkill` returns.
    install_stop_handler();
    a_stop_before_a_run(|_| signal_stop(gettid()));
}

/// Asks its own vCPU to stop while serving the `svc` that ends the run.
struct StopThenExit(Stopper);

impl SyscallHandler for StopThenExit {
    fn syscall(&mut self, _: &mut dyn Cpu) -> SyscallAction {
        self.0.stop();
        SyscallAction::Stop
    }
}

#[test]
fn test_a_stop_is_answered_by_the_exit_the_run_was_returning() {
    let arena = Arena::new();
    arena.write_code(CODE, &SYSCALLS);
    let mut cpu = vcpu(&arena, CODE);
    let mut handler = StopThenExit(cpu.stopper());
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    assert_eq!(cpu.reg(Reg::Pc), CODE + 12);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped, "no stop left over");
    assert_eq!(handler.calls, vec![(93, 7)]);
}

#[test]
fn test_a_stopper_outliving_its_vcpu_is_harmless() {
    let arena = Arena::new();
    let stopper = vcpu(&arena, CODE).stopper();
    stopper.stop();
    // Nor does this thread's signal path point at the dropped vCPU any more.
    elfvisor_engine::tcg::stop_current_thread();
}

/// One instruction per feature the tcg engine could advertise in AT_HWCAP.
const FEATURES: [(u64, &str, u32); 17] = [
    (hwcap::AES, "aese", 0x4e284820),
    (hwcap::PMULL, "pmull", 0x0ee2e020),
    (hwcap::SHA1, "sha1h", 0x5e280820),
    (hwcap::SHA2, "sha256h", 0x5e024020),
    (hwcap::CRC32, "crc32b", 0x1ac24020),
    (hwcap::ASIMDRDM, "sqrdmlah", 0x6e828420),
    (hwcap::LRCPC, "ldapr", 0xf8bfc020),
    (hwcap::DCPOP, "dc cvap", 0xd50b7c21),
    (hwcap::SHA3, "eor3", 0xce020c20),
    (hwcap::SM3, "sm3ss1", 0xce420c20),
    (hwcap::SM4, "sm4e", 0xcec08420),
    (hwcap::ASIMDDP, "sdot", 0x4e829420),
    (hwcap::SHA512, "sha512h", 0xce628020),
    (hwcap::FPHP, "fadd h", 0x1ee22820),
    (hwcap::ASIMDHP, "fadd .8h", 0x4e421420),
    (hwcap::JSCVT, "fjcvtzs", 0x1e7e0020),
    (hwcap::FCMA, "fcmla", 0x6e82c420),
];

#[test]
fn test_every_advertised_feature_executes() {
    let (advertised, _) = Tcg.hwcaps();
    for (bit, name, insn) in FEATURES {
        let arena = Arena::new();
        arena.write_code(CODE, &[insn, 0xd4000001]);
        let mut cpu = vcpu(&arena, CODE);
        cpu.set_reg(Reg::X(1), DATA);
        let mut handler = Recorder { calls: Vec::new(), stop_on: 0 };
        let exit = cpu.run(&mut handler).unwrap();
        let executes = exit == Exit::Stopped;
        assert!(
            executes || advertised & bit == 0,
            "AT_HWCAP advertises {name}, but the engine raised {exit:?} for it"
        );
        assert!(
            !executes || advertised & bit != 0,
            "the engine executes {name}; advertise it in AT_HWCAP"
        );
    }
}

/// Flushes translated code for an unmapped range from inside the syscall hook (what munmap or
/// mprotect of code does), then continues.
struct FlushingHandler {
    calls: usize,
}

impl SyscallHandler for FlushingHandler {
    fn syscall(&mut self, cpu: &mut dyn Cpu) -> SyscallAction {
        self.calls += 1;
        cpu.flush_tlb();
        cpu.flush_code(GuestAddr(0x50_0000), GuestAddr(0x50_1000));
        if cpu.reg(Reg::X(8)) == 93 { SyscallAction::Stop } else { SyscallAction::Continue }
    }
}

#[test]
fn test_flushing_code_of_unmapped_memory_raises_no_fault() {
    let arena = Arena::new();
    arena.write_code(CODE, &SYSCALLS);
    let mut cpu = vcpu(&arena, CODE);
    let mut handler = FlushingHandler { calls: 0 };
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    assert_eq!(handler.calls, 2, "both syscalls ran, no spurious fault in between");
}

/// `stp x29, x30, [sp, #-96]!; add x1, x1, #1; add sp, sp, #96; b` back to the `stp`.
const PUSH_POP_LOOP: [u32; 4] = [0xa9ba7bfd, 0x91000421, 0x910183ff, 0x17fffffd];

/// Runs the push/pop loop, stopped 2000 times (`by`, landing all over the loop, see
/// [`one_stop_per_run`]): wherever the vCPU says it stopped, the stack pointer must be the one
/// of that point (a signal frame saves them, sigreturn resumes).
fn stop_push_pop_loop(by: StopBy) {
    let arena = Arena::new();
    arena.write_code(CODE, &PUSH_POP_LOOP);
    let mut cpu = vcpu(&arena, CODE);
    let top = DATA + 0x8000;
    cpu.set_reg(Reg::Sp, top);
    one_stop_per_run(cpu.as_mut(), 2000, by, |cpu, exit| {
        assert_eq!(exit, Exit::Interrupted);
        let (pc, sp) = (cpu.reg(Reg::Pc), cpu.reg(Reg::Sp));
        assert!((CODE..CODE + 16).contains(&pc) && pc % 4 == 0, "stopped at pc {pc:#x}");
        let want = if pc == CODE + 4 || pc == CODE + 8 { top - 96 } else { top };
        assert_eq!(sp, want, "stopped at pc {pc:#x} with sp {sp:#x}");
    });
}

#[test]
fn test_a_stop_leaves_pc_and_registers_consistent() {
    stop_push_pop_loop(StopBy::Stopper);
}

/// Moves the PC on every syscall, as signal delivery and `rt_sigreturn` do, then asks for a
/// stop through a host signal: sent from another thread once the hook has written the PC (so it
/// lands anywhere after that write), or sent by the hook to its own thread (handled before the
/// hook returns).
struct JumpThenSignal {
    to: u64,
    vcpu_thread: i32,
    remote: Option<std::sync::mpsc::Sender<()>>,
}

impl SyscallHandler for JumpThenSignal {
    fn syscall(&mut self, cpu: &mut dyn Cpu) -> SyscallAction {
        cpu.set_reg(Reg::Pc, self.to);
        match &self.remote {
            Some(written) => written.send(()).unwrap(),
            None => signal_stop(self.vcpu_thread),
        }
        SyscallAction::Continue
    }
}

#[test]
fn test_a_stop_after_a_pc_written_in_a_hook_reports_the_current_pc() {
    // `svc` whose handler jumps to `stp x29, x30, [sp, #-96]!; b .`, then asks for a stop as a
    // host signal handled on the vCPU's thread (as in the runtime). The stop lands after the
    // PC write: before the push (pc at the `stp`, sp at the top) or after it (pc in the spin,
    // sp pushed), and the vCPU must say which — never the written PC with the pushed sp, nor
    // the spin's pc with the sp of before. (The unicorn bug edit 8 fixes — the written PC
    // reported with later registers — needs the timing of a guest's 1 ms timer signals to
    // show; `signal/fp_in_handler` is the case that catches it. This pins the invariant.)
    install_stop_handler();
    let arena = Arena::new();
    arena.write_code(CODE, &[0xd4000001, 0xd503201f, 0xa9ba7bfd, 0x14000000]);
    let top = DATA + 0x8000;
    let me = gettid();
    for round in 0..200 {
        let from_another_thread = round % 2 == 0;
        let mut cpu = vcpu(&arena, CODE);
        cpu.set_reg(Reg::Sp, top);
        let exit = std::thread::scope(|scope| {
            let remote = from_another_thread.then(|| {
                let (written, was_written) = std::sync::mpsc::channel::<()>();
                scope.spawn(move || {
                    was_written.recv().unwrap();
                    signal_stop(me);
                });
                written
            });
            let mut handler = JumpThenSignal { to: CODE + 8, vcpu_thread: me, remote };
            cpu.run(&mut handler).unwrap()
        });
        assert_eq!(exit, Exit::Interrupted);
        let (pc, sp) = (cpu.reg(Reg::Pc), cpu.reg(Reg::Sp));
        assert!(
            (pc, sp) == (CODE + 8, top) || (pc, sp) == (CODE + 12, top - 96),
            "stopped at pc {pc:#x} with sp {sp:#x}: not where the stop says the vCPU is"
        );
        if !from_another_thread {
            // Asked inside the hook: the run ends before the push.
            assert_eq!((pc, sp), (CODE + 8, top), "a stop asked inside the hook");
        }
    }
}

extern "C" fn stop_from_handler(_: libc::c_int) {
    elfvisor_engine::tcg::stop_current_thread();
}

/// SIGURG asks the vCPU running on the receiving thread to stop.
fn install_stop_handler() {
    // SAFETY: installs a handler for SIGURG that only asks the running vCPU to stop.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = stop_from_handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
        act.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGURG, &act, std::ptr::null_mut());
    }
}

#[test]
fn test_a_stop_from_a_signal_handler_leaves_registers_consistent() {
    // The stop asked by a signal handler on the vCPU's own thread (how host signals reach a
    // running guest).
    stop_push_pop_loop(StopBy::Signal);
}

/// `b CODE2` at CODE, `b CODE` at CODE2: a spin whose blocks chain across pages.
const SPIN_ACROSS_PAGES: [(u64, u32); 2] = [(CODE, 0x1401_0000), (CODE2, 0x17ff_0000)];

#[test]
fn test_a_stop_ends_a_spin_across_pages() {
    // The exit test sits at the start of every block, chained or not, across pages too.
    for (by, runs) in [(StopBy::Stopper, 3000), (StopBy::Signal, 2000)] {
        let arena = Arena::new();
        for (addr, insn) in SPIN_ACROSS_PAGES {
            arena.write_u32(addr, insn);
        }
        let mut cpu = vcpu(&arena, CODE);
        one_stop_per_run(cpu.as_mut(), runs, by, |cpu, exit| {
            assert_eq!(exit, Exit::Interrupted, "{by:?}");
            let pc = cpu.reg(Reg::Pc);
            assert!(pc == CODE || pc == CODE2, "{by:?}: stopped at pc {pc:#x}");
        });
    }
}

/// At CODE: `bl CODE2; svc #0; b CODE`; at CODE2: `ret`.
const CALL_ACROSS_PAGES: [(u64, u32); 4] =
    [(CODE, 0x9401_0000), (CODE + 4, 0xd400_0001), (CODE + 8, 0x17ff_fffe), (CODE2, 0xd65f_03c0)];

/// The same loop calling through a register: `blr x1` with x1 = [`CODE2`].
const CALL_INDIRECT_ACROSS_PAGES: [(u64, u32); 4] =
    [(CODE, 0xd63f_0020), (CODE + 4, 0xd400_0001), (CODE + 8, 0x17ff_fffe), (CODE2, 0xd65f_03c0)];

/// On its third call, changes CODE2 to `state` as munmap or mprotect does (page table, then
/// the TLB and the translated code of the range); continues every call.
struct ChangeCode2 {
    pages: Arc<Switchable>,
    state: u8,
    calls: usize,
}

impl SyscallHandler for ChangeCode2 {
    fn syscall(&mut self, cpu: &mut dyn Cpu) -> SyscallAction {
        self.calls += 1;
        if self.calls == 3 {
            self.pages.code2.store(self.state, Ordering::SeqCst);
            cpu.flush_tlb();
            cpu.flush_code(GuestAddr(CODE2), GuestAddr(CODE2 + 0x1_0000));
        }
        // A call that still reached the old code: end the run rather than loop forever.
        if self.calls > 10 { SyscallAction::Stop } else { SyscallAction::Continue }
    }
}

#[test]
fn test_a_call_into_a_page_just_unmapped_or_made_inaccessible_faults() {
    // By the first rounds, a direct call's block is chained to the callee's on the other page,
    // and an indirect call finds the callee (and the return its block) in the vCPU's
    // indirect-branch cache.
    let programs = [("bl", CALL_ACROSS_PAGES), ("blr", CALL_INDIRECT_ACROSS_PAGES)];
    for (call, program) in programs {
        for (state, cause) in [(1, FaultCause::Unmapped), (2, FaultCause::Protection)] {
            let arena = Arena::new();
            for (addr, insn) in program {
                arena.write_u32(addr, insn);
            }
            let pages = Arc::new(Switchable::default());
            let mut cpu = Tcg.create_vcpu(arena.memory_with(pages.clone())).unwrap();
            cpu.set_reg(Reg::Pc, CODE);
            cpu.set_reg(Reg::X(1), CODE2);
            let mut handler = ChangeCode2 { pages, state, calls: 0 };
            let exit = cpu.run(&mut handler).unwrap();
            let fault = Exit::Fault { addr: GuestAddr(CODE2), access: Access::Fetch, cause };
            assert_eq!(exit, fault, "{call}");
            assert_eq!(handler.calls, 3, "{call}: the fault is the first call after the change");
            assert_eq!(cpu.reg(Reg::X(30)), CODE + 4, "{call}: lr is the call's return");
        }
    }
}

/// x1 = a slot holding `movz x0, #0; ret`, x2 = 0: 50 times, writes `movz x0, #0xffff` and then
/// `movz x0, #x2` into the slot, calls it, and reports x0 with `svc #0`; then exits (`svc` 93).
/// `br x0` at [`CODE`] and `ret` at [`CODE2`]: with x0 = CODE2 and x30 = CODE, a spin through
/// indirect branches only, whose targets translated code finds in the jump cache itself.
const SPIN_INDIRECT: [(u64, u32); 2] = [(CODE, 0xd61f_0000), (CODE2, 0xd65f_03c0)];

#[test]
fn test_a_stop_ends_a_spin_through_indirect_branches() {
    // The inline jump-cache probe enters the target block at its start, where the exit test is.
    for (by, runs) in [(StopBy::Stopper, 3000), (StopBy::Signal, 2000)] {
        let arena = Arena::new();
        for (addr, insn) in SPIN_INDIRECT {
            arena.write_u32(addr, insn);
        }
        let mut cpu = vcpu(&arena, CODE);
        cpu.set_reg(Reg::X(0), CODE2);
        cpu.set_reg(Reg::X(30), CODE);
        one_stop_per_run(cpu.as_mut(), runs, by, |cpu, exit| {
            assert_eq!(exit, Exit::Interrupted, "{by:?}");
            let pc = cpu.reg(Reg::Pc);
            assert!(pc == CODE || pc == CODE2, "{by:?}: stopped at pc {pc:#x}");
            assert_eq!((cpu.reg(Reg::X(0)), cpu.reg(Reg::X(30))), (CODE2, CODE));
        });
    }
}

const SMC_LOOP: [u32; 16] = [
    0x531b6843, 0x52ba5004, 0x2a040063, 0x529fffe5, 0x531b68a5, 0x2a0400a5, 0xb9000025, 0xb9000023,
    0xd5033fdf, 0xd63f0020, 0xd4000001, 0x91000442, 0xf100c85f, 0x54fffe61, 0xd2800ba8, 0xd4000001,
];

/// Where a code writer and the slot it rewrites lie: the writer on an RWX page with the slot
/// right after it; on an RX page writing into an RWX page; on an RWX page writing into another.
const SMC_PLACES: [(u64, u64); 3] = [(RWX_A, RWX_A + 0x100), (CODE, RWX_B), (RWX_A, RWX_B + 0x800)];

/// Runs `code` from `writer + entry` (plain or parallel-safe atomics) with x1 = `slot`, which
/// holds `movz x0, #0; ret`, and x2 = x8 = 0, until its exit call; returns the x0 of its first
/// 50 calls and how many calls it made.
fn run_code_writer(
    code: &[u32],
    entry: u64,
    (writer, slot): (u64, u64),
    parallel: bool,
) -> (Vec<u64>, usize) {
    let arena = Arena::new();
    arena.write_code(writer, code);
    arena.write_code(slot, &[0xd2800000, 0xd65f03c0]);
    let mut cpu = vcpu(&arena, writer + entry);
    cpu.set_parallel(parallel);
    cpu.set_reg(Reg::X(1), slot);
    cpu.set_reg(Reg::X(2), 0);
    cpu.set_reg(Reg::X(8), 0);
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    (handler.calls.iter().take(50).map(|&(_, x0)| x0).collect(), handler.calls.len())
}

#[test]
fn test_code_written_and_then_run_is_the_new_code() {
    for place in SMC_PLACES {
        let (seen, calls) = run_code_writer(&SMC_LOOP, 0, place, false);
        let want: Vec<u64> = (0..50).collect();
        assert_eq!(seen, want, "{place:#x?}: every call ran the new code");
        assert_eq!(calls, 51);
    }
}

/// x1 = a slot holding `movz x0, #0; ret`, x2 = 0: 50 times, add 1 to the slot's immediate
/// with one read-modify-write (`ldadd`; `ldr` and `casal`; `ldr` and `swpal`), `isb`, call the
/// slot and `svc` with what it returned; then exit. Entry points: [`RMW_SMC_LDADD`] and the
/// other two.
const RMW_SMC_LOOPS: [u32; 32] = [
    0x52800403, 0xb8230024, 0xd5033fdf, 0xd63f0020, 0xd4000001, 0x91000442, 0xf100c85f, 0x54ffff21,
    0xd2800ba8, 0xd4000001, 0xb9400024, 0x11008085, 0x88e4fc25, 0xd5033fdf, 0xd63f0020, 0xd4000001,
    0x91000442, 0xf100c85f, 0x54ffff01, 0xd2800ba8, 0xd4000001, 0xb9400024, 0x11008085, 0xb8e58024,
    0xd5033fdf, 0xd63f0020, 0xd4000001, 0x91000442, 0xf100c85f, 0x54ffff01, 0xd2800ba8, 0xd4000001,
];
const RMW_SMC_LDADD: u64 = 0;
const RMW_SMC_CAS: u64 = 40;
const RMW_SMC_SWP: u64 = 84;

/// An atomic read-modify-write is a store to code like any other: in serial code its load and
/// its store share one test of the page, and a page holding translated code never passes that
/// test, so the store still reaches the code invalidation; in parallel code it is a host
/// atomic through the TLB. Each call runs the instruction the atomic just wrote.
#[test]
fn test_code_written_by_an_atomic_and_then_run_is_the_new_code() {
    let entries = [("ldadd", RMW_SMC_LDADD), ("casal", RMW_SMC_CAS), ("swpal", RMW_SMC_SWP)];
    for parallel in [false, true] {
        for (name, entry) in entries {
            for place in SMC_PLACES {
                let (seen, calls) = run_code_writer(&RMW_SMC_LOOPS, entry, place, parallel);
                let want: Vec<u64> = (1..=50).collect();
                assert_eq!(seen, want, "{name}, parallel {parallel}, {place:#x?}");
                assert_eq!(calls, 51);
            }
        }
    }
}

/// Increments run serially before the switch to parallel code.
const ALONE: u64 = 1000;

/// On its first call, switches its vCPU to parallel code (as the kernel does when a second
/// thread is created), restarts the loop for [`ITERATIONS`] more and lets the other vCPU go;
/// stops on the second.
struct SwitchToParallel<'a> {
    go: &'a AtomicUsize,
    calls: usize,
}

impl SyscallHandler for SwitchToParallel<'_> {
    fn syscall(&mut self, cpu: &mut dyn Cpu) -> SyscallAction {
        self.calls += 1;
        if self.calls > 1 {
            return SyscallAction::Stop;
        }
        cpu.set_parallel(true);
        cpu.set_reg(Reg::X(1), ITERATIONS);
        cpu.set_reg(Reg::Pc, CODE);
        self.go.store(1, Ordering::SeqCst);
        SyscallAction::Continue
    }
}

#[test]
fn test_atomics_after_the_switch_to_parallel_lose_nothing_across_threads() {
    let cases: [(&str, &[u32], u64); 3] = [
        ("ldadd", &LDADD_LOOP, DATA),
        ("ldaxr/stlxr", &EXCL_LOOP, DATA + 64),
        ("casal", &CAS_LOOP, DATA + 128),
    ];
    for (name, code, target) in cases {
        let arena = Arena::new();
        arena.write_code(CODE, code);
        let go = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let memory = arena.memory();
            let go = &go;
            // The first vCPU runs alone with plain atomics, then switches inside its hook.
            scope.spawn(move || {
                let mut cpu = Tcg.create_vcpu(memory).unwrap();
                cpu.set_parallel(false);
                cpu.set_reg(Reg::Pc, CODE);
                cpu.set_reg(Reg::X(0), target);
                cpu.set_reg(Reg::X(1), ALONE);
                let mut handler = SwitchToParallel { go, calls: 0 };
                assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
            });
            // The second (parallel from creation) starts once the first has switched.
            let memory = arena.memory();
            scope.spawn(move || {
                spin_until(go, 1);
                count(&mut *Tcg.create_vcpu(memory).unwrap(), CODE, target, ITERATIONS);
            });
        });
        assert_eq!(arena.read_u64(target), ALONE + 2 * ITERATIONS, "{name} lost increments");
    }
}

#[test]
fn test_atomics_after_the_switch_to_parallel_lose_nothing_across_processes() {
    let fd = shared_memfd();
    let arena = Arena::with_data(Some(fd));
    // Alone first, with plain atomics (the loops at their own addresses: each keeps its code).
    let mut cpus: Vec<Box<dyn Vcpu>> = Vec::new();
    for (i, (code, target)) in SHARED_LOOPS.into_iter().enumerate() {
        let at = CODE + 0x100 * i as u64;
        arena.write_code(at, code);
        let mut cpu = vcpu(&arena, at);
        cpu.set_parallel(false);
        count(&mut *cpu, at, target, ALONE);
        cpus.push(cpu);
    }
    // Then parallel, as when a writable shared mapping appears, and raced by another process.
    for cpu in &mut cpus {
        cpu.set_parallel(true);
    }
    let child = spawn_child(fd);
    for (i, cpu) in cpus.iter_mut().enumerate() {
        count(&mut **cpu, CODE + 0x100 * i as u64, SHARED_LOOPS[i].1, ITERATIONS);
    }
    let status = child.wait_with_output().unwrap().status;
    assert!(status.success(), "the child process failed: {status}");
    for (name, (_, target)) in ["ldadd", "ldaxr/stlxr", "casal"].iter().zip(SHARED_LOOPS) {
        assert_eq!(
            arena.read_u64(target),
            ALONE + 2 * ITERATIONS,
            "{name} lost increments across processes"
        );
    }
}

/// A region of more pages than unicorn's initial TLB holds (256 entries), above the others.
const BIG: u64 = 0x80_0000;
const BIG_PAGES: u64 = 2048;
/// x0 = base, x1 = pages: stores `i` in page `i` (at word `i % 512`), then `svc` with x8 = 0.
const FILL_PAGES: [u32; 10] = [
    0xd2800002, 0xd374cc43, 0x92402044, 0x8b040c63, 0xf8236802, 0x91000442, 0xeb01005f, 0x54ffff41,
    0xd2800008, 0xd4000001,
];
/// x0 = base, x1 = pages: x0 = the sum of every page's word, read in the order `i * 1021`, then
/// `svc` with x8 = 0.
const READ_PAGES: [u32; 17] = [
    0xd2800005, 0xd2800002, 0xd1000426, 0xd2807faa, 0x9b0a7c43, 0x8a060063, 0xd374cc64, 0x92402069,
    0x8b090c84, 0xf8646809, 0x8b0900a5, 0x91000442, 0xeb01005f, 0x54fffee1, 0xaa0503e0, 0xd2800008,
    0xd4000001,
];
/// `str x1, [x0]`; `brk #0x3e8`.
const STORE: [u32; 2] = [0xf9000001, 0xd4207d00];

/// [`Pages`] plus [`BIG`] read-write, except one page made unmapped and one read-only; counts
/// the fills it answers.
#[derive(Default)]
struct BigPages {
    hole: AtomicUsize,
    read_only: AtomicUsize,
    fills: AtomicUsize,
}

impl PageSource for BigPages {
    fn page(&self, addr: GuestAddr) -> PageState {
        self.fills.fetch_add(1, Ordering::SeqCst);
        if !(BIG..BIG + BIG_PAGES * 0x1000).contains(&addr.0) {
            return Pages.page(addr);
        }
        let page = ((addr.0 - BIG) >> 12) as usize;
        if page == self.hole.load(Ordering::SeqCst) {
            PageState::Unmapped
        } else if page == self.read_only.load(Ordering::SeqCst) {
            PageState::Mapped(Prot::READ)
        } else {
            PageState::Mapped(Prot::RW)
        }
    }
}

#[test]
fn test_a_tlb_grown_past_its_first_size_stays_exact() {
    let arena = Arena::new();
    // SAFETY: BIG..BIG+8 MiB lies inside the 16 MiB reservation, clear of the other regions.
    let got = unsafe {
        libc::mmap(
            arena.base.add(BIG as usize).cast(),
            (BIG_PAGES * 0x1000) as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    assert_ne!(got, libc::MAP_FAILED);
    let (fill, read, store) = (CODE, CODE + 0x100, CODE + 0x200);
    arena.write_code(fill, &FILL_PAGES);
    arena.write_code(read, &READ_PAGES);
    arena.write_code(store, &STORE);
    let pages = Arc::new(BigPages {
        hole: usize::MAX.into(),
        read_only: usize::MAX.into(),
        ..Default::default()
    });
    let mut cpu = Tcg.create_vcpu(arena.memory_with(pages.clone())).unwrap();
    let mut handler = Recorder { calls: Vec::new(), stop_on: 0 };
    let mut run = |cpu: &mut dyn Vcpu, pc: u64, x0: u64, x1: u64| {
        cpu.set_reg(Reg::Pc, pc);
        cpu.set_reg(Reg::X(0), x0);
        cpu.set_reg(Reg::X(1), x1);
        cpu.run(&mut handler).unwrap()
    };

    // Every page written, then read back out of order: the values are the pages' own.
    assert_eq!(run(&mut *cpu, fill, BIG, BIG_PAGES), Exit::Stopped);
    assert_eq!(run(&mut *cpu, read, BIG, BIG_PAGES), Exit::Stopped);
    assert_eq!(cpu.reg(Reg::X(0)), BIG_PAGES * (BIG_PAGES - 1) / 2);
    // The last growth (its flush) may come during that pass, when the code's page and a data
    // page meet in one slot; after one more pass the TLB holds them all, and another pass asks
    // for (almost) no page. With the first 256 entries it would ask for nearly every one.
    assert_eq!(run(&mut *cpu, read, BIG, BIG_PAGES), Exit::Stopped);
    let before = pages.fills.load(Ordering::SeqCst);
    assert_eq!(run(&mut *cpu, read, BIG, BIG_PAGES), Exit::Stopped);
    assert_eq!(cpu.reg(Reg::X(0)), BIG_PAGES * (BIG_PAGES - 1) / 2);
    let refills = pages.fills.load(Ordering::SeqCst) - before;
    assert!(refills < 64, "a second pass over {BIG_PAGES} pages refilled {refills} times");

    // A flush still empties the grown table: a page unmapped, and one made read-only, fault
    // at their exact addresses; the read-only one still reads.
    pages.hole.store(1234, Ordering::SeqCst);
    pages.read_only.store(777, Ordering::SeqCst);
    cpu.flush_tlb();
    // The read pass reaches page 1234 at its word 1234 % 512.
    let hole = BIG + 1234 * 0x1000 + (1234 % 512) * 8;
    assert_eq!(
        run(&mut *cpu, read, BIG, BIG_PAGES),
        Exit::Fault { addr: GuestAddr(hole), access: Access::Read, cause: FaultCause::Unmapped }
    );
    let ro = BIG + 777 * 0x1000 + 0x10;
    assert_eq!(
        run(&mut *cpu, store, ro, 5),
        Exit::Fault { addr: GuestAddr(ro), access: Access::Write, cause: FaultCause::Protection }
    );
    assert_eq!(run(&mut *cpu, store, ro + 0x1000, 5), Exit::Breakpoint { imm: 0x3e8 });
    assert_eq!(arena.read_u64(ro + 0x1000), 5);
}

#[test]
fn test_tagged_addresses_reach_the_untagged_location_and_fault_untagged() {
    let arena = Arena::new();
    // ldr x1, [x0]; str x2, [x0, #8]; svc #0 (x8 = 93: stop)
    arena.write_code(CODE, &[0xf9400001, 0xf9000402, 0xd4000001]);
    arena.write_u32(DATA, 0x1234_5678);
    let tag = 0x5a << 56;
    let mut handler = Recorder { calls: Vec::new(), stop_on: 93 };
    let mut cpu = vcpu(&arena, CODE);
    cpu.set_reg(Reg::X(0), tag | DATA);
    cpu.set_reg(Reg::X(2), 0xabcd);
    cpu.set_reg(Reg::X(8), 93);
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    assert_eq!(cpu.reg(Reg::X(1)), 0x1234_5678, "the tagged load read the untagged word");
    assert_eq!(arena.read_u64(DATA + 8), 0xabcd, "the tagged store reached the untagged word");

    // Through a tag into a hole and into read-only memory: the untagged address faults.
    for (addr, access, cause) in [
        (0x50_0008, Access::Read, FaultCause::Unmapped),
        (RODATA + 8, Access::Write, FaultCause::Protection),
    ] {
        let mut cpu = vcpu(&arena, CODE);
        let addr_reg = if access == Access::Write { addr - 8 } else { addr };
        cpu.set_reg(Reg::X(0), tag | addr_reg);
        if access == Access::Write {
            cpu.set_reg(Reg::Pc, CODE + 4);
        }
        assert_eq!(
            cpu.run(&mut handler).unwrap(),
            Exit::Fault { addr: GuestAddr(addr), access, cause },
            "the fault reports the address without its tag"
        );
    }
}

/// Records the lines `IC IVAU` reports; stops on any syscall.
#[derive(Default)]
struct IcRecorder {
    lines: Vec<(GuestAddr, GuestAddr)>,
}

impl SyscallHandler for IcRecorder {
    fn syscall(&mut self, _cpu: &mut dyn Cpu) -> SyscallAction {
        SyscallAction::Stop
    }
    fn code_invalidated(&mut self, start: GuestAddr, end: GuestAddr) {
        self.lines.push((start, end));
    }
}

#[test]
fn test_ic_ivau_reports_its_line_and_other_sys_instructions_do_not() {
    let arena = Arena::new();
    // ic ivau, x0; dc cvau, x0; ic ivau, x1; svc #0
    arena.write_code(CODE, &[0xd50b7520, 0xd50b7b20, 0xd50b7521, 0xd4000001]);
    let mut cpu = vcpu(&arena, CODE);
    cpu.set_reg(Reg::X(0), CODE + 0x44);
    cpu.set_reg(Reg::X(1), (0x5a << 56) | (CODE + 0x80));
    let mut handler = IcRecorder::default();
    assert_eq!(cpu.run(&mut handler).unwrap(), Exit::Stopped);
    assert_eq!(
        handler.lines,
        vec![
            (GuestAddr(CODE + 0x40), GuestAddr(CODE + 0x80)),
            (GuestAddr(CODE + 0x80), GuestAddr(CODE + 0xc0)),
        ]
    );
}
