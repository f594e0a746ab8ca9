//! Signal delivery: pending signals, default actions, and the aarch64 `rt_sigframe` that runs a
//! guest handler and that `rt_sigreturn` unwinds (after `arch/arm64/kernel/signal.c`).
//!
//! Frame layout at the handler's sp (all offsets from the frame start):
//!
//! ```text
//!   0     siginfo_t (128 bytes)                               x1 points here (SA_SIGINFO)
//!   128   ucontext: uc_flags, uc_link, uc_stack (24), uc_sigmask (8), padding to 1024 bits
//!   304   uc_mcontext (sigcontext, 16-aligned): fault_address, x0..x30, sp, pc, pstate
//!   592     __reserved[4096]: fpsimd_context (magic 0x46508001, 528 bytes), esr_context
//!           for faults, then a zero terminator
//!   4688  frame record {fp, lr} that x29 points at
//! ```

use elfvisor_abi::{GuestAddr, Signo};
use elfvisor_engine::{Cpu, Reg};

use crate::process::{Process, SigAction, Termination};

pub const SA_SIGINFO: u64 = 0x4;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SA_RESTORER: u64 = 0x0400_0000;
const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;

/// `si_code` values.
pub const SI_USER: i32 = 0;
pub const SI_TKILL: i32 = -6;
pub const SI_QUEUE: i32 = -1;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const BUS_ADRERR: i32 = 2;
pub const ILL_ILLOPC: i32 = 1;
pub const TRAP_BRKPT: i32 = 1;

const SIGINFO_SIZE: u64 = 128;
const UCONTEXT: u64 = SIGINFO_SIZE;
const UC_STACK: u64 = UCONTEXT + 16;
const UC_SIGMASK: u64 = UCONTEXT + 40;
const MCONTEXT: u64 = UCONTEXT + 176;
const MC_REGS: u64 = MCONTEXT + 8;
const MC_SP: u64 = MCONTEXT + 256;
const MC_PC: u64 = MCONTEXT + 264;
const MC_PSTATE: u64 = MCONTEXT + 272;
const MC_RESERVED: u64 = MCONTEXT + 288;
const RESERVED_SIZE: u64 = 4096;
/// sizeof(struct rt_sigframe), 16-aligned.
pub const FRAME_SIZE: u64 = MC_RESERVED + RESERVED_SIZE;
const FPSIMD_MAGIC: u32 = 0x4650_8001;
const FPSIMD_SIZE: u32 = 528;
const ESR_MAGIC: u32 = 0x4553_5201;
const NZCV_MASK: u64 = 0xf000_0000;

/// A signal on its way to the guest: what `siginfo_t` will say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: Signo,
    pub code: i32,
    pub detail: Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Sent by a process (`kill`, `tgkill`): its pid and uid.
    Sender { pid: u32, uid: u32 },
    /// A fault at this address (SIGSEGV, SIGBUS, SIGILL, SIGTRAP), with the ESR if known.
    Fault { addr: u64 },
    /// SIGCHLD about a child: its pid and uid, and its exit code or signal.
    Child { pid: u32, uid: u32, status: i32 },
    /// `sigqueue`/`rt_sigqueueinfo`: the sender's pid and uid and the value it attached.
    Queued { pid: u32, uid: u32, value: u64 },
}

impl SigInfo {
    /// The guest's `siginfo_t` bytes.
    pub fn to_bytes(&self) -> [u8; SIGINFO_SIZE as usize] {
        let mut b = [0u8; SIGINFO_SIZE as usize];
        b[0..4].copy_from_slice(&i32::from(self.signo.0).to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        match self.detail {
            Detail::Sender { pid, uid } => {
                b[16..20].copy_from_slice(&pid.to_le_bytes());
                b[20..24].copy_from_slice(&uid.to_le_bytes());
            }
            Detail::Fault { addr } => b[16..24].copy_from_slice(&addr.to_le_bytes()),
            Detail::Child { pid, uid, status } => {
                b[16..20].copy_from_slice(&pid.to_le_bytes());
                b[20..24].copy_from_slice(&uid.to_le_bytes());
                b[24..28].copy_from_slice(&status.to_le_bytes());
            }
            Detail::Queued { pid, uid, value } => {
                b[16..20].copy_from_slice(&pid.to_le_bytes());
                b[20..24].copy_from_slice(&uid.to_le_bytes());
                b[24..32].copy_from_slice(&value.to_le_bytes());
            }
        }
        b
    }
}

/// What a signal does by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    /// Terminate with a core dump (the emulator dies of the signal; no core is written).
    Core,
    Ignore,
    Stop,
}

pub fn default_action(sig: Signo) -> DefaultAction {
    match sig {
        Signo::SIGQUIT
        | Signo::SIGILL
        | Signo::SIGTRAP
        | Signo::SIGABRT
        | Signo::SIGBUS
        | Signo::SIGFPE
        | Signo::SIGSEGV
        | Signo::SIGXCPU
        | Signo::SIGXFSZ
        | Signo::SIGSYS => DefaultAction::Core,
        Signo::SIGCHLD | Signo::SIGCONT | Signo::SIGURG | Signo::SIGWINCH => DefaultAction::Ignore,
        Signo::SIGSTOP | Signo::SIGTSTP | Signo::SIGTTIN | Signo::SIGTTOU => DefaultAction::Stop,
        _ => DefaultAction::Terminate,
    }
}

fn bit(sig: Signo) -> u64 {
    1 << (sig.0 - 1)
}

/// Synchronous faults cannot be blocked or ignored: like Linux's force_sig_fault, a blocked or
/// ignored one reverts to the default action (which kills the process). It goes to the
/// faulting thread.
pub fn force(proc: &mut Process, info: SigInfo) {
    let slot = usize::from(info.signo.0 - 1);
    let blocked = proc.sigmask & bit(info.signo) != 0;
    let mut action = proc.sigactions.get(slot);
    if blocked || action.handler == SIG_IGN {
        action.handler = SIG_DFL;
        proc.sigactions.set(slot, action);
        proc.sigmask &= !bit(info.signo);
    }
    proc.pending().push(info);
}

/// Queues a signal for the process (a classic signal already pending is not queued twice);
/// a thread that does not block it takes it.
pub fn send(proc: &mut Process, info: SigInfo) {
    queue(&mut proc.group.pending(), info);
    proc.group.kick_all();
}

/// Queues a signal for one thread, and interrupts it if it is another one: a running vCPU
/// stops, a blocking host call returns EINTR.
pub fn send_to_thread(thread: &crate::thread::ThreadShared, info: SigInfo) {
    queue(&mut thread.pending(), info);
    // SAFETY: gettid has no preconditions.
    if thread.host_tid() != unsafe { libc::gettid() } {
        thread.kick();
        crate::hostsig::interrupt(thread.host_tid());
    }
}

fn queue(pending: &mut Vec<SigInfo>, info: SigInfo) {
    let classic = info.signo.0 < Signo::SIGRTMIN;
    if classic && pending.iter().any(|p| p.signo == info.signo) {
        return;
    }
    pending.push(info);
}

/// This thread's pending signals then the process's, as one list (a snapshot).
fn all_pending(proc: &Process) -> Vec<SigInfo> {
    let mut all = proc.pending().clone();
    all.extend(proc.group.pending().iter().copied());
    all
}

/// Takes the pending signal `want` accepts that Linux would deliver first: this thread's before
/// the process's; within each, a synchronous fault signal first, then the lowest number, and
/// queued instances of one real-time signal in the order they were sent (next_signal).
pub fn take_pending(proc: &Process, want: impl Fn(&SigInfo) -> bool) -> Option<SigInfo> {
    fn pick(list: &mut Vec<SigInfo>, want: &impl Fn(&SigInfo) -> bool) -> Option<SigInfo> {
        const SYNCHRONOUS: [Signo; 6] = [
            Signo::SIGSEGV,
            Signo::SIGBUS,
            Signo::SIGILL,
            Signo::SIGTRAP,
            Signo::SIGFPE,
            Signo::SIGSYS,
        ];
        let i = list
            .iter()
            .enumerate()
            .filter(|(_, p)| want(p))
            .min_by_key(|(i, p)| (!SYNCHRONOUS.contains(&p.signo), p.signo.0, *i))?
            .0;
        Some(list.remove(i))
    }
    if let Some(info) = pick(&mut proc.pending(), &want) {
        return Some(info);
    }
    pick(&mut proc.group.pending(), &want)
}

/// What delivering the next pending signal would do to an interrupted system call: `Some(flags)`
/// when a guest handler runs (its `sa_flags`), `None` when nothing runs (no deliverable signal,
/// or only ignored ones) or the default action stops or ends the process.
pub fn next_handler(proc: &Process) -> Option<u64> {
    all_pending(proc).iter().filter(|p| proc.sigmask & bit(p.signo) == 0).find_map(|p| {
        let action = proc.sigactions.get(usize::from(p.signo.0 - 1));
        match action.handler {
            SIG_IGN => None,
            SIG_DFL => None,
            _ => Some(action.flags),
        }
    })
}

/// Whether a pending, unblocked signal would do something: run a handler or take a default
/// action other than ignoring.
pub fn has_deliverable(proc: &Process) -> bool {
    all_pending(proc).iter().filter(|p| proc.sigmask & bit(p.signo) == 0).any(|p| {
        match proc.sigactions.get(usize::from(p.signo.0 - 1)).handler {
            SIG_IGN => false,
            SIG_DFL => default_action(p.signo) != DefaultAction::Ignore,
            _ => true,
        }
    })
}

/// The bit set of pending signals (this thread's and the process's).
pub fn pending_set(proc: &Process) -> u64 {
    all_pending(proc).iter().fold(0, |set, p| set | bit(p.signo))
}

/// Delivers every deliverable pending signal: ignores, terminates, or sets up a handler frame
/// on `cpu` (the guest then resumes in the handler). Stops early once the process ends.
pub fn deliver(proc: &mut Process, cpu: &mut dyn Cpu) {
    while proc.exit.is_none() {
        let mask = proc.sigmask;
        let Some(info) = take_pending(proc, |p| mask & bit(p.signo) == 0) else {
            return;
        };
        let slot = usize::from(info.signo.0 - 1);
        let action = proc.sigactions.get(slot);
        match action.handler {
            SIG_IGN => {}
            SIG_DFL => match default_action(info.signo) {
                DefaultAction::Ignore => {}
                // The host stops the emulator with this very signal, so a parent waiting with
                // WUNTRACED sees it; delivery goes on once the process is continued.
                DefaultAction::Stop => crate::hostsig::stop_self(info.signo),
                DefaultAction::Terminate | DefaultAction::Core => {
                    proc.exit = Some(Termination::Signaled(info.signo));
                    proc.thread_exit = false;
                }
            },
            handler => {
                if setup_frame(proc, cpu, &info, handler).is_err() {
                    // No room for the frame: Linux kills the process with SIGSEGV.
                    proc.exit = Some(Termination::Signaled(Signo::SIGSEGV));
                    proc.thread_exit = false;
                    return;
                }
                if action.flags & SA_RESETHAND != 0 {
                    proc.sigactions.set(slot, SigAction { handler: SIG_DFL, ..action });
                }
                let mut mask = proc.sigmask | action.mask;
                if action.flags & SA_NODEFER == 0 {
                    mask |= bit(info.signo);
                }
                proc.sigmask = mask & !(bit(Signo::SIGKILL) | bit(Signo::SIGSTOP));
                // One frame per entry: the handler runs before any further signal.
                return;
            }
        }
    }
}

fn u64s(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Builds the `rt_sigframe` and points the registers at the handler.
fn setup_frame(
    proc: &mut Process,
    cpu: &mut dyn Cpu,
    info: &SigInfo,
    handler: u64,
) -> Result<(), elfvisor_abi::Errno> {
    let slot = usize::from(info.signo.0 - 1);
    let action = proc.sigactions.get(slot);
    let sp = cpu.reg(Reg::Sp);
    let (ss_sp, ss_flags, ss_size) = proc.altstack;
    let on_altstack = on_sig_stack(proc, sp);
    let top = if action.flags & SA_ONSTACK != 0 && ss_size > 0 && !on_altstack {
        ss_sp + ss_size
    } else {
        sp
    };
    let record = top.checked_sub(16).ok_or(elfvisor_abi::Errno::EFAULT)? & !15;
    let frame = record.checked_sub(FRAME_SIZE).ok_or(elfvisor_abi::Errno::EFAULT)? & !15;

    let mut buf = vec![0u8; (FRAME_SIZE + 16) as usize];
    let mut put = |off: u64, bytes: &[u8]| {
        buf[off as usize..off as usize + bytes.len()].copy_from_slice(bytes)
    };
    put(0, &info.to_bytes());
    // uc_stack keeps the alternate stack as it was set (Linux's __save_altstack); an
    // SS_AUTODISARM stack is disarmed while the handler runs, and sigreturn restores it.
    put(UC_STACK, &ss_sp.to_le_bytes());
    put(UC_STACK + 8, &ss_flags.to_le_bytes());
    put(UC_STACK + 16, &ss_size.to_le_bytes());
    if ss_flags & SS_AUTODISARM != 0 {
        proc.altstack = NO_ALTSTACK;
    }
    // After rt_sigsuspend the handler returns to the mask from before the call.
    let saved_mask = proc.saved_sigmask.take().unwrap_or(proc.sigmask);
    put(UC_SIGMASK, &saved_mask.to_le_bytes());
    let fault = match info.detail {
        Detail::Fault { addr } => addr,
        Detail::Sender { .. } | Detail::Child { .. } | Detail::Queued { .. } => 0,
    };
    put(MCONTEXT, &fault.to_le_bytes());
    let regs: Vec<u64> = (0..31).map(|i| cpu.reg(Reg::X(i))).collect();
    put(MC_REGS, &u64s(&regs));
    put(MC_SP, &sp.to_le_bytes());
    put(MC_PC, &cpu.reg(Reg::Pc).to_le_bytes());
    put(MC_PSTATE, &(cpu.reg(Reg::Nzcv) & NZCV_MASK).to_le_bytes());
    // fpsimd_context
    let mut at = MC_RESERVED;
    put(at, &FPSIMD_MAGIC.to_le_bytes());
    put(at + 4, &FPSIMD_SIZE.to_le_bytes());
    put(at + 8, &(cpu.reg(Reg::Fpsr) as u32).to_le_bytes());
    put(at + 12, &(cpu.reg(Reg::Fpcr) as u32).to_le_bytes());
    for i in 0..32u8 {
        put(at + 16 + 16 * u64::from(i), &cpu.vreg(i).to_le_bytes());
    }
    at += u64::from(FPSIMD_SIZE);
    if let Detail::Fault { .. } = info.detail {
        put(at, &ESR_MAGIC.to_le_bytes());
        put(at + 4, &16u32.to_le_bytes());
        at += 16;
    }
    // The terminator record (magic 0, size 0) at `at` is already zero.
    let _ = at;
    // The frame record {fp, lr} above the frame, as x29 will point at it.
    put(record - frame, &u64s(&[regs[29], regs[30]]));
    proc.mm.read().copy_out(GuestAddr(frame), &buf[..(record + 16 - frame) as usize])?;

    let restorer =
        if action.flags & SA_RESTORER != 0 { action.restorer } else { proc.sigreturn_trampoline };
    cpu.set_reg(Reg::X(0), u64::from(info.signo.0));
    if action.flags & SA_SIGINFO != 0 {
        cpu.set_reg(Reg::X(1), frame);
        cpu.set_reg(Reg::X(2), frame + UCONTEXT);
    }
    cpu.set_reg(Reg::Sp, frame);
    cpu.set_reg(Reg::X(29), record);
    cpu.set_reg(Reg::X(30), restorer);
    cpu.set_reg(Reg::Pc, handler);
    Ok(())
}

/// `rt_sigreturn`: restores the registers, FP/SIMD state and signal mask saved in the frame at
/// sp. A frame that cannot be read kills the process with SIGSEGV, as on Linux.
const SS_ONSTACK: u32 = 1;
const SS_DISABLE: u32 = 2;
/// No alternate stack: what a process starts with, execve and a new thread leave.
pub const NO_ALTSTACK: (u64, u32, u64) = (0, SS_DISABLE, 0);
const SS_AUTODISARM: u32 = 1 << 31;
/// arm64's MINSIGSTKSZ.
const MINSIGSTKSZ: u64 = 5120;

/// Linux's on_sig_stack: `sp` is on this thread's alternate stack (never with SS_AUTODISARM).
fn on_sig_stack(proc: &Process, sp: u64) -> bool {
    let (ss_sp, flags, size) = proc.altstack;
    flags & SS_AUTODISARM == 0 && size != 0 && sp > ss_sp && sp - ss_sp <= size
}

/// The alternate stack as `sigaltstack` reports it to code running at `sp`.
pub fn altstack_report(proc: &Process, sp: u64) -> (u64, u32, u64) {
    let (ss_sp, flags, size) = proc.altstack;
    let mode = if size == 0 {
        SS_DISABLE
    } else if on_sig_stack(proc, sp) {
        SS_ONSTACK
    } else {
        0
    };
    (ss_sp, mode | (flags & SS_AUTODISARM), size)
}

/// Linux's do_sigaltstack for a new stack, from code running at `sp`.
pub fn set_altstack(
    proc: &mut Process,
    (ss_sp, flags, size): (u64, u32, u64),
    sp: u64,
) -> Result<(), elfvisor_abi::Errno> {
    use elfvisor_abi::Errno;
    if on_sig_stack(proc, sp) {
        return Err(Errno::EPERM);
    }
    let mode = flags & !SS_AUTODISARM;
    if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
        return Err(Errno::EINVAL);
    }
    if proc.altstack == (ss_sp, flags, size) {
        return Ok(());
    }
    if mode == SS_DISABLE {
        proc.altstack = (0, flags, 0);
    } else if size < MINSIGSTKSZ {
        return Err(Errno::ENOMEM);
    } else {
        proc.altstack = (ss_sp, flags, size);
    }
    Ok(())
}

pub fn sigreturn(proc: &mut Process, cpu: &mut dyn Cpu) {
    let frame = cpu.reg(Reg::Sp);
    let mut buf = vec![0u8; FRAME_SIZE as usize];
    if frame % 16 != 0 || proc.mm.read().copy_in(GuestAddr(frame), &mut buf).is_err() {
        proc.exit = Some(Termination::Signaled(Signo::SIGSEGV));
        return;
    }
    let word = |off: u64| {
        u64::from_le_bytes(buf[off as usize..off as usize + 8].try_into().expect("8 bytes"))
    };
    for i in 0..31u8 {
        cpu.set_reg(Reg::X(i), word(MC_REGS + 8 * u64::from(i)));
    }
    cpu.set_reg(Reg::Sp, word(MC_SP));
    cpu.set_reg(Reg::Pc, word(MC_PC));
    cpu.set_reg(Reg::Nzcv, word(MC_PSTATE) & NZCV_MASK);
    proc.sigmask = word(UC_SIGMASK) & !(bit(Signo::SIGKILL) | bit(Signo::SIGSTOP));
    let magic = u32::from_le_bytes(
        buf[MC_RESERVED as usize..MC_RESERVED as usize + 4].try_into().expect("4"),
    );
    if magic == FPSIMD_MAGIC {
        let at = MC_RESERVED as usize;
        let fpsr = u32::from_le_bytes(buf[at + 8..at + 12].try_into().expect("4"));
        let fpcr = u32::from_le_bytes(buf[at + 12..at + 16].try_into().expect("4"));
        cpu.set_reg(Reg::Fpsr, u64::from(fpsr));
        cpu.set_reg(Reg::Fpcr, u64::from(fpcr));
        for i in 0..32usize {
            let off = at + 16 + 16 * i;
            let v = u128::from_le_bytes(buf[off..off + 16].try_into().expect("16 bytes"));
            cpu.set_vreg(i as u8, v);
        }
    }
    // restore_altstack: the stack saved in uc_stack, as of the restored stack pointer.
    let saved = (word(UC_STACK), word(UC_STACK + 8) as u32, word(UC_STACK + 16));
    if set_altstack(proc, saved, word(MC_SP)).is_err() {
        proc.exit = Some(Termination::Signaled(Signo::SIGSEGV));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_layout_matches_the_arm64_kernel() {
        // struct rt_sigframe is 4688 bytes; sigcontext.__reserved is 16-aligned at 592.
        assert_eq!(FRAME_SIZE, 4688);
        assert_eq!(MC_RESERVED, 592);
        assert_eq!(MCONTEXT % 16, 0);
        assert_eq!(MC_RESERVED % 16, 0);
    }

    #[test]
    fn test_siginfo_bytes() {
        let info = SigInfo {
            signo: Signo::SIGSEGV,
            code: SEGV_MAPERR,
            detail: Detail::Fault { addr: 0x1234 },
        };
        let b = info.to_bytes();
        assert_eq!(&b[0..4], &11i32.to_le_bytes());
        assert_eq!(&b[8..12], &1i32.to_le_bytes());
        assert_eq!(&b[16..24], &0x1234u64.to_le_bytes());
        let info = SigInfo {
            signo: Signo::SIGUSR1,
            code: SI_TKILL,
            detail: Detail::Sender { pid: 7, uid: 0 },
        };
        let b = info.to_bytes();
        assert_eq!(&b[8..12], &(-6i32).to_le_bytes());
        assert_eq!(&b[16..20], &7u32.to_le_bytes());
    }

    #[test]
    fn test_default_actions() {
        assert_eq!(default_action(Signo::SIGSEGV), DefaultAction::Core);
        assert_eq!(default_action(Signo::SIGTERM), DefaultAction::Terminate);
        assert_eq!(default_action(Signo::SIGCHLD), DefaultAction::Ignore);
        assert_eq!(default_action(Signo(40)), DefaultAction::Terminate);
    }
}
