//! `cargo test -p elfvisor-conformance --test conformance -- [FILTER]`: every guest case in every
//! lane, as `<lane>/<libc>/<family>/<case>` trials.

fn main() -> std::process::ExitCode {
    elfvisor_conformance::trials::main()
}
