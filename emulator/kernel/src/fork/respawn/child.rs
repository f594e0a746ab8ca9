//! The child side of a respawn fork: `elfvisor --fork-child <fd>`. It validates every message,
//! rebuilds the guest process, answers READY and runs no guest code before ADMIT.

use std::fs::File;
use std::os::fd::RawFd;
use std::sync::Arc;

use elfvisor_abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, MAP_SHARED};
use elfvisor_abi::sched::{CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_VFORK, CLONE_VM};
use elfvisor_abi::{GuestAddr, Prot};
use elfvisor_engine::{Engine, Vcpu};
use elfvisor_mm::{AddressSpace, Frozen, MmapRequest, ObjectKind, ObjectMapping, SharedObject};

use super::image::{Hello, LayerRecord, ObjectRecord, ResidentRecord, State, VmaRecord};
use super::wire::{self, Channel, Reader, WireError, tag};
use super::{ForkError, fault, kill_point};
use crate::fdtable::{FdEntry, FdTable};
use crate::fork::ForkStrategy;
use crate::fork::vfork::VforkLink;
use crate::run::RunError;
use crate::task::Task;
use crate::task::group::ProcessInit;
use crate::task::types::{EngineRef, MemPolicy, Termination};

/// Runs a respawned child to its end. `fd` is the inherited end of the fork socket.
pub fn child_main(fd: RawFd, engine: EngineRef) -> Result<Termination, RunError> {
    // SAFETY: the parent passed us this descriptor number; nothing else in this process uses it.
    let ch = unsafe { Channel::from_raw(fd) };
    let _ = crate::host::fcntl_int(ch.raw(), libc::F_SETFD, i64::from(libc::FD_CLOEXEC));
    let (mut process, vcpu) = match receive(&ch, engine) {
        Ok(built) => built,
        Err(e) => {
            // Best effort: the parent kills and reaps us either way.
            let _ = ch.send(tag::ERROR, e.to_string().as_bytes(), &[]);
            return Err(RunError::ForkChild(e.to_string()));
        }
    };
    // Catch signals before the parent can return from fork: one it sends its child at once
    // must be held for the guest, not take the host's default action on the emulator.
    crate::signal::forward::install(&process.sigactions().get(libc::SIGCHLD as usize - 1));
    // The board too: the parent may read this process's /proc files as soon as fork returns.
    crate::board::start(&process);
    ch.send(tag::READY, &[], &[])?;
    match ch.expect(tag::ADMIT, "admission") {
        Ok(_) => {}
        // Never admitted: end without running a single guest instruction.
        Err(_) => std::process::exit(0),
    }
    if let Some(shares_memory) = process.vfork_request.take() {
        // The parent sleeps until this closes: at exec or exit.
        process.vfork_done = Some(VforkLink::new(ch, shares_memory));
        // Its parent sleeps until it execs or exits, and cannot move it before.
        super::control::no_exit_hold();
    } else {
        super::control::serve(ch);
    }
    let end = crate::run::run(engine, &mut process, vcpu)?;
    super::control::hold_exit();
    Ok(end)
}

fn receive(ch: &Channel, engine: &dyn Engine) -> Result<(Task, Box<dyn Vcpu>), ForkError> {
    let (payload, stray) = ch.expect(tag::HELLO, "hello")?;
    if !stray.is_empty() {
        return Err(WireError::Malformed("hello (descriptors)").into());
    }
    let hello = Hello::decode(&payload)?;
    kill_point("child", "hello");
    if fault("child-dies") {
        std::process::exit(70);
    }
    let (payload, _) = ch.expect(tag::STATE, "state")?;
    let state = State::decode(&payload)?;
    kill_point("child", "state");
    if state.fds.len() != hello.fds as usize {
        return Err(WireError::Malformed("state (fd count)").into());
    }
    let arena = crate::exec::ARENA_SIZE;
    // Counts come from the parent: they size nothing before the records arrive.
    let mut records: Vec<VmaRecord> =
        Vec::with_capacity((hello.vmas as usize).min(wire::MAX_PAYLOAD));
    while records.len() < hello.vmas as usize {
        let (payload, _) = ch.expect(tag::VMAS, "vma table")?;
        let mut r = Reader::new(&payload, "vma table");
        let count = r.u32()?;
        for _ in 0..count {
            records.push(VmaRecord::decode(&mut r, arena, hello.backings, hello.objects)?);
        }
        r.finish()?;
        if records.len() > hello.vmas as usize || count == 0 {
            return Err(WireError::Malformed("vma table (count)").into());
        }
    }
    kill_point("child", "vmas");
    let room = if fault("truncate-control") { 1 } else { wire::MAX_FDS_PER_MESSAGE };
    let guest_fds = wire::recv_fds_with_room(ch, room)?;
    if guest_fds.len() != hello.fds as usize {
        return Err(
            WireError::FdCount { announced: hello.fds as usize, carried: guest_fds.len() }.into()
        );
    }
    kill_point("child", "fds");
    let objects = wire::recv_fds(ch)?;
    if objects.len() != hello.backings as usize {
        return Err(WireError::FdCount {
            announced: hello.backings as usize,
            carried: objects.len(),
        }
        .into());
    }
    let objects: Vec<Arc<File>> = objects.into_iter().map(|fd| Arc::new(File::from(fd))).collect();
    let shared = receive_objects(ch, hello.objects)?;
    kill_point("child", "objects");

    let mut mm = AddressSpace::new(arena).map_err(|e| ForkError::Host(e.to_string()))?;
    // The parent's layout: a fork child's mmap area is its parent's.
    if state.randomized {
        mm.randomize_layout().map_err(|e| ForkError::Host(format!("the layout: {e}")))?;
    }
    for rec in &records {
        if rec.shared {
            let (index, offset) = rec.backing.ok_or(WireError::Malformed("vma (shared)"))?;
            mm.map_object(ObjectMapping {
                start: rec.start,
                len: rec.end.0 - rec.start.0,
                prot: rec.prot,
                object: Arc::clone(&shared[index as usize]),
                offset,
                name: rec.name.clone(),
            })
            .map_err(|e| {
                ForkError::Host(format!("mapping shared {}..{}: {e}", rec.start, rec.end))
            })?;
        } else {
            map_record(&mut mm, rec, &objects)?;
            if rec.anon {
                mm.mark_anon(rec.start, rec.end);
            }
        }
    }
    let layers = if hello.layers { receive_layers(ch, &mm, &records)? } else { Vec::new() };
    {
        // The parent's resident pages, then (copy) the non-zero ones among them and (both) the
        // written pages of private file mappings.
        let mut resident: Vec<Vec<(u64, u64)>> = vec![Vec::new(); records.len()];
        let mut after = None;
        let mut memory = false;
        loop {
            let (got, payload, fds) = ch.recv()?;
            if !fds.is_empty() {
                return Err(WireError::Malformed("memory (descriptors)").into());
            }
            match got {
                tag::RESIDENT if !memory => {
                    let rec = ResidentRecord::decode(&payload, &records, after)?;
                    after = Some(rec.end());
                    for &(start, end) in &rec.runs {
                        // A frozen page the parent has resident is resident in the object
                        // (a freeze faults the holes it makes in again): only the rest needs
                        // faulting in.
                        for (s, e) in outside(start, end, &layers) {
                            mm.make_resident(GuestAddr(s), e - s)?;
                        }
                    }
                    resident[rec.vma as usize].extend(rec.runs);
                }
                tag::MEMORY => {
                    memory = true;
                    apply_memory(&mm, &records, &resident, &payload)?;
                }
                tag::END => {
                    kill_point("child", "memory");
                    break;
                }
                got => return Err(WireError::UnexpectedTag { expected: "memory", got }.into()),
            }
        }
    }
    mm.set_startup(state.startup.clone());
    if let Some((start, current)) = state.brk {
        mm.restore_brk(GuestAddr(start), GuestAddr(current));
    }
    mm.check_invariants().map_err(ForkError::Host)?;
    mm.set_lock_limit(crate::host::lock_limit);
    let [address_space, data, stack] = state.vm_limits;
    mm.set_vm_limits(elfvisor_mm::VmLimits { address_space, data, stack });
    mm.set_data_size(state.data_size);

    // The guest's limit comes with its state; the emulator runs with the host's hard limit.
    // Descriptors the guest opened before lowering its limit stay open (every one is below
    // nr_open), so they are installed before the limit is set.
    crate::host::raise_nofile();
    let mut fds = FdTable::new(crate::host::nr_open() as usize);
    for ((number, cloexec), host) in state.fds.iter().zip(guest_fds) {
        fds.install_at(*number as usize, FdEntry { file: Arc::new(host), cloexec: *cloexec })
            .map_err(|e| ForkError::Host(format!("descriptor {number}: {e}")))?;
    }
    // Each signalfd gets readiness of this process's own, before any signal can be queued.
    crate::signal::signalfd::renew(&mut fds, &state.signalfds)
        .map_err(|e| ForkError::Host(format!("renewing the signalfds: {e}")))?;
    fds.set_nofile(state.nofile.0, state.nofile.1);
    fds.set_fsize(state.fsize.0, state.fsize.1);
    let exe = std::path::PathBuf::from(std::ffi::OsStr::new(
        &String::from_utf8_lossy(&state.exe).into_owned(),
    ));
    let init = ProcessInit {
        pid: crate::host::pid(),
        exe,
        // A respawned child forks the way it was forked.
        fork_strategy: if hello.snapshot {
            ForkStrategy::RespawnSnapshot
        } else {
            ForkStrategy::RespawnCopy
        },
        hwcaps: state.hwcaps,
        sigreturn_trampoline: state.sigreturn_trampoline,
        trace: hello.trace,
        personality: state.personality,
    };
    let mut process = Task::new(mm, fds, init);
    process.set_comm(&state.comm);
    process.sigactions().update_all(|actions| *actions = state.sigactions);
    process.sigmask = state.sigmask;
    process.mempolicy = MemPolicy { mode: state.mempolicy.0, nodes: state.mempolicy.1 };
    process.altstack = state.altstack;
    process.vfork_request =
        (state.clone_flags & CLONE_VFORK != 0).then_some(state.clone_flags & CLONE_VM != 0);
    if state.clone_flags & CLONE_CHILD_SETTID != 0 {
        let _ = process.mm.read().write_u32(GuestAddr(state.child_tid), process.pid());
    }
    if state.clone_flags & CLONE_CHILD_CLEARTID != 0 {
        process.clear_child_tid = state.child_tid;
    }
    // Dumpable as its parent (PR_SET_DUMPABLE knows only 0 and 1; 2 is not dumpable by it).
    if state.dumpable != 1 {
        let _ = crate::host::set_dumpable(0);
    }
    let mut vcpu =
        crate::run::create_vcpu(engine, &process).map_err(|e| ForkError::Host(e.to_string()))?;
    crate::run::start_serial_if_alone(vcpu.as_mut(), &process);
    state.regs.load(vcpu.as_mut());
    Ok((process, vcpu))
}

/// The shared objects: descriptions, then descriptors for those that have one, in order.
fn receive_objects(ch: &Channel, count: u32) -> Result<Vec<Arc<SharedObject>>, ForkError> {
    // Batches of records (each its count, then the records) until `count` have come; every
    // batch holds at least one, so the count sizes nothing before records arrive.
    let mut recs = Vec::with_capacity((count as usize).min(wire::MAX_PAYLOAD));
    while recs.len() < count as usize {
        let (payload, stray) = ch.expect(tag::VMAS, "shared objects")?;
        if !stray.is_empty() {
            return Err(WireError::Malformed("shared objects (descriptors)").into());
        }
        let mut r = Reader::new(&payload, "shared objects");
        let n = r.u32()?;
        if n == 0 || recs.len() + n as usize > count as usize {
            return Err(WireError::Malformed("shared objects (count)").into());
        }
        for _ in 0..n {
            recs.push(ObjectRecord::decode(&mut r)?);
        }
        r.finish()?;
    }
    let fds = wire::recv_fds(ch)?;
    let wanted = recs.iter().filter(|r| r.has_fd()).count();
    if fds.len() != wanted {
        return Err(WireError::FdCount { announced: wanted, carried: fds.len() }.into());
    }
    let mut fds = fds.into_iter();
    recs.iter()
        .map(|rec| {
            let kind = match rec.kind {
                0 => ObjectKind::File,
                1 => ObjectKind::Anonymous,
                _ => ObjectKind::SysV { shmid: rec.shmid, key: rec.key },
            };
            let file = if rec.has_fd() { fds.next().map(File::from) } else { None };
            SharedObject::restore(file, kind, rec.size, Prot(rec.max_prot))
                .map_err(|e| ForkError::Host(format!("restoring a shared object: {e}")))
        })
        .collect()
}

/// Maps one VMA as the parent has it (before any private bytes arrive).
fn map_record(
    mm: &mut AddressSpace,
    rec: &VmaRecord,
    objects: &[Arc<File>],
) -> Result<(), ForkError> {
    let mut flags = MAP_FIXED | if rec.shared { MAP_SHARED } else { MAP_PRIVATE };
    let file = match rec.backing {
        Some((i, offset)) => Some((Arc::clone(&objects[i as usize]), offset)),
        None => {
            flags |= MAP_ANONYMOUS;
            // Only anonymous mappings may grow down (Linux refuses the flag on files).
            if rec.grows_down {
                flags |= MAP_GROWSDOWN;
            }
            None
        }
    };
    let req = MmapRequest {
        addr: rec.start,
        len: rec.end.0 - rec.start.0,
        prot: rec.prot,
        flags,
        file,
        name: rec.name.clone(),
    };
    mm.mmap(req)
        .map_err(|e| ForkError::Host(format!("mapping {}..{}: {e}", rec.start, rec.end)))?;
    Ok(())
}

/// The parts of `[start, end)` that no range of `covered` (ascending, disjoint) covers.
fn outside(start: u64, end: u64, covered: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = start;
    let first = covered.partition_point(|c| c.1 <= start);
    for &(s, e) in &covered[first..] {
        if s >= end {
            break;
        }
        if s > at {
            out.push((at, s));
        }
        at = at.max(e);
    }
    if at < end {
        out.push((at, end));
    }
    out
}

/// The snapshot's frozen objects and layers: each layer is mapped copy-on-write over its
/// (already mapped, still zero) private anonymous VMA. Returns the layers' guest ranges, in
/// ascending order.
fn receive_layers(
    ch: &Channel,
    mm: &AddressSpace,
    records: &[VmaRecord],
) -> Result<Vec<(u64, u64)>, ForkError> {
    let (payload, stray) = ch.expect(tag::LAYERS, "frozen objects")?;
    if !stray.is_empty() {
        return Err(WireError::Malformed("frozen objects (descriptors)").into());
    }
    let mut r = Reader::new(&payload, "frozen objects");
    let (count, mut layers) = (r.u32()? as usize, r.u32()? as usize);
    let mut sizes = Vec::with_capacity(count.min(wire::MAX_PAYLOAD / 8));
    for _ in 0..count {
        sizes.push(r.u64()?);
    }
    r.finish()?;
    let fds = wire::recv_fds(ch)?;
    if fds.len() != count {
        return Err(WireError::FdCount { announced: count, carried: fds.len() }.into());
    }
    let objects: Vec<Arc<Frozen>> = fds
        .into_iter()
        .zip(sizes)
        .map(|(fd, bytes)| Arc::new(Frozen::new(File::from(fd), bytes)))
        .collect();
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    while layers > 0 {
        let (payload, stray) = ch.expect(tag::LAYERS, "layers")?;
        if !stray.is_empty() {
            return Err(WireError::Malformed("layers (descriptors)").into());
        }
        let mut r = Reader::new(&payload, "layers");
        let n = r.u32()? as usize;
        if n == 0 || n > layers {
            return Err(WireError::Malformed("layers (count)").into());
        }
        for _ in 0..n {
            let l = LayerRecord::decode(&mut r, records, objects.len())?;
            mm.map_frozen(
                GuestAddr(l.start),
                l.end - l.start,
                &objects[l.object as usize],
                l.offset,
            )
            .map_err(|e| {
                ForkError::Host(format!("mapping frozen {:#x}..{:#x}: {e}", l.start, l.end))
            })?;
            ranges.push((l.start, l.end));
        }
        r.finish()?;
        layers -= n;
    }
    ranges.sort_unstable();
    Ok(ranges)
}

/// Writes one MEMORY chunk into its (already mapped, private) VMA; in private anonymous memory
/// it must lie within one resident run.
fn apply_memory(
    mm: &AddressSpace,
    records: &[VmaRecord],
    resident: &[Vec<(u64, u64)>],
    payload: &[u8],
) -> Result<(), ForkError> {
    let mut r = Reader::new(payload, "memory");
    let index = r.u32()? as usize;
    let offset = r.u64()?;
    let bytes = r.rest();
    let rec = records.get(index).ok_or(WireError::Malformed("memory (vma index)"))?;
    let len = rec.end.0 - rec.start.0;
    if rec.shared || rec.wipe || offset.checked_add(bytes.len() as u64).is_none_or(|end| end > len)
    {
        return Err(WireError::Malformed("memory (range)").into());
    }
    let at = GuestAddr(rec.start.0 + offset);
    if rec.backing.is_none() {
        let end = at.0 + bytes.len() as u64;
        let runs = &resident[index];
        // Runs ascend: the one that could hold `at` is the last starting at or before it.
        let i = runs.partition_point(|r| r.0 <= at.0);
        if i == 0 || runs[i - 1].1 < end {
            return Err(WireError::Malformed("memory (not resident in the parent)").into());
        }
    }
    mm.write_private_pages(at, bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fork::respawn::wire::Writer;
    use elfvisor_mm::VmaName;

    #[test]
    fn test_memory_of_anonymous_vmas_must_lie_in_resident_runs() {
        let mut mm = AddressSpace::new(1 << 32).unwrap();
        let rec = VmaRecord {
            start: GuestAddr(0x10000),
            end: GuestAddr(0x14000),
            prot: Prot::RW,
            shared: false,
            grows_down: false,
            wipe: false,
            anon: true,
            backing: None,
            name: VmaName::None,
        };
        map_record(&mut mm, &rec, &[]).unwrap();
        let records = [rec];
        let resident = [vec![(0x11000, 0x12000)]];
        let payload = |offset: u64, pages: usize| {
            let mut w = Writer::default();
            w.u32(0).u64(offset);
            w.0.extend_from_slice(&vec![1u8; pages * 4096]);
            w.0
        };
        assert!(apply_memory(&mm, &records, &resident, &payload(0x1000, 1)).is_ok());
        assert!(apply_memory(&mm, &records, &resident, &payload(0, 1)).is_err(), "before");
        assert!(apply_memory(&mm, &records, &resident, &payload(0x2000, 1)).is_err(), "after");
        assert!(apply_memory(&mm, &records, &resident, &payload(0x1000, 2)).is_err(), "past");
        assert!(apply_memory(&mm, &records, &[vec![]], &payload(0x1000, 1)).is_err(), "none");
    }

    #[test]
    fn test_outside_leaves_the_uncovered_parts() {
        let covered = [(0x2000, 0x4000), (0x6000, 0x7000)];
        assert_eq!(
            outside(0x1000, 0x8000, &covered),
            [(0x1000, 0x2000), (0x4000, 0x6000), (0x7000, 0x8000)]
        );
        assert_eq!(outside(0x2000, 0x4000, &covered), []);
        assert_eq!(outside(0x3000, 0x6000, &covered), [(0x4000, 0x6000)]);
        assert_eq!(outside(0x8000, 0x9000, &covered), [(0x8000, 0x9000)]);
    }
}
