//! Signal values: what `siginfo_t` says, a recorded `sigaction`, an alternate stack, the
//! default actions and the flag and code numbers (Linux's, from `include/uapi/asm-generic`).

use std::sync::{Arc, Mutex, MutexGuard};

use elfvisor_abi::Signo;

pub const SA_NOCLDSTOP: u64 = 0x1;
pub const SA_NOCLDWAIT: u64 = 0x2;
pub const SA_SIGINFO: u64 = 0x4;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// `si_code` values.
pub const SI_USER: i32 = 0;
pub const SI_TKILL: i32 = -6;
pub const SI_QUEUE: i32 = -1;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const BUS_ADRERR: i32 = 2;
pub const ILL_ILLOPC: i32 = 1;
pub const TRAP_BRKPT: i32 = 1;

/// sizeof(siginfo_t).
pub const SIGINFO_SIZE: usize = 128;

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
    pub fn to_bytes(self) -> [u8; SIGINFO_SIZE] {
        let mut b = [0u8; SIGINFO_SIZE];
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

/// The bit of `sig` in a signal set.
pub fn bit(sig: Signo) -> u64 {
    1 << (sig.0 - 1)
}

/// A recorded `rt_sigaction` (the guest's `struct sigaction` as the kernel stores it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// The signal actions of a process, shared by its threads (`CLONE_SIGHAND`).
#[derive(Debug, Clone)]
pub struct SigActions(Arc<Mutex<[SigAction; 64]>>);

impl SigActions {
    pub fn new(actions: [SigAction; 64]) -> SigActions {
        SigActions(Arc::new(Mutex::new(actions)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, [SigAction; 64]> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The action of signal slot `slot` (signal number - 1).
    pub fn get(&self, slot: usize) -> SigAction {
        self.lock()[slot]
    }

    pub fn set(&self, slot: usize, action: SigAction) {
        self.lock()[slot] = action;
    }

    /// A copy of all 64.
    pub fn all(&self) -> [SigAction; 64] {
        *self.lock()
    }

    /// Changes every action at once (execve's reset).
    pub fn update_all(&self, f: impl FnOnce(&mut [SigAction; 64])) {
        f(&mut self.lock());
    }
}

pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
pub const SS_AUTODISARM: u32 = 1 << 31;

/// A thread's alternate signal stack (`stack_t`: `ss_sp`, `ss_flags`, `ss_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    pub flags: u32,
    pub size: u64,
}

impl AltStack {
    /// No alternate stack: what a process starts with, execve and a new thread leave.
    pub const NONE: AltStack = AltStack { sp: 0, flags: SS_DISABLE, size: 0 };
}

impl Default for AltStack {
    fn default() -> AltStack {
        AltStack::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
