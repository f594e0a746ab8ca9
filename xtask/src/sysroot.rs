//! `cargo xtask sysroot`: a Debian bookworm arm64 file tree for dynamically linked guests.
//!
//! The tree is assembled with `mmdebstrap --variant=extract`, which downloads the named
//! packages and their dependency closure for arm64 and unpacks them without running any of
//! their code (no maintainer scripts, so nothing aarch64 runs on the host). mmdebstrap is
//! installed with apt when it is missing. The result lives under the per-user cache
//! (`~/.cache/elfvisor/sysroot/`, or `$XDG_CACHE_HOME/elfvisor/sysroot/`) with a `MANIFEST` at
//! its root: the release, layout and package set asked for on its first line, then one
//! `package version arch` line per unpacked package. The layout is bookworm's merged `/usr`
//! (mmdebstrap's `merged-usr` hook). A second run with the same set finds the manifest and does nothing.
//! Absolute symlinks in the tree are left as Debian ships them: elfvisor resolves them inside
//! the sysroot.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The packages a sysroot holds unless `--packages` names others: the programs to run and
/// `dash`, Debian's `/bin/sh`.
pub const DEFAULT_PACKAGES: &[&str] = &[
    "libc6",
    "python3",
    "perl-base",
    "bash",
    "coreutils",
    "sqlite3",
    "git",
    "gawk",
    "grep",
    "sed",
    "findutils",
    "tar",
    "gzip",
    "xz-utils",
    // /bin/sh, which system(3), popen(3) and tar's compressors run.
    "dash",
];

/// What the `postgres` set adds to the default one: the PostgreSQL 15 server and its clients
/// (`initdb`, `pg_ctl`, `postgres`, `psql`, `pgbench` under `/usr/lib/postgresql/15/bin/`). It is a
/// set of its own, in a tree of its own, because it more than doubles the tree (LLVM for the JIT,
/// ICU, tzdata) and the gold lane packs the whole tree into its initramfs.
pub const POSTGRES_PACKAGES: &[&str] = &["postgresql-15", "postgresql-client-15"];

/// The Debian release the sysroot follows.
const SUITE: &str = "bookworm";

/// A named package set, each with its own default directory under the per-user cache.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Set {
    /// The programs of the `realprog` and `dynamic` families (`sysroot/`).
    #[default]
    Default,
    /// The default set plus PostgreSQL 15, for the `daemon` family (`sysroot-postgres/`).
    Postgres,
}

impl Set {
    /// The set's packages, in the order they are named to mmdebstrap.
    pub fn packages(self) -> Vec<String> {
        let extra: &[&str] = match self {
            Set::Default => &[],
            Set::Postgres => POSTGRES_PACKAGES,
        };
        DEFAULT_PACKAGES.iter().chain(extra).map(|p| p.to_string()).collect()
    }

    /// Where the set's tree goes unless `--dir` names another place.
    pub fn default_dir(self) -> PathBuf {
        let name = match self {
            Set::Default => "sysroot",
            Set::Postgres => "sysroot-postgres",
        };
        elfvisor_conformance::paths::cache_dir().join(name)
    }

    /// The user database the set's tree carries, as `(/etc/passwd, /etc/group)`, if any. An
    /// extracted tree runs no maintainer scripts, so nothing creates Debian's `/etc/passwd`
    /// (base-passwd's postinst does on a real system); the `postgres` set's cases run as
    /// `nobody`, and `initdb` and `postgres` look their user up (`getpwuid`), so the tree names
    /// root and nobody with Debian's fixed ids. The default set carries none: its cases run as
    /// root and show ids as numbers on the gold lane.
    pub fn user_database(self) -> Option<(&'static str, &'static str)> {
        match self {
            Set::Default => None,
            Set::Postgres => Some((
                "root:x:0:0:root:/root:/bin/sh\n\
                 nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                "root:x:0:\nnogroup:x:65534:\n",
            )),
        }
    }
}

/// Why the tree of `set` at `dir` is not ready for its cases, if it is not: what the harness
/// loads, and the set's user database.
pub fn unready(set: Set, dir: &Path) -> Option<String> {
    if let Some(why) = elfvisor_conformance::sysroot::unavailable(dir) {
        return Some(why);
    }
    let (passwd, _) = set.user_database()?;
    let path = dir.join("etc/passwd");
    (std::fs::read_to_string(&path).ok().as_deref() != Some(passwd))
        .then(|| format!("{} is not the set's user database", path.display()))
}

/// Finishes a tree of `set` built elsewhere (named by hand): writes its user database, once its
/// packages are there.
pub fn finish(set: Set, dir: &Path) -> Result<()> {
    if let Some(why) = elfvisor_conformance::sysroot::unavailable(dir) {
        bail!("{} holds no usable sysroot: {why}", dir.display());
    }
    ensure_user_database(set, dir)
}

/// Writes the set's user database into the tree at `dir` where it is missing or differs (a
/// tree built before the set carried one gets it without being built again).
fn ensure_user_database(set: Set, dir: &Path) -> Result<()> {
    let Some((passwd, group)) = set.user_database() else { return Ok(()) };
    for (name, text) in [("passwd", passwd), ("group", group)] {
        let path = dir.join("etc").join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            println!("sysroot: wrote {}", path.display());
        }
    }
    Ok(())
}

/// `cargo xtask sysroot` options.
#[derive(clap::Args, Debug, Default)]
pub struct Options {
    /// The packages to unpack (their dependencies come along), comma-separated; overrides `--set`.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub packages: Vec<String>,
    /// A named package set: `default`, or `postgres` (the default set plus PostgreSQL 15).
    #[arg(long, value_enum, default_value_t = Set::Default)]
    pub set: Set,
    /// Where to build it (default: the per-user cache's `sysroot/`, or `sysroot-postgres/` for
    /// `--set postgres`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The hidden directory a tree at `dir` is built in before it is renamed into place: beside it
/// and named after it, so two trees built at once in the same parent never share one.
fn partial_dir(dir: &Path) -> Result<PathBuf> {
    let parent = dir.parent().context("the sysroot directory has a parent")?;
    let name = dir.file_name().context("the sysroot directory has a name")?;
    let mut partial = std::ffi::OsString::from(".");
    partial.push(name);
    partial.push(".partial");
    Ok(parent.join(partial))
}

/// The manifest's first line for a package set: the release, the layout and the set, sorted,
/// so its order does not matter.
fn wanted_line(packages: &[String]) -> String {
    let mut sorted = packages.to_vec();
    sorted.sort();
    sorted.dedup();
    format!("{SUITE} arm64 merged-usr packages: {}", sorted.join(","))
}

/// Whether the tree at `dir` was built for exactly this package set.
fn up_to_date(dir: &Path, packages: &[String]) -> bool {
    std::fs::read_to_string(dir.join("MANIFEST"))
        .is_ok_and(|text| text.lines().next() == Some(wanted_line(packages).as_str()))
}

fn ensure_mmdebstrap() -> Result<()> {
    if which::which("mmdebstrap").is_ok() {
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("mmdebstrap is missing: install it with `apt-get install mmdebstrap` (as root)");
    }
    for argv in [&["apt-get", "update"][..], &["apt-get", "install", "-y", "mmdebstrap"]] {
        println!("sysroot: running {}", argv.join(" "));
        let status = Command::new(argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("starting {}", argv[0]))?;
        if !status.success() {
            bail!("`{}` failed with {status}", argv.join(" "));
        }
    }
    Ok(())
}

/// Builds (or finds up to date) the sysroot.
pub fn run(opts: &Options) -> Result<()> {
    let packages: Vec<String> =
        if opts.packages.is_empty() { opts.set.packages() } else { opts.packages.clone() };
    if let Some(bad) = packages.iter().find(|p| {
        p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    }) {
        bail!("{bad:?} is not a Debian package name");
    }
    let dir = opts.dir.clone().unwrap_or_else(|| opts.set.default_dir());
    if up_to_date(&dir, &packages) {
        println!("sysroot: {} is up to date ({})", dir.display(), wanted_line(&packages));
        if opts.packages.is_empty() {
            ensure_user_database(opts.set, &dir)?;
        }
        return Ok(());
    }
    ensure_mmdebstrap()?;
    let parent = dir.parent().context("the sysroot directory has a parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    // Built beside its final place and renamed in: the tree appears whole or not at all.
    let partial = partial_dir(&dir)?;
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing {}", partial.display()))?;
    }
    // The hook runs after unpacking, while the downloaded .debs are still there: each one's
    // name, version and architecture go into the manifest.
    let hook = format!(
        "{{ echo '{}'; for d in \"$1\"/var/cache/apt/archives/*.deb; do \
         dpkg-deb --show --showformat='${{Package}} ${{Version}} ${{Architecture}}\\n' \"$d\"; \
         done | sort; }} > \"$1\"/MANIFEST",
        wanted_line(&packages)
    );
    println!("sysroot: unpacking {} and their dependencies for arm64", packages.join(", "));
    let status = Command::new("mmdebstrap")
        .arg("--variant=extract")
        .arg("--architectures=arm64")
        .arg(format!("--include={}", packages.join(",")))
        // Bookworm's layout: /bin, /sbin and /lib are links into /usr, so a program is found
        // under both names, as PATH searches expect.
        .arg("--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr")
        .arg(format!("--extract-hook={hook}"))
        .arg(SUITE)
        .arg(&partial)
        .stdin(Stdio::null())
        .status()
        .context("starting mmdebstrap")?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&partial);
        bail!("mmdebstrap failed with {status}");
    }
    if !partial.join("MANIFEST").is_file() {
        bail!("mmdebstrap left no MANIFEST in {}", partial.display());
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    if opts.packages.is_empty() {
        ensure_user_database(opts.set, &partial)?;
    }
    std::fs::rename(&partial, &dir).with_context(|| format!("moving in {}", dir.display()))?;
    let count = std::fs::read_to_string(dir.join("MANIFEST"))?.lines().count() - 1;
    println!("sysroot: {} packages in {}", count, dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_the_manifest_line_ignores_order_and_repeats() {
        let a = wanted_line(&["bash".into(), "libc6".into()]);
        let b = wanted_line(&["libc6".into(), "bash".into(), "bash".into()]);
        assert_eq!(a, b);
        assert_eq!(a, "bookworm arm64 merged-usr packages: bash,libc6");
    }

    #[test]
    fn test_the_postgres_set_is_the_default_set_plus_the_server_and_clients() {
        let default = Set::Default.packages();
        let postgres = Set::Postgres.packages();
        assert_eq!(postgres[..default.len()], default[..]);
        assert_eq!(postgres[default.len()..], ["postgresql-15", "postgresql-client-15"]);
        assert_ne!(Set::Default.default_dir(), Set::Postgres.default_dir());
    }

    #[test]
    fn test_the_partial_tree_is_named_after_its_target() {
        let a = partial_dir(Path::new("/c/elfvisor/sysroot")).unwrap();
        let b = partial_dir(Path::new("/c/elfvisor/sysroot-postgres")).unwrap();
        assert_eq!(a, Path::new("/c/elfvisor/.sysroot.partial"));
        assert_eq!(b, Path::new("/c/elfvisor/.sysroot-postgres.partial"));
        assert!(partial_dir(Path::new("/")).is_err());
    }

    #[test]
    fn test_up_to_date_reads_the_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let set = vec!["bash".to_string()];
        assert!(!up_to_date(dir.path(), &set));
        let manifest = format!("{}\nbash 5.2 arm64\n", wanted_line(&set));
        std::fs::write(dir.path().join("MANIFEST"), manifest).unwrap();
        assert!(up_to_date(dir.path(), &set));
        assert!(!up_to_date(dir.path(), &["bash".into(), "sed".into()]));
    }
}
