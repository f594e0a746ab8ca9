//! Transcripts: what a lane's run of a case is compared by — normalised stdout plus exit status.

use elfvisor_abi::signal::Signo;

use crate::fixture::Case;
use crate::lane::{RunOutput, Status};

/// The last line of every transcript.
pub fn status_line(status: Status) -> String {
    match status {
        Status::Exited(code) => format!("--- exit {code}"),
        Status::Signaled(sig) => format!("--- killed by {}", Signo(sig).display_name()),
        Status::TimedOut => "--- timed out".to_owned(),
    }
}

/// Renders a run as the transcript compared against the golden one.
pub fn render(case: &Case, run: &RunOutput) -> String {
    let stdout = case.normalize(&String::from_utf8_lossy(&run.stdout));
    let mut text = stdout;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push_str("\n--- no newline at end of output\n");
    }
    text.push_str(&status_line(run.status));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn case() -> Case {
        crate::fixture::parse("doc: x\n", Path::new("f/demo/c.yaml"), "demo", "c").unwrap()
    }

    fn run(stdout: &str, status: Status) -> RunOutput {
        RunOutput { stdout: stdout.as_bytes().to_vec(), stderr: b"ignored".to_vec(), status }
    }

    #[test]
    fn test_render_exit() {
        assert_eq!(render(&case(), &run("ok a\n", Status::Exited(0))), "ok a\n--- exit 0\n");
    }

    #[test]
    fn test_render_signal_and_missing_newline() {
        assert_eq!(
            render(&case(), &run("partial", Status::Signaled(15))),
            "partial\n--- no newline at end of output\n--- killed by SIGTERM\n"
        );
    }

    #[test]
    fn test_render_timeout_with_empty_output() {
        assert_eq!(render(&case(), &run("", Status::TimedOut)), "--- timed out\n");
    }
}
