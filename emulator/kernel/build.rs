//! Assembles and links the guest vDSO (`vdso/vdso.s`, `vdso/vdso.lds`) with the aarch64 cross
//! binutils and checks the result before the crate embeds it (`src/vdso.rs`).
//!
//! The image is built here from its source, not checked in: the cross binutils are already
//! needed (`cargo xtask deps` installs them with the cross compilers the conformance harness
//! uses), so there is no prebuilt blob that could drift from the source it claims to be. The
//! system call numbers, EFAULT and the clocks the vDSO serves come from `elfvisor-abi`, passed to
//! the assembler as symbols, so the guest ABI is still defined in one place.

use std::path::{Path, PathBuf};
use std::process::Command;

use elfvisor_abi::errno::Errno;
use elfvisor_abi::sysno::Sysno;
use elfvisor_abi::time::{
    CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME,
    CLOCK_REALTIME_COARSE, CLOCK_TAI,
};
use goblin::elf::Elf;

/// The tool prefix of the aarch64 GNU binutils; `ELFVISOR_CROSS_PREFIX` names another.
const DEFAULT_PREFIX: &str = "aarch64-linux-gnu-";

/// The symbols the image must export, each under `VERSION`.
const SYMBOLS: [&str; 4] = [
    "__kernel_clock_gettime",
    "__kernel_clock_getres",
    "__kernel_gettimeofday",
    "__kernel_rt_sigreturn",
];
const VERSION: &str = "LINUX_2.6.39";

fn run(tool: &str, args: &[&std::ffi::OsStr]) {
    let status = Command::new(tool).args(args).status().unwrap_or_else(|e| {
        panic!(
            "cannot run `{tool}` ({e}): the guest vDSO is assembled with the aarch64 cross \
             binutils. Run `cargo xtask deps` to install them (or set ELFVISOR_CROSS_PREFIX to \
             the prefix of another aarch64 binutils)"
        )
    });
    assert!(status.success(), "`{tool}` failed building the guest vDSO ({status})");
}

/// Checks what the loader and the guest libcs rely on: an aarch64 shared object with one
/// PT_LOAD at 0, a PT_DYNAMIC, a SysV hash table (musl reads only that), no relocations, and each
/// symbol defined under `VERSION`. Returns the offset of `__kernel_rt_sigreturn`.
fn check(image: &[u8]) -> u64 {
    use goblin::elf::{dynamic, header, program_header};
    let elf = Elf::parse(image).expect("the vDSO is an ELF file");
    assert_eq!(elf.header.e_type, header::ET_DYN, "the vDSO is a shared object");
    assert_eq!(elf.header.e_machine, header::EM_AARCH64);
    let loads: Vec<_> =
        elf.program_headers.iter().filter(|p| p.p_type == program_header::PT_LOAD).collect();
    assert!(
        loads.len() == 1 && loads[0].p_vaddr == 0 && loads[0].p_offset == 0,
        "the vDSO has one PT_LOAD at address 0"
    );
    assert!(loads[0].p_filesz as usize <= image.len());
    let dynamic = elf.dynamic.as_ref().expect("the vDSO has a dynamic section");
    let has = |tag| dynamic.dyns.iter().any(|d| d.d_tag == tag);
    assert!(has(dynamic::DT_HASH) && has(dynamic::DT_GNU_HASH), "the vDSO has both hash tables");
    assert!(has(dynamic::DT_VERSYM) && has(dynamic::DT_VERDEF), "the vDSO has symbol versions");
    assert!(
        !has(dynamic::DT_RELA) && !has(dynamic::DT_REL) && !has(dynamic::DT_TEXTREL),
        "the vDSO must need no relocation"
    );
    let versym = elf.versym.as_ref().expect("a .gnu.version section");
    let verdef = elf.verdef.as_ref().expect("a .gnu.version_d section");
    let version_index = verdef
        .iter()
        .find(|d| d.iter().next().and_then(|a| elf.dynstrtab.get_at(a.vda_name)) == Some(VERSION))
        .map(|d| d.vd_ndx)
        .unwrap_or_else(|| panic!("the vDSO defines version {VERSION}"));
    let mut sigreturn = None;
    for name in SYMBOLS {
        let (index, sym) = elf
            .dynsyms
            .iter()
            .enumerate()
            .find(|(_, s)| elf.dynstrtab.get_at(s.st_name) == Some(name) && s.st_shndx != 0)
            .unwrap_or_else(|| panic!("the vDSO defines {name}"));
        let ver = versym.get_at(index).map(|v| v.vs_val & 0x7fff);
        assert_eq!(ver, Some(version_index), "{name} is versioned {VERSION}");
        assert!(sym.st_value < loads[0].p_memsz, "{name} lies in the image");
        if name == "__kernel_rt_sigreturn" {
            sigreturn = Some(sym.st_value);
        }
    }
    sigreturn.expect("checked above")
}

fn main() {
    let src = Path::new("vdso");
    let source = src.join("vdso.s");
    let script = src.join("vdso.lds");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-env-changed=ELFVISOR_CROSS_PREFIX");
    let prefix = std::env::var("ELFVISOR_CROSS_PREFIX").unwrap_or_else(|_| DEFAULT_PREFIX.into());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("vdso.o");
    let image_path = out.join("vdso.so");

    let clocks = [
        CLOCK_REALTIME,
        CLOCK_MONOTONIC,
        CLOCK_MONOTONIC_RAW,
        CLOCK_REALTIME_COARSE,
        CLOCK_MONOTONIC_COARSE,
        CLOCK_BOOTTIME,
        CLOCK_TAI,
    ]
    .iter()
    .fold(0u32, |mask, c| mask | 1 << c);
    let symbols = [
        ("NR_clock_gettime", Sysno::clock_gettime.0),
        ("NR_clock_getres", Sysno::clock_getres.0),
        ("NR_gettimeofday", Sysno::gettimeofday.0),
        ("NR_rt_sigreturn", Sysno::rt_sigreturn.0),
        ("EFAULT", Errno::EFAULT.0 as u32),
        ("VDSO_CLOCKS", clocks),
    ];
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    for (name, value) in symbols {
        args.push("--defsym".into());
        args.push(format!("{name}={value}").into());
    }
    args.extend(["-o".into(), object.clone().into(), source.into()]);
    let args_ref: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run(&format!("{prefix}as"), &args_ref);

    let script_arg = script.into_os_string();
    let link: [&std::ffi::OsStr; 13] = [
        "-shared".as_ref(),
        "-soname=linux-vdso.so.1".as_ref(),
        "--hash-style=both".as_ref(),
        "--build-id=none".as_ref(),
        "-Bsymbolic".as_ref(),
        "--eh-frame-hdr".as_ref(),
        "-z".as_ref(),
        "max-page-size=4096".as_ref(),
        "-T".as_ref(),
        script_arg.as_os_str(),
        "-o".as_ref(),
        image_path.as_os_str(),
        object.as_os_str(),
    ];
    run(&format!("{prefix}ld"), &link);

    let image = std::fs::read(&image_path).expect("the linked vDSO");
    let sigreturn = check(&image);
    let generated = format!(
        "/// The offset of `__kernel_rt_sigreturn` in [`IMAGE`].\n\
         pub(crate) const RT_SIGRETURN_OFFSET: u64 = {sigreturn:#x};\n"
    );
    std::fs::write(out.join("vdso_layout.rs"), generated).expect("write vdso_layout.rs");
}
