//! Waiting for children: `wait4`/`waitid` options and id types (`include/uapi/linux/wait.h`),
//! and the status word `wait4` reports, encoded as Linux's `kernel/exit.c` does.

/// Return at once if no child has changed state.
pub const WNOHANG: u32 = 0x0000_0001;
/// Also report children stopped by a signal.
pub const WUNTRACED: u32 = 0x0000_0002;
/// `waitid`'s name for [`WUNTRACED`].
pub const WSTOPPED: u32 = WUNTRACED;
/// `waitid`: report children that exited.
pub const WEXITED: u32 = 0x0000_0004;
/// Also report stopped children continued by `SIGCONT`.
pub const WCONTINUED: u32 = 0x0000_0008;
/// `waitid`: leave the child waitable.
pub const WNOWAIT: u32 = 0x0100_0000;
/// Linux's `__WNOTHREAD`: only this thread's children, not its thread group's.
pub const WNOTHREAD: u32 = 0x2000_0000;
/// Linux's `__WALL`: children of any exit signal.
pub const WALL: u32 = 0x4000_0000;
/// Linux's `__WCLONE`: only children whose exit signal is not `SIGCHLD`.
pub const WCLONE: u32 = 0x8000_0000;

/// `waitid` id types.
pub const P_ALL: u32 = 0;
pub const P_PID: u32 = 1;
pub const P_PGID: u32 = 2;
/// Linux 5.4: the id is a pidfd.
pub const P_PIDFD: u32 = 3;

/// The status of a child exited with `code` (its low 8 bits): `WIFEXITED`, `WEXITSTATUS`.
pub const fn exited(code: i32) -> i32 {
    (code & 0xff) << 8
}

/// The status of a child killed by `sig`, with `core` if it dumped core: `WIFSIGNALED`,
/// `WTERMSIG`, `WCOREDUMP`.
pub const fn signaled(sig: u8, core: bool) -> i32 {
    (sig as i32 & 0x7f) | if core { 0x80 } else { 0 }
}

/// The status of a child stopped by `sig`: `WIFSTOPPED`, `WSTOPSIG`.
pub const fn stopped(sig: u8) -> i32 {
    ((sig as i32) << 8) | 0x7f
}

/// The status of a stopped child continued by `SIGCONT`: `WIFCONTINUED`.
pub const fn continued() -> i32 {
    0xffff
}

/// A status word decoded (the C library's `W*` macros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStatus {
    Exited(u8),
    Signaled { sig: u8, core: bool },
    Stopped(u8),
    Continued,
}

impl WaitStatus {
    /// The status word Linux writes for this state.
    pub const fn encode(self) -> i32 {
        match self {
            WaitStatus::Exited(code) => exited(code as i32),
            WaitStatus::Signaled { sig, core } => signaled(sig, core),
            WaitStatus::Stopped(sig) => stopped(sig),
            WaitStatus::Continued => continued(),
        }
    }

    /// Reads a status word; `None` for words no child state produces.
    pub fn decode(status: i32) -> Option<WaitStatus> {
        let low = status & 0x7f;
        match status {
            0xffff => Some(WaitStatus::Continued),
            _ if status & !0xffff != 0 => None,
            _ if low == 0 && status & 0x80 == 0 => Some(WaitStatus::Exited((status >> 8) as u8)),
            _ if status & 0xff == 0x7f => Some(WaitStatus::Stopped((status >> 8) as u8)),
            _ if low != 0 && status >> 8 == 0 => {
                Some(WaitStatus::Signaled { sig: low as u8, core: status & 0x80 != 0 })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_encodings_match_linux() {
        assert_eq!(exited(3), 0x300);
        assert_eq!(exited(256 + 7), 0x700);
        assert_eq!(signaled(9, false), 9);
        assert_eq!(signaled(11, true), 0x8b);
        assert_eq!(stopped(19), 0x137f);
        assert_eq!(continued(), 0xffff);
    }

    #[test]
    fn test_decode_round_trips() {
        let all = (0..=255u8)
            .map(WaitStatus::Exited)
            .chain((1..=64u8).flat_map(|sig| {
                [
                    WaitStatus::Signaled { sig, core: false },
                    WaitStatus::Signaled { sig, core: true },
                ]
            }))
            .chain((1..=64u8).map(WaitStatus::Stopped))
            .chain([WaitStatus::Continued]);
        for s in all {
            assert_eq!(WaitStatus::decode(s.encode()), Some(s), "{s:?}");
        }
        assert_eq!(WaitStatus::decode(0x1_0000), None);
        assert_eq!(WaitStatus::decode(0x0180), None);
    }
}
