//! NUMA memory policy (mm/mempolicy.c) on a host that is one node: `set_mempolicy`,
//! `get_mempolicy` and `mbind` check their arguments exactly as Linux does and keep a thread's
//! policy, but with one node there is nothing to place, so no memory moves. Node 0 is the only
//! node (`nr_node_ids` is 1).

use elfvisor_abi::numa::{
    MPOL_BIND, MPOL_DEFAULT, MPOL_F_ADDR, MPOL_F_MEMS_ALLOWED, MPOL_F_NODE, MPOL_F_NUMA_BALANCING,
    MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES, MPOL_INTERLEAVE, MPOL_LOCAL, MPOL_MAX,
    MPOL_MF_VALID, MPOL_MODE_FLAGS, MPOL_PREFERRED,
};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE};

use super::ctx::{Ctx, SysResult};
use crate::task::types::MemPolicy;

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
