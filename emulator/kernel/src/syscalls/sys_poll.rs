//! Waiting for descriptors: `ppoll` and `pselect6`, and the interruptible wait that they and
//! the epoll waits share.
//!
//! A wait runs with the guest's temporary signal mask in place (ppoll, pselect6 and
//! epoll_pwait's `sigmask`), and a guest signal that mask lets through ends it: the host wait
//! is made with the forwarded host signals unblocked for its duration only (the host's own
//! atomic mask swap), so a signal from another process, a sibling thread's kick or a timer
//! interrupts it, and between host waits the guest's pending sets are looked at with those
//! signals held. A signal the temporary mask blocks stays pending and the wait goes on.

use std::time::{Duration, Instant};

use elfvisor_abi::event::{SELECT_EX, SELECT_IN, SELECT_OUT};
use elfvisor_abi::poll::Pollfd;
use elfvisor_abi::signal::{SIGSET_SIZE, UNBLOCKABLE};
use elfvisor_abi::time::Timespec;
use elfvisor_abi::{Errno, GuestAddr};

use super::ctx::{Ctx, SysResult};
use crate::host;
use crate::host::signal::BlockedSignals;
use crate::signal::{delivery, forward};
use crate::task::Task;

/// The guest's `sigmask, sigsetsize` pair of a waiting call: EINVAL for another size, EFAULT
/// when unreadable (`set_user_sigmask`, kernel/signal.c).
pub(super) fn read_sigmask(ctx: &Ctx<'_>, mask: u64, size: u64) -> Result<Option<u64>, Errno> {
    if mask == 0 {
        return Ok(None);
    }
    if size != SIGSET_SIZE as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(ctx.read_u64(mask)? & !UNBLOCKABLE))
}

/// A guest timeout as a duration: EFAULT when unreadable, EINVAL when not normalised
/// (`poll_select_set_timeout`, fs/select.c).
pub(super) fn read_timeout(ctx: &Ctx<'_>, addr: u64) -> Result<Option<Duration>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let Timespec { sec, nsec } = ctx.read_obj::<Timespec>(addr)?.validated()?;
    Ok(Some(Duration::new(sec as u64, nsec as u32)))
}

/// Runs `wait` with `mask` as the thread's signal mask (None: the mask stays). On EINTR the old
/// mask is restored only after the handler's frame is built, which records it (as
/// `restore_saved_sigmask_unless` keeps the temporary one for delivery); otherwise at once.
pub(super) fn with_sigmask<T>(
    task: &mut Task,
    mask: Option<u64>,
    wait: impl FnOnce(&mut Task) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let Some(mask) = mask else { return wait(task) };
    let old = std::mem::replace(&mut task.sigmask, mask);
    let result = wait(task);
    if result.as_ref().err() == Some(&Errno::EINTR) {
        task.saved_sigmask = Some(old);
    } else {
        task.sigmask = old;
    }
    result
}

/// Waits until `attempt` finds something ready (`Some`), `timeout` passes (`None`), or a
/// pending guest signal that the thread's mask lets through would run a handler or end the
/// process (EINTR). `attempt` makes one host wait with the forwarded signals unblocked for the
/// given time (None: no limit) and returns EINTR when one of them interrupted it. As Linux's
/// `do_poll` and `ep_poll`, descriptors found ready win over a pending signal.
pub(super) fn wait_interruptibly<T>(
    task: &mut Task,
    timeout: Option<Duration>,
    mut attempt: impl FnMut(&Task, Option<Duration>, &BlockedSignals) -> Result<Option<T>, Errno>,
) -> Result<Option<T>, Errno> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let held = forward::hold_forwarded();
    let result = loop {
        delivery::drain_host(task);
        // A debugger stopping the guest interrupts the wait as a signal that runs no handler.
        let signalled = delivery::has_deliverable(task) || crate::gdb::stop_requested(task);
        // A timeout too far to represent waits without a limit.
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let limit = if signalled { Some(Duration::ZERO) } else { left };
        match attempt(task, limit, &held) {
            Ok(Some(ready)) => break Ok(Some(ready)),
            Ok(None) if signalled => break Err(Errno::EINTR),
            Ok(None) if left == Some(Duration::ZERO) => break Ok(None),
            // Woken early, or interrupted by a signal: look at the guest's signals again.
            Ok(None) | Err(Errno::EINTR) => {}
            Err(e) => break Err(e),
        }
    };
    drop(held);
    result
}

/// Writes the time left of a wait back, as `poll_select_finish` does for ppoll and pselect6:
/// never for a zero timeout; a write that faults is ignored.
fn write_remaining(ctx: &Ctx<'_>, addr: u64, timeout: Option<Duration>, start: Instant) {
    let Some(timeout) = timeout.filter(|t| !t.is_zero()) else { return };
    let left = timeout.saturating_sub(start.elapsed());
    let left = Timespec { sec: left.as_secs() as i64, nsec: i64::from(left.subsec_nanos()) };
    let _ = ctx.write_obj(addr, &left);
}

/// The host descriptor a guest fd polls as: -1 (ignored) for a negative one, `i32::MAX` (the
/// host reports POLLNVAL) for one that is not open.
fn poll_target(ctx: &Ctx<'_>, fd: i32) -> i32 {
    if fd < 0 { -1 } else { ctx.proc.fds().raw(i64::from(fd)).unwrap_or(i32::MAX) }
}

/// The signalfds among the polled descriptors. Linux's `signalfd_poll` answers for the polling
/// thread (its own pending signals and the process's); the host eventfd behind a signalfd is
/// readable for any thread's, so these are answered from the guest's pending sets and left
/// out of the host poll (fd -1). Every signal queued for this thread or its process
/// interrupts the host wait (`delivery::send_to_thread`, `send_to_process`), so none is missed.
struct SignalfdPolls(Vec<(usize, std::sync::Arc<crate::signal::signalfd::SignalFd>)>);

impl SignalfdPolls {
    /// Picks the signalfds among `guest` (guest numbers, one per entry of `polls`) and takes
    /// them out of the host poll.
    fn pick(ctx: &Ctx<'_>, guest: &[i32], polls: &mut [libc::pollfd]) -> SignalfdPolls {
        let mut picked = Vec::new();
        for (i, fd) in guest.iter().enumerate() {
            let file = ctx.proc.fds().get(i64::from(*fd)).ok().map(|e| e.file.clone());
            if let Some(sfd) = file.and_then(|f| crate::signal::signalfd::find(&f)) {
                polls[i].fd = -1;
                picked.push((i, sfd));
            }
        }
        SignalfdPolls(picked)
    }

    /// Writes the signalfds' revents for `task` (`EPOLLIN|EPOLLRDNORM` as asked); returns how
    /// many are ready.
    fn answer(&self, task: &Task, polls: &mut [libc::pollfd]) -> u64 {
        let mut ready = 0;
        for (i, sfd) in &self.0 {
            let p = &mut polls[*i];
            p.revents = if crate::signal::signalfd::readable_for(task, sfd) {
                p.events & (libc::POLLIN | libc::POLLRDNORM)
            } else {
                0
            };
            ready += u64::from(p.revents != 0);
        }
        ready
    }

    /// One host poll with the signalfds answered: no wait when one of them is ready.
    fn poll(
        &self,
        task: &Task,
        polls: &mut [libc::pollfd],
        limit: Option<Duration>,
        held: &BlockedSignals,
    ) -> Result<u64, Errno> {
        if self.0.is_empty() {
            return host::event::poll_unblocked(polls, limit, held);
        }
        let early = self.answer(task, polls);
        let limit = if early > 0 { Some(Duration::ZERO) } else { limit };
        let n = host::event::poll_unblocked(polls, limit, held)?;
        Ok(n + self.answer(task, polls))
    }
}

/// `ppoll(fds, nfds, tsp, sigmask, sigsetsize)`: the guest's descriptors polled as the host's
/// (`struct pollfd` and the POLL* bits are the same on every Linux), with `sigmask` in place for
/// the wait. Order of checks as `SYSCALL_DEFINE5(ppoll)` and `do_sys_poll`: the timeout, the
/// mask, then `nfds` against RLIMIT_NOFILE and the array. revents are written back even when a
/// signal ends the wait, and the time left to `tsp` (-ERESTARTNOHAND: restarted, with that
/// time, only when no handler runs).
pub fn ppoll(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let start = Instant::now();
    let timeout = read_timeout(ctx, a[2])?;
    let mask = read_sigmask(ctx, a[3], a[4])?;
    let count = usize::try_from(a[1]).map_err(|_| Errno::EINVAL)?;
    let limit = ctx.proc.fds().limit();
    let mut entries: Vec<Pollfd> = ctx.proc.mm.read().read_objs(GuestAddr(a[0]), count, limit)?;
    let mut polls: Vec<libc::pollfd> = entries
        .iter()
        .map(|e| libc::pollfd { fd: poll_target(ctx, e.fd), events: e.events, revents: 0 })
        .collect();
    let guest: Vec<i32> = entries.iter().map(|e| e.fd).collect();
    let signalfds = SignalfdPolls::pick(ctx, &guest, &mut polls);
    let result = with_sigmask(ctx.proc, mask, |task| {
        wait_interruptibly(task, timeout, |task, limit, held| {
            let n = signalfds.poll(task, &mut polls, limit, held)?;
            Ok((n > 0).then_some(n))
        })
    });
    for (entry, poll) in entries.iter_mut().zip(&polls) {
        entry.revents = poll.revents;
    }
    ctx.proc.mm.read().write_objs(GuestAddr(a[0]), &entries)?;
    if a[2] != 0 {
        write_remaining(ctx, a[2], timeout, start);
    }
    Ok(result?.unwrap_or(0))
}

/// One of pselect6's three descriptor sets: `words` longs of bits, none when the pointer is 0.
fn read_fd_set(ctx: &Ctx<'_>, addr: u64, words: usize) -> Result<Vec<u64>, Errno> {
    if addr == 0 {
        return Ok(vec![0; words]);
    }
    ctx.proc.mm.read().read_objs(GuestAddr(addr), words, words)
}

/// `pselect6(n, readfds, writefds, exceptfds, tsp, sig)`: `sig` points at a (sigset pointer,
/// size) pair. Served as a poll of every descriptor named in a set, with the bits of
/// `POLLIN_SET`, `POLLOUT_SET` and `POLLEX_SET` (fs/select.c `do_select`): a named descriptor
/// that is not open is EBADF; the sets are rewritten only when the call succeeds; the time left
/// goes back to `tsp` (`poll_select_finish`).
pub fn pselect6(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let start = Instant::now();
    let timeout = read_timeout(ctx, a[4])?;
    let mask = if a[5] != 0 {
        let pair: [u64; 2] = ctx.read_obj(a[5])?;
        read_sigmask(ctx, pair[0], pair[1])?
    } else {
        None
    };
    let n = a[0] as i32;
    if n < 0 {
        return Err(Errno::EINVAL);
    }
    // Linux looks no further than its descriptor table; the guest's never reaches its limit.
    let n = (n as usize).min(ctx.proc.fds().limit());
    let words = n.div_ceil(64);
    let sets = [
        read_fd_set(ctx, a[1], words)?,
        read_fd_set(ctx, a[2], words)?,
        read_fd_set(ctx, a[3], words)?,
    ];
    let wanted = [SELECT_IN, SELECT_OUT, SELECT_EX];
    let mut fds = Vec::new();
    let mut polls = Vec::new();
    for fd in 0..n {
        let bit = 1u64 << (fd % 64);
        let events =
            (0..3).filter(|&s| sets[s][fd / 64] & bit != 0).fold(0u32, |acc, s| acc | wanted[s]);
        if events == 0 {
            continue;
        }
        let host_fd = ctx.proc.fds().raw(fd as i64)?;
        fds.push(fd);
        polls.push(libc::pollfd { fd: host_fd, events: events as i16, revents: 0 });
    }
    let guest: Vec<i32> = fds.iter().map(|&fd| fd as i32).collect();
    let signalfds = SignalfdPolls::pick(ctx, &guest, &mut polls);
    let result = with_sigmask(ctx.proc, mask, |task| {
        wait_interruptibly(task, timeout, |task, limit, held| {
            let n = signalfds.poll(task, &mut polls, limit, held)?;
            Ok((n > 0).then_some(()))
        })
    });
    if a[4] != 0 {
        write_remaining(ctx, a[4], timeout, start);
    }
    result?;
    let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    let mut count = 0;
    for (fd, poll) in fds.iter().zip(&polls) {
        let revents = poll.revents as u16 as u32;
        for s in 0..3 {
            if sets[s][fd / 64] & (1 << (fd % 64)) != 0 && revents & wanted[s] != 0 {
                out[s][fd / 64] |= 1 << (fd % 64);
                count += 1;
            }
        }
    }
    for (s, addr) in [a[1], a[2], a[3]].into_iter().enumerate() {
        if addr != 0 {
            ctx.proc.mm.read().write_objs(GuestAddr(addr), &out[s])?;
        }
    }
    Ok(count)
}
