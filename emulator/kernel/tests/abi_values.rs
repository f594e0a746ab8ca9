//! Guest ABI values are defined once, in `elfvisor-abi`: the kernel crate names them from there
//! and never defines its own copy. This test scans every source file under `src/` for `const`
//! items and fails on any whose name `elfvisor-abi` defines, or that is one of the guest ABI
//! names listed in [`GUEST_NAMES`] (kept even if the abi crate renamed one, so a copy cannot
//! come back under the old name).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Names of guest ABI values a local copy of which has been seen in the kernel before.
const GUEST_NAMES: &[&str] = &[
    "CSIGNAL",
    "CLONE_VM",
    "CLONE_VFORK",
    "CLONE_THREAD",
    "CLONE_SETTLS",
    "WNOHANG",
    "WEXITED",
    "WNOWAIT",
    "SA_RESTART",
    "SA_SIGINFO",
    "SA_ONSTACK",
    "SIG_DFL",
    "SIG_IGN",
    "SIG_BLOCK",
    "SI_USER",
    "SI_TKILL",
    "SI_QUEUE",
    "SEGV_MAPERR",
    "SS_ONSTACK",
    "SS_DISABLE",
    "FUTEX_WAIT",
    "FUTEX_WAKE",
    "FUTEX_PRIVATE_FLAG",
    "FUTEX_OWNER_DIED",
    "ROBUST_LIST_LIMIT",
    "AT_HWCAP",
    "AT_RANDOM",
    "AT_NULL",
    "FPSIMD_MAGIC",
    "ESR_MAGIC",
    "MINSIGSTKSZ",
    "TIMER_ABSTIME",
    "NSEC_PER_SEC",
    "TCGETS",
    "TIOCGWINSZ",
    "PATH_MAX",
    "NGROUPS_MAX",
    "UIO_MAXIOV",
    "MAX_RW_COUNT",
    "GRND_ALL",
    "PR_SET_CHILD_SUBREAPER",
    "UNBLOCKABLE",
];

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The name of the `const` item a line defines (`pub const NAME: ...`, `const NAME: ...`,
/// any visibility), if it does.
fn const_name(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    if let Some(after) = rest.strip_prefix("pub") {
        rest = after.trim_start();
        if rest.starts_with('(') {
            rest = rest[rest.find(')')? + 1..].trim_start();
        }
    }
    let rest = rest.strip_prefix("const ")?.trim_start();
    let name: &str = &rest[..rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?];
    (rest[name.len()..].trim_start().starts_with(':')
        && name.starts_with(|c: char| c.is_ascii_uppercase()))
    .then_some(name)
}

/// Every `const` name defined under `dir`, with where.
fn consts_under(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    source_files(dir, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for (i, line) in text.lines().enumerate() {
            if let Some(name) = const_name(line) {
                out.push((name.to_owned(), format!("{}:{}", file.display(), i + 1)));
            }
        }
    }
    out
}

#[test]
fn test_const_name_recognises_every_visibility() {
    assert_eq!(const_name("pub const CLONE_VM: u64 = 0x100;"), Some("CLONE_VM"));
    assert_eq!(const_name("    const WNOHANG: u64 = 1;"), Some("WNOHANG"));
    assert_eq!(const_name("pub(crate) const SA_RESTART: u64 = 1;"), Some("SA_RESTART"));
    assert_eq!(const_name("pub(super) const AT_HWCAP: u64 = 16;"), Some("AT_HWCAP"));
    assert_eq!(const_name("pub const fn exited(code: i32) -> i32 {"), None);
    assert_eq!(const_name("let x: u32 = FUTEX_WAIT;"), None);
}

#[test]
fn test_the_kernel_defines_no_guest_abi_value() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let abi: BTreeSet<String> =
        consts_under(&manifest.join("../abi/src")).into_iter().map(|(name, _)| name).collect();
    for name in GUEST_NAMES {
        assert!(
            abi.contains(*name),
            "{name} is listed as a guest value but elfvisor-abi does not define it"
        );
    }
    let copies: Vec<String> = consts_under(&manifest.join("src"))
        .into_iter()
        .filter(|(name, _)| abi.contains(name) || GUEST_NAMES.contains(&name.as_str()))
        .map(|(name, at)| format!("{at}: {name}"))
        .collect();
    assert!(
        copies.is_empty(),
        "guest ABI values defined in the kernel crate; use elfvisor_abi's instead:\n{}",
        copies.join("\n")
    );
}
