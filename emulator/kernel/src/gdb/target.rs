//! What the debugger sees of the guest: its registers, memory through mm's checked access,
//! software breakpoints, the program file, and the aarch64 target description.

use std::collections::BTreeMap;
use std::path::PathBuf;

use elfvisor_abi::{GuestAddr, Signo};
use elfvisor_engine::Registers;
use gdbstub::arch::{Arch, Registers as GdbRegisters};
use gdbstub::common::{Pid, Signal, Tid};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, SwBreakpoint, SwBreakpointOps,
};
use gdbstub::target::ext::exec_file::{ExecFile, ExecFileOps};
use gdbstub::target::ext::monitor_cmd::{ConsoleOutput, MonitorCmd, MonitorCmdOps};
use gdbstub::target::{Target, TargetError, TargetResult};

use crate::signal::info::{Detail, SigInfo};
use crate::task::types::SharedMm;

/// `brk #0`, the instruction a software breakpoint puts in place of the guest's.
pub(crate) const BREAK_INSN: [u8; 4] = 0xd420_0000u32.to_le_bytes();

/// The guest's registers in the order of the target description below (the `g` packet).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Regs {
    pub x: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    /// PSTATE's condition flags, as gdb's `cpsr`.
    pub cpsr: u32,
    pub v: [u128; 32],
    pub fpsr: u32,
    pub fpcr: u32,
}

impl GdbRegisters for Regs {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        self.pc
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        let mut put = |bytes: &[u8]| bytes.iter().for_each(|b| write_byte(Some(*b)));
        self.x.iter().for_each(|x| put(&x.to_le_bytes()));
        put(&self.sp.to_le_bytes());
        put(&self.pc.to_le_bytes());
        put(&self.cpsr.to_le_bytes());
        self.v.iter().for_each(|v| put(&v.to_le_bytes()));
        put(&self.fpsr.to_le_bytes());
        put(&self.fpcr.to_le_bytes());
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        const LEN: usize = 31 * 8 + 8 + 8 + 4 + 32 * 16 + 4 + 4;
        if bytes.len() < LEN {
            return Err(());
        }
        let mut at = 0;
        let mut take = |n: usize| {
            let slice = &bytes[at..at + n];
            at += n;
            slice
        };
        let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        for x in &mut self.x {
            *x = u64_of(take(8));
        }
        self.sp = u64_of(take(8));
        self.pc = u64_of(take(8));
        self.cpsr = u32_of(take(4));
        for v in &mut self.v {
            *v = u128::from_le_bytes(take(16).try_into().expect("16 bytes"));
        }
        self.fpsr = u32_of(take(4));
        self.fpcr = u32_of(take(4));
        Ok(())
    }
}

impl Regs {
    pub fn from_registers(r: &Registers) -> Regs {
        Regs {
            x: r.x,
            sp: r.sp,
            pc: r.pc,
            cpsr: r.nzcv as u32,
            v: r.q,
            fpsr: r.fpsr as u32,
            fpcr: r.fpcr as u32,
        }
    }

    /// Writes these values into `r` (the thread pointer, which gdb does not see, is kept).
    pub fn store(&self, r: &mut Registers) {
        r.x = self.x;
        r.sp = self.sp;
        r.pc = self.pc;
        // Only the condition flags of PSTATE are the guest's to change.
        r.nzcv = u64::from(self.cpsr & 0xf000_0000);
        r.q = self.v;
        r.fpsr = u64::from(self.fpsr);
        r.fpcr = u64::from(self.fpcr);
    }
}

/// A user-mode aarch64 thread as gdb's `org.gnu.gdb.aarch64.core` and `.fpu` features describe
/// it (the register names and order gdb's aarch64 support requires: x0–x30, sp, pc, cpsr, then
/// v0–v31, fpsr, fpcr).
#[derive(Debug)]
pub enum GuestArch {}

impl Arch for GuestArch {
    type Usize = u64;
    type Registers = Regs;
    type RegId = gdbstub_arch::aarch64::reg::id::AArch64RegId;
    type BreakpointKind = usize;

    fn target_description_xml() -> Option<&'static str> {
        static XML: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        Some(XML.get_or_init(description).as_str())
    }
}

/// The target description: written out register by register.
fn description() -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">\
         <target version=\"1.0\"><architecture>aarch64</architecture>\
         <osabi>GNU/Linux</osabi><feature name=\"org.gnu.gdb.aarch64.core\">",
    );
    for n in 0..31 {
        let kind = match n {
            29 => "data_ptr",
            30 => "code_ptr",
            _ => "int",
        };
        xml.push_str(&format!("<reg name=\"x{n}\" bitsize=\"64\" type=\"{kind}\"/>"));
    }
    xml.push_str(
        "<reg name=\"sp\" bitsize=\"64\" type=\"data_ptr\"/>\
         <reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\"/>\
         <reg name=\"cpsr\" bitsize=\"32\" type=\"int\"/></feature>\
         <feature name=\"org.gnu.gdb.aarch64.fpu\">\
         <vector id=\"lanes_d\" type=\"ieee_double\" count=\"2\"/>\
         <vector id=\"lanes_s\" type=\"ieee_single\" count=\"4\"/>\
         <vector id=\"lanes_ud\" type=\"uint64\" count=\"2\"/>\
         <vector id=\"lanes_us\" type=\"uint32\" count=\"4\"/>\
         <vector id=\"lanes_ub\" type=\"uint8\" count=\"16\"/>\
         <union id=\"simd\"><field name=\"d\" type=\"lanes_d\"/><field name=\"s\" type=\"lanes_s\"/>\
         <field name=\"ud\" type=\"lanes_ud\"/><field name=\"us\" type=\"lanes_us\"/>\
         <field name=\"ub\" type=\"lanes_ub\"/><field name=\"q\" type=\"uint128\"/></union>",
    );
    for n in 0..32 {
        xml.push_str(&format!("<reg name=\"v{n}\" bitsize=\"128\" type=\"simd\"/>"));
    }
    xml.push_str(
        "<reg name=\"fpsr\" bitsize=\"32\" type=\"int\"/>\
         <reg name=\"fpcr\" bitsize=\"32\" type=\"int\"/></feature></target>",
    );
    xml
}

/// How one thread goes on when the debugger resumes the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It stays stopped (scheduler locking: gdb steps another thread alone).
    Stay,
    Run,
    Step,
}

/// What the debugger asked for when it let the guest go on: each thread's action and the
/// signal to give it, and what the threads it did not name do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resume {
    pub actions: BTreeMap<u32, (Action, Option<Signal>)>,
    /// The threads not named stay stopped (gdb's scheduler locking).
    pub locked: bool,
}

impl Resume {
    pub fn of(&self, tid: u32) -> (Action, Option<Signal>) {
        self.actions.get(&tid).copied().unwrap_or(if self.locked {
            (Action::Stay, None)
        } else {
            (Action::Run, None)
        })
    }
}

/// The guest as the debugger sees it while stopped: its threads (registers published by each
/// thread in [`super::World`]; written back as each resumes), the address space, the
/// breakpoints in place.
#[derive(Debug)]
pub struct Debuggee {
    pub mm: SharedMm,
    /// The live threads, by guest tid, first thread first.
    pub threads: Vec<u32>,
    /// The thread the last stop was reported for (it serves the debugger).
    pub current: u32,
    /// Guest code changed (a breakpoint, a memory write): translated code must go.
    pub code_changed: bool,
    /// Breakpoint address → the instruction bytes it replaced.
    pub breakpoints: BTreeMap<u64, [u8; 4]>,
    pub exe: PathBuf,
    /// Set when the debugger resumes the guest; built by the resume actions before it.
    pub resume: Option<Resume>,
    building: Resume,
    /// The signal the guest stopped with, if it stopped with one (`monitor siginfo`).
    pub signal: Option<SigInfo>,
}

impl Debuggee {
    pub fn new(mm: SharedMm, exe: PathBuf) -> Debuggee {
        Debuggee {
            mm,
            threads: Vec::new(),
            current: 0,
            code_changed: false,
            breakpoints: BTreeMap::new(),
            exe,
            resume: None,
            building: Resume::default(),
            signal: None,
        }
    }

    /// Reads guest memory as ptrace's PEEK does: anything mapped and private whatever its
    /// protection, shared mappings only where the guest may read them. Never host memory.
    fn peek(&self, addr: u64, out: &mut [u8]) -> bool {
        let mm = self.mm.read();
        let at = GuestAddr(addr);
        mm.read_private_pages(at, out).is_ok() || mm.copy_in(at, out).is_ok()
    }

    /// Writes guest memory as ptrace's POKE does (read-only code included).
    fn poke(&self, addr: u64, data: &[u8]) -> bool {
        let mm = self.mm.read();
        let at = GuestAddr(addr);
        mm.write_private_pages(at, data).is_ok() || mm.copy_out(at, data).is_ok()
    }

    /// Puts the guest's instructions back for a while, keeping the breakpoints (a fork child
    /// must not inherit the traps); [`Debuggee::replant_breakpoints`] sets them again.
    pub fn lift_breakpoints(&self) {
        for (&addr, saved) in &self.breakpoints {
            self.poke(addr, saved);
        }
    }

    pub fn replant_breakpoints(&self) {
        for &addr in self.breakpoints.keys() {
            self.poke(addr, &BREAK_INSN);
        }
    }

    /// The image the breakpoints were in is gone (an execve): nothing is put back.
    pub fn forget_breakpoints(&mut self) {
        self.breakpoints.clear();
        super::set_breakpoint_addrs(Default::default());
    }

    /// Puts every replaced instruction back (a host fork child must not inherit the traps).
    pub fn remove_all_breakpoints(&mut self) {
        for (addr, saved) in std::mem::take(&mut self.breakpoints) {
            self.poke(addr, &saved);
            self.code_changed = true;
        }
        super::set_breakpoint_addrs(Default::default());
    }
}

impl Target for Debuggee {
    type Arch = GuestArch;
    type Error = std::convert::Infallible;

    fn base_ops(&mut self) -> BaseOps<'_, GuestArch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_exec_file(&mut self) -> Option<ExecFileOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<MonitorCmdOps<'_, Self>> {
        Some(self)
    }

    fn guard_rail_implicit_sw_breakpoints(&self) -> bool {
        true
    }

    // Fork and vfork are not reported (a fork child runs free of the debugger).
    fn use_fork_stop_reason(&self) -> bool {
        false
    }

    fn use_vfork_stop_reason(&self) -> bool {
        false
    }

    fn use_vforkdone_stop_reason(&self) -> bool {
        false
    }
}

fn tid_of(tid: Tid) -> u32 {
    u32::try_from(tid.get()).unwrap_or(u32::MAX)
}

/// The gdb thread id of a guest thread (tids are never 0).
pub fn gdb_tid(tid: u32) -> Tid {
    Tid::new(tid as usize).unwrap_or(Tid::MIN)
}

impl MultiThreadBase for Debuggee {
    fn read_registers(&mut self, regs: &mut Regs, tid: Tid) -> TargetResult<(), Self> {
        match super::published(tid_of(tid)) {
            Some(r) => {
                *regs = Regs::from_registers(&r);
                Ok(())
            }
            None => Err(TargetError::Errno(3)),
        }
    }

    fn write_registers(&mut self, regs: &Regs, tid: Tid) -> TargetResult<(), Self> {
        let tid = tid_of(tid);
        let Some(mut r) = super::published(tid) else { return Err(TargetError::Errno(3)) };
        regs.store(&mut r);
        super::rewrite(tid, r);
        Ok(())
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8], _tid: Tid) -> TargetResult<usize, Self> {
        if self.peek(start, data) {
            // The guest's own instructions, not the breakpoints in their place.
            for (&addr, saved) in self.breakpoints.range(start.saturating_sub(3)..) {
                for (i, byte) in saved.iter().enumerate() {
                    let at = addr + i as u64;
                    if at >= start && at - start < data.len() as u64 {
                        data[(at - start) as usize] = *byte;
                    }
                }
            }
            return Ok(data.len());
        }
        // As much as is readable from the start, one byte at a time past the first failure
        // of the whole range (gdb asks for small ranges).
        let mut done = 0;
        while done < data.len() && self.peek(start + done as u64, &mut data[done..=done]) {
            done += 1;
        }
        if done == 0 { Err(TargetError::Errno(14)) } else { Ok(done) }
    }

    fn write_addrs(&mut self, start: u64, data: &[u8], _tid: Tid) -> TargetResult<(), Self> {
        if !self.poke(start, data) {
            return Err(TargetError::Errno(14));
        }
        self.code_changed = true;
        Ok(())
    }

    fn list_active_threads(
        &mut self,
        thread_is_active: &mut dyn FnMut(Tid),
    ) -> Result<(), Self::Error> {
        for &tid in &self.threads {
            thread_is_active(gdb_tid(tid));
        }
        Ok(())
    }

    fn is_thread_alive(&mut self, tid: Tid) -> Result<bool, Self::Error> {
        Ok(self.threads.contains(&tid_of(tid)))
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadResume for Debuggee {
    fn resume(&mut self) -> Result<(), Self::Error> {
        let mut resume = std::mem::take(&mut self.building);
        // A legacy `c`/`s` names the stub's idea of the current thread, which a client that
        // never selected one leaves at 1: it means the thread that stopped.
        let unknown: Vec<u32> =
            resume.actions.keys().copied().filter(|t| !self.threads.contains(t)).collect();
        for tid in unknown {
            if let Some(action) = resume.actions.remove(&tid) {
                resume.actions.entry(self.current).or_insert(action);
            }
        }
        self.resume = Some(resume);
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.building = Resume::default();
        Ok(())
    }

    fn set_resume_action_continue(
        &mut self,
        tid: Tid,
        signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        self.building.actions.insert(tid_of(tid), (Action::Run, signal));
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl MultiThreadSingleStep for Debuggee {
    fn set_resume_action_step(
        &mut self,
        tid: Tid,
        signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        self.building.actions.insert(tid_of(tid), (Action::Step, signal));
        Ok(())
    }
}

impl MultiThreadSchedulerLocking for Debuggee {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        self.building.locked = true;
        Ok(())
    }
}

impl Breakpoints for Debuggee {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for Debuggee {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        if self.breakpoints.contains_key(&addr) {
            return Ok(true);
        }
        let mut saved = [0u8; 4];
        if !self.peek(addr, &mut saved) || !self.poke(addr, &BREAK_INSN) {
            return Ok(false);
        }
        self.breakpoints.insert(addr, saved);
        super::set_breakpoint_addrs(self.breakpoints.keys().copied().collect());
        self.code_changed = true;
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        let Some(saved) = self.breakpoints.remove(&addr) else { return Ok(false) };
        self.poke(addr, &saved);
        super::set_breakpoint_addrs(self.breakpoints.keys().copied().collect());
        self.code_changed = true;
        Ok(true)
    }
}

impl ExecFile for Debuggee {
    fn get_exec_file(
        &self,
        _pid: Option<Pid>,
        offset: u64,
        length: usize,
        buf: &mut [u8],
    ) -> TargetResult<usize, Self> {
        let name = self.exe.as_os_str().as_encoded_bytes();
        let from = usize::try_from(offset).unwrap_or(usize::MAX).min(name.len());
        let n = (name.len() - from).min(length).min(buf.len());
        buf[..n].copy_from_slice(&name[from..from + n]);
        Ok(n)
    }
}

impl MonitorCmd for Debuggee {
    fn handle_monitor_cmd(
        &mut self,
        cmd: &[u8],
        mut out: ConsoleOutput<'_>,
    ) -> Result<(), Self::Error> {
        let text = match cmd {
            b"siginfo" => siginfo_text(self.signal.as_ref()),
            _ => "elfvisor monitor commands: siginfo (the signal the guest stopped with: its \
                  number, si_code and fault address)\n"
                .to_owned(),
        };
        out.write_raw(text.as_bytes());
        Ok(())
    }
}

/// `monitor siginfo`: what the guest's `siginfo_t` says of the signal it stopped with.
fn siginfo_text(info: Option<&SigInfo>) -> String {
    let Some(info) = info else { return "no signal\n".to_owned() };
    let mut text = format!("{} si_code {}", info.signo.display_name(), info.code);
    match info.detail {
        Detail::Fault { addr } => text.push_str(&format!(" si_addr {addr:#x}")),
        Detail::Sender { pid, uid } => text.push_str(&format!(" si_pid {pid} si_uid {uid}")),
        _ => {}
    }
    text.push('\n');
    text
}

/// gdb's numbering of a guest signal (gdb's own table, not Linux's: SIGBUS is 10 there).
pub fn to_gdb(signo: Signo) -> Signal {
    SIGNALS.iter().find(|(s, _)| *s == signo).map_or(Signal::UNKNOWN, |(_, g)| *g)
}

/// The guest signal gdb names, if it is one the guest has.
pub fn from_gdb(signal: Signal) -> Option<Signo> {
    SIGNALS.iter().find(|(_, g)| *g == signal).map(|(s, _)| *s)
}

const SIGNALS: [(Signo, Signal); 31] = [
    (Signo::SIGHUP, Signal::SIGHUP),
    (Signo::SIGINT, Signal::SIGINT),
    (Signo::SIGQUIT, Signal::SIGQUIT),
    (Signo::SIGILL, Signal::SIGILL),
    (Signo::SIGTRAP, Signal::SIGTRAP),
    (Signo::SIGABRT, Signal::SIGABRT),
    (Signo::SIGBUS, Signal::SIGBUS),
    (Signo::SIGFPE, Signal::SIGFPE),
    (Signo::SIGKILL, Signal::SIGKILL),
    (Signo::SIGUSR1, Signal::SIGUSR1),
    (Signo::SIGSEGV, Signal::SIGSEGV),
    (Signo::SIGUSR2, Signal::SIGUSR2),
    (Signo::SIGPIPE, Signal::SIGPIPE),
    (Signo::SIGALRM, Signal::SIGALRM),
    (Signo::SIGTERM, Signal::SIGTERM),
    (Signo::SIGSTKFLT, Signal::UNKNOWN),
    (Signo::SIGCHLD, Signal::SIGCHLD),
    (Signo::SIGCONT, Signal::SIGCONT),
    (Signo::SIGSTOP, Signal::SIGSTOP),
    (Signo::SIGTSTP, Signal::SIGTSTP),
    (Signo::SIGTTIN, Signal::SIGTTIN),
    (Signo::SIGTTOU, Signal::SIGTTOU),
    (Signo::SIGURG, Signal::SIGURG),
    (Signo::SIGXCPU, Signal::SIGXCPU),
    (Signo::SIGXFSZ, Signal::SIGXFSZ),
    (Signo::SIGVTALRM, Signal::SIGVTALRM),
    (Signo::SIGPROF, Signal::SIGPROF),
    (Signo::SIGWINCH, Signal::SIGWINCH),
    (Signo::SIGIO, Signal::SIGIO),
    (Signo::SIGPWR, Signal::SIGPWR),
    (Signo::SIGSYS, Signal::SIGSYS),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_registers_round_trip_in_description_order() {
        let mut regs = Regs::default();
        regs.x[0] = 0x1122;
        regs.pc = 0x40_0000;
        regs.cpsr = 0x6000_0000;
        regs.v[31] = 0xabcd;
        regs.fpsr = 0x10;
        regs.fpcr = 0x0300_0000;
        let mut bytes = Vec::new();
        regs.gdb_serialize(|b| bytes.push(b.unwrap()));
        assert_eq!(bytes.len(), 31 * 8 + 8 + 8 + 4 + 32 * 16 + 4 + 4);
        assert_eq!(bytes[32 * 8..33 * 8], 0x40_0000u64.to_le_bytes(), "pc is register 32");
        let fpsr_at = 33 * 8 + 4 + 32 * 16;
        assert_eq!(bytes[fpsr_at..fpsr_at + 4], 0x10u32.to_le_bytes(), "fpsr before fpcr");
        let mut back = Regs::default();
        back.gdb_deserialize(&bytes).unwrap();
        assert_eq!(back, regs);
        assert!(back.gdb_deserialize(&bytes[..100]).is_err());
    }

    #[test]
    fn test_description_names_every_register_once() {
        let xml = description();
        for name in ["x0", "x30", "sp", "pc", "cpsr", "v0", "v31", "fpsr", "fpcr"] {
            assert_eq!(xml.matches(&format!("name=\"{name}\"")).count(), 1, "{name}");
        }
        assert_eq!(xml.matches("<reg ").count(), 31 + 3 + 32 + 2);
    }

    #[test]
    fn test_signal_numbers_differ_where_gdb_differs() {
        assert_eq!(to_gdb(Signo::SIGSEGV), Signal::SIGSEGV);
        assert_eq!(to_gdb(Signo::SIGBUS).0, 10);
        assert_eq!(from_gdb(Signal::SIGUSR1), Some(Signo::SIGUSR1));
        assert_eq!(from_gdb(Signal(0)), None);
    }
}
