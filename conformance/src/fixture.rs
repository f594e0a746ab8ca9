//! Fixtures: one YAML file per case (`fixtures/<family>/<case>.yaml`) saying how to run it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use crate::error::{Error, IoContext, Result};
use crate::guest::Libc;
use crate::lane::LaneSelector;
use crate::program::{Program, ProgramKey};

/// The environment every lane gives a case, before the fixture's own `env`.
pub const BASE_ENV: [(&str, &str); 2] = [("PATH", "/usr/bin:/bin"), ("LC_ALL", "C")];

/// The per-case time limit when the fixture names none.
pub const DEFAULT_TIMEOUT_S: u32 = 10;

/// A fixture file as written. Unknown keys are an error, so a typo fails the run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// One line saying what the case pins.
    pub doc: String,
    /// The guest source, relative to `guest-src/` (default: `<family>/<case>.c`).
    #[serde(default)]
    pub source: Option<String>,
    /// A prebuilt program to run instead of building a source (`busybox`, or a program of the
    /// sysroot: `{sysroot: /usr/bin/python3}`); the case then runs with that program's libc
    /// only, and argv[0] is the program's name (a sysroot program's absolute path). Or a Go
    /// source to build, `{go: net/go_http.go}` (relative to `guest-src/`): the case runs in the
    /// one column of Go programs ([`crate::go::GO_COLUMN`]) and argv[0] is the case name.
    #[serde(default)]
    pub program: Option<ProgramKey>,
    /// Arguments after argv[0] (argv[0] is the case name, or the program's name).
    #[serde(default)]
    pub args: Vec<String>,
    /// Bytes fed to standard input (default: empty).
    #[serde(default)]
    pub stdin: String,
    /// Files created in the case's fresh working directory before it runs, in every lane:
    /// plain file name → text.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Variables added to [`BASE_ENV`].
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Per-case time limit in seconds, in every lane.
    #[serde(default = "default_timeout")]
    pub timeout_s: u32,
    /// Restricts the case to these lanes (default: every lane). Other lanes list the case as
    /// ignored, with the reason.
    #[serde(default)]
    pub lanes: Option<Vec<String>>,
    /// Rewrites applied to standard output in every lane before comparing.
    #[serde(default)]
    pub normalize: Vec<Normalize>,
    /// Lanes (`qemu-user`, or `qemu-user/glibc`) known to differ from Linux, with the reason.
    #[serde(default)]
    pub xfail: BTreeMap<String, String>,
    /// Builds the source as a dynamically linked program, with the shared libraries and helper
    /// programs of its tree (see [`crate::dynamic`]); without it every guest is static.
    #[serde(default)]
    pub dynamic: Option<crate::dynamic::Dynamic>,
    /// A script of commands against one guest environment (see [`crate::script`]): the case
    /// runs the sysroot's `/bin/sh` with the script the steps compile to, so it excludes
    /// `source`, `program`, `args` and `stdin`.
    #[serde(default)]
    pub steps: Option<crate::script::Steps>,
    /// A named sysroot set ([`crate::sysroot::SETS`], e.g. `postgres`) that a sysroot program
    /// or a script case runs from instead of the default sysroot, in every lane: the linux lane
    /// boots it in a VM of its own, with the set's memory.
    #[serde(default)]
    pub sysroot: Option<String>,
    /// The user id the case runs as, with the group id of the same number (`65534`, `nobody`
    /// and `nogroup` in Debian), in every lane: its working directory and files are given to
    /// it. Programs that refuse to run as root (PostgreSQL) need it. Without it the case runs
    /// as the harness's user (root in the linux lane).
    #[serde(default)]
    pub user: Option<u32>,
    /// A small tmpfs of its own, mounted in the case's working directory in every lane (a
    /// guest cannot mount one): for cases that fill a file system.
    #[serde(default)]
    pub tmpfs: Option<Tmpfs>,
}

/// `tmpfs: {dir: small, size_kib: 64}`: a tmpfs of `size_kib` KiB of data pages mounted at
/// `dir` inside the case's working directory. The linux lane's `/init` mounts it; the host lanes
/// run the case in a private mount namespace that has it ([`crate::invocation`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tmpfs {
    /// A plain directory name (created by the harness).
    pub dir: String,
    /// The size limit in KiB, a whole number of 4 KiB pages (tmpfs rounds up to pages).
    pub size_kib: u32,
}

/// The largest `size_kib` a fixture may ask for: the linux lane's VM keeps it in its RAM.
pub const TMPFS_MAX_KIB: u32 = 16 * 1024;

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT_S
}

/// One regex rewrite of a transcript.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    pub regex: String,
    pub replace: String,
}

/// What a case runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guest {
    /// A C source under `guest-src/`, built for every libc.
    Source(PathBuf),
    /// A prebuilt program, run with its own libc only.
    Program(Program),
    /// A Go source under `guest-src/`, built once, run in the Go column only.
    Go(PathBuf),
}

/// A loaded, validated case.
#[derive(Debug, Clone)]
pub struct Case {
    pub family: String,
    pub name: String,
    pub fixture: Fixture,
    pub fixture_path: PathBuf,
    pub guest: Guest,
    normalizers: Vec<(Regex, String)>,
    lanes: Option<Vec<LaneSelector>>,
    xfail: Vec<(LaneSelector, String)>,
}

impl Case {
    /// `<family>/<case>`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.family, self.name)
    }

    /// The golden transcript's file.
    pub fn golden_path(&self) -> PathBuf {
        self.snapshot_dir().join(format!("{}.snap", self.name))
    }

    /// The directory holding this family's golden snapshots.
    pub fn snapshot_dir(&self) -> PathBuf {
        self.fixture_path.parent().unwrap_or(Path::new(".")).join("snapshots")
    }

    /// The full environment of the case, sorted by name.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: BTreeMap<String, String> =
            BASE_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.extend(self.fixture.env.clone());
        env.into_iter().collect()
    }

    /// argv, starting with argv[0]: the case name, or a prebuilt program's own name.
    pub fn argv(&self) -> Vec<String> {
        let argv0 = match &self.guest {
            Guest::Source(_) | Guest::Go(_) => self.name.clone(),
            Guest::Program(program) => program.argv0().to_owned(),
        };
        std::iter::once(argv0).chain(self.fixture.args.iter().cloned()).collect()
    }

    /// The dynamic build of the case's source, if it has one.
    pub fn dynamic(&self) -> Option<&crate::dynamic::Dynamic> {
        self.fixture.dynamic.as_ref()
    }

    /// The named sysroot set the case runs from (`None`: the default sysroot).
    pub fn sysroot_set(&self) -> Option<&str> {
        self.fixture.sysroot.as_deref()
    }

    /// The tree of the sysroot the case's sysroot program runs from.
    pub fn sysroot_root(&self) -> PathBuf {
        crate::paths::sysroot_of(self.sysroot_set())
    }

    /// The tree a host lane hands its tool for the case's sysroot program: the sysroot itself,
    /// or, for a case with a `user` that cannot reach it (a tree under root's 0700 home), a view
    /// of it that the user can reach ([`crate::sysroot::reachable_view`]), made once per run and
    /// tree content. The view is left out when it cannot be made; the harness then names the
    /// reason the case cannot run.
    pub fn host_sysroot_root(&self) -> PathBuf {
        let root = self.sysroot_root();
        if self.user().is_none() {
            return root;
        }
        static VIEWS: std::sync::Mutex<BTreeMap<PathBuf, PathBuf>> =
            std::sync::Mutex::new(BTreeMap::new());
        let mut views = VIEWS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(view) = views.get(&root) {
            return view.clone();
        }
        let name = root.file_name().map_or("sysroot".into(), |n| n.to_string_lossy().into_owned());
        let dir = crate::paths::output_dir().join("views");
        let view =
            crate::sysroot::reachable_view(&root, &dir, &name).unwrap_or_else(|_| root.clone());
        views.insert(root, view.clone());
        view
    }

    /// The user id (and group id) the case runs as, if not the harness's own.
    pub fn user(&self) -> Option<u32> {
        self.fixture.user
    }

    /// The C libraries the case runs with: every one for a source, the program's own for a
    /// prebuilt program.
    pub fn libcs(&self) -> Vec<Libc> {
        match &self.guest {
            Guest::Source(_) => Libc::ALL.to_vec(),
            Guest::Program(program) => vec![program.libc()],
            Guest::Go(_) => vec![crate::go::GO_COLUMN],
        }
    }

    /// Applies the fixture's normalisation rules to standard output.
    pub fn normalize(&self, stdout: &str) -> String {
        let mut text = stdout.to_owned();
        for (re, replace) in &self.normalizers {
            text = re.replace_all(&text, replace.as_str()).into_owned();
        }
        text
    }

    /// Whether the case runs in the lane `lane/libc` at all.
    pub fn runs_in(&self, lane: &str, libc: &str) -> bool {
        self.lanes.as_ref().is_none_or(|sel| sel.iter().any(|s| s.matches(lane, libc)))
    }

    /// The declared reason this lane differs from Linux, if any.
    pub fn xfail(&self, lane: &str, libc: &str) -> Option<&str> {
        self.xfail.iter().find(|(sel, _)| sel.matches(lane, libc)).map(|(_, why)| why.as_str())
    }
}

/// Parses and validates one fixture's text. `family` and `name` come from its path.
pub fn parse(text: &str, fixture_path: &Path, family: &str, name: &str) -> Result<Case> {
    let bad = |message: String| Error::Fixture { path: fixture_path.to_owned(), message };
    let mut fixture: Fixture = serde_norway::from_str(text).map_err(|e| bad(e.to_string()))?;
    if let Some(steps) = &fixture.steps {
        if fixture.source.is_some()
            || fixture.program.is_some()
            || !fixture.args.is_empty()
            || !fixture.stdin.is_empty()
        {
            return Err(bad("`steps` excludes `source`, `program`, `args` and `stdin`".into()));
        }
        crate::script::validate(&steps.0).map_err(|why| bad(format!("steps: {why}")))?;
        fixture.program =
            Some(ProgramKey::Prebuilt(Program::Sysroot(crate::script::SHELL.to_owned())));
        fixture.args = vec!["-c".to_owned(), crate::script::to_shell(&steps.0)];
    }
    if fixture.doc.trim().is_empty() {
        return Err(bad("`doc` must say what the case pins".into()));
    }
    if !(1..=600).contains(&fixture.timeout_s) {
        return Err(bad(format!("timeout_s {} is outside 1..=600", fixture.timeout_s)));
    }
    for (key, value) in &fixture.env {
        if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
            return Err(bad(format!("env entry {key:?} is not a valid variable")));
        }
    }
    if fixture.args.iter().any(|a| a.contains('\0')) {
        return Err(bad("arguments cannot contain NUL".into()));
    }
    for name in fixture.files.keys() {
        if !is_plain_file_name(name) {
            return Err(bad(format!(
                "files: {name:?} is not a plain file name (no `/`, not empty, `.` or `..`)"
            )));
        }
    }
    if let Some(tmpfs) = &fixture.tmpfs {
        if fixture.user.is_some() {
            // The host lanes mount it in the run's own namespace, which a case's user could
            // not make.
            return Err(bad("`tmpfs` and `user` exclude each other".into()));
        }
        if !is_plain_file_name(&tmpfs.dir) || fixture.files.contains_key(&tmpfs.dir) {
            return Err(bad(format!(
                "tmpfs: dir {:?} is not a plain name apart from the case's files",
                tmpfs.dir
            )));
        }
        if tmpfs.size_kib == 0 || tmpfs.size_kib % 4 != 0 || tmpfs.size_kib > TMPFS_MAX_KIB {
            return Err(bad(format!(
                "tmpfs: size_kib {} is not a multiple of 4 in 4..={TMPFS_MAX_KIB}",
                tmpfs.size_kib
            )));
        }
    }
    let guest = match (&fixture.source, &fixture.program) {
        (Some(_), Some(program)) => {
            return Err(bad(format!("`source` and `program: {program}` exclude each other")));
        }
        (_, Some(ProgramKey::Prebuilt(program))) => {
            if let Some(why) = program.invalid() {
                return Err(bad(why));
            }
            Guest::Program(program.clone())
        }
        (_, Some(ProgramKey::Go(source))) => {
            if let Some(why) = crate::go::invalid_source(source) {
                return Err(bad(why));
            }
            Guest::Go(crate::paths::guest_src().join(source))
        }
        (source, None) => {
            let source = source.clone().unwrap_or_else(|| format!("{family}/{name}.c"));
            Guest::Source(crate::paths::guest_src().join(source))
        }
    };
    if let Some(set) = &fixture.sysroot {
        if crate::sysroot::set(set).is_none() {
            let known: Vec<&str> = crate::sysroot::SETS.iter().map(|s| s.name).collect();
            return Err(bad(format!(
                "sysroot: {set:?} is not a sysroot set ({})",
                known.join(", ")
            )));
        }
        if !matches!(&guest, Guest::Program(p) if p.sysroot_path().is_some()) {
            return Err(bad(
                "`sysroot` chooses the tree of a sysroot program or of `steps`: the case has \
                 neither"
                    .into(),
            ));
        }
    }
    if fixture.user == Some(0) || fixture.user.is_some_and(|u| u > MAX_USER) {
        return Err(bad(format!(
            "user {} is not an ordinary user id (1..={MAX_USER}; without `user` the case runs as \
             the harness's user)",
            fixture.user.unwrap_or_default()
        )));
    }
    if let Some(dynamic) = &fixture.dynamic {
        if !matches!(guest, Guest::Source(_)) {
            return Err(bad("`dynamic` builds a C source: it cannot go with `program`".into()));
        }
        dynamic.validate(name).map_err(bad)?;
    }
    let libc_ok = |sel: &LaneSelector| match (&guest, sel.libc) {
        (Guest::Program(program), Some(libc)) if libc != program.libc() => Err(bad(format!(
            "{program} runs with {} only: a selector naming {libc} never matches",
            program.libc()
        ))),
        (Guest::Go(_), Some(libc)) if libc != crate::go::GO_COLUMN => Err(bad(format!(
            "a Go program runs in the {} column only: a selector naming {libc} never matches",
            crate::go::GO_COLUMN
        ))),
        _ => Ok(()),
    };
    let normalizers = fixture
        .normalize
        .iter()
        .map(|n| {
            Regex::new(&n.regex)
                .map(|re| (re, n.replace.clone()))
                .map_err(|e| bad(format!("normalize regex {:?}: {e}", n.regex)))
        })
        .collect::<Result<Vec<_>>>()?;
    let lanes = fixture
        .lanes
        .as_ref()
        .map(|lanes| {
            lanes
                .iter()
                .map(|l| {
                    let sel = LaneSelector::parse(l).map_err(bad)?;
                    libc_ok(&sel)?;
                    Ok(sel)
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let xfail = fixture
        .xfail
        .iter()
        .map(|(lane, why)| {
            let sel = LaneSelector::parse(lane).map_err(bad)?;
            libc_ok(&sel)?;
            if sel.includes(crate::lane::Lane::Linux) {
                return Err(bad("the linux lane is the gold: it cannot be xfail".into()));
            }
            if why.trim().is_empty() {
                return Err(bad(format!("xfail for {lane} needs a reason")));
            }
            Ok((sel, why.clone()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Case {
        family: family.to_owned(),
        name: name.to_owned(),
        fixture,
        fixture_path: fixture_path.to_owned(),
        guest,
        normalizers,
        lanes,
        xfail,
    })
}

/// The largest user id a fixture may name: 65534 is `nobody`, above it are ids Linux reserves
/// (`(uid_t)-1` means "unchanged" to `setresuid`).
pub const MAX_USER: u32 = 65534;

/// A name that creates exactly one entry in the working directory: no `/`, NUL, `.` or `..`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Loads every `fixtures/<family>/<case>.yaml` under `dir`, sorted by id, and checks that each
/// source case names an existing guest source.
pub fn load_all(dir: &Path) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    let families = std::fs::read_dir(dir).context(|| format!("reading {}", dir.display()))?;
    for family in families {
        let family = family.context(|| format!("reading {}", dir.display()))?;
        if !family.path().is_dir() {
            continue;
        }
        let family_name = family.file_name().to_string_lossy().into_owned();
        let entries = std::fs::read_dir(family.path())
            .context(|| format!("reading {}", family.path().display()))?;
        for entry in entries {
            let path = entry.context(|| format!("reading {}", family.path().display()))?.path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            let text =
                std::fs::read_to_string(&path).context(|| format!("reading {}", path.display()))?;
            let case = parse(&text, &path, &family_name, &name)?;
            if let Guest::Source(source) = &case.guest {
                let objects = case.fixture.dynamic.iter().flat_map(|d| d.sources());
                for source in std::iter::once(source.clone()).chain(objects) {
                    if !source.is_file() {
                        return Err(Error::Fixture {
                            path,
                            message: format!("guest source {} does not exist", source.display()),
                        });
                    }
                }
            }
            cases.push(case);
        }
    }
    cases.sort_by_key(Case::id);
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Case> {
        parse(text, Path::new("fixtures/demo/case.yaml"), "demo", "case")
    }

    #[test]
    fn test_a_named_sysroot_and_a_user_are_checked() {
        let steps = "doc: x\nsteps:\n  - run: { name: a, argv: [echo, hi] }\n";
        let case = parse_str(&format!("{steps}sysroot: postgres\nuser: 65534\n")).unwrap();
        assert_eq!(case.sysroot_set(), Some("postgres"));
        assert_eq!(case.user(), Some(65534));
        assert!(
            case.sysroot_root().ends_with("sysroot-postgres")
                || std::env::var_os("ELFVISOR_SYSROOT_POSTGRES").is_some()
        );
        let plain = parse_str(steps).unwrap();
        assert_eq!((plain.sysroot_set(), plain.user()), (None, None));
        assert_eq!(plain.sysroot_root(), crate::paths::sysroot());
        let err = parse_str(&format!("{steps}sysroot: oracle\n")).unwrap_err().to_string();
        assert!(err.contains("\"oracle\" is not a sysroot set (postgres)"), "{err}");
        let err = parse_str("doc: x\nsysroot: postgres\n").unwrap_err().to_string();
        assert!(err.contains("has neither"), "a C source has no sysroot to choose: {err}");
        for user in ["0", "65535", "-1"] {
            assert!(parse_str(&format!("{steps}user: {user}\n")).is_err(), "user {user}");
        }
        assert!(parse_str("doc: x\nuser: 1000\n").is_ok(), "any case may run as a user");
    }

    #[test]
    fn test_steps_make_a_case_of_the_sysroot_shell_running_their_script() {
        let text = "doc: x\nsteps:\n  - run: { name: a, argv: [echo, hi] }\n";
        let case = parse_str(text).unwrap();
        assert_eq!(case.guest, Guest::Program(Program::Sysroot("/bin/sh".into())));
        let steps = case.fixture.steps.as_ref().unwrap();
        assert_eq!(case.argv(), ["/bin/sh", "-c", &crate::script::to_shell(&steps.0)]);
        assert_eq!(case.libcs(), [Libc::Glibc]);
        let err = parse_str(&format!("{text}args: [x]\n")).unwrap_err().to_string();
        assert!(err.contains("`steps` excludes"), "{err}");
        let err = parse_str("doc: x\nsteps: []\n").unwrap_err().to_string();
        assert!(err.contains("steps: `steps` is empty"), "{err}");
    }

    #[test]
    fn test_unknown_key_is_rejected() {
        let err = parse_str("doc: x\ntimeout: 5\n").unwrap_err();
        assert!(
            matches!(&err, Error::Fixture { message, .. } if message.contains("unknown field `timeout`")),
            "{err}"
        );
    }

    #[test]
    fn test_unknown_key_in_normalize_is_rejected() {
        let err = parse_str("doc: x\nnormalize:\n  - regex: a\n    with: b\n").unwrap_err();
        assert!(
            matches!(&err, Error::Fixture { message, .. } if message.contains("unknown field"))
        );
    }

    #[test]
    fn test_defaults() {
        let case = parse_str("doc: pins something\n").unwrap();
        assert_eq!(case.fixture.timeout_s, DEFAULT_TIMEOUT_S);
        assert_eq!(case.argv(), vec!["case".to_string()]);
        assert_eq!(case.guest, Guest::Source(crate::paths::guest_src().join("demo/case.c")));
        assert_eq!(case.libcs(), Libc::ALL);
        assert!(case.fixture.files.is_empty());
        assert_eq!(case.golden_path(), Path::new("fixtures/demo/snapshots/case.snap"));
        assert!(case.runs_in("qemu-user", "musl"));
        assert_eq!(case.xfail("qemu-user", "musl"), None);
    }

    #[test]
    fn test_env_is_base_plus_fixture_sorted() {
        let case = parse_str("doc: x\nenv:\n  ZED: last\n  PATH: /bin\n").unwrap();
        let env = case.env();
        assert_eq!(
            env,
            vec![
                ("LC_ALL".to_string(), "C".to_string()),
                ("PATH".to_string(), "/bin".to_string()),
                ("ZED".to_string(), "last".to_string()),
            ]
        );
    }

    #[test]
    fn test_xfail_selectors() {
        let case = parse_str("doc: x\nxfail:\n  qemu-user/glibc: differs\n").unwrap();
        assert_eq!(case.xfail("qemu-user", "glibc"), Some("differs"));
        assert_eq!(case.xfail("qemu-user", "musl"), None);
        let err = parse_str("doc: x\nxfail:\n  qemu-usr: typo\n").unwrap_err();
        assert!(matches!(&err, Error::Fixture { message, .. } if message.contains("unknown lane")));
        let err = parse_str("doc: x\nxfail:\n  linux: no\n").unwrap_err();
        assert!(matches!(&err, Error::Fixture { message, .. } if message.contains("gold")));
        let err = parse_str("doc: x\nxfail:\n  qemu-user: ''\n").unwrap_err();
        assert!(matches!(&err, Error::Fixture { message, .. } if message.contains("reason")));
    }

    #[test]
    fn test_normalize_rewrites_stdout() {
        let case =
            parse_str("doc: x\nnormalize:\n  - regex: '[0-9]+ ms'\n    replace: N ms\n").unwrap();
        assert_eq!(case.normalize("took 12 ms\n"), "took N ms\n");
        let err = parse_str("doc: x\nnormalize:\n  - regex: '('\n    replace: y\n").unwrap_err();
        assert!(
            matches!(&err, Error::Fixture { message, .. } if message.contains("normalize regex"))
        );
    }

    #[test]
    fn test_bad_values_are_rejected() {
        assert!(parse_str("doc: ''\n").is_err());
        assert!(parse_str("doc: x\ntimeout_s: 0\n").is_err());
        assert!(parse_str("doc: x\nenv:\n  'A=B': c\n").is_err());
        assert!(parse_str("doc: x\nlanes: [nowhere]\n").is_err());
    }

    #[test]
    fn test_program_case_runs_one_libc_with_the_program_as_argv0() {
        let case = parse_str("doc: x\nprogram: busybox\nargs: [echo, hi]\n").unwrap();
        assert_eq!(case.guest, Guest::Program(Program::Busybox));
        assert_eq!(case.libcs(), [Libc::Glibc]);
        assert_eq!(case.argv(), ["busybox", "echo", "hi"]);
    }

    #[test]
    fn test_sysroot_program_runs_glibc_with_its_path_as_argv0() {
        let case =
            parse_str("doc: x\nprogram: {sysroot: /usr/bin/python3}\nargs: [-c, pass]\n").unwrap();
        assert_eq!(case.guest, Guest::Program(Program::Sysroot("/usr/bin/python3".into())));
        assert_eq!(case.libcs(), [Libc::Glibc]);
        assert_eq!(case.argv(), ["/usr/bin/python3", "-c", "pass"]);
        assert!(parse_str("doc: x\nprogram:\n  sysroot: /bin/sh\nlanes: [linux/musl]\n").is_err());
    }

    #[test]
    fn test_bad_sysroot_programs_are_rejected() {
        for path in
            ["usr/bin/python3", "''", "/", "/usr//bin/x", "/usr/bin/", "/usr/../etc/x", "/./x"]
        {
            let err = parse_str(&format!("doc: x\nprogram: {{sysroot: {path}}}\n")).unwrap_err();
            assert!(
                matches!(&err, Error::Fixture { message, .. } if message.contains("absolute path")),
                "{path}: {err}"
            );
        }
        for text in ["program: {sysroot: [a]}", "program: {sysroot: /a, busybox: x}", "program: {}"]
        {
            assert!(parse_str(&format!("doc: x\n{text}\n")).is_err(), "{text}");
        }
    }

    #[test]
    fn test_go_program_runs_in_one_column_with_the_case_name_as_argv0() {
        let case = parse_str("doc: x\nprogram: {go: net/go_http.go}\nargs: [a]\n").unwrap();
        assert_eq!(case.guest, Guest::Go(crate::paths::guest_src().join("net/go_http.go")));
        assert_eq!(case.libcs(), [crate::go::GO_COLUMN]);
        assert_eq!(case.argv(), ["case", "a"]);
        assert!(parse_str("doc: x\nprogram: {go: a.go}\nlanes: [linux/glibc]\n").is_err());
        assert!(parse_str("doc: x\nprogram: {go: a.go}\nxfail:\n  qemu-user/musl: y\n").is_ok());
        for path in ["/abs/a.go", "net/../a.go", "net/a.c", "''", "net//a.go"] {
            let err = parse_str(&format!("doc: x\nprogram: {{go: {path}}}\n")).unwrap_err();
            assert!(
                matches!(&err, Error::Fixture { message, .. } if message.contains(".go")),
                "{path}: {err}"
            );
        }
        for text in ["program: {go: [a]}", "program: {go: a.go, sysroot: /a}", "program: {cc: a}"] {
            assert!(parse_str(&format!("doc: x\n{text}\n")).is_err(), "{text}");
        }
        let err = parse_str("doc: x\nprogram: {go: a.go}\nsource: a/b.c\n").unwrap_err();
        assert!(matches!(&err, Error::Fixture { message, .. } if message.contains("exclude")));
    }

    #[test]
    fn test_dynamic_builds_a_source_only() {
        let case = parse_str(
            "doc: x\ndynamic:\n  links: [lib/a.so]\n  objects: [{path: lib/a.so, source: d/a.c}]\n",
        )
        .unwrap();
        let dynamic = case.dynamic().unwrap();
        assert_eq!(dynamic.links, ["lib/a.so"]);
        assert_eq!(
            dynamic.sources().collect::<Vec<_>>(),
            [crate::paths::guest_src().join("d/a.c")]
        );
        assert_eq!(case.libcs(), Libc::ALL);
        assert!(parse_str("doc: x\n").unwrap().dynamic().is_none());
        let err = parse_str("doc: x\nprogram: busybox\ndynamic: {}\n").unwrap_err();
        assert!(matches!(&err, Error::Fixture { message, .. } if message.contains("C source")));
        let err = parse_str("doc: x\ndynamic:\n  links: [a.so]\n").unwrap_err();
        assert!(
            matches!(&err, Error::Fixture { message, .. } if message.contains("no shared library"))
        );
        let err =
            parse_str("doc: x\ndynamic:\n  objects: [{path: case, source: d/a.c}]\n").unwrap_err();
        assert!(matches!(&err, Error::Fixture { message, .. } if message.contains("collides")));
    }

    #[test]
    fn test_unknown_program_is_rejected() {
        let err = parse_str("doc: x\nprogram: toybox\n").unwrap_err();
        assert!(
            matches!(&err, Error::Fixture { message, .. } if message.contains("unknown variant `toybox`")),
            "{err}"
        );
    }

    #[test]
    fn test_program_excludes_source_and_other_libcs() {
        let err = parse_str("doc: x\nprogram: busybox\nsource: a/b.c\n").unwrap_err();
        assert!(matches!(&err, Error::Fixture { message, .. } if message.contains("exclude")));
        let err = parse_str("doc: x\nprogram: busybox\nxfail:\n  qemu-user/musl: y\n").unwrap_err();
        assert!(
            matches!(&err, Error::Fixture { message, .. } if message.contains("never matches"))
        );
        assert!(parse_str("doc: x\nprogram: busybox\nlanes: [linux/musl]\n").is_err());
        assert!(parse_str("doc: x\nprogram: busybox\nxfail:\n  qemu-user/glibc: y\n").is_ok());
    }

    #[test]
    fn test_files_are_plain_names() {
        let case = parse_str("doc: x\nfiles:\n  a.txt: \"one\\n\"\n  .hidden: ''\n").unwrap();
        let files: Vec<(&str, &str)> =
            case.fixture.files.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(files, [(".hidden", ""), ("a.txt", "one\n")]);
        for name in ["''", "'.'", "'..'", "a/b", "/etc/passwd", "\"x\\0y\""] {
            let err = parse_str(&format!("doc: x\nfiles:\n  {name}: text\n")).unwrap_err();
            assert!(
                matches!(&err, Error::Fixture { message, .. } if message.contains("plain file name")),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn test_tmpfs_is_a_plain_dir_of_whole_pages() {
        let case = parse_str("doc: x\ntmpfs: {dir: small, size_kib: 64}\n").unwrap();
        assert_eq!(case.fixture.tmpfs, Some(Tmpfs { dir: "small".into(), size_kib: 64 }));
        for bad in [
            "{dir: a/b, size_kib: 64}",
            "{dir: '..', size_kib: 64}",
            "{dir: small, size_kib: 6}",
            "{dir: small, size_kib: 0}",
            "{dir: small, size_kib: 1048576}",
        ] {
            let err = parse_str(&format!("doc: x\ntmpfs: {bad}\n")).unwrap_err();
            assert!(
                matches!(&err, Error::Fixture { message, .. } if message.contains("tmpfs:")),
                "{bad}: {err}"
            );
        }
        let err = parse_str("doc: x\nfiles: {small: t}\ntmpfs: {dir: small, size_kib: 4}\n");
        assert!(err.is_err(), "the dir may not be one of the case's files");
        let err = parse_str("doc: x\ntmpfs: {dir: small, size: 4}\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn test_lanes_restrict_where_a_case_runs() {
        let case = parse_str("doc: x\nlanes: [linux]\n").unwrap();
        assert!(case.runs_in("linux", "glibc"));
        assert!(!case.runs_in("qemu-user", "glibc"));
    }

    #[test]
    fn test_every_committed_fixture_loads() {
        let cases = load_all(&crate::paths::fixtures()).unwrap();
        assert!(cases.len() >= 24, "only {} cases", cases.len());
        let ids: Vec<String> = cases.iter().map(Case::id).collect();
        for id in [
            "busybox/echo",
            "fork/cross_fork_mapshared_anon",
            "fork/cross_fork_mapshared_file",
            "fork/cross_fork_mapshared_shm",
        ] {
            assert!(ids.contains(&id.to_string()), "{id} missing");
        }
    }
}
