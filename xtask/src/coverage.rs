//! `cargo xtask coverage`: how much of aarch64's system call table elfvisor serves, beside
//! qemu-user. Two measures:
//! - the support matrix (`elfvisor --syscalls`): each call's row and level (full, partial,
//!   refused with Linux's own errno);
//! - a probe (`guest-src/tools/syscall_probe.c`) run under elfvisor and under qemu-aarch64
//!   that calls every number with zero arguments and records which answer ENOSYS.
//!
//! The table groups calls by family; the grouping is this file's, for reading only.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use anyhow::{Context, Result, bail};
use elfvisor_conformance::guest::{GuestBuilder, Libc};
use elfvisor_conformance::paths;

const QEMU: &str = "qemu-aarch64";

/// The family a call is counted under (by name; the first prefix or name that matches).
const FAMILIES: &[(&str, &[&str])] = &[
    (
        "sockets",
        &[
            "socket",
            "socketpair",
            "bind",
            "listen",
            "accept",
            "accept4",
            "connect",
            "getsockname",
            "getpeername",
            "sendto",
            "recvfrom",
            "setsockopt",
            "getsockopt",
            "shutdown",
            "sendmsg",
            "recvmsg",
            "sendmmsg",
            "recvmmsg",
        ],
    ),
    (
        "events",
        &[
            "eventfd2",
            "epoll_",
            "timerfd_",
            "signalfd4",
            "inotify_",
            "ppoll",
            "pselect6",
            "fanotify_",
        ],
    ),
    ("IPC", &["sem", "msg", "shm", "mq_"]),
    (
        "memory",
        &[
            "mmap",
            "munmap",
            "mremap",
            "mprotect",
            "msync",
            "mlock",
            "munlock",
            "mlockall",
            "munlockall",
            "mincore",
            "madvise",
            "brk",
            "remap_file_pages",
            "mbind",
            "get_mempolicy",
            "set_mempolicy",
            "migrate_pages",
            "move_pages",
            "memfd_",
            "pkey_",
            "userfaultfd",
            "process_madvise",
            "process_mrelease",
            "membarrier",
            "set_mempolicy_home_node",
        ],
    ),
    (
        "signals",
        &[
            "rt_sig",
            "sigaltstack",
            "kill",
            "tkill",
            "tgkill",
            "rt_tgsigqueueinfo",
            "pidfd_send_signal",
            "restart_syscall",
        ],
    ),
    (
        "time and timers",
        &[
            "clock_",
            "timer_",
            "nanosleep",
            "gettimeofday",
            "settimeofday",
            "adjtimex",
            "getitimer",
            "setitimer",
            "times",
        ],
    ),
    (
        "threads and futexes",
        &["futex", "set_robust_list", "get_robust_list", "set_tid_address", "rseq"],
    ),
    (
        "processes",
        &[
            "clone",
            "clone3",
            "execve",
            "execveat",
            "exit",
            "exit_group",
            "wait4",
            "waitid",
            "getpid",
            "getppid",
            "gettid",
            "setpgid",
            "getpgid",
            "getsid",
            "setsid",
            "prctl",
            "personality",
            "unshare",
            "setns",
            "pidfd_",
            "kcmp",
            "process_vm_",
            "ptrace",
            "seccomp",
        ],
    ),
    (
        "credentials and limits",
        &[
            "getuid",
            "geteuid",
            "getgid",
            "getegid",
            "setuid",
            "setgid",
            "setreuid",
            "setregid",
            "setresuid",
            "setresgid",
            "getresuid",
            "getresgid",
            "setfsuid",
            "setfsgid",
            "getgroups",
            "setgroups",
            "capget",
            "capset",
            "getrlimit",
            "setrlimit",
            "prlimit64",
            "getrusage",
        ],
    ),
    ("scheduling", &["sched_", "getpriority", "setpriority", "getcpu", "ioprio_"]),
    (
        "system",
        &[
            "uname",
            "sysinfo",
            "getrandom",
            "sethostname",
            "setdomainname",
            "syslog",
            "reboot",
            "kexec_",
            "init_module",
            "finit_module",
            "delete_module",
            "acct",
            "swapon",
            "swapoff",
            "vhangup",
            "bpf",
            "perf_event_open",
            "add_key",
            "request_key",
            "keyctl",
            "landlock_",
            "lookup_dcookie",
            "nfsservctl",
            "quotactl",
            "quotactl_fd",
        ],
    ),
    ("asynchronous I/O", &["io_"]),
    (
        "mounts",
        &[
            "mount",
            "umount2",
            "pivot_root",
            "chroot",
            "open_tree",
            "move_mount",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "mount_setattr",
        ],
    ),
];

fn family_of(name: &str) -> &'static str {
    for (family, names) in FAMILIES {
        let hit = names.iter().any(|n| {
            if n.ends_with('_') {
                name.starts_with(n)
            } else {
                name == *n || (n.len() <= 3 && name.starts_with(n))
            }
        });
        if hit {
            return family;
        }
    }
    "files and file systems"
}

/// One row of `elfvisor --syscalls`: number, name, level.
fn support_matrix(elfvisor: &std::path::Path) -> Result<Vec<(u32, String, String)>> {
    let out =
        Command::new(elfvisor).arg("--syscalls").output().context("running elfvisor --syscalls")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let nr = f.next()?.parse().ok()?;
            let (name, level) = (f.next()?.to_string(), f.next()?.to_string());
            // The closing summary line ("295 of 307 …") is not a row.
            ["full", "partial", "refused"].contains(&level.as_str()).then_some((nr, name, level))
        })
        .collect())
}

/// The numbers the probe found answering ENOSYS, and its summary line.
fn probe(cmd: &mut Command) -> Result<(BTreeSet<u32>, String)> {
    let out = cmd.output().context("running the probe")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary = text.lines().last().unwrap_or("").to_string();
    if !summary.starts_with("answered ") {
        bail!("the probe did not finish: {}", String::from_utf8_lossy(&out.stderr));
    }
    let set = text.lines().filter_map(|l| l.strip_prefix("ENOSYS ")?.parse().ok()).collect();
    Ok((set, summary))
}

pub fn run() -> Result<()> {
    let elfvisor = elfvisor_conformance::elfvisor_lane::binary()
        .map_err(|e| anyhow::anyhow!(e))
        .context("building elfvisor")?;
    let builder = GuestBuilder::new();
    let source = paths::guest_src().join("tools/syscall_probe.c");
    let probe_bin =
        builder.build(Libc::Musl, &source, "syscall_probe").map_err(|e| anyhow::anyhow!(e))?;
    let names: BTreeMap<u32, String> =
        elfvisor_abi::Sysno::ALL.iter().map(|(n, name)| (n.0, (*name).to_string())).collect();
    let rows = support_matrix(&elfvisor)?;
    let (ours, our_line) = probe(Command::new(&elfvisor).arg(&probe_bin))?;
    let theirs = if which::which(QEMU).is_ok() {
        Some(probe(Command::new(QEMU).arg(&probe_bin))?)
    } else {
        None
    };
    println!("coverage: {} of {} calls have a row", rows.len(), names.len());
    println!("probe under elfvisor:  {our_line}");
    if let Some((_, line)) = &theirs {
        println!("probe under {QEMU}: {line}");
    }
    // family -> [calls, full, partial, refused, elfvisor answers, qemu answers]
    let mut table: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    let skipped = [58u32, 104, 142, 161, 162, 273, 294];
    for (nr, name) in &names {
        let t = table.entry(family_of(name)).or_default();
        t[0] += 1;
        match rows.iter().find(|r| r.0 == *nr).map(|r| r.2.as_str()) {
            Some("full") => t[1] += 1,
            Some("partial") => t[2] += 1,
            Some(_) => t[3] += 1,
            None => {}
        }
        // The probe calls the defined numbers but these (arch_specific_syscall, 244, is not one).
        let probed = !skipped.contains(nr) && !(244..=259).contains(nr);
        t[4] += usize::from(probed && !ours.contains(nr));
        t[5] += usize::from(probed && theirs.as_ref().is_some_and(|(s, _)| !s.contains(nr)));
    }
    println!(
        "\n| family | calls | full | partial | refused | answered (elfvisor) | answered ({QEMU}) |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|");
    let mut total = [0usize; 6];
    for (family, t) in &table {
        println!("| {family} | {} | {} | {} | {} | {} | {} |", t[0], t[1], t[2], t[3], t[4], t[5]);
        for i in 0..6 {
            total[i] += t[i];
        }
    }
    let t = total;
    println!("| all | {} | {} | {} | {} | {} | {} |", t[0], t[1], t[2], t[3], t[4], t[5]);
    if let Some((q, _)) = &theirs {
        let only_qemu: Vec<&str> = q
            .iter()
            .chain(&ours)
            .filter(|n| ours.contains(n) && !q.contains(n))
            .map(|n| names[n].as_str())
            .collect();
        let only_ours: Vec<&str> =
            q.iter().filter(|n| !ours.contains(n)).map(|n| names[n].as_str()).collect();
        println!("\nanswered by {QEMU} only: {}", only_qemu.join(" "));
        println!("answered by elfvisor only: {}", only_ours.join(" "));
    }
    Ok(())
}
