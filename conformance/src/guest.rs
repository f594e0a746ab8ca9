//! Cross-compiling guest programs: one static aarch64 binary per (libc, source), cached by the
//! hash of everything that goes into it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

/// The C libraries every case is built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    Musl,
    Glibc,
}

impl Libc {
    pub const ALL: [Libc; 2] = [Libc::Musl, Libc::Glibc];

    pub fn id(self) -> &'static str {
        match self {
            Libc::Musl => "musl",
            Libc::Glibc => "glibc",
        }
    }

    pub fn from_id(id: &str) -> Option<Libc> {
        Libc::ALL.into_iter().find(|l| l.id() == id)
    }

    /// The cross compiler's command name.
    pub fn compiler(self) -> &'static str {
        match self {
            Libc::Musl => "aarch64-linux-musl-gcc",
            Libc::Glibc => "aarch64-linux-gnu-gcc",
        }
    }

    /// The Rust target triple that tells the `cc` crate what it is compiling for.
    fn target(self) -> &'static str {
        match self {
            Libc::Musl => "aarch64-unknown-linux-musl",
            Libc::Glibc => "aarch64-unknown-linux-gnu",
        }
    }

    /// The Debian packages that provide the compiler and the static C library.
    pub fn debian_packages(self) -> &'static [&'static str] {
        match self {
            Libc::Musl => &["musl-dev:arm64"],
            Libc::Glibc => &["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"],
        }
    }
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A detected cross compiler.
#[derive(Debug)]
pub struct Toolchain {
    pub libc: Libc,
    tool: cc::Tool,
    /// The first line of `--version`, part of every cache key.
    pub version: String,
}

impl Toolchain {
    /// Finds the libc's cross compiler on `PATH` and lets the `cc` crate work out its flags.
    pub fn detect(libc: Libc) -> Result<Toolchain> {
        let path = which::which(libc.compiler()).map_err(|_| Error::ToolMissing {
            tool: libc.compiler().into(),
            hint: format!(
                "run `cargo xtask deps`, which installs {}",
                libc.debian_packages().join(" ")
            ),
        })?;
        let tool = cc::Build::new()
            .compiler(&path)
            .target(libc.target())
            .host(env!("ELFVISOR_HOST_TRIPLE"))
            .opt_level(2)
            .debug(false)
            .pic(false)
            .cargo_metadata(false)
            .cargo_warnings(false)
            .try_get_compiler()
            .map_err(|e| Error::ToolMissing {
                tool: libc.compiler().into(),
                hint: format!("the cc crate cannot use it: {e}"),
            })?;
        let output = Command::new(tool.path())
            .arg("--version")
            .output()
            .context(|| format!("running {} --version", path.display()))?;
        let version =
            String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or_default().to_owned();
        Ok(Toolchain { libc, tool, version })
    }

    /// The full command line that compiles `source` into `output`.
    fn command(&self, source: &Path, output: &Path) -> Command {
        let mut cmd = self.tool.to_command();
        cmd.arg("-static");
        self.common_flags(&mut cmd, source);
        cmd.arg("-o").arg(output).arg(source);
        cmd
    }

    /// The flags every guest is compiled with: warnings as errors, threads, `check.h` and the
    /// source's own folder on the include path.
    fn common_flags(&self, cmd: &mut Command, source: &Path) {
        let include = crate::paths::guest_src().join("include");
        cmd.args(["-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-pthread"])
            .arg("-I")
            .arg(include)
            .arg("-I")
            .arg(source.parent().unwrap_or(Path::new(".")));
    }

    /// The compiler with the common flags for one object of a dynamic tree (not static); the
    /// caller adds the output, the source and what the object links.
    pub(crate) fn dynamic_command(&self, source: &Path) -> Command {
        let mut cmd = self.tool.to_command();
        self.common_flags(&mut cmd, source);
        cmd
    }

    /// Feeds the compiler's identity (path and version) to a cache key.
    pub(crate) fn hash_identity(&self, hasher: &mut Sha256) {
        hasher.update(self.tool.path().as_os_str().as_encoded_bytes());
        hasher.update(self.version.as_bytes());
    }

    /// A hash of everything that decides the binary: compiler, flags, source and headers.
    fn cache_key(&self, source: &Path) -> Result<String> {
        let mut hasher = Sha256::new();
        self.hash_identity(&mut hasher);
        let cmd = self.command(source, Path::new("out"));
        for arg in cmd.get_args() {
            hasher.update(arg.as_encoded_bytes());
            hasher.update([0]);
        }
        hasher.update(std::fs::read(source).context(|| format!("reading {}", source.display()))?);
        hash_headers(&mut hasher, source)?;
        let digest = hasher.finalize();
        Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }

    /// Compiles `source` into `<out_dir>/<name>-<hash>` unless that file already exists.
    pub fn build(&self, source: &Path, out_dir: &Path, name: &str) -> Result<PathBuf> {
        let output = out_dir.join(format!("{name}-{}", self.cache_key(source)?));
        if output.is_file() {
            return Ok(output);
        }
        std::fs::create_dir_all(out_dir).context(|| format!("creating {}", out_dir.display()))?;
        // Build under a temporary name and rename, so a parallel build never sees half a file.
        let partial = tempfile::Builder::new()
            .prefix(&format!(".{name}-"))
            .tempfile_in(out_dir)
            .context(|| format!("creating a temporary file in {}", out_dir.display()))?
            .into_temp_path();
        let result = self
            .command(source, &partial)
            .output()
            .context(|| format!("running {}", self.tool.path().display()))?;
        if !result.status.success() {
            let mut text = String::from_utf8_lossy(&result.stderr).into_owned();
            text.push_str(&String::from_utf8_lossy(&result.stdout));
            return Err(Error::Compile {
                source_path: source.to_owned(),
                compiler: self.libc.compiler().into(),
                output: text,
            });
        }
        partial
            .persist(&output)
            .map_err(|e| e.error)
            .context(|| format!("renaming to {}", output.display()))?;
        Ok(output)
    }
}

/// Feeds every header a guest source may include to a cache key: a source may include any
/// header of the tree (`../fork/fork.h`), so those of every family folder and of the source's
/// own folder count.
pub(crate) fn hash_headers(hasher: &mut Sha256, source: &Path) -> Result<()> {
    let root = crate::paths::guest_src();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.push(source.parent().unwrap_or(Path::new(".")).to_path_buf());
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        let mut headers: Vec<PathBuf> = std::fs::read_dir(dir)
            .context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "h"))
            .collect();
        headers.sort();
        for header in headers {
            hasher.update(header.as_os_str().as_encoded_bytes());
            hasher.update(
                std::fs::read(&header).context(|| format!("reading {}", header.display()))?,
            );
        }
    }
    Ok(())
}

type Shared<T> = Arc<OnceLock<std::result::Result<T, Arc<Error>>>>;

/// Builds guests on demand, each at most once per process, from any number of threads.
#[derive(Debug, Default)]
pub struct GuestBuilder {
    toolchains: Mutex<HashMap<Libc, Shared<Arc<Toolchain>>>>,
    builds: Mutex<HashMap<(Libc, PathBuf), Shared<PathBuf>>>,
    trees: Mutex<HashMap<(Libc, String), Shared<PathBuf>>>,
    go: Shared<Arc<crate::go::GoToolchain>>,
    go_builds: Mutex<HashMap<PathBuf, Shared<PathBuf>>>,
}

impl GuestBuilder {
    pub fn new() -> GuestBuilder {
        GuestBuilder::default()
    }

    /// The libc's toolchain, detected once.
    pub fn toolchain(&self, libc: Libc) -> std::result::Result<Arc<Toolchain>, Arc<Error>> {
        let cell = self
            .toolchains
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(libc)
            .or_default()
            .clone();
        cell.get_or_init(|| Toolchain::detect(libc).map(Arc::new).map_err(Arc::new)).clone()
    }

    /// The binary for `source` under `libc`, compiled if the cache does not have it.
    pub fn build(
        &self,
        libc: Libc,
        source: &Path,
        name: &str,
    ) -> std::result::Result<PathBuf, Arc<Error>> {
        let cell = self
            .builds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((libc, source.to_owned()))
            .or_default()
            .clone();
        cell.get_or_init(|| {
            let toolchain = self.toolchain(libc)?;
            let family = source.parent().and_then(Path::file_name).unwrap_or_default();
            let out_dir = crate::paths::output_dir().join("guests").join(libc.id()).join(family);
            toolchain.build(source, &out_dir, name).map_err(Arc::new)
        })
        .clone()
    }

    /// The program of a dynamic case's tree under `libc` (see [`crate::dynamic`]), built if the
    /// cache does not have it: `target/conformance/guests/<libc>/<family>/<case>-<hash>/<case>`.
    pub fn build_tree(
        &self,
        libc: Libc,
        case: &crate::fixture::Case,
        dynamic: &crate::dynamic::Dynamic,
        source: &Path,
    ) -> std::result::Result<PathBuf, Arc<Error>> {
        let cell = self
            .trees
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((libc, case.id()))
            .or_default()
            .clone();
        cell.get_or_init(|| {
            let toolchain = self.toolchain(libc)?;
            let out_dir =
                crate::paths::output_dir().join("guests").join(libc.id()).join(&case.family);
            crate::dynamic::build_tree(&toolchain, dynamic, source, &out_dir, &case.name)
                .map_err(Arc::new)
        })
        .clone()
    }

    /// The `go` command, detected once.
    pub fn go(&self) -> std::result::Result<Arc<crate::go::GoToolchain>, Arc<Error>> {
        self.go
            .get_or_init(|| crate::go::GoToolchain::detect().map(Arc::new).map_err(Arc::new))
            .clone()
    }

    /// The binary for the Go source `source`, built if the cache does not have it
    /// (`target/conformance/guests/go/<family>/<name>-<hash>`).
    pub fn build_go(&self, source: &Path, name: &str) -> std::result::Result<PathBuf, Arc<Error>> {
        let cell = self
            .go_builds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(source.to_owned())
            .or_default()
            .clone();
        cell.get_or_init(|| {
            let go = self.go()?;
            let family = source.parent().and_then(Path::file_name).unwrap_or_default();
            let out_dir = crate::paths::output_dir().join("guests").join("go").join(family);
            go.build(source, &out_dir, name).map_err(Arc::new)
        })
        .clone()
    }
}
