//! The guest's vDSO: the image `build.rs` assembles from `vdso/vdso.s`, mapped into every new
//! image as Linux's arm64 `arch_setup_additional_pages` maps its own (`arch/arm64/kernel/vdso.c`,
//! `__setup_additional_pages`): a read-only `[vvar]` data area, then the read+execute `[vdso]`
//! right above it, both in one range found like any other mapping's.
//!
//! The time functions make the system call of the same name from the guest (see the source), so
//! `[vvar]` holds no data elfvisor keeps; it is mapped because Linux maps it and programs that
//! read `/proc/self/maps` see it. Both are ordinary private mappings of the address space, so
//! every fork strategy carries them like any other private memory, and `execve` maps them anew.

use elfvisor_abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE};
use elfvisor_abi::{Errno, GuestAddr, PAGE_SIZE, Prot};
use elfvisor_mm::{AddressSpace, MmapRequest, VmaName};

include!(concat!(env!("OUT_DIR"), "/vdso_layout.rs"));

/// The linked vDSO (an aarch64 ELF shared object linked at address 0).
pub(crate) static IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vdso.so"));

/// Pages of `[vvar]`: Linux 6.1's arm64 `VVAR_NR_PAGES` (the data page and the time namespace
/// page).
const VVAR_PAGES: u64 = 2;

/// Where the vDSO of an image lies.
#[derive(Debug, Clone, Copy)]
pub struct Vdso {
    /// The ELF header (`AT_SYSINFO_EHDR`), the start of `[vdso]`.
    pub base: GuestAddr,
    /// `__kernel_rt_sigreturn`: where a handler without SA_RESTORER returns.
    pub rt_sigreturn: GuestAddr,
}

fn image_len() -> u64 {
    (IMAGE.len() as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE
}

/// Maps `[vvar]` and `[vdso]` into `mm` wherever a free range is found.
pub fn map(mm: &mut AddressSpace) -> Result<Vdso, Errno> {
    let vvar_len = VVAR_PAGES * PAGE_SIZE;
    let text_len = image_len();
    let private = |addr, len, flags, name| MmapRequest {
        addr,
        len,
        prot: Prot::RW,
        flags: MAP_PRIVATE | MAP_ANONYMOUS | flags,
        file: None,
        name: VmaName::Path(String::from(name)),
    };
    let vvar = mm.mmap(private(GuestAddr(0), vvar_len + text_len, 0, "[vvar]"))?;
    let base = GuestAddr(vvar.0 + vvar_len);
    mm.mmap(private(base, text_len, MAP_FIXED, "[vdso]"))?;
    mm.copy_out(base, IMAGE)?;
    mm.mprotect(base, text_len, Prot::RX)?;
    mm.mprotect(vvar, vvar_len, Prot::READ)?;
    Ok(Vdso { base, rt_sigreturn: GuestAddr(base.0 + RT_SIGRETURN_OFFSET) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_vdso_sits_above_vvar_and_holds_the_image() {
        let mut mm = AddressSpace::new(1 << 32).unwrap();
        let vdso = map(&mut mm).unwrap();
        assert_eq!(vdso.base.0 % PAGE_SIZE, 0);
        let mut head = vec![0u8; IMAGE.len()];
        mm.copy_in(vdso.base, &mut head).unwrap();
        assert_eq!(head, IMAGE);
        let at = |a: u64| mm.vmas().find(|v| v.start.0 <= a && a < v.end.0).unwrap().clone();
        let text = at(vdso.base.0);
        assert_eq!(text.prot, Prot::RX);
        assert_eq!(text.name, VmaName::Path("[vdso]".into()));
        let vvar = at(vdso.base.0 - PAGE_SIZE);
        assert_eq!(vvar.prot, Prot::READ);
        assert_eq!(vvar.name, VmaName::Path("[vvar]".into()));
        assert_eq!(vvar.end, vdso.base);
        assert_eq!(vvar.start.0, vdso.base.0 - VVAR_PAGES * PAGE_SIZE);
        // The trampoline is exactly `mov x8, #139; svc #0`.
        let mut code = [0u8; 8];
        mm.copy_in(vdso.rt_sigreturn, &mut code).unwrap();
        assert_eq!(code, [0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4]);
    }
}
