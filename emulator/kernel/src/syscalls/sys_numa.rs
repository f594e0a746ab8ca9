//! NUMA memory policy (mm/mempolicy.c, mm/migrate.c) on a machine of one node: `set_mempolicy`,
//! `get_mempolicy`, `mbind`, `migrate_pages`, `move_pages` and `set_mempolicy_home_node` check
//! their arguments exactly as Linux does and keep a thread's policy, but with one node there is
//! nothing to place, so no memory moves. Node 0 is the only node (`nr_node_ids` is 1), whatever
//! nodes the host has.

use elfvisor_abi::numa::{
    MPOL_BIND, MPOL_DEFAULT, MPOL_F_ADDR, MPOL_F_MEMS_ALLOWED, MPOL_F_NODE, MPOL_F_NUMA_BALANCING,
    MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES, MPOL_INTERLEAVE, MPOL_LOCAL, MPOL_MAX,
    MPOL_MF_MOVE, MPOL_MF_MOVE_ALL, MPOL_MF_VALID, MPOL_MODE_FLAGS, MPOL_PREFERRED,
};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE};

use super::ctx::{Ctx, SysResult};
use crate::host;
use crate::task::types::MemPolicy;

/// How many pages `do_pages_stat` and `do_pages_move` look at per step.
const PAGES_CHUNK: u64 = 16;

/// The nodes a mask may name (`MAX_NUMNODES`): one word's worth.
const MAX_NUMNODES: u64 = 64;
/// The only node.
const ONLINE: u64 = 1;

/// `sanitize_mpol_flags`: splits the mode from its flags.
fn split_mode(mode: u64) -> Result<(u32, u32), Errno> {
    let mode = mode as u32;
    let (flags, mode) = (mode & MPOL_MODE_FLAGS, mode & !MPOL_MODE_FLAGS);
    if mode >= MPOL_MAX {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_F_STATIC_NODES != 0 && flags & MPOL_F_RELATIVE_NODES != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_F_NUMA_BALANCING != 0 && mode != MPOL_BIND {
        return Err(Errno::EINVAL);
    }
    Ok((mode, flags))
}

/// `get_nodes`: `maxnode - 1` bits from the guest; bits past the ones the kernel keeps must be
/// zero.
fn read_nodes(ctx: &Ctx<'_>, mask: u64, maxnode: u64) -> Result<u64, Errno> {
    let bits = maxnode.saturating_sub(1);
    if bits == 0 || mask == 0 {
        return Ok(0);
    }
    if bits > PAGE_SIZE * 8 {
        return Err(Errno::EINVAL);
    }
    let words = bits.div_ceil(64);
    let mut nodes = 0;
    for k in 0..words {
        let mut word: u64 = ctx.read_obj(mask + 8 * k)?;
        let valid = bits - 64 * k;
        if valid < 64 {
            word &= (1 << valid) - 1;
        }
        if k == 0 {
            nodes = word;
        } else if word != 0 && 64 * k >= MAX_NUMNODES {
            return Err(Errno::EINVAL);
        }
    }
    Ok(nodes)
}

/// `mpol_new` and `mpol_set_nodemask`: whether a mode and its nodes make a policy.
fn check_policy(mode: u32, flags: u32, nodes: u64) -> Result<(), Errno> {
    let relative = flags & MPOL_F_RELATIVE_NODES != 0;
    match mode {
        MPOL_DEFAULT if nodes != 0 => Err(Errno::EINVAL),
        MPOL_DEFAULT => Ok(()),
        MPOL_PREFERRED
            if nodes == 0 && flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES) != 0 =>
        {
            Err(Errno::EINVAL)
        }
        MPOL_PREFERRED if nodes == 0 => Ok(()),
        MPOL_LOCAL if nodes != 0 || flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES) != 0 => {
            Err(Errno::EINVAL)
        }
        MPOL_LOCAL => Ok(()),
        _ if nodes == 0 => Err(Errno::EINVAL),
        // Relative nodes fold onto the online ones; any other mask must name an online node.
        _ if !relative && nodes & ONLINE == 0 => Err(Errno::EINVAL),
        _ => Ok(()),
    }
}

pub fn set_mempolicy(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (mode, flags) = split_mode(a[0])?;
    let nodes = read_nodes(ctx, a[1], a[2])?;
    check_policy(mode, flags, nodes)?;
    ctx.proc.mempolicy = match mode {
        MPOL_DEFAULT => MemPolicy::default(),
        // An empty preferred policy is the local one.
        MPOL_PREFERRED if nodes == 0 => MemPolicy { mode: MPOL_LOCAL | flags, nodes: 0 },
        _ => MemPolicy { mode: mode | flags, nodes },
    };
    Ok(0)
}

/// `get_mempolicy` (do_get_mempolicy): the thread's policy, or the allowed nodes. A policy an
/// `mbind` gave a range is not kept, so MPOL_F_ADDR answers the thread's.
pub fn get_mempolicy(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (policy_at, mask_at, maxnode, addr, flags) = (a[0], a[1], a[2], a[3], a[4]);
    // kernel_get_mempolicy: a mask shorter than the node ids.
    if mask_at != 0 && maxnode < 1 {
        return Err(Errno::EINVAL);
    }
    if flags & !(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED) != 0 {
        return Err(Errno::EINVAL);
    }
    let pol = ctx.proc.mempolicy;
    let (policy, nodes) = if flags & MPOL_F_MEMS_ALLOWED != 0 {
        if flags & (MPOL_F_NODE | MPOL_F_ADDR) != 0 {
            return Err(Errno::EINVAL);
        }
        (0, ONLINE)
    } else {
        if flags & MPOL_F_ADDR != 0 {
            let mm = ctx.proc.mm.read();
            if !mm.vmas().any(|v| v.start.0 <= addr && addr < v.end.0) {
                return Err(Errno::EFAULT);
            }
        } else if addr != 0 {
            return Err(Errno::EINVAL);
        }
        let mode = pol.mode & !MPOL_MODE_FLAGS;
        let policy = if flags & MPOL_F_NODE != 0 {
            // The node of the page at the address, or the next interleave node: always 0.
            if flags & MPOL_F_ADDR == 0 && mode != MPOL_INTERLEAVE {
                return Err(Errno::EINVAL);
            }
            0
        } else {
            pol.mode
        };
        // The nodes as given with a static or relative mask, otherwise the ones in use.
        let nodes = if pol.mode & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES) != 0 {
            pol.nodes
        } else {
            pol.nodes & ONLINE
        };
        (policy, nodes)
    };
    if policy_at != 0 {
        ctx.write_obj(policy_at, &policy)?;
    }
    if mask_at != 0 {
        // copy_nodes_to_user: the kernel's one word, the rest of the caller's bits zeroed.
        let bytes = (maxnode - 1).div_ceil(64) * 8;
        if bytes > PAGE_SIZE {
            return Err(Errno::EINVAL);
        }
        let mut out = vec![0u8; bytes as usize];
        let n = out.len().min(8);
        out[..n].copy_from_slice(&nodes.to_le_bytes()[..n]);
        ctx.copy_out(mask_at, &out)?;
    }
    Ok(0)
}

/// `mbind` (do_mbind): the flags, alignment and policy are checked, and every page of the
/// range must be mapped (EFAULT for a hole). With one node every page is already where any
/// policy would put it.
pub fn mbind(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (start, len, flags) = (a[0], a[1], a[5]);
    let (mode, mode_flags) = split_mode(a[2])?;
    let nodes = read_nodes(ctx, a[3], a[4])?;
    if flags & !MPOL_MF_VALID != 0 || start % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let end = start.checked_add(len.next_multiple_of(PAGE_SIZE)).ok_or(Errno::EINVAL)?;
    if end == start {
        return Ok(0);
    }
    check_policy(mode, mode_flags, nodes)?;
    let mm = ctx.proc.mm.read();
    let mut at = GuestAddr(start);
    for v in mm.vmas().filter(|v| v.end.0 > start && v.start.0 < end) {
        if v.start > at {
            return Err(Errno::EFAULT);
        }
        at = v.end;
    }
    if at.0 < end { Err(Errno::EFAULT) } else { Ok(0) }
}

/// The process a NUMA call names (`find_task_by_vpid`, 0 the caller): ESRCH for none. Linux
/// then asks `ptrace_may_access(PTRACE_MODE_READ)`, which a process of the same user passes;
/// the host answers that question for another process (EPERM from `kill(pid, 0)`).
fn target(ctx: &Ctx<'_>, pid: i32) -> Result<(), Errno> {
    if pid == 0 || pid as u32 == ctx.proc.pid() {
        return Ok(());
    }
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    host::kill(pid, 0).map(|_| ())
}

/// `migrate_pages` (kernel_migrate_pages): both masks, the process, then target nodes the
/// process may not use are EPERM without CAP_SYS_NICE and an empty target set (after keeping
/// the caller's allowed nodes) EINVAL. Nothing moves between node 0 and node 0: 0 pages left.
pub fn migrate_pages(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (pid, maxnode) = (a[0] as i32, a[1]);
    let _old = read_nodes(ctx, a[2], maxnode)?;
    let new = read_nodes(ctx, a[3], maxnode)?;
    target(ctx, pid)?;
    if new & !ONLINE != 0 && !host::capable_sys_nice() {
        return Err(Errno::EPERM);
    }
    if new & ONLINE == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// `move_pages` (kernel_move_pages): flags (MPOL_MF_MOVE_ALL needs CAP_SYS_NICE), the process,
/// then per page, in steps of 16: without nodes, where each page is (`do_pages_stat`: node 0
/// for a page in memory, -EFAULT for no mapping or an anonymous page never touched, -ENOENT for
/// a file page not in memory, as the host kernel finds the same pages in the arena); with nodes,
/// every target node of the step is checked first (ENODEV for one with no memory ends the call)
/// and a page already on node 0 is reported there. Another process's pages are another
/// emulator's: EPERM, as a refused `ptrace_may_access`.
pub fn move_pages(ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (pid, count, pages_at, nodes_at, status_at, flags) =
        (a[0] as i32, a[1], a[2], a[3], a[4], a[5]);
    if flags & !(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && !host::capable_sys_nice() {
        return Err(Errno::EPERM);
    }
    target(ctx, pid)?;
    if pid != 0 && pid as u32 != ctx.proc.pid() {
        // Another emulator's pages are not reachable from here: as ptrace_may_access refused.
        return Err(Errno::EPERM);
    }
    let mut done = 0;
    while done < count {
        let n = (count - done).min(PAGES_CHUNK);
        let mut pages = Vec::with_capacity(n as usize);
        for i in done..done + n {
            pages.push(ctx.read_u64(pages_at.wrapping_add(8 * i))?);
            if nodes_at != 0 {
                let node: i32 = ctx.read_obj(nodes_at.wrapping_add(4 * i))?;
                // do_pages_move: a node outside MAX_NUMNODES, or without memory, ends the call.
                if node != 0 {
                    return Err(Errno::ENODEV);
                }
            }
        }
        let status = page_status(ctx, &pages)?;
        for (k, st) in status.iter().enumerate() {
            ctx.write_obj(status_at.wrapping_add(4 * (done + k as u64)), st)?;
        }
        done += n;
    }
    Ok(0)
}

/// Where each of the caller's pages is: 0 (the one node), or the host kernel's -EFAULT or
/// -ENOENT for the page at the same place in the arena; -EFAULT for an address the guest has
/// not mapped (`vma_lookup` finds nothing).
fn page_status(ctx: &Ctx<'_>, pages: &[u64]) -> Result<Vec<i32>, Errno> {
    let mm = ctx.proc.mm.read();
    let mut status = vec![-Errno::EFAULT.0; pages.len()];
    let mut host_pages = Vec::new();
    let mut slots = Vec::new();
    for (k, &page) in pages.iter().enumerate() {
        let page = page & !(PAGE_SIZE - 1);
        if let Ok(ptr) = mm.host_range(GuestAddr(page), 1, elfvisor_abi::Prot(0)) {
            host_pages.push(ptr as usize);
            slots.push(k);
        }
    }
    if !host_pages.is_empty() {
        // A host kernel without NUMA has no move_pages: every mapped page then counts as on
        // node 0, touched or not.
        let nodes = match host::page_nodes(&host_pages) {
            Err(Errno::ENOSYS) => vec![0; host_pages.len()],
            other => other?,
        };
        for (slot, st) in slots.into_iter().zip(nodes) {
            // Any host node is the guest's one node; a host errno becomes the guest's.
            status[slot] = if st >= 0 { 0 } else { -elfvisor_host::errno_from_host(-st).0 };
        }
    }
    Ok(status)
}

/// `set_mempolicy_home_node` (mm/mempolicy.c): flags, an online node, a range that does not
/// wrap (an empty one is 0); then only ranges with an mbind policy of their own take a home
/// node. Range policies are not kept (see `mbind`), so a range answers as one without a policy:
/// ENOENT.
pub fn set_mempolicy_home_node(_ctx: &mut Ctx<'_>, a: &[u64; 6]) -> SysResult {
    let (start, len, home, flags) = (a[0], a[1], a[2], a[3]);
    if flags != 0 || home >= MAX_NUMNODES || home != 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.checked_next_multiple_of(PAGE_SIZE).ok_or(Errno::EINVAL)?;
    let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
    if end == start {
        return Ok(0);
    }
    Err(Errno::ENOENT)
}
