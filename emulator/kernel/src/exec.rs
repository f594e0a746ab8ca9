//! `execve` in-process: the new program is loaded into a fresh address space while the old one
//! still runs (so a failure returns an errno and changes nothing), then the run loop swaps it in
//! on a new vCPU. `#!` scripts whose interpreter is an aarch64 ELF are followed, as Linux does.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use elfvisor_abi::Errno;
use elfvisor_abi::limits::{BINPRM_BUF_SIZE, BINPRM_MAX_RECURSION};
use elfvisor_mm::AddressSpace;

use crate::loader::{self, LoadError, Loaded, Startup};
use crate::task::types::HwCaps;

/// The guest arena: 1 TiB of reserved, unbacked host address space.
pub const ARENA_SIZE: u64 = 1 << 40;

/// 16 bytes for AT_RANDOM.
pub fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // getrandom(2) on 16 bytes does not fail short on Linux; zeros would still start the guest.
    let _ = crate::host::getrandom(&mut bytes, false);
    bytes
}

/// A loaded program waiting for the run loop to switch to it.
#[derive(Debug)]
pub struct PreparedExec {
    pub mm: AddressSpace,
    pub loaded: Loaded,
}

fn load_errno(err: &LoadError) -> Errno {
    match err {
        LoadError::Open { source, .. } => elfvisor_host::errno_from_io(source),
        LoadError::NotElf { .. } | LoadError::WrongMachine { .. } | LoadError::Malformed { .. } => {
            Errno::ENOEXEC
        }
        // load_elf_binary: the interpreter's open_exec error, or ELIBBAD when it is no
        // aarch64 ELF.
        LoadError::Interp { errno, .. } => *errno,
        LoadError::BadInterp { .. } => Errno::ELIBBAD,
        LoadError::OutOfRange { .. } | LoadError::Map { .. } => Errno::ENOMEM,
        LoadError::ArgsTooLong { .. } => Errno::E2BIG,
    }
}

/// Parses a `#!` line: the interpreter and its optional single argument.
pub fn parse_shebang(head: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|&b| b == b'\n').next()?;
    let line: Vec<u8> = line.iter().copied().map(|b| if b == b'\t' { b' ' } else { b }).collect();
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return None;
    }
    match trimmed.iter().position(|&b| b == b' ') {
        None => Some((trimmed.to_vec(), None)),
        Some(i) => {
            let arg = trimmed[i + 1..].trim_ascii();
            Some((trimmed[..i].to_vec(), (!arg.is_empty()).then(|| arg.to_vec())))
        }
    }
}

/// Resolves scripts, checks permissions and loads the program; nothing in `proc` changes.
pub fn prepare(
    path: &[u8],
    mut argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    hwcaps: HwCaps,
    randomize: bool,
    limits: elfvisor_mm::VmLimits,
) -> Result<PreparedExec, Errno> {
    let execfn = path.to_vec();
    let mut program = path.to_vec();
    for depth in 0..=BINPRM_MAX_RECURSION {
        // The program and each `#!` interpreter are guest paths, seen through the sysroot.
        let host = crate::sysroot::host_path(&program, crate::sysroot::Follow::Last)?;
        let cpath = CString::new(host.clone()).map_err(|_| Errno::ENOENT)?;
        let host_path = PathBuf::from(std::ffi::OsStr::from_bytes(&host));
        let meta = std::fs::metadata(&host_path).map_err(|e| elfvisor_host::errno_from_io(&e))?;
        if meta.is_dir() {
            return Err(Errno::EACCES);
        }
        crate::host::can_execute(&cpath)?;
        let mut head = vec![0u8; BINPRM_BUF_SIZE];
        let n = std::fs::File::open(&host_path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .map_err(|e| elfvisor_host::errno_from_io(&e))?;
        head.truncate(n);
        if let Some((interp, arg)) = parse_shebang(&head) {
            if depth == BINPRM_MAX_RECURSION {
                return Err(Errno::ELOOP);
            }
            // argv becomes: interpreter [arg] script original-argv[1..]
            let mut new_argv = vec![interp.clone()];
            new_argv.extend(arg);
            new_argv.push(program.clone());
            new_argv.extend(argv.into_iter().skip(1));
            argv = new_argv;
            program = interp;
            continue;
        }
        let mut mm = AddressSpace::new(ARENA_SIZE).map_err(|_| Errno::ENOMEM)?;
        // Linux's randomized layout unless the personality has ADDR_NO_RANDOMIZE
        // (load_elf_binary sets PF_RANDOMIZE from it).
        if randomize {
            let _ = mm.randomize_layout();
        }
        mm.set_lock_limit(crate::host::lock_limit);
        let startup = Startup {
            argv: &argv,
            envp: &envp,
            execfn: &execfn,
            hwcaps: hwcaps.into(),
            random: random_bytes(),
            ids: crate::host::ids(),
        };
        let loaded = loader::load(&mut mm, &host_path, &startup).map_err(|e| load_errno(&e))?;
        // Resource limits survive execve (they belong to the process, not the image).
        mm.set_vm_limits(limits);
        return Ok(PreparedExec { mm, loaded });
    }
    Err(Errno::ELOOP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_shebang() {
        assert_eq!(parse_shebang(b"#!/bin/sh\necho"), Some((b"/bin/sh".to_vec(), None)));
        assert_eq!(
            parse_shebang(b"#! /usr/bin/env  python3 -u \n"),
            Some((b"/usr/bin/env".to_vec(), Some(b"python3 -u".to_vec())))
        );
        assert_eq!(parse_shebang(b"#!\n"), None);
        assert_eq!(parse_shebang(b"\x7fELF"), None);
    }

    #[test]
    fn test_prepare_errors() {
        let env = Vec::new();
        assert_eq!(
            prepare(
                b"/nonexistent",
                vec![],
                env.clone(),
                HwCaps::default(),
                true,
                Default::default()
            )
            .unwrap_err(),
            Errno::ENOENT
        );
        assert_eq!(
            prepare(b"/", vec![], env.clone(), HwCaps::default(), true, Default::default())
                .unwrap_err(),
            Errno::EACCES
        );
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("text");
        std::fs::write(&text, b"just text").unwrap();
        let path = text.as_os_str().as_bytes();
        assert_eq!(
            prepare(path, vec![], env.clone(), HwCaps::default(), true, Default::default())
                .unwrap_err(),
            Errno::EACCES
        );
        std::fs::set_permissions(&text, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert_eq!(
            prepare(path, vec![], env.clone(), HwCaps::default(), true, Default::default())
                .unwrap_err(),
            Errno::ENOEXEC
        );
        let script = dir.path().join("loop");
        std::fs::write(&script, format!("#!{}\n", script.display())).unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert_eq!(
            prepare(
                script.as_os_str().as_bytes(),
                vec![],
                env,
                HwCaps::default(),
                true,
                Default::default()
            )
            .unwrap_err(),
            Errno::ELOOP
        );
    }
}
