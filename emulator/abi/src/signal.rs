//! Guest signals: numbers and masks (`include/uapi/asm-generic/signal.h`,
//! `include/uapi/asm-generic/signal-defs.h`, arm64's `arch/arm64/include/uapi/asm/signal.h`),
//! `si_code` values (`include/uapi/asm-generic/siginfo.h`), and the structures the signal calls
//! exchange: `struct sigaction` as `rt_sigaction` takes it, `stack_t`, `siginfo_t`.

use crate::guest_struct;
use crate::obj::GuestObj;

/// A guest signal number, 1..=64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signo(pub u8);

macro_rules! signals {
    ($($name:ident = $num:literal,)*) => {
        impl Signo {
            $(pub const $name: Signo = Signo($num);)*

            /// The signal's conventional name (`"SIGSEGV"`), or `None` for real-time signals and
            /// numbers Linux does not define.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($num => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// Looks a signal up by its conventional name (`"SIGSEGV"`).
            pub fn from_name(name: &str) -> Option<Signo> {
                match name {
                    $(stringify!($name) => Some(Signo::$name),)*
                    _ => None,
                }
            }
        }
    };
}

signals! {
    SIGHUP = 1,
    SIGINT = 2,
    SIGQUIT = 3,
    SIGILL = 4,
    SIGTRAP = 5,
    SIGABRT = 6,
    SIGBUS = 7,
    SIGFPE = 8,
    SIGKILL = 9,
    SIGUSR1 = 10,
    SIGSEGV = 11,
    SIGUSR2 = 12,
    SIGPIPE = 13,
    SIGALRM = 14,
    SIGTERM = 15,
    SIGSTKFLT = 16,
    SIGCHLD = 17,
    SIGCONT = 18,
    SIGSTOP = 19,
    SIGTSTP = 20,
    SIGTTIN = 21,
    SIGTTOU = 22,
    SIGURG = 23,
    SIGXCPU = 24,
    SIGXFSZ = 25,
    SIGVTALRM = 26,
    SIGPROF = 27,
    SIGWINCH = 28,
    SIGIO = 29,
    SIGPWR = 30,
    SIGSYS = 31,
}

impl Signo {
    /// The first real-time signal number the kernel defines (glibc and musl reserve a few above it).
    pub const SIGRTMIN: u8 = 32;
    /// The highest signal number.
    pub const SIGRTMAX: u8 = 64;

    /// A printable name: the conventional one, `SIGRTMIN+n` for real-time signals, else the number.
    pub fn display_name(self) -> String {
        match self.name() {
            Some(name) => name.to_owned(),
            None if (Self::SIGRTMIN..=Self::SIGRTMAX).contains(&self.0) => {
                format!("SIGRTMIN+{}", self.0 - Self::SIGRTMIN)
            }
            None => format!("signal {}", self.0),
        }
    }
}

impl Signo {
    /// This signal's bit in a signal set (`sigset_t`, one bit per signal from bit 0 for
    /// signal 1). Panics for signal 0.
    pub const fn mask_bit(self) -> u64 {
        1 << (self.0 - 1)
    }
}

/// The highest signal number (`_NSIG`): what `valid_signal` accepts.
pub const NSIG: u64 = 64;

/// `sizeof(sigset_t)` as the kernel takes it (`_NSIG / 8`): the size argument of
/// `rt_sigaction`, `rt_sigprocmask`, `rt_sigpending`, `rt_sigsuspend`, `rt_sigtimedwait`.
pub const SIGSET_SIZE: usize = 8;
/// SIGKILL and SIGSTOP: never blocked, caught or ignored.
pub const UNBLOCKABLE: u64 = Signo::SIGKILL.mask_bit() | Signo::SIGSTOP.mask_bit();

/// `rt_sigprocmask`'s `how`.
pub const SIG_BLOCK: u32 = 0;
pub const SIG_UNBLOCK: u32 = 1;
pub const SIG_SETMASK: u32 = 2;

/// Handler values with a meaning of their own.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const SIG_ERR: u64 = u64::MAX;

/// `sa_flags` (asm-generic; arm64 adds `SA_RESTORER`).
pub const SA_NOCLDSTOP: u64 = 0x0000_0001;
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
pub const SA_SIGINFO: u64 = 0x0000_0004;
/// Linux 5.11: a bit the kernel promises never to accept, to probe which flags it knows.
pub const SA_UNSUPPORTED: u64 = 0x0000_0400;
/// Linux 5.11: keep the tag bits of `si_addr` (arm64 top-byte-ignore).
pub const SA_EXPOSE_TAGBITS: u64 = 0x0000_0800;
/// arm64: `sa_restorer` holds the return trampoline.
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SA_NOMASK: u64 = SA_NODEFER;
pub const SA_ONESHOT: u64 = SA_RESETHAND;

/// `ss_flags`.
pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
/// Linux 4.7: the stack is disarmed while a handler runs on it.
pub const SS_AUTODISARM: u32 = 1 << 31;
/// The mode bits `sigaltstack` accepts besides `SS_ONSTACK`/`SS_DISABLE`.
pub const SS_FLAG_BITS: u32 = SS_AUTODISARM;

/// arm64's smallest alternate signal stack (`sigaltstack` refuses less with `ENOMEM`).
pub const MINSIGSTKSZ: u64 = 5120;
/// arm64's suggested alternate signal stack size.
pub const SIGSTKSZ: u64 = 16384;

/// `si_code` values for signals not raised by the kernel for a reason of its own.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_MESGQ: i32 = -3;
pub const SI_ASYNCIO: i32 = -4;
pub const SI_SIGIO: i32 = -5;
pub const SI_TKILL: i32 = -6;
pub const SI_DETHREAD: i32 = -7;
pub const SI_ASYNCNL: i32 = -60;

/// SIGILL `si_code`s.
pub const ILL_ILLOPC: i32 = 1;
pub const ILL_ILLOPN: i32 = 2;
pub const ILL_ILLADR: i32 = 3;
pub const ILL_ILLTRP: i32 = 4;
pub const ILL_PRVOPC: i32 = 5;
pub const ILL_PRVREG: i32 = 6;
pub const ILL_COPROC: i32 = 7;
pub const ILL_BADSTK: i32 = 8;
pub const ILL_BADIADDR: i32 = 9;
pub const NSIGILL: i32 = 11;

/// SIGFPE `si_code`s.
pub const FPE_INTDIV: i32 = 1;
pub const FPE_INTOVF: i32 = 2;
pub const FPE_FLTDIV: i32 = 3;
pub const FPE_FLTOVF: i32 = 4;
pub const FPE_FLTUND: i32 = 5;
pub const FPE_FLTRES: i32 = 6;
pub const FPE_FLTINV: i32 = 7;
pub const FPE_FLTSUB: i32 = 8;
pub const FPE_FLTUNK: i32 = 14;
pub const FPE_CONDTRAP: i32 = 15;
pub const NSIGFPE: i32 = 15;

/// SIGSEGV `si_code`s.
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const SEGV_BNDERR: i32 = 3;
pub const SEGV_PKUERR: i32 = 4;
pub const SEGV_ACCADI: i32 = 5;
pub const SEGV_ADIDERR: i32 = 6;
pub const SEGV_ADIPERR: i32 = 7;
/// arm64 MTE: an asynchronous tag check fault.
pub const SEGV_MTEAERR: i32 = 8;
/// arm64 MTE: a synchronous tag check fault.
pub const SEGV_MTESERR: i32 = 9;
pub const SEGV_CPERR: i32 = 10;
pub const NSIGSEGV: i32 = 10;

/// SIGBUS `si_code`s.
pub const BUS_ADRALN: i32 = 1;
pub const BUS_ADRERR: i32 = 2;
pub const BUS_OBJERR: i32 = 3;
pub const BUS_MCEERR_AR: i32 = 4;
pub const BUS_MCEERR_AO: i32 = 5;
pub const NSIGBUS: i32 = 5;

/// SIGTRAP `si_code`s.
pub const TRAP_BRKPT: i32 = 1;
pub const TRAP_TRACE: i32 = 2;
pub const TRAP_BRANCH: i32 = 3;
pub const TRAP_HWBKPT: i32 = 4;
pub const TRAP_UNK: i32 = 5;
pub const TRAP_PERF: i32 = 6;
pub const NSIGTRAP: i32 = 6;

/// SIGCHLD `si_code`s.
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_TRAPPED: i32 = 4;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;
pub const NSIGCHLD: i32 = 6;

/// SIGPOLL `si_code`s.
pub const POLL_IN: i32 = 1;
pub const POLL_OUT: i32 = 2;
pub const POLL_MSG: i32 = 3;
pub const POLL_ERR: i32 = 4;
pub const POLL_PRI: i32 = 5;
pub const POLL_HUP: i32 = 6;
pub const NSIGPOLL: i32 = 6;

/// SIGSYS `si_code`s.
pub const SYS_SECCOMP: i32 = 1;
pub const SYS_USER_DISPATCH: i32 = 2;
pub const NSIGSYS: i32 = 2;

guest_struct! {
    /// The kernel's `struct sigaction` as `rt_sigaction` reads and writes it on arm64 (not the C
    /// library's): 32 bytes. The default is `SIG_DFL` with no flags and an empty mask.
    #[derive(Default)]
    pub struct Sigaction: 32 {
        /// `sa_handler`/`sa_sigaction`, or [`SIG_DFL`]/[`SIG_IGN`].
        0 => pub handler: u64,
        8 => pub flags: u64,
        /// Meaningful with [`SA_RESTORER`].
        16 => pub restorer: u64,
        24 => pub mask: u64,
    }
}

guest_struct! {
    /// `stack_t` (`sigaltstack`, `uc_stack`): 24 bytes.
    pub struct StackT: 24 {
        0 => pub sp: u64,
        8 => pub flags: u32,
        16 => pub size: u64,
    }
}

impl StackT {
    /// No alternate stack: what a process starts with.
    pub const DISABLED: StackT = StackT { sp: 0, flags: SS_DISABLE, size: 0 };
}

/// Which member of `siginfo_t`'s union a signal uses: Linux's `siginfo_layout()`
/// (`kernel/signal.c`), from the signal number and `si_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiginfoLayout {
    Kill,
    Timer,
    Poll,
    Fault,
    Chld,
    Rt,
    Sys,
}

impl SiginfoLayout {
    pub fn of(signo: i32, code: i32) -> SiginfoLayout {
        if code > SI_USER && code < SI_KERNEL {
            let per_signal = match signo {
                4 => Some((NSIGILL, SiginfoLayout::Fault)),
                8 => Some((NSIGFPE, SiginfoLayout::Fault)),
                11 => Some((NSIGSEGV, SiginfoLayout::Fault)),
                7 => Some((NSIGBUS, SiginfoLayout::Fault)),
                5 => Some((NSIGTRAP, SiginfoLayout::Fault)),
                17 => Some((NSIGCHLD, SiginfoLayout::Chld)),
                29 => Some((NSIGPOLL, SiginfoLayout::Poll)),
                31 => Some((NSIGSYS, SiginfoLayout::Sys)),
                _ => None,
            };
            match per_signal {
                Some((limit, layout)) if code <= limit => layout,
                _ if code <= NSIGPOLL => SiginfoLayout::Poll,
                _ => SiginfoLayout::Kill,
            }
        } else if code == SI_TIMER {
            SiginfoLayout::Timer
        } else if code == SI_SIGIO {
            SiginfoLayout::Poll
        } else if code < 0 {
            SiginfoLayout::Rt
        } else {
            SiginfoLayout::Kill
        }
    }
}

/// The union part of `siginfo_t` (offset 16), by layout. Fields of the fault layout beyond the
/// address (`si_addr_lsb`, bounds, protection key, perf data) are not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigFields {
    /// `kill`, `tkill` in older kernels, and the kernel's own signals: the sender.
    Kill { pid: i32, uid: u32 },
    /// POSIX timers.
    Timer { tid: i32, overrun: i32, value: u64 },
    /// `sigqueue`, `rt_sigqueueinfo`, `tgkill`: the sender and its `sigval`.
    Rt { pid: i32, uid: u32, value: u64 },
    /// SIGCHLD: the child, its `wait` status or exit code, and its CPU times in clock ticks.
    Chld { pid: i32, uid: u32, status: i32, utime: i64, stime: i64 },
    /// SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP: the faulting address.
    Fault { addr: u64 },
    /// SIGPOLL/SIGIO.
    Poll { band: i64, fd: i32 },
    /// SIGSYS from seccomp: the call's address, number and audit architecture.
    Sys { call_addr: u64, syscall: i32, arch: u32 },
}

impl SigFields {
    fn layout(&self) -> SiginfoLayout {
        match self {
            SigFields::Kill { .. } => SiginfoLayout::Kill,
            SigFields::Timer { .. } => SiginfoLayout::Timer,
            SigFields::Rt { .. } => SiginfoLayout::Rt,
            SigFields::Chld { .. } => SiginfoLayout::Chld,
            SigFields::Fault { .. } => SiginfoLayout::Fault,
            SigFields::Poll { .. } => SiginfoLayout::Poll,
            SigFields::Sys { .. } => SiginfoLayout::Sys,
        }
    }
}

/// `siginfo_t` (asm-generic, 64-bit): `si_signo`, `si_errno`, `si_code`, then the union at
/// offset 16; 128 bytes. [`decode`](GuestObj::decode) picks the union member with
/// [`SiginfoLayout::of`], as Linux does when it copies one to user space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Siginfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    pub fields: SigFields,
}

impl Siginfo {
    /// Whether `fields` is the member Linux would read for this signal and code (an encoded
    /// value decodes to itself exactly when this holds).
    pub fn is_consistent(&self) -> bool {
        SiginfoLayout::of(self.signo, self.code) == self.fields.layout()
    }

    /// The sender's pid for the layouts that carry one.
    pub fn pid(&self) -> Option<i32> {
        match self.fields {
            SigFields::Kill { pid, .. }
            | SigFields::Rt { pid, .. }
            | SigFields::Chld { pid, .. } => Some(pid),
            _ => None,
        }
    }
}

impl GuestObj for Siginfo {
    const SIZE: usize = 128;

    fn decode(b: &[u8]) -> Self {
        assert!(b.len() >= Self::SIZE, "{} bytes for a 128-byte siginfo_t", b.len());
        let i32_at = |off: usize| i32::decode(&b[off..]);
        let u32_at = |off: usize| u32::decode(&b[off..]);
        let u64_at = |off: usize| u64::decode(&b[off..]);
        let i64_at = |off: usize| i64::decode(&b[off..]);
        let (signo, errno, code) = (i32_at(0), i32_at(4), i32_at(8));
        let fields = match SiginfoLayout::of(signo, code) {
            SiginfoLayout::Kill => SigFields::Kill { pid: i32_at(16), uid: u32_at(20) },
            SiginfoLayout::Timer => {
                SigFields::Timer { tid: i32_at(16), overrun: i32_at(20), value: u64_at(24) }
            }
            SiginfoLayout::Rt => {
                SigFields::Rt { pid: i32_at(16), uid: u32_at(20), value: u64_at(24) }
            }
            SiginfoLayout::Chld => SigFields::Chld {
                pid: i32_at(16),
                uid: u32_at(20),
                status: i32_at(24),
                utime: i64_at(32),
                stime: i64_at(40),
            },
            SiginfoLayout::Fault => SigFields::Fault { addr: u64_at(16) },
            SiginfoLayout::Poll => SigFields::Poll { band: i64_at(16), fd: i32_at(24) },
            SiginfoLayout::Sys => {
                SigFields::Sys { call_addr: u64_at(16), syscall: i32_at(24), arch: u32_at(28) }
            }
        };
        Siginfo { signo, errno, code, fields }
    }

    fn encode(&self, out: &mut [u8]) {
        let out = &mut out[..Self::SIZE];
        out.fill(0);
        self.signo.encode(&mut out[0..]);
        self.errno.encode(&mut out[4..]);
        self.code.encode(&mut out[8..]);
        match self.fields {
            SigFields::Kill { pid, uid } => {
                pid.encode(&mut out[16..]);
                uid.encode(&mut out[20..]);
            }
            SigFields::Timer { tid, overrun, value } => {
                tid.encode(&mut out[16..]);
                overrun.encode(&mut out[20..]);
                value.encode(&mut out[24..]);
            }
            SigFields::Rt { pid, uid, value } => {
                pid.encode(&mut out[16..]);
                uid.encode(&mut out[20..]);
                value.encode(&mut out[24..]);
            }
            SigFields::Chld { pid, uid, status, utime, stime } => {
                pid.encode(&mut out[16..]);
                uid.encode(&mut out[20..]);
                status.encode(&mut out[24..]);
                utime.encode(&mut out[32..]);
                stime.encode(&mut out[40..]);
            }
            SigFields::Fault { addr } => addr.encode(&mut out[16..]),
            SigFields::Poll { band, fd } => {
                band.encode(&mut out[16..]);
                fd.encode(&mut out[24..]);
            }
            SigFields::Sys { call_addr, syscall, arch } => {
                call_addr.encode(&mut out[16..]);
                syscall.encode(&mut out[24..]);
                arch.encode(&mut out[28..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::obj::testing::{offset, round_trip};
    use proptest::prelude::*;

    #[test]
    fn test_masks_and_flags() {
        assert_eq!(Signo::SIGHUP.mask_bit(), 1);
        assert_eq!(UNBLOCKABLE, (1 << 8) | (1 << 18));
        assert_eq!(SA_RESTORER, 0x0400_0000);
        assert_eq!(SS_AUTODISARM, 0x8000_0000);
        assert_eq!(SI_TKILL, -6);
    }

    #[test]
    fn test_struct_layouts() {
        assert_eq!(Sigaction::SIZE, 32);
        assert_eq!(offset(Sigaction::OFFSETS, "restorer"), 16);
        assert_eq!(offset(Sigaction::OFFSETS, "mask"), 24);
        assert_eq!(StackT::SIZE, 24);
        assert_eq!(offset(StackT::OFFSETS, "flags"), 8);
        assert_eq!(offset(StackT::OFFSETS, "size"), 16);
        assert_eq!(Siginfo::SIZE, 128);
    }

    #[test]
    fn test_siginfo_layouts_follow_linux() {
        use SiginfoLayout as L;
        assert_eq!(L::of(11, SEGV_MAPERR), L::Fault);
        assert_eq!(L::of(7, BUS_ADRERR), L::Fault);
        assert_eq!(L::of(17, CLD_EXITED), L::Chld);
        assert_eq!(L::of(10, SI_USER), L::Kill);
        assert_eq!(L::of(10, SI_KERNEL), L::Kill);
        assert_eq!(L::of(10, SI_TKILL), L::Rt);
        assert_eq!(L::of(10, SI_QUEUE), L::Rt);
        assert_eq!(L::of(14, SI_TIMER), L::Timer);
        assert_eq!(L::of(29, SI_SIGIO), L::Poll);
        assert_eq!(L::of(10, 3), L::Poll);
        assert_eq!(L::of(11, NSIGSEGV + 1), L::Kill);
        assert_eq!(L::of(31, SYS_SECCOMP), L::Sys);
    }

    #[test]
    fn test_siginfo_offsets() {
        let info = Siginfo {
            signo: 17,
            errno: 0,
            code: CLD_EXITED,
            fields: SigFields::Chld { pid: 42, uid: 1000, status: 3, utime: 5, stime: 6 },
        };
        let b = info.to_guest_bytes();
        assert_eq!(&b[0..4], &17i32.to_le_bytes());
        assert_eq!(&b[8..12], &1i32.to_le_bytes());
        assert_eq!(&b[16..20], &42i32.to_le_bytes());
        assert_eq!(&b[20..24], &1000u32.to_le_bytes());
        assert_eq!(&b[24..28], &3i32.to_le_bytes());
        assert_eq!(&b[32..40], &5i64.to_le_bytes());
        assert_eq!(&b[40..48], &6i64.to_le_bytes());
        assert_eq!(info.pid(), Some(42));
        let fault = Siginfo {
            signo: 11,
            errno: 0,
            code: SEGV_ACCERR,
            fields: SigFields::Fault { addr: 0x1234 },
        };
        assert_eq!(&fault.to_guest_bytes()[16..24], &0x1234u64.to_le_bytes());
        let queued = Siginfo {
            signo: 34,
            errno: 0,
            code: SI_QUEUE,
            fields: SigFields::Rt { pid: 7, uid: 8, value: 0xdead_beef },
        };
        assert_eq!(&queued.to_guest_bytes()[24..32], &0xdead_beefu64.to_le_bytes());
        for info in [info, fault, queued] {
            assert!(info.is_consistent());
            round_trip(&info);
        }
    }

    proptest! {
        #[test]
        fn prop_sigaction_round_trip(w in proptest::array::uniform4(any::<u64>())) {
            round_trip(&Sigaction { handler: w[0], flags: w[1], restorer: w[2], mask: w[3] });
        }

        #[test]
        fn prop_stack_round_trip(sp: u64, flags: u32, size: u64) {
            round_trip(&StackT { sp, flags, size });
        }

        /// Any 128 bytes decode to a consistent value, which then round-trips exactly.
        #[test]
        fn prop_siginfo_round_trip(
            bytes in proptest::collection::vec(any::<u8>(), 128),
            signo in 0..70i32,
            code in prop_oneof![-70..0i32, 0..20i32, Just(SI_KERNEL)],
        ) {
            let mut bytes = bytes;
            bytes[0..4].copy_from_slice(&signo.to_le_bytes());
            bytes[8..12].copy_from_slice(&code.to_le_bytes());
            let info = Siginfo::decode(&bytes);
            prop_assert!(info.is_consistent());
            round_trip(&info);
        }
    }

    #[test]
    fn test_names_round_trip() {
        for n in 1..=31 {
            let sig = Signo(n);
            let name = sig.name().expect("every classic signal has a name");
            assert_eq!(Signo::from_name(name), Some(sig));
        }
    }

    #[test]
    fn test_display_name_covers_realtime_and_unknown() {
        assert_eq!(Signo::SIGSEGV.display_name(), "SIGSEGV");
        assert_eq!(Signo(34).display_name(), "SIGRTMIN+2");
        assert_eq!(Signo(0).display_name(), "signal 0");
        assert_eq!(Signo(65).display_name(), "signal 65");
    }
}
