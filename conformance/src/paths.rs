//! Where the harness finds its inputs and puts its outputs.

use std::path::PathBuf;

/// The workspace root (the directory holding `guest-src/`, `fixtures/` and `runners/`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Cargo's target directory (`CARGO_TARGET_DIR` when set, else `<root>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { workspace_root().join(dir) }
        }
        None => workspace_root().join("target"),
    }
}

/// Everything the harness builds or writes: `target/conformance/`.
pub fn output_dir() -> PathBuf {
    target_dir().join("conformance")
}

/// The per-user cache kept across clones and `cargo clean` (the arm64 kernel lives here).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("elfvisor");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache").join("elfvisor"),
        None => target_dir().join("cache"),
    }
}

/// The arm64 kernel image booted by the `linux` lane: `ELFVISOR_KERNEL`, or the one that
/// `cargo xtask deps` keeps in the cache.
pub fn kernel_image() -> PathBuf {
    match std::env::var_os("ELFVISOR_KERNEL").filter(|k| !k.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => cache_dir().join("kernel").join("vmlinuz"),
    }
}

/// Names a busybox of your own instead of the cached one.
pub const BUSYBOX_ENV: &str = "ELFVISOR_BUSYBOX";

/// Debian's static arm64 busybox, run by the `busybox` cases: `ELFVISOR_BUSYBOX`, or the one that
/// `cargo xtask deps` keeps in the cache (from the `busybox-static:arm64` package).
pub fn busybox() -> PathBuf {
    match std::env::var_os(BUSYBOX_ENV).filter(|b| !b.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => cache_dir().join("busybox").join("busybox"),
    }
}

/// Names a sysroot of your own instead of the cached one (the variable elfvisor itself reads).
pub const SYSROOT_ENV: &str = "ELFVISOR_SYSROOT";

/// The Debian arm64 sysroot that `program: {sysroot: …}` cases run from: `ELFVISOR_SYSROOT`, or
/// the one that `cargo xtask sysroot` (called by `cargo xtask deps`) keeps in the cache.
pub fn sysroot() -> PathBuf {
    match std::env::var_os(SYSROOT_ENV).filter(|s| !s.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => cache_dir().join("sysroot"),
    }
}

/// The tree of a named sysroot set (a fixture's `sysroot: postgres`; see
/// [`crate::sysroot::SETS`]): `ELFVISOR_SYSROOT_<NAME>` (the name in capitals), or the directory
/// `cargo xtask sysroot --set <name>` builds in the cache. No name: [`sysroot`].
pub fn sysroot_of(set: Option<&str>) -> PathBuf {
    let Some(name) = set else { return sysroot() };
    match std::env::var_os(sysroot_env(name)).filter(|s| !s.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => cache_dir().join(format!("sysroot-{name}")),
    }
}

/// The variable that names a tree of the sysroot set `name` instead of the cached one.
pub fn sysroot_env(name: &str) -> String {
    format!("{SYSROOT_ENV}_{}", name.to_ascii_uppercase())
}

/// The directory of guest sources.
pub fn guest_src() -> PathBuf {
    workspace_root().join("guest-src")
}

/// The directory of fixtures and golden snapshots.
pub fn fixtures() -> PathBuf {
    workspace_root().join("fixtures")
}
