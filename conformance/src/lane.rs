//! Lanes: the places a guest case runs, and what a run produces.

use std::fmt;

use crate::guest::Libc;

/// Where a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    /// A real Debian arm64 kernel under qemu-system: the gold every other lane is compared with.
    Linux,
    /// `qemu-aarch64 <binary>` on the host.
    QemuUser,
    /// The runtime under test.
    Elfvisor,
}

impl Lane {
    /// Every lane, in report order.
    pub const ALL: [Lane; 3] = [Lane::Linux, Lane::QemuUser, Lane::Elfvisor];

    /// The lane's name as it appears in trial names, fixtures and reports.
    pub fn id(self) -> &'static str {
        match self {
            Lane::Linux => "linux",
            Lane::QemuUser => "qemu-user",
            Lane::Elfvisor => "elfvisor",
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
            Lane::Elfvisor => None,
        }
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A fixture's way of naming lanes: `qemu-user` (both libcs) or `qemu-user/glibc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneSelector {
    pub lane: Lane,
    pub libc: Option<Libc>,
}

impl LaneSelector {
    pub fn parse(text: &str) -> Result<LaneSelector, String> {
        let (lane_id, libc_id) = match text.split_once('/') {
            Some((lane, libc)) => (lane, Some(libc)),
            None => (text, None),
        };
        let known = || Lane::ALL.map(Lane::id).join(", ");
        let lane = Lane::from_id(lane_id)
            .ok_or_else(|| format!("unknown lane {lane_id:?} (lanes: {})", known()))?;
        let libc = libc_id
            .map(|id| Libc::from_id(id).ok_or_else(|| format!("unknown libc {id:?} in {text:?}")))
            .transpose()?;
        Ok(LaneSelector { lane, libc })
    }

    pub fn matches(&self, lane: &str, libc: &str) -> bool {
        self.lane.id() == lane && self.libc.is_none_or(|l| l.id() == libc)
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
            Ok(LaneSelector { lane: Lane::QemuUser, libc: Some(Libc::Glibc) })
        );
        assert_eq!(
            LaneSelector::parse("linux"),
            Ok(LaneSelector { lane: Lane::Linux, libc: None })
        );
        assert!(LaneSelector::parse("qemu-user/uclibc").unwrap_err().contains("unknown libc"));
        assert!(LaneSelector::parse("qemu").unwrap_err().contains("unknown lane"));
    }

    #[test]
    fn test_selector_matches() {
        let any = LaneSelector::parse("qemu-user").unwrap();
        assert!(any.matches("qemu-user", "musl") && any.matches("qemu-user", "glibc"));
        assert!(!any.matches("linux", "musl"));
        let one = LaneSelector::parse("qemu-user/musl").unwrap();
        assert!(one.matches("qemu-user", "musl") && !one.matches("qemu-user", "glibc"));
    }
}
