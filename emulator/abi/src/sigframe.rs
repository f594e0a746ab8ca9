//! arm64's signal frame (`arch/arm64/include/uapi/asm/sigcontext.h`,
//! `arch/arm64/include/uapi/asm/ucontext.h`, `struct rt_sigframe` in
//! `arch/arm64/kernel/signal.c`): the offsets a handler and `rt_sigreturn` see.
//!
//! ```text
//!   struct rt_sigframe { siginfo_t info; struct ucontext uc; }
//!   struct ucontext { uc_flags; uc_link; stack_t uc_stack; sigset_t uc_sigmask;
//!                     (padding to 1024 signal bits); struct sigcontext uc_mcontext; }
//!   struct sigcontext { fault_address; regs[31]; sp; pc; pstate; __reserved[4096] (16-aligned) }
//! ```
//!
//! `__reserved` holds a chain of records, each starting with `{ magic: u32, size: u32 }`:
//! `fpsimd_context` first, then optional ones (`esr_context` for faults), then a zero header.

use crate::guest_struct;

/// Where `struct ucontext` starts in `struct rt_sigframe` (after the 128-byte `siginfo_t`).
pub const RT_SIGFRAME_UC: u64 = 128;
/// Where `uc.uc_mcontext` (`struct sigcontext`) starts in `struct rt_sigframe`.
pub const RT_SIGFRAME_MCONTEXT: u64 = RT_SIGFRAME_UC + UC_MCONTEXT;
/// `sizeof(struct rt_sigframe)`.
pub const RT_SIGFRAME_SIZE: u64 = RT_SIGFRAME_UC + UC_MCONTEXT + SC_RESERVED + SC_RESERVED_SIZE;

/// Offsets in `struct ucontext`.
pub const UC_FLAGS: u64 = 0;
pub const UC_LINK: u64 = 8;
pub const UC_STACK: u64 = 16;
pub const UC_SIGMASK: u64 = 40;
/// `uc_mcontext`, 16-aligned after the 128-byte signal set area.
pub const UC_MCONTEXT: u64 = 176;

/// Offsets in `struct sigcontext`.
pub const SC_FAULT_ADDRESS: u64 = 0;
pub const SC_REGS: u64 = 8;
pub const SC_SP: u64 = 256;
pub const SC_PC: u64 = 264;
pub const SC_PSTATE: u64 = 272;
pub const SC_RESERVED: u64 = 288;
pub const SC_RESERVED_SIZE: u64 = 4096;

/// The record magics in `__reserved`.
pub const FPSIMD_MAGIC: u32 = 0x4650_8001;
pub const ESR_MAGIC: u32 = 0x4553_5201;
pub const EXTRA_MAGIC: u32 = 0x4558_5401;
pub const SVE_MAGIC: u32 = 0x5356_4501;

/// The PSTATE bits a frame saves and restores for user code: the condition flags.
pub const PSTATE_NZCV: u64 = 0xf000_0000;

guest_struct! {
    /// `struct fpsimd_context`: the FP/SIMD registers, 528 bytes.
    pub struct FpsimdContext: 528 {
        0 => pub magic: u32,
        4 => pub size: u32,
        8 => pub fpsr: u32,
        12 => pub fpcr: u32,
        16 => pub vregs: [u128; 32],
    }
}

guest_struct! {
    /// `struct esr_context`: the exception syndrome of a fault, 16 bytes.
    #[derive(Default)]
    pub struct EsrContext: 16 {
        0 => pub magic: u32,
        4 => pub size: u32,
        8 => pub esr: u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj::GuestObj;
    use crate::obj::testing::round_trip;

    #[test]
    fn test_frame_matches_the_arm64_kernel() {
        assert_eq!(RT_SIGFRAME_SIZE, 4688);
        assert_eq!((RT_SIGFRAME_UC + UC_MCONTEXT) % 16, 0);
        assert_eq!((RT_SIGFRAME_UC + UC_MCONTEXT + SC_RESERVED) % 16, 0);
        assert_eq!(SC_REGS + 31 * 8, SC_SP);
        assert_eq!(FpsimdContext::SIZE, 528);
        assert_eq!(EsrContext::SIZE, 16);
        let mut vregs = [0u128; 32];
        vregs[31] = u128::MAX - 1;
        round_trip(&FpsimdContext { magic: FPSIMD_MAGIC, size: 528, fpsr: 1, fpcr: 2, vregs });
        round_trip(&EsrContext { magic: ESR_MAGIC, size: 16, esr: 0x9200_0046 });
    }
}
