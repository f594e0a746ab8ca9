//! The `linux` lane, the gold: every selected case runs on a real Debian arm64 kernel booted once
//! under `qemu-system-aarch64`, from an initramfs holding the guest binaries and a small `/init`
//! (`runners/linux/init.c`) that runs them and reports on the serial console.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cpio::CpioWriter;
use crate::error::{Error, IoContext, Result};
use crate::hostrun::{GRACE, PipeReader, reap};
use crate::lane::{RunOutput, Status};

const QEMU_SYSTEM: &str = "qemu-system-aarch64";
const MARK: &str = "@@ELFVISOR ";

/// Why the lane cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if which::which(QEMU_SYSTEM).is_err() {
        return Some(format!(
            "{QEMU_SYSTEM} is not installed: run `cargo xtask deps` (installs qemu-system-arm)"
        ));
    }
    let kernel = crate::paths::kernel_image();
    if !kernel.is_file() {
        return Some(format!(
            "no arm64 kernel at {}: run `cargo xtask deps` (fetches Debian's linux-image-arm64)",
            kernel.display()
        ));
    }
    None
}

/// One case to run in the batch.
#[derive(Debug, Clone)]
pub struct BatchCase {
    /// Unique within the batch, without spaces: `<libc>/<family>/<case>`.
    pub id: String,
    pub binary: Executable,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin: Vec<u8>,
    /// Files `/init` creates in the case's working directory before it runs: name → text.
    pub files: BTreeMap<String, String>,
    /// A tmpfs `/init` mounts in the working directory: its directory and size in KiB.
    pub tmpfs: Option<crate::fixture::Tmpfs>,
    pub timeout_s: u32,
    /// The user id (and group id) `/init` runs the case as, giving it the case's directory;
    /// `None`: root.
    pub user: Option<u32>,
}

/// The sysroot one boot carries for its [`Executable::Sysroot`] cases: the default one, or a
/// named set ([`crate::sysroot::SETS`]) in a boot of its own, with the memory that set needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootSysroot {
    /// The named set, `None` for the default sysroot.
    pub set: Option<String>,
    pub root: PathBuf,
}

impl BootSysroot {
    /// The sysroot of the set `set` (`None`: the default one), where the harness finds it.
    pub fn of(set: Option<&str>) -> BootSysroot {
        BootSysroot { set: set.map(str::to_owned), root: crate::paths::sysroot_of(set) }
    }

    /// What its packed archive is called (`sysroot`, `sysroot-postgres`).
    fn archive_name(&self) -> String {
        match &self.set {
            None => "sysroot".to_owned(),
            Some(set) => format!("sysroot-{set}"),
        }
    }

    /// What the boot's own files are called after: `initramfs.cpio` and `console.log` for the
    /// default boot, `initramfs-postgres.cpio` and `console-postgres.log` for a set's.
    fn file(&self, stem: &str, extension: &str) -> String {
        match &self.set {
            None => format!("{stem}.{extension}"),
            Some(set) => format!("{stem}-{set}.{extension}"),
        }
    }

    /// The VM's memory in MiB when the boot carries this tree.
    fn vm_memory_mib(&self) -> u32 {
        self.set
            .as_deref()
            .and_then(crate::sysroot::set)
            .map_or(crate::sysroot::DEFAULT_VM_MEMORY_MIB, |s| s.vm_memory_mib)
    }
}

/// What a case of the batch runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executable {
    /// A host file, packed into the initramfs under `/guests/`.
    Packed(PathBuf),
    /// A program of the sysroot, run by its own path: the boot then carries the whole sysroot.
    Sysroot(String),
    /// The program of a dynamic case's tree (a host path inside it): the whole tree is packed
    /// under `/guests/`, keeping its layout, and the boot carries the C libraries' root
    /// ([`crate::dynamic::libc_root`]).
    Tree(PathBuf),
}

/// What a boot produced: a result for every case that reported, and the raw console log.
#[derive(Debug)]
pub struct BatchResult {
    pub runs: BTreeMap<String, RunOutput>,
    pub console_log: PathBuf,
    pub elapsed: Duration,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds the initramfs: `/init`, the binaries under `/guests/`, each case's stdin and files
/// under `/cases/`, and `/cases/manifest`.
pub fn initramfs(init: &Path, cases: &[BatchCase]) -> Result<Vec<u8>> {
    let read = |p: &Path| std::fs::read(p).context(|| format!("reading {}", p.display()));
    let mut cpio = CpioWriter::new();
    cpio.file("/init", 0o755, &read(init)?);
    for dir in ["/cases", "/guests", "/proc", "/dev", "/tmp"] {
        cpio.dir(dir, 0o755);
    }
    let mut manifest = String::new();
    let mut packed: BTreeMap<&Path, String> = BTreeMap::new();
    for (n, case) in cases.iter().enumerate() {
        if case.id.contains(char::is_whitespace) {
            return Err(Error::Boot(format!("case id {:?} contains white space", case.id)));
        }
        let next = packed.len();
        let guest_path = match &case.binary {
            Executable::Sysroot(path) => path.clone(),
            Executable::Packed(binary) => match packed.get(binary.as_path()) {
                Some(path) => path.clone(),
                None => {
                    let path = format!("/guests/{next}");
                    cpio.file(&path, 0o755, &read(binary)?);
                    packed.insert(binary, path.clone());
                    path
                }
            },
            Executable::Tree(program) => match packed.get(program.as_path()) {
                Some(path) => path.clone(),
                None => {
                    let dir = format!("/guests/{next}");
                    let tree = program.parent().unwrap_or(Path::new("."));
                    pack_dir(&mut cpio, tree, &dir)?;
                    let name = program.file_name().unwrap_or_default().to_string_lossy();
                    let path = format!("{dir}/{name}");
                    packed.insert(program, path.clone());
                    path
                }
            },
        };
        manifest
            .push_str(&format!("case {}\nbin {guest_path}\ntimeout {}\n", case.id, case.timeout_s));
        if let Some(user) = case.user {
            manifest.push_str(&format!("user {user}\n"));
        }
        for arg in &case.argv {
            manifest.push_str(&format!("arg {}\n", hex(arg.as_bytes())));
        }
        for (key, value) in &case.env {
            manifest.push_str(&format!("env {}\n", hex(format!("{key}={value}").as_bytes())));
        }
        if !case.stdin.is_empty() {
            let path = format!("/cases/{n}.stdin");
            cpio.file(&path, 0o644, &case.stdin);
            manifest.push_str(&format!("stdin {path}\n"));
        }
        for (k, (name, text)) in case.files.iter().enumerate() {
            let path = format!("/cases/{n}.file{k}");
            cpio.file(&path, 0o644, text.as_bytes());
            manifest.push_str(&format!("file {} {path}\n", hex(name.as_bytes())));
        }
        if let Some(tmpfs) = &case.tmpfs {
            manifest.push_str(&format!("tmpfs {} {}\n", hex(tmpfs.dir.as_bytes()), tmpfs.size_kib));
        }
        manifest.push_str("run\n");
    }
    cpio.file("/cases/manifest", 0o644, manifest.as_bytes());
    Ok(cpio.finish())
}

/// Packs the directory `host` as `guest`, its subdirectories, files (modes kept) and symlinks
/// included, in name order.
fn pack_dir(cpio: &mut CpioWriter, host: &Path, guest: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    cpio.dir(guest, 0o755);
    let mut names: Vec<PathBuf> = std::fs::read_dir(host)
        .context(|| format!("reading {}", host.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .context(|| format!("reading {}", host.display()))?;
    names.sort();
    for path in names {
        let meta =
            std::fs::symlink_metadata(&path).context(|| format!("reading {}", path.display()))?;
        let name = format!("{guest}/{}", path.file_name().unwrap_or_default().to_string_lossy());
        if meta.is_dir() {
            pack_dir(cpio, &path, &name)?;
        } else if meta.file_type().is_symlink() {
            let target =
                std::fs::read_link(&path).context(|| format!("reading {}", path.display()))?;
            cpio.symlink(&name, &target.to_string_lossy());
        } else {
            let data = std::fs::read(&path).context(|| format!("reading {}", path.display()))?;
            cpio.file(&name, meta.permissions().mode() & 0o7777, &data);
        }
    }
    Ok(())
}

/// The time limit of one boot that runs cases with these time limits: the boot itself, plus
/// every case's own limit, plus slack for the emulated kernel's work between them.
pub fn boot_limit(timeouts_s: impl IntoIterator<Item = u32>) -> Duration {
    let total: u64 = timeouts_s.into_iter().map(|t| u64::from(t) + 2).sum();
    Duration::from_secs(120 + total)
}

/// The qemu-system command that boots the kernel with `initrd`, its console on stdout.
pub fn boot_command(initrd: &Path, memory_mib: u32) -> Command {
    let mut cmd = Command::new(QEMU_SYSTEM);
    cmd.args(["-M", "virt", "-cpu", "max,pauth-impdef=on", "-smp", "2", "-m"])
        .arg(memory_mib.to_string())
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio", "-nic", "none"])
        .args(["-no-reboot", "-kernel"])
        .arg(crate::paths::kernel_image())
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyAMA0 quiet loglevel=1 panic=-1 rdinit=/init"]);
    cmd
}

/// Writes the initramfs for `cases` to `initrd`, with `sysroot` for the cases that run its
/// programs; answers the VM's memory in MiB.
pub fn write_initramfs(
    init: &Path,
    cases: &[BatchCase],
    initrd: &Path,
    sysroot: &BootSysroot,
) -> Result<u32> {
    let out_dir = initrd.parent().unwrap_or(Path::new("."));
    let mut archive = initramfs(init, cases)?;
    // Sysroot programs need the whole sysroot: its cached compressed archive follows the cases'
    // (the kernel unpacks concatenated archives in turn, each compressed or not), and its
    // unpacked files live in the VM's RAM beside the archive until that is freed.
    let with_sysroot = cases.iter().any(|c| matches!(c.binary, Executable::Sysroot(_)));
    // Dynamic guests need their C libraries' root, a few megabytes, cached the same way. It
    // shares the sysroot's paths and files where the two meet, so their order does not matter.
    if cases.iter().any(|c| matches!(c.binary, Executable::Tree(_))) {
        let root = crate::dynamic::libc_root().map_err(Error::Boot)?;
        let part = crate::sysroot::packed_tree(&root, out_dir, "libc-root")?;
        archive.extend(std::fs::read(&part).context(|| format!("reading {}", part.display()))?);
    }
    if with_sysroot {
        let part = crate::sysroot::initramfs_part(&sysroot.root, out_dir, &sysroot.archive_name())?;
        archive.extend(std::fs::read(&part).context(|| format!("reading {}", part.display()))?);
    }
    std::fs::write(initrd, archive).context(|| format!("writing {}", initrd.display()))?;
    Ok(if with_sysroot { sysroot.vm_memory_mib() } else { crate::sysroot::BARE_VM_MEMORY_MIB })
}

/// Boots the kernel once and runs every case in it, with `sysroot` for the cases that run its
/// programs.
pub fn run_batch(init: &Path, cases: &[BatchCase], sysroot: &BootSysroot) -> Result<BatchResult> {
    if let Some(why) = unavailable() {
        return Err(Error::Boot(why));
    }
    let out_dir = crate::paths::output_dir().join("linux");
    std::fs::create_dir_all(&out_dir).context(|| format!("creating {}", out_dir.display()))?;
    let initrd = out_dir.join(sysroot.file("initramfs", "cpio"));
    let memory = write_initramfs(init, cases, &initrd, sysroot)?;
    let console_log = out_dir.join(sysroot.file("console", "log"));

    let started = Instant::now();
    let mut child = boot_command(&initrd, memory)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context(|| format!("starting {QEMU_SYSTEM}"))?;
    let stdout = PipeReader::start(child.stdout.take().expect("stdout is piped"));
    let stderr = PipeReader::start(child.stderr.take().expect("stderr is piped"));
    let limit = boot_limit(cases.iter().map(|c| c.timeout_s));
    let mut timed_out = false;
    if reap(&mut child, limit).context(|| format!("waiting for {QEMU_SYSTEM}"))?.is_none() {
        timed_out = true;
        let _ = child.kill();
        // Bounded too: a qemu stuck in an uninterruptible sleep must not hang the harness.
        let _ = reap(&mut child, GRACE);
    }
    let drained = Instant::now() + GRACE;
    let (console, _) = stdout.finish(drained);
    let (errors, _) = stderr.finish(drained);
    std::fs::write(&console_log, &console)
        .context(|| format!("writing {}", console_log.display()))?;
    let text = String::from_utf8_lossy(&console);
    if !text.contains("@@ELFVISOR BOOTED") {
        return Err(Error::Boot(format!(
            "the kernel never started /init{} (console: {}; qemu said: {})",
            if timed_out { " before the time limit" } else { "" },
            console_log.display(),
            String::from_utf8_lossy(&errors).trim()
        )));
    }
    let runs = parse_console(&text)?;
    if timed_out && !text.contains("@@ELFVISOR DONE") {
        return Err(Error::Boot(format!(
            "the boot passed its {}s limit after {} of {} cases (console: {})",
            limit.as_secs(),
            runs.len(),
            cases.len(),
            console_log.display()
        )));
    }
    Ok(BatchResult { runs, console_log, elapsed: started.elapsed() })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Reads the framed reports of `/init` out of the console text. Kernel messages and CRs around
/// them are ignored; a garbled frame is an error rather than a silently wrong transcript.
pub fn parse_console(text: &str) -> Result<BTreeMap<String, RunOutput>> {
    let mut runs = BTreeMap::new();
    let mut current: Option<(String, Vec<u8>, Vec<u8>)> = None;
    for line in text.lines() {
        let Some(at) = line.find(MARK) else { continue };
        let rest = line[at + MARK.len()..].trim_end_matches('\r');
        let mut words = rest.split(' ');
        let garbled = || Error::Boot(format!("garbled report line from /init: {line:?}"));
        match words.next() {
            Some("BEGIN") => {
                let id = words.next().ok_or_else(garbled)?;
                current = Some((id.to_owned(), Vec::new(), Vec::new()));
            }
            Some(tag @ ("OUT" | "ERR")) => {
                let (_, out, err) = current.as_mut().ok_or_else(garbled)?;
                let bytes = unhex(words.next().unwrap_or_default()).ok_or_else(garbled)?;
                if tag == "OUT" { out } else { err }.extend_from_slice(&bytes);
            }
            Some("END") => {
                let (id, stdout, stderr) = current.take().ok_or_else(garbled)?;
                if words.next() != Some(id.as_str()) {
                    return Err(garbled());
                }
                let number = |w: Option<&str>| w.and_then(|n| n.parse::<i64>().ok());
                let status = match words.next() {
                    Some("exit") => {
                        Status::Exited(number(words.next()).ok_or_else(garbled)? as i32)
                    }
                    Some("signal") => {
                        Status::Signaled(number(words.next()).ok_or_else(garbled)? as u8)
                    }
                    Some("timeout") => Status::TimedOut,
                    Some("harness-error") => {
                        return Err(Error::Boot(format!("/init could not run {id}: {rest}")));
                    }
                    _ => return Err(garbled()),
                };
                runs.insert(id, RunOutput { stdout, stderr, status });
            }
            _ => {}
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_console_reads_frames_among_kernel_noise() {
        let console = "[    0.5] some kernel line\r\n@@ELFVISOR BOOTED\r\n\
            @@ELFVISOR BEGIN musl/a/b\r\n@@ELFVISOR OUT 6f6b\r\n@@ELFVISOR OUT 0a\r\n\
            [    1.2] another\r\n@@ELFVISOR ERR 6521\r\n@@ELFVISOR END musl/a/b exit 3\r\n\
            @@ELFVISOR BEGIN glibc/a/b\r\n@@ELFVISOR END glibc/a/b signal 11\r\n\
            @@ELFVISOR BEGIN glibc/a/c\r\n@@ELFVISOR END glibc/a/c timeout\r\n@@ELFVISOR DONE\r\n";
        let runs = parse_console(console).unwrap();
        assert_eq!(runs.len(), 3);
        let first = &runs["musl/a/b"];
        assert_eq!(first.stdout, b"ok\n");
        assert_eq!(first.stderr, b"e!");
        assert_eq!(first.status, Status::Exited(3));
        assert_eq!(runs["glibc/a/b"].status, Status::Signaled(11));
        assert_eq!(runs["glibc/a/c"].status, Status::TimedOut);
    }

    #[test]
    fn test_parse_console_rejects_garbled_frames() {
        let bad_hex = "@@ELFVISOR BEGIN x\n@@ELFVISOR OUT 6g\n@@ELFVISOR END x exit 0\n";
        assert!(matches!(parse_console(bad_hex), Err(Error::Boot(m)) if m.contains("garbled")));
        let wrong_end = "@@ELFVISOR BEGIN x\n@@ELFVISOR END y exit 0\n";
        assert!(parse_console(wrong_end).is_err());
        let orphan = "@@ELFVISOR OUT 00\n";
        assert!(parse_console(orphan).is_err());
    }

    #[test]
    fn test_initramfs_manifest_encodes_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let init = dir.path().join("init");
        let bin = dir.path().join("bin");
        std::fs::write(&init, b"INIT").unwrap();
        std::fs::write(&bin, b"BIN").unwrap();
        let case = BatchCase {
            id: "musl/f/c".into(),
            binary: Executable::Packed(bin.clone()),
            argv: vec!["c".into(), "two words".into()],
            env: vec![("A".into(), "b c".into())],
            stdin: b"in".to_vec(),
            files: BTreeMap::from([("b.txt".into(), "BEE".into()), ("a".into(), "AY".into())]),
            tmpfs: None,
            timeout_s: 7,
            user: Some(65534),
        };
        let other = BatchCase {
            id: "glibc/f/c".into(),
            tmpfs: Some(crate::fixture::Tmpfs { dir: "sm".into(), size_kib: 64 }),
            ..case.clone()
        };
        let archive = initramfs(&init, &[case, other]).unwrap();
        let text = String::from_utf8_lossy(&archive);
        assert!(text.contains(
            "case musl/f/c\nbin /guests/0\ntimeout 7\n\
             user 65534\narg 63\narg 74776f20776f726473\nenv 413d622063\n"
        ));
        assert!(text.contains(
            "stdin /cases/0.stdin\nfile 61 /cases/0.file0\nfile 622e747874 /cases/0.file1\nrun\n"
        ));
        assert!(text.contains("file 622e747874 /cases/1.file1\ntmpfs 736d 64\nrun\n"));
        assert!(text.contains("cases/0.file0\0"), "file contents are packed: {text:?}");
        assert!(text.contains("AY") && text.contains("BEE"));
        assert!(text.contains("case glibc/f/c\nbin /guests/0\n"), "the binary is packed once");
        assert_eq!(text.matches("BIN").count(), 1);
    }

    #[test]
    fn test_a_tree_is_packed_whole_and_run_from_inside() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let init = dir.path().join("init");
        std::fs::write(&init, b"INIT").unwrap();
        let tree = dir.path().join("case-1234");
        std::fs::create_dir_all(tree.join("lib")).unwrap();
        std::fs::write(tree.join("case"), b"PROGRAM").unwrap();
        std::fs::set_permissions(tree.join("case"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(tree.join("lib/libx.so"), b"LIBRARY").unwrap();
        std::os::unix::fs::symlink("libx.so", tree.join("lib/liby.so")).unwrap();
        let case = BatchCase {
            id: "musl/dynamic/case".into(),
            binary: Executable::Tree(tree.join("case")),
            argv: vec!["case".into()],
            env: vec![],
            stdin: vec![],
            tmpfs: None,
            files: BTreeMap::new(),
            timeout_s: 5,
            user: None,
        };
        let other = BatchCase { id: "glibc/dynamic/case".into(), ..case.clone() };
        let archive = initramfs(&init, &[case, other]).unwrap();
        let text = String::from_utf8_lossy(&archive);
        assert!(text.contains("case musl/dynamic/case\nbin /guests/0/case\n"), "{text:?}");
        assert!(text.contains("case glibc/dynamic/case\nbin /guests/0/case\n"), "packed once");
        for name in ["guests/0\0", "guests/0/case\0", "guests/0/lib\0", "guests/0/lib/libx.so\0"] {
            assert!(text.contains(name), "{name:?} is packed");
        }
        assert_eq!(text.matches("PROGRAM").count(), 1);
        let link = text.find("guests/0/lib/liby.so\0").unwrap();
        assert!(text[link..link + 32].contains("libx.so"), "the link's target is kept");
        // The program keeps its mode: the second field of its 110-byte header is 0100755.
        let at = text.find("guests/0/case\0").unwrap();
        assert_eq!(&text[at - 110 + 14..at - 110 + 22], "000081ed");
    }
}
