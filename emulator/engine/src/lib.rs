//! CPU engines: they run guest aarch64 code and report *events*; they never interpret Linux.
//!
//! A [`Vcpu`] runs until something needs the kernel's attention and returns an [`Exit`]. System
//! calls are the exception: they are served *inside* the engine through a [`SyscallHandler`], so
//! the common case costs no emulation restart; the handler asks for a stop when it needs one
//! (exit, exec, a signal to deliver).
//!
//! Backends: [`tcg`] (unicorn, any host) and [`mock`] (scripted, for unit tests of the kernel).
//!
//! # Stops are never lost
//!
//! A [`Stopper`] (or, on the vCPU's own thread, a signal handler's
//! [`tcg::stop_current_thread`]) may ask for a stop at any moment: while the vCPU runs guest
//! code, inside a syscall handler, between two runs, or while [`Vcpu::run`] is entering the
//! engine. Every backend keeps it as a per-vCPU pending stop:
//!
//! - a run in progress returns promptly, with [`Exit::Interrupted`] or the exit it was already
//!   returning; every stop asked before a run returns is answered by that return;
//! - a stop asked while no run is in progress makes the next run return
//!   [`Exit::Interrupted`] at once, registers untouched, and is then spent: the run after that
//!   runs normally.
//!
//! Callers therefore kick once. A stop racing with a run's end may also cut the next run short,
//! so [`Exit::Interrupted`] only means "look at your pending work, then run again". How the tcg
//! backend closes the window between its check and unicorn's CPU loop is in [`tcg`]'s docs.

use std::sync::Arc;

use elfvisor_abi::{GuestAddr, Prot};

pub mod mock;
pub mod tcg;

/// A guest register as the kernel names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reg {
    /// x0..=x30 (x29 is the frame pointer, x30 the link register).
    X(u8),
    Sp,
    Pc,
    /// The condition flags, in PSTATE bit positions (N=31, Z=30, C=29, V=28).
    Nzcv,
    TpidrEl0,
    Fpcr,
    Fpsr,
}

/// Every register of a user-mode aarch64 thread, as one value (a fork's or a new thread's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registers {
    pub x: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub nzcv: u64,
    pub tpidr: u64,
    pub fpcr: u64,
    pub fpsr: u64,
    pub q: [u128; 32],
}

impl Registers {
    pub fn capture(cpu: &dyn Cpu) -> Registers {
        Registers {
            x: std::array::from_fn(|i| cpu.reg(Reg::X(i as u8))),
            sp: cpu.reg(Reg::Sp),
            pc: cpu.reg(Reg::Pc),
            nzcv: cpu.reg(Reg::Nzcv),
            tpidr: cpu.reg(Reg::TpidrEl0),
            fpcr: cpu.reg(Reg::Fpcr),
            fpsr: cpu.reg(Reg::Fpsr),
            q: std::array::from_fn(|i| cpu.vreg(i as u8)),
        }
    }

    pub fn load(&self, cpu: &mut dyn Cpu) {
        for (i, v) in self.x.iter().enumerate() {
            cpu.set_reg(Reg::X(i as u8), *v);
        }
        cpu.set_reg(Reg::Sp, self.sp);
        cpu.set_reg(Reg::Pc, self.pc);
        cpu.set_reg(Reg::Nzcv, self.nzcv);
        cpu.set_reg(Reg::TpidrEl0, self.tpidr);
        cpu.set_reg(Reg::Fpcr, self.fpcr);
        cpu.set_reg(Reg::Fpsr, self.fpsr);
        for (i, v) in self.q.iter().enumerate() {
            cpu.set_vreg(i as u8, *v);
        }
    }
}

/// Register access and translation-cache control, valid both between runs and inside a syscall
/// handler (a handler that changes the address space flushes through it before returning).
pub trait Cpu {
    fn reg(&self, reg: Reg) -> u64;
    fn set_reg(&mut self, reg: Reg, value: u64);
    /// SIMD/FP register q0..=q31.
    fn vreg(&self, index: u8) -> u128;
    fn set_vreg(&mut self, index: u8, value: u128);
    /// Drops every cached translation of guest addresses (after unmap, protect, remap).
    fn flush_tlb(&mut self);
    /// Drops translated code for a guest range (after code changes: unmap, protect, exec).
    fn flush_code(&mut self, start: GuestAddr, end: GuestAddr);
    /// Whether the guest's atomics on this vCPU must hold against other agents: other
    /// threads, and other processes sharing writable memory. `true` from creation; `false` is
    /// only correct while the vCPU's process has one thread and no writable memory shared
    /// with another process, and lets the engine translate atomics as plain accesses
    /// (qemu-user does the same until the first thread). The caller switches back to `true`
    /// before a second thread runs or such a mapping exists; the switch drops translated
    /// code, so none of the other kind runs after it. Engines without a serial mode ignore it.
    fn set_parallel(&mut self, parallel: bool) {
        let _ = parallel;
    }
}

/// The kind of memory access that faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Fetch,
}

/// Why an access faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCause {
    /// Nothing is mapped there (`SEGV_MAPERR`).
    Unmapped,
    /// Mapped, but without the needed permission (`SEGV_ACCERR`).
    Protection,
    /// Mapped, but past the end of the file or object behind a shared mapping (`SIGBUS`,
    /// `BUS_ADRERR`).
    PastObjectEnd,
}

/// What the guest may do with one page, as the kernel's address space says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    Mapped(Prot),
    Unmapped,
    /// Inside a mapping, but past the end of its backing object: any access is a bus error.
    PastObjectEnd,
}

/// Why [`Vcpu::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The syscall handler asked to stop; the pc is past the `svc`.
    Stopped,
    /// A memory access was refused; the pc is at the faulting instruction.
    Fault { addr: GuestAddr, access: Access, cause: FaultCause },
    /// `brk #imm`; the pc is at the instruction.
    Breakpoint { imm: u16 },
    /// An undefined or unsupported instruction; the pc is at the instruction.
    Undefined,
    /// A stop was asked ([`Stopper::stop`], [`tcg::stop_current_thread`]), before this run or
    /// during it; the pc is where guest code resumes. Possibly spurious (see the crate docs).
    Interrupted,
}

/// What a syscall handler wants after serving a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallAction {
    /// Resume the guest at the pc (already past the `svc`).
    Continue,
    /// Return [`Exit::Stopped`] from [`Vcpu::run`].
    Stop,
}

/// Serves `svc #0` from inside the engine. The call number is in x8, arguments in x0..x5, the
/// result goes to x0; the pc already points past the `svc`.
pub trait SyscallHandler {
    fn syscall(&mut self, cpu: &mut dyn Cpu) -> SyscallAction;

    /// The guest executed `IC IVAU` on the instruction-cache line `start..end`: code there may
    /// have been rewritten. This vCPU's own translations of it are gone already (its stores
    /// dropped them); other vCPUs sharing the memory must drop theirs before this returns, as
    /// the `DSB` that follows the invalidation would wait for them. Runs inside guest code,
    /// between two instructions: it may block, but must not flush this vCPU.
    fn code_invalidated(&mut self, _start: GuestAddr, _end: GuestAddr) {}
}

/// Answers "what may the guest do with the page holding this address?" on every TLB miss.
pub trait PageSource: Send + Sync {
    fn page(&self, addr: GuestAddr) -> PageState;

    /// [`page`](Self::page) for an access the CPU is about to make (`write`, or a read or
    /// fetch): a source may also make sure the host can provide the page, and answer
    /// [`PageState::PastObjectEnd`] (a bus error) where it cannot.
    fn page_for(&self, addr: GuestAddr, _write: bool) -> PageState {
        self.page(addr)
    }
}

/// The guest's memory as the engine sees it: host memory at `host_base + guest address`.
#[derive(Clone)]
pub struct GuestMemory {
    pub host_base: *mut u8,
    pub size: u64,
    pub pages: Arc<dyn PageSource>,
}

// SAFETY: `GuestMemory` only describes the arena (its address and size) and carries a
// thread-safe `PageSource`; the arena is shared by every vCPU of a process by design, and each
// vCPU only touches pages the `PageSource` grants.
unsafe impl Send for GuestMemory {}
// SAFETY: as above; the description itself is immutable.
unsafe impl Sync for GuestMemory {}

impl std::fmt::Debug for GuestMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestMemory")
            .field("host_base", &self.host_base)
            .field("size", &self.size)
            .finish()
    }
}

/// A virtual CPU. Not `Send`: create it on the thread that runs it.
pub trait Vcpu: Cpu {
    /// Runs guest code from the current pc until an [`Exit`]. A stop pending on entry returns
    /// [`Exit::Interrupted`] at once, running nothing (see the crate docs).
    fn run(&mut self, handler: &mut dyn SyscallHandler) -> Result<Exit, EngineError>;
    /// Runs at most one guest instruction from the pc (a debugger's single step), serving a
    /// system call it makes, and returns as [`Vcpu::run`] does: [`Exit::Interrupted`] when the
    /// instruction completed (or a pending stop ran nothing; the pc tells which). Engines that
    /// cannot step refuse.
    fn step(&mut self, handler: &mut dyn SyscallHandler) -> Result<Exit, EngineError> {
        let _ = handler;
        Err(EngineError::Backend {
            what: "single-step",
            detail: "this engine cannot run one instruction at a time".into(),
        })
    }
    /// A handle other threads use to interrupt [`Vcpu::run`].
    fn stopper(&self) -> Stopper;
}

/// Interrupts a vCPU from another thread; the run in progress returns promptly (with
/// [`Exit::Interrupted`], or the exit it was already returning), or, when none is, the next run
/// returns [`Exit::Interrupted`] at once. Never lost; resumes from the pc on the next run.
#[derive(Clone)]
pub struct Stopper(Arc<dyn Fn() + Send + Sync>);

impl Stopper {
    pub fn new(stop: impl Fn() + Send + Sync + 'static) -> Stopper {
        Stopper(Arc::new(stop))
    }

    pub fn stop(&self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Stopper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stopper")
    }
}

/// Engine failures (not guest faults: those are [`Exit`]s).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the CPU engine failed to {what}: {detail}")]
    Backend { what: &'static str, detail: String },
}

/// `AT_HWCAP` bits (`arch/arm64/include/uapi/asm/hwcap.h`).
pub mod hwcap {
    pub const FP: u64 = 1 << 0;
    pub const ASIMD: u64 = 1 << 1;
    pub const AES: u64 = 1 << 3;
    pub const PMULL: u64 = 1 << 4;
    pub const SHA1: u64 = 1 << 5;
    pub const SHA2: u64 = 1 << 6;
    pub const CRC32: u64 = 1 << 7;
    pub const ATOMICS: u64 = 1 << 8;
    pub const FPHP: u64 = 1 << 9;
    pub const ASIMDHP: u64 = 1 << 10;
    pub const ASIMDRDM: u64 = 1 << 12;
    pub const JSCVT: u64 = 1 << 13;
    pub const FCMA: u64 = 1 << 14;
    pub const LRCPC: u64 = 1 << 15;
    pub const DCPOP: u64 = 1 << 16;
    pub const SHA3: u64 = 1 << 17;
    pub const SM3: u64 = 1 << 18;
    pub const SM4: u64 = 1 << 19;
    pub const ASIMDDP: u64 = 1 << 20;
    pub const SHA512: u64 = 1 << 21;
}

/// Creates vCPUs of one kind.
pub trait Engine {
    /// The engine's name as the command line spells it (`tcg`).
    fn name(&self) -> &'static str;
    /// `AT_HWCAP` and `AT_HWCAP2`: exactly the features this engine executes.
    fn hwcaps(&self) -> (u64, u64);
    fn create_vcpu(&self, memory: GuestMemory) -> Result<Box<dyn Vcpu>, EngineError>;
}
