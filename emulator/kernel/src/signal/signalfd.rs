//! The guest's signalfds: descriptors that read the guest's own pending signals.
//!
//! A host signalfd cannot serve: the guest's pending signals live in the emulator (a tgkill
//! between guest threads, a signal the emulator queues itself, one the host forwarder caught),
//! not in the host kernel's sets. Each guest signalfd is a host eventfd that stands for its
//! readiness, with the signalfd's mask kept here beside it: the eventfd is readable exactly
//! while a signal of the mask is pending for the process or one of its threads, so `poll`,
//! `select` and `epoll` on the guest descriptor wake as Linux's `signalfd_poll` would. The
//! emulator raises it when it queues a signal of the mask ([`notify`]) and settles it after
//! every dequeue ([`settle`]); a `read` of the guest descriptor takes the pending signals of the
//! mask in delivery order instead of reading the eventfd (`crate::syscalls`).
//!
//! The eventfd stands for *this process's* pending signals, so no two processes may share one:
//! a fork child (on every strategy) gets a fresh eventfd per signalfd at the same guest numbers
//! ([`in_table`], [`renew`]), with the same mask and `O_NONBLOCK`. A shared one would be raised
//! by the one process's signals and lowered by the other's reads, and two processes settling
//! one blocking eventfd could both see it readable and the second `read` would block forever.
//! What the child does not share with its parent is the mask: `signalfd4` on an inherited
//! descriptor changes it on Linux for both (one `signalfd_ctx`), here for the caller only.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use elfvisor_abi::{Errno, Signo};

use super::info::bit;
use crate::fdtable::FdTable;
use crate::task::Task;

/// One guest signalfd: the host eventfd behind its guest descriptors and its mask.
#[derive(Debug)]
pub struct SignalFd {
    file: Weak<OwnedFd>,
    mask: AtomicU64,
}

impl SignalFd {
    /// The signals it reads.
    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::SeqCst)
    }
}

/// Every live signalfd of this process (a host fork copies it with the descriptors).
static REGISTRY: Mutex<Vec<Arc<SignalFd>>> = Mutex::new(Vec::new());
/// Whether the registry has ever held one: the common process never takes its lock.
static USED: AtomicBool = AtomicBool::new(false);

/// The registry's lock, held across a host fork (`Task::fork_locks`): a thread the child does
/// not have could otherwise hold it forever there. Taken before any pending queue's lock, the
/// order [`settle`] takes them in.
pub fn fork_lock() -> MutexGuard<'static, Vec<Arc<SignalFd>>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn registry() -> MutexGuard<'static, Vec<Arc<SignalFd>>> {
    let mut list = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|s| s.file.strong_count() > 0);
    list
}

/// Records `file` (a host eventfd installed as a guest descriptor) as a signalfd of `mask`,
/// and settles its readiness for what is pending now.
pub fn register(task: &Task, file: &Arc<OwnedFd>, mask: u64) {
    USED.store(true, Ordering::SeqCst);
    registry().push(Arc::new(SignalFd { file: Arc::downgrade(file), mask: AtomicU64::new(mask) }));
    settle(task);
}

/// The signalfd behind a guest descriptor's host file, if it is one.
pub fn find(file: &Arc<OwnedFd>) -> Option<Arc<SignalFd>> {
    if !USED.load(Ordering::SeqCst) {
        return None;
    }
    registry().iter().find(|s| std::ptr::eq(s.file.as_ptr(), Arc::as_ptr(file))).cloned()
}

/// Gives a signalfd a new mask (`signalfd4` on an existing one) and settles it.
pub fn set_mask(task: &Task, sfd: &SignalFd, mask: u64) {
    sfd.mask.store(mask, Ordering::SeqCst);
    settle(task);
}

/// Whether a signal of `sfd`'s mask is pending for `task` itself or for its process: what
/// Linux's `signalfd_poll` answers for the polling thread (another thread's signal does not
/// count, though it makes the eventfd readable).
pub fn readable_for(task: &Task, sfd: &SignalFd) -> bool {
    let mask = sfd.mask();
    task.pending().iter().any(|p| bit(p.signo) & mask != 0)
        || task.group().pending().iter().any(|p| bit(p.signo) & mask != 0)
}

/// A signal was queued for the process or one of its threads: every signalfd whose mask
/// holds it becomes readable.
pub fn notify(sig: Signo) {
    if !USED.load(Ordering::SeqCst) {
        return;
    }
    for sfd in registry().iter().filter(|s| s.mask() & bit(sig) != 0) {
        if let Some(file) = sfd.file.upgrade() {
            crate::host::event::eventfd_raise(file.as_raw_fd());
        }
    }
}

/// Makes every signalfd readable exactly when a signal of its mask is pending for the
/// process or any of its threads (after a signal was taken, or a mask changed). The registry
/// stays locked throughout, so a [`notify`] racing with it lands after it.
pub fn settle(task: &Task) {
    if !USED.load(Ordering::SeqCst) {
        return;
    }
    let list = registry();
    if list.is_empty() {
        return;
    }
    let mut pending = task.group().pending().iter().fold(0, |set, p| set | bit(p.signo));
    pending |= task.pending().iter().fold(0, |set, p| set | bit(p.signo));
    for thread in task.group().threads() {
        pending |= thread.pending().iter().fold(0, |set, p| set | bit(p.signo));
    }
    for sfd in list.iter() {
        if let Some(file) = sfd.file.upgrade() {
            if pending & sfd.mask() != 0 {
                crate::host::event::eventfd_raise(file.as_raw_fd());
            } else {
                crate::host::event::eventfd_lower(file.as_raw_fd());
            }
        }
    }
}

/// One signalfd as a fork child rebuilds it: its mask and the guest descriptors naming it,
/// ascending (dups and `F_DUPFD` copies share one signalfd).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inherited {
    pub mask: u64,
    pub fds: Vec<u32>,
}

/// Every live signalfd, copied out of the registry (whose lock is taken before the descriptor
/// table's, `fork/host.rs`, so a caller holding the table must not ask the registry).
pub fn live() -> Vec<Arc<SignalFd>> {
    if !USED.load(Ordering::SeqCst) {
        return Vec::new();
    }
    registry().clone()
}

/// The signalfds of `live` among `fds`, for a fork child.
pub fn in_table(fds: &FdTable, live: &[Arc<SignalFd>]) -> Vec<Inherited> {
    live.iter()
        .filter_map(|s| {
            let file = s.file.upgrade()?;
            let numbers: Vec<u32> = fds
                .entries()
                .filter(|(_, e)| Arc::ptr_eq(&e.file, &file))
                .map(|(n, _)| n as u32)
                .collect();
            (!numbers.is_empty()).then_some(Inherited { mask: s.mask(), fds: numbers })
        })
        .collect()
}

/// In a fork child, before it runs guest code: every signalfd of `inherited` gets a host
/// eventfd of its own, installed at each of its guest numbers (keeping their FD_CLOEXEC) with
/// the inherited file's `O_NONBLOCK`, and the registry holds these and nothing else. Nothing is
/// pending in a new process (Linux's fork clears the child's pending sets), so each starts
/// unreadable. On an error (a number not in the table, no eventfd to be had) nothing has
/// changed.
pub fn renew(fds: &mut FdTable, inherited: &[Inherited]) -> Result<(), Errno> {
    let mut fresh = Vec::with_capacity(inherited.len());
    for sfd in inherited {
        let first = sfd.fds.first().ok_or(Errno::EINVAL)?;
        for n in &sfd.fds {
            fds.get(i64::from(*n))?;
        }
        let old = fds.raw(i64::from(*first))?;
        let nonblock =
            crate::host::fcntl_int(old, libc::F_GETFL, 0)? & libc::O_NONBLOCK as u64 != 0;
        fresh.push((Arc::new(crate::host::event::eventfd(0, false, nonblock)?), sfd));
    }
    let mut list = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    list.clear();
    for (file, sfd) in fresh {
        for n in &sfd.fds {
            if let Ok(entry) = fds.get_mut(i64::from(*n)) {
                entry.file = Arc::clone(&file);
            }
        }
        list.push(Arc::new(SignalFd {
            file: Arc::downgrade(&file),
            mask: AtomicU64::new(sfd.mask),
        }));
    }
    if !list.is_empty() {
        USED.store(true, Ordering::SeqCst);
    }
    Ok(())
}
