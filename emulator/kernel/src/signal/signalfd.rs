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

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use elfvisor_abi::Signo;

use super::info::bit;
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
