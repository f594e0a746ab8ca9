//! System calls: one table row per call drives dispatch, restarts, `--strace` and the support
//! matrix.
//!
//! A call goes through three steps: [`enter`] (out of guest code, the other threads held out
//! when the call changes what they may have cached), [`dispatch`] (the table's handler, or
//! ENOSYS) and [`leave`] (the result or a restart, signals delivered, back into guest code).
//! Handlers are thin (`sys_<family>.rs`): decode the arguments, reject unknown flags, call the
//! address space or the host. The table is data (`table.rs`); what a handler works with is
//! `ctx.rs`.

use elfvisor_abi::sched::{CLONE_THREAD, CLONE_VFORK};
use elfvisor_abi::signal::SA_RESTART;
use elfvisor_abi::{Errno, GuestAddr, Sysno};
use elfvisor_engine::{Cpu, Reg, SyscallAction, SyscallHandler};

use self::ctx::{Ctx, SysResult};
use self::table::{Quiesce, Restart, Row, Support};
use crate::signal::delivery;
use crate::task::Task;
use crate::task::group::Quiesced;

pub mod ctx;
pub(crate) mod proc_files;
mod procfs;
pub mod strace;
mod sys_clone;
mod sys_event;
mod sys_fs;
mod sys_fsmeta;
mod sys_futex;
mod sys_ipc;
mod sys_mmap;
mod sys_mqueue;
mod sys_numa;
mod sys_poll;
mod sys_process;
mod sys_procmem;
mod sys_sched;
mod sys_shm;
mod sys_signal;
mod sys_socket;
mod sys_time;
mod sys_timer;
pub mod table;

/// Formats one argument for `--strace`.
/// One system call as the guest made it: its number, its six argument registers and its row.
#[derive(Debug, Clone, Copy)]
struct Call {
    nr: u64,
    args: [u64; 6],
    row: Option<&'static Row>,
}

impl Call {
    /// x8 holds the number, x0..x5 the arguments.
    fn read(cpu: &dyn Cpu) -> Call {
        let nr = cpu.reg(Reg::X(8));
        Call { nr, args: [0, 1, 2, 3, 4, 5].map(|i| cpu.reg(Reg::X(i))), row: table::lookup(nr) }
    }

    fn is(&self, sysno: Sysno) -> bool {
        self.nr == u64::from(sysno.0)
    }

    /// When the call lets the respawned children admitted since the parent's fork exit: they
    /// hold their exit until it makes a call that could see them go (`fork::respawn::control`).
    /// A setpgid (the usual call right after fork) may move them first. A mask change cannot
    /// observe a child, so it releases nothing: the C libraries restore the signal mask right
    /// after the clone (musl blocks every signal around it), and the setpgid that follows
    /// still finds its child.
    fn child_release(&self) -> Option<Release> {
        if self.is(Sysno::rt_sigprocmask) {
            None
        } else if self.is(Sysno::setpgid) {
            Some(Release::After)
        } else {
            Some(Release::Before)
        }
    }

    /// How the call is restarted after a signal interrupted it.
    fn restart(&self) -> Restart {
        self.row.map_or(Restart::UnlessHandlerRefuses, |r| r.restart)
    }
}

/// Whether a call releases the waiting respawned children before or after its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    Before,
    After,
}

impl SyscallHandler for Task {
    fn syscall(&mut self, cpu: &mut dyn Cpu) -> SyscallAction {
        let call = Call::read(cpu);
        // What a debugger sees of this thread while it is in the call; while the debugger
        // stops the guest, the thread stops on the `svc` and makes the call when it resumes.
        if crate::gdb::call_entered(self, cpu) {
            return SyscallAction::Stop;
        }
        let quiesced = enter(self, &call);
        if self.is_killed() {
            // Another thread's execve killed this one while it waited to enter: the call is
            // not made.
            drop(quiesced);
            self.vanish();
            return SyscallAction::Stop;
        }
        let mut ctx = Ctx { proc: self, cpu, regs_restored: false, no_restart: false };
        let result = dispatch(&mut ctx, &call);
        leave(&mut ctx, &call, result, quiesced)
    }

    /// `IC IVAU`: with other threads, none may go on running a translation of the rewritten
    /// line (each vCPU has its own translation cache); alone, the store already dropped it.
    fn code_invalidated(&mut self, start: GuestAddr, end: GuestAddr) {
        if self.group().is_multithreaded() {
            self.group().publish_guest_code(self.handle(), start, end);
        }
    }
}

/// The entry step: this thread leaves guest code, the host's copy of its robust list follows
/// the guest's (once the process shares writable memory), and a call that changes what other
/// vCPUs may have cached (or captures the address space for a fork) holds the other threads
/// out of guest code until it returns.
fn enter(task: &mut Task, call: &Call) -> Option<Quiesced> {
    // Out of guest code until the call returns: a quiesce need not wait for this thread.
    task.handle().leave_guest();
    // The mask the call starts with, as a sibling reading this thread's /proc files sees it
    // while the call blocks.
    task.handle().publish_sigmask(task.sigmask);
    if task.tid() == task.pid() {
        crate::board::publish_sigmask(task.sigmask);
    }
    let robust = task.robust_list();
    if robust.head != 0 {
        // The host walks the shadow only when the emulator dies without a word (SIGKILL), and
        // then the whole process dies: a futex word only another process could wait on, in a
        // writable shared mapping, needs it. Until the process has one (it never loses it),
        // the shadow stays empty and a call does not read the guest's list head.
        let mm = task.mm.read();
        if mm.has_writable_shared() {
            task.handle().shadow_robust().refresh(&mm, robust.head);
        }
    }
    (task.group().is_multithreaded() && needs_quiesce(call))
        .then(|| task.group().quiesce(task.handle()))
}

/// The dispatch step: the table's handler, ENOSYS for a refused or unknown number (an unknown
/// one reported once per process), the release of waiting respawned children
/// ([`Call::child_release`]) and the `--strace` line.
fn dispatch(ctx: &mut Ctx<'_>, call: &Call) -> SysResult {
    let release = if ctx.proc.group().has_unreleased() { call.child_release() } else { None };
    if release == Some(Release::Before) {
        crate::fork::respawn::control::release_children(ctx.proc.group());
    }
    let result = match call.row {
        // A deliberate, documented refusal: Linux's own answer for an unprivileged process or
        // a kernel without the feature (glibc probes rseq, say).
        Some(&Row { support: Support::Refused(errno, _), .. }) => Err(errno),
        Some(row) => (row.handler)(ctx, &call.args),
        None => {
            report_unknown(ctx.proc, call.nr);
            Err(Errno::ENOSYS)
        }
    };
    if release == Some(Release::After) {
        crate::fork::respawn::control::release_children(ctx.proc.group());
    }
    if ctx.proc.trace() {
        strace::emit(ctx, call.nr, call.row, &call.args, &result);
    }
    result
}

/// A number without a row: one line on stderr the first time this process makes it.
fn report_unknown(task: &Task, nr: u64) {
    if task.group().first_report_of(nr) {
        let name = Sysno(nr as u32).name().unwrap_or("an unknown call");
        eprintln!("elfvisor: {name} (syscall {nr}) is not supported; returning ENOSYS");
    }
}

/// The exit step: the result goes to x0 (or the call restarts), pending signals are delivered,
/// and the thread goes back into guest code once no other thread holds it out.
fn leave(
    ctx: &mut Ctx<'_>,
    call: &Call,
    result: SysResult,
    quiesced: Option<Quiesced>,
) -> SyscallAction {
    // exit/exit_group leave x0 alone: the guest never sees it; a successful execve
    // replaces every register.
    if ctx.proc.exit_status().is_some() || ctx.proc.pending_exec.is_some() {
        return SyscallAction::Stop;
    }
    if ctx.proc.is_killed() {
        // Another thread's execve killed this one during the call: no restart, no signal
        // delivery; the thread ends.
        ctx.proc.vanish();
        return SyscallAction::Stop;
    }
    if result == Err(Errno::EINTR) && should_restart(ctx.proc, call) && !ctx.no_restart {
        // Back onto the `svc` with the first argument as it was.
        let pc = ctx.cpu.reg(Reg::Pc);
        ctx.cpu.set_reg(Reg::Pc, pc - 4);
        ctx.regs_restored = true;
    }
    if !ctx.regs_restored {
        ctx.cpu.set_reg(Reg::X(0), result.unwrap_or_else(|e| e.as_return()));
    }
    delivery::drain_host_if_any(ctx.proc);
    // A debugger (`--gdb`) sees the next signal first: the run stops for it, nothing is
    // delivered now.
    let held = signal_pending(ctx.proc) && crate::gdb::signal_stop(ctx.proc);
    // Signals raised by the call (or still pending) are delivered on the way back out.
    if !held && signal_pending(ctx.proc) {
        delivery::deliver(ctx.proc, ctx.cpu);
        if ctx.proc.exit_status().is_some() {
            return SyscallAction::Stop;
        }
    }
    // An rt_sigsuspend whose signal ran no handler returns to its old mask here (a signal
    // held for the debugger is delivered later, under the call's temporary mask).
    if !held {
        if let Some(mask) = ctx.proc.saved_sigmask.take() {
            ctx.proc.sigmask = mask;
        }
    }
    ctx.proc.handle().publish_sigmask(ctx.proc.sigmask);
    if ctx.proc.tid() == ctx.proc.pid() {
        crate::board::publish_sigmask(ctx.proc.sigmask);
    }
    // A second thread or a writable shared mapping: parallel-safe atomics from here on.
    if crate::run::needs_parallel(ctx.proc) {
        ctx.cpu.set_parallel(true);
    }
    drop(quiesced);
    if !ctx.proc.group().enter_guest(ctx.proc.handle(), ctx.cpu) {
        // Another thread's execve replaced the process image while this call ran.
        ctx.proc.vanish();
        return SyscallAction::Stop;
    }
    // Another thread stopped for the debugger (or it keeps this one stopped): no guest code
    // runs before the run loop has held this thread.
    if held || crate::gdb::must_stop(ctx.proc) {
        SyscallAction::Stop
    } else {
        SyscallAction::Continue
    }
}

/// A host signal interrupted a blocking call: Linux restarts it unless a handler runs (and for
/// most calls, unless that handler lacks SA_RESTART) — the -ERESTARTSYS, -ERESTARTNOHAND and
/// plain -EINTR cases of `arch/arm64/kernel/signal.c`'s do_signal, as the call's row says.
fn should_restart(task: &mut Task, call: &Call) -> bool {
    delivery::drain_host(task);
    match (call.restart(), delivery::next_handler(task)) {
        (Restart::Never, _) => false,
        (_, None) => true,
        (Restart::UnlessHandlerRefuses, Some(flags)) => flags & SA_RESTART != 0,
        (Restart::NoHandler, Some(_)) => false,
    }
}

/// Whether the call holds the other threads out of guest code first: its row's quiesce
/// column; a number without a row changes nothing.
fn needs_quiesce(call: &Call) -> bool {
    match call.row.map_or(Quiesce::No, |r| r.quiesce) {
        Quiesce::No => false,
        Quiesce::Always => true,
        Quiesce::Fork => call.args[0] & (CLONE_THREAD | CLONE_VFORK) == 0,
    }
}

/// Whether this thread or its process has a signal queued.
fn signal_pending(task: &Task) -> bool {
    task.handle().has_pending() || task.group().has_pending()
}

#[cfg(test)]
mod tests {
    use elfvisor_abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE};
    use elfvisor_abi::{PAGE_SIZE, Prot};
    use elfvisor_engine::mock::{MockStep, MockVcpu};
    use elfvisor_engine::{Exit, Vcpu};
    use elfvisor_mm::{MmapRequest, VmaName};

    use super::*;
    use crate::task::test_task;

    /// Runs `calls` through the real dispatch path on a mock vCPU; returns each call's x0.
    fn run(task: &mut Task, calls: &[(Sysno, [u64; 6])]) -> Vec<u64> {
        let script = calls
            .iter()
            .map(|&(nr, args)| MockStep::Syscall { nr: u64::from(nr.0), args })
            .chain([MockStep::Exit(Exit::Stopped)]);
        let mut vcpu = MockVcpu::new(script);
        assert!(vcpu.run(task).is_ok());
        vcpu.results
    }

    fn err(e: Errno) -> u64 {
        e.as_return()
    }

    #[test]
    fn test_getpid_and_gettid_answer_the_task() {
        let mut task = test_task();
        let got = run(&mut task, &[(Sysno::getpid, [0; 6]), (Sysno::gettid, [0; 6])]);
        assert_eq!(got, vec![4242, 4242]);
    }

    #[test]
    fn test_an_unknown_number_is_enosys_and_reported_once_per_process() {
        let mut task = test_task();
        let sibling = task.new_thread(4243);
        let unknown = (Sysno(1000), [0; 6]);
        assert_eq!(run(&mut task, &[unknown, unknown]), vec![err(Errno::ENOSYS); 2]);
        assert!(!task.group().first_report_of(1000), "the first call reported it");
        assert!(!sibling.group().first_report_of(1000), "for every thread of the process");
    }

    #[test]
    fn test_a_refused_row_is_enosys_without_a_report() {
        let mut task = test_task();
        let nr = Sysno::rseq;
        assert_eq!(run(&mut task, &[(nr, [0; 6])]), vec![err(Errno::ENOSYS)]);
        assert!(task.group().first_report_of(u64::from(nr.0)), "documented refusals stay quiet");
    }

    #[test]
    fn test_bad_guest_pointers_are_efault() {
        let mut task = test_task();
        let calls = [
            (Sysno::uname, [0x10, 0, 0, 0, 0, 0]),
            (Sysno::clock_gettime, [0, 0x10, 0, 0, 0, 0]),
            (Sysno::openat, [(-100i64) as u64, 0x10, 0, 0, 0, 0]),
        ];
        assert_eq!(run(&mut task, &calls), vec![err(Errno::EFAULT); 3]);
    }

    #[test]
    fn test_a_call_writes_guest_memory_through_the_address_space() {
        let mut task = test_task();
        let at = 0x10_0000;
        map(&task, at, 1);
        assert_eq!(run(&mut task, &[(Sysno::uname, [at, 0, 0, 0, 0, 0])]), vec![0]);
        let mut sysname = [0u8; 6];
        task.mm.read().copy_in(GuestAddr(at), &mut sysname).expect("readable");
        assert_eq!(&sysname, b"Linux\0");
    }

    /// Maps `pages` private anonymous pages at `at`.
    fn map(task: &Task, at: u64, pages: u64) {
        let req = MmapRequest {
            addr: GuestAddr(at),
            len: pages * PAGE_SIZE,
            prot: Prot::RW,
            flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
            file: None,
            name: VmaName::None,
        };
        task.mm.write().mmap(req).expect("pages");
    }

    #[test]
    fn test_getgroups_with_a_huge_size_gets_what_a_small_one_counts() {
        let mut task = test_task();
        map(&task, 0x10_0000, 64);
        let count = run(&mut task, &[(Sysno::getgroups, [0; 6])])[0];
        assert!(count <= 65536, "{count}");
        let huge = [i32::MAX as u64, 0x10_0000, 0, 0, 0, 0];
        assert_eq!(run(&mut task, &[(Sysno::getgroups, huge)]), vec![count]);
        let negative = [(-1i64) as u64, 0x10_0000, 0, 0, 0, 0];
        assert_eq!(run(&mut task, &[(Sysno::getgroups, negative)]), vec![err(Errno::EINVAL)]);
    }

    #[test]
    fn test_mincore_reports_pages_past_its_first_step() {
        let mut task = test_task();
        let (at, pages) = (0x1000_0000, 4096 + 2);
        map(&task, at, pages);
        let vec = 0x2000_0000;
        map(&task, vec, 2);
        // Touch the last page only.
        task.mm.read().copy_out(GuestAddr(at + (pages - 1) * PAGE_SIZE), &[1]).expect("mapped");
        let args = [at, pages * PAGE_SIZE, vec, 0, 0, 0];
        assert_eq!(run(&mut task, &[(Sysno::mincore, args)]), vec![0]);
        let mut resident = vec![0u8; pages as usize];
        task.mm.read().copy_in(GuestAddr(vec), &mut resident).expect("readable");
        assert_eq!(resident[pages as usize - 1] & 1, 1, "the touched page is resident");
        assert_eq!(resident[0] & 1, 0, "an untouched page is not");
        // A hole after the first step: what came before is reported, then ENOMEM.
        let past = [at, (pages + 1) * PAGE_SIZE, vec, 0, 0, 0];
        assert_eq!(run(&mut task, &[(Sysno::mincore, past)]), vec![err(Errno::ENOMEM)]);
    }

    /// The call `nr` with its table row, made with `flags` as its first argument.
    fn call(nr: Sysno, flags: u64) -> Call {
        Call { nr: u64::from(nr.0), args: [flags, 0, 0, 0, 0, 0], row: table::lookup(nr.0.into()) }
    }

    #[test]
    fn test_needs_quiesce_follows_the_row_and_clone_flags() {
        use elfvisor_abi::sched::{CLONE_SIGHAND, CLONE_VM};
        assert!(needs_quiesce(&call(Sysno::mmap, 0)));
        assert!(needs_quiesce(&call(Sysno::clone3, 0)));
        assert!(!needs_quiesce(&call(Sysno::read, 0)));
        assert!(!needs_quiesce(&Call { nr: 1000, args: [0; 6], row: None }));
        let thread = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
        assert!(!needs_quiesce(&call(Sysno::clone, thread)), "a new thread captures nothing");
        assert!(!needs_quiesce(&call(Sysno::clone, CLONE_VM | CLONE_VFORK)), "vfork: the handler");
        assert!(needs_quiesce(&call(Sysno::clone, 17)), "a fork captures the address space");
    }

    /// What follows an EINTR, for each restart kind: with no signal that runs a handler, with
    /// a handler that has SA_RESTART, and with one that has not (Linux's ERESTARTSYS,
    /// ERESTARTNOHAND and EINTR cases).
    #[test]
    fn test_should_restart_by_kind_and_handler() {
        use crate::signal::info::{Detail, SigInfo};
        use elfvisor_abi::Signo;
        use elfvisor_abi::signal::{SI_USER, SIG_IGN, Sigaction};
        // A row of each kind: read restarts unless the handler refuses, nanosleep only when no
        // handler runs, rt_sigsuspend never.
        let kinds = [
            (Sysno::read, Restart::UnlessHandlerRefuses),
            (Sysno::nanosleep, Restart::NoHandler),
            (Sysno::rt_sigsuspend, Restart::Never),
        ];
        // The handler the pending SIGUSR1 finds (None: nothing pending).
        let handlers = [
            ("nothing pending", None),
            ("an ignored signal", Some((SIG_IGN, 0))),
            ("a handler with SA_RESTART", Some((0x4000, SA_RESTART))),
            ("a handler without SA_RESTART", Some((0x4000, 0))),
        ];
        let expected = |kind: Restart, handler: Option<(u64, u64)>| match (kind, handler) {
            (Restart::Never, _) => false,
            (_, None) | (_, Some((SIG_IGN, _))) => true,
            (Restart::UnlessHandlerRefuses, Some((_, flags))) => flags & SA_RESTART != 0,
            (Restart::NoHandler, Some(_)) => false,
        };
        for (nr, kind) in kinds {
            let c = call(nr, 0);
            assert_eq!(c.restart(), kind, "{nr:?}'s row");
            for (what, handler) in handlers {
                let mut task = test_task();
                if let Some((h, flags)) = handler {
                    let slot = usize::from(Signo::SIGUSR1.0 - 1);
                    let action = Sigaction { handler: h, flags, ..Default::default() };
                    task.sigactions().set(slot, action);
                    let detail = Detail::Sender { pid: 1, uid: 0 };
                    let info = SigInfo { signo: Signo::SIGUSR1, code: SI_USER, detail };
                    delivery::send(&mut task, info);
                }
                assert_eq!(
                    should_restart(&mut task, &c),
                    expected(kind, handler),
                    "{nr:?} with {what}"
                );
            }
        }
        // A call without a row restarts as most calls do.
        let unknown = Call { nr: 1000, args: [0; 6], row: None };
        assert_eq!(unknown.restart(), Restart::UnlessHandlerRefuses);
    }

    #[test]
    fn test_exit_group_stops_the_vcpu_and_leaves_x0() {
        let mut task = test_task();
        let got =
            run(&mut task, &[(Sysno::exit_group, [7, 0, 0, 0, 0, 0]), (Sysno::getpid, [0; 6])]);
        assert_eq!(got, vec![7], "x0 keeps the argument; nothing runs after");
        assert_eq!(task.exit_status(), Some(crate::task::types::Termination::Exited(7)));
    }
}
