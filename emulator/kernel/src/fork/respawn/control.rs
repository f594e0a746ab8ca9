//! The control line: after admission a respawned child keeps its fork socket and serves, on a
//! thread of its own, what only it can do to itself on the host for its parent.
//!
//! The one request so far is `setpgid`. Linux lets a parent move a child into another process
//! group until the child runs `execve`; every respawned child is an emulator that the host
//! started with `execve`, so the host refuses the parent's `setpgid(child, pgid)` with EACCES.
//! The child makes the same call on itself (`setpgid(0, pgid)`), which the host checks exactly
//! as it would the parent's (EPERM for a session leader or a group in another session), and
//! answers EACCES itself once its guest has run `execve`.
//!
//! A child that has exited cannot move itself, where Linux still moves a zombie. So a child
//! holds its exit until its parent has made one more system call after the fork that could see
//! it go — the parent sends RELEASE on entry to that call, or after it when the call is the
//! `setpgid` shells make right after `fork`; the C libraries' own `rt_sigprocmask` right after
//! the clone does not count. A parent that moves its child later than that, after the child exited,
//! still gets the host's EACCES.
//!
//! A parent that computes without a system call would hold its exited child forever, so the
//! hold also ends once the parent has used `EXIT_HOLD_CPU` of CPU time since the hold began.
//! The budget is the parent's CPU time, not wall-clock time: a parent that a busy host leaves
//! waiting for a CPU uses none, so a loaded machine cannot end the hold before the parent's
//! next system call, and the answer never depends on the host's schedule.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use elfvisor_abi::Errno;

use super::wire::{Channel, Reader, WireError, Writer, tag};
use crate::task::group::ThreadGroup;

/// Set when this process's guest runs `execve`: a parent may no longer move it.
static GUEST_EXECED: AtomicBool = AtomicBool::new(false);

/// How long a parent waits for its child's answer (a stopped child cannot answer).
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// How much CPU time the parent may use without a system call before a held exit goes ahead.
const EXIT_HOLD_CPU: Duration = Duration::from_millis(100);

/// How often a held exit looks at its parent's CPU time.
const EXIT_HOLD_POLL: Duration = Duration::from_millis(10);

/// Where the host cannot say how much CPU time the parent used: a wall-clock bound instead.
const EXIT_HOLD_WALL: Duration = Duration::from_secs(2);

/// Whether this child's parent has released its exit (or can no longer send RELEASE).
static RELEASED: Mutex<bool> = Mutex::new(false);
static RELEASED_CHANGED: Condvar = Condvar::new();

fn set_released() {
    *RELEASED.lock().unwrap_or_else(|e| e.into_inner()) = true;
    RELEASED_CHANGED.notify_all();
}

/// For a child that has no control line: its exit waits for nothing.
pub fn no_exit_hold() {
    set_released();
}

/// Called by a respawned child whose guest has ended, before the host process exits: waits
/// for the parent's RELEASE, or until the parent has used `EXIT_HOLD_CPU` of CPU time since
/// (or has gone: its end closes the line, which releases too).
pub fn hold_exit() {
    let parent = crate::host::getppid();
    let ticks = crate::host::cpu_ticks;
    let budget = EXIT_HOLD_CPU.as_millis() as u64 * crate::host::clock_ticks_per_second() / 1000;
    let start = ticks(parent);
    let began = Instant::now();
    let mut released = RELEASED.lock().unwrap_or_else(|e| e.into_inner());
    while !*released {
        let spent = match (start, ticks(parent)) {
            (Some(start), Some(now)) => now.saturating_sub(start) >= budget.max(1),
            // The parent is gone (reaped by now, or reparented away).
            (Some(_), None) => true,
            (None, _) => began.elapsed() >= EXIT_HOLD_WALL,
        };
        if spent {
            return;
        }
        released = RELEASED_CHANGED
            .wait_timeout(released, EXIT_HOLD_POLL)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// The parent's side: lets the children admitted since its last system call exit.
pub fn release_children(group: &ThreadGroup) {
    let mut respawn = group.respawn();
    for pid in std::mem::take(&mut respawn.unreleased) {
        if let Some(ch) = respawn.controls.get(&pid) {
            let _ = ch.send(tag::RELEASE, &[], &[]);
        }
    }
}

/// Records that the guest replaced its image.
pub fn guest_execed() {
    GUEST_EXECED.store(true, Ordering::Relaxed);
}

/// The child's side: answers its parent's requests until the parent closes the line or this
/// process ends.
pub fn serve(ch: Channel) {
    let spawned = std::thread::Builder::new().name("elfvisor-control".into()).spawn(move || {
        // Every signal is for the vCPU thread; this one only waits on its socket.
        crate::host::signal::block_all_forever();
        while let Ok((got, payload, _fds)) = ch.recv() {
            if got == tag::RELEASE {
                set_released();
                continue;
            }
            let answer = match (got, read_pgid(&payload)) {
                (tag::SETPGID, Ok(pgid)) if !GUEST_EXECED.load(Ordering::Relaxed) => {
                    crate::host::setpgid(0, pgid).map_or_else(|e| e.0, |_| 0)
                }
                (tag::SETPGID, Ok(_)) => Errno::EACCES.0,
                _ => Errno::EINVAL.0,
            };
            let mut w = Writer::default();
            w.u32(answer as u32);
            if ch.send(tag::SETPGID, &w.0, &[]).is_err() {
                break;
            }
        }
        // The parent is gone or closed the line: nothing can move this process any more.
        set_released();
    });
    if let Err(e) = spawned {
        set_released();
        // The parent's setpgid on this child then fails as the host's would (EACCES).
        eprintln!("elfvisor: starting the control thread failed: {e}");
    }
}

fn read_pgid(payload: &[u8]) -> Result<i32, WireError> {
    let mut r = Reader::new(payload, "setpgid");
    let pgid = r.u32()? as i32;
    r.finish()?;
    Ok(pgid)
}

/// The parent's side: asks the child to move itself to `pgid` (0: its own pid). `None` when
/// the child could not answer (it has ended, or is stopped): the caller falls back to the host.
pub fn setpgid(ch: &Channel, pgid: i32) -> Option<Result<u64, Errno>> {
    let mut w = Writer::default();
    w.u32(pgid as u32);
    ch.send(tag::SETPGID, &w.0, &[]).ok()?;
    let deadline = Instant::now() + ANSWER_WAIT;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let timeout = (left.as_secs() as i64, i64::from(left.subsec_nanos()));
        match crate::host::ppoll(&[(ch.raw(), libc::POLLIN)], Some(timeout)) {
            Ok((0, _)) => return None,
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
    let (got, payload, _) = ch.recv().ok()?;
    if got != tag::SETPGID {
        return None;
    }
    let mut r = Reader::new(&payload, "setpgid answer");
    let answer = r.u32().ok()? as i32;
    Some(if answer == 0 { Ok(0) } else { Err(Errno(answer)) })
}
