//! The sysroot that `program: {sysroot: …}` cases run from (`cargo xtask sysroot`): finding its
//! files on the host as the guest names them, telling whether it is provisioned, and packing the
//! whole tree for the linux lane's initramfs.
//!
//! Every lane runs such a program with the same files: elfvisor with `--sysroot`, qemu-user with
//! `-L`, and the linux lane natively, from an initramfs that carries the whole sysroot (never a
//! selection, so no case can silently see less than the others). That part of the initramfs is
//! a gzip-compressed cpio archive cached under `target/conformance/linux/`, keyed by a hash of the
//! tree's listing, and appended to the per-boot archive of cases; the kernel unpacks the two in
//! turn.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::cpio::CpioWriter;
use crate::error::{Error, IoContext, Result};

/// The program interpreter of every aarch64 glibc program, as the guest names it.
pub const INTERPRETER: &str = "/lib/ld-linux-aarch64.so.1";

/// The file `cargo xtask sysroot` writes last: its package versions.
pub const MANIFEST: &str = "MANIFEST";

/// A named sysroot, built by `cargo xtask sysroot --set <name>` into a tree of its own, that a
/// fixture chooses with `sysroot: <name>` instead of the default one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Set {
    pub name: &'static str,
    /// The memory the linux lane's VM gets to boot with this tree in its initramfs: the
    /// compressed archive and the unpacked tree both live in its RAM, beside what the cases use.
    pub vm_memory_mib: u32,
}

/// The named sets. `postgres` is the default set plus PostgreSQL 15 (about 510 MB unpacked,
/// against the default tree's 240 MB), and its cases start a server with 128 MB of shared
/// buffers.
pub const SETS: [Set; 1] = [Set { name: "postgres", vm_memory_mib: 3072 }];

/// The linux lane's VM memory with the default sysroot in its initramfs, and without any.
pub const DEFAULT_VM_MEMORY_MIB: u32 = 2048;
pub const BARE_VM_MEMORY_MIB: u32 = 1024;

/// The named set `name`, if there is one.
pub fn set(name: &str) -> Option<Set> {
    SETS.into_iter().find(|s| s.name == name)
}

/// Symlinks followed in one lookup before giving up, as Linux's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// Resolves an absolute guest path to the host file inside `root`, following symlinks inside the
/// tree: an absolute target starts again at `root`, `..` never leaves it. A missing component
/// ends the walk; the path is then returned unresolved from there on.
pub fn resolve(root: &Path, guest_path: &str) -> PathBuf {
    let mut pending: Vec<String> = components(guest_path);
    pending.reverse();
    let mut at: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        match name.as_str() {
            "." => continue,
            ".." => {
                at.pop();
                continue;
            }
            _ => {}
        }
        let here: PathBuf = at.iter().fold(root.to_owned(), |p, c| p.join(c)).join(&name);
        match std::fs::read_link(&here) {
            Ok(target) if links < MAX_LINKS => {
                links += 1;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    at.clear();
                }
                pending.extend(components(&target).into_iter().rev());
            }
            _ => at.push(name),
        }
    }
    at.iter().fold(root.to_owned(), |p, c| p.join(c))
}

fn components(path: &str) -> Vec<String> {
    path.split('/').filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

/// Why the sysroot at `root` cannot run programs, if it cannot: what the harness loads is its
/// manifest and the interpreter every program starts in.
pub fn unavailable(root: &Path) -> Option<String> {
    let manifest = root.join(MANIFEST);
    let interpreter = resolve(root, INTERPRETER);
    let missing = if !manifest.is_file() {
        manifest
    } else if !interpreter.is_file() {
        interpreter
    } else {
        return None;
    };
    Some(format!(
        "the sysroot is not provisioned ({} is missing): run `cargo xtask deps` (builds it with \
         `cargo xtask sysroot`)",
        missing.display()
    ))
}

/// One entry of the tree, relative to its root.
#[derive(Debug)]
enum Entry {
    Dir(String, u32),
    File(String, u32, PathBuf),
    Link(String, String),
}

/// Lists the tree under `root` in a stable order, parents before children. Device nodes, FIFOs
/// and sockets are left out (the booted kernel mounts its own `/dev`).
fn walk(root: &Path) -> Result<(Vec<Entry>, Sha256)> {
    let mut entries = Vec::new();
    // What decides the archive: the format of this listing, then every entry's name, kind,
    // mode, size, mtime and link target.
    let mut hasher = Sha256::new();
    hasher.update(b"elfvisor sysroot initramfs v1\0");
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .context(|| format!("reading {}", dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .context(|| format!("reading {}", dir.display()))?;
        names.sort();
        let mut subdirs = Vec::new();
        for path in names {
            let meta = std::fs::symlink_metadata(&path)
                .context(|| format!("reading {}", path.display()))?;
            let rel = path
                .strip_prefix(root)
                .map_err(|_| Error::Boot(format!("{} escapes the sysroot", path.display())))?;
            let rel = format!("/{}", rel.to_string_lossy());
            let mode = meta.permissions().mode() & 0o7777;
            let kind = meta.file_type();
            hasher.update(rel.as_bytes());
            hasher.update(
                format!(
                    "\0{:o} {} {}.{}\0",
                    meta.mode(),
                    meta.size(),
                    meta.mtime(),
                    meta.mtime_nsec()
                )
                .as_bytes(),
            );
            if kind.is_dir() {
                entries.push(Entry::Dir(rel, mode));
                subdirs.push(path);
            } else if kind.is_file() {
                entries.push(Entry::File(rel, mode, path));
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&path)
                    .context(|| format!("reading the link {}", path.display()))?;
                let target = target.to_string_lossy().into_owned();
                hasher.update(target.as_bytes());
                entries.push(Entry::Link(rel, target));
            }
        }
        // Depth first, in name order: every directory's entries come right after it.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok((entries, hasher))
}

/// The gzip-compressed cpio archive `name` of the whole sysroot at `root`, built once per tree
/// content into `dir` (an older one there is removed) and then read from there.
pub fn initramfs_part(root: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    if let Some(why) = unavailable(root) {
        return Err(Error::Boot(why));
    }
    packed_tree(root, dir, name)
}

/// The gzip-compressed cpio archive of the whole tree at `root`, to be unpacked at `/`: built
/// once per tree content into `dir` as `<name>-<hash>.cpio.gz` (an older `<name>-…` archive
/// there is removed) and then read from there.
pub fn packed_tree(root: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    let (entries, hasher) = walk(root)?;
    let hash: String = hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let archive = dir.join(format!("{name}-{hash}.cpio.gz"));
    if archive.is_file() {
        return Ok(archive);
    }
    std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    let mut cpio = CpioWriter::new();
    for entry in &entries {
        match entry {
            Entry::Dir(path, mode) => cpio.dir(path, *mode),
            Entry::File(path, mode, host) => {
                let data = std::fs::read(host).context(|| format!("reading {}", host.display()))?;
                cpio.file(path, *mode, &data);
            }
            Entry::Link(path, target) => cpio.symlink(path, target),
        }
    }
    let bytes = cpio.finish();
    let partial = dir.join(format!(".{name}-{hash}.partial"));
    gzip(&bytes, &partial)?;
    // Only the newest archive of this name is kept: a sysroot's is tens of megabytes. The
    // archives of other names (`sysroot-postgres-…` beside `sysroot-…`) stay.
    if let Ok(old) = std::fs::read_dir(dir) {
        for old in old.flatten() {
            let file = old.file_name().to_string_lossy().into_owned();
            if is_archive_of(&file, name) {
                let _ = std::fs::remove_file(old.path());
            }
        }
    }
    std::fs::rename(&partial, &archive).context(|| format!("writing {}", archive.display()))?;
    Ok(archive)
}

/// A tree with the content of `root` that users other than its owner can reach: `root` itself
/// when every directory on its way is searchable by others, else a view of it made of hard
/// links (the same files, so their own modes, at no cost in space) under `dir`, made once per
/// tree content as `<name>-<hash>/` (an older view of that name is removed). A tree in root's
/// 0700 home is what a case with a `user` needs this for.
pub fn reachable_view(root: &Path, dir: &Path, name: &str) -> Result<PathBuf> {
    if crate::hostrun::unreachable_by_others(root).is_none() {
        return Ok(root.to_owned());
    }
    let (_, hasher) = walk(root)?;
    let hash: String = hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let view = dir.join(format!("{name}-{hash}"));
    if view.is_dir() {
        return Ok(view);
    }
    std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    let partial = dir.join(format!(".{name}-{hash}.partial"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).context(|| format!("removing {}", partial.display()))?;
    }
    // GNU cp's -l links files instead of copying them; directories and links are made anew
    // with their modes (-a). Across file systems the links fail, and a plain copy is made.
    let copy = |link: bool| {
        Command::new("cp")
            .arg(if link { "-al" } else { "-a" })
            .arg(root)
            .arg(&partial)
            .stdin(Stdio::null())
            .status()
            .context(|| "starting cp".to_owned())
    };
    if !copy(true)?.success() {
        let _ = std::fs::remove_dir_all(&partial);
        if !copy(false)?.success() {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(Error::Boot(format!(
                "copying {} to {}",
                root.display(),
                partial.display()
            )));
        }
    }
    if let Ok(old) = std::fs::read_dir(dir) {
        for old in old.flatten() {
            let file = old.file_name().to_string_lossy().into_owned();
            if file
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|h| h.len() == 16)
            {
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
    }
    std::fs::rename(&partial, &view).context(|| format!("moving in {}", view.display()))?;
    Ok(view)
}

/// Whether `file` is a `<name>-<16 hex digits>.cpio.gz` archive of [`packed_tree`].
fn is_archive_of(file: &str, name: &str) -> bool {
    let hash = file
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|rest| rest.strip_suffix(".cpio.gz"));
    hash.is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Compresses `bytes` into `dest` with the host's `gzip` (fast level: the archive is built once
/// and the booted kernel's inflate speed does not depend on it).
fn gzip(bytes: &[u8], dest: &Path) -> Result<()> {
    let out = std::fs::File::create(dest).context(|| format!("creating {}", dest.display()))?;
    let mut child = Command::new("gzip")
        .args(["-1", "-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(out)
        .stderr(Stdio::inherit())
        .spawn()
        .context(|| "starting gzip".to_owned())?;
    let mut input = child.stdin.take().expect("stdin is piped");
    let written = input.write_all(bytes);
    drop(input);
    let status = child.wait().context(|| "waiting for gzip".to_owned())?;
    written.context(|| "feeding gzip".to_owned())?;
    if !status.success() {
        return Err(Error::Boot(format!("gzip failed with {status} writing {}", dest.display())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn test_resolve_follows_links_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("etc/alternatives")).unwrap();
        std::fs::write(root.join("usr/bin/gawk"), b"x").unwrap();
        symlink("usr/bin", root.join("bin")).unwrap();
        symlink("/etc/alternatives/awk", root.join("usr/bin/awk")).unwrap();
        symlink("/usr/bin/gawk", root.join("etc/alternatives/awk")).unwrap();
        symlink("../../../../usr/bin/gawk", root.join("usr/bin/up")).unwrap();
        assert_eq!(resolve(root, "/bin/awk"), root.join("usr/bin/gawk"));
        assert_eq!(resolve(root, "/usr/bin/up"), root.join("usr/bin/gawk"));
        assert_eq!(resolve(root, "/bin/none"), root.join("usr/bin/none"));
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve(root, "/loop"), root.join("loop"), "a loop ends, inside the root");
        assert_eq!(resolve(root, "/../../etc"), root.join("etc"), "`..` stops at the root");
    }

    #[test]
    fn test_unavailable_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(unavailable(root).unwrap().contains("MANIFEST"));
        std::fs::write(root.join(MANIFEST), b"set\n").unwrap();
        assert!(unavailable(root).unwrap().contains("ld-linux-aarch64.so.1"));
        std::fs::create_dir_all(root.join("usr/lib/aarch64-linux-gnu")).unwrap();
        std::fs::write(root.join("usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"), b"").unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        symlink(
            "aarch64-linux-gnu/ld-linux-aarch64.so.1",
            root.join("usr/lib/ld-linux-aarch64.so.1"),
        )
        .unwrap();
        assert_eq!(unavailable(root), None);
    }

    #[test]
    fn test_the_archive_holds_the_whole_tree_and_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::write(root.join(MANIFEST), b"set\n").unwrap();
        std::fs::write(root.join("usr/lib/ld-linux-aarch64.so.1"), b"LDSO").unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        let out = dir.path().join("out");
        let first = initramfs_part(&root, &out, "sysroot").unwrap();
        let modified = std::fs::metadata(&first).unwrap().modified().unwrap();
        assert_eq!(
            initramfs_part(&root, &out, "sysroot").unwrap(),
            first,
            "the same tree, the same archive"
        );
        assert_eq!(std::fs::metadata(&first).unwrap().modified().unwrap(), modified);
        let unpacked = Command::new("gzip").args(["-dc"]).arg(&first).output().unwrap().stdout;
        let text = String::from_utf8_lossy(&unpacked);
        for name in ["MANIFEST\0", "usr\0", "usr/lib\0", "usr/lib/ld-linux-aarch64.so.1\0", "lib\0"]
        {
            assert!(text.contains(name), "{name:?} is packed");
        }
        assert!(text.contains("LDSO"));
        std::fs::write(root.join("usr/lib/extra"), b"more").unwrap();
        let second = initramfs_part(&root, &out, "sysroot").unwrap();
        assert_ne!(second, first, "a changed tree is packed again");
        assert!(!first.exists(), "the older archive is removed");
    }

    #[test]
    fn test_only_the_archives_of_one_name_replace_each_other() {
        assert!(is_archive_of("sysroot-0123456789abcdef.cpio.gz", "sysroot"));
        assert!(!is_archive_of("sysroot-postgres-0123456789abcdef.cpio.gz", "sysroot"));
        assert!(is_archive_of("sysroot-postgres-0123456789abcdef.cpio.gz", "sysroot-postgres"));
        assert!(!is_archive_of("sysroot-0123.cpio.gz", "sysroot"));
        assert!(!is_archive_of("libc-root-0123456789abcdef.cpio.gz", "sysroot"));
    }
}
