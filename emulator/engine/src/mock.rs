//! A scripted engine for unit tests of kernel logic that needs no real CPU.
//!
//! A [`MockVcpu`] plays a list of [`MockStep`]s: each `Syscall` step loads x8 and x0..x5, calls
//! the handler (as the tcg engine does inside its hook) and records the x0 it left; an `Exit`
//! step returns that exit. The run ends when the handler asks to stop or the script runs out
//! (which reports [`Exit::Interrupted`]).
//!
//! Stops follow the crate's contract: a stop pending on entry returns [`Exit::Interrupted`]
//! before any step, one asked during a run (from a handler, or another thread) ends it at the
//! next step boundary, and every return answers the stops asked before it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Cpu, EngineError, Exit, Reg, Stopper, SyscallAction, SyscallHandler, Vcpu};

/// One scripted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MockStep {
    Syscall { nr: u64, args: [u64; 6] },
    Exit(Exit),
}

/// Registers plus a script.
#[derive(Debug, Default)]
pub struct MockVcpu {
    x: [u64; 31],
    sp: u64,
    pc: u64,
    nzcv: u64,
    tpidr: u64,
    fpcr: u64,
    fpsr: u64,
    q: [u128; 32],
    script: VecDeque<MockStep>,
    /// x0 after each served syscall, in order.
    pub results: Vec<u64>,
    /// How many TLB flushes the kernel asked for.
    pub tlb_flushes: usize,
    /// Code ranges the kernel asked to flush.
    pub code_flushes: Vec<(u64, u64)>,
    /// A stop asked and not yet answered by a return from `run`.
    stop_pending: Arc<AtomicBool>,
}

impl MockVcpu {
    pub fn new(script: impl IntoIterator<Item = MockStep>) -> MockVcpu {
        MockVcpu { script: script.into_iter().collect(), ..MockVcpu::default() }
    }
}

impl Cpu for MockVcpu {
    fn reg(&self, reg: Reg) -> u64 {
        match reg {
            Reg::X(n) => self.x[usize::from(n)],
            Reg::Sp => self.sp,
            Reg::Pc => self.pc,
            Reg::Nzcv => self.nzcv,
            Reg::TpidrEl0 => self.tpidr,
            Reg::Fpcr => self.fpcr,
            Reg::Fpsr => self.fpsr,
        }
    }

    fn set_reg(&mut self, reg: Reg, value: u64) {
        match reg {
            Reg::X(n) => self.x[usize::from(n)] = value,
            Reg::Sp => self.sp = value,
            Reg::Pc => self.pc = value,
            Reg::Nzcv => self.nzcv = value,
            Reg::TpidrEl0 => self.tpidr = value,
            Reg::Fpcr => self.fpcr = value,
            Reg::Fpsr => self.fpsr = value,
        }
    }

    fn vreg(&self, index: u8) -> u128 {
        self.q[usize::from(index)]
    }

    fn set_vreg(&mut self, index: u8, value: u128) {
        self.q[usize::from(index)] = value;
    }

    fn flush_tlb(&mut self) {
        self.tlb_flushes += 1;
    }

    fn flush_code(&mut self, start: elfvisor_abi::GuestAddr, end: elfvisor_abi::GuestAddr) {
        self.code_flushes.push((start.0, end.0));
    }
}

impl Vcpu for MockVcpu {
    fn run(&mut self, handler: &mut dyn SyscallHandler) -> Result<Exit, EngineError> {
        let exit = self.play(handler);
        // Every stop asked until now is answered by this return.
        self.stop_pending.store(false, Ordering::SeqCst);
        Ok(exit)
    }

    fn stopper(&self) -> Stopper {
        let pending = Arc::clone(&self.stop_pending);
        Stopper::new(move || pending.store(true, Ordering::SeqCst))
    }
}

impl MockVcpu {
    /// Plays steps until one ends the run; a pending stop ends it at a step boundary.
    fn play(&mut self, handler: &mut dyn SyscallHandler) -> Exit {
        loop {
            if self.stop_pending.load(Ordering::SeqCst) {
                return Exit::Interrupted;
            }
            let Some(step) = self.script.pop_front() else {
                return Exit::Interrupted;
            };
            match step {
                MockStep::Exit(exit) => return exit,
                MockStep::Syscall { nr, args } => {
                    self.x[8] = nr;
                    self.x[..6].copy_from_slice(&args);
                    self.pc += 4;
                    let action = handler.syscall(self);
                    self.results.push(self.x[0]);
                    if action == SyscallAction::Stop {
                        return Exit::Stopped;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl SyscallHandler for Echo {
        fn syscall(&mut self, cpu: &mut dyn Cpu) -> SyscallAction {
            let nr = cpu.reg(Reg::X(8));
            cpu.set_reg(Reg::X(0), nr * 10 + cpu.reg(Reg::X(0)));
            if nr == 94 { SyscallAction::Stop } else { SyscallAction::Continue }
        }
    }

    #[test]
    fn test_script_plays_syscalls_until_a_stop() {
        let mut vcpu = MockVcpu::new([
            MockStep::Syscall { nr: 63, args: [1, 0, 0, 0, 0, 0] },
            MockStep::Syscall { nr: 94, args: [2, 0, 0, 0, 0, 0] },
            MockStep::Syscall { nr: 64, args: [0; 6] },
        ]);
        assert_eq!(vcpu.run(&mut Echo).unwrap(), Exit::Stopped);
        assert_eq!(vcpu.results, vec![631, 942]);
        assert_eq!(vcpu.reg(Reg::Pc), 8);
        vcpu.run(&mut Echo).unwrap();
        assert_eq!(vcpu.results.len(), 3);
        assert_eq!(vcpu.run(&mut Echo).unwrap(), Exit::Interrupted);
    }

    #[test]
    fn test_a_stop_before_a_run_ends_it_at_once_and_is_spent() {
        let mut vcpu = MockVcpu::new([
            MockStep::Syscall { nr: 63, args: [1, 0, 0, 0, 0, 0] },
            MockStep::Syscall { nr: 94, args: [2, 0, 0, 0, 0, 0] },
        ]);
        vcpu.stopper().stop();
        assert_eq!(vcpu.run(&mut Echo).unwrap(), Exit::Interrupted);
        assert!(vcpu.results.is_empty(), "no step ran");
        assert_eq!(vcpu.reg(Reg::Pc), 0, "registers untouched");
        assert_eq!(vcpu.run(&mut Echo).unwrap(), Exit::Stopped, "the stop was spent");
        assert_eq!(vcpu.results, vec![631, 942]);
    }

    /// Asks its own vCPU to stop from inside the first call, as a kernel kicking itself does.
    struct StopSelf(Stopper);

    impl SyscallHandler for StopSelf {
        fn syscall(&mut self, _: &mut dyn Cpu) -> SyscallAction {
            self.0.stop();
            SyscallAction::Continue
        }
    }

    #[test]
    fn test_a_stop_during_a_run_ends_it_at_the_next_step_and_is_answered() {
        let mut vcpu = MockVcpu::new([
            MockStep::Syscall { nr: 63, args: [0; 6] },
            MockStep::Syscall { nr: 64, args: [0; 6] },
        ]);
        let mut handler = StopSelf(vcpu.stopper());
        assert_eq!(vcpu.run(&mut handler).unwrap(), Exit::Interrupted);
        assert_eq!(vcpu.results.len(), 1, "the second step waits for the next run");
        assert_eq!(vcpu.run(&mut Echo).unwrap(), Exit::Interrupted, "the script ran out");
        assert_eq!(vcpu.results, vec![0, 640]);
    }
}
