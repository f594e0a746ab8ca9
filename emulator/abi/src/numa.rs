//! NUMA memory policies (`linux/mempolicy.h`; the same numbers on every architecture).

/// `set_mempolicy`/`mbind` modes.
pub const MPOL_DEFAULT: u32 = 0;
pub const MPOL_PREFERRED: u32 = 1;
pub const MPOL_BIND: u32 = 2;
pub const MPOL_INTERLEAVE: u32 = 3;
pub const MPOL_LOCAL: u32 = 4;
/// One past the last mode of the Linux generation elfvisor follows (after MPOL_PREFERRED_MANY).
pub const MPOL_MAX: u32 = 6;
/// Mode flags.
pub const MPOL_F_NUMA_BALANCING: u32 = 1 << 13;
pub const MPOL_F_RELATIVE_NODES: u32 = 1 << 14;
pub const MPOL_F_STATIC_NODES: u32 = 1 << 15;
pub const MPOL_MODE_FLAGS: u32 =
    MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING;
/// `get_mempolicy` flags.
pub const MPOL_F_NODE: u64 = 1;
pub const MPOL_F_ADDR: u64 = 2;
pub const MPOL_F_MEMS_ALLOWED: u64 = 4;
/// `mbind` flags: MPOL_MF_STRICT, MPOL_MF_MOVE and MPOL_MF_MOVE_ALL.
pub const MPOL_MF_VALID: u64 = 0b111;
/// `move_pages` flags: move the pages the process alone maps, or (with CAP_SYS_NICE) all.
pub const MPOL_MF_MOVE: u64 = 1 << 1;
pub const MPOL_MF_MOVE_ALL: u64 = 1 << 2;
