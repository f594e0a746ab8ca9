//! `cargo xtask asan`: elfvisor with AddressSanitizer on its C part (the patched unicorn), and
//! the conformance matrix's elfvisor lanes (or any guest, e.g. the fuzzer) run under it.
//!
//! - Unicorn is built a second time, with `-fsanitize=address`, into `target/unicorn-asan/`
//!   (never replacing `target/unicorn/`); its pkg-config file carries an extra marker that the
//!   engine's build script demands when the `asan` feature is on, and refuses otherwise.
//! - The emulator is built with `--features asan` into its own target directory
//!   (`target/asan/`), `--target` the host triple so that the link flag that pulls in the ASan
//!   runtime (`-ldylib=asan`) reaches the emulator but not build scripts, with
//!   `PKG_CONFIG_PATH` pointing at the ASan unicorn.
//! - The Rust side is instrumented only with `--rust`: `-Zsanitizer=address` is a nightly-only
//!   flag (stable rustc refuses every `-Z` flag), so that build uses `cargo +nightly` (rustup's
//!   nightly toolchain must be installed) into `target/asan-rust/`. It instruments every crate
//!   but std (an instrumented std needs `-Zbuild-std` and the `rust-src` component), and rustc
//!   links its own ASan runtime, which the gcc-instrumented unicorn then uses too.
//! - The runtime options are compiled into the binary (`__asan_default_options`, see
//!   `emulator/kernel/src/asan.rs`): the harness runs each lane with exactly the case's
//!   environment, so an `ASAN_OPTIONS` variable would not reach it, and must not reach the guest.
//!   Every report goes to a file under `target/asan/reports/`; the run fails when any exists.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::unicorn::{self, Variant};

#[derive(Args, Debug)]
pub struct Options {
    /// Instrument the Rust crates too (`-Zsanitizer=address`; needs a nightly toolchain).
    #[arg(long)]
    rust: bool,
    #[command(subcommand)]
    what: Option<What>,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Only build the ASan unicorn and emulator; print the binary's path.
    Build,
    /// Run the conformance trials of the three elfvisor lanes (both libcs) under the ASan
    /// emulator; FILTER narrows them (a libtest filter, e.g. `musl/mm/`).
    Conformance { filter: Option<String> },
    /// Run one command line under the ASan emulator: `cargo xtask asan run -- GUEST ARGS…`
    /// (elfvisor options may come first, e.g. `--fork-strategy respawn-copy`).
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
}

/// The runtime options, in the order ASan reads them (`:`-separated).
///
/// - `detect_leaks=0`: LeakSanitizer would scan every readable mapping at exit — the guest's
///   memory inside the 1 TiB arena included — for pointers, and it stops the world with
///   `ptrace`-like thread suspension that a guest's own threads and signal masks get in the way
///   of; and the emulator deliberately leaves its per-process state to `exit_group`, as a
///   kernel does, so every exit would "leak". Leaks are not memory-safety errors.
/// - `handle_segv=0:handle_sigbus=0`: elfvisor owns these signals (a host `SIGBUS` from a
///   truncated shared file becomes the guest's `SIGBUS`); ASan's handler would report a guest's
///   fault as an emulator crash.
/// - `allow_user_segv_handler=1`: the emulator's `sigaction` for them is honoured.
/// - `use_sigaltstack=0`: the emulator manages the alternate signal stacks of its threads.
/// - `halt_on_error=1:abort_on_error=0:exitcode=86`: the first report ends the process with a
///   status no guest case expects, so the transcript differs even where the log is not read.
/// - `detect_odr_violation=0`: unicorn links several copies of a few QEMU globals by design
///   (`-allow-multiple-definition`).
/// - `log_path`: every report also goes to a file, one per process, which the run checks.
pub fn runtime_options(reports: &Path) -> String {
    format!(
        "detect_leaks=0:handle_segv=0:handle_sigbus=0:allow_user_segv_handler=1:\
         use_sigaltstack=0:halt_on_error=1:abort_on_error=0:exitcode=86:detect_odr_violation=0:\
         log_path={}",
        reports.join("asan").display()
    )
}

/// Where the ASan build lives (its own target directory).
fn target_dir(root: &Path) -> PathBuf {
    root.join("target").join("asan")
}

/// Where the emulator is built: `target/asan/`, or `target/asan-rust/` with `--rust`.
fn build_dir(root: &Path, rust: bool) -> PathBuf {
    if rust { root.join("target").join("asan-rust") } else { target_dir(root) }
}

fn reports_dir(root: &Path) -> PathBuf {
    target_dir(root).join("reports")
}

fn host_triple() -> Result<String> {
    let out = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

/// Builds (when needed) the ASan unicorn and the ASan emulator; returns the binary.
pub fn build(root: &Path, rust: bool) -> Result<PathBuf> {
    if !unicorn::installed_variant(root, Variant::Asan) {
        println!("asan: building unicorn with -fsanitize=address (a few minutes)");
        unicorn::build_variant(root, Variant::Asan)?;
        // The -sys crate's rlib bundles the archive; cargo does not track it.
        for rust in [false, true] {
            let _ = unicorn::run(
                crate::cargo()
                    .args(["clean", "--quiet", "-p", unicorn::SYS_CRATE_NAME, "--release"])
                    .arg("--target-dir")
                    .arg(build_dir(root, rust))
                    .current_dir(root),
            );
        }
    }
    let triple = host_triple()?;
    let pc = unicorn::prefix_of(root, Variant::Asan).join("lib").join("pkgconfig");
    std::fs::create_dir_all(reports_dir(root))?;
    // rustc's own ASan runtime (compiler-rt, linked statically by -Zsanitizer) serves the
    // unicorn objects gcc instrumented too: the two share the runtime's interface. Without it,
    // gcc's runtime: rustc links with `-nodefaultlibs`, so `-fsanitize=address` at link time
    // adds nothing, and a `-l` of the crate comes before the C library's, which puts
    // libasan.so first among the needed libraries, as its interceptors require.
    let (flags, mut cmd) = if rust {
        // The toolchain is not one `cargo xtask deps` provides: say so rather than leave it
        // to rustup's own error halfway through.
        let listed = Command::new("rustup").args(["toolchain", "list"]).output();
        let has_nightly = listed.is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout).lines().any(|l| l.starts_with("nightly"))
        });
        if !has_nightly {
            bail!(
                "--rust needs rustup's nightly toolchain (stable rustc refuses -Zsanitizer): \
                 install it with `rustup toolchain install nightly`, or leave out --rust to \
                 instrument unicorn alone"
            );
        }
        let mut cmd = Command::new("cargo");
        cmd.arg("+nightly");
        ("-Zsanitizer=address", cmd)
    } else {
        ("-ldylib=asan", crate::cargo())
    };
    let target = build_dir(root, rust);
    cmd.args(["build", "--release", "-p", "elfvisor", "--bin", "elfvisor", "--features", "asan"])
        .arg("--target")
        .arg(&triple)
        .arg("--target-dir")
        .arg(&target)
        // `.cargo/config.toml` forces the normal unicorn's path; a command-line config wins.
        .arg("--config")
        .arg(format!(
            "env.PKG_CONFIG_PATH.value={:?}",
            pc.to_str().context("the workspace path is not UTF-8")?
        ))
        .args(["--config", "env.PKG_CONFIG_PATH.force=true"])
        .env("RUSTFLAGS", flags)
        .env("ELFVISOR_ASAN_OPTIONS", runtime_options(&reports_dir(root)))
        .current_dir(root)
        .stdin(Stdio::null());
    println!("asan: building the emulator ({flags})");
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("building the ASan emulator failed with {status}");
    }
    let bin = target.join(&triple).join("release").join("elfvisor");
    if !bin.is_file() {
        bail!("the build left no {}", bin.display());
    }
    Ok(bin)
}

/// Empties the report directory (before a run).
fn clear_reports(root: &Path) -> Result<()> {
    let dir = reports_dir(root);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))
}

/// The reports ASan wrote during a run: its log files that hold an error (`ERROR:`) or a
/// failed internal check. With `verbosity` raised in `ASAN_OPTIONS` every process also logs
/// notes there, which are not reports.
fn reports(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(reports_dir(root))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            std::fs::read_to_string(p)
                .is_ok_and(|text| text.contains("ERROR:") || text.contains("CHECK failed"))
        })
        .collect();
    found.sort();
    Ok(found)
}

pub fn run(opts: &Options) -> Result<ExitCode> {
    let root = elfvisor_conformance::paths::workspace_root();
    let bin = build(&root, opts.rust)?;
    let what = opts.what.as_ref().unwrap_or(&What::Conformance { filter: None });
    clear_reports(&root)?;
    let status = match what {
        What::Build => {
            println!("asan: {}", bin.display());
            return Ok(ExitCode::SUCCESS);
        }
        What::Conformance { filter } => {
            let mut cmd = crate::cargo();
            cmd.args(["test", "-p", "elfvisor-conformance", "--test", "conformance"])
                .arg("--")
                .arg(filter.as_deref().unwrap_or("elfvisor/"))
                .args(["--skip", "linux/", "--skip", "qemu-user/"]);
            cmd.env(elfvisor_conformance::elfvisor_lane::BIN_ENV, &bin);
            cmd.current_dir(&root).stdin(Stdio::null());
            println!(
                "asan: {cmd:?} with {}={}",
                elfvisor_conformance::elfvisor_lane::BIN_ENV,
                bin.display()
            );
            cmd.status().context("running the conformance trials")?
        }
        What::Run { args } => {
            let mut cmd = Command::new(&bin);
            cmd.args(args).current_dir(&root);
            cmd.status().with_context(|| format!("running {}", bin.display()))?
        }
    };
    let found = reports(&root)?;
    for report in &found {
        println!("asan: REPORT {}", report.display());
        if let Ok(text) = std::fs::read_to_string(report) {
            println!("{text}");
        }
    }
    if !found.is_empty() {
        bail!("AddressSanitizer reported {} error(s)", found.len());
    }
    println!("asan: no AddressSanitizer report ({status})");
    Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_runtime_options_make_every_report_fail_the_run() {
        let options = runtime_options(Path::new("/r"));
        let pairs: Vec<(&str, &str)> =
            options.split(':').map(|kv| kv.split_once('=').unwrap()).collect();
        for want in [
            ("detect_leaks", "0"),
            ("halt_on_error", "1"),
            ("exitcode", "86"),
            ("handle_segv", "0"),
            ("handle_sigbus", "0"),
            ("log_path", "/r/asan"),
        ] {
            assert!(pairs.contains(&want), "{want:?} not in {options}");
        }
    }

    #[test]
    fn test_the_asan_unicorn_has_its_own_prefix_and_marker() {
        let root = tempfile::tempdir().unwrap();
        assert_ne!(
            unicorn::prefix_of(root.path(), Variant::Asan),
            unicorn::prefix(root.path()),
            "the ASan build must never replace the normal one"
        );
        let lib = unicorn::prefix_of(root.path(), Variant::Asan).join("lib");
        std::fs::create_dir_all(lib.join("pkgconfig")).unwrap();
        std::fs::write(lib.join("libunicorn.a"), b"").unwrap();
        let pc = unicorn::pc_file_of(root.path(), Variant::Asan);
        let marker = format!("{}={}", "elfvisor_patch", unicorn::MARKER_VALUE_FOR_TESTS);
        std::fs::write(&pc, format!("Name: unicorn\n{marker}\n")).unwrap();
        assert!(!unicorn::installed_variant(root.path(), Variant::Asan), "no sanitizer marker");
        std::fs::write(&pc, format!("Name: unicorn\n{marker}\nelfvisor_sanitizer=address\n"))
            .unwrap();
        assert!(unicorn::installed_variant(root.path(), Variant::Asan));
        assert!(!unicorn::installed(root.path()), "the normal build is still missing");
    }
}
