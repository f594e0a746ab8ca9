//! Building blocks for tests that need a runnable aarch64 program without a cross compiler.

/// The address `tiny_elf` loads its code at (the entry point).
pub const TINY_ENTRY: u64 = 0x400078;

/// A minimal static aarch64 ELF: one read+execute PT_LOAD segment at 0x400000 holding the ELF
/// header, the program header and then `code`, which starts at [`TINY_ENTRY`].
pub fn tiny_elf(code: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 0x78];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2; // ELFCLASS64
    b[5] = 1; // little-endian
    b[6] = 1; // EV_CURRENT
    b[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    b[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    b[20..24].copy_from_slice(&1u32.to_le_bytes());
    b[24..32].copy_from_slice(&TINY_ENTRY.to_le_bytes());
    b[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    b[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    b[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    b[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    let ph = 64;
    b[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    b[ph + 4..ph + 8].copy_from_slice(&5u32.to_le_bytes()); // PF_R | PF_X
    b[ph + 16..ph + 24].copy_from_slice(&0x400000u64.to_le_bytes()); // p_vaddr
    b[ph + 24..ph + 32].copy_from_slice(&0x400000u64.to_le_bytes()); // p_paddr
    let size = (0x78 + code.len()) as u64;
    b[ph + 32..ph + 40].copy_from_slice(&size.to_le_bytes()); // p_filesz
    b[ph + 40..ph + 48].copy_from_slice(&size.to_le_bytes()); // p_memsz
    b[ph + 48..ph + 56].copy_from_slice(&0x1000u64.to_le_bytes()); // p_align
    b.extend_from_slice(code);
    b
}

/// Little-endian bytes of aarch64 instruction words.
pub fn code(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// A [`tiny_elf`] program written to a directory of its own under the host's temporary
/// directory, removed with it on drop.
#[derive(Debug)]
pub struct TempProgram {
    dir: std::path::PathBuf,
    /// The program file.
    pub path: std::path::PathBuf,
}

impl TempProgram {
    /// Writes `tiny_elf(code(words))` as `<new dir>/prog`.
    pub fn new(words: &[u32]) -> TempProgram {
        TempProgram::with_bytes(&tiny_elf(&code(words)))
    }

    /// Writes `bytes` as `<new dir>/prog`.
    pub fn with_bytes(bytes: &[u8]) -> TempProgram {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("elfvisor-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join("prog");
        std::fs::write(&path, bytes).expect("the program file");
        TempProgram { dir, path }
    }

    /// The directory the program is in (free for the test's own files).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for TempProgram {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
