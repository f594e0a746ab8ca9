//! `--sysroot` and `ELFVISOR_SYSROOT` on the command line: a program named by its guest path is
//! found in the sysroot, a PT_INTERP interpreter is loaded from it and started, and a missing
//! sysroot or interpreter and an interpreter for another machine each get one line with a
//! shell's status (127 missing, 126 unusable).

use std::path::Path;
use std::process::{Command, Output};

use elfvisor::testing::{code, tiny_elf};

const ELFVISOR: &str = env!("CARGO_BIN_EXE_elfvisor");

/// write(1, "hello\n", 6); exit_group(3), at `TINY_ENTRY` (the same words as tests/cli.rs).
const HELLO: [u32; 10] = [
    0xd2800020, 0x100000e1, 0xd28000c2, 0xd2800808, 0xd4000001, 0xd2800060, 0xd2800bc8, 0xd4000001,
    0x6c6c6568, 0x00000a6f,
];

/// mov x0, #9; mov x8, #94 (exit_group); svc #0
const EXIT_9: [u32; 3] = [0xd2800120, 0xd2800bc8, 0xd4000001];

/// A tiny ELF moved from 0x400000 to `base` (entry, segment address).
fn moved(mut elf: Vec<u8>, base: u64) -> Vec<u8> {
    let delta = base - 0x400000;
    let entry = u64::from_le_bytes(elf[24..32].try_into().unwrap()) + delta;
    elf[24..32].copy_from_slice(&entry.to_le_bytes());
    elf[64 + 16..64 + 24].copy_from_slice(&base.to_le_bytes());
    elf[64 + 24..64 + 32].copy_from_slice(&base.to_le_bytes());
    elf
}

/// A tiny ELF with a PT_INTERP naming `interp` (the program headers move to the end).
fn with_interp(code_bytes: &[u8], interp: &str) -> Vec<u8> {
    let mut elf = tiny_elf(code_bytes);
    let load = elf[64..120].to_vec();
    let phoff = elf.len() as u64;
    let name_at = phoff + 2 * 56;
    let name_len = interp.len() as u64 + 1;
    let mut ph = vec![0u8; 56];
    ph[..4].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
    ph[8..16].copy_from_slice(&name_at.to_le_bytes());
    ph[32..40].copy_from_slice(&name_len.to_le_bytes());
    ph[40..48].copy_from_slice(&name_len.to_le_bytes());
    elf.extend_from_slice(&ph);
    elf.extend_from_slice(&load);
    elf.extend_from_slice(interp.as_bytes());
    elf.push(0);
    elf[32..40].copy_from_slice(&phoff.to_le_bytes());
    elf[56..58].copy_from_slice(&2u16.to_le_bytes());
    elf
}

fn install(root: &Path, guest: &str, bytes: &[u8]) {
    let path = root.join(guest.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn run(args: &[&str]) -> Output {
    Command::new(ELFVISOR).args(args).env_remove("ELFVISOR_SYSROOT").output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn test_a_program_is_found_in_the_sysroot() {
    let root = tempfile::tempdir().unwrap();
    install(root.path(), "/opt/guest/hello", &tiny_elf(&code(&HELLO)));
    let dir = root.path().to_str().unwrap();
    let out = run(&["--sysroot", dir, "/opt/guest/hello"]);
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(3), &b"hello\n"[..]));
    let out = Command::new(ELFVISOR)
        .arg("/opt/guest/hello")
        .env("ELFVISOR_SYSROOT", dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn test_the_interpreter_runs_first() {
    let root = tempfile::tempdir().unwrap();
    // The interpreter says hello and exits 3; the program itself would exit 9.
    install(root.path(), "/lib/ld-test.so", &moved(tiny_elf(&code(&HELLO)), 0x800000));
    install(root.path(), "/bin/prog", &with_interp(&code(&EXIT_9), "/lib/ld-test.so"));
    let dir = root.path().to_str().unwrap();
    for strategy in ["host", "respawn-copy", "respawn-snapshot"] {
        let out = run(&["--sysroot", dir, "--fork-strategy", strategy, "/bin/prog"]);
        assert_eq!(out.status.code(), Some(3), "{strategy}: {}", stderr(&out));
        assert_eq!(out.stdout, b"hello\n");
    }
}

#[test]
fn test_start_failures_are_one_line_with_a_shell_status() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().to_str().unwrap();
    install(root.path(), "/bin/missing-interp", &with_interp(&code(&EXIT_9), "/lib/none.so"));
    let mut x86 = tiny_elf(&code(&HELLO));
    x86[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    install(root.path(), "/lib/x86.so", &x86);
    install(root.path(), "/bin/x86-interp", &with_interp(&code(&EXIT_9), "/lib/x86.so"));
    let cases: [(&[&str], i32, &str); 4] = [
        (&["--sysroot", "/nonexistent/sysroot", "/bin/true"], 127, "cannot use sysroot"),
        (&["--sysroot", dir, "/bin/missing-interp"], 127, "cannot open its interpreter"),
        (&["--sysroot", dir, "/bin/x86-interp"], 126, "X86_64"),
        (&["--sysroot", dir, "/bin/absent"], 127, "cannot open"),
    ];
    for (args, status, words) in cases {
        let out = run(args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{args:?}: {text}");
        assert!(text.contains(words), "{args:?}: {text}");
    }
}

/// One line on stderr, the status, no output and no panic, on every fork strategy.
fn assert_refused(args: &[&str], env: Option<&str>, status: i32, words: &str) {
    for strategy in ["host", "respawn-copy", "respawn-snapshot"] {
        let mut cmd = Command::new(ELFVISOR);
        cmd.args(["--fork-strategy", strategy]).args(args).env_remove("ELFVISOR_SYSROOT");
        if let Some(dir) = env {
            cmd.env("ELFVISOR_SYSROOT", dir);
        }
        let out = cmd.output().unwrap();
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(status), "{strategy} {args:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{strategy} {args:?}: {text}");
        assert!(text.contains(words), "{strategy} {args:?}: {text}");
        assert!(!text.contains("panicked"), "{strategy} {args:?}: {text}");
        assert!(out.stdout.is_empty(), "{strategy} {args:?}");
    }
}

#[test]
fn test_a_missing_or_unusable_sysroot_is_refused_like_a_shell() {
    let root = tempfile::tempdir().unwrap();
    install(root.path(), "/bin/prog", &tiny_elf(&code(&HELLO)));
    let file = root.path().join("bin/prog");
    let file = file.to_str().unwrap();
    let missing = root.path().join("none");
    let missing = missing.to_str().unwrap();
    let under_file = format!("{file}/sub");
    assert_refused(&["--sysroot", missing, "/bin/prog"], None, 127, "cannot use sysroot");
    assert_refused(&["/bin/prog"], Some(missing), 127, "cannot use sysroot");
    assert_refused(&["--sysroot", file, "/bin/prog"], None, 126, "not a directory");
    assert_refused(&["/bin/prog"], Some(file), 126, "not a directory");
    assert_refused(&["--sysroot", &under_file, "/bin/prog"], None, 126, "cannot use sysroot");
}

#[test]
fn test_an_interpreter_of_another_architecture_or_unusable_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().to_str().unwrap();
    let interp = "/lib/ld-linux-aarch64.so.1";
    install(root.path(), "/bin/prog", &with_interp(&code(&EXIT_9), interp));
    // A sysroot of another architecture: an x86-64 tree has no aarch64 loader at all.
    install(root.path(), "/lib64/ld-linux-x86-64.so.2", &tiny_elf(&code(&HELLO)));
    assert_refused(&["--sysroot", dir, "/bin/prog"], None, 127, "cannot open its interpreter");
    // A 32-bit Arm tree holding a loader by that name.
    let mut arm32 = tiny_elf(&code(&HELLO));
    arm32[4] = 1; // ELFCLASS32
    arm32[18..20].copy_from_slice(&40u16.to_le_bytes()); // EM_ARM
    install(root.path(), interp, &arm32);
    assert_refused(&["--sysroot", dir, "/bin/prog"], None, 126, interp);
    // An x86-64 loader under the aarch64 name.
    let mut x86 = tiny_elf(&code(&HELLO));
    x86[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    install(root.path(), interp, &x86);
    assert_refused(&["--sysroot", dir, "/bin/prog"], None, 126, "X86_64");
    // An empty loader, a truncated one, a directory.
    install(root.path(), interp, b"");
    assert_refused(&["--sysroot", dir, "/bin/prog"], None, 126, interp);
    install(root.path(), interp, &tiny_elf(&code(&HELLO))[..40]);
    assert_refused(&["--sysroot", dir, "/bin/prog"], None, 126, interp);
    let ld = root.path().join(interp.trim_start_matches('/'));
    std::fs::remove_file(&ld).unwrap();
    std::fs::create_dir(&ld).unwrap();
    assert_refused(&["--sysroot", dir, "/bin/prog"], None, 126, interp);
}
