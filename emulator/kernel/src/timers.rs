//! POSIX timers (`timer_create`, `timer_settime`, `timer_gettime`, `timer_getoverrun`,
//! `timer_delete`). Each guest timer is a host timer on the same clock (`host::ptimer`), so
//! arming, reading, clock changes and CPU-time clocks are the host kernel's. Only the
//! notification is the emulator's: the host timers of a process signal one emulator thread
//! (started with the first timer that notifies anyone), which queues the guest's signal to the
//! process or to the target thread with Linux's `siginfo_t` (`SI_TIMER`, the timer id, the
//! overrun, `sigev_value`).
//!
//! Like Linux's preallocated timer signal, a timer's signal is queued once: an expiry while it
//! still waits in a pending queue raises the overrun inside the queued siginfo instead.
//! `timer_getoverrun` reports the overrun of the last signal that left the queue.
//!
//! Timers belong to the process: a forked child starts with none (its group is new), and
//! `execve` deletes them ([`delete_all`]).

use std::sync::{Arc, Weak};
use std::time::Duration;

use elfvisor_abi::Errno;
use elfvisor_abi::Signo;
use elfvisor_abi::signal::{SI_TIMER, SigFields};
use elfvisor_abi::time::Itimerspec;

use crate::host::ptimer;
use crate::signal::delivery;
use crate::signal::info::{Detail, SigInfo};
use crate::task::group::ThreadGroup;
use crate::task::types::{TimerEntry, TimerNotify};

/// Creates a timer on `clock` that notifies `notify` with `signo` and `value`.
pub fn create(
    group: &Arc<ThreadGroup>,
    clock: i32,
    notify: TimerNotify,
    signo: Signo,
    value: u64,
) -> Result<i32, Errno> {
    let mut table = group.timers();
    let to_thread = match notify {
        TimerNotify::Nobody => None,
        _ => Some(match table.service_tid {
            Some(tid) => tid,
            None => {
                let tid = start_service(Arc::downgrade(group))?;
                table.service_tid = Some(tid);
                tid
            }
        }),
    };
    let id = ptimer::create(clock, to_thread)?;
    let entry = TimerEntry { notify, signo, value, overrun_queued: 0, overrun_last: 0 };
    table.timers.insert(id, entry);
    Ok(id)
}

/// The timer `id` of this process, or `EINVAL` (Linux's answer for an unknown id).
fn known(group: &ThreadGroup, id: i32) -> Result<TimerEntry, Errno> {
    group.timers().timers.get(&id).copied().ok_or(Errno::EINVAL)
}

pub fn settime(
    group: &ThreadGroup,
    id: i32,
    flags: i32,
    new: &Itimerspec,
) -> Result<Itimerspec, Errno> {
    known(group, id)?;
    ptimer::settime(id, flags, new)
}

pub fn gettime(group: &ThreadGroup, id: i32) -> Result<Itimerspec, Errno> {
    known(group, id)?;
    ptimer::gettime(id)
}

pub fn getoverrun(group: &ThreadGroup, id: i32) -> Result<u64, Errno> {
    let mut table = group.timers();
    let entry = table.timers.get_mut(&id).ok_or(Errno::EINVAL)?;
    if !queued(group, id, entry.notify) {
        entry.overrun_last = entry.overrun_queued;
    }
    Ok(entry.overrun_last as u64)
}

pub fn delete(group: &ThreadGroup, id: i32) -> Result<u64, Errno> {
    let mut table = group.timers();
    table.timers.remove(&id).ok_or(Errno::EINVAL)?;
    ptimer::delete(id)
}

/// `execve`: the process's timers are gone (Linux's `exit_itimers` in `begin_new_exec`).
pub fn delete_all(group: &ThreadGroup) {
    let ids: Vec<i32> = std::mem::take(&mut group.timers().timers).into_keys().collect();
    for id in ids {
        let _ = ptimer::delete(id);
    }
}

fn is_timer_signal(info: &SigInfo, id: i32) -> bool {
    info.code == SI_TIMER
        && matches!(info.detail, Detail::Given(SigFields::Timer { tid, .. }) if tid == id)
}

/// Whether timer `id`'s signal still waits in its queue.
fn queued(group: &ThreadGroup, id: i32, notify: TimerNotify) -> bool {
    match notify {
        TimerNotify::Nobody => false,
        TimerNotify::Process => group.pending().iter().any(|p| is_timer_signal(p, id)),
        TimerNotify::Thread(tid) => {
            group.find(tid).is_some_and(|t| t.pending().iter().any(|p| is_timer_signal(p, id)))
        }
    }
}

/// One expiry of timer `id` (`host_overrun` more the host counted while its signal to the
/// timer thread waited).
fn expire(group: &ThreadGroup, id: i32, host_overrun: i32) {
    let mut table = group.timers();
    let Some(entry) = table.timers.get_mut(&id) else { return };
    let bump = |list: &mut Vec<SigInfo>| -> Option<i32> {
        let p = list.iter_mut().find(|p| is_timer_signal(p, id))?;
        if let Detail::Given(SigFields::Timer { overrun, .. }) = &mut p.detail {
            *overrun = overrun.saturating_add(1).saturating_add(host_overrun);
            return Some(*overrun);
        }
        None
    };
    let still_queued = match entry.notify {
        TimerNotify::Nobody => return,
        TimerNotify::Process => bump(&mut group.pending()),
        TimerNotify::Thread(tid) => group.find(tid).and_then(|t| bump(&mut t.pending())),
    };
    if let Some(overrun) = still_queued {
        entry.overrun_queued = overrun;
        return;
    }
    // The last signal left its queue with the overrun it carried.
    entry.overrun_last = entry.overrun_queued;
    entry.overrun_queued = host_overrun;
    let info = SigInfo {
        signo: entry.signo,
        code: SI_TIMER,
        detail: Detail::Given(SigFields::Timer {
            tid: id,
            overrun: host_overrun,
            value: entry.value,
        }),
    };
    let notify = entry.notify;
    drop(table);
    match notify {
        TimerNotify::Nobody => {}
        TimerNotify::Process => delivery::send_to_process(group, info),
        TimerNotify::Thread(tid) => {
            // A target thread that has ended gets nothing (Linux finds no task).
            if let Some(t) = group.find(tid) {
                delivery::send_to_thread(&t, info);
            }
        }
    }
}

/// Starts the process's timer thread; returns its host tid.
fn start_service(group: Weak<ThreadGroup>) -> Result<i32, Errno> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("elfvisor-timers".into())
        .spawn(move || {
            ptimer::block_timer_signal();
            let _ = tx.send(crate::host::gettid());
            // The thread ends with its process's group (checked between waits).
            while group.strong_count() > 0 {
                if let Some((id, overrun)) = ptimer::wait_expiry(Duration::from_millis(500)) {
                    match group.upgrade() {
                        Some(g) => expire(&g, id, overrun),
                        None => break,
                    }
                }
            }
        })
        .map_err(|_| Errno::EAGAIN)?;
    rx.recv().map_err(|_| Errno::EAGAIN)
}
