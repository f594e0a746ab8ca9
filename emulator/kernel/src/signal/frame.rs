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

use elfvisor_abi::{Errno, GuestAddr, Signo};
use elfvisor_engine::{Cpu, Reg};

use super::info::{
    AltStack, Detail, SA_ONSTACK, SA_RESTORER, SA_SIGINFO, SIGINFO_SIZE, SS_AUTODISARM, SS_DISABLE,
    SS_ONSTACK, SigInfo, bit,
};
use crate::task::types::Termination;
use crate::task::{ExitScope, Task};

const UCONTEXT: u64 = SIGINFO_SIZE as u64;
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

fn u64s(values: &[u64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
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
    let AltStack { sp: ss_sp, flags: ss_flags, size: ss_size } = task.altstack;
    let on_altstack = on_sig_stack(task, sp);
    let top = if action.flags & SA_ONSTACK != 0 && ss_size > 0 && !on_altstack {
        ss_sp + ss_size
    } else {
        sp
    };
    let record = top.checked_sub(16).ok_or(Errno::EFAULT)? & !15;
    let frame = record.checked_sub(FRAME_SIZE).ok_or(Errno::EFAULT)? & !15;

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
        task.altstack = AltStack::NONE;
    }
    // After rt_sigsuspend the handler returns to the mask from before the call.
    let saved_mask = task.saved_sigmask.take().unwrap_or(task.sigmask);
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
    task.mm.read().copy_out(GuestAddr(frame), &buf[..(record + 16 - frame) as usize])?;

    let restorer = if action.flags & SA_RESTORER != 0 {
        action.restorer
    } else {
        task.group().sigreturn_trampoline()
    };
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

/// arm64's MINSIGSTKSZ.
const MINSIGSTKSZ: u64 = 5120;

/// Linux's on_sig_stack: `sp` is on this thread's alternate stack (never with SS_AUTODISARM).
fn on_sig_stack(task: &Task, sp: u64) -> bool {
    let AltStack { sp: ss_sp, flags, size } = task.altstack;
    flags & SS_AUTODISARM == 0 && size != 0 && sp > ss_sp && sp - ss_sp <= size
}

/// The alternate stack as `sigaltstack` reports it to code running at `sp`.
pub fn altstack_report(task: &Task, sp: u64) -> AltStack {
    let AltStack { sp: ss_sp, flags, size } = task.altstack;
    let mode = if size == 0 {
        SS_DISABLE
    } else if on_sig_stack(task, sp) {
        SS_ONSTACK
    } else {
        0
    };
    AltStack { sp: ss_sp, flags: mode | (flags & SS_AUTODISARM), size }
}

/// Linux's do_sigaltstack for a new stack, from code running at `sp`.
pub fn set_altstack(task: &mut Task, new: AltStack, sp: u64) -> Result<(), Errno> {
    let AltStack { flags, size, .. } = new;
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
        task.altstack = AltStack { sp: 0, flags, size: 0 };
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
    let mut buf = vec![0u8; FRAME_SIZE as usize];
    if frame % 16 != 0 || task.mm.read().copy_in(GuestAddr(frame), &mut buf).is_err() {
        task.request_exit(Termination::Signaled(Signo::SIGSEGV), ExitScope::Group);
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
    task.sigmask = word(UC_SIGMASK) & !(bit(Signo::SIGKILL) | bit(Signo::SIGSTOP));
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
    let saved = AltStack {
        sp: word(UC_STACK),
        flags: word(UC_STACK + 8) as u32,
        size: word(UC_STACK + 16),
    };
    if set_altstack(task, saved, word(MC_SP)).is_err() {
        task.request_exit(Termination::Signaled(Signo::SIGSEGV), ExitScope::Group);
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
}
