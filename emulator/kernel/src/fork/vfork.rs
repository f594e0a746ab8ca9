//! vfork: the parent sleeps until its child execs or exits, and a `CLONE_VM` child (glibc's
//! `posix_spawn`) shares the parent's memory while it runs.
//!
//! Every guest child is its own host process, so a `CLONE_VM|CLONE_VFORK` child runs on a
//! copy-on-write view of the parent's memory (a host fork, or a respawned child that mapped the
//! parent's memory frozen). Since the parent runs no guest code until the child lets it go,
//! sharing is exact if the child hands back, at exec or exit, every private page it wrote: the
//! pages its host process holds alone (`AddressSpace::own_pages`). Shared mappings need nothing
//! — they are the same host pages on both sides. The parent writes the pages it is sent into
//! its own private mappings before its `clone` returns.
//!
//! What is not shared: mappings the child creates, moves or removes stay its own (a
//! `posix_spawn` child maps nothing), and a page the host swapped out in the child is not
//! recognised as written.

use elfvisor_abi::{GuestAddr, PAGE_SIZE};
use elfvisor_mm::AddressSpace;

use super::respawn::wire::{Channel, MAX_PAYLOAD, Reader, WireError, Writer, tag};
use crate::task::group::TaskHandle;
use crate::task::types::SharedMm;

/// The child's end of the link to its sleeping vfork parent.
#[derive(Debug)]
pub struct VforkLink {
    channel: Channel,
    /// `CLONE_VM`: the pages this child writes belong to the parent too.
    shares_memory: bool,
}

impl VforkLink {
    pub fn new(channel: Channel, shares_memory: bool) -> VforkLink {
        VforkLink { channel, shares_memory }
    }
}

impl VforkLink {
    /// The child execs or exits: returns its writes (in `mm`) to a `CLONE_VM` parent, then
    /// wakes it (the link closes).
    pub fn release(self, mm: &AddressSpace, pid: u32) {
        if self.shares_memory
            && let Err(e) = send_written(&self.channel, mm)
        {
            eprintln!("elfvisor: vfork child {pid}: returning its memory writes failed: {e}");
        }
    }
}

/// Sends every private page this process holds alone, as (guest address, bytes) runs.
fn send_written(ch: &Channel, mm: &AddressSpace) -> Result<(), WireError> {
    let page = PAGE_SIZE as usize;
    let per_message = (wire_room() / page).max(1);
    for vma in mm.vmas().filter(|v| !v.shared) {
        let len = vma.end.0 - vma.start.0;
        let own = mm.own_pages(vma.start, len).map_err(|e| WireError::Io(io_errno(&e)))?;
        let mut i = 0;
        while i < own.len() {
            if !own[i] {
                i += 1;
                continue;
            }
            let first = i;
            while i < own.len() && own[i] && i - first < per_message {
                i += 1;
            }
            let at = GuestAddr(vma.start.0 + (first * page) as u64);
            let n = (i - first) * page;
            let mut w = Writer::default();
            w.u64(at.0);
            let mut bytes = vec![0u8; n];
            mm.read_private_pages(at, &mut bytes).map_err(|_| WireError::Malformed("vma"))?;
            w.0.extend_from_slice(&bytes);
            ch.send(tag::MEMORY, &w.0, &[])?;
        }
    }
    Ok(())
}

fn wire_room() -> usize {
    MAX_PAYLOAD - 8
}

fn io_errno(e: &std::io::Error) -> nix::Error {
    nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The parent's side: sleeps until the child execs or exits (its end of `ch` closes), writing
/// the pages a `CLONE_VM` child returns into this process's private mappings. The wait ends
/// early when another thread's execve kills the waiting thread `me` (Linux's
/// wait_for_vfork_done is killable); the child runs on, its hand-back unread.
pub fn wait_for_release(ch: &Channel, mm: &SharedMm, pid: u32, me: &TaskHandle) {
    loop {
        // A kick interrupts the sleep (EINTR); the message is read only once one is there.
        match crate::host::ppoll(&[(ch.raw(), libc::POLLIN)], None) {
            _ if me.is_killed() => return,
            Err(elfvisor_abi::Errno::EINTR) => continue,
            _ => {}
        }
        match ch.recv() {
            Ok((tag::MEMORY, payload, fds)) if fds.is_empty() => {
                if let Err(e) = apply(&mm.read(), &payload) {
                    eprintln!("elfvisor: vfork parent {pid}: a returned page: {e}");
                }
            }
            Ok(_) => eprintln!("elfvisor: vfork parent {pid}: an unexpected message"),
            Err(_) => return,
        }
    }
}

/// Writes one returned run into the private mapping that holds it.
fn apply(mm: &AddressSpace, payload: &[u8]) -> Result<(), WireError> {
    let mut r = Reader::new(payload, "vfork memory");
    let at = r.u64()?;
    let bytes = r.rest();
    let end = at.checked_add(bytes.len() as u64).ok_or(WireError::Malformed("vfork memory"))?;
    let private = mm.vmas().any(|v| !v.shared && v.start.0 <= at && end <= v.end.0);
    if !private || at % PAGE_SIZE != 0 {
        // The child mapped this range itself; it is not the parent's.
        return Ok(());
    }
    mm.write_private_pages(GuestAddr(at), bytes)
        .map_err(|_| WireError::Malformed("vfork memory (range)"))?;
    Ok(())
}
