//! Lanes: the places a guest case runs, and what a run produces.

use std::fmt;

use crate::guest::Libc;

/// How the runtime under test carries out a guest `fork` (its `--fork-strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    Host,
    RespawnCopy,
    RespawnSnapshot,
}

impl Strategy {
    pub const ALL: [Strategy; 3] =
        [Strategy::Host, Strategy::RespawnCopy, Strategy::RespawnSnapshot];

    /// The name `elfvisor --fork-strategy` takes.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Host => "host",
            Strategy::RespawnCopy => "respawn-copy",
            Strategy::RespawnSnapshot => "respawn-snapshot",
        }
    }
}

/// Where a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    /// A real Debian arm64 kernel under qemu-system: the gold every other lane is compared with.
    Linux,
    /// `qemu-aarch64 <binary>` on the host.
    QemuUser,
    /// The runtime under test, with one fork strategy.
    Elfvisor(Strategy),
}

impl Lane {
    /// Every lane, in report order.
    pub const ALL: [Lane; 5] = [
        Lane::Linux,
        Lane::QemuUser,
        Lane::Elfvisor(Strategy::Host),
        Lane::Elfvisor(Strategy::RespawnCopy),
        Lane::Elfvisor(Strategy::RespawnSnapshot),
    ];

    /// The lane's name as it appears in trial names, fixtures and reports.
    pub fn id(self) -> &'static str {
        match self {
            Lane::Linux => "linux",
            Lane::QemuUser => "qemu-user",
            Lane::Elfvisor(Strategy::Host) => "elfvisor/host",
            Lane::Elfvisor(Strategy::RespawnCopy) => "elfvisor/respawn-copy",
            Lane::Elfvisor(Strategy::RespawnSnapshot) => "elfvisor/respawn-snapshot",
        }
    }

    pub fn from_id(id: &str) -> Option<Lane> {
        Lane::ALL.into_iter().find(|lane| lane.id() == id)
    }

    /// Why the lane cannot run on this machine, if it cannot.
    pub fn unavailable(self) -> Option<String> {
        match self {
            Lane::Linux => crate::linux::unavailable(),
            Lane::QemuUser => crate::qemu_user::unavailable(),
            // Our own product: a failing build is a failure, never a reason to skip.
            Lane::Elfvisor(_) => None,
        }
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A fixture's way of naming lanes: a lane (`qemu-user`, `elfvisor/respawn-copy`), or
/// `elfvisor` for every fork strategy, optionally followed by a libc (`qemu-user/glibc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneSelector {
    pub lanes: Vec<Lane>,
    pub libc: Option<Libc>,
}

impl LaneSelector {
    pub fn parse(text: &str) -> Result<LaneSelector, String> {
        let (head, libc) = match text.rsplit_once('/') {
            Some((head, tail)) if Libc::from_id(tail).is_some() => (head, Libc::from_id(tail)),
            _ => (text, None),
        };
        let lanes: Vec<Lane> = if head == "elfvisor" {
            Lane::ALL.into_iter().filter(|l| matches!(l, Lane::Elfvisor(_))).collect()
        } else {
            Lane::from_id(head).into_iter().collect()
        };
        if lanes.is_empty() {
            let known = Lane::ALL.map(Lane::id).join(", ");
            return Err(format!("unknown lane {head:?} in {text:?} (lanes: {known}, or elfvisor)"));
        }
        Ok(LaneSelector { lanes, libc })
    }

    pub fn matches(&self, lane: &str, libc: &str) -> bool {
        self.lanes.iter().any(|l| l.id() == lane) && self.libc.is_none_or(|l| l.id() == libc)
    }

    pub fn includes(&self, lane: Lane) -> bool {
        self.lanes.contains(&lane)
    }
}

/// How a guest run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Exited(i32),
    /// Died of this guest signal number.
    Signaled(u8),
    TimedOut,
}

/// What one run of one case produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub stdout: Vec<u8>,
    /// Kept for diagnosis; never compared.
    pub stderr: Vec<u8>,
    pub status: Status,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_selector_parse() {
        assert_eq!(
            LaneSelector::parse("qemu-user/glibc"),
            Ok(LaneSelector { lanes: vec![Lane::QemuUser], libc: Some(Libc::Glibc) })
        );
        assert_eq!(
            LaneSelector::parse("linux"),
            Ok(LaneSelector { lanes: vec![Lane::Linux], libc: None })
        );
        let all = LaneSelector::parse("elfvisor/musl").unwrap();
        assert_eq!(all.lanes.len(), 3);
        assert_eq!(all.libc, Some(Libc::Musl));
        let one = LaneSelector::parse("elfvisor/respawn-copy").unwrap();
        assert_eq!(one.lanes, vec![Lane::Elfvisor(Strategy::RespawnCopy)]);
        assert!(LaneSelector::parse("qemu-user/uclibc").unwrap_err().contains("unknown lane"));
        assert!(LaneSelector::parse("qemu").unwrap_err().contains("unknown lane"));
        assert!(LaneSelector::parse("elfvisor/fork").is_err());
    }

    #[test]
    fn test_selector_matches() {
        let any = LaneSelector::parse("qemu-user").unwrap();
        assert!(any.matches("qemu-user", "musl") && any.matches("qemu-user", "glibc"));
        assert!(!any.matches("linux", "musl"));
        let one = LaneSelector::parse("qemu-user/musl").unwrap();
        assert!(one.matches("qemu-user", "musl") && !one.matches("qemu-user", "glibc"));
        let elfvisor = LaneSelector::parse("elfvisor").unwrap();
        assert!(elfvisor.matches("elfvisor/host", "musl"));
        assert!(elfvisor.matches("elfvisor/respawn-snapshot", "glibc"));
        assert!(!elfvisor.matches("qemu-user", "glibc"));
    }
}
