//! The AddressSanitizer variant's runtime options, compiled into the binary.
//!
//! ASan asks the program for its defaults through `__asan_default_options` before anything else
//! runs; `ASAN_OPTIONS` in the environment still overrides them. They are compiled in because
//! the conformance harness starts every lane with exactly the case's environment, and because an
//! `ASAN_OPTIONS` variable would otherwise reach the guest's environment. `cargo xtask asan` sets
//! `ELFVISOR_ASAN_OPTIONS` at build time (`xtask/src/asan.rs` says why each option is there).

/// The options, NUL-terminated.
const OPTIONS: &str = concat!(env!("ELFVISOR_ASAN_OPTIONS"), "\0");

/// Called by the ASan runtime during its initialisation (the symbol is weak in the runtime and
/// found in the executable's dynamic symbol table).
#[unsafe(no_mangle)]
pub extern "C" fn __asan_default_options() -> *const std::ffi::c_char {
    OPTIONS.as_ptr().cast()
}
