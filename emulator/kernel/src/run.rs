//! The run loop: build the process, run its vCPUs — the first thread's and every thread
//! `clone` starts — and turn exits into syscalls' effects, faults into signals, an `execve`
//! into a new image and the end of the program into a [`Termination`].

use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

use elfvisor_abi::sched::{CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID};
use elfvisor_abi::signal::{
    BUS_ADRERR, ILL_ILLOPC, SEGV_ACCERR, SEGV_MAPERR, SIG_IGN, Sigaction, StackT, TRAP_BRKPT,
};
use elfvisor_abi::{Errno, GuestAddr, Signo};
use elfvisor_engine::{Cpu, Engine, Exit, FaultCause, GuestMemory, Reg, Registers, Vcpu};
use elfvisor_mm::AddressSpace;

use crate::exec::{ARENA_SIZE, PreparedExec, random_bytes};
use crate::fdtable::FdTable;
use crate::fork::CloneArgs;
use crate::loader::{self, LoadError, Loaded, Startup};
use crate::signal::delivery;
use crate::signal::info::{Detail, SigInfo};
use crate::task::Task;
use crate::task::group::ProcessInit;
use crate::task::types::{EngineHandle, EngineRef, RobustList, SharedMm, Termination};

/// What the command line asks for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub program: std::path::PathBuf,
    /// argv, starting with argv[0].
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    pub strace: bool,
    pub fork_strategy: crate::fork::ForkStrategy,
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

/// Loads the program and builds its process, ready to run.
pub fn start(engine: &dyn Engine, opts: &RunOptions) -> Result<(Task, Box<dyn Vcpu>), StartError> {
    let mut mm = AddressSpace::new(ARENA_SIZE)?;
    // The first program starts with personality 0: address randomisation on.
    let _ = mm.randomize_layout();
    mm.set_lock_limit(crate::host::lock_limit);
    let startup = Startup {
        argv: &opts.argv,
        envp: &opts.envp,
        execfn: opts.program.as_os_str().as_encoded_bytes(),
        hwcaps: engine.hwcaps(),
        random: random_bytes(),
        ids: crate::host::ids(),
    };
    // PROGRAM is a guest path: with a sysroot it is looked up there first.
    let guest = opts.program.as_os_str().as_encoded_bytes();
    let host = crate::sysroot::host_path(guest, crate::sysroot::Follow::Last)
        .map(|h| std::path::PathBuf::from(std::ffi::OsString::from_vec(h)))
        .unwrap_or_else(|_| opts.program.clone());
    let loaded = loader::load(&mut mm, &host, &startup)?;
    // The guest starts with the memory limits elfvisor was started with; from here on they
    // are its own (the emulator's host limits stay as they are).
    mm.set_vm_limits(crate::host::vm_limits());
    // The guest starts with the host's limit; the emulator itself runs with the hard one.
    let (nofile, nofile_max) = crate::host::raise_nofile();
    let init = ProcessInit {
        pid: crate::host::pid(),
        exe: loaded.exe.clone(),
        fork_strategy: opts.fork_strategy,
        hwcaps: engine.hwcaps().into(),
        sigreturn_trampoline: loaded.sigreturn_trampoline.0,
        trace: opts.strace,
        personality: 0,
    };
    let mut fds = FdTable::with_stdio(nofile.min(nofile_max) as usize);
    fds.set_nofile(nofile, nofile_max);
    // RLIMIT_FSIZE likewise: the guest's from here on, the emulator's own raised to the hard
    // limit so that its files (shared-memory objects, fork snapshots) never meet the guest's.
    let (fsize, fsize_max) = crate::host::raise_fsize();
    fds.set_fsize(fsize, fsize_max);
    let process = Task::new(mm, fds, init);
    let vcpu = new_vcpu(engine, &process, &loaded)?;
    Ok((process, vcpu))
}

/// A vCPU on the process's current address space (registers not set).
pub(crate) fn create_vcpu(
    engine: &dyn Engine,
    process: &Task,
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

/// Whether the process's vCPUs must translate guest atomics parallel-safe: it has a second
/// thread, or memory another process may write at the same time (a writable shared mapping,
/// ever). Neither ever turns false again, so a vCPU switched to parallel code stays so.
///
/// A process starts with plain atomics ([`start_serial_if_alone`]) and each thread switches at
/// the end of the system call that made this true (`syscalls::leave`), before it runs guest
/// code again. That covers every vCPU of the process: a new thread's vCPU is parallel from its
/// creation, and the call that starts it (or maps the memory) is the only place a process with
/// one thread could have plain code left.
pub(crate) fn needs_parallel(task: &Task) -> bool {
    task.group().is_multithreaded() || task.mm.read().has_writable_shared()
}

/// The first vCPU of a process (at start, after execve, in a respawned child) translates
/// atomics as plain accesses while [`needs_parallel`] is false, as qemu-user does until the
/// first thread: parallel-safe atomics are helper calls.
pub(crate) fn start_serial_if_alone(vcpu: &mut dyn Vcpu, process: &Task) {
    if !needs_parallel(process) {
        vcpu.set_parallel(false);
    }
}

/// A vCPU on the process's current address space, at the entry of `loaded`.
fn new_vcpu(
    engine: &dyn Engine,
    process: &Task,
    loaded: &Loaded,
) -> Result<Box<dyn Vcpu>, elfvisor_engine::EngineError> {
    let mut vcpu = create_vcpu(engine, process)?;
    start_serial_if_alone(vcpu.as_mut(), process);
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
    process: &mut Task,
    prepared: PreparedExec,
) -> Result<Box<dyn Vcpu>, elfvisor_engine::EngineError> {
    reset_for_exec(process);
    process.mm = SharedMm::new(prepared.mm);
    process.group().set_image(prepared.loaded.exe.clone(), prepared.loaded.sigreturn_trampoline.0);
    crate::board::publish_all(process);
    new_vcpu(engine, process, &prepared.loaded)
}

/// What survives `execve` and what does not (execve(2)): close-on-exec descriptors close,
/// caught signals revert to their default action (ignored ones stay ignored), the alternate
/// signal stack is gone, the process is dumpable again; the mask and pending signals stay.
fn reset_for_exec(task: &mut Task) {
    task.fds().close_on_exec();
    task.sigactions().update_all(|actions| {
        for action in actions {
            if action.handler != SIG_IGN {
                *action = Sigaction::default();
            }
        }
    });
    crate::signal::forward::sigchld_changed(&task.sigactions().get(libc::SIGCHLD as usize - 1));
    task.altstack = StackT::DISABLED;
    task.clear_child_tid = 0;
    task.set_robust_list(RobustList::default());
    // A vfork parent waits for this: the child no longer shares its image.
    release_vfork_parent(task);
    // A parent may no longer move this process to another group.
    crate::fork::respawn::control::guest_execed();
    // begin_new_exec: the new image may dump core again (no set-id images here), and the
    // process's POSIX timers are gone.
    let _ = crate::host::set_dumpable(1);
    crate::timers::delete_all(task.group());
}

/// A vfork child execs or exits: its parent, asleep in `clone`, gets the child's writes back
/// and runs again.
fn release_vfork_parent(task: &mut Task) {
    if let Some(link) = task.vfork_done.take() {
        link.release(&task.mm.read(), task.pid());
    }
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
    process: &mut Task,
    vcpu: Box<dyn Vcpu>,
) -> Result<Termination, elfvisor_engine::EngineError> {
    process.group().set_engine(EngineHandle(engine));
    // The process's name is its first host thread's, as /proc shows it.
    crate::host::set_thread_name(process.comm());
    crate::board::ensure(process);
    // A host SIGBUS (a shared file shrunk by another process under a granted page) ends the
    // process as the guest's death by SIGBUS.
    crate::host::shm::install_sigbus_handler();
    crate::signal::forward::install(&process.sigactions().get(libc::SIGCHLD as usize - 1));
    let mut vcpu = vcpu;
    loop {
        let end = run_thread(engine, process, vcpu)?;
        match thread_ended(process, end) {
            Some(end) => {
                crate::gdb::process_ended(process, end);
                if process.trace() {
                    crate::syscalls::strace::sink::exited(process.tid(), end);
                }
                process_ends(process);
                return Ok(end);
            }
            // This is the process's first thread: it carries on whichever thread runs execve.
            None => vcpu = take_over(engine, process)?,
        }
    }
}

/// Runs one guest thread until it exits or its process ends.
pub(crate) fn run_thread(
    engine: &dyn Engine,
    process: &mut Task,
    vcpu: Box<dyn Vcpu>,
) -> Result<Termination, elfvisor_engine::EngineError> {
    process.handle().set_stopper(vcpu.stopper());
    process.handle().shadow_robust().register();
    crate::signal::forward::register_thread(process.handle().host_tid());
    let end = run_to_end(engine, process, vcpu);
    crate::signal::forward::unregister_thread();
    end
}

/// On the process's first host thread (its host tid is the pid), once its guest thread ended
/// while others run on: waits until another thread's execve hands it the process, then
/// switches to the new image as that thread (Linux's de_thread gives the execing thread the
/// leader's pid; here the leader's host thread takes the execing thread's state, so the guest's
/// pid, its tid and the host thread that runs it stay one number). Waits forever when no execve
/// comes: the thread that ends the process exits the host process.
fn take_over(
    engine: &dyn Engine,
    process: &mut Task,
) -> Result<Box<dyn Vcpu>, elfvisor_engine::EngineError> {
    let succession = {
        // Signals for the process go straight to a thread that runs guest code meanwhile.
        let _held = crate::signal::forward::hold_forwarded();
        process.group().await_successor()
    };
    let exec = process.adopt(*succession);
    crate::host::set_thread_name(process.comm());
    let vcpu = switch_image(engine, process, *exec)?;
    crate::gdb::exec_done(process);
    Ok(vcpu)
}

/// The execing thread's own robust futexes are released before its image goes (Linux's
/// exec_mm_release → futex_exec_release).
fn exec_release(task: &Task) {
    crate::futex::exit_robust_list_of(&task.mm.read(), task.robust_list().head, task.tid());
}

/// What every end of a process does first, whichever thread ends it: robust futexes released,
/// and a vfork parent let go (the child's writes returned first).
fn process_ends(process: &mut Task) {
    release_robust_futexes(process);
    release_vfork_parent(process);
}

/// The end of a thread's run (`end`, unless the guest set its own exit): the process ends
/// with it, or only the thread.
fn thread_ended(task: &mut Task, end: Termination) -> Option<Termination> {
    let end = task.settle_exit(end);
    if !task.exits_alone() {
        return Some(end);
    }
    // A thread other than the first that ran execve: its last act hands the new image to the
    // first thread's host thread (see `take_over`).
    let succession = task.pending_exec.take().map(|exec| task.succession(exec));
    release_thread_resources(task);
    if let Some(succession) = succession {
        if task.group().hand_over(task.handle(), succession).is_ok() {
            return None;
        }
        // `run_to_end` hands over only to a seated first thread, and nothing else unseats it.
        eprintln!("elfvisor: execve from thread {}: no first thread to carry on", task.tid());
        return Some(Termination::Signaled(Signo::SIGKILL));
    }
    let left = task.group().unregister(task.handle());
    // The last thread's exit ends the process with its status.
    if left == 0 { Some(end) } else { None }
}

/// The process ends (exit_group, a fatal signal, its last thread's exit): every thread's
/// robust futexes are released as each thread's exit would. (A host SIGKILL of the emulator
/// leaves no chance to: the list holds guest pointers the host kernel cannot walk.)
fn release_robust_futexes(task: &Task) {
    let mm = task.mm.read();
    for t in task.group().threads() {
        let head =
            if Arc::ptr_eq(&t, task.handle()) { task.robust_list().head } else { t.robust_head() };
        crate::futex::exit_robust_list_of(&mm, head, t.tid());
    }
}

/// What Linux's exit_mm/exit_robust_list do for an exiting thread. Runs on the thread's own
/// host thread.
fn release_thread_resources(task: &mut Task) {
    let mm = task.mm.read();
    crate::futex::exit_robust_list_of(&mm, task.robust_list().head, task.tid());
    // The guest's list is released; the shadow the host kernel would walk at this host
    // thread's exit lives in the task's handle, which is freed when the task is dropped, before
    // the host thread is gone: unregister it first so the host never reads freed memory.
    task.handle().shadow_robust().unregister();
    if task.clear_child_tid != 0 && mm.write_u32(GuestAddr(task.clear_child_tid), 0).is_ok() {
        let _ = crate::futex::wake_address(&mm, task.clear_child_tid, 1);
    }
}

/// Ends the host process from any thread, as `main` does for the first one.
pub(crate) fn end_process(process: &mut Task, end: Termination) -> ! {
    crate::gdb::process_ended(process, end);
    process_ends(process);
    crate::fork::respawn::control::hold_exit();
    match end {
        Termination::Exited(code) => std::process::exit(code),
        Termination::Signaled(sig) => crate::host::die_by_signal(i32::from(sig.0)),
    }
}

fn run_to_end(
    engine: &dyn Engine,
    process: &mut Task,
    mut vcpu: Box<dyn Vcpu>,
) -> Result<Termination, elfvisor_engine::EngineError> {
    loop {
        // A debugger (`--gdb`) is served while the guest is stopped for it.
        let turn = crate::gdb::before_run(process, vcpu.as_mut());
        if turn == crate::gdb::Turn::Kill {
            return Ok(Termination::Signaled(Signo::SIGKILL));
        }
        if let Some(end) = process.exit_status() {
            return Ok(end);
        }
        // Signals that arrived since the last exit are delivered before guest code runs again
        // (a stop request made before the run starts would be lost).
        if crate::signal::forward::any() {
            delivery::drain_host(process);
            if crate::gdb::signal_stop(process) {
                continue;
            }
            delivery::deliver(process, vcpu.as_mut());
            if let Some(end) = process.exit_status() {
                return Ok(end);
            }
        }
        if !process.group().enter_guest(process.handle(), vcpu.as_mut()) {
            // Another thread's execve replaced the process: this thread is gone.
            process.vanish();
            return Ok(process.exit_status().unwrap_or(Termination::Exited(0)));
        }
        let exit =
            if turn == crate::gdb::Turn::Step { vcpu.step(process) } else { vcpu.run(process) };
        crate::gdb::left_guest(process, vcpu.as_mut());
        process.handle().leave_guest();
        let exit = exit?;
        if process.is_killed() && process.exit_status().is_none() {
            // Another thread's execve: this one takes no signal and runs nothing more.
            process.vanish();
        }
        if let Some(end) = process.exit_status() {
            return Ok(end);
        }
        if process.pending_exec.is_some() {
            exec_release(process);
            if process.tid() != process.pid() && process.group().leader_seated() {
                // The first thread's host thread carries the new image on (`thread_ended`).
                process.vanish();
                return Ok(Termination::Exited(0));
            }
            // The first thread itself, or (no host thread left to take over) this one as it.
            let pid = process.pid();
            process.set_tid(pid);
            let prepared = process.pending_exec.take().expect("checked above");
            drop(vcpu);
            vcpu = switch_image(engine, process, *prepared)?;
            process.handle().set_stopper(vcpu.stopper());
            crate::gdb::exec_done(process);
            continue;
        }
        let pc = vcpu.reg(Reg::Pc);
        let fault = crate::gdb::after_exit(process, vcpu.as_ref(), &exit, fault_signal(&exit, pc));
        if let Some(info) = fault {
            if process.trace() {
                eprintln!(
                    "[{}] --- {} at pc {} ({exit:?}) ---",
                    process.pid(),
                    info.signo.display_name(),
                    GuestAddr(pc)
                );
            }
            delivery::force(process, info);
        }
        delivery::drain_host(process);
        if crate::gdb::signal_stop(process) {
            continue;
        }
        delivery::deliver(process, vcpu.as_mut());
        if let Some(end) = process.exit_status() {
            return Ok(end);
        }
    }
}

/// Why the emulator could not run the program (or a respawned fork child) to its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Engine(#[from] elfvisor_engine::EngineError),
    /// A respawned child could not be rebuilt from what its parent sent.
    #[error("fork child: {0}")]
    ForkChild(String),
    /// The fork socket failed after the child was built.
    #[error(transparent)]
    Wire(#[from] crate::fork::respawn::wire::WireError),
}

impl RunError {
    /// The message and every cause under it, joined by ": " (what the CLI prints).
    pub fn report(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        text
    }
}

/// Loads and runs a program to its end.
pub fn run_program(engine: EngineRef, opts: &RunOptions) -> Result<Termination, RunError> {
    // Only a respawned child holds its exit for its parent.
    crate::fork::respawn::control::no_exit_hold();
    let (mut process, vcpu) = start(engine, opts)?;
    Ok(run(engine, &mut process, vcpu)?)
}

/// The exit status a shell reports for a start failure: 127 for a missing program, 126 for
/// one that exists but cannot be run.
pub fn start_failure_status(err: &RunError) -> i32 {
    match err {
        RunError::Start(StartError::Load(LoadError::Open { source, .. }))
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            127
        }
        RunError::Start(StartError::Load(LoadError::Interp { errno: Errno::ENOENT, .. })) => 127,
        _ => 126,
    }
}

/// `clone` with `CLONE_THREAD`: starts the thread and returns its tid once it is ready to run.
/// The tid is the host thread's id, so the guest's ids are unique across the host like Linux's.
pub fn spawn_thread(task: &mut Task, cpu: &mut dyn Cpu, args: CloneArgs) -> Result<u32, Errno> {
    let engine = task.group().engine().ok_or(Errno::EAGAIN)?;
    let regs = args.child_registers(Registers::capture(cpu));
    task.refresh_comm();
    let mut thread = task.new_thread(0);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<u32, String>>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<bool>();
    let handle = std::sync::Arc::clone(thread.handle());
    let spawned = std::thread::Builder::new().name("elfvisor-vcpu".into()).spawn(move || {
        thread.handle().bind_host_thread();
        // A new thread starts with its creator's name.
        crate::host::set_thread_name(thread.comm());
        let tid = thread.handle().host_tid() as u32;
        thread.set_tid(tid);
        let vcpu = match create_vcpu(engine.0, &thread) {
            Ok(mut vcpu) => {
                regs.load(vcpu.as_mut());
                vcpu
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e.to_string()));
                return;
            }
        };
        if args.has(CLONE_CHILD_SETTID) {
            let _ = thread.mm.read().write_u32(GuestAddr(args.child_tid), tid);
        }
        if args.has(CLONE_CHILD_CLEARTID) {
            thread.clear_child_tid = args.child_tid;
        }
        if !thread.group().join(thread.handle()) {
            // An execve is ending this process's threads.
            let _ = ready_tx.send(Err("the process is running execve".into()));
            return;
        }
        if ready_tx.send(Ok(tid)).is_err() || go_rx.recv() != Ok(true) {
            thread.group().unregister(thread.handle());
            return;
        }
        let mut vcpu = vcpu;
        loop {
            let end = match run_thread(engine.0, &mut thread, vcpu) {
                Ok(end) => end,
                Err(e) => {
                    eprintln!("elfvisor: thread {}: {e}", thread.tid());
                    Termination::Signaled(Signo::SIGSEGV)
                }
            };
            match thread_ended(&mut thread, end) {
                Some(end) => end_process(&mut thread, end),
                // The first thread of a child this thread forked on the host: it carries on
                // whichever thread runs execve, as `run` does for the first process.
                None if thread.tid() == thread.pid() => match take_over(engine.0, &mut thread) {
                    Ok(next) => vcpu = next,
                    Err(e) => {
                        eprintln!("elfvisor: thread {}: {e}", thread.tid());
                        end_process(&mut thread, Termination::Signaled(Signo::SIGSEGV));
                    }
                },
                None => return,
            }
        }
    });
    match spawned {
        Ok(host_thread) => handle.set_host_thread(host_thread),
        Err(e) => {
            eprintln!("elfvisor: cannot start a thread: {e}");
            return Err(Errno::EAGAIN);
        }
    }
    let tid = match ready_rx.recv() {
        Ok(Ok(tid)) => tid,
        Ok(Err(e)) => {
            eprintln!("elfvisor: cannot start a thread: {e}");
            return Err(Errno::EAGAIN);
        }
        Err(_) => return Err(Errno::EAGAIN),
    };
    if args.has(CLONE_PARENT_SETTID) {
        let _ = task.mm.read().write_u32(GuestAddr(args.parent_tid), tid);
    }
    let _ = go_tx.send(true);
    Ok(tid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::futex::tests::registered_head;
    use crate::task::ExitScope;

    /// A thread that ends while others run on drops its task (and the shadow robust list in
    /// its handle) before its host thread exits: the host kernel must no longer hold that
    /// list by then.
    #[test]
    fn test_a_thread_ending_alone_leaves_no_robust_list_with_the_host() {
        let first = crate::task::test_task();
        let mut second = first.new_thread(4243);
        std::thread::spawn(move || {
            second.group().register(second.handle());
            second.handle().shadow_robust().register();
            assert_ne!(registered_head(), 0);
            second.request_exit(Termination::Exited(0), ExitScope::Thread);
            assert_eq!(thread_ended(&mut second, Termination::Exited(0)), None);
            assert_eq!(registered_head(), 0, "the shadow list is unregistered before the drop");
            drop(second);
        })
        .join()
        .expect("the thread");
        assert!(!first.group().is_multithreaded());
    }
}
