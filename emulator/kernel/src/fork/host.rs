//! The `host` fork strategy: a host `fork()` of the emulator, copy-on-write by the host kernel.
//! Guest pids are host pids, and a guest child is always its own emulator process, so the host
//! kernel keeps parentage, zombies, exit statuses and deaths by signal exactly as Linux would.

use elfvisor_abi::sched::{
    CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_SETTLS, CLONE_VFORK,
    CLONE_VM,
};
use elfvisor_abi::{Errno, GuestAddr};
use elfvisor_engine::{Cpu, Reg};

use super::CloneArgs;
use super::vfork::VforkLink;
use crate::signal::forward;
use crate::task::Task;

/// Forks the process on the host. Returns the child's pid in the parent and 0 in the child,
/// which goes on as the only thread of a new process. A vfork parent returns once its child
/// has exec'd or exited.
pub fn fork(task: &mut Task, cpu: &mut dyn Cpu, args: CloneArgs) -> Result<u32, Errno> {
    // vfork: the parent sleeps until the child execs or exits, which closes the child's end.
    let vfork = if args.has(CLONE_VFORK) {
        Some(super::respawn::wire::pair().map_err(|_| Errno::EAGAIN)?)
    } else {
        None
    };
    // Signals caught until now are the parent's; those that arrive from here on wait, blocked,
    // until each side has set itself up, so one sent to the child right away is the child's.
    let held_signals = forward::hold_forwarded();
    crate::signal::delivery::drain_host(task);
    // The other threads stay out of guest code while the memory is captured (already so unless
    // this is a vfork, whose wait below must not hold them).
    let quiesced = task.group().is_multithreaded().then(|| task.group().quiesce(task.handle()));
    if !args.has(CLONE_VM) {
        // Which private anonymous VMAs were written decides which keep their pages in the
        // child; after the fork every page is shared and the host's page map cannot tell.
        // Without a page map every VMA counts as written, as before.
        let _ = task.mm.write().note_anon_writes();
    }
    let child_board = crate::board::prepare_child(task);
    let pid = {
        // Other threads may use these locks; holding them across the fork leaves the child
        // none that a thread it does not have would never release. The signalfd registry
        // comes first: it is taken before a pending queue's lock everywhere; the board's
        // source last (its server takes the address space's lock while holding it).
        let _held =
            (crate::signal::signalfd::fork_lock(), task.fork_locks(), crate::board::fork_lock());
        crate::host::fork()?
    };
    if pid == 0 {
        crate::board::adopt(child_board);
        become_child(task, cpu, &args, vfork.map(|(_, child_end)| child_end), held_signals);
        drop(quiesced);
        return Ok(0);
    }
    drop(quiesced);
    drop(held_signals);
    if args.has(CLONE_PARENT_SETTID) {
        let _ = task.mm.read().write_u32(GuestAddr(args.parent_tid), pid);
    }
    if let Some((parent_end, child_end)) = vfork {
        drop(child_end);
        super::vfork::wait_for_release(&parent_end, &task.mm, task.pid(), task.handle());
    }
    Ok(pid)
}

/// The child's side of a host fork, before its `clone` returns 0.
fn become_child(
    task: &mut Task,
    cpu: &mut dyn Cpu,
    args: &CloneArgs,
    vfork: Option<super::respawn::wire::Channel>,
    held_signals: forward::HeldSignals,
) {
    // The child has one thread, this one; nothing is pending for it.
    task.become_single(crate::host::pid());
    // Each signalfd's readiness is this process's own from here on (`signal::signalfd`).
    let live = crate::signal::signalfd::live();
    let inherited = crate::signal::signalfd::in_table(&task.fds(), &live);
    if let Err(e) = crate::signal::signalfd::renew(&mut task.fds(), &inherited) {
        eprintln!("elfvisor: the fork child shares its parent's signalfd readiness: {e}");
    }
    // fork() gave the child no robust list (the C library registered its own).
    task.handle().shadow_robust().register();
    forward::forget();
    // The parent's nudger thread did not come along.
    forward::install(&task.sigactions().get(libc::SIGCHLD as usize - 1));
    drop(held_signals);
    if !args.has(CLONE_VM) {
        // Linux's dup_mmap: no MADV_DONTFORK ranges, zeroed MADV_WIPEONFORK ones, no locks.
        {
            let mut mm = task.mm.write();
            mm.after_fork();
            // The host copied every page; Linux's child has none of a VMA never written.
            mm.drop_unwritten_pages();
        }
        task.flush_mm(cpu);
    }
    // A vfork child's own link to its parent is not this process's.
    drop(task.vfork_done.take());
    if let Some(child_end) = vfork {
        task.vfork_done = Some(VforkLink::new(child_end, args.has(CLONE_VM)));
    }
    if args.stack != 0 {
        cpu.set_reg(Reg::Sp, args.stack);
    }
    if args.has(CLONE_SETTLS) {
        cpu.set_reg(Reg::TpidrEl0, args.tls);
    }
    let me = task.pid();
    let mm = task.mm.read();
    if args.has(CLONE_CHILD_SETTID) {
        let _ = mm.write_u32(GuestAddr(args.child_tid), me);
    }
    if args.has(CLONE_PARENT_SETTID) {
        let _ = mm.write_u32(GuestAddr(args.parent_tid), me);
    }
    drop(mm);
    if args.has(CLONE_CHILD_CLEARTID) {
        task.clear_child_tid = args.child_tid;
    }
}
