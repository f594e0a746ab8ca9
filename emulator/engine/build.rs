//! Refuses to build against any libunicorn but elfvisor's patched one.
//!
//! Unicorn 2.1.5 as published hard-wires `curr_cflags()` to 0, so TCG never generates parallel
//! code and guest atomics (exclusives and LSE) race between vCPUs; and its TLB-fill hook sees only
//! the page of a faulting access, not the address a SIGSEGV must report; and it calls a helper
//! after every guest memory access; and it loses a stop asked before or while a run starts (the
//! engine's pending-stop word needs unicorn to read it, `src/tcg.rs`). `cargo xtask deps` builds
//! unicorn from the sources in the `unicorn-engine-sys` crate with all of these fixed and marks its
//! pkg-config file; `.cargo/config.toml` points `PKG_CONFIG_PATH` at it. A silently racy engine
//! is worse than no build, so anything else is an error here.

/// The pkg-config variable `cargo xtask deps` writes, and its value. Keep in step with xtask.
const MARKER_VARIABLE: &str = "elfvisor_patch";
const MARKER_VALUE: &str = "parallel-cflags+atomic-rmw+exact-tlb-address+no-memop-exit-check+pc-sync-after-quit+pending-stop+kick-barriers+inline-exit-check+tlb-dirty-slots+fill-no-restore+jump-cache-probe+cross-page-links+no-bti+rwx-dirty+serial-switch+tlb-grow-10+linear-fast-path-4+jump-cache-inline+xregs+small-code-pages+small-tb-table+ibtc-2+page-crossing-test+rmw-one-test";

/// The variable only the AddressSanitizer build of that unicorn has (`cargo xtask asan`), and
/// its value. Keep in step with xtask.
const SANITIZER_VARIABLE: &str = "elfvisor_sanitizer";

fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    // The `asan` feature links the ASan unicorn and nothing else; without it, that unicorn
    // (whose objects call the ASan runtime) is refused too.
    let want_asan = std::env::var_os("CARGO_FEATURE_ASAN").is_some();
    let sanitizer = pkg_config::get_variable("unicorn", SANITIZER_VARIABLE).unwrap_or_default();
    match (want_asan, sanitizer.as_str()) {
        (true, "address") | (false, "") => {}
        (true, other) => panic!(
            "the asan feature needs the AddressSanitizer build of elfvisor's unicorn, but \
             pkg-config found one with {SANITIZER_VARIABLE}={other:?}: build with `cargo xtask asan`"
        ),
        (false, other) => panic!(
            "pkg-config found a unicorn built with sanitizer {other:?}; it links only into \
             `cargo xtask asan`'s build (the asan feature)"
        ),
    }
    let found = pkg_config::get_variable("unicorn", MARKER_VARIABLE);
    match found.as_deref() {
        // Relinking after unicorn is rebuilt is `cargo xtask deps`'s job: rustc bundles the
        // static library into the -sys crate's rlib, which it then cleans.
        Ok(MARKER_VALUE) => {}
        Ok(other) => panic!(
            "libunicorn carries patch marker {other:?}, not {MARKER_VALUE:?}: run `cargo xtask deps` \
             to rebuild elfvisor's patched unicorn"
        ),
        Err(e) => panic!(
            "elfvisor's patched libunicorn was not found through pkg-config ({e}); the published \
             unicorn 2.1.5 runs guest atomics without parallel code generation, so elfvisor refuses \
             it. Run `cargo xtask deps` (it builds unicorn with CF_PARALLEL under target/unicorn)"
        ),
    }
}
