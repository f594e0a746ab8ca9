//! The guest's own `/proc` files, generated at open time.
//!
//! Only `/proc/self/maps` (also as `/proc/<own pid>/maps` and `/proc/thread-self/maps`) is
//! the guest's: its lines are derived from the VMAs, in Linux's format. Opening it returns a
//! read-only descriptor on a host memfd holding the text as it was at open time (Linux generates
//! it while reading, so a reader that keeps the file open sees later changes; nothing relies on
//! that). Every other `/proc` path, `/proc/self/*` included, is still the host's, that is the
//! emulator process's, except `/proc/self/exe`, which `readlinkat` answers for the guest.

use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;

use elfvisor_abi::fcntl as g;
use elfvisor_abi::{Errno, GuestAddr, Prot};
use elfvisor_mm::{AddressSpace, Backing, ObjectKind, Vma, VmaName};

use super::ctx::{Ctx, SysResult};
use crate::host;

/// One line of `/proc/self/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapsLine {
    pub start: GuestAddr,
    pub end: GuestAddr,
    pub prot: Prot,
    pub shared: bool,
    /// File offset (0 for anonymous memory).
    pub offset: u64,
    /// Device (major, minor) and inode of the backing file; zero for anonymous memory.
    pub dev: (u32, u32),
    pub ino: u64,
    pub name: Option<Vec<u8>>,
}

/// The column where names start: `show_vma_header_prefix` pads to `25 + 6 * sizeof(void *)`
/// characters (minus one), then writes a space.
const NAME_COLUMN: usize = 25 + 6 * 8 - 1;

impl MapsLine {
    /// Appends the line as Linux's `show_map_vma` prints it (names padded to one column, a
    /// trailing space when there is no name, newlines in names escaped as `\012`).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let flag = |p: Prot, c: char| if self.prot.contains(p) { c } else { '-' };
        let line_start = out.len();
        out.extend_from_slice(
            format!(
                "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
                self.start.0,
                self.end.0,
                flag(Prot::READ, 'r'),
                flag(Prot::WRITE, 'w'),
                flag(Prot::EXEC, 'x'),
                if self.shared { 's' } else { 'p' },
                self.offset,
                self.dev.0,
                self.dev.1,
                self.ino,
            )
            .as_bytes(),
        );
        if let Some(name) = &self.name {
            let written = out.len() - line_start;
            out.resize(out.len() + NAME_COLUMN.saturating_sub(written), b' ');
            out.push(b' ');
            for &b in name {
                if b == b'\n' {
                    out.extend_from_slice(b"\\012");
                } else {
                    out.push(b);
                }
            }
        }
        out.push(b'\n');
    }
}

/// The `(major, minor)` of a host `st_dev` (glibc's `gnu_dev_major`/`gnu_dev_minor` encoding).
pub fn dev_parts(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// Device, inode and current path of a host descriptor: the path follows renames and ends in
/// ` (deleted)` once the file is unlinked, as Linux's `d_path` does; a file inside the sysroot
/// is named as the guest sees it.
fn file_identity(fd: std::os::fd::RawFd) -> ((u32, u32), u64, Option<Vec<u8>>) {
    let (dev, ino) = match host::fstatat(fd, c"", libc::AT_EMPTY_PATH) {
        Ok(st) => (dev_parts(st.dev), st.ino),
        Err(_) => ((0, 0), 0),
    };
    let link = std::ffi::CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL in a number");
    let path = host::readlinkat(libc::AT_FDCWD, &link).ok().map(|p| {
        let host = std::path::PathBuf::from(std::ffi::OsString::from_vec(p));
        crate::sysroot::guest_name(&host).into_os_string().into_vec()
    });
    (dev, ino, path)
}

/// The maps line of one VMA.
pub fn describe(v: &Vma) -> MapsLine {
    let mut line = MapsLine {
        start: v.start,
        end: v.end,
        prot: v.prot,
        shared: v.shared,
        offset: 0,
        dev: (0, 0),
        ino: 0,
        name: match &v.name {
            VmaName::None => None,
            VmaName::Heap => Some(b"[heap]".to_vec()),
            VmaName::Stack => Some(b"[stack]".to_vec()),
            VmaName::Path(p) => Some(p.as_bytes().to_vec()),
        },
    };
    match &v.backing {
        Backing::Anonymous => {}
        Backing::File { file, offset } => {
            let (dev, ino, path) = file_identity(file.as_raw_fd());
            line.offset = *offset;
            (line.dev, line.ino) = (dev, ino);
            line.name = path.or(line.name);
        }
        Backing::Shared { object, offset } => {
            line.offset = *offset;
            match object.kind() {
                ObjectKind::SysV { shmid, key } => {
                    // The shm mount's device, the segment id as inode, the key in the name.
                    (line.dev, line.ino) = ((0, 1), shmid as u64);
                    line.name = Some(format!("/SYSV{:08x} (deleted)", key as u32).into_bytes());
                }
                kind => {
                    let fd = object.fd().map_or(-1, |fd| fd.as_raw_fd());
                    let (dev, ino, path) = file_identity(fd);
                    (line.dev, line.ino) = (dev, ino);
                    line.name = if kind == ObjectKind::Anonymous {
                        Some(b"/dev/zero (deleted)".to_vec())
                    } else {
                        path
                    };
                }
            }
        }
    }
    line
}

/// The whole `/proc/self/maps` text.
pub fn maps(mm: &AddressSpace) -> Vec<u8> {
    let mut out = Vec::new();
    for v in mm.vmas() {
        describe(v).write_to(&mut out);
    }
    out
}

/// Whether `path` names this process's maps file.
pub fn is_own_maps(path: &[u8], pid: u32) -> bool {
    path == b"/proc/self/maps"
        || path == b"/proc/thread-self/maps"
        || path == format!("/proc/{pid}/maps").as_bytes()
        || path == format!("/proc/{pid}/task/{pid}/maps").as_bytes()
}

/// `openat` of the maps file: a read-only descriptor on the text generated now.
pub fn open_maps(ctx: &mut Ctx<'_>, flags: u32) -> SysResult {
    if flags & g::O_ACCMODE != g::O_RDONLY {
        return Err(Errno::EACCES);
    }
    if flags & g::O_DIRECTORY != 0 {
        return Err(Errno::ENOTDIR);
    }
    let text = maps(&ctx.proc.mm.read());
    let fd = host::shm::read_only_memfd(c"maps", &text)?;
    let guest = ctx.proc.fds().install_host(fd, flags & g::O_CLOEXEC != 0)?;
    Ok(guest as u64)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use elfvisor_abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED};
    use elfvisor_mm::MmapRequest;

    use super::*;

    fn text(line: &MapsLine) -> String {
        let mut out = Vec::new();
        line.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn test_line_format_matches_linux() {
        let mut l = MapsLine {
            start: GuestAddr(0x55e4_a623_a000),
            end: GuestAddr(0x55e4_a623_b000),
            prot: Prot::RX,
            shared: false,
            offset: 0x1000,
            dev: (0xfe, 0),
            ino: 10011441,
            name: Some(b"/tmp/m".to_vec()),
        };
        assert_eq!(
            text(&l),
            "55e4a623a000-55e4a623b000 r-xp 00001000 fe:00 10011441                   /tmp/m\n"
        );
        l.name = None;
        l.shared = true;
        l.prot = Prot::WRITE;
        assert_eq!(text(&l), "55e4a623a000-55e4a623b000 -w-s 00001000 fe:00 10011441 \n");
        l = MapsLine { start: GuestAddr(0x1_0000), end: GuestAddr(0x2_0000), ..l };
        l.name = Some(b"a\nb".to_vec());
        let t = text(&l);
        assert!(t.starts_with("00010000-00020000 "), "{t}");
        assert_eq!(t.find("a\\012b"), Some(NAME_COLUMN + 1), "{t}");
    }

    #[test]
    fn test_dev_parts_decode_glibc_encoding() {
        assert_eq!(dev_parts(0xfe00), (0xfe, 0));
        assert_eq!(dev_parts(0x0801), (8, 1));
        assert_eq!(dev_parts(libc::makedev(259, 70000)), (259, 70000));
    }

    #[test]
    fn test_maps_describe_every_kind_of_mapping() {
        let mut mm = AddressSpace::new(1 << 32).unwrap();
        mm.init_brk(GuestAddr(0x50_0000));
        mm.brk(GuestAddr(0x50_2000));
        let req = |addr: u64, flags: u32, file: Option<(Arc<std::fs::File>, u64)>| MmapRequest {
            addr: GuestAddr(addr),
            len: 0x2000,
            prot: Prot::RW,
            flags: flags | MAP_FIXED,
            file,
            name: VmaName::None,
        };
        mm.mmap(req(0x40_0000, MAP_PRIVATE | MAP_ANONYMOUS, None)).unwrap();
        mm.mmap(req(0x60_0000, MAP_SHARED | MAP_ANONYMOUS, None)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path);
        let file = Arc::new(file.unwrap());
        file.set_len(0x3000).unwrap();
        mm.mmap(req(0x70_0000, MAP_SHARED, Some((Arc::clone(&file), 0x1000)))).unwrap();
        mm.mmap(req(0x80_0000, MAP_PRIVATE, Some((Arc::clone(&file), 0)))).unwrap();
        let text = String::from_utf8(maps(&mm)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[0], "00400000-00402000 rw-p 00000000 00:00 0 ");
        assert!(lines[1].starts_with("00500000-00502000 rw-p 00000000 00:00 0 "), "{text}");
        assert!(lines[1].ends_with(" [heap]"), "{text}");
        assert!(lines[2].starts_with("00600000-00602000 rw-s 00000000 "), "{text}");
        assert!(lines[2].ends_with(" /dev/zero (deleted)"), "{text}");
        let st = std::fs::metadata(&path).unwrap();
        let (major, minor) = dev_parts(std::os::unix::fs::MetadataExt::dev(&st));
        let ino = std::os::unix::fs::MetadataExt::ino(&st);
        let prefix = format!("00700000-00702000 rw-s 00001000 {major:02x}:{minor:02x} {ino} ");
        assert!(lines[3].starts_with(&prefix), "{text}");
        assert!(lines[3].ends_with(&format!(" {}", path.display())), "{text}");
        assert_eq!(lines[3].find('/'), Some(NAME_COLUMN + 1), "{text}");
        assert!(lines[4].starts_with("00800000-00802000 rw-p 00000000 "), "{text}");
        std::fs::remove_file(&path).unwrap();
        let text = String::from_utf8(maps(&mm)).unwrap();
        assert!(text.contains(&format!("{} (deleted)\n", path.display())), "{text}");
    }

    #[test]
    fn test_own_maps_paths() {
        assert!(is_own_maps(b"/proc/self/maps", 42));
        assert!(is_own_maps(b"/proc/42/maps", 42));
        assert!(is_own_maps(b"/proc/42/task/42/maps", 42));
        assert!(!is_own_maps(b"/proc/43/maps", 42));
        assert!(!is_own_maps(b"/proc/self/smaps", 42));
    }
}
