//! Property test over mutated ELF files: whatever the bytes, loading returns a `LoadError` or a
//! loaded program — it never panics, and never maps anything outside the guest arena.

use elfvisor::loader::{self, Startup};
use elfvisor::testing::{code, tiny_elf};
use elfvisor_mm::AddressSpace;
use proptest::prelude::*;

fn startup() -> Startup<'static> {
    Startup {
        argv: &[],
        envp: &[],
        execfn: b"prog",
        hwcaps: (3, 0),
        random: [1; 16],
        ids: (0, 0, 0, 0),
    }
}

/// A valid two-segment program to mutate: code plus a writable segment with .bss.
fn seed() -> Vec<u8> {
    let mut elf = tiny_elf(&code(&[0xd2800bc8, 0xd4000001]));
    // A second program header: RW data at 0x410000 from file offset 0, with bss beyond it.
    let mut ph = elf[64..120].to_vec();
    ph[4..8].copy_from_slice(&6u32.to_le_bytes());
    ph[16..24].copy_from_slice(&0x410000u64.to_le_bytes());
    ph[40..48].copy_from_slice(&0x3000u64.to_le_bytes());
    let phoff = elf.len() as u64;
    let load = elf[64..120].to_vec();
    elf.extend_from_slice(&load);
    elf.extend_from_slice(&ph);
    elf[32..40].copy_from_slice(&phoff.to_le_bytes());
    elf[56..58].copy_from_slice(&2u16.to_le_bytes());
    elf
}

fn try_load(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prog");
    std::fs::write(&path, bytes).unwrap();
    let mut mm = AddressSpace::new(1 << 36).unwrap();
    if loader::load(&mut mm, &path, &startup()).is_ok() {
        mm.check_invariants().unwrap();
        assert!(mm.vmas().all(|v| v.end.0 <= mm.arena_size()));
    }
}

#[test]
fn test_seed_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prog");
    std::fs::write(&path, seed()).unwrap();
    let mut mm = AddressSpace::new(1 << 36).unwrap();
    loader::load(&mut mm, &path, &startup()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random bytes overwritten anywhere in the headers (where the interesting fields are).
    #[test]
    fn test_mutated_headers_never_panic(edits in prop::collection::vec((0usize..232, any::<u8>()), 1..12)) {
        let mut elf = seed();
        for (at, byte) in edits {
            let at = at % elf.len();
            elf[at] = byte;
        }
        try_load(&elf);
    }

    /// Whole 64-bit header fields replaced with extreme values.
    #[test]
    fn test_extreme_fields_never_panic(field in 0usize..29, value in prop_oneof![
        Just(0u64), Just(u64::MAX), Just(1u64 << 63), Just(0x1000u64), any::<u64>()
    ]) {
        let mut elf = seed();
        let at = (field * 8).min(elf.len() - 8);
        elf[at..at + 8].copy_from_slice(&value.to_le_bytes());
        try_load(&elf);
    }

    /// Truncation at every length.
    #[test]
    fn test_truncated_files_never_panic(len in 0usize..300) {
        let elf = seed();
        try_load(&elf[..len.min(elf.len())]);
    }
}
