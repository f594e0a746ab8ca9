//! Guest signal numbers (asm-generic, `include/uapi/asm-generic/signal.h`).

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

#[cfg(test)]
mod tests {
    use super::*;

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
