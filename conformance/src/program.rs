//! Prebuilt guest programs: real-world static aarch64 binaries that a fixture runs instead of a C
//! guest built from source (`program: busybox`).
//!
//! Such a program is built with one C library only, so its cases have one libc column. It is
//! provisioned by `cargo xtask deps`; where it is missing, its cells are ignored with the reason.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::guest::Libc;

/// A prebuilt program, as a fixture names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Program {
    /// `/bin/busybox` of Debian's `busybox-static:arm64`: a static, non-PIE glibc program.
    Busybox,
}

impl Program {
    pub const ALL: [Program; 1] = [Program::Busybox];

    /// The name fixtures use.
    pub fn id(self) -> &'static str {
        match self {
            Program::Busybox => "busybox",
        }
    }

    /// The C library the program was linked with: its cases run in this libc's column only.
    pub fn libc(self) -> Libc {
        match self {
            // `file` says "statically linked, for GNU/Linux 3.7.0"; the package is built using
            // glibc 2.36 and the binary carries glibc's own messages.
            Program::Busybox => Libc::Glibc,
        }
    }

    /// argv[0] in every lane. busybox picks its applet from argv[0], so this is the
    /// applet-neutral name and the applet comes first among the fixture's `args`.
    pub fn argv0(self) -> &'static str {
        match self {
            Program::Busybox => "busybox",
        }
    }

    /// Where the program is (honouring its environment override).
    pub fn path(self) -> PathBuf {
        match self {
            Program::Busybox => crate::paths::busybox(),
        }
    }

    /// The environment variable that names a copy of the program instead of the cached one.
    pub fn path_env(self) -> &'static str {
        match self {
            Program::Busybox => crate::paths::BUSYBOX_ENV,
        }
    }

    /// The Debian package that ships it.
    pub fn debian_package(self) -> &'static str {
        match self {
            Program::Busybox => "busybox-static:arm64",
        }
    }

    /// The program's path inside that package.
    pub fn package_member(self) -> &'static str {
        match self {
            Program::Busybox => "./bin/busybox",
        }
    }

    /// Why the program cannot run here, if it cannot.
    pub fn unavailable(self) -> Option<String> {
        let path = self.path();
        (!path.is_file()).then(|| {
            format!(
                "{self} is not provisioned at {}: run `cargo xtask deps` (fetches Debian's {})",
                path.display(),
                self.debian_package()
            )
        })
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
