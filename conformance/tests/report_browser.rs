//! The HTML report in a real browser: headless Chromium renders a report of three made-up
//! cases, one of them failing on one cell (an injected failure) and one expected to differ on
//! another. Chromium's `--dump-dom` gives the page as its scripts left it (the filter box
//! applied from `?filter=`), `--screenshot` what it drew. Every Chromium run is bounded by a
//! time limit; nothing waits for a moment to pass (the filter runs at `DOMContentLoaded`, before
//! either the dump or the screenshot is taken).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use elfvisor_conformance::fixture;
use elfvisor_conformance::golden::Verdict;
use elfvisor_conformance::guest::Libc;
use elfvisor_conformance::harness::{Cell, Harness, Judged};
use elfvisor_conformance::hostrun::run_captured;
use elfvisor_conformance::lane::{Lane, Status, Strategy};
use elfvisor_conformance::matrix::MatrixRun;
use elfvisor_conformance::report;

const CHROMIUM: &str = "chromium";
/// The limit of each Chromium run.
const LIMIT: Duration = Duration::from_secs(120);
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;

/// Whether Chromium is here; without it the test says why and passes, unless
/// `ELFVISOR_REQUIRE_LANES` is set (as CI sets it).
fn chromium_present() -> bool {
    if which::which(CHROMIUM).is_ok() {
        return true;
    }
    let why = "chromium missing: run `cargo xtask deps`";
    assert!(std::env::var_os("ELFVISOR_REQUIRE_LANES").is_none(), "{why}");
    eprintln!("skipped: {why}");
    false
}

const GOLDEN: &str = "ok first\nok second\nverdict: PASS (2 checks)\n--- exit 0";

fn pass() -> Judged {
    Judged {
        verdict: Verdict::Pass,
        transcript: Some(format!("{GOLDEN}\n")),
        golden: Some(GOLDEN.into()),
        stderr: String::new(),
        strace_tail: None,
    }
}

/// Three cases on three lanes and both libcs, every cell passing but two: `demo/broken` fails
/// on `elfvisor/host/musl`, `demo/known_diff` is an expected difference on `qemu-user/glibc`.
fn fixture_report() -> (Harness, MatrixRun) {
    let case = |name: &str, doc: &str| {
        fixture::parse(&format!("doc: \"{doc}\"\n"), Path::new("demo.yaml"), "demo", name)
            .expect("a valid fixture")
    };
    let harness = Harness::with_cases(vec![
        case("passes", "A case that passes everywhere."),
        case("known_diff", "A case qemu-user is known to get wrong."),
        case("broken", "A case with one injected failure."),
    ]);
    let mut cells = BTreeMap::new();
    for lane in [Lane::Linux, Lane::QemuUser, Lane::Elfvisor(Strategy::Host)] {
        for libc in Libc::ALL {
            for case in 0..3 {
                cells.insert(Cell { lane, libc, case }, pass());
            }
        }
    }
    let wrong = "ok first\nFAIL second: got 2, want 3\nverdict: FAIL (1 of 2 checks)\n--- exit 1\n";
    cells.insert(
        Cell { lane: Lane::Elfvisor(Strategy::Host), libc: Libc::Musl, case: 2 },
        Judged {
            verdict: Verdict::Fail { diff: "-ok second\n+FAIL second: got 2, want 3\n".into() },
            transcript: Some(wrong.into()),
            golden: Some(GOLDEN.into()),
            stderr: "elfvisor: something the guest printed on stderr\n".into(),
            strace_tail: Some("[pid  4242] exit_group(1)               = ?\n".into()),
        },
    );
    cells.insert(
        Cell { lane: Lane::QemuUser, libc: Libc::Glibc, case: 1 },
        Judged {
            verdict: Verdict::XFail {
                reason: "qemu-user differs here".into(),
                diff: "-ok second\n+FAIL second\n".into(),
            },
            transcript: Some(wrong.into()),
            golden: Some(GOLDEN.into()),
            stderr: String::new(),
            strace_tail: None,
        },
    );
    let run = MatrixRun { cells, lane_time: BTreeMap::new(), elapsed: Duration::from_secs(1) };
    (harness, run)
}

/// Runs Chromium headless on `url` with `what` (`--dump-dom`, `--screenshot=…`) and a fresh
/// profile; returns its standard output.
fn chromium(profile: &Path, what: &str, url: &str) -> String {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={WIDTH},{HEIGHT}"))
    .arg(what)
    .arg(url);
    let run = run_captured(cmd, b"", LIMIT).expect("running chromium");
    assert_eq!(
        run.status,
        Status::Exited(0),
        "chromium {what} {url}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// The `data-case` of every matrix row the page shows, in order, and of those it hides.
fn rows(dom: &str) -> (Vec<String>, Vec<String>) {
    let (mut shown, mut hidden) = (Vec::new(), Vec::new());
    for row in dom.split("<tr ").skip(1) {
        let head = &row[..row.find('>').unwrap_or(row.len())];
        if !head.contains("case-row") {
            continue;
        }
        let case = head
            .split("data-case=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_string();
        if head.contains(" hidden") { hidden.push(case) } else { shown.push(case) }
    }
    (shown, hidden)
}

/// A PNG's width and height, from its header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR", "not a PNG");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[test]
fn test_report_renders_filters_and_links_failures_in_chromium() {
    if !chromium_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (harness, run) = fixture_report();
    let (_, html) = report::write(&harness, &run, dir.path()).unwrap();
    let url = format!("file://{}", html.display());

    // The page as its script left it: the failing row first, then the one with an expected
    // difference; every row shown without a filter.
    let page = chromium(&dir.path().join("p1"), "--dump-dom", &url);
    let (shown, hidden) = rows(&page);
    assert_eq!(shown, ["demo/broken", "demo/known_diff", "demo/passes"], "failing rows first");
    assert!(hidden.is_empty(), "{hidden:?}");
    assert!(page.contains("<span id=\"shown\">3 of 3 cases</span>"), "the filter ran: {page}");
    // Lanes grouped over their libcs, and a summary per column.
    assert!(page.contains("<th colspan=\"2\">elfvisor/host</th>"), "{page}");
    assert!(page.contains("<td class=\"FAIL\">2 ok · 1 FAIL</td>"), "{page}");
    assert!(page.contains("title=\"A case with one injected failure.\""), "doc on hover");

    // The failing cell links to its section: the diff, the command that reproduces it, and
    // the stderr and strace tails.
    let anchor = "elfvisor-host-musl-demo-broken";
    assert!(page.contains(&format!("<a href=\"#{anchor}\">FAIL</a>")), "{page}");
    let section = page
        .split(&format!("<section class=\"cell\" id=\"{anchor}\">"))
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .expect("the failing cell's section");
    assert!(section.contains("<table class=\"diff\">"), "{section}");
    assert!(section.contains("FAIL second: got 2, want 3"), "{section}");
    assert!(
        section.contains(
            "<code class=\"repro\">cargo xtask run elfvisor/host/musl/demo/broken</code>"
        ),
        "{section}"
    );
    assert!(section.contains("something the guest printed on stderr"), "{section}");
    assert!(section.contains("exit_group(1)"), "{section}");
    assert!(page.contains("id=\"qemu-user-glibc-demo-known_diff\""), "the xfail cell has one too");

    // The filter box: a case name, and a verdict.
    let page = chromium(&dir.path().join("p2"), "--dump-dom", &format!("{url}?filter=passes"));
    assert_eq!(
        rows(&page),
        (vec!["demo/passes".into()], vec!["demo/broken".into(), "demo/known_diff".into()])
    );
    assert!(page.contains("<span id=\"shown\">1 of 3 cases</span>"), "{page}");
    let page = chromium(&dir.path().join("p3"), "--dump-dom", &format!("{url}?filter=FAIL"));
    assert_eq!(rows(&page).0, ["demo/broken"]);

    // What it draws: a whole window; the filter and the link to the failure change it.
    let shot = |name: &str, url: &str| -> Vec<u8> {
        let png: PathBuf = dir.path().join(format!("{name}.png"));
        chromium(&dir.path().join(name), &format!("--screenshot={}", png.display()), url);
        std::fs::read(&png).expect("chromium wrote the screenshot")
    };
    let full = shot("full", &url);
    assert_eq!(png_size(&full), (WIDTH, HEIGHT));
    let filtered = shot("filtered", &format!("{url}?filter=no-such-case"));
    assert_eq!(png_size(&filtered), (WIDTH, HEIGHT));
    assert_ne!(full, filtered, "hiding every row changes the picture");
    let at_failure = shot("failure", &format!("{url}#{anchor}"));
    assert_ne!(full, at_failure, "following the failing cell's link marks its section");
    // Left for people to look at.
    let out = elfvisor_conformance::paths::output_dir();
    if std::fs::create_dir_all(&out).is_ok() {
        let _ = std::fs::write(out.join("report-screenshot.png"), &full);
    }
}
