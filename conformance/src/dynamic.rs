//! Dynamically linked guests: a case whose fixture has a `dynamic` key is built as a dynamic
//! program (a PIE unless its flags say `-no-pie`) together with a *tree* of other objects —
//! shared libraries built with `-shared -fPIC`, helper programs — and runs with a C library's
//! own shared objects, the same files in every lane.
//!
//! ```yaml
//! dynamic:
//!   flags: ["-Wl,-rpath,$ORIGIN/lib"]      # the program's own compiler and linker flags
//!   links: [lib/libdyn_a.so]               # objects of the tree it links against
//!   objects:                               # built first, in this order
//!     - { path: lib/libdyn_a.so, source: dynamic/lib/dyn_a.c }
//!     - { path: helper, source: dynamic/helper.c, links: [lib/libdyn_a.so] }
//! ```
//!
//! An object whose file name ends in `.so` or holds `.so.` is a shared library, linked with
//! `-shared -fPIC -Wl,-soname,<file name>` (so a program that links it records that name in
//! `DT_NEEDED`, never a build path); any other object is a program. The program itself is the
//! tree's `<case>` file; every object keeps its path relative to it, so `$ORIGIN` works, and the
//! tree is cached by the hash of everything that goes into it
//! (`target/conformance/guests/<libc>/<family>/<case>-<hash>/`).
//!
//! The C library's side is the *libc root* ([`libc_root`]): musl's loader, which is also its C
//! library, from the musl cross toolchain's Debian package (`/lib/ld-musl-aarch64.so.1` and the
//! package's `/etc/ld-musl-aarch64.path`), and glibc's loader and libraries copied from the
//! sysroot of `cargo xtask sysroot`, by the same paths and symlinks (Debian's merged `/usr`), so
//! the two never disagree in an initramfs that carries both. elfvisor gets it as `--sysroot`,
//! qemu-user as `-L`, and the linux lane unpacks it, as a cached compressed archive, beside the
//! cases' trees.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::guest::{Libc, Toolchain};

/// A fixture's `dynamic` key.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Dynamic {
    /// The program's own extra compiler and linker flags.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Shared libraries of the tree the program links against, by path.
    #[serde(default)]
    pub links: Vec<String>,
    /// The other files of the tree, built in order before the program.
    #[serde(default)]
    pub objects: Vec<Object>,
}

/// One file of a case's tree other than the program.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// Its path in the tree, relative to the program's directory.
    pub path: String,
    /// Its C source, relative to `guest-src/`.
    pub source: String,
    /// Extra compiler and linker flags.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Shared libraries of the tree, built before it, that it links against.
    #[serde(default)]
    pub links: Vec<String>,
}

/// Whether a tree path names a shared library: its file name ends in `.so` or holds `.so.`.
pub fn is_shared(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".so") || name.contains(".so.")
}

fn plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\0')
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

impl Dynamic {
    /// Why the key is not acceptable as written, if it is not. `program` is the case's name, the
    /// program's file in the tree.
    pub fn validate(&self, program: &str) -> std::result::Result<(), String> {
        let mut built: BTreeSet<&str> = BTreeSet::new();
        let mut flags = self.flags.iter().chain(self.objects.iter().flat_map(|o| &o.flags));
        if let Some(flag) = flags.find(|f| f.contains('\0')) {
            return Err(format!("dynamic: the flag {flag:?} contains NUL"));
        }
        let check_links = |links: &[String], built: &BTreeSet<&str>, who: &str| {
            for link in links {
                if !built.contains(link.as_str()) || !is_shared(link) {
                    return Err(format!(
                        "dynamic: {who} links {link:?}, which is no shared library of the tree \
                         built before it"
                    ));
                }
            }
            Ok(())
        };
        for object in &self.objects {
            let path = object.path.as_str();
            if !plain_relative(path) {
                return Err(format!(
                    "dynamic: the object path {path:?} must be relative, without empty, `.` or \
                     `..` components"
                ));
            }
            if path == program || built.iter().any(|b| b == &path || nests(b, path)) {
                return Err(format!("dynamic: the object path {path:?} collides with another"));
            }
            if !plain_relative(&object.source) || !object.source.ends_with(".c") {
                return Err(format!(
                    "dynamic: the source {:?} must be a `.c` file relative to guest-src/",
                    object.source
                ));
            }
            check_links(&object.links, &built, path)?;
            built.insert(path);
        }
        if built.iter().any(|b| b.starts_with(&format!("{program}/"))) {
            return Err(format!("dynamic: an object path lies under the program {program:?}"));
        }
        check_links(&self.links, &built, "the program")
    }

    /// The objects' sources on the host.
    pub fn sources(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.objects.iter().map(|o| crate::paths::guest_src().join(&o.source))
    }
}

/// Whether one tree path is a directory of the other (`a` and `a/b`).
fn nests(a: &str, b: &str) -> bool {
    b.starts_with(&format!("{a}/")) || a.starts_with(&format!("{b}/"))
}

/// One compiler run of a tree: `out` (relative to the tree) from `source`.
struct Step<'a> {
    out: &'a str,
    source: PathBuf,
    flags: &'a [String],
    links: &'a [String],
}

fn steps<'a>(dynamic: &'a Dynamic, source: &Path, program: &'a str) -> Vec<Step<'a>> {
    let objects = dynamic.objects.iter().map(|o| Step {
        out: &o.path,
        source: crate::paths::guest_src().join(&o.source),
        flags: &o.flags,
        links: &o.links,
    });
    let main = Step {
        out: program,
        source: source.to_owned(),
        flags: &dynamic.flags,
        links: &dynamic.links,
    };
    objects.chain(std::iter::once(main)).collect()
}

impl Step<'_> {
    /// The compiler command that builds this step inside the tree at `tree`.
    fn command(&self, toolchain: &Toolchain, tree: &Path) -> Command {
        let mut cmd = toolchain.dynamic_command(&self.source);
        if is_shared(self.out) {
            let name = self.out.rsplit('/').next().unwrap_or(self.out);
            cmd.args(["-shared", "-fPIC"]).arg(format!("-Wl,-soname,{name}"));
        }
        cmd.arg("-o").arg(tree.join(self.out)).arg(&self.source);
        for link in self.links {
            cmd.arg(tree.join(link));
        }
        cmd.args(self.flags);
        cmd
    }
}

/// Builds the tree of a dynamic case into `<out_dir>/<name>-<hash>/` unless it is there, and
/// answers the program's path in it.
pub fn build_tree(
    toolchain: &Toolchain,
    dynamic: &Dynamic,
    source: &Path,
    out_dir: &Path,
    name: &str,
) -> Result<PathBuf> {
    let steps = steps(dynamic, source, name);
    let mut hasher = Sha256::new();
    hasher.update(b"elfvisor dynamic tree v1\0");
    toolchain.hash_identity(&mut hasher);
    for step in &steps {
        hasher.update(step.out.as_bytes());
        hasher.update([0]);
        // The tree's own location is left out: it is named by this very hash.
        for arg in step.command(toolchain, Path::new("@")).get_args() {
            hasher.update(arg.as_encoded_bytes());
            hasher.update([0]);
        }
        hasher.update(
            std::fs::read(&step.source).context(|| format!("reading {}", step.source.display()))?,
        );
        crate::guest::hash_headers(&mut hasher, &step.source)?;
    }
    let hash: String = hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let tree = out_dir.join(format!("{name}-{hash}"));
    let program = tree.join(name);
    if program.is_file() {
        return Ok(program);
    }
    std::fs::create_dir_all(out_dir).context(|| format!("creating {}", out_dir.display()))?;
    // Built under a temporary name and renamed, so a parallel build never sees half a tree.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(out_dir)
        .context(|| format!("creating a temporary directory in {}", out_dir.display()))?;
    for step in &steps {
        let out = partial.path().join(step.out);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).context(|| format!("creating {}", parent.display()))?;
        }
        let result = step
            .command(toolchain, partial.path())
            .output()
            .context(|| format!("running {}", toolchain.libc.compiler()))?;
        if !result.status.success() {
            let mut text = String::from_utf8_lossy(&result.stderr).into_owned();
            text.push_str(&String::from_utf8_lossy(&result.stdout));
            return Err(Error::Compile {
                source_path: step.source.clone(),
                compiler: toolchain.libc.compiler().into(),
                output: text,
            });
        }
    }
    let partial = partial.keep();
    if let Err(e) = std::fs::rename(&partial, &tree) {
        let _ = std::fs::remove_dir_all(&partial);
        // Another process built the same tree first.
        if !program.is_file() {
            return Err(e).context(|| format!("renaming to {}", tree.display()));
        }
    }
    Ok(program)
}

/// musl's C library, which is also its loader, as Debian's `musl:arm64` installs it (the
/// library the musl cross compiler links against, `musl-gcc.specs` beside it).
pub const MUSL_LIBC: &str = "/usr/lib/aarch64-linux-musl/libc.so";

/// The loader path musl programs name (`PT_INTERP`) and the musl package's files, as the guest
/// sees them: (guest path, what it is on the host).
const MUSL_FILES: [(&str, MuslFile); 3] = [
    ("/lib/aarch64-linux-musl/libc.so", MuslFile::Copy(MUSL_LIBC)),
    ("/lib/ld-musl-aarch64.so.1", MuslFile::Link("aarch64-linux-musl/libc.so")),
    ("/etc/ld-musl-aarch64.path", MuslFile::Copy("/etc/ld-musl-aarch64.path")),
];

#[derive(Debug, Clone, Copy)]
enum MuslFile {
    Copy(&'static str),
    Link(&'static str),
}

/// glibc's loader and the libraries a guest of the tree may need (the compatibility stubs of
/// libdl, libpthread and librt for programs linked against older glibc, and libgcc_s, which
/// glibc loads for `pthread_exit` and cancellation), by the paths glibc programs name them.
const GLIBC_FILES: [&str; 8] = [
    crate::sysroot::INTERPRETER,
    "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
    "/lib/aarch64-linux-gnu/libc.so.6",
    "/lib/aarch64-linux-gnu/libm.so.6",
    "/lib/aarch64-linux-gnu/libdl.so.2",
    "/lib/aarch64-linux-gnu/libpthread.so.0",
    "/lib/aarch64-linux-gnu/librt.so.1",
    "/lib/aarch64-linux-gnu/libgcc_s.so.1",
];

/// Why dynamic guests of `libc` cannot run here, if they cannot.
pub fn unavailable(libc: Libc) -> Option<String> {
    match libc {
        Libc::Musl => (!Path::new(MUSL_LIBC).is_file()).then(|| {
            format!(
                "musl's shared C library {MUSL_LIBC} is missing: run `cargo xtask deps` \
                 (installs musl-dev:arm64, which brings musl:arm64)"
            )
        }),
        Libc::Glibc => crate::sysroot::unavailable(&crate::paths::sysroot())
            .map(|why| format!("dynamic glibc guests take glibc from the sysroot, and {why}")),
    }
}

/// One entry of the libc root, by its guest path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File(String, PathBuf),
    Link(String, String),
}

/// Every entry a guest path passes through inside `root` (each symlink on the way, then the
/// file), in walking order.
fn trace(root: &Path, guest_path: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut pending: Vec<String> =
        guest_path.split('/').filter(|c| !c.is_empty()).map(str::to_owned).rev().collect();
    let mut at: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            at.pop();
            continue;
        }
        if name == "." {
            continue;
        }
        let guest = format!("/{}", at.iter().chain([&name]).cloned().collect::<Vec<_>>().join("/"));
        let host = root.join(guest.trim_start_matches('/'));
        match std::fs::read_link(&host) {
            Ok(target) if links < 40 => {
                links += 1;
                let target = target.to_string_lossy().into_owned();
                entries.push(Entry::Link(guest, target.clone()));
                if target.starts_with('/') {
                    at.clear();
                }
                pending
                    .extend(target.split('/').filter(|c| !c.is_empty()).map(str::to_owned).rev());
            }
            _ => {
                if pending.is_empty() {
                    entries.push(Entry::File(guest, host));
                }
                at.push(name);
            }
        }
    }
    entries
}

/// What goes into the libc root: glibc's files traced through the sysroot (when it is
/// provisioned) and musl's (when installed), each once.
fn entries() -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut push = |entry: Entry| {
        let missing = matches!(&entry, Entry::File(_, host) if !host.is_file());
        if !missing && !entries.contains(&entry) {
            entries.push(entry);
        }
    };
    if unavailable(Libc::Glibc).is_none() {
        let sysroot = crate::paths::sysroot();
        for path in GLIBC_FILES {
            trace(&sysroot, path).into_iter().for_each(&mut push);
        }
    }
    if unavailable(Libc::Musl).is_none() {
        for (guest, file) in MUSL_FILES {
            match file {
                MuslFile::Copy(host) => push(Entry::File(guest.into(), host.into())),
                MuslFile::Link(target) => push(Entry::Link(guest.into(), target.into())),
            }
        }
    }
    entries
}

/// The libc root, assembled once per process under `target/conformance/libc-root-<hash>/` (the
/// hash of its entries and their files' contents; an older root is removed).
pub fn libc_root() -> std::result::Result<PathBuf, String> {
    static ROOT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    ROOT.get_or_init(|| assemble(&crate::paths::output_dir()).map_err(|e| e.to_string())).clone()
}

fn assemble(out_dir: &Path) -> Result<PathBuf> {
    let entries = entries();
    let mut hasher = Sha256::new();
    hasher.update(b"elfvisor libc root v1\0");
    for entry in &entries {
        match entry {
            Entry::File(guest, host) => {
                hasher.update(format!("F{guest}\0").as_bytes());
                hasher
                    .update(std::fs::read(host).context(|| format!("reading {}", host.display()))?);
            }
            Entry::Link(guest, target) => hasher.update(format!("L{guest}\0{target}\0").as_bytes()),
        }
    }
    let hash: String = hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let root = out_dir.join(format!("libc-root-{hash}"));
    if root.is_dir() {
        return Ok(root);
    }
    std::fs::create_dir_all(out_dir).context(|| format!("creating {}", out_dir.display()))?;
    let partial = tempfile::Builder::new()
        .prefix(".libc-root-")
        .tempdir_in(out_dir)
        .context(|| format!("creating a temporary directory in {}", out_dir.display()))?;
    for entry in &entries {
        let guest = match entry {
            Entry::File(guest, _) | Entry::Link(guest, _) => guest,
        };
        // The parent as the tree resolves it so far (`/lib` may already be a link to `usr/lib`).
        let (parent, name) = guest.rsplit_once('/').unwrap_or(("", guest));
        let dir =
            crate::sysroot::resolve(partial.path(), if parent.is_empty() { "/" } else { parent });
        std::fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
        let at = dir.join(name);
        if std::fs::symlink_metadata(&at).is_ok() {
            continue;
        }
        match entry {
            Entry::File(_, host) => {
                std::fs::copy(host, &at)
                    .context(|| format!("copying {} to {}", host.display(), at.display()))?;
            }
            Entry::Link(_, target) => std::os::unix::fs::symlink(target, &at)
                .context(|| format!("linking {}", at.display()))?,
        }
    }
    let partial = partial.keep();
    if let Ok(old) = std::fs::read_dir(out_dir) {
        for old in old.flatten() {
            let name = old.file_name().to_string_lossy().into_owned();
            if name.starts_with("libc-root-") && old.path() != root {
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
    }
    if let Err(e) = std::fs::rename(&partial, &root) {
        let _ = std::fs::remove_dir_all(&partial);
        if !root.is_dir() {
            return Err(e).context(|| format!("renaming to {}", root.display()));
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn parse(text: &str) -> std::result::Result<(), String> {
        let dynamic: Dynamic = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        dynamic.validate("main")
    }

    #[test]
    fn test_shared_objects_are_named_so() {
        assert!(is_shared("lib/libdyn.so") && is_shared("libx.so.1") && is_shared("a.so.1.2"));
        assert!(!is_shared("helper") && !is_shared("lib.so/helper") && !is_shared("x.sox"));
    }

    #[test]
    fn test_validation() {
        assert_eq!(parse("{}"), Ok(()));
        let good = "objects:\n  - { path: lib/liba.so, source: d/a.c }\n  - { path: h, source: \
                    d/h.c, links: [lib/liba.so] }\nlinks: [lib/liba.so]\nflags: [-no-pie]\n";
        assert_eq!(parse(good), Ok(()));
        for (text, words) in [
            ("links: [liba.so]", "no shared library"),
            ("objects: [{path: h, source: d/h.c}]\nlinks: [h]", "no shared library"),
            ("objects: [{path: a.so, source: d/a.c, links: [a.so]}]", "no shared library"),
            ("objects: [{path: /a.so, source: d/a.c}]", "relative"),
            ("objects: [{path: x/../a.so, source: d/a.c}]", "relative"),
            ("objects: [{path: main, source: d/a.c}]", "collides"),
            ("objects: [{path: a.so, source: d/a.c}, {path: a.so, source: d/b.c}]", "collides"),
            ("objects: [{path: a, source: d/a.c}, {path: a/b.so, source: d/b.c}]", "collides"),
            ("objects: [{path: main/a.so, source: d/a.c}]", "under the program"),
            ("objects: [{path: a.so, source: ../a.c}]", "source"),
            ("objects: [{path: a.so, source: d/a.s}]", "source"),
            ("objects: [{path: a.so, source: d/a.c, kind: x}]", "unknown field"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(words), "{text}: {err}");
        }
    }

    #[test]
    fn test_trace_keeps_every_link_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib/aarch64-linux-gnu")).unwrap();
        std::fs::write(root.join("usr/lib/aarch64-linux-gnu/ld.so"), b"LD").unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        symlink("/lib/aarch64-linux-gnu/ld.so", root.join("usr/lib/ld.so.1")).unwrap();
        assert_eq!(
            trace(root, "/lib/ld.so.1"),
            [
                Entry::Link("/lib".into(), "usr/lib".into()),
                Entry::Link("/usr/lib/ld.so.1".into(), "/lib/aarch64-linux-gnu/ld.so".into()),
                Entry::Link("/lib".into(), "usr/lib".into()),
                Entry::File(
                    "/usr/lib/aarch64-linux-gnu/ld.so".into(),
                    root.join("usr/lib/aarch64-linux-gnu/ld.so")
                ),
            ]
        );
    }

    #[test]
    fn test_assemble_recreates_links_and_files_and_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let first = assemble(dir.path()).unwrap();
        assert_eq!(assemble(dir.path()).unwrap(), first, "the same files, the same root");
        if unavailable(Libc::Musl).is_none() {
            let loader = crate::sysroot::resolve(&first, "/lib/ld-musl-aarch64.so.1");
            assert_eq!(std::fs::read(loader).unwrap(), std::fs::read(MUSL_LIBC).unwrap());
        }
        if unavailable(Libc::Glibc).is_none() {
            let sysroot = crate::paths::sysroot();
            for path in GLIBC_FILES {
                let ours = crate::sysroot::resolve(&first, path);
                let theirs = crate::sysroot::resolve(&sysroot, path);
                assert_eq!(std::fs::read(ours).unwrap(), std::fs::read(theirs).unwrap(), "{path}");
            }
            assert_eq!(
                std::fs::read_link(first.join("lib")).unwrap(),
                std::fs::read_link(sysroot.join("lib")).unwrap(),
                "the sysroot's own layout"
            );
        }
    }
}
