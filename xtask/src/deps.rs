//! Provisioning: make this machine able to build and run every lane.
//!
//! On Debian and Ubuntu the missing packages are installed with apt (as root directly, otherwise
//! through `sudo -n`; without either the exact commands are printed), and Debian's arm64 kernel
//! and the prebuilt guest programs (busybox) are fetched with `apt-get download` into the
//! per-user cache. Elsewhere the missing pieces are listed. cargo-nextest, the unit tests' runner,
//! is built with `cargo install` when `cargo nextest` does not run. When everything is present
//! this only looks, which takes milliseconds (and one `cargo nextest --version`).
//!
//! Every need is detected by what its consumer really loads — the compiler and static libc the
//! guest build invokes, the library bindgen dlopens — and a probe reports the exact path it
//! matched, so `cargo xtask deps --check --explain` shows why each need counts as present.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use elfvisor_conformance::{guest::Libc, paths, program::Program};

/// What a probe found: the path (or command) that satisfies a need, or why nothing does.
type Found = std::result::Result<String, String>;

/// One thing the harness needs, the probe that finds it, and the packages that provide it.
struct Need {
    what: String,
    probe: Box<dyn Fn() -> Found>,
    packages: Vec<&'static str>,
}

fn command(name: &'static str) -> Box<dyn Fn() -> Found> {
    Box::new(move || {
        which::which(name)
            .map(|p| p.display().to_string())
            .map_err(|_| format!("no `{name}` on PATH"))
    })
}

/// A command that runs: `name args…` exits successfully (a stale alternative or a broken
/// install on PATH does not count).
fn runs(name: &'static str, args: &'static [&'static str]) -> Box<dyn Fn() -> Found> {
    Box::new(move || {
        let path = which::which(name).map_err(|_| format!("no `{name}` on PATH"))?;
        let ran = std::process::Command::new(&path)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("`{name}` does not start: {e}"))?;
        if ran.status.success() {
            Ok(path.display().to_string())
        } else {
            Err(format!("`{name} {}` failed with {}", args.join(" "), ran.status))
        }
    })
}

/// Every probe must find something; the evidence is each one's, joined.
fn all_present(probes: Vec<Box<dyn Fn() -> Found>>) -> Box<dyn Fn() -> Found> {
    Box::new(move || {
        let found: Vec<String> =
            probes.iter().map(|p| p()).collect::<std::result::Result<_, _>>()?;
        Ok(found.join(" + "))
    })
}

fn file(path: &'static str) -> Box<dyn Fn() -> Found> {
    Box::new(move || {
        if Path::new(path).is_file() { Ok(path.to_string()) } else { Err(format!("no {path}")) }
    })
}

/// Whether bindgen (through clang-sys's run-time loading) accepts a file of this name as
/// libclang: `libclang.so`, `libclang-V.so`, `libclang.so.V`, `libclang-V.so.W`. Not
/// `libclang-cpp.so.N`, the C++ library Debian ships in `libclang-cpp14`, which bindgen skips.
fn is_libclang_name(name: &str) -> bool {
    if name.contains("-cpp.") {
        return false;
    }
    let versioned = |v: &str| v.chars().next().is_some_and(|c| c.is_ascii_digit());
    if name == "libclang.so" {
        return true;
    }
    if let Some(version) = name.strip_prefix("libclang.so.") {
        return versioned(version);
    }
    let Some(rest) = name.strip_prefix("libclang-") else { return false };
    let version = rest.strip_suffix(".so").or_else(|| rest.split_once(".so.").map(|(v, _)| v));
    version.is_some_and(versioned)
}

/// Whether `path` is a 64-bit ELF file (clang-sys refuses a library of the other class).
fn is_elf64(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 5];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
        && head == *b"\x7fELF\x02"
}

/// The directories bindgen searches for libclang below `root` (`/` on a real system): `lib*`
/// directories of `usr` and `usr/local` and up to two levels below them, plus
/// `usr/local/llvm*/lib*`.
fn libclang_search_dirs(root: &Path) -> Vec<PathBuf> {
    let children = |dir: &Path, prefix: &str| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        found.sort();
        found
    };
    let mut dirs = Vec::new();
    for base in [root.join("usr/local"), root.join("usr")] {
        for lib in children(&base, "lib") {
            for sub in children(&lib, "") {
                dirs.extend(children(&sub, ""));
                dirs.push(sub);
            }
            dirs.push(lib);
        }
        if base.ends_with("local") {
            for llvm in children(&base, "llvm") {
                dirs.extend(children(&llvm, "lib"));
            }
        }
    }
    dirs
}

/// The libclang bindgen would load on a system rooted at `root`: `LIBCLANG_PATH` (a file or a
/// directory) when it is set, as bindgen does, otherwise the standard directories.
fn find_libclang(root: &Path, libclang_path: Option<&Path>) -> Found {
    let in_dir = |dir: &Path| -> Option<PathBuf> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter(|e| is_libclang_name(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .filter(|p| is_elf64(p))
            .collect();
        names.sort();
        names.into_iter().next()
    };
    if let Some(path) = libclang_path {
        let hit = if path.is_dir() {
            in_dir(path)
        } else {
            let named = path.file_name().is_some_and(|n| is_libclang_name(&n.to_string_lossy()));
            (named && is_elf64(path)).then(|| path.to_path_buf())
        };
        return hit.map(|p| p.display().to_string()).ok_or_else(|| {
            format!("LIBCLANG_PATH={} holds no libclang bindgen can load", path.display())
        });
    }
    libclang_search_dirs(root)
        .iter()
        .find_map(|d| in_dir(d))
        .map(|p| p.display().to_string())
        .ok_or_else(|| {
            "no libclang.so, libclang-V.so or libclang.so.V (libclang-cpp does not count)".into()
        })
}

fn libclang() -> Found {
    let env = std::env::var_os("LIBCLANG_PATH").filter(|p| !p.is_empty()).map(PathBuf::from);
    find_libclang(Path::new("/"), env.as_deref())
}

/// The cargo-nextest release `cargo xtask deps` installs when `cargo nextest` does not run
/// (`cargo xtask test` runs every unit test under it, with a hard per-test time limit).
pub const NEXTEST_VERSION: &str = "0.9.143";

/// The `cargo-nextest` that `cargo nextest` runs: cargo looks in `$CARGO_HOME/bin`, then `PATH`.
fn nextest_binary() -> Option<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let path = std::env::var_os("PATH").unwrap_or_default();
    cargo_home
        .map(|h| h.join("bin"))
        .into_iter()
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join("cargo-nextest"))
        .find(|p| p.is_file())
}

/// Whether `cargo nextest` runs: detected by running it, as `cargo xtask test` will.
pub fn nextest() -> Found {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["nextest", "--version"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    let version = String::from_utf8_lossy(&out.stdout);
    let version = version.lines().next().unwrap_or_default().trim();
    if !out.status.success() || !version.starts_with("cargo-nextest ") {
        return Err(format!("`{cargo} nextest --version` failed ({})", out.status));
    }
    let at = nextest_binary().map(|p| p.display().to_string()).unwrap_or_else(|| "?".into());
    Ok(format!("{version} ({at})"))
}

/// Builds and installs the pinned cargo-nextest (from crates.io, through cargo).
fn install_nextest() -> Result<()> {
    println!(
        "deps: building cargo-nextest {NEXTEST_VERSION} with `cargo install` (it takes several \
         minutes the first time)"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["install", "--locked", "cargo-nextest", "--version"])
        .arg(format!("={NEXTEST_VERSION}"))
        .stdin(Stdio::null())
        .status()
        .context("starting cargo install")?;
    if !status.success() {
        bail!(
            "`cargo install --locked cargo-nextest --version ={NEXTEST_VERSION}` failed with {status}"
        );
    }
    nextest().map_err(|why| anyhow::anyhow!("cargo-nextest was installed, but {why}"))?;
    Ok(())
}

fn needs() -> Vec<Need> {
    let static_libc = |libc: Libc| match libc {
        Libc::Musl => file("/usr/lib/aarch64-linux-musl/libc.a"),
        Libc::Glibc => file("/usr/aarch64-linux-gnu/lib/libc.a"),
    };
    let mut needs: Vec<Need> = Libc::ALL
        .iter()
        .map(|&libc| Need {
            what: format!("{} with a static {libc}", libc.compiler()),
            probe: all_present(vec![command(libc.compiler()), static_libc(libc)]),
            packages: libc.debian_packages().to_vec(),
        })
        .collect();
    let tools: [(&str, &'static str, &'static str); 4] = [
        ("qemu-aarch64 (the qemu-user lane)", "qemu-aarch64", "qemu-user"),
        ("qemu-system-aarch64 (the linux lane)", "qemu-system-aarch64", "qemu-system-arm"),
        ("cmake (builds unicorn)", "cmake", "cmake"),
        ("ninja (builds unicorn)", "ninja", "ninja-build"),
    ];
    for (what, cmd, package) in tools {
        needs.push(Need { what: what.into(), probe: command(cmd), packages: vec![package] });
    }
    needs.push(Need {
        what: "gdb-multiarch (drives `elfvisor --gdb` in its tests)".into(),
        probe: runs("gdb-multiarch", &["--batch", "-ex", "set architecture aarch64"]),
        packages: vec!["gdb-multiarch"],
    });
    needs.push(Need {
        what: "chromium (renders the conformance report in its screenshot test)".into(),
        probe: runs("chromium", &["--version"]),
        packages: vec!["chromium"],
    });
    needs.push(Need {
        what: "go (builds the `program: {go: …}` guests)".into(),
        probe: runs("go", &["version"]),
        packages: vec![elfvisor_conformance::go::DEBIAN_PACKAGE],
    });
    needs.push(Need {
        what: "pkg-config (finds the patched unicorn)".into(),
        probe: command("pkg-config"),
        packages: vec!["pkg-config"],
    });
    needs.push(Need {
        what: "libclang (bindgen)".into(),
        probe: Box::new(libclang),
        packages: vec!["libclang-dev"],
    });
    needs.push(Need {
        what: "dpkg-deb and apt-get (fetch the arm64 kernel and busybox)".into(),
        probe: all_present(vec![command("dpkg-deb"), command("apt-get")]),
        packages: vec!["dpkg", "apt"],
    });
    needs
}

/// How privileged commands are run here.
enum Privilege {
    Root,
    Sudo,
    None,
}

fn privilege() -> Privilege {
    if nix::unistd::geteuid().is_root() {
        return Privilege::Root;
    }
    let sudo_ok = Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if sudo_ok { Privilege::Sudo } else { Privilege::None }
}

fn is_debian_like() -> bool {
    let Ok(text) = std::fs::read_to_string("/etc/os-release") else { return false };
    text.lines().any(|line| {
        (line.starts_with("ID=") || line.starts_with("ID_LIKE="))
            && (line.contains("debian") || line.contains("ubuntu"))
    }) && which::which("apt-get").is_ok()
}

/// Runs a command that needs root, with sudo when that is how this user gets it.
fn run_privileged(privilege: &Privilege, argv: &[&str]) -> Result<()> {
    let mut cmd = match privilege {
        Privilege::Root => Command::new(argv[0]),
        Privilege::Sudo => {
            let mut c = Command::new("sudo");
            c.arg("-n").arg(argv[0]);
            c
        }
        Privilege::None => unreachable!("callers only run privileged commands with a privilege"),
    };
    cmd.args(&argv[1..]).env("DEBIAN_FRONTEND", "noninteractive").stdin(Stdio::null());
    println!("deps: running {}", argv.join(" "));
    let status = cmd.status().with_context(|| format!("starting {}", argv[0]))?;
    if !status.success() {
        bail!("`{}` failed with {status}", argv.join(" "));
    }
    Ok(())
}

fn arm64_enabled() -> bool {
    Command::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "arm64"))
}

/// The commands that install `packages`, in order.
fn install_commands(packages: &[&str]) -> Vec<Vec<String>> {
    let mut cmds = Vec::new();
    if packages.iter().any(|p| p.ends_with(":arm64")) && !arm64_enabled() {
        cmds.push(vec!["dpkg".into(), "--add-architecture".into(), "arm64".into()]);
    }
    cmds.push(vec!["apt-get".into(), "update".into()]);
    let mut install: Vec<String> =
        ["apt-get", "install", "-y", "--no-install-recommends"].map(String::from).to_vec();
    install.extend(packages.iter().map(|p| p.to_string()));
    cmds.push(install);
    cmds
}

/// Makes sure everything is present; with `check_only`, just reports. With `explain`, every
/// probe and the exact path it matched (or why it matched nothing) is printed first, so a wrong
/// match — something installed by hand and never by this script — shows in every CI log.
pub fn provision(check_only: bool, explain: bool) -> Result<ExitCode> {
    let all = needs();
    let found: Vec<Found> = all.iter().map(|n| (n.probe)()).collect();
    let kernel = paths::kernel_image();
    let kernel_missing = !kernel.is_file();
    let programs_missing: Vec<Program> =
        Program::FETCHED.into_iter().filter(|p| !p.path().is_file()).collect();
    let sysroot = paths::sysroot();
    // What the harness loads from it: the manifest and the interpreter every program starts in.
    let sysroot_missing = elfvisor_conformance::sysroot::unavailable(&sysroot);
    // The `postgres` set of the daemon family's PostgreSQL cases, a tree of its own.
    let postgres = paths::sysroot_of(Some("postgres"));
    let postgres_missing = crate::sysroot::unready(crate::sysroot::Set::Postgres, &postgres);
    let root = paths::workspace_root();
    let unicorn_missing = !crate::unicorn::installed(&root);
    let nextest = nextest();
    if explain {
        let show = |what: &str, found: &Found| match found {
            Ok(path) => println!("deps: probe {what}: found {path}"),
            Err(why) => println!("deps: probe {what}: MISSING ({why})"),
        };
        for (need, found) in all.iter().zip(&found) {
            show(&need.what, found);
        }
        let file_probe = |what: &str, path: &Path| {
            let state = if path.is_file() { "found" } else { "MISSING at" };
            println!("deps: probe {what}: {state} {}", path.display());
        };
        file_probe("the arm64 kernel", &kernel);
        for program in Program::FETCHED {
            file_probe(&program.to_string(), &program.path());
        }
        match &sysroot_missing {
            None => println!(
                "deps: probe the arm64 sysroot: found {} and {}",
                sysroot.join(elfvisor_conformance::sysroot::MANIFEST).display(),
                elfvisor_conformance::sysroot::resolve(
                    &sysroot,
                    elfvisor_conformance::sysroot::INTERPRETER
                )
                .display()
            ),
            Some(why) => println!("deps: probe the arm64 sysroot: MISSING ({why})"),
        }
        match &postgres_missing {
            None => println!("deps: probe the postgres sysroot: found {}", postgres.display()),
            Some(why) => println!("deps: probe the postgres sysroot: MISSING ({why})"),
        }
        let unicorn = crate::unicorn::pc_file(&root);
        let state = if unicorn_missing { "MISSING or stale at" } else { "found" };
        println!("deps: probe elfvisor's patched unicorn: {state} {}", unicorn.display());
        show("cargo-nextest (runs the unit tests)", &nextest);
    }
    let missing: Vec<&Need> =
        all.iter().zip(&found).filter(|(_, f)| f.is_err()).map(|(n, _)| n).collect();
    // Everything but cargo-nextest, which cargo builds on any system.
    let rest_present = missing.is_empty()
        && !kernel_missing
        && programs_missing.is_empty()
        && sysroot_missing.is_none()
        && postgres_missing.is_none()
        && !unicorn_missing;
    if rest_present && nextest.is_ok() {
        println!("deps: everything is present");
        return Ok(ExitCode::SUCCESS);
    }
    for need in &missing {
        println!("deps: missing {} (Debian: {})", need.what, need.packages.join(" "));
    }
    if kernel_missing {
        println!("deps: missing the arm64 kernel at {}", kernel.display());
    }
    for program in &programs_missing {
        println!(
            "deps: missing {program} at {} (Debian: {})",
            program.path().display(),
            program.debian_package()
        );
    }
    if sysroot_missing.is_some() {
        println!("deps: missing the arm64 sysroot at {}", sysroot.display());
    }
    if let Some(why) = &postgres_missing {
        println!("deps: missing the postgres sysroot at {} ({why})", postgres.display());
    }
    if unicorn_missing {
        println!(
            "deps: missing elfvisor's patched unicorn in {}",
            crate::unicorn::prefix(&root).display()
        );
    }
    if let Err(why) = &nextest {
        println!("deps: missing cargo-nextest {NEXTEST_VERSION} ({why}; cargo install builds it)");
    }
    if check_only {
        return Ok(ExitCode::FAILURE);
    }
    if nextest.is_err() {
        install_nextest()?;
        if rest_present {
            println!("deps: everything is present");
            return Ok(ExitCode::SUCCESS);
        }
    }
    if !is_debian_like() {
        bail!(
            "this is not a Debian or Ubuntu system: install the pieces listed above with your \
             package manager (an aarch64 Linux kernel Image can be named with ELFVISOR_KERNEL, \
             a static aarch64 busybox with {}), then run `cargo xtask deps` again to build the \
             patched unicorn",
            paths::BUSYBOX_ENV
        );
    }
    let privilege = privilege();
    let mut packages: Vec<&str> = missing.iter().flat_map(|n| n.packages.iter().copied()).collect();
    packages.dedup();
    let needs_arm64_lists = (kernel_missing || !programs_missing.is_empty()) && !arm64_enabled();
    if !packages.is_empty() || needs_arm64_lists {
        let cmds = if packages.is_empty() {
            vec![
                vec!["dpkg".to_string(), "--add-architecture".into(), "arm64".into()],
                vec!["apt-get".into(), "update".into()],
            ]
        } else {
            install_commands(&packages)
        };
        if let Privilege::None = privilege {
            let lines: Vec<String> =
                cmds.iter().map(|c| format!("  sudo {}", c.join(" "))).collect();
            bail!("installing needs root; run these, then try again:\n{}", lines.join("\n"));
        }
        for cmd in &cmds {
            let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
            run_privileged(&privilege, &argv)?;
        }
        let still: Vec<String> = needs()
            .into_iter()
            .filter_map(|n| (n.probe)().err().map(|why| format!("{} ({why})", n.what)))
            .collect();
        if !still.is_empty() {
            bail!("still missing after installing: {}", still.join(", "));
        }
    }
    if kernel_missing {
        fetch_kernel(&kernel)?;
    }
    for program in programs_missing {
        fetch_program(&program)?;
    }
    if sysroot_missing.is_some() {
        if std::env::var_os(paths::SYSROOT_ENV).is_some_and(|s| !s.is_empty()) {
            bail!(
                "{} names {}, which holds no usable sysroot",
                paths::SYSROOT_ENV,
                sysroot.display()
            );
        }
        println!("deps: building the arm64 sysroot (cargo xtask sysroot)");
        crate::sysroot::run(&crate::sysroot::Options::default())?;
    }
    if postgres_missing.is_some() {
        let env = paths::sysroot_env("postgres");
        if std::env::var_os(&env).is_some_and(|s| !s.is_empty()) {
            // A tree named by hand is finished (its user database), never built over.
            crate::sysroot::finish(crate::sysroot::Set::Postgres, &postgres)?;
        } else {
            println!("deps: building the postgres sysroot (cargo xtask sysroot --set postgres)");
            let opts = crate::sysroot::Options {
                set: crate::sysroot::Set::Postgres,
                packages: vec![],
                dir: None,
            };
            crate::sysroot::run(&opts)?;
        }
    }
    if unicorn_missing {
        println!("deps: building elfvisor's patched unicorn (cmake + ninja, a few minutes)");
        crate::unicorn::build(&root)?;
    }
    println!("deps: everything is present");
    Ok(ExitCode::SUCCESS)
}

fn output_of(cmd: &mut Command) -> Result<String> {
    let out = cmd.stderr(Stdio::inherit()).output().with_context(|| format!("starting {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed with {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The versioned kernel package that Debian's `linux-image-arm64` currently depends on.
fn kernel_package() -> Result<String> {
    let text = output_of(Command::new("apt-cache").args(["depends", "linux-image-arm64:arm64"]))?;
    parse_kernel_package(&text).with_context(|| {
        format!("apt-cache names no kernel package for linux-image-arm64:arm64:\n{text}")
    })
}

fn parse_kernel_package(apt_cache_depends: &str) -> Option<String> {
    apt_cache_depends.lines().find_map(|line| {
        let dep = line.trim().strip_prefix("Depends: ")?;
        let name = dep.trim_start_matches('<').trim_end_matches('>');
        name.starts_with("linux-image-").then(|| name.to_string())
    })
}

/// Downloads the kernel package and keeps only its `vmlinuz` at `dest`.
fn fetch_kernel(dest: &Path) -> Result<()> {
    if std::env::var_os("ELFVISOR_KERNEL").is_some() {
        bail!("ELFVISOR_KERNEL names {}, which does not exist", dest.display());
    }
    let package = kernel_package()?;
    fetch_deb_member(&package, "./boot/vmlinuz-*", dest)
}

/// Downloads the package that ships a prebuilt guest program and keeps only the program.
fn fetch_program(program: &Program) -> Result<()> {
    let dest = program.path();
    if std::env::var_os(program.path_env()).is_some_and(|p| !p.is_empty()) {
        bail!("{} names {}, which does not exist", program.path_env(), dest.display());
    }
    fetch_deb_member(program.debian_package(), program.package_member(), &dest)
}

/// Downloads a Debian package with `apt-get download` and keeps only its one file matching
/// `member` (a tar wildcard such as `./boot/vmlinuz-*`) at `dest`, with a `PACKAGE` file beside
/// it naming the package and version. `dest` appears whole or not at all.
fn fetch_deb_member(package: &str, member: &str, dest: &Path) -> Result<()> {
    println!("deps: fetching {package} for its {member}");
    let work = tempfile::tempdir().context("creating a temporary directory")?;
    // apt-get drops to its `_apt` user to download when it can enter the directory.
    std::fs::set_permissions(work.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let status = Command::new("apt-get")
        .args(["download", package])
        .current_dir(work.path())
        .stdin(Stdio::null())
        .status()
        .context("starting apt-get download")?;
    if !status.success() {
        bail!("`apt-get download {package}` failed with {status}");
    }
    let deb = find_with_suffix(work.path(), ".deb")?.context("apt-get download left no .deb")?;
    let version = output_of(Command::new("dpkg-deb").arg("--field").arg(&deb).arg("Version"))?;
    let extract = work.path().join("x");
    std::fs::create_dir(&extract)?;
    let script = "dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" --wildcards \"$3\"";
    let status = Command::new("sh")
        .args(["-c", script, "sh"])
        .arg(&deb)
        .arg(&extract)
        .arg(member)
        .status()
        .context("starting dpkg-deb")?;
    if !status.success() {
        bail!("extracting {member} from {} failed with {status}", deb.display());
    }
    let found = regular_files(&extract)?;
    let [file] = found.as_slice() else {
        bail!("{package} holds {} files matching {member}, not one", found.len());
    };
    let dir = dest.parent().context("the destination has a parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let partial = dir.join(".partial");
    std::fs::copy(file, &partial).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::write(dir.join("PACKAGE"), format!("{package} {}\n", version.trim()))?;
    std::fs::rename(&partial, dest).with_context(|| format!("writing {}", dest.display()))?;
    println!("deps: {package} {} -> {}", version.trim(), dest.display());
    Ok(())
}

/// Every regular file under `dir`, recursively.
fn regular_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            files.extend(regular_files(&entry.path())?);
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    Ok(files)
}

fn find_with_suffix(dir: &Path, suffix: &str) -> Result<Option<PathBuf>> {
    Ok(std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(suffix))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty file with an ELF64 header, as a library bindgen could load.
    fn fake_library(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"\x7fELF\x02\x01\x01").unwrap();
    }

    #[test]
    fn test_libclang_cpp_alone_is_not_libclang() {
        let root = tempfile::tempdir().unwrap();
        fake_library(&root.path().join("usr/lib/x86_64-linux-gnu/libclang-cpp.so.14"));
        fake_library(&root.path().join("usr/lib/llvm-14/lib/libclang-cpp.so.14"));
        let found = find_libclang(root.path(), None);
        assert!(found.is_err(), "libclang-cpp counted as libclang: {found:?}");
    }

    #[test]
    fn test_libclang_is_found_where_bindgen_looks() {
        let root = tempfile::tempdir().unwrap();
        fake_library(&root.path().join("usr/lib/x86_64-linux-gnu/libclang-cpp.so.14"));
        let lib = root.path().join("usr/lib/llvm-14/lib/libclang-14.so.1");
        fake_library(&lib);
        assert_eq!(find_libclang(root.path(), None), Ok(lib.display().to_string()));
    }

    #[test]
    fn test_libclang_names_and_classes() {
        for name in ["libclang.so", "libclang.so.1", "libclang-14.so", "libclang-14.so.14.0.6"] {
            assert!(is_libclang_name(name), "{name}");
        }
        for name in ["libclang-cpp.so.14", "libclang-cpp.so", "libclangBasic.a", "libclang.a"] {
            assert!(!is_libclang_name(name), "{name}");
        }
        let root = tempfile::tempdir().unwrap();
        let text = root.path().join("usr/lib/libclang.so");
        std::fs::create_dir_all(text.parent().unwrap()).unwrap();
        std::fs::write(&text, "INPUT(-lclang)\n").unwrap();
        assert!(find_libclang(root.path(), None).is_err(), "a linker script is no library");
    }

    #[test]
    fn test_libclang_path_overrides_the_search() {
        let root = tempfile::tempdir().unwrap();
        fake_library(&root.path().join("usr/lib/libclang.so"));
        let elsewhere = root.path().join("opt/clang");
        std::fs::create_dir_all(&elsewhere).unwrap();
        assert!(find_libclang(root.path(), Some(&elsewhere)).is_err());
        let lib = elsewhere.join("libclang.so.18");
        fake_library(&lib);
        assert_eq!(find_libclang(root.path(), Some(&elsewhere)), Ok(lib.display().to_string()));
    }

    #[test]
    fn test_parse_kernel_package() {
        let text = "linux-image-arm64:arm64\n  Depends: linux-image-6.1.0-56-arm64:arm64\n";
        assert_eq!(parse_kernel_package(text).as_deref(), Some("linux-image-6.1.0-56-arm64:arm64"));
        assert_eq!(parse_kernel_package("linux-image-arm64:arm64\n"), None);
    }

    #[test]
    fn test_regular_files_walks_the_extracted_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin/empty")).unwrap();
        std::fs::write(dir.path().join("bin/busybox"), b"ELF").unwrap();
        assert_eq!(regular_files(dir.path()).unwrap(), [dir.path().join("bin/busybox")]);
    }

    #[test]
    fn test_install_commands_end_with_one_install() {
        let cmds = install_commands(&["cmake", "qemu-user"]);
        let last = cmds.last().unwrap();
        assert_eq!(last[..4], ["apt-get", "install", "-y", "--no-install-recommends"]);
        assert_eq!(last[4..], ["cmake", "qemu-user"]);
        assert!(cmds.iter().any(|c| c == &["apt-get", "update"]));
    }
}
