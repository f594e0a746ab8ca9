//! The guest's view of the file system: every absolute path a guest names is translated here,
//! once, before any host call sees it.
//!
//! Without a sysroot the translation is the identity. With one (`--sysroot DIR` or
//! `ELFVISOR_SYSROOT`), an absolute path resolves inside `DIR` first and falls back to the host
//! path when nothing is there. The rules, in order:
//!
//! | guest path | goes to |
//! |---|---|
//! | relative (`x`, `./x`, `../x`) | the host, untouched (the working directory is the host's) |
//! | under `/proc`, `/dev`, `/sys`, `/tmp` | the host |
//! | under the working directory (unless that is `/`) | the host |
//! | anything else, when it exists in the sysroot | the sysroot |
//! | anything else | the host |
//!
//! Resolution inside the sysroot walks the path one component at a time: a symlink found on
//! the way is followed *inside* the sysroot (an absolute target starts again at its root, a
//! relative one from the link's directory), and `..` at the sysroot's root stays there, as
//! `openat2(RESOLVE_IN_ROOT)` does. A link that leads into `/proc`, `/dev`, `/sys` or `/tmp`
//! continues on the host (Debian's `/etc/mtab -> ../proc/self/mounts`). The last component is
//! followed when the call follows it ([`Follow::Last`]); a call that acts on a link itself
//! (`lstat`, `readlink`, `unlink`…) asks for [`Follow::NotLast`]. More than 40 links give
//! `ELOOP` (`MAXSYMLINKS`, `nested_symlink` in fs/namei.c).
//!
//! After the guest's `chroot` (as root), its root is a host directory and every path resolves
//! strictly inside it ([`host_path`]): no fallback and no host directories, absolute links and
//! `..` at the root staying inside, as Linux's path walk does with the process's root
//! (fs/namei.c, follow_dotdot stopping at `nd->root`). A relative path resolves the same way
//! from the working directory when that lies inside the root; a working directory outside it
//! (a `chroot` without `chdir`) is the host's, untouched, as on Linux, where `..` from there
//! never meets the root. The root is kept by fork (a respawned child gets it through
//! [`ROOT_ENV`]) and by `execve`. Paths relative to another directory descriptor (`openat`
//! and its kin) are the host's: their `..` is not stopped at the root.

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock};

use elfvisor_abi::Errno;

/// The environment variable that names a sysroot when `--sysroot` is not given. Respawned fork
/// children get the sysroot of their parent through it.
pub const ENV: &str = "ELFVISOR_SYSROOT";

/// The environment variable that carries the guest's root (after its `chroot`) to a respawned
/// fork child.
pub const ROOT_ENV: &str = "ELFVISOR_CHROOT";

/// The guest's root after `chroot`: a canonical host directory.
static ROOT: RwLock<Option<PathBuf>> = RwLock::new(None);

/// The guest's root after its `chroot`, if it made one.
pub fn root() -> Option<PathBuf> {
    ROOT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Makes `host_dir` (a directory's host path) the guest's root.
pub fn set_root(host_dir: &Path) -> Result<(), Errno> {
    let dir = std::fs::canonicalize(host_dir).map_err(|e| elfvisor_host::errno_from_io(&e))?;
    *ROOT.write().unwrap_or_else(|e| e.into_inner()) = Some(dir);
    Ok(())
}

/// Linux's `MAXSYMLINKS`: links followed in one lookup before `ELOOP`.
const MAX_LINKS: u32 = 40;

/// Top-level directories that always stay the host's.
const HOST_DIRS: [&[u8]; 4] = [b"proc", b"dev", b"sys", b"tmp"];

/// Whether a lookup follows a symlink in the last component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    Last,
    NotLast,
}

/// Why a sysroot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SysrootError {
    #[error("cannot use sysroot {path}: {source}")]
    Missing { path: PathBuf, source: std::io::Error },
    #[error("cannot use sysroot {path}: not a directory")]
    NotDir { path: PathBuf },
}

impl SysrootError {
    /// The status elfvisor exits with, as a shell would: 127 when the sysroot does not exist,
    /// 126 when it exists but cannot be used (not a directory, not searchable).
    pub fn exit_status(&self) -> u8 {
        match self {
            SysrootError::Missing { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                127
            }
            SysrootError::Missing { .. } | SysrootError::NotDir { .. } => 126,
        }
    }
}

/// A sysroot: the canonical host path of its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysroot {
    root: PathBuf,
}

static CURRENT: OnceLock<Option<Sysroot>> = OnceLock::new();

/// Sets this process's sysroot, once, before the guest starts: `dir`, else `$ELFVISOR_SYSROOT`
/// (when set and not empty), else none.
pub fn init(dir: Option<PathBuf>) -> Result<(), SysrootError> {
    let dir = dir.or_else(|| std::env::var_os(ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
    let sysroot = dir.map(|d| Sysroot::new(&d)).transpose()?;
    let _ = CURRENT.set(sysroot);
    if let Some(root) = std::env::var_os(ROOT_ENV).filter(|v| !v.is_empty()) {
        *ROOT.write().unwrap_or_else(|e| e.into_inner()) = Some(PathBuf::from(root));
    }
    Ok(())
}

/// This process's sysroot, if any.
pub fn current() -> Option<&'static Sysroot> {
    CURRENT.get().and_then(Option::as_ref)
}

/// The host path for a guest path: inside the guest's root after its `chroot`, else through
/// this process's sysroot (the identity without one).
pub fn host_path(guest: &[u8], follow: Follow) -> Result<Vec<u8>, Errno> {
    if let Some(root) = root() {
        let absolute = if guest.first() == Some(&b'/') {
            guest.to_vec()
        } else {
            // The working directory's place in the root, if it is inside.
            let cwd = std::env::current_dir().map_err(|e| elfvisor_host::errno_from_io(&e))?;
            let Ok(inside) = cwd.strip_prefix(&root) else { return Ok(guest.to_vec()) };
            let mut path = b"/".to_vec();
            path.extend_from_slice(inside.as_os_str().as_bytes());
            path.push(b'/');
            path.extend_from_slice(guest);
            path
        };
        return Ok(walk(&root, &absolute, follow, true)?.unwrap_or_else(|| guest.to_vec()));
    }
    match current() {
        None => Ok(guest.to_vec()),
        Some(root) => {
            let cwd = std::env::current_dir().ok();
            root.translate(guest, follow, cwd.as_deref())
        }
    }
}

/// The guest's name for a host path: a path inside the guest's root or the sysroot loses its
/// prefix (what `/proc/self/exe` shows the guest); one outside the root is named from the
/// host's `/`, as Linux's `d_path` names a path its reader's root does not reach.
pub fn guest_name(host: &Path) -> PathBuf {
    if let Some(rest) = root().as_deref().and_then(|r| host.strip_prefix(r).ok()) {
        return Path::new("/").join(rest);
    }
    match current().and_then(|root| host.strip_prefix(&root.root).ok()) {
        Some(rest) => Path::new("/").join(rest),
        None => host.to_owned(),
    }
}

fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".")
}

fn join(base: &Path, parts: &[Vec<u8>]) -> PathBuf {
    let mut path = base.to_owned();
    for part in parts {
        path.push(OsStr::from_bytes(part));
    }
    path
}

impl Sysroot {
    /// A sysroot at `dir`, which must be an existing directory.
    pub fn new(dir: &Path) -> Result<Sysroot, SysrootError> {
        let root = std::fs::canonicalize(dir)
            .map_err(|source| SysrootError::Missing { path: dir.to_owned(), source })?;
        if !root.is_dir() {
            return Err(SysrootError::NotDir { path: dir.to_owned() });
        }
        Ok(Sysroot { root })
    }

    /// The root's canonical host path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `guest` (absolute) stays the host's by rule, before any lookup: the host
    /// directories and the working directory's tree.
    fn host_by_rule(guest: &[u8], cwd: Option<&Path>) -> bool {
        if components(guest).next().is_some_and(|first| HOST_DIRS.contains(&first)) {
            return true;
        }
        let Some(cwd) = cwd.map(|c| c.as_os_str().as_bytes()) else { return false };
        if cwd == b"/" || cwd.is_empty() {
            return false;
        }
        let mut parts = components(guest);
        components(cwd).all(|c| parts.next() == Some(c))
    }

    /// The host path for `guest`, as the module documentation describes.
    pub fn translate(
        &self,
        guest: &[u8],
        follow: Follow,
        cwd: Option<&Path>,
    ) -> Result<Vec<u8>, Errno> {
        if guest.first() != Some(&b'/') || Sysroot::host_by_rule(guest, cwd) {
            return Ok(guest.to_vec());
        }
        Ok(match self.resolve(guest, follow)? {
            Some(host) => host,
            None => guest.to_vec(),
        })
    }

    /// Resolves `guest` inside the root: the host path when every component exists there, or
    /// the host path a link led to (`/proc`…), `None` when a component is missing.
    fn resolve(&self, guest: &[u8], follow: Follow) -> Result<Option<Vec<u8>>, Errno> {
        walk(&self.root, guest, follow, false)
    }
}

/// Walks absolute `guest` inside `root`, a component at a time. Not `strict` (a sysroot): a
/// link into `/proc`, `/dev`, `/sys` or `/tmp` continues on the host, and a missing
/// component gives `None`. `strict` (the guest's root): everything stays inside, and a
/// missing component gives the path inside the root as far as it was walked plus the rest
/// (the host call then fails, or creates the last component, as Linux would).
fn walk(root: &Path, guest: &[u8], follow: Follow, strict: bool) -> Result<Option<Vec<u8>>, Errno> {
    // A trailing slash makes the last component a directory to enter: it is followed.
    let trailing = guest.ends_with(b"/") && components(guest).next().is_some();
    let follow_last = follow == Follow::Last || trailing;
    // Components still to walk, the next one last.
    let mut pending: Vec<Vec<u8>> = components(guest).rev().map(<[u8]>::to_vec).collect();
    // Components resolved so far, under the root.
    let mut done: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == b".." {
            done.pop();
            continue;
        }
        if !strict && done.is_empty() && HOST_DIRS.contains(&part.as_slice()) {
            // A link led out of the sysroot's tree into one of the host's.
            let mut host = b"/".to_vec();
            host.extend_from_slice(&part);
            for rest in pending.iter().rev() {
                host.push(b'/');
                host.extend_from_slice(rest);
            }
            if trailing {
                host.push(b'/');
            }
            return Ok(Some(host));
        }
        let candidate = join(root, &done).join(OsStr::from_bytes(&part));
        let meta = match std::fs::symlink_metadata(&candidate) {
            Ok(meta) => meta,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                if !strict {
                    return Ok(None);
                }
                let mut host = candidate.into_os_string().into_vec();
                for rest in pending.iter().rev() {
                    host.push(b'/');
                    host.extend_from_slice(rest);
                }
                if trailing {
                    host.push(b'/');
                }
                return Ok(Some(host));
            }
            Err(e) => return Err(elfvisor_host::errno_from_io(&e)),
        };
        let is_last = pending.is_empty();
        if meta.file_type().is_symlink() && (!is_last || follow_last) {
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::ELOOP);
            }
            let target =
                std::fs::read_link(&candidate).map_err(|e| elfvisor_host::errno_from_io(&e))?;
            let target = target.as_os_str().as_bytes();
            if target.first() == Some(&b'/') {
                done.clear();
            }
            pending.extend(components(target).rev().map(<[u8]>::to_vec));
            continue;
        }
        done.push(part);
    }
    let mut host = join(root, &done).into_os_string().into_vec();
    if trailing {
        host.push(b'/');
    }
    Ok(Some(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A sysroot with a few files, directories and links, and its root's host path.
    fn tree() -> (tempfile::TempDir, Sysroot, String) {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("usr/lib/aarch64-linux-gnu")).unwrap();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("usr/lib/aarch64-linux-gnu/libc.so.6"), b"").unwrap();
        std::fs::write(r.join("usr/bin/python3.11"), b"").unwrap();
        std::fs::write(r.join("etc/hostname"), b"").unwrap();
        symlink("usr/lib", r.join("lib")).unwrap();
        symlink("/usr/bin/python3.11", r.join("usr/bin/python3")).unwrap();
        symlink("../../../..", r.join("usr/lib/up")).unwrap();
        symlink("../proc/self/mounts", r.join("etc/mtab")).unwrap();
        symlink("loop2", r.join("etc/loop1")).unwrap();
        symlink("loop1", r.join("etc/loop2")).unwrap();
        symlink("/etc/hostname", r.join("etc/abs")).unwrap();
        let root = Sysroot::new(r).unwrap();
        let prefix = root.root().display().to_string();
        (dir, root, prefix)
    }

    #[test]
    fn test_rules() {
        let (_dir, root, p) = tree();
        let cwd = Path::new("/home/user/work");
        let t = |g: &str, f| String::from_utf8(root.translate(g.as_bytes(), f, Some(cwd)).unwrap());
        use Follow::{Last, NotLast};
        let table: &[(&str, Follow, String)] = &[
            // Relative paths and the host's own trees are untouched.
            ("relative/x", Last, "relative/x".into()),
            ("../x", Last, "../x".into()),
            ("/proc/self/exe", Last, "/proc/self/exe".into()),
            ("/dev/null", Last, "/dev/null".into()),
            ("/sys/kernel", Last, "/sys/kernel".into()),
            ("/tmp/x", Last, "/tmp/x".into()),
            ("/home/user/work/out.txt", Last, "/home/user/work/out.txt".into()),
            ("/home/user/workshop", Last, "/home/user/workshop".into()),
            // What the sysroot holds, it serves.
            ("/", Last, p.clone()),
            ("/etc/hostname", Last, format!("{p}/etc/hostname")),
            ("/usr/lib/", Last, format!("{p}/usr/lib/")),
            ("//usr/./lib//aarch64-linux-gnu", Last, format!("{p}/usr/lib/aarch64-linux-gnu")),
            // Links inside resolve inside, absolute or relative.
            (
                "/lib/aarch64-linux-gnu/libc.so.6",
                Last,
                format!("{p}/usr/lib/aarch64-linux-gnu/libc.so.6"),
            ),
            ("/usr/bin/python3", Last, format!("{p}/usr/bin/python3.11")),
            ("/usr/bin/python3", NotLast, format!("{p}/usr/bin/python3")),
            ("/lib", NotLast, format!("{p}/lib")),
            ("/lib/", NotLast, format!("{p}/usr/lib/")),
            ("/etc/abs", Last, format!("{p}/etc/hostname")),
            // `..` cannot climb out.
            ("/../../etc/hostname", Last, format!("{p}/etc/hostname")),
            ("/usr/lib/up/etc/hostname", Last, format!("{p}/etc/hostname")),
            // A link into /proc continues on the host.
            ("/etc/mtab", Last, "/proc/self/mounts".into()),
            // Not in the sysroot: the host path, as given.
            ("/etc/passwd", Last, "/etc/passwd".into()),
            ("/usr/lib/missing/x", Last, "/usr/lib/missing/x".into()),
            ("/etc/hostname/x", Last, "/etc/hostname/x".into()),
        ];
        for (guest, follow, want) in table {
            assert_eq!(&t(guest, *follow).unwrap(), want, "{guest} ({follow:?})");
        }
        assert_eq!(root.translate(b"/etc/loop1", Last, Some(cwd)), Err(Errno::ELOOP));
        // A working directory of / puts nothing on the host by itself.
        let at_root = root.translate(b"/etc/hostname", Last, Some(Path::new("/"))).unwrap();
        assert_eq!(at_root, format!("{p}/etc/hostname").into_bytes());
    }

    #[test]
    fn test_a_chroot_walk_stays_inside() {
        let (_dir, root, p) = tree();
        let walk = |g: &str| {
            String::from_utf8(walk(root.root(), g.as_bytes(), Follow::Last, true).unwrap().unwrap())
                .unwrap()
        };
        assert_eq!(walk("/../../etc/hostname"), format!("{p}/etc/hostname"));
        assert_eq!(walk("/usr/lib/up/etc/abs"), format!("{p}/etc/hostname"));
        // No host directories: a link into /proc stays inside, and what is missing is named
        // inside the root for the host call to refuse or create.
        assert_eq!(walk("/etc/mtab"), format!("{p}/proc/self/mounts"));
        assert_eq!(walk("/tmp/x"), format!("{p}/tmp/x"));
        assert_eq!(walk("/missing/../x/"), format!("{p}/missing/../x/"));
    }

    #[test]
    fn test_missing_sysroot() {
        assert!(matches!(
            Sysroot::new(Path::new("/nonexistent/sysroot")),
            Err(SysrootError::Missing { .. })
        ));
        let file = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(Sysroot::new(file.path()), Err(SysrootError::NotDir { .. })));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        /// Components of generated paths and link targets.
        fn part() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("a".to_string()),
                Just("b".to_string()),
                Just("l0".to_string()),
                Just("l1".to_string()),
                Just("..".to_string()),
                Just(".".to_string()),
                Just("f".to_string()),
            ]
        }

        fn path() -> impl Strategy<Value = String> {
            (proptest::collection::vec(part(), 0..6), any::<bool>(), any::<bool>()).prop_map(
                |(parts, absolute, slash)| {
                    let mut p = parts.join("/");
                    if absolute {
                        p.insert(0, '/');
                    }
                    if slash {
                        p.push('/');
                    }
                    p
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whatever the links (chains, loops, `..`, absolute or relative targets) and the
            /// path, a translation either stays under the root or is the guest path itself,
            /// and, when it stays, it is a lexically clean path naming what exists (or, for
            /// the last component, a link that was not to be followed).
            #[test]
            fn prop_resolution_stays_inside(
                l0 in path(), l1 in path(), la in path(), guest in path(), follow_last: bool,
            ) {
                let dir = tempfile::tempdir().unwrap();
                let r = dir.path();
                std::fs::create_dir_all(r.join("a/b")).unwrap();
                std::fs::write(r.join("a/f"), b"").unwrap();
                std::fs::write(r.join("f"), b"").unwrap();
                for (name, target) in [("l0", &l0), ("l1", &l1), ("a/l1", &la)] {
                    if !target.is_empty() {
                        symlink(target, r.join(name)).unwrap();
                    }
                }
                let root = Sysroot::new(r).unwrap();
                let guest = format!("/{guest}");
                let follow = if follow_last { Follow::Last } else { Follow::NotLast };
                match root.translate(guest.as_bytes(), follow, None) {
                    Err(e) => prop_assert_eq!(e, Errno::ELOOP),
                    Ok(host) if host == guest.as_bytes() => {}
                    Ok(host) => {
                        let host = PathBuf::from(OsStr::from_bytes(&host));
                        prop_assert!(host.starts_with(root.root()), "{} escaped", host.display());
                        let inner = host.strip_prefix(root.root()).unwrap();
                        prop_assert!(inner.components().all(|c| matches!(c, std::path::Component::Normal(_))));
                        // Without its trailing slash (a file named `f/` is ENOTDIR for the host
                        // call to report), what it names exists.
                        let named = PathBuf::from(host.as_os_str().to_str().unwrap().trim_end_matches('/'));
                        let meta = std::fs::symlink_metadata(&named);
                        prop_assert!(meta.is_ok(), "{} missing", named.display());
                        if guest.ends_with('/') || follow_last {
                            prop_assert!(!meta.unwrap().file_type().is_symlink());
                        }
                    }
                }
            }
        }
    }
}
