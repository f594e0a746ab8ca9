//! The guest's file descriptor table.
//!
//! Guest fd numbers are the guest's own: each maps to a shared host descriptor (an open file
//! description), so `dup` shares offsets and status flags exactly as on Linux while the
//! emulator's own descriptors can never be hit by a guest `dup2` or `close`. Host descriptors
//! are close-on-exec on the host; FD_CLOEXEC is a guest-side bit per guest fd.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use elfvisor_abi::Errno;

/// One guest descriptor.
#[derive(Debug, Clone)]
pub struct FdEntry {
    pub file: Arc<OwnedFd>,
    pub cloexec: bool,
}

impl FdEntry {
    pub fn raw(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// Guest fd → host file, lowest number first.
#[derive(Debug)]
pub struct FdTable {
    slots: Vec<Option<FdEntry>>,
    /// The guest's RLIMIT_NOFILE soft limit: new descriptors stay below it.
    limit: usize,
    /// The guest's RLIMIT_NOFILE hard limit.
    hard: u64,
    /// The guest's RLIMIT_FSIZE (soft, hard), enforced on its writes to regular files
    /// (`syscalls/fsize.rs`); the emulator's own limit stays unlimited, so that its own files
    /// (the objects behind shared mappings, fork snapshots) never meet the guest's limit.
    fsize: (u64, u64),
}

impl FdTable {
    /// An empty table that refuses descriptors at or above `limit` (RLIMIT_NOFILE).
    pub fn new(limit: usize) -> FdTable {
        FdTable { slots: Vec::new(), limit, hard: limit as u64, fsize: (u64::MAX, u64::MAX) }
    }

    /// A table whose 0, 1 and 2 are duplicates of this process's standard streams (those that
    /// are open).
    pub fn with_stdio(limit: usize) -> FdTable {
        let mut table = FdTable::new(limit);
        for fd in 0..3 {
            if let Ok(owned) = crate::host::dup_min(fd, 3, true) {
                let _ = table
                    .install_at(fd as usize, FdEntry { file: Arc::new(owned), cloexec: false });
            }
        }
        table
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The guest's RLIMIT_NOFILE (soft, hard). It is the guest's own state: the emulator itself
    /// runs with the host's hard limit, so its own descriptors (shared mappings, the fork
    /// socket) never count against the guest's.
    pub fn nofile(&self) -> (u64, u64) {
        (self.limit as u64, self.hard)
    }

    /// Sets the guest's RLIMIT_NOFILE; the caller has checked it as `do_prlimit` does
    /// (soft <= hard <= nr_open). Descriptors already above a lowered limit stay open, as on
    /// Linux.
    pub fn set_nofile(&mut self, soft: u64, hard: u64) {
        self.limit = usize::try_from(soft).unwrap_or(usize::MAX);
        self.hard = hard;
    }

    /// The guest's RLIMIT_FSIZE (soft, hard).
    pub fn fsize(&self) -> (u64, u64) {
        self.fsize
    }

    /// Sets the guest's RLIMIT_FSIZE; the caller has checked it as `do_prlimit` does.
    pub fn set_fsize(&mut self, soft: u64, hard: u64) {
        self.fsize = (soft, hard);
    }

    pub fn get(&self, fd: i64) -> Result<&FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    pub fn get_mut(&mut self, fd: i64) -> Result<&mut FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// The host descriptor behind a guest fd.
    pub fn raw(&self, fd: i64) -> Result<RawFd, Errno> {
        self.get(fd).map(FdEntry::raw)
    }

    /// Installs at the lowest free number >= `min`; EMFILE when none is below the limit.
    pub fn install(&mut self, entry: FdEntry, min: usize) -> Result<usize, Errno> {
        let free = (min..self.limit).find(|&i| self.slots.get(i).is_none_or(Option::is_none));
        let fd = free.ok_or(Errno::EMFILE)?;
        self.install_at(fd, entry)?;
        Ok(fd)
    }

    /// Whether a descriptor could be installed now (a call that creates an object checks this
    /// first, as Linux's `get_unused_fd_flags` comes before the object).
    pub fn has_free(&self) -> bool {
        (0..self.limit).any(|i| self.slots.get(i).is_none_or(Option::is_none))
    }

    /// Installs a fresh host descriptor at the lowest free number.
    pub fn install_host(&mut self, owned: OwnedFd, cloexec: bool) -> Result<usize, Errno> {
        // Keep the host side close-on-exec: a guest exec never runs a host exec.
        let _ =
            crate::host::fcntl_int(owned.as_raw_fd(), libc::F_SETFD, i64::from(libc::FD_CLOEXEC));
        self.install(FdEntry { file: Arc::new(owned), cloexec }, 0)
    }

    /// Puts `entry` at exactly `fd`, replacing (and returning) what was there.
    pub fn install_at(&mut self, fd: usize, entry: FdEntry) -> Result<Option<FdEntry>, Errno> {
        if fd >= self.limit {
            return Err(Errno::EBADF);
        }
        if self.slots.len() <= fd {
            self.slots.resize(fd + 1, None);
        }
        Ok(self.slots[fd].replace(entry))
    }

    pub fn close(&mut self, fd: i64) -> Result<FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::take)
            .ok_or(Errno::EBADF)
    }

    /// Closes every descriptor marked close-on-exec.
    pub fn close_on_exec(&mut self) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|e| e.cloexec) {
                *slot = None;
            }
        }
    }

    /// Every open descriptor with its guest number, lowest first.
    pub fn entries(&self) -> impl Iterator<Item = (usize, &FdEntry)> {
        self.slots.iter().enumerate().filter_map(|(n, e)| e.as_ref().map(|e| (n, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> FdEntry {
        let file = std::fs::File::open("/dev/null").unwrap();
        FdEntry { file: Arc::new(OwnedFd::from(file)), cloexec: false }
    }

    #[test]
    fn test_lowest_free_number_and_limits() {
        let mut t = FdTable::new(4);
        assert_eq!(t.install(entry(), 0), Ok(0));
        assert_eq!(t.install(entry(), 0), Ok(1));
        assert_eq!(t.install(entry(), 3), Ok(3));
        assert_eq!(t.install(entry(), 0), Ok(2));
        assert_eq!(t.install(entry(), 0), Err(Errno::EMFILE));
        assert!(t.close(1).is_ok());
        assert!(matches!(t.close(1), Err(Errno::EBADF)));
        assert_eq!(t.install(entry(), 0), Ok(1));
        assert!(matches!(t.get(-1), Err(Errno::EBADF)));
        assert!(matches!(t.install_at(4, entry()), Err(Errno::EBADF)));
    }

    #[test]
    fn test_a_lowered_limit_keeps_the_fds_above_it() {
        let mut t = FdTable::new(64);
        assert!(t.install_at(40, entry()).is_ok());
        t.set_nofile(8, 64);
        assert_eq!(t.nofile(), (8, 64));
        assert!(t.get(40).is_ok());
        assert!(matches!(t.install_at(8, entry()), Err(Errno::EBADF)));
        assert!(t.close(40).is_ok());
    }

    #[test]
    fn test_dup_shares_the_host_file_and_cloexec_is_per_fd() {
        let mut t = FdTable::new(16);
        let fd = t.install(entry(), 0).unwrap();
        let mut copy = t.get(fd as i64).unwrap().clone();
        copy.cloexec = true;
        let dup = t.install(copy, 0).unwrap();
        assert_eq!(t.raw(fd as i64), t.raw(dup as i64));
        t.close_on_exec();
        assert!(t.get(fd as i64).is_ok());
        assert!(matches!(t.get(dup as i64), Err(Errno::EBADF)));
    }
}
