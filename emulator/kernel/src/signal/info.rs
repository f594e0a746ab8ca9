//! Signal values: a signal on its way to the guest and what its `siginfo_t` will say, the
//! process's recorded `sigaction`s and the default actions. The flag and code numbers and the
//! guest structures are `elfvisor_abi::signal`'s.

use std::sync::{Arc, Mutex, MutexGuard};

use elfvisor_abi::Signo;
use elfvisor_abi::signal::{SigFields, Sigaction, Siginfo};

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
    /// `rt_sigqueueinfo` to the caller itself: the fields of the `siginfo_t` it passed, as the
    /// layout its code selects reads them (Linux hands the caller's siginfo back as given).
    Given(SigFields),
}

impl SigInfo {
    /// The guest's `siginfo_t` for this signal: the sender, fault address, child or value at
    /// the offsets Linux gives them.
    pub fn to_guest(self) -> Siginfo {
        let fields = match self.detail {
            Detail::Sender { pid, uid } => SigFields::Kill { pid: pid as i32, uid },
            Detail::Fault { addr } => SigFields::Fault { addr },
            Detail::Child { pid, uid, status } => {
                SigFields::Chld { pid: pid as i32, uid, status, utime: 0, stime: 0 }
            }
            Detail::Queued { pid, uid, value } => SigFields::Rt { pid: pid as i32, uid, value },
            Detail::Given(fields) => fields,
        };
        Siginfo { signo: i32::from(self.signo.0), errno: 0, code: self.code, fields }
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

/// The signal actions of a process, shared by its threads (`CLONE_SIGHAND`).
#[derive(Debug, Clone)]
pub struct SigActions(Arc<Mutex<[Sigaction; 64]>>);

impl SigActions {
    pub fn new(actions: [Sigaction; 64]) -> SigActions {
        SigActions(Arc::new(Mutex::new(actions)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, [Sigaction; 64]> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The action of signal slot `slot` (signal number - 1).
    pub fn get(&self, slot: usize) -> Sigaction {
        self.lock()[slot]
    }

    pub fn set(&self, slot: usize, action: Sigaction) {
        self.lock()[slot] = action;
    }

    /// A copy of all 64.
    pub fn all(&self) -> [Sigaction; 64] {
        *self.lock()
    }

    /// Changes every action at once (execve's reset).
    pub fn update_all(&self, f: impl FnOnce(&mut [Sigaction; 64])) {
        f(&mut self.lock());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_siginfo_offsets() {
        use elfvisor_abi::obj::GuestObj;
        use elfvisor_abi::signal::{SEGV_MAPERR, SI_QUEUE, SI_TKILL};
        let info = SigInfo {
            signo: Signo::SIGSEGV,
            code: SEGV_MAPERR,
            detail: Detail::Fault { addr: 0x1234 },
        };
        let b = info.to_guest().to_guest_bytes();
        assert_eq!(i32::decode(&b[0..]), 11);
        assert_eq!(i32::decode(&b[8..]), SEGV_MAPERR);
        assert_eq!(u64::decode(&b[16..]), 0x1234);
        let info = SigInfo {
            signo: Signo::SIGUSR1,
            code: SI_TKILL,
            detail: Detail::Sender { pid: 7, uid: 0 },
        };
        let b = info.to_guest().to_guest_bytes();
        assert_eq!(i32::decode(&b[8..]), -6);
        assert_eq!(u32::decode(&b[16..]), 7);
        // Every kind keeps the sender at 16 and 20 and a value at 24, whatever the code.
        for (code, detail) in [
            (SI_QUEUE, Detail::Queued { pid: 5, uid: 6, value: 0xdead_beef }),
            (0, Detail::Child { pid: 5, uid: 6, status: 0xdead_beef_u32 as i32 }),
        ] {
            let b = SigInfo { signo: Signo::SIGCHLD, code, detail }.to_guest().to_guest_bytes();
            assert_eq!((u32::decode(&b[16..]), u32::decode(&b[20..])), (5, 6));
            assert_eq!(u32::decode(&b[24..]), 0xdead_beef);
        }
    }

    #[test]
    fn test_default_actions() {
        assert_eq!(default_action(Signo::SIGSEGV), DefaultAction::Core);
        assert_eq!(default_action(Signo::SIGTERM), DefaultAction::Terminate);
        assert_eq!(default_action(Signo::SIGCHLD), DefaultAction::Ignore);
        assert_eq!(default_action(Signo(40)), DefaultAction::Terminate);
    }
}
