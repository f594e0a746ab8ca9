//! The elfvisor conformance harness.
//!
//! Guest tests (`guest-src/<family>/<case>.c`) are cross-compiled for musl and glibc, run in every
//! *lane* — `linux` (a real arm64 kernel under qemu-system: the gold), `qemu-user`, and later one
//! `elfvisor` lane per fork strategy — and each lane's transcript is compared with one golden
//! transcript per case (`fixtures/<family>/snapshots/<case>.snap`, recorded from the `linux` lane
//! with insta).
//!
//! The same machinery serves two front ends: libtest-mimic trials (`cargo test`, see
//! [`trials`]) and the matrix with its HTML/JSON report (`cargo xtask conformance`, see
//! [`matrix`]).
#![forbid(unsafe_code)]

pub mod cpio;
pub mod dynamic;
pub mod elfvisor_lane;
mod error;
pub mod fixture;
pub mod fuzz;
pub mod go;
pub mod golden;
pub mod guest;
pub mod harness;
pub mod hostrun;
pub mod invocation;
pub mod lane;
pub mod linux;
pub mod matrix;
pub mod paths;
pub mod program;
pub mod qemu_user;
pub mod report;
pub mod script;
pub mod sysroot;
pub mod transcript;
pub mod trials;

pub use error::{Error, Result};
