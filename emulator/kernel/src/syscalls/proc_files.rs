//! The guest's own `/proc` files beyond `maps` (`super::procfs`), generated at open time from
//! the emulator's view of the process: `cmdline`, `environ` and `auxv` from what the loader
//! recorded in the address space, `status`, `stat` and `statm` with the guest's threads,
//! signals and memory in place of the emulator's, and `/proc/cpuinfo` in arm64's format.
//!
//! They answer for `/proc/self/…`, `/proc/thread-self/…`, `/proc/<own pid>/…` and
//! `/proc/<own pid>/task/<own tid>/…`. `status` and `stat` start from the host's text for the
//! same thread (its state, ids, credentials, scheduling and CPU times are the guest's own,
//! since guest threads are host threads) and replace every field that describes the
//! emulator instead: thread count, signal sets, memory sizes, descriptor table size and the
//! program's addresses. `limits` carries the guest's RLIMIT_NOFILE, `fdinfo/<n>` the guest's
//! view of a descriptor. The `fd/`, `fdinfo/` and `task/` directories list the guest's
//! descriptors and threads ([`getdents`]). Another guest process's `status`, `stat`,
//! `cmdline` and `environ` come from its board ([`crate::board`], [`generate_other`]); other
//! processes' other files are the host's.

use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};
use elfvisor_mm::{AddressSpace, Backing, VmaName};

use super::ctx::Ctx;
use crate::task::group::ThreadGroup;

/// A file of the guest's own process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnFile {
    Cmdline,
    Environ,
    Auxv,
    Status,
    Stat,
    Statm,
    Limits,
}

/// What an opened `/proc` path is, when the guest's view replaces the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcFile {
    /// A file of this process, for one thread (`None`: the process, answered by the caller).
    Own(OwnFile, Option<u32>),
    /// `fdinfo/<n>` of one of the guest's descriptors.
    FdInfo(u32),
    Cpuinfo,
}

/// Which generated file `path` names, if any. `tid` is the caller's; `ours` says whether a
/// tid is one of this process's threads.
pub fn lookup(path: &[u8], pid: u32, tid: u32, ours: impl Fn(u32) -> bool) -> Option<ProcFile> {
    let rest = path.strip_prefix(b"/proc/")?;
    if rest == b"cpuinfo" {
        return Some(ProcFile::Cpuinfo);
    }
    let text = std::str::from_utf8(rest).ok()?;
    let mut parts = text.split('/');
    let thread = match parts.next()? {
        "self" => None,
        "thread-self" => Some(tid),
        p if p.parse::<u32>().ok() == Some(pid) && !p.starts_with('0') => None,
        _ => return None,
    };
    let mut name = parts.next()?;
    if name == "fdinfo" {
        let n = parts.next()?;
        let fd: u32 = n.parse().ok().filter(|_| n == "0" || !n.starts_with('0'))?;
        return parts.next().is_none().then_some(ProcFile::FdInfo(fd));
    }
    let thread = if name == "task" {
        let t = parts.next()?;
        let t_id: u32 = t.parse().ok().filter(|_| !t.starts_with('0'))?;
        if thread.is_some() || !ours(t_id) {
            return None;
        }
        name = parts.next()?;
        Some(t_id)
    } else {
        thread
    };
    if parts.next().is_some() {
        return None;
    }
    let file = match name {
        "cmdline" => OwnFile::Cmdline,
        "environ" => OwnFile::Environ,
        "auxv" => OwnFile::Auxv,
        "status" => OwnFile::Status,
        "stat" => OwnFile::Stat,
        "statm" => OwnFile::Statm,
        "limits" => OwnFile::Limits,
        _ => return None,
    };
    Some(ProcFile::Own(file, thread))
}

/// Which file of another process `path` names, when the guest's view replaces the host's:
/// `/proc/<pid>/{status,stat,statm,cmdline,environ}` for a pid other than `own`. Whether that
/// process is a guest one is the board's to say ([`crate::board::read`]).
pub fn lookup_other(path: &[u8], own: u32) -> Option<(u32, OwnFile)> {
    let rest = std::str::from_utf8(path.strip_prefix(b"/proc/")?).ok()?;
    let (pid, name) = rest.split_once('/')?;
    let pid: u32 = pid.parse().ok().filter(|&p| p != own && p != 0 && !pid.starts_with('0'))?;
    let file = match name {
        "status" => OwnFile::Status,
        "stat" => OwnFile::Stat,
        "statm" => OwnFile::Statm,
        "cmdline" => OwnFile::Cmdline,
        "environ" => OwnFile::Environ,
        _ => return None,
    };
    Some((pid, file))
}

/// Whether a file of another process shows its memory sizes (the board then asks the
/// process to count them).
pub fn shows_memory(file: OwnFile) -> bool {
    matches!(file, OwnFile::Status | OwnFile::Stat | OwnFile::Statm)
}

/// Another guest process's file: the host's text for its emulator process with what the
/// emulator would get wrong replaced from the process's board — the thread count, the first
/// thread's mask and pending signals, the process's pending signals, the ignored and caught
/// signals, the memory sizes, the argument and environment strings. A process that did not
/// count its memory in time keeps the host's memory lines.
pub fn generate_other(
    pid: u32,
    file: OwnFile,
    view: &crate::board::View,
) -> Result<Vec<u8>, Errno> {
    let host = |name: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{name}"))
            .map_err(|e| elfvisor_host::errno_from_io(&e))
    };
    match file {
        OwnFile::Cmdline => Ok(view.cmdline.clone()),
        OwnFile::Environ => Ok(view.environ.clone()),
        OwnFile::Statm => match &view.mem {
            Some(c) => Ok(statm(c)),
            None => Ok(host("statm")?.into_bytes()),
        },
        OwnFile::Status => {
            let mut out = String::new();
            for line in host("status")?.lines() {
                let key = line.split(':').next().unwrap_or("");
                let value = match key {
                    "Threads" => view.threads.to_string(),
                    "SigPnd" => format!("{:016x}", view.sigpnd),
                    "ShdPnd" => format!("{:016x}", view.shdpnd),
                    "SigBlk" => format!("{:016x}", view.sigmask),
                    "SigIgn" => format!("{:016x}", view.ignored),
                    "SigCgt" => format!("{:016x}", view.caught),
                    k => match view.mem.as_ref().and_then(|c| mem_line(k, c)) {
                        Some(v) => v,
                        None => {
                            out.push_str(line);
                            out.push('\n');
                            continue;
                        }
                    },
                };
                out.push_str(&format!("{key}:\t{value}\n"));
            }
            Ok(out.into_bytes())
        }
        OwnFile::Stat => {
            let text = host("stat")?;
            let close = text.rfind(')').ok_or(Errno::EIO)?;
            let (head, tail) = text.split_at(close + 1);
            let mut fields: Vec<String> = tail.split_whitespace().map(str::to_string).collect();
            let mut set = |n: usize, v: u64| {
                if let Some(f) = fields.get_mut(n - 3) {
                    *f = v.to_string();
                }
            };
            for (n, v) in [
                (20, view.threads),
                (31, view.sigpnd & STAT_SIGNALS),
                (32, view.sigmask & STAT_SIGNALS),
                (33, view.ignored & STAT_SIGNALS),
                (34, view.caught & STAT_SIGNALS),
            ] {
                set(n, v);
            }
            if let Some(c) = &view.mem {
                set(23, c.size * PAGE_SIZE);
                set(24, c.resident);
            }
            Ok(format!("{head} {}\n", fields.join(" ")).into_bytes())
        }
        _ => Err(Errno::ENOENT),
    }
}

/// `stat`'s signal fields show the first 31 signals (fs/proc/array.c, do_task_stat: "& 0x7fffffffUL").
const STAT_SIGNALS: u64 = 0x7fff_ffff;

/// The bytes of a guest range, or none when it cannot be read (Linux then shows nothing).
fn range(mm: &AddressSpace, (start, end): (GuestAddr, GuestAddr)) -> Vec<u8> {
    let len = end.0.saturating_sub(start.0) as usize;
    let mut out = vec![0u8; len];
    if mm.copy_in(start, &mut out).is_err() {
        out.clear();
    }
    out
}

/// `cmdline` (fs/proc/base.c, get_mm_cmdline): the argument strings; when the NUL ending them
/// was overwritten (setproctitle), the text up to the first NUL, running on into the
/// environment's area.
pub(crate) fn cmdline(mm: &AddressSpace) -> Vec<u8> {
    let s = mm.startup();
    let args = range(mm, s.args);
    if args.last().is_none_or(|&c| c == 0) {
        return args;
    }
    let mut all = range(mm, (s.args.0, s.env.1));
    if let Some(nul) = all.iter().position(|&c| c == 0) {
        all.truncate(nul + 1);
    }
    all
}

/// `environ`: the environment strings as the loader laid them out.
pub(crate) fn environ(mm: &AddressSpace) -> Vec<u8> {
    range(mm, mm.startup().env)
}

/// `auxv`: the saved vector's pairs as the guest's longs.
fn auxv(mm: &AddressSpace) -> Vec<u8> {
    mm.startup()
        .auxv
        .iter()
        .flat_map(|(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes()))
        .collect()
}

/// The guest's memory in pages, as `statm` and `status` count it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemCounts {
    size: u64,
    resident: u64,
    /// Resident pages of files and shared memory.
    resident_shared: u64,
    resident_file: u64,
    text: u64,
    data: u64,
    stack: u64,
    locked: u64,
}

impl MemCounts {
    /// How many words [`MemCounts::to_words`] makes (the process board carries them).
    pub(crate) const WORDS: usize = 8;

    pub(crate) fn to_words(self) -> [u64; Self::WORDS] {
        let c = self;
        [c.size, c.resident, c.resident_shared, c.resident_file, c.text, c.data, c.stack, c.locked]
    }

    pub(crate) fn from_words(w: [u64; Self::WORDS]) -> MemCounts {
        let [size, resident, resident_shared, resident_file, text, data, stack, locked] = w;
        MemCounts { size, resident, resident_shared, resident_file, text, data, stack, locked }
    }
}

pub(crate) fn mem_counts(mm: &AddressSpace, exe: &str) -> MemCounts {
    let mut c = MemCounts::default();
    for v in mm.vmas() {
        let pages = (v.end.0 - v.start.0) / PAGE_SIZE;
        c.size += pages;
        let (present, _) = mm.mincore(v.start, v.end.0 - v.start.0);
        let resident = present.iter().filter(|&&b| b & 1 != 0).count() as u64;
        c.resident += resident;
        match &v.backing {
            Backing::Anonymous => {}
            Backing::File { .. } => {
                c.resident_shared += resident;
                c.resident_file += resident;
            }
            Backing::Shared { .. } => c.resident_shared += resident,
        }
        let is_exe = matches!(&v.name, VmaName::Path(p) if p == exe);
        if is_exe && v.prot.contains(Prot::EXEC) {
            c.text += pages;
        }
        if v.name == VmaName::Stack || v.grows_down {
            c.stack += pages;
        } else if v.prot.contains(Prot::WRITE) && !v.shared {
            c.data += pages;
        }
        if v.flags.contains(elfvisor_mm::VmaFlags::LOCKED) {
            c.locked += pages;
        }
    }
    c
}

/// `statm`: size, resident, shared, text, lib (0), data (+stack), dt (0), in pages.
fn statm(c: &MemCounts) -> Vec<u8> {
    format!("{} {} {} {} 0 {} 0\n", c.size, c.resident, c.resident_shared, c.text, c.data + c.stack)
        .into_bytes()
}

/// The signal sets `status` and `stat` show: pending for the thread and the process, blocked,
/// ignored and caught.
struct SigSets {
    thread_pending: u64,
    shared_pending: u64,
    blocked: u64,
    ignored: u64,
    caught: u64,
}

fn bits(list: &[crate::signal::info::SigInfo]) -> u64 {
    list.iter().fold(0, |m, s| m | s.signo.mask_bit())
}

fn sig_sets(ctx: &Ctx<'_>, thread: Option<u32>) -> SigSets {
    let group = ctx.proc.group();
    let (mut ignored, mut caught) = (0u64, 0u64);
    for (i, a) in ctx.proc.sigactions().all().iter().enumerate() {
        let bit = 1u64 << i;
        match a.handler {
            elfvisor_abi::signal::SIG_DFL => {}
            elfvisor_abi::signal::SIG_IGN => ignored |= bit,
            _ => caught |= bit,
        }
    }
    let me = thread.is_none_or(|t| t == ctx.proc.tid());
    let handle =
        if me { Some(ctx.proc.handle().clone()) } else { thread.and_then(|t| group.find(t)) };
    SigSets {
        thread_pending: handle.as_ref().map_or(0, |h| bits(&h.pending())),
        shared_pending: bits(&group.pending()),
        // Another thread's mask as it published it at its last system call (it is blocked in
        // one, or running guest code with the mask it had on leaving one).
        blocked: if me { ctx.proc.sigmask } else { handle.map_or(0, |h| h.sigmask()) },
        ignored,
        caught,
    }
}

/// The descriptor table's size as `FDSize` shows it: Linux's table starts at 64 slots and
/// doubles to hold the highest descriptor.
fn fd_size(ctx: &Ctx<'_>) -> u64 {
    let highest = ctx.proc.fds().entries().map(|(fd, _)| fd as u64 + 1).max().unwrap_or(0);
    highest.max(64).next_power_of_two()
}

/// The host's file for the thread behind a guest one.
fn host_text(ctx: &Ctx<'_>, thread: Option<u32>, name: &str) -> Result<String, Errno> {
    let group = ctx.proc.group();
    let host_tid = match thread {
        Some(t) => group.find(t).map_or(t as i32, |h| h.host_tid()),
        None => ctx.proc.handle().host_tid(),
    };
    let pid = crate::host::getpid();
    let path = if thread.is_some() {
        format!("/proc/{pid}/task/{host_tid}/{name}")
    } else {
        format!("/proc/{pid}/{name}")
    };
    std::fs::read_to_string(path).map_err(|e| elfvisor_host::errno_from_io(&e))
}

fn kb(pages: u64) -> String {
    format!("{:>8} kB", pages * (PAGE_SIZE / 1024))
}

/// The value of a memory line of `status` (fs/proc/task_mmu.c, task_mem), if `key` names one.
fn mem_line(key: &str, c: &MemCounts) -> Option<String> {
    Some(match key {
        "VmPeak" | "VmSize" => kb(c.size),
        "VmLck" => kb(c.locked),
        "VmPin" | "VmLib" | "VmSwap" => kb(0),
        "VmHWM" | "VmRSS" => kb(c.resident),
        "RssAnon" => kb(c.resident.saturating_sub(c.resident_shared)),
        "RssFile" => kb(c.resident_file),
        "RssShmem" => kb(c.resident_shared.saturating_sub(c.resident_file)),
        "VmData" => kb(c.data),
        "VmStk" => kb(c.stack),
        "VmExe" => kb(c.text),
        "VmPTE" => kb(c.resident.div_ceil(512) * 4 / (PAGE_SIZE / 1024).max(1)),
        _ => return None,
    })
}

/// `status` (fs/proc/array.c, proc_pid_status): the host's lines with the guest's values.
fn status(ctx: &Ctx<'_>, thread: Option<u32>) -> Result<Vec<u8>, Errno> {
    let host = host_text(ctx, thread, "status")?;
    let group: &ThreadGroup = ctx.proc.group();
    let mm = ctx.proc.mm.read();
    let exe = group.exe().to_string_lossy().into_owned();
    let c = mem_counts(&mm, &exe);
    drop(mm);
    let sigs = sig_sets(ctx, thread);
    let threads = group.threads().len().max(1);
    let mut out = String::new();
    for line in host.lines() {
        let key = line.split(':').next().unwrap_or("");
        let value = match key {
            "FDSize" => fd_size(ctx).to_string(),
            k if mem_line(k, &c).is_some() => mem_line(k, &c).unwrap_or_default(),
            "Threads" => threads.to_string(),
            "SigPnd" => format!("{:016x}", sigs.thread_pending),
            "ShdPnd" => format!("{:016x}", sigs.shared_pending),
            "SigBlk" => format!("{:016x}", sigs.blocked),
            "SigIgn" => format!("{:016x}", sigs.ignored),
            "SigCgt" => format!("{:016x}", sigs.caught),
            _ => {
                out.push_str(line);
                out.push('\n');
                continue;
            }
        };
        out.push_str(key);
        out.push_str(":\t");
        out.push_str(&value);
        out.push('\n');
    }
    Ok(out.into_bytes())
}

/// `stat` (fs/proc/array.c, do_task_stat): the host's fields with the guest's thread count,
/// sizes, signal sets and program addresses.
fn stat(ctx: &Ctx<'_>, thread: Option<u32>) -> Result<Vec<u8>, Errno> {
    let host = host_text(ctx, thread, "stat")?;
    let close = host.rfind(')').ok_or(Errno::EIO)?;
    let (head, tail) = host.split_at(close + 1);
    let mut fields: Vec<String> = tail.split_whitespace().map(str::to_string).collect();
    let group = ctx.proc.group();
    let mm = ctx.proc.mm.read();
    let exe = group.exe().to_string_lossy().into_owned();
    let c = mem_counts(&mm, &exe);
    let exe_vmas: Vec<_> =
        mm.vmas().filter(|v| matches!(&v.name, VmaName::Path(p) if p == &exe)).collect();
    let code = exe_vmas.iter().find(|v| v.prot.contains(Prot::EXEC)).map(|v| (v.start.0, v.end.0));
    let data = exe_vmas.iter().find(|v| v.prot.contains(Prot::WRITE)).map(|v| (v.start.0, v.end.0));
    let startup = mm.startup().clone();
    let brk = mm.brk_state().map_or(0, |(s, _)| s.0);
    drop(mm);
    let sigs = sig_sets(ctx, thread);
    // Field n (1-based, pid and comm being 1 and 2) is fields[n - 3].
    let mut set = |n: usize, v: u64| {
        if let Some(f) = fields.get_mut(n - 3) {
            *f = v.to_string();
        }
    };
    set(20, group.threads().len().max(1) as u64);
    set(23, c.size * PAGE_SIZE);
    set(24, c.resident);
    set(26, code.map_or(0, |r| r.0));
    set(27, code.map_or(0, |r| r.1));
    set(28, startup.stack.0);
    set(31, sigs.thread_pending & STAT_SIGNALS);
    set(32, sigs.blocked & STAT_SIGNALS);
    set(33, sigs.ignored & STAT_SIGNALS);
    set(34, sigs.caught & STAT_SIGNALS);
    set(45, data.map_or(0, |r| r.0));
    set(46, data.map_or(0, |r| r.1));
    set(47, brk);
    set(48, startup.args.0.0);
    set(49, startup.args.1.0);
    set(50, startup.env.0.0);
    set(51, startup.env.1.0);
    Ok(format!("{head} {}\n", fields.join(" ")).into_bytes())
}

/// One line of `limits` (fs/proc/base.c, proc_pid_limits): the name in 25 columns, each
/// value in 20 ("unlimited" for RLIM_INFINITY), the unit in 10.
fn limit_line(name: &str, (soft, hard): (u64, u64), unit: &str) -> String {
    let value = |v: u64| if v == u64::MAX { "unlimited".to_string() } else { v.to_string() };
    format!("{name:<25} {:<20} {:<20} {unit:<10}", value(soft), value(hard))
}

/// `limits`: the host's lines (the guest's limits are the host process's) but for the one
/// limit the emulator keeps as guest state, RLIMIT_NOFILE (the emulator raises its own).
fn limits(ctx: &Ctx<'_>) -> Result<Vec<u8>, Errno> {
    let host = host_text(ctx, None, "limits")?;
    let nofile = ctx.proc.fds().nofile();
    let mut out = String::new();
    for line in host.lines() {
        if line.starts_with("Max open files ") {
            out.push_str(&limit_line("Max open files", nofile, "files"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out.into_bytes())
}

/// The host kernel's own O_LARGEFILE bit, as its `fdinfo` prints it.
#[cfg(target_arch = "x86_64")]
const HOST_KERNEL_O_LARGEFILE: u32 = 0o100000;
#[cfg(not(target_arch = "x86_64"))]
const HOST_KERNEL_O_LARGEFILE: u32 = libc::O_LARGEFILE as u32;

/// `fdinfo/<n>` (fs/proc/fd.c, seq_show, and the file's show_fdinfo): the host's text for the
/// host descriptor behind guest `fd`, with `flags` as the guest's O_* bits (close-on-exec
/// the guest's own; every host descriptor has it), epoll's watched descriptors (`tfd:`) by
/// their guest numbers, and a signalfd's mask (fs/signalfd.c, signalfd_show_fdinfo) in
/// place of the eventfd lines of the host eventfd behind it. ENOENT for a closed `fd`.
fn fdinfo(ctx: &Ctx<'_>, fd: u32) -> Result<Vec<u8>, Errno> {
    let fds = ctx.proc.fds();
    let entry = fds.get(i64::from(fd)).map_err(|_| Errno::ENOENT)?;
    let (raw, cloexec) = (entry.raw(), entry.cloexec);
    let signalfd = crate::signal::signalfd::find(&entry.file);
    let host = std::fs::read_to_string(format!("/proc/self/fdinfo/{raw}"))
        .map_err(|e| elfvisor_host::errno_from_io(&e))?;
    // A registration carries the host key number of its guest descriptor
    // (host::event::epoll_key), which names it even after that descriptor is closed (Linux
    // keeps the number). One made under a host number (the key was taken) is matched to the
    // guest descriptor of the same open file, the n-th line of a number to the n-th
    // registration.
    let mut seen: Vec<i32> = Vec::new();
    let mut guest_fd = |host_tfd: i32| {
        let toff = seen.iter().filter(|&&t| t == host_tfd).count() as u32;
        seen.push(host_tfd);
        crate::host::event::epoll_key_owner(host_tfd).map(|n| n as usize).or_else(|| {
            fds.entries()
                .find(|(_, e)| crate::host::event::epoll_target_is(raw, host_tfd, toff, e.raw()))
                .map(|(n, _)| n)
        })
    };
    let mut out = String::new();
    for line in host.lines() {
        if let Some(octal) = line.strip_prefix("flags:\t") {
            let host_flags = u32::from_str_radix(octal, 8).map_err(|_| Errno::EIO)?;
            let mut flags =
                crate::host::open_flags_from_host((host_flags as i32) & !libc::O_CLOEXEC);
            // O_LARGEFILE only where the host file has it (open adds it, pipes and O_PATH
            // descriptors lack it); the C library's constant for it is 0 on x86_64.
            if host_flags & HOST_KERNEL_O_LARGEFILE == 0 {
                flags &= !elfvisor_abi::fcntl::O_LARGEFILE;
            }
            if cloexec {
                flags |= elfvisor_abi::fcntl::O_CLOEXEC;
            }
            out.push_str(&format!("flags:\t0{flags:o}\n"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("tfd: ") {
            let end = rest.find(" events:").unwrap_or(rest.len());
            if let Some(n) = rest[..end].trim().parse::<i32>().ok().and_then(&mut guest_fd) {
                out.push_str(&format!("tfd: {n:>8}{}\n", &rest[end..]));
                continue;
            }
        }
        if signalfd.is_some() && line.starts_with("eventfd-") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if let Some(sfd) = signalfd {
        out.push_str(&format!("sigmask:\t{:016x}\n", sfd.mask()));
    }
    Ok(out.into_bytes())
}

/// `/proc/cpuinfo` as arm64 Linux prints it (arch/arm64/kernel/cpuinfo.c, c_show): one block
/// per host CPU, with the features the engine reports in AT_HWCAP/AT_HWCAP2.
fn cpuinfo(hwcaps: (u64, u64)) -> Vec<u8> {
    const HWCAP_NAMES: [&str; 32] = [
        "fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics", "fphp",
        "asimdhp", "cpuid", "asimdrdm", "jscvt", "fcma", "lrcpc", "dcpop", "sha3", "sm3", "sm4",
        "asimddp", "sha512", "sve", "asimdfhm", "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb",
        "paca", "pacg",
    ];
    const HWCAP2_NAMES: [&str; 32] = [
        "dcpodp",
        "sve2",
        "sveaes",
        "svepmull",
        "svebitperm",
        "svesha3",
        "svesm4",
        "flagm2",
        "frint",
        "svei8mm",
        "svef32mm",
        "svef64mm",
        "svebf16",
        "i8mm",
        "bf16",
        "dgh",
        "rng",
        "bti",
        "mte",
        "ecv",
        "afp",
        "rpres",
        "mte3",
        "sme",
        "smei16i64",
        "smef64f64",
        "smei8i32",
        "smef16f32",
        "smeb16f32",
        "smef32f32",
        "smefa64",
        "wfxt",
    ];
    let mut features: Vec<&str> = Vec::new();
    for (i, name) in HWCAP_NAMES.iter().enumerate() {
        if hwcaps.0 & (1 << i) != 0 {
            features.push(name);
        }
    }
    for (i, name) in HWCAP2_NAMES.iter().enumerate() {
        if hwcaps.1 & (1 << i) != 0 {
            features.push(name);
        }
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = String::new();
    for cpu in 0..cpus {
        out.push_str(&format!(
            "processor\t: {cpu}\nBogoMIPS\t: 100.00\nFeatures\t: {}\nCPU implementer\t: 0x00\n\
             CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0x051\nCPU revision\t: 0\n\n",
            features.join(" ")
        ));
    }
    out.into_bytes()
}

/// A `/proc` directory whose entries the guest's view replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcDir {
    /// `fd/`: the guest's descriptors.
    Fds,
    /// `fdinfo/`: a file per guest descriptor.
    FdInfos,
    /// `task/`: the guest's threads.
    Tasks,
    /// `task/` of another guest process (its pid): the threads on its board.
    OtherTasks(u32),
}

/// Which listing a host directory descriptor reads, from where it leads: the emulator's own
/// `/proc/<pid>/fd` (or a thread's) and `/proc/<pid>/task` are the guest's.
pub fn dir_of(host_fd: i32) -> Option<ProcDir> {
    let link = std::ffi::CString::new(format!("/proc/self/fd/{host_fd}")).ok()?;
    let target = crate::host::readlinkat(libc::AT_FDCWD, &link).ok()?;
    let own = format!("/proc/{}/", crate::host::getpid());
    let Some(rest) = target.strip_prefix(own.as_bytes()) else {
        // Another process's task/, when it is a guest process.
        let rest = std::str::from_utf8(target.strip_prefix(b"/proc/")?).ok()?;
        let pid = rest.strip_suffix("/task")?;
        let pid: u32 = pid.parse().ok().filter(|_| !pid.starts_with('0'))?;
        return crate::board::read(pid, false).is_some().then_some(ProcDir::OtherTasks(pid));
    };
    let rest = std::str::from_utf8(rest).ok()?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["fd"] | ["task", _, "fd"] => Some(ProcDir::Fds),
        ["fdinfo"] | ["task", _, "fdinfo"] => Some(ProcDir::FdInfos),
        ["task"] => Some(ProcDir::Tasks),
        _ => None,
    }
}

/// One entry of a generated listing.
struct Dirent {
    ino: u64,
    kind: u8,
    name: String,
}

const DT_DIR: u8 = 4;
const DT_LNK: u8 = 10;
const DT_REG: u8 = 8;

/// A listing's entries, each at its position (Linux's `ctx->pos`): `.` and `..` at 0 and 1,
/// a descriptor N at N + 2 (fs/proc/fd.c, proc_readfd_common), the i-th thread at i + 2
/// (fs/proc/base.c, proc_task_readdir).
fn listing(ctx: &Ctx<'_>, dir: ProcDir) -> Vec<(u64, Dirent)> {
    let dot =
        |name: &str, pos: u64| (pos, Dirent { ino: 1 + pos, kind: DT_DIR, name: name.into() });
    let mut out = vec![dot(".", 0), dot("..", 1)];
    match dir {
        ProcDir::Fds | ProcDir::FdInfos => {
            // fd/ holds links, fdinfo/ regular files (fs/proc/fd.c, proc_fd_instantiate and
            // proc_fdinfo_instantiate).
            let kind = if dir == ProcDir::Fds { DT_LNK } else { DT_REG };
            for (fd, _) in ctx.proc.fds().entries() {
                let fd = fd as u64;
                out.push((fd + 2, Dirent { ino: 0x1000 + fd, kind, name: fd.to_string() }));
            }
        }
        ProcDir::Tasks | ProcDir::OtherTasks(_) => {
            let (pid, mut tids) = match dir {
                ProcDir::OtherTasks(pid) => {
                    (pid, crate::board::read(pid, false).map(|v| v.tids).unwrap_or_default())
                }
                _ => (ctx.proc.pid(), ctx.proc.group().threads().iter().map(|t| t.tid()).collect()),
            };
            tids.sort_unstable();
            // The process's first thread leads the list.
            tids.sort_by_key(|&t| t != pid);
            for (i, tid) in tids.into_iter().enumerate() {
                let ino = 0x10_0000 + u64::from(tid);
                out.push((i as u64 + 2, Dirent { ino, kind: DT_DIR, name: tid.to_string() }));
            }
        }
    }
    out
}

/// `getdents64` of a generated listing: the records from the host descriptor's position on
/// that fit in `room` bytes, and the position after the last; EINVAL when not even one fits.
pub fn getdents(
    ctx: &Ctx<'_>,
    dir: ProcDir,
    pos: u64,
    room: usize,
) -> Result<(Vec<u8>, u64), Errno> {
    let mut out = Vec::new();
    let mut next = pos;
    for (at, e) in listing(ctx, dir).into_iter().filter(|(at, _)| *at >= pos) {
        let reclen = (19 + e.name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > room {
            if out.is_empty() {
                return Err(Errno::EINVAL);
            }
            break;
        }
        out.extend_from_slice(&e.ino.to_le_bytes());
        out.extend_from_slice(&(at + 1).to_le_bytes());
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(e.kind);
        out.extend_from_slice(e.name.as_bytes());
        out.resize(out.len() + reclen - 19 - e.name.len(), 0);
        next = at + 1;
    }
    Ok((out, next))
}

/// The text of a generated file.
pub fn generate(ctx: &Ctx<'_>, file: ProcFile) -> Result<Vec<u8>, Errno> {
    let hwcaps = ctx.proc.group().hwcaps();
    match file {
        ProcFile::Cpuinfo => Ok(cpuinfo((hwcaps.hwcap, hwcaps.hwcap2))),
        ProcFile::FdInfo(fd) => fdinfo(ctx, fd),
        ProcFile::Own(f, thread) => match f {
            OwnFile::Cmdline => Ok(cmdline(&ctx.proc.mm.read())),
            OwnFile::Environ => Ok(environ(&ctx.proc.mm.read())),
            OwnFile::Auxv => Ok(auxv(&ctx.proc.mm.read())),
            OwnFile::Status => status(ctx, thread),
            OwnFile::Stat => stat(ctx, thread),
            OwnFile::Limits => limits(ctx),
            OwnFile::Statm => {
                let exe = ctx.proc.group().exe().to_string_lossy().into_owned();
                Ok(statm(&mem_counts(&ctx.proc.mm.read(), &exe)))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_lookup_names_only_own_files() {
        let ours = |t: u32| t == 42 || t == 43;
        let own = |f, t| Some(ProcFile::Own(f, t));
        assert_eq!(lookup(b"/proc/self/cmdline", 42, 43, ours), own(OwnFile::Cmdline, None));
        assert_eq!(lookup(b"/proc/42/status", 42, 43, ours), own(OwnFile::Status, None));
        assert_eq!(lookup(b"/proc/thread-self/stat", 42, 43, ours), own(OwnFile::Stat, Some(43)));
        assert_eq!(
            lookup(b"/proc/42/task/43/status", 42, 43, ours),
            own(OwnFile::Status, Some(43))
        );
        assert_eq!(lookup(b"/proc/self/task/42/auxv", 42, 43, ours), own(OwnFile::Auxv, Some(42)));
        assert_eq!(lookup(b"/proc/cpuinfo", 42, 43, ours), Some(ProcFile::Cpuinfo));
        assert_eq!(lookup(b"/proc/43/status", 42, 43, ours), None, "another process");
        assert_eq!(lookup(b"/proc/042/status", 42, 43, ours), None);
        assert_eq!(lookup(b"/proc/self/task/44/status", 42, 43, ours), None, "not ours");
        assert_eq!(lookup(b"/proc/self/status/", 42, 43, ours), None);
        assert_eq!(lookup(b"/proc/self/fd", 42, 43, ours), None);
        assert_eq!(lookup(b"/proc/self/fdinfo/0", 42, 43, ours), Some(ProcFile::FdInfo(0)));
        assert_eq!(lookup(b"/proc/42/fdinfo/17", 42, 43, ours), Some(ProcFile::FdInfo(17)));
        assert_eq!(lookup(b"/proc/self/fdinfo/017", 42, 43, ours), None);
        assert_eq!(lookup(b"/proc/self/fdinfo/1/x", 42, 43, ours), None);
        assert_eq!(lookup(b"/proc/self/maps", 42, 43, ours), None, "maps is procfs's");
        assert_eq!(lookup_other(b"/proc/7/status", 42), Some((7, OwnFile::Status)));
        assert_eq!(lookup_other(b"/proc/7/cmdline", 42), Some((7, OwnFile::Cmdline)));
        assert_eq!(lookup_other(b"/proc/42/status", 42), None, "our own");
        assert_eq!(lookup_other(b"/proc/07/status", 42), None);
        assert_eq!(lookup_other(b"/proc/7/maps", 42), None);
        assert_eq!(lookup_other(b"/proc/self/status", 42), None);
    }

    #[test]
    fn test_statm_and_cpuinfo_formats() {
        let c = MemCounts {
            size: 10,
            resident: 4,
            resident_shared: 1,
            text: 2,
            data: 3,
            stack: 1,
            ..Default::default()
        };
        assert_eq!(statm(&c), b"10 4 1 2 0 4 0\n");
        assert_eq!(
            limit_line("Max open files", (100, u64::MAX), "files"),
            "Max open files            100                  unlimited            files     "
        );
        let text = String::from_utf8(cpuinfo((0b11, 1 << 17))).unwrap();
        assert!(
            text.starts_with("processor\t: 0\nBogoMIPS\t: 100.00\nFeatures\t: fp asimd bti\n"),
            "{text}"
        );
    }
}
