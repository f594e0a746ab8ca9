//! Records the host triple, which the `cc` crate needs to pick cross-compilation flags.
fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET for build scripts");
    println!("cargo:rustc-env=ELFVISOR_HOST_TRIPLE={target}");
}
