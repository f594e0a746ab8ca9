//! The aarch64 `rt_sigframe` that runs a guest handler and that `rt_sigreturn` unwinds (after
//! `arch/arm64/kernel/signal.c`), and the alternate signal stack it may sit on.
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

use elfvisor_abi::obj::GuestObj;
use elfvisor_abi::sigframe::{
    ESR_MAGIC, EsrContext, FPSIMD_MAGIC, FpsimdContext, PSTATE_NZCV, RT_SIGFRAME_MCONTEXT,
    RT_SIGFRAME_SIZE, RT_SIGFRAME_UC, SC_FAULT_ADDRESS, SC_PC, SC_PSTATE, SC_REGS, SC_RESERVED,
    SC_SP, UC_SIGMASK, UC_STACK,
};
use elfvisor_abi::signal::{
    MINSIGSTKSZ, SA_ONSTACK, SA_RESTORER, SA_SIGINFO, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK,
    StackT, UNBLOCKABLE,
};
use elfvisor_abi::{Errno, GuestAddr, Signo};
use elfvisor_engine::{Cpu, Reg};

use super::info::{Detail, SigInfo};
use crate::task::types::Termination;
use crate::task::{ExitScope, Task};

/// Encodes `value` into `frame` at `off`.
fn put<T: GuestObj>(frame: &mut [u8], off: u64, value: &T) {
    value.encode(&mut frame[off as usize..off as usize + T::SIZE]);
}

/// Decodes a `T` from `frame` at `off`.
fn get<T: GuestObj>(frame: &[u8], off: u64) -> T {
    T::decode(&frame[off as usize..])
}

/// Builds the `rt_sigframe` and points the registers at the handler.
pub(super) fn setup_frame(
    task: &mut Task,
    cpu: &mut dyn Cpu,
    info: &SigInfo,
    handler: u64,
) -> Result<(), Errno> {
    let slot = usize::from(info.signo.0 - 1);
    let action = task.sigactions().get(slot);
    let sp = cpu.reg(Reg::Sp);
    let altstack = task.altstack;
    let on_altstack = on_sig_stack(task, sp);
    let top = if action.flags & SA_ONSTACK != 0 && altstack.size > 0 && !on_altstack {
        altstack.sp + altstack.size
    } else {
        sp
    };
    let record = top.checked_sub(16).ok_or(Errno::EFAULT)? & !15;
    let frame = record.checked_sub(RT_SIGFRAME_SIZE).ok_or(Errno::EFAULT)? & !15;

    let mut buf = vec![0u8; (RT_SIGFRAME_SIZE + 16) as usize];
    put(&mut buf, 0, &info.to_guest());
    // uc_stack keeps the alternate stack as it was set (Linux's __save_altstack); an
    // SS_AUTODISARM stack is disarmed while the handler runs, and sigreturn restores it.
    put(&mut buf, RT_SIGFRAME_UC + UC_STACK, &altstack);
    if altstack.flags & SS_AUTODISARM != 0 {
        task.altstack = StackT::DISABLED;
    }
    // After rt_sigsuspend the handler returns to the mask from before the call.
    let saved_mask = task.saved_sigmask.take().unwrap_or(task.sigmask);
    put(&mut buf, RT_SIGFRAME_UC + UC_SIGMASK, &saved_mask);
    let fault = match info.detail {
        Detail::Fault { addr } => addr,
        Detail::Sender { .. } | Detail::Child { .. } | Detail::Queued { .. } | Detail::Given(_) => {
            0
        }
    };
    put(&mut buf, RT_SIGFRAME_MCONTEXT + SC_FAULT_ADDRESS, &fault);
    let regs: [u64; 31] = std::array::from_fn(|i| cpu.reg(Reg::X(i as u8)));
    put(&mut buf, RT_SIGFRAME_MCONTEXT + SC_REGS, &regs);
    put(&mut buf, RT_SIGFRAME_MCONTEXT + SC_SP, &sp);
    put(&mut buf, RT_SIGFRAME_MCONTEXT + SC_PC, &cpu.reg(Reg::Pc));
    put(&mut buf, RT_SIGFRAME_MCONTEXT + SC_PSTATE, &(cpu.reg(Reg::Nzcv) & PSTATE_NZCV));
    // __reserved: fpsimd_context, then esr_context for a fault, then the zero terminator
    // record (magic 0, size 0), which the zeroed buffer already holds.
    let fpsimd = FpsimdContext {
        magic: FPSIMD_MAGIC,
        size: FpsimdContext::SIZE as u32,
        fpsr: cpu.reg(Reg::Fpsr) as u32,
        fpcr: cpu.reg(Reg::Fpcr) as u32,
        vregs: std::array::from_fn(|i| cpu.vreg(i as u8)),
    };
    put(&mut buf, RT_SIGFRAME_MCONTEXT + SC_RESERVED, &fpsimd);
    if let Detail::Fault { .. } = info.detail {
        let esr = EsrContext { magic: ESR_MAGIC, size: EsrContext::SIZE as u32, esr: 0 };
        put(&mut buf, RT_SIGFRAME_MCONTEXT + SC_RESERVED + FpsimdContext::SIZE as u64, &esr);
    }
    // The frame record {fp, lr} above the frame, as x29 will point at it.
    put(&mut buf, record - frame, &[regs[29], regs[30]]);
    task.mm.read().copy_out(GuestAddr(frame), &buf[..(record + 16 - frame) as usize])?;

    let restorer = if action.flags & SA_RESTORER != 0 {
        action.restorer
    } else {
        task.group().sigreturn_trampoline()
    };
    cpu.set_reg(Reg::X(0), u64::from(info.signo.0));
    if action.flags & SA_SIGINFO != 0 {
        cpu.set_reg(Reg::X(1), frame);
        cpu.set_reg(Reg::X(2), frame + RT_SIGFRAME_UC);
    }
    cpu.set_reg(Reg::Sp, frame);
    cpu.set_reg(Reg::X(29), record);
    cpu.set_reg(Reg::X(30), restorer);
    cpu.set_reg(Reg::Pc, handler);
    Ok(())
}

/// Linux's on_sig_stack: `sp` is on this thread's alternate stack (never with SS_AUTODISARM).
fn on_sig_stack(task: &Task, sp: u64) -> bool {
    let StackT { sp: ss_sp, flags, size } = task.altstack;
    flags & SS_AUTODISARM == 0 && size != 0 && sp > ss_sp && sp - ss_sp <= size
}

/// The alternate stack as `sigaltstack` reports it to code running at `sp`.
pub fn altstack_report(task: &Task, sp: u64) -> StackT {
    let StackT { sp: ss_sp, flags, size } = task.altstack;
    let mode = if size == 0 {
        SS_DISABLE
    } else if on_sig_stack(task, sp) {
        SS_ONSTACK
    } else {
        0
    };
    StackT { sp: ss_sp, flags: mode | (flags & SS_AUTODISARM), size }
}

/// Linux's do_sigaltstack for a new stack, from code running at `sp`.
pub fn set_altstack(task: &mut Task, new: StackT, sp: u64) -> Result<(), Errno> {
    let StackT { flags, size, .. } = new;
    if on_sig_stack(task, sp) {
        return Err(Errno::EPERM);
    }
    let mode = flags & !SS_AUTODISARM;
    if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
        return Err(Errno::EINVAL);
    }
    if task.altstack == new {
        return Ok(());
    }
    if mode == SS_DISABLE {
        task.altstack = StackT { sp: 0, flags, size: 0 };
    } else if size < MINSIGSTKSZ {
        return Err(Errno::ENOMEM);
    } else {
        task.altstack = new;
    }
    Ok(())
}

/// `rt_sigreturn`: restores the registers, FP/SIMD state and signal mask saved in the frame at
/// sp. A frame that cannot be read kills the process with SIGSEGV, as on Linux.
pub fn sigreturn(task: &mut Task, cpu: &mut dyn Cpu) {
    let frame = cpu.reg(Reg::Sp);
    let mut buf = vec![0u8; RT_SIGFRAME_SIZE as usize];
    if frame % 16 != 0 || task.mm.read().copy_in(GuestAddr(frame), &mut buf).is_err() {
        task.request_exit(Termination::Signaled(Signo::SIGSEGV), ExitScope::Group);
        return;
    }
    let regs: [u64; 31] = get(&buf, RT_SIGFRAME_MCONTEXT + SC_REGS);
    for (i, r) in regs.iter().enumerate() {
        cpu.set_reg(Reg::X(i as u8), *r);
    }
    let sp: u64 = get(&buf, RT_SIGFRAME_MCONTEXT + SC_SP);
    cpu.set_reg(Reg::Sp, sp);
    cpu.set_reg(Reg::Pc, get(&buf, RT_SIGFRAME_MCONTEXT + SC_PC));
    cpu.set_reg(Reg::Nzcv, get::<u64>(&buf, RT_SIGFRAME_MCONTEXT + SC_PSTATE) & PSTATE_NZCV);
    task.sigmask = get::<u64>(&buf, RT_SIGFRAME_UC + UC_SIGMASK) & !UNBLOCKABLE;
    let fpsimd: FpsimdContext = get(&buf, RT_SIGFRAME_MCONTEXT + SC_RESERVED);
    if fpsimd.magic == FPSIMD_MAGIC {
        cpu.set_reg(Reg::Fpsr, u64::from(fpsimd.fpsr));
        cpu.set_reg(Reg::Fpcr, u64::from(fpsimd.fpcr));
        for (i, v) in fpsimd.vregs.iter().enumerate() {
            cpu.set_vreg(i as u8, *v);
        }
    }
    // restore_altstack: the stack saved in uc_stack, as of the restored stack pointer.
    let saved: StackT = get(&buf, RT_SIGFRAME_UC + UC_STACK);
    if set_altstack(task, saved, sp).is_err() {
        task.request_exit(Termination::Signaled(Signo::SIGSEGV), ExitScope::Group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_layout_matches_the_arm64_kernel() {
        // struct rt_sigframe is 4688 bytes; sigcontext.__reserved is 16-aligned at 592.
        assert_eq!(RT_SIGFRAME_SIZE, 4688);
        assert_eq!(RT_SIGFRAME_MCONTEXT + SC_RESERVED, 592);
        assert_eq!(RT_SIGFRAME_MCONTEXT % 16, 0);
        assert_eq!((RT_SIGFRAME_MCONTEXT + SC_RESERVED) % 16, 0);
    }
}
