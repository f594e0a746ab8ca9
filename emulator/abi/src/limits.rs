//! Kernel limits the guest can observe (`include/uapi/linux/limits.h`,
//! `include/uapi/linux/binfmts.h`).

/// The longest path, NUL included; longer is `ENAMETOOLONG`.
pub const PATH_MAX: usize = 4096;
/// The longest file name component.
pub const NAME_MAX: usize = 255;
/// The most supplementary groups (`setgroups` refuses more with `EINVAL`).
pub const NGROUPS_MAX: usize = 65536;
/// Bytes a pipe writes atomically.
pub const PIPE_BUF: usize = 4096;
/// The longest single argument or environment string `execve` takes (32 pages); longer is
/// `E2BIG`.
pub const MAX_ARG_STRLEN: usize = 32 * crate::PAGE_SIZE as usize;
/// The most argument and environment strings `execve` takes.
pub const MAX_ARG_STRINGS: usize = 0x7fff_ffff;
/// The most bytes one `read`, `write` or vectored transfer moves (`INT_MAX & PAGE_MASK`,
/// `include/linux/fs.h`): larger counts are cut to it.
pub const MAX_RW_COUNT: u64 = (i32::MAX as u64) & !(crate::PAGE_SIZE - 1);
/// The bytes of a file `execve` reads to recognise its format: a `#!` line longer than this
/// is cut (`include/uapi/linux/binfmts.h`).
pub const BINPRM_BUF_SIZE: usize = 256;
/// How many interpreters deep `execve` follows `#!` lines before `ELOOP`
/// (`BINPRM_MAX_RECURSION`, `include/linux/binfmts.h`).
pub const BINPRM_MAX_RECURSION: usize = 4;
