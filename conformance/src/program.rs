//! Prebuilt guest programs: real-world aarch64 binaries that a fixture runs instead of a C guest
//! built from source — Debian's static busybox (`program: busybox`), or any program of the
//! sysroot, a dynamically linked glibc program (`program: {sysroot: /usr/bin/python3}`).
//!
//! Such a program is built with one C library only, so its cases have one libc column. It is
//! provisioned by `cargo xtask deps`; where it is missing, its cells are ignored with the reason.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use crate::guest::Libc;

/// A prebuilt program, as a fixture names it: `busybox`, or a one-key map `{sysroot: PATH}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Program {
    /// `/bin/busybox` of Debian's `busybox-static:arm64`: a static, non-PIE glibc program.
    Busybox,
    /// A program of the sysroot (`cargo xtask sysroot`), named by its absolute path as the guest
    /// sees it: a dynamically linked program of Debian bookworm, run with the sysroot's glibc.
    Sysroot(String),
}

impl Program {
    /// The programs fetched one by one by `cargo xtask deps` (a sysroot program comes with the
    /// sysroot).
    pub const FETCHED: [Program; 1] = [Program::Busybox];

    /// The C library the program was linked with: its cases run in this libc's column only.
    pub fn libc(&self) -> Libc {
        match self {
            // `file` says "statically linked, for GNU/Linux 3.7.0"; the package is built using
            // glibc 2.36 and the binary carries glibc's own messages.
            Program::Busybox => Libc::Glibc,
            // Debian links everything against its glibc, which the sysroot holds.
            Program::Sysroot(_) => Libc::Glibc,
        }
    }

    /// argv[0] in every lane. busybox picks its applet from argv[0], so this is the
    /// applet-neutral name and the applet comes first among the fixture's `args`. A sysroot
    /// program gets its absolute path, so a program that finds itself through argv[0] (Python's
    /// `sys.executable`) finds the same file in every lane.
    pub fn argv0(&self) -> &str {
        match self {
            Program::Busybox => "busybox",
            Program::Sysroot(path) => path,
        }
    }

    /// Where the program is on the host (honouring its environment override). A sysroot
    /// program's path is resolved inside the sysroot, symlinks included.
    pub fn path(&self) -> PathBuf {
        self.path_in(&crate::paths::sysroot())
    }

    /// As [`Program::path`], a sysroot program looked up in the sysroot at `root` (a fixture's
    /// named set).
    pub fn path_in(&self, root: &Path) -> PathBuf {
        match self {
            Program::Busybox => crate::paths::busybox(),
            Program::Sysroot(path) => crate::sysroot::resolve(root, path),
        }
    }

    /// The path the guest names when it is a sysroot program.
    pub fn sysroot_path(&self) -> Option<&str> {
        match self {
            Program::Busybox => None,
            Program::Sysroot(path) => Some(path),
        }
    }

    /// The environment variable that names a copy of the program instead of the cached one.
    pub fn path_env(&self) -> &'static str {
        match self {
            Program::Busybox => crate::paths::BUSYBOX_ENV,
            Program::Sysroot(_) => crate::paths::SYSROOT_ENV,
        }
    }

    /// The Debian package that ships it (a sysroot program: the sysroot's own command).
    pub fn debian_package(&self) -> &'static str {
        match self {
            Program::Busybox => "busybox-static:arm64",
            Program::Sysroot(_) => "the sysroot's packages (`cargo xtask sysroot`)",
        }
    }

    /// The program's path inside that package.
    pub fn package_member(&self) -> &str {
        match self {
            Program::Busybox => "./bin/busybox",
            Program::Sysroot(path) => path,
        }
    }

    /// Why a fixture's program is not acceptable as written, if it is not: a sysroot path must
    /// be absolute and plain (no empty, `.` or `..` components, no NUL), as the linux lane runs
    /// it by that very path.
    pub fn invalid(&self) -> Option<String> {
        let Program::Sysroot(path) = self else { return None };
        let plain = path.starts_with('/')
            && !path.contains('\0')
            && path[1..].split('/').all(|c| !c.is_empty() && c != "." && c != "..");
        (!plain).then(|| {
            format!(
                "program: {{sysroot: {path:?}}} must name an absolute path without empty, `.` \
                 or `..` components (e.g. /usr/bin/python3)"
            )
        })
    }

    /// Why the program cannot run here, if it cannot.
    pub fn unavailable(&self) -> Option<String> {
        self.unavailable_in(&crate::paths::sysroot())
    }

    /// As [`Program::unavailable`], a sysroot program looked up in the sysroot at `root`.
    pub fn unavailable_in(&self, root: &Path) -> Option<String> {
        match self {
            Program::Busybox => {
                let path = self.path();
                (!path.is_file()).then(|| {
                    format!(
                        "{self} is not provisioned at {}: run `cargo xtask deps` (fetches \
                         Debian's {})",
                        path.display(),
                        self.debian_package()
                    )
                })
            }
            Program::Sysroot(path) => {
                if let Some(why) = crate::sysroot::unavailable(root) {
                    return Some(why);
                }
                (!self.path_in(root).is_file()).then(|| {
                    format!(
                        "the sysroot {} has no {path}: add its package with `cargo xtask \
                         sysroot --packages …`",
                        root.display()
                    )
                })
            }
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Program::Busybox => f.write_str("busybox"),
            Program::Sysroot(path) => write!(f, "sysroot:{path}"),
        }
    }
}

/// A fixture's `program` key as written: a prebuilt program, or a Go source built for the case
/// (`{go: net/go_http.go}`, relative to `guest-src/`; see [`crate::go`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramKey {
    Prebuilt(Program),
    Go(String),
}

impl fmt::Display for ProgramKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramKey::Prebuilt(program) => program.fmt(f),
            ProgramKey::Go(source) => write!(f, "go:{source}"),
        }
    }
}

/// The names a fixture may give a program without a path.
const NAMED: &[&str] = &["busybox"];

/// The keys of a program given as a one-key map.
const KEYS: &[&str] = &["sysroot", "go"];

impl<'de> Deserialize<'de> for ProgramKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ProgramKey, D::Error> {
        deserializer.deserialize_any(ProgramVisitor)
    }
}

struct ProgramVisitor;

impl<'de> Visitor<'de> for ProgramVisitor {
    type Value = ProgramKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`busybox`, `{sysroot: /absolute/path}` or `{go: family/source.go}`")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<ProgramKey, E> {
        match name {
            "busybox" => Ok(ProgramKey::Prebuilt(Program::Busybox)),
            other => Err(E::unknown_variant(other, NAMED)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProgramKey, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &"one key, `sysroot` or `go`"));
        };
        if !KEYS.contains(&key.as_str()) {
            return Err(de::Error::unknown_field(&key, KEYS));
        }
        let path: String = map.next_value()?;
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "a program is `{{{key}: PATH}}` alone; `{extra}` does not belong beside it"
            )));
        }
        Ok(match key.as_str() {
            "go" => ProgramKey::Go(path),
            _ => ProgramKey::Prebuilt(Program::Sysroot(path)),
        })
    }
}
