//! Go guests (`program: {go: net/go_http.go}`): one Go source file under `guest-src/`, built with
//! the host's `go` into a static arm64 Linux program (`GOOS=linux GOARCH=arm64 CGO_ENABLED=0`)
//! and cached by the hash of everything that goes into it, as the C guests are.
//!
//! A Go program links no C library: its runtime makes every system call itself. Its cases run
//! in one column, [`GO_COLUMN`]. The build uses the standard library only and never the network
//! (`GOPROXY=off`, `GOTOOLCHAIN=local`), and keeps Go's build cache and module path under
//! `target/conformance/go/`, so nothing is written to the home directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::guest::Libc;

/// The column a Go program's cells are listed in. It has no C library at all; it is static and
/// talks to the kernel directly, as the musl programs of the suite are and do.
pub const GO_COLUMN: Libc = Libc::Musl;

/// The Debian package that provides `go`.
pub const DEBIAN_PACKAGE: &str = "golang-go";

/// The `go` command and the environment variables it is run with; all of them are part of
/// every cache key.
#[derive(Debug)]
pub struct GoToolchain {
    go: PathBuf,
    /// The output of `go version`, e.g. `go version go1.19.8 linux/amd64`.
    pub version: String,
}

/// Flags of `go build`: no absolute paths of this machine in the binary, no version-control
/// stamp (the source is a single file, not a module).
const BUILD_FLAGS: [&str; 2] = ["-trimpath", "-buildvcs=false"];

impl GoToolchain {
    /// Finds `go` on `PATH` and checks that it runs.
    pub fn detect() -> Result<GoToolchain> {
        let missing = |hint: String| Error::ToolMissing { tool: "go".into(), hint };
        let go = which::which("go").map_err(|_| {
            missing(format!("run `cargo xtask deps`, which installs {DEBIAN_PACKAGE}"))
        })?;
        let output = Command::new(&go)
            .arg("version")
            .envs(environment())
            .output()
            .context(|| format!("running {} version", go.display()))?;
        if !output.status.success() {
            return Err(missing(format!(
                "`{} version` failed with {}: {}",
                go.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Ok(GoToolchain { go, version })
    }

    /// A hash of everything that decides the binary: `go`, its version, the environment, the
    /// flags and the source.
    fn cache_key(&self, source: &Path) -> Result<String> {
        let mut hasher = Sha256::new();
        hasher.update(self.go.as_os_str().as_encoded_bytes());
        hasher.update(self.version.as_bytes());
        for (name, value) in environment() {
            hasher.update(name.as_bytes());
            hasher.update(value.as_os_str().as_encoded_bytes());
            hasher.update([0]);
        }
        for flag in BUILD_FLAGS {
            hasher.update(flag.as_bytes());
            hasher.update([0]);
        }
        hasher.update(std::fs::read(source).context(|| format!("reading {}", source.display()))?);
        let digest = hasher.finalize();
        Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }

    /// Builds `source` into `<out_dir>/<name>-<hash>` unless that file already exists.
    pub fn build(&self, source: &Path, out_dir: &Path, name: &str) -> Result<PathBuf> {
        let output = out_dir.join(format!("{name}-{}", self.cache_key(source)?));
        if output.is_file() {
            return Ok(output);
        }
        std::fs::create_dir_all(out_dir).context(|| format!("creating {}", out_dir.display()))?;
        // `go build -o` will not overwrite a file it did not write, so it writes into a fresh
        // directory, and the result is renamed into place: a parallel build never sees half a
        // file.
        let scratch = tempfile::Builder::new()
            .prefix(&format!(".{name}-"))
            .tempdir_in(out_dir)
            .context(|| format!("creating a temporary directory in {}", out_dir.display()))?;
        let partial = scratch.path().join(name);
        let result = Command::new(&self.go)
            .arg("build")
            .args(BUILD_FLAGS)
            .arg("-o")
            .arg(&partial)
            .arg(source)
            .current_dir(source.parent().unwrap_or(Path::new(".")))
            .envs(environment())
            .output()
            .context(|| format!("running {} build", self.go.display()))?;
        if !result.status.success() {
            let mut text = String::from_utf8_lossy(&result.stderr).into_owned();
            text.push_str(&String::from_utf8_lossy(&result.stdout));
            return Err(Error::Compile {
                source_path: source.to_owned(),
                compiler: "go build".into(),
                output: text,
            });
        }
        std::fs::rename(&partial, &output)
            .context(|| format!("renaming to {}", output.display()))?;
        Ok(output)
    }
}

/// The environment `go` runs with, over the harness's own: the target, no cgo, caches under
/// `target/conformance/go/`, no configuration file, no network.
fn environment() -> Vec<(&'static str, PathBuf)> {
    let root = crate::paths::output_dir().join("go");
    vec![
        ("GOOS", "linux".into()),
        ("GOARCH", "arm64".into()),
        ("CGO_ENABLED", "0".into()),
        ("GOCACHE", root.join("cache")),
        ("GOPATH", root.join("path")),
        ("GOMODCACHE", root.join("path").join("pkg").join("mod")),
        ("GOENV", "off".into()),
        ("GOFLAGS", "".into()),
        ("GO111MODULE", "".into()),
        ("GOWORK", "off".into()),
        ("GOPROXY", "off".into()),
        ("GOTOOLCHAIN", "local".into()),
    ]
}

/// Why a fixture's Go source path is not acceptable, if it is not: relative to `guest-src/`,
/// plain (no empty, `.` or `..` components, no NUL) and ending in `.go`.
pub fn invalid_source(path: &str) -> Option<String> {
    let plain = !path.starts_with('/')
        && !path.contains('\0')
        && path.ends_with(".go")
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    (!plain).then(|| {
        format!(
            "program: {{go: {path:?}}} must name a `.go` file relative to guest-src/ without \
             empty, `.` or `..` components (e.g. net/go_http.go)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_source_paths() {
        assert_eq!(invalid_source("net/go_http.go"), None);
        assert_eq!(invalid_source("a.go"), None);
        for bad in ["/net/a.go", "net/../a.go", "net//a.go", "./a.go", "net/a.c", "", "a.go\0"] {
            assert!(invalid_source(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn test_environment_stays_under_target() {
        let root = crate::paths::target_dir();
        for (name, value) in environment() {
            if ["GOCACHE", "GOPATH", "GOMODCACHE"].contains(&name) {
                assert!(value.starts_with(&root), "{name}={}", value.display());
            }
        }
    }
}
