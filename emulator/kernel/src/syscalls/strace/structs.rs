//! `--strace`'s structures, decoded from guest memory as strace prints them: `stat` and
//! `statx` results, `timespec` and `itimerspec`, `sigaction`, signal sets, `stack_t`,
//! `iovec` arrays, `pollfd` arrays (their `revents` after the result), `epoll_event`s,
//! socket addresses (`AF_UNIX`, `AF_INET`, `AF_INET6`, `AF_NETLINK`), `rlimit`, `utsname`,
//! wait statuses and descriptor pairs.
//!
//! The line is written after the call, so an out-parameter is shown only when the call
//! succeeded (as strace does; on failure its address) and an in-parameter is read as the
//! call left it. Memory that cannot be read shows as its address, never an error.

use std::fmt::Write as _;

use elfvisor_abi::event::{self as ev, EpollEvent};
use elfvisor_abi::fcntl::{self as f, Stat, Statx};
use elfvisor_abi::poll::{self as p, Pollfd};
use elfvisor_abi::resource::{RLIM_INFINITY, Rlimit};
use elfvisor_abi::signal::{self as sg, Sigaction, StackT};
use elfvisor_abi::socket::{self as so, SockaddrIn, SockaddrIn6, SockaddrNl};
use elfvisor_abi::system::Utsname;
use elfvisor_abi::time::{Itimerspec, Timespec};
use elfvisor_abi::uio::Iovec;
use elfvisor_abi::{GuestAddr, GuestObj};

use super::sink::signal_name;
use super::{STRING_LIMIT, flags, string};
use crate::syscalls::ctx::{Arg, Ctx, SysResult};

/// How many elements of an array strace shows before `...` (its default `-s`-like cut for
/// arrays is larger; 16 keeps a line readable).
const ARRAY_LIMIT: usize = 16;

fn obj<T: GuestObj>(ctx: &Ctx<'_>, addr: u64) -> Option<T> {
    ctx.proc.mm.read().read_obj::<T>(GuestAddr(addr)).ok()
}

fn bytes(ctx: &Ctx<'_>, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    ctx.proc.mm.read().copy_in(GuestAddr(addr), &mut out).ok()?;
    Some(out)
}

/// The argument `kind` at position `i`, when it is one of the structures (or needs a
/// neighbouring argument or the result); `None` for the plain kinds.
pub(super) fn show(
    ctx: &Ctx<'_>,
    kind: Arg,
    i: usize,
    args: &[u64; 6],
    result: &SysResult,
) -> Option<String> {
    let value = args[i];
    let next = args.get(i + 1).copied().unwrap_or(0);
    let ok = result.as_ref().ok().copied();
    if is_plain(kind) {
        return None;
    }
    let named = matches!(
        kind,
        Arg::ClockId
            | Arg::Resource
            | Arg::AtFlags
            | Arg::StatxMask
            | Arg::Family
            | Arg::SockType
            | Arg::EpollOp
    );
    if value == 0 && !named {
        return Some("NULL".into());
    }
    // An out-parameter a failed call did not fill shows as its address.
    let out = |shown: Option<String>| match ok {
        Some(_) => Some(shown.unwrap_or_else(|| format!("{value:#x}"))),
        None => Some(format!("{value:#x}")),
    };
    let input = |shown: Option<String>| Some(shown.unwrap_or_else(|| format!("{value:#x}")));
    match kind {
        Arg::StatOut => out(obj::<Stat>(ctx, value).map(|s| stat(&s))),
        Arg::StatxOut => out(obj::<Statx>(ctx, value).map(|s| statx(&s))),
        Arg::TimespecIn => input(obj::<Timespec>(ctx, value).map(|t| timespec(&t))),
        Arg::TimespecOut => out(obj::<Timespec>(ctx, value).map(|t| timespec(&t))),
        Arg::ItimerspecIn => input(obj::<Itimerspec>(ctx, value).map(|t| itimerspec(&t))),
        Arg::ItimerspecOut => out(obj::<Itimerspec>(ctx, value).map(|t| itimerspec(&t))),
        Arg::SigactionIn => input(obj::<Sigaction>(ctx, value).map(|a| sigaction(&a))),
        Arg::SigactionOut => out(obj::<Sigaction>(ctx, value).map(|a| sigaction(&a))),
        Arg::SigsetIn => input(obj::<u64>(ctx, value).map(sigset)),
        Arg::SigsetOut => out(obj::<u64>(ctx, value).map(sigset)),
        Arg::StackIn => input(obj::<StackT>(ctx, value).map(|s| stack(&s))),
        Arg::StackOut => out(obj::<StackT>(ctx, value).map(|s| stack(&s))),
        Arg::IovecIn => input(iovecs(ctx, value, next, None)),
        Arg::IovecOut => out(iovecs(ctx, value, next, ok)),
        Arg::Pollfds => input(pollfds(ctx, value, next, false)),
        Arg::EpollEventIn => input(obj::<EpollEvent>(ctx, value).map(|e| epoll_event(&e))),
        Arg::EpollEventsOut => out(ok.and_then(|n| epoll_events(ctx, value, n))),
        Arg::SockaddrIn => input(sockaddr(ctx, value, next)),
        Arg::SockaddrOut => {
            let len = obj::<u32>(ctx, next).unwrap_or(0);
            out(sockaddr(ctx, value, u64::from(len)))
        }
        Arg::SockLenPtr => out(obj::<u32>(ctx, value).map(|n| format!("[{n}]"))),
        Arg::RlimitIn => input(obj::<Rlimit>(ctx, value).map(|r| rlimit(&r))),
        Arg::RlimitOut => out(obj::<Rlimit>(ctx, value).map(|r| rlimit(&r))),
        Arg::UtsnameOut => out(obj::<Utsname>(ctx, value).map(|u| utsname(&u))),
        Arg::WaitStatusOut => match ok {
            Some(pid) if pid != 0 => input(obj::<u32>(ctx, value).map(wait_status)),
            _ => Some(format!("{value:#x}")),
        },
        Arg::FdPairOut => out(obj::<[i32; 2]>(ctx, value).map(|[a, b]| format!("[{a}, {b}]"))),
        Arg::ClockId => Some(clock_id(value)),
        Arg::Resource => Some(resource(value)),
        Arg::AtFlags => Some(at_flags(value)),
        Arg::StatxMask => Some(statx_mask(value)),
        Arg::Family => Some(family(value)),
        Arg::SockType => Some(sock_type(value)),
        Arg::EpollOp => Some(match value as u32 {
            ev::EPOLL_CTL_ADD => "EPOLL_CTL_ADD".into(),
            ev::EPOLL_CTL_DEL => "EPOLL_CTL_DEL".into(),
            ev::EPOLL_CTL_MOD => "EPOLL_CTL_MOD".into(),
            _ => (value as i64).to_string(),
        }),
        _ => None,
    }
}

/// The kinds `super::arg` shows from the value alone.
fn is_plain(kind: Arg) -> bool {
    matches!(
        kind,
        Arg::Int
            | Arg::Fd
            | Arg::Ptr
            | Arg::Str
            | Arg::Hex
            | Arg::Len
            | Arg::Mode
            | Arg::OpenFlags
            | Arg::Prot
            | Arg::MapFlags
            | Arg::CloneFlags
            | Arg::Signal
            | Arg::SigHow
            | Arg::Whence
            | Arg::InBuf
            | Arg::OutBuf
    )
}

/// What strace adds after a result: the `revents` of the ready `pollfd`s.
pub(super) fn result_note(ctx: &Ctx<'_>, kinds: &[Arg], args: &[u64; 6], n: u64) -> String {
    let Some(i) = kinds.iter().position(|k| *k == Arg::Pollfds) else { return String::new() };
    if n == 0 {
        return " (Timeout)".into();
    }
    match pollfds(ctx, args[i], args.get(i + 1).copied().unwrap_or(0), true) {
        Some(ready) => format!(" ({ready})"),
        None => String::new(),
    }
}

/// `S_IFREG|0644`.
pub(super) fn file_mode(mode: u32) -> String {
    let kind = match mode & f::S_IFMT {
        f::S_IFSOCK => "S_IFSOCK",
        f::S_IFLNK => "S_IFLNK",
        f::S_IFREG => "S_IFREG",
        f::S_IFBLK => "S_IFBLK",
        f::S_IFDIR => "S_IFDIR",
        f::S_IFCHR => "S_IFCHR",
        f::S_IFIFO => "S_IFIFO",
        _ => "",
    };
    let perms = mode & !f::S_IFMT;
    let perms = if perms == 0 { "000".to_string() } else { format!("0{perms:o}") };
    if kind.is_empty() { perms } else { format!("{kind}|{perms}") }
}

/// `makedev(0x88, 0x2)`, as glibc's `major`/`minor` split a 64-bit device number.
fn makedev(dev: u64) -> String {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    makedev_of(major, minor)
}

fn makedev_of(major: u64, minor: u64) -> String {
    let hex = |v: u64| if v == 0 { "0".to_string() } else { format!("{v:#x}") };
    format!("makedev({}, {})", hex(major), hex(minor))
}

fn is_device(mode: u32) -> bool {
    matches!(mode & f::S_IFMT, f::S_IFCHR | f::S_IFBLK)
}

/// strace's short `struct stat`: the mode, then the size (or the device), then `...`.
fn stat(s: &Stat) -> String {
    let tail = if is_device(s.mode) {
        format!("st_rdev={}", makedev(s.rdev))
    } else {
        format!("st_size={}", s.size)
    };
    format!("{{st_mode={}, {tail}, ...}}", file_mode(s.mode))
}

fn statx(s: &Statx) -> String {
    let tail = if is_device(u32::from(s.mode)) {
        format!("stx_rdev={}", makedev_of(s.rdev_major.into(), s.rdev_minor.into()))
    } else {
        format!("stx_size={}", s.size)
    };
    format!(
        "{{stx_mask={}, stx_attributes={}, stx_mode={}, {tail}, ...}}",
        statx_mask(s.mask.into()),
        if s.attributes == 0 { "0".to_string() } else { format!("{:#x}", s.attributes) },
        file_mode(s.mode.into()),
    )
}

const STATX_BITS: &[(u64, &str)] = &[
    (0x0fff, "STATX_ALL"),
    (0x07ff, "STATX_BASIC_STATS"),
    (0x0001, "STATX_TYPE"),
    (0x0002, "STATX_MODE"),
    (0x0004, "STATX_NLINK"),
    (0x0008, "STATX_UID"),
    (0x0010, "STATX_GID"),
    (0x0020, "STATX_ATIME"),
    (0x0040, "STATX_MTIME"),
    (0x0080, "STATX_CTIME"),
    (0x0100, "STATX_INO"),
    (0x0200, "STATX_SIZE"),
    (0x0400, "STATX_BLOCKS"),
    (0x0800, "STATX_BTIME"),
    (0x1000, "STATX_MNT_ID"),
    (0x2000, "STATX_DIOALIGN"),
];

fn statx_mask(value: u64) -> String {
    if value == 0 { "0".into() } else { flags(value, STATX_BITS) }
}

/// `AT_*` flags of the `*at` calls (0 as `0`).
fn at_flags(value: u64) -> String {
    let names: &[(u64, &str)] = &[
        (f::AT_SYMLINK_NOFOLLOW.into(), "AT_SYMLINK_NOFOLLOW"),
        (f::AT_REMOVEDIR.into(), "AT_REMOVEDIR"),
        (f::AT_SYMLINK_FOLLOW.into(), "AT_SYMLINK_FOLLOW"),
        (f::AT_NO_AUTOMOUNT.into(), "AT_NO_AUTOMOUNT"),
        (f::AT_EMPTY_PATH.into(), "AT_EMPTY_PATH"),
        (0x2000, "AT_STATX_FORCE_SYNC"),
        (0x4000, "AT_STATX_DONT_SYNC"),
    ];
    if value == 0 { "0".into() } else { flags(value, names) }
}

fn timespec(t: &Timespec) -> String {
    format!("{{tv_sec={}, tv_nsec={}}}", t.sec, t.nsec)
}

fn itimerspec(t: &Itimerspec) -> String {
    format!("{{it_interval={}, it_value={}}}", timespec(&t.interval), timespec(&t.value))
}

/// `[INT TERM]`, or `~[KILL STOP]` for a set holding more than half the signals, as strace
/// prints a `sigset_t`.
pub(super) fn sigset(set: u64) -> String {
    let (inverted, set) = if set.count_ones() > 32 { (true, !set) } else { (false, set) };
    let names: Vec<String> = (1..=64u8)
        .filter(|n| set & (1u64 << (n - 1)) != 0)
        .map(|n| signal_name(n).trim_start_matches("SIG").to_string())
        .collect();
    format!("{}[{}]", if inverted { "~" } else { "" }, names.join(" "))
}

fn sigaction(a: &Sigaction) -> String {
    let handler = match a.handler {
        sg::SIG_DFL => "SIG_DFL".to_string(),
        sg::SIG_IGN => "SIG_IGN".to_string(),
        h => format!("{h:#x}"),
    };
    let names: &[(u64, &str)] = &[
        (sg::SA_RESTORER, "SA_RESTORER"),
        (sg::SA_ONSTACK, "SA_ONSTACK"),
        (sg::SA_RESTART, "SA_RESTART"),
        (sg::SA_NODEFER, "SA_NODEFER"),
        (sg::SA_RESETHAND, "SA_RESETHAND"),
        (sg::SA_NOCLDSTOP, "SA_NOCLDSTOP"),
        (sg::SA_NOCLDWAIT, "SA_NOCLDWAIT"),
        (sg::SA_SIGINFO, "SA_SIGINFO"),
        (sg::SA_EXPOSE_TAGBITS, "SA_EXPOSE_TAGBITS"),
    ];
    let flag_text = if a.flags == 0 { "0".to_string() } else { flags(a.flags, names) };
    let mut text =
        format!("{{sa_handler={handler}, sa_mask={}, sa_flags={flag_text}", sigset(a.mask));
    if a.flags & sg::SA_RESTORER != 0 {
        let _ = write!(text, ", sa_restorer={:#x}", a.restorer);
    }
    text.push('}');
    text
}

fn stack(s: &StackT) -> String {
    let names: &[(u64, &str)] = &[(1, "SS_ONSTACK"), (2, "SS_DISABLE"), (1 << 31, "SS_AUTODISARM")];
    let flag_text = if s.flags == 0 { "0".to_string() } else { flags(s.flags.into(), names) };
    format!("{{ss_sp={:#x}, ss_flags={flag_text}, ss_size={}}}", s.sp, s.size)
}

/// An `iovec` array of `count` elements; with `filled`, only that many bytes of the buffers
/// hold data (a read's result).
fn iovecs(ctx: &Ctx<'_>, addr: u64, count: u64, filled: Option<u64>) -> Option<String> {
    let n = usize::try_from(count).ok()?.min(ARRAY_LIMIT + 1);
    let vecs = ctx.proc.mm.read().read_objs::<Iovec>(GuestAddr(addr), n, n).ok()?;
    let mut left = filled;
    let mut parts = Vec::new();
    for (k, v) in vecs.iter().enumerate() {
        if k == ARRAY_LIMIT {
            parts.push("...".to_string());
            break;
        }
        let shown = match &mut left {
            Some(left) => {
                let take = v.len.min(*left);
                *left -= take;
                take
            }
            None => v.len,
        };
        let want = shown.min(STRING_LIMIT as u64 + 1) as usize;
        let base = match bytes(ctx, v.base, want) {
            Some(data) if shown as usize > STRING_LIMIT => {
                string(&data[..STRING_LIMIT.min(data.len())]) + "..."
            }
            Some(data) => string(&data),
            None => format!("{:#x}", v.base),
        };
        parts.push(format!("{{iov_base={base}, iov_len={}}}", v.len));
    }
    Some(format!("[{}]", parts.join(", ")))
}

const POLL_BITS: &[(u64, &str)] = &[
    (p::POLLIN as u64, "POLLIN"),
    (p::POLLPRI as u64, "POLLPRI"),
    (p::POLLOUT as u64, "POLLOUT"),
    (p::POLLERR as u64, "POLLERR"),
    (p::POLLHUP as u64, "POLLHUP"),
    (p::POLLNVAL as u64, "POLLNVAL"),
    (p::POLLRDNORM as u64, "POLLRDNORM"),
    (p::POLLRDBAND as u64, "POLLRDBAND"),
    (p::POLLWRNORM as u64, "POLLWRNORM"),
    (p::POLLWRBAND as u64, "POLLWRBAND"),
    (p::POLLMSG as u64, "POLLMSG"),
    (p::POLLREMOVE as u64, "POLLREMOVE"),
    (p::POLLRDHUP as u64, "POLLRDHUP"),
];

fn poll_bits(v: i16) -> String {
    if v == 0 { "0".into() } else { flags(u64::from(v as u16), POLL_BITS) }
}

/// A `pollfd` array: the requested events, or (`ready`) the descriptors with `revents`.
fn pollfds(ctx: &Ctx<'_>, addr: u64, count: u64, ready: bool) -> Option<String> {
    let n = usize::try_from(count).ok()?.min(ARRAY_LIMIT + 1);
    let fds = ctx.proc.mm.read().read_objs::<Pollfd>(GuestAddr(addr), n, n).ok()?;
    let mut parts: Vec<String> = fds
        .iter()
        .take(ARRAY_LIMIT)
        .filter(|pfd| !ready || pfd.revents != 0)
        .map(|pfd| {
            if ready {
                format!("{{fd={}, revents={}}}", pfd.fd, poll_bits(pfd.revents))
            } else {
                format!("{{fd={}, events={}}}", pfd.fd, poll_bits(pfd.events))
            }
        })
        .collect();
    if n > ARRAY_LIMIT {
        parts.push("...".into());
    }
    Some(format!("[{}]", parts.join(", ")))
}

fn epoll_event(e: &EpollEvent) -> String {
    let names: &[(u64, &str)] = &[
        (ev::EPOLLIN.into(), "EPOLLIN"),
        (ev::EPOLLPRI.into(), "EPOLLPRI"),
        (ev::EPOLLOUT.into(), "EPOLLOUT"),
        (ev::EPOLLERR.into(), "EPOLLERR"),
        (ev::EPOLLHUP.into(), "EPOLLHUP"),
        (ev::EPOLLNVAL.into(), "EPOLLNVAL"),
        (ev::EPOLLRDNORM.into(), "EPOLLRDNORM"),
        (ev::EPOLLRDBAND.into(), "EPOLLRDBAND"),
        (ev::EPOLLWRNORM.into(), "EPOLLWRNORM"),
        (ev::EPOLLWRBAND.into(), "EPOLLWRBAND"),
        (ev::EPOLLMSG.into(), "EPOLLMSG"),
        (ev::EPOLLRDHUP.into(), "EPOLLRDHUP"),
        (ev::EPOLLEXCLUSIVE.into(), "EPOLLEXCLUSIVE"),
        (1 << 29, "EPOLLWAKEUP"),
        (1 << 30, "EPOLLONESHOT"),
        (1 << 31, "EPOLLET"),
    ];
    let events = if e.events == 0 { "0".to_string() } else { flags(e.events.into(), names) };
    format!("{{events={events}, data={{u32={}, u64={}}}}}", e.data as u32, e.data)
}

fn epoll_events(ctx: &Ctx<'_>, addr: u64, n: u64) -> Option<String> {
    let n = usize::try_from(n).ok()?.min(ARRAY_LIMIT + 1);
    let events = ctx.proc.mm.read().read_objs::<EpollEvent>(GuestAddr(addr), n, n).ok()?;
    let mut parts: Vec<String> = events.iter().take(ARRAY_LIMIT).map(epoll_event).collect();
    if n > ARRAY_LIMIT {
        parts.push("...".into());
    }
    Some(format!("[{}]", parts.join(", ")))
}

/// A socket address of `len` bytes, by its family.
fn sockaddr(ctx: &Ctx<'_>, addr: u64, len: u64) -> Option<String> {
    let len = usize::try_from(len).ok()?.min(so::SOCKADDR_STORAGE_SIZE);
    if len < 2 {
        return Some("{}".into());
    }
    let raw = bytes(ctx, addr, len)?;
    let family = u16::from_le_bytes([raw[0], raw[1]]);
    let mut padded = raw.clone();
    padded.resize(so::SOCKADDR_STORAGE_SIZE, 0);
    Some(match family {
        so::AF_UNIX if len == 2 => "{sa_family=AF_UNIX}".into(),
        so::AF_UNIX => {
            let path = &raw[so::SUN_PATH_OFFSET..];
            if path.first() == Some(&0) {
                format!("{{sa_family=AF_UNIX, sun_path=@{}}}", string(&path[1..]))
            } else {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                format!("{{sa_family=AF_UNIX, sun_path={}}}", string(&path[..end]))
            }
        }
        so::AF_INET => {
            let a = SockaddrIn::decode(&padded);
            let ip = std::net::Ipv4Addr::from(a.addr);
            format!(
                "{{sa_family=AF_INET, sin_port=htons({}), sin_addr=inet_addr(\"{ip}\")}}",
                u16::from_be_bytes(a.port_be)
            )
        }
        so::AF_INET6 => {
            let a = SockaddrIn6::decode(&padded);
            let ip = std::net::Ipv6Addr::from(a.addr);
            format!(
                "{{sa_family=AF_INET6, sin6_port=htons({}), sin6_flowinfo=htonl({}), \
                 inet_pton(AF_INET6, \"{ip}\", &sin6_addr), sin6_scope_id={}}}",
                u16::from_be_bytes(a.port_be),
                u32::from_be_bytes(a.flowinfo_be),
                a.scope_id
            )
        }
        so::AF_NETLINK => {
            let a = SockaddrNl::decode(&padded);
            format!("{{sa_family=AF_NETLINK, nl_pid={}, nl_groups={:08x}}}", a.pid, a.groups)
        }
        so::AF_UNSPEC => "{sa_family=AF_UNSPEC}".into(),
        other => format!("{{sa_family={other}, sa_data={}}}", string(&raw[2..])),
    })
}

fn family(value: u64) -> String {
    match u16::try_from(value) {
        Ok(so::AF_UNSPEC) => "AF_UNSPEC".into(),
        Ok(so::AF_UNIX) => "AF_UNIX".into(),
        Ok(so::AF_INET) => "AF_INET".into(),
        Ok(so::AF_INET6) => "AF_INET6".into(),
        Ok(so::AF_NETLINK) => "AF_NETLINK".into(),
        _ => (value as i64).to_string(),
    }
}

fn sock_type(value: u64) -> String {
    let v = value as u32;
    let kind = match v & so::SOCK_TYPE_MASK {
        so::SOCK_STREAM => "SOCK_STREAM".to_string(),
        so::SOCK_DGRAM => "SOCK_DGRAM".to_string(),
        so::SOCK_RAW => "SOCK_RAW".to_string(),
        so::SOCK_RDM => "SOCK_RDM".to_string(),
        so::SOCK_SEQPACKET => "SOCK_SEQPACKET".to_string(),
        so::SOCK_DCCP => "SOCK_DCCP".to_string(),
        so::SOCK_PACKET => "SOCK_PACKET".to_string(),
        t => t.to_string(),
    };
    let names: &[(u64, &str)] =
        &[(so::SOCK_NONBLOCK.into(), "SOCK_NONBLOCK"), (so::SOCK_CLOEXEC.into(), "SOCK_CLOEXEC")];
    let rest = u64::from(v & !so::SOCK_TYPE_MASK);
    if rest == 0 { kind } else { format!("{kind}|{}", flags(rest, names)) }
}

/// strace's `rlim_t`: `RLIM64_INFINITY`, a multiple of 1024 as `N*1024`, else the number.
fn rlim(v: u64) -> String {
    match v {
        RLIM_INFINITY => "RLIM64_INFINITY".into(),
        v if v > 0 && v % 1024 == 0 => format!("{}*1024", v / 1024),
        v => v.to_string(),
    }
}

fn rlimit(r: &Rlimit) -> String {
    format!("{{rlim_cur={}, rlim_max={}}}", rlim(r.cur), rlim(r.max))
}

fn resource(value: u64) -> String {
    const NAMES: [&str; 16] = [
        "RLIMIT_CPU",
        "RLIMIT_FSIZE",
        "RLIMIT_DATA",
        "RLIMIT_STACK",
        "RLIMIT_CORE",
        "RLIMIT_RSS",
        "RLIMIT_NPROC",
        "RLIMIT_NOFILE",
        "RLIMIT_MEMLOCK",
        "RLIMIT_AS",
        "RLIMIT_LOCKS",
        "RLIMIT_SIGPENDING",
        "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE",
        "RLIMIT_RTPRIO",
        "RLIMIT_RTTIME",
    ];
    usize::try_from(value)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| (value as i64).to_string(), |n| (*n).to_string())
}

fn clock_id(value: u64) -> String {
    const NAMES: [&str; 12] = [
        "CLOCK_REALTIME",
        "CLOCK_MONOTONIC",
        "CLOCK_PROCESS_CPUTIME_ID",
        "CLOCK_THREAD_CPUTIME_ID",
        "CLOCK_MONOTONIC_RAW",
        "CLOCK_REALTIME_COARSE",
        "CLOCK_MONOTONIC_COARSE",
        "CLOCK_BOOTTIME",
        "CLOCK_REALTIME_ALARM",
        "CLOCK_BOOTTIME_ALARM",
        "",
        "CLOCK_TAI",
    ];
    usize::try_from(value)
        .ok()
        .and_then(|i| NAMES.get(i))
        .filter(|n| !n.is_empty())
        .map_or_else(|| (value as i64).to_string(), |n| (*n).to_string())
}

/// strace's `struct utsname` without `-v`: the first two fields.
fn utsname(u: &Utsname) -> String {
    let field = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        string(&b[..end])
    };
    format!("{{sysname={}, nodename={}, ...}}", field(&u.sysname), field(&u.nodename))
}

/// A wait status as strace decodes it: `[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]`.
fn wait_status(s: u32) -> String {
    let sig = |n: u32| signal_name(n as u8);
    let inner = if s & 0x7f == 0 {
        format!("WIFEXITED(s) && WEXITSTATUS(s) == {}", (s >> 8) & 0xff)
    } else if s == 0xffff {
        "WIFCONTINUED(s)".into()
    } else if s & 0xff == 0x7f {
        format!("WIFSTOPPED(s) && WSTOPSIG(s) == {}", sig((s >> 8) & 0xff))
    } else {
        let core = if s & 0x80 != 0 { " && WCOREDUMP(s)" } else { "" };
        format!("WIFSIGNALED(s) && WTERMSIG(s) == {}{core}", sig(s & 0x7f))
    };
    format!("[{{{inner}}}]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use elfvisor_abi::Signo;

    #[test]
    fn test_structures_read_as_strace_prints_them() {
        let st = Stat { mode: 0o100644, size: 21, ..Default::default() };
        assert_eq!(stat(&st), "{st_mode=S_IFREG|0644, st_size=21, ...}");
        let tty = Stat { mode: 0o020620, rdev: (0x88 << 8) | 2, ..Default::default() };
        assert_eq!(stat(&tty), "{st_mode=S_IFCHR|0620, st_rdev=makedev(0x88, 0x2), ...}");
        assert_eq!(file_mode(0o040755), "S_IFDIR|0755");
        assert_eq!(file_mode(0o100000), "S_IFREG|000");
        let sx = Statx { mask: 0x17ff, mode: 0o100600, size: 5, ..Default::default() };
        assert_eq!(
            statx(&sx),
            "{stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, \
             stx_mode=S_IFREG|0600, stx_size=5, ...}"
        );
        assert_eq!(timespec(&Timespec { sec: 1, nsec: 500 }), "{tv_sec=1, tv_nsec=500}");
        assert_eq!(sigset(0), "[]");
        assert_eq!(sigset(Signo::SIGINT.mask_bit() | Signo::SIGTERM.mask_bit()), "[INT TERM]");
        assert_eq!(sigset(!sg::UNBLOCKABLE), "~[KILL STOP]");
        assert_eq!(sigset(3 << 31), "[RTMIN RT_1]");
        let act = Sigaction {
            handler: 0x40_1000,
            flags: sg::SA_RESTORER | sg::SA_SIGINFO,
            restorer: 0x40_2000,
            mask: Signo::SIGUSR1.mask_bit(),
        };
        assert_eq!(
            sigaction(&act),
            "{sa_handler=0x401000, sa_mask=[USR1], sa_flags=SA_RESTORER|SA_SIGINFO, \
             sa_restorer=0x402000}"
        );
        assert_eq!(
            sigaction(&Sigaction::default()),
            "{sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}"
        );
        assert_eq!(
            rlimit(&Rlimit { cur: 8192 * 1024, max: RLIM_INFINITY }),
            "{rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}"
        );
        assert_eq!(resource(7), "RLIMIT_NOFILE");
        assert_eq!(clock_id(1), "CLOCK_MONOTONIC");
        assert_eq!(clock_id(10), "10");
        assert_eq!(at_flags(0x1100), "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH");
        assert_eq!(wait_status(0), "[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]");
        assert_eq!(wait_status(9), "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]");
        assert_eq!(
            wait_status(0x8b),
            "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]"
        );
        assert_eq!(wait_status(0x137f), "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]");
        assert_eq!(
            epoll_event(&EpollEvent { events: ev::EPOLLIN | (1 << 31), data: 5 }),
            "{events=EPOLLIN|EPOLLET, data={u32=5, u64=5}}"
        );
        assert_eq!(poll_bits(p::POLLIN | p::POLLHUP), "POLLIN|POLLHUP");
        assert_eq!(family(10), "AF_INET6");
        assert_eq!(
            sock_type(u64::from(so::SOCK_DGRAM | so::SOCK_CLOEXEC)),
            "SOCK_DGRAM|SOCK_CLOEXEC"
        );
    }
}
