//! The run loop: build the process, run its vCPU, and turn exits into syscalls' effects, faults
//! into signals and the end of the program into a [`Termination`].

use std::path::Path;

use elfvisor_abi::{GuestAddr, Signo};
use elfvisor_engine::{Engine, Exit, FaultCause, GuestMemory, Reg, Vcpu};
use elfvisor_mm::AddressSpace;

use crate::exec::PreparedExec;
use crate::fdtable::FdTable;
use crate::loader::{self, LoadError, Loaded, Startup};
use crate::process::{Process, SharedMm, Termination};
use crate::signal::{
    self, BUS_ADRERR, Detail, ILL_ILLOPC, SEGV_ACCERR, SEGV_MAPERR, SigInfo, TRAP_BRKPT,
};

/// The engine a process's threads create their vCPUs with.
pub type EngineRef = &'static (dyn Engine + Sync);

/// An [`EngineRef`] a process keeps (for the vCPUs of threads it starts).
#[derive(Clone, Copy)]
pub struct EngineHandle(pub EngineRef);

impl std::fmt::Debug for EngineHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

/// The guest arena: 1 TiB of reserved, unbacked host address space.
pub const ARENA_SIZE: u64 = 1 << 40;

/// What the command line asks for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub program: std::path::PathBuf,
    /// argv, starting with argv[0].
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    pub strace: bool,
    pub fork_strategy: crate::respawn::ForkStrategy,
}

/// Why a program could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("cannot reserve the guest address space: {0}")]
    Arena(#[from] elfvisor_mm::MmError),
    #[error(transparent)]
    Engine(#[from] elfvisor_engine::EngineError),
}

/// 16 bytes for AT_RANDOM.
pub fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // getrandom(2) on 16 bytes does not fail short on Linux; zeros would still start the guest.
    let _ = crate::host::getrandom(&mut bytes, 0);
    bytes
}

/// Loads the program and builds its process, ready to run.
pub fn start(
    engine: &dyn Engine,
    opts: &RunOptions,
) -> Result<(Process, Box<dyn Vcpu>), StartError> {
    let mut mm = AddressSpace::new(ARENA_SIZE)?;
    let startup = Startup {
        argv: &opts.argv,
        envp: &opts.envp,
        execfn: opts.program.as_os_str().as_encoded_bytes(),
        hwcaps: engine.hwcaps(),
        random: random_bytes(),
        ids: crate::host::ids(),
    };
    let loaded = loader::load(&mut mm, &opts.program, &startup)?;
    let nofile = crate::host::getrlimit(libc::RLIMIT_NOFILE as i32)
        .map_or(1024, |(cur, _)| cur.min(1 << 20) as usize);
    let mut process = Process::new(mm, FdTable::with_stdio(nofile), loaded.exe.clone());
    process.sigreturn_trampoline = loaded.sigreturn_trampoline.0;
    process.hwcaps = engine.hwcaps();
    process.trace.enabled = opts.strace;
    process.fork_strategy = opts.fork_strategy;
    let vcpu = new_vcpu(engine, &process, &loaded)?;
    Ok((process, vcpu))
}

/// A vCPU on the process's current address space (registers not set).
pub(crate) fn create_vcpu(
    engine: &dyn Engine,
    process: &Process,
) -> Result<Box<dyn Vcpu>, elfvisor_engine::EngineError> {
    let memory = {
        let mm = process.mm.read();
        GuestMemory {
            host_base: mm.arena_base(),
            size: mm.arena_size(),
            pages: std::sync::Arc::new(process.mm.clone()),
        }
    };
    engine.create_vcpu(memory)
}

/// A vCPU on the process's current address space, at the entry of `loaded`.
fn new_vcpu(
    engine: &dyn Engine,
    process: &Process,
    loaded: &Loaded,
) -> Result<Box<dyn Vcpu>, elfvisor_engine::EngineError> {
    let mut vcpu = create_vcpu(engine, process)?;
    for i in 0..31 {
        vcpu.set_reg(Reg::X(i), 0);
    }
    vcpu.set_reg(Reg::Pc, loaded.entry.0);
    vcpu.set_reg(Reg::Sp, loaded.sp.0);
    vcpu.set_reg(Reg::TpidrEl0, 0);
    Ok(vcpu)
}

/// Switches the process to the image `execve` prepared: the old address space (and with it
/// the old vCPU's view) goes, the new one gets a fresh vCPU.
fn switch_image(
    engine: &dyn Engine,
    process: &mut Process,
    prepared: PreparedExec,
) -> Result<Box<dyn Vcpu>, elfvisor_engine::EngineError> {
    crate::exec::reset_process_state(process);
    process.mm = SharedMm(std::sync::Arc::new(std::sync::RwLock::new(prepared.mm)));
    process.exe = prepared.loaded.exe.clone();
    process.sigreturn_trampoline = prepared.loaded.sigreturn_trampoline.0;
    new_vcpu(engine, process, &prepared.loaded)
}

/// The signal Linux raises for an engine exit that is a fault, with its `siginfo`.
pub fn fault_signal(exit: &Exit, pc: u64) -> Option<SigInfo> {
    let (signo, code, addr) = match *exit {
        Exit::Fault { addr, cause: FaultCause::Unmapped, .. } => {
            (Signo::SIGSEGV, SEGV_MAPERR, addr.0)
        }
        Exit::Fault { addr, cause: FaultCause::Protection, .. } => {
            (Signo::SIGSEGV, SEGV_ACCERR, addr.0)
        }
        Exit::Fault { addr, cause: FaultCause::PastObjectEnd, .. } => {
            (Signo::SIGBUS, BUS_ADRERR, addr.0)
        }
        Exit::Breakpoint { .. } => (Signo::SIGTRAP, TRAP_BRKPT, pc),
        Exit::Undefined => (Signo::SIGILL, ILL_ILLOPC, pc),
        Exit::Stopped | Exit::Interrupted => return None,
    };
    Some(SigInfo { signo, code, detail: Detail::Fault { addr } })
}

/// Runs the process until it ends (on the thread that started it: the process's first
/// thread, or a forked child's only one).
pub fn run(
    engine: EngineRef,
    process: &mut Process,
    vcpu: Box<dyn Vcpu>,
) -> Result<Termination, elfvisor_engine::EngineError> {
    process.engine = Some(EngineHandle(engine));
    // A host SIGBUS (a shared file shrunk by another process under a granted page) ends the
    // process as the guest's death by SIGBUS.
    crate::host::shm::install_sigbus_handler();
    crate::hostsig::install(process);
    let end = run_thread(engine, process, vcpu)?;
    Ok(end_of(process, end))
}

/// Runs one guest thread until it exits or its process ends.
pub(crate) fn run_thread(
    engine: &dyn Engine,
    process: &mut Process,
    vcpu: Box<dyn Vcpu>,
) -> Result<Termination, elfvisor_engine::EngineError> {
    process.thread.set_stopper(vcpu.stopper());
    process.thread.shadow_robust.register();
    crate::hostsig::register_thread(process);
    let end = run_to_end(engine, process, vcpu);
    crate::hostsig::unregister_thread();
    end
}

/// What a thread's end means for its process: `end` when the process ends with it. When only
/// the thread ended and others run on, this host thread waits for the process to end (the
/// thread that ends it exits the host process).
fn end_of(process: &mut Process, end: Termination) -> Termination {
    match crate::thread::thread_ended(process, end) {
        Some(end) => {
            process_ends(process);
            end
        }
        None => loop {
            std::thread::park();
        },
    }
}

/// What every end of a process does first, whichever thread ends it: robust futexes released,
/// and a vfork parent let go (the child's writes returned first).
fn process_ends(process: &mut Process) {
    crate::thread::process_ending(process);
    crate::vfork::release(process);
}

/// Ends the host process from any thread, as `main` does for the first one.
pub(crate) fn end_process(process: &mut Process, end: Termination) -> ! {
    process_ends(process);
    crate::respawn::control::hold_exit();
    match end {
        Termination::Exited(code) => std::process::exit(code),
        Termination::Signaled(sig) => crate::host::die_by_signal(i32::from(sig.0)),
    }
}

fn run_to_end(
    engine: &dyn Engine,
    process: &mut Process,
    mut vcpu: Box<dyn Vcpu>,
) -> Result<Termination, elfvisor_engine::EngineError> {
    loop {
        // Signals that arrived since the last exit are delivered before guest code runs again
        // (a stop request made before the run starts would be lost).
        if crate::hostsig::any() {
            crate::hostsig::drain(process);
            signal::deliver(process, vcpu.as_mut());
            if let Some(end) = process.exit {
                return Ok(end);
            }
        }
        if !process.group.enter_guest(&process.thread, vcpu.as_mut()) {
            // Another thread's execve replaced the process: this thread is gone.
            process.vanish();
            return Ok(process.exit.unwrap_or(Termination::Exited(0)));
        }
        let exit = vcpu.run(process);
        process.thread.leave_guest();
        let exit = exit?;
        if let Some(end) = process.exit {
            return Ok(end);
        }
        if let Some(prepared) = process.pending_exec.take() {
            drop(vcpu);
            vcpu = switch_image(engine, process, *prepared)?;
            process.thread.set_stopper(vcpu.stopper());
            continue;
        }
        let pc = vcpu.reg(Reg::Pc);
        if let Some(info) = fault_signal(&exit, pc) {
            if process.trace.enabled {
                eprintln!(
                    "[{}] --- {} at pc {} ({exit:?}) ---",
                    process.pid,
                    info.signo.display_name(),
                    GuestAddr(pc)
                );
            }
            signal::force(process, info);
        }
        crate::hostsig::drain(process);
        signal::deliver(process, vcpu.as_mut());
        if let Some(end) = process.exit {
            return Ok(end);
        }
    }
}

/// Loads and runs a program to its end.
pub fn run_program(engine: EngineRef, opts: &RunOptions) -> Result<Termination, anyhow::Error> {
    // Only a respawned child holds its exit for its parent.
    crate::respawn::control::no_exit_hold();
    let (mut process, vcpu) = start(engine, opts)?;
    Ok(run(engine, &mut process, vcpu)?)
}

/// The exit status a shell reports for a start failure: 127 for a missing program, 126 for
/// one that exists but cannot be run.
pub fn start_failure_status(err: &anyhow::Error) -> i32 {
    match err.downcast_ref::<StartError>() {
        Some(StartError::Load(LoadError::Open { source, .. }))
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            127
        }
        _ => 126,
    }
}

/// For tests and the CLI: whether a path names an existing file.
pub fn exists(path: &Path) -> bool {
    path.is_file()
}
