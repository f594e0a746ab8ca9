//! A writer for the `newc` cpio format, the one the Linux kernel unpacks as an initramfs.
//!
//! Archives are deterministic: inode numbers count up from 1, owners are root and every mtime is 0.

/// Builds an archive in memory.
#[derive(Debug, Default)]
pub struct CpioWriter {
    buf: Vec<u8>,
    next_ino: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

impl CpioWriter {
    pub fn new() -> CpioWriter {
        CpioWriter::default()
    }

    /// Adds a directory; parents must be added first, as the kernel creates nothing implicitly.
    pub fn dir(&mut self, path: &str, perm: u32) {
        self.entry(path, S_IFDIR | perm, 2, &[]);
    }

    /// Adds a regular file.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) {
        self.entry(path, S_IFREG | perm, 1, data);
    }

    /// Adds a symbolic link to `target` (stored verbatim, as the kernel creates it).
    pub fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, S_IFLNK | 0o777, 1, target.as_bytes());
    }

    /// Ends the archive and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 1, &[]);
        self.buf
    }

    fn entry(&mut self, path: &str, mode: u32, nlink: u32, data: &[u8]) {
        let name = path.trim_start_matches('/');
        self.next_ino += 1;
        let namesize = u32::try_from(name.len() + 1).expect("cpio names are short");
        let filesize = u32::try_from(data.len()).expect("newc files are under 4 GiB");
        let fields = [self.next_ino, mode, 0, 0, nlink, 0, filesize, 0, 0, 0, 0, namesize, 0];
        self.buf.extend_from_slice(b"070701");
        for field in fields {
            self.buf.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    /// Header+name and data each end on a 4-byte boundary.
    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_layout_of_one_file() {
        let mut w = CpioWriter::new();
        w.file("/init", 0o755, b"abcde");
        let bytes = w.finish();
        // 110-byte header, "init\0" padded to 116, 5 data bytes padded to 124, then the trailer.
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(&bytes[6..14], b"00000001", "inode");
        assert_eq!(&bytes[14..22], b"000081ed", "mode: regular file 0755");
        assert_eq!(&bytes[54..62], b"00000005", "file size");
        assert_eq!(&bytes[94..102], b"00000005", "name size with NUL");
        assert_eq!(&bytes[110..116], b"init\0\0");
        assert_eq!(&bytes[116..121], b"abcde");
        assert_eq!(&bytes[121..124], b"\0\0\0");
        assert_eq!(&bytes[124..130], b"070701");
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn test_archives_are_deterministic() {
        let make = || {
            let mut w = CpioWriter::new();
            w.dir("/bin", 0o755);
            w.file("/bin/x", 0o755, &[1, 2, 3]);
            w.finish()
        };
        assert_eq!(make(), make());
    }
}
