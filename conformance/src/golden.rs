//! Golden transcripts and the verdict of one lane's transcript against them.
//!
//! Goldens are insta snapshots (`fixtures/<family>/snapshots/<case>.snap`). The `linux` lane
//! records and checks them through insta (so `cargo insta review` works); every other lane only
//! reads them, and fails with a unified diff.

use std::path::Path;

use crate::error::{IoContext, Result};
use crate::fixture::Case;

/// The outcome of one trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// The transcript differs from the golden one.
    Fail {
        diff: String,
    },
    /// It differs, and the fixture says this lane is known to differ.
    XFail {
        reason: String,
        diff: String,
    },
    /// The fixture says this lane differs, but it matched: the xfail is stale and must go.
    XPass {
        reason: String,
    },
    /// No golden transcript has been recorded for the case yet.
    NoGolden,
    /// The case could not be run in this lane here (a tool is missing, or the fixture excludes it).
    Ignored {
        reason: String,
    },
    /// The lane failed to produce a transcript (build error, boot failure).
    Error {
        message: String,
    },
}

impl Verdict {
    /// Whether the report gives the cell a section of its own (a diff, a reproduction
    /// command, the stderr and strace tails): every verdict but a pass or a skip.
    pub fn needs_detail(&self) -> bool {
        !matches!(self, Verdict::Pass | Verdict::Ignored { .. })
    }

    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Verdict::Fail { .. }
                | Verdict::XPass { .. }
                | Verdict::NoGolden
                | Verdict::Error { .. }
        )
    }

    /// A short label for matrices.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "ok",
            Verdict::Fail { .. } => "FAIL",
            Verdict::XFail { .. } => "xfail",
            Verdict::XPass { .. } => "XPASS",
            Verdict::NoGolden => "no-gold",
            Verdict::Ignored { .. } => "skip",
            Verdict::Error { .. } => "ERROR",
        }
    }

    /// A human explanation, for failing trials and reports.
    pub fn message(&self) -> String {
        match self {
            Verdict::Pass => "matches the golden transcript".into(),
            Verdict::Fail { diff } => format!("transcript differs from the golden one:\n{diff}"),
            Verdict::XFail { reason, .. } => format!("known divergence: {reason}"),
            Verdict::XPass { reason } => format!(
                "matches the golden transcript, but the fixture declares it xfail ({reason}): \
                 remove the stale xfail"
            ),
            Verdict::NoGolden => "no golden transcript yet: record it from the linux lane \
                                  (`cargo xtask test`, then `cargo insta review`)"
                .into(),
            Verdict::Ignored { reason } => reason.clone(),
            Verdict::Error { message } => message.clone(),
        }
    }
}

/// Reads the body of an insta snapshot file, or `None` if there is none.
pub fn read_golden(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(snapshot_body(&text).to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).context(|| format!("reading {}", path.display())),
    }
}

/// The contents of an insta snapshot: what follows its `---`-delimited metadata header.
pub fn snapshot_body(text: &str) -> &str {
    let body = match text.strip_prefix("---\n") {
        Some(rest) => match rest.find("\n---\n") {
            Some(end) => &rest[end + "\n---\n".len()..],
            None => rest,
        },
        None => text,
    };
    body.trim_end_matches('\n')
}

/// A unified diff from `golden` to `actual`, or `None` when they are the same transcript.
pub fn diff(golden: &str, actual: &str, lane: &str) -> Option<String> {
    let (golden, actual) = (golden.trim_end_matches('\n'), actual.trim_end_matches('\n'));
    if golden == actual {
        return None;
    }
    let (golden, actual) = (format!("{golden}\n"), format!("{actual}\n"));
    let diff = similar::TextDiff::from_lines(&golden, &actual);
    Some(diff.unified_diff().context_radius(3).header("golden (linux)", lane).to_string())
}

/// Judges one lane's transcript against the golden one, honouring the fixture's xfail.
pub fn evaluate(
    case: &Case,
    lane: &str,
    libc: &str,
    golden: Option<&str>,
    actual: &str,
) -> Verdict {
    let Some(golden) = golden else {
        return Verdict::NoGolden;
    };
    let difference = diff(golden, actual, &format!("{lane}/{libc}"));
    match (difference, case.xfail(lane, libc)) {
        (None, None) => Verdict::Pass,
        (None, Some(reason)) => Verdict::XPass { reason: reason.to_owned() },
        (Some(diff), None) => Verdict::Fail { diff },
        (Some(diff), Some(reason)) => Verdict::XFail { reason: reason.to_owned(), diff },
    }
}

/// Checks (and, when insta is asked to, records) the golden transcript from the linux lane.
/// Panics with insta's report when they differ, as an insta assertion does.
pub fn assert_linux_golden(case: &Case, transcript: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(case.snapshot_dir());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(&case.fixture_path);
    settings.set_description(case.fixture.doc.clone());
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(case.name.clone(), transcript));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(extra: &str) -> Case {
        let text = format!("doc: demo\n{extra}");
        crate::fixture::parse(&text, Path::new("f/demo/c.yaml"), "demo", "c").unwrap()
    }

    const GOLDEN: &str = "ok one\nok two\nok three\nverdict: PASS (3 checks)\n--- exit 0";

    #[test]
    fn test_snapshot_body_strips_the_header() {
        let file = "---\nsource: x\ndescription: y\n---\nok one\n--- exit 0\n";
        assert_eq!(snapshot_body(file), "ok one\n--- exit 0");
        assert_eq!(snapshot_body("bare\n"), "bare");
    }

    #[test]
    fn test_identical_transcript_passes() {
        let actual = format!("{GOLDEN}\n");
        assert_eq!(evaluate(&case(""), "qemu-user", "musl", Some(GOLDEN), &actual), Verdict::Pass);
    }

    #[test]
    fn test_one_changed_line_fails_with_its_diff() {
        let actual = GOLDEN.replace("ok two", "FAIL two: got 1, want 2");
        let verdict = evaluate(&case(""), "qemu-user", "glibc", Some(GOLDEN), &actual);
        let Verdict::Fail { diff } = &verdict else {
            panic!("expected a failure, got {verdict:?}")
        };
        assert!(verdict.is_failure());
        assert!(diff.contains("--- golden (linux)\n+++ qemu-user/glibc\n"), "{diff}");
        assert!(diff.contains("\n-ok two\n+FAIL two: got 1, want 2\n"), "{diff}");
        assert!(diff.contains("\n ok one\n"), "context lines are kept: {diff}");
    }

    #[test]
    fn test_xfail_and_stale_xfail() {
        let with_xfail = case("xfail:\n  qemu-user: known bug\n");
        let actual = GOLDEN.replace("ok three", "FAIL three");
        let verdict = evaluate(&with_xfail, "qemu-user", "musl", Some(GOLDEN), &actual);
        assert!(matches!(&verdict, Verdict::XFail { reason, .. } if reason == "known bug"));
        assert!(!verdict.is_failure());
        let verdict = evaluate(&with_xfail, "qemu-user", "musl", Some(GOLDEN), GOLDEN);
        assert!(matches!(&verdict, Verdict::XPass { .. }));
        assert!(verdict.is_failure(), "a stale xfail must fail");
    }

    #[test]
    fn test_missing_golden_fails() {
        let verdict = evaluate(&case(""), "qemu-user", "musl", None, GOLDEN);
        assert_eq!(verdict, Verdict::NoGolden);
        assert!(verdict.is_failure());
    }

    #[test]
    fn test_read_golden_of_a_missing_file_is_none() {
        assert_eq!(read_golden(Path::new("/nonexistent/x.snap")).unwrap(), None);
    }
}
