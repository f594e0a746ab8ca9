//! The process board: a small shared memory file where each emulator process publishes the
//! part of its guest's state that another guest process's `/proc/<pid>/…` reads need and the
//! host's files get wrong (they describe the emulator): the guest thread count (without the
//! emulator's helper threads), the first thread's signal mask, the ignored and caught
//! signals, and the argument and environment strings.
//!
//! The board is a host memfd named [`NAME`], mapped shared and close-on-exec; a reader finds
//! it among `/proc/<pid>/fd` of the other process (which needs the same access as reading
//! that process's `/proc/<pid>/environ`), so it lives exactly as long as the process. A host
//! fork child starts with a board its parent prepared (it holds the parent's too until it
//! drops it, so each board names its owner); a respawned child makes its own before its
//! parent's fork returns; an `execve` publishes afresh. Counters are single atomic words; the
//! strings sit behind a sequence count (odd while written) that a reader checks before and
//! after its copy.

use std::ffi::CStr;
#[cfg(test)]
use std::os::fd::FromRawFd;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::task::Task;

/// The memfd's name, as `/proc/<pid>/fd/<n>` shows it: `/memfd:<NAME> (deleted)`.
const NAME: &CStr = c"elfvisor-board";
/// "EVBORD01".
const MAGIC: u64 = u64::from_le_bytes(*b"EVBORD01");
const BOARD_BYTES: usize = 64 * 1024;

/// Word offsets of the header.
const W_MAGIC: usize = 0;
const W_SEQ: usize = 1;
const W_SIGMASK: usize = 2;
const W_IGNORED: usize = 3;
const W_CAUGHT: usize = 4;
const W_THREADS: usize = 5;
const W_CMDLINE_LEN: usize = 6;
const W_ENVIRON_LEN: usize = 7;
/// The host pid of the process whose board it is; 0 while it is handed to a fork child.
const W_OWNER: usize = 8;
/// Where the argument strings start, and the environment's; each area holds at most
/// [`AREA`] bytes (longer strings are cut there).
const CMDLINE_AT: usize = 128;
const _: () = assert!(W_OWNER < CMDLINE_AT / 8, "the header fits before the strings");
const ENVIRON_AT: usize = BOARD_BYTES / 2;
const AREA: usize = BOARD_BYTES / 2 - CMDLINE_AT;

/// This process's board: its memfd and its shared mapping.
struct Board {
    _fd: OwnedFd,
    base: *mut u8,
}

// SAFETY: the mapping is process memory that lives as long as the `Board` (unmapped only in
// `Drop`); every access goes through atomics or happens under `BOARD`'s lock.
unsafe impl Send for Board {}

impl Board {
    fn create() -> Option<Board> {
        let fd = crate::host::shm::memfd_create(NAME, libc::MFD_CLOEXEC).ok()?;
        // SAFETY: a descriptor this process owns; ftruncate takes no pointers.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), BOARD_BYTES as libc::off_t) } != 0 {
            return None;
        }
        // SAFETY: a fresh shared mapping of BOARD_BYTES bytes of a file just sized to BOARD_BYTES.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                BOARD_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let board = Board { _fd: fd, base: base.cast() };
        board.word(W_MAGIC).store(MAGIC, Ordering::Release);
        board.word(W_OWNER).store(u64::from(std::process::id()), Ordering::Release);
        Some(board)
    }

    /// Header word `i`.
    fn word(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < CMDLINE_AT / 8);
        // SAFETY: the mapping is BOARD_BYTES bytes, page-aligned, and lives as long as `self`; the
        // header's words are only ever accessed as atomics.
        unsafe { AtomicU64::from_ptr(self.base.cast::<u64>().add(i)) }
    }

    /// Writes one string area and its length.
    fn put_area(&self, at: usize, len_word: usize, bytes: &[u8]) {
        let n = bytes.len().min(AREA);
        // SAFETY: `at + n` stays inside the mapping (at + AREA <= BOARD_BYTES); only this process
        // writes the areas, under `BOARD`'s lock and the sequence count.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(at), n) };
        self.word(len_word).store(n as u64, Ordering::Release);
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        // SAFETY: the mapping `create` made, unmapped once.
        unsafe { libc::munmap(self.base.cast(), BOARD_BYTES) };
    }
}

static BOARD: Mutex<Option<Board>> = Mutex::new(None);

fn with_board(f: impl FnOnce(&Board)) {
    let board = BOARD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = board.as_ref() {
        f(b);
    }
}

/// The ignored and caught signal sets of the task's process.
fn action_sets(task: &Task) -> (u64, u64) {
    let (mut ignored, mut caught) = (0u64, 0u64);
    for (i, a) in task.sigactions().all().iter().enumerate() {
        match a.handler {
            elfvisor_abi::signal::SIG_DFL => {}
            elfvisor_abi::signal::SIG_IGN => ignored |= 1 << i,
            _ => caught |= 1 << i,
        }
    }
    (ignored, caught)
}

/// Makes this process's board (dropping one a host fork inherited) and publishes everything.
pub fn start(task: &Task) {
    let fresh = Board::create();
    *BOARD.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
    publish_all(task);
}

/// The board at the start of the run loop: made unless this process already has its own (a
/// respawned child makes it before its parent's fork returns).
pub fn ensure(task: &Task) {
    let has = BOARD.lock().unwrap_or_else(|e| e.into_inner()).is_some();
    if has { publish_all(task) } else { start(task) }
}

/// Publishes everything: after `start`, and after an `execve` loaded a new image.
pub fn publish_all(task: &Task) {
    let threads = task.group().threads().len();
    with_board(|b| fill(b, task, threads));
}

/// A fork child's board, made by the parent before a host fork so that the child has it from
/// its first moment (a reader must never take the parent's, which the child inherits until
/// it drops it): the parent's state with one thread and no owner yet.
pub struct ChildBoard(Option<Board>);

pub fn prepare_child(task: &Task) -> ChildBoard {
    let board = Board::create();
    if let Some(b) = &board {
        b.word(W_OWNER).store(0, Ordering::Release);
        fill(b, task, 1);
    }
    ChildBoard(board)
}

/// In the child of a host fork: the prepared board becomes this process's, the parent's goes.
pub fn adopt(child: ChildBoard) {
    if let Some(b) = &child.0 {
        b.word(W_OWNER).store(u64::from(std::process::id()), Ordering::Release);
    }
    *BOARD.lock().unwrap_or_else(|e| e.into_inner()) = child.0;
}

fn fill(b: &Board, task: &Task, threads: usize) {
    let (cmdline, environ) = {
        let mm = task.mm.read();
        (crate::syscalls::proc_files::cmdline(&mm), crate::syscalls::proc_files::environ(&mm))
    };
    let (ignored, caught) = action_sets(task);
    let seq = b.word(W_SEQ).load(Ordering::Relaxed);
    b.word(W_SEQ).store(seq + 1, Ordering::Release);
    b.put_area(CMDLINE_AT, W_CMDLINE_LEN, &cmdline);
    b.put_area(ENVIRON_AT, W_ENVIRON_LEN, &environ);
    b.word(W_SEQ).store(seq + 2, Ordering::Release);
    b.word(W_IGNORED).store(ignored, Ordering::Release);
    b.word(W_CAUGHT).store(caught, Ordering::Release);
    b.word(W_THREADS).store(threads.max(1) as u64, Ordering::Release);
    b.word(W_SIGMASK).store(task.sigmask, Ordering::Release);
}

/// The process's signal actions changed (`rt_sigaction`).
pub fn publish_actions(task: &Task) {
    let (ignored, caught) = action_sets(task);
    with_board(|b| {
        b.word(W_IGNORED).store(ignored, Ordering::Release);
        b.word(W_CAUGHT).store(caught, Ordering::Release);
    });
}

/// The number of guest threads changed.
pub fn publish_threads(count: usize) {
    with_board(|b| b.word(W_THREADS).store(count.max(1) as u64, Ordering::Release));
}

/// The first thread's signal mask (what `/proc/<pid>/status` shows as SigBlk).
pub fn publish_sigmask(mask: u64) {
    with_board(|b| b.word(W_SIGMASK).store(mask, Ordering::Relaxed));
}

/// Another guest process's published state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub sigmask: u64,
    pub ignored: u64,
    pub caught: u64,
    pub threads: u64,
    pub cmdline: Vec<u8>,
    pub environ: Vec<u8>,
}

/// The board of host process `pid`, if it is an emulator process that has one: the board
/// it owns, else one handed to it by a fork (a host fork child holds its parent's board
/// too until it drops it, and owns its own from its first instruction).
pub fn read(pid: u32) -> Option<View> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let want = format!("/memfd:{} (deleted)", NAME.to_str().ok()?);
    let mut handed = None;
    for entry in dir.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else { continue };
        if target.as_os_str().as_encoded_bytes() != want.as_bytes() {
            continue;
        }
        let Ok(file) = std::fs::File::open(entry.path()) else { continue };
        let Some((owner, view)) = read_file(&file) else { continue };
        if owner == u64::from(pid) {
            return Some(view);
        }
        if owner == 0 {
            handed = Some(view);
        }
    }
    handed
}

/// Parses a board from its file (its owner and what it shows), retrying a copy that raced a
/// write of the strings.
fn read_file(file: &std::fs::File) -> Option<(u64, View)> {
    use std::os::unix::fs::FileExt;
    let word = |buf: &[u8], i: usize| {
        u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().expect("eight bytes"))
    };
    for _ in 0..16 {
        let mut buf = vec![0u8; BOARD_BYTES];
        file.read_exact_at(&mut buf, 0).ok()?;
        if word(&buf, W_MAGIC) != MAGIC {
            return None;
        }
        let seq = word(&buf, W_SEQ);
        let mut again = [0u8; 8];
        file.read_exact_at(&mut again, (W_SEQ * 8) as u64).ok()?;
        if seq % 2 == 1 || u64::from_le_bytes(again) != seq {
            std::thread::yield_now();
            continue;
        }
        let area = |at: usize, len_word: usize| {
            let n = (word(&buf, len_word) as usize).min(AREA);
            buf[at..at + n].to_vec()
        };
        return Some((
            word(&buf, W_OWNER),
            View {
                sigmask: word(&buf, W_SIGMASK),
                ignored: word(&buf, W_IGNORED),
                caught: word(&buf, W_CAUGHT),
                threads: word(&buf, W_THREADS),
                cmdline: area(CMDLINE_AT, W_CMDLINE_LEN),
                environ: area(ENVIRON_AT, W_ENVIRON_LEN),
            },
        ));
    }
    None
}

/// A board file from a raw descriptor, for tests.
#[cfg(test)]
fn from_raw_fd_for_test(fd: i32) -> std::fs::File {
    // SAFETY: the test owns `fd`.
    unsafe { std::fs::File::from_raw_fd(fd) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_board_round_trips_its_fields() {
        let board = Board::create().expect("a memfd");
        board.word(W_SIGMASK).store(0x800, Ordering::Relaxed);
        board.word(W_THREADS).store(2, Ordering::Relaxed);
        board.put_area(CMDLINE_AT, W_CMDLINE_LEN, b"prog\0one\0");
        board.put_area(ENVIRON_AT, W_ENVIRON_LEN, &vec![b'e'; AREA + 10]);
        // SAFETY: dup of a live descriptor; the copy is owned by the File below.
        let dup = unsafe { libc::dup(board._fd.as_raw_fd()) };
        let (owner, view) = read_file(&from_raw_fd_for_test(dup)).expect("a view");
        assert_eq!(owner, u64::from(std::process::id()));
        assert_eq!(view.sigmask, 0x800);
        assert_eq!(view.threads, 2);
        assert_eq!(view.cmdline, b"prog\0one\0");
        assert_eq!(view.environ.len(), AREA, "cut at the area's size");
    }

    #[test]
    fn test_a_board_being_written_is_not_read() {
        let board = Board::create().expect("a memfd");
        board.word(W_SEQ).store(1, Ordering::Relaxed);
        // SAFETY: dup of a live descriptor; the copy is owned by the File below.
        let dup = unsafe { libc::dup(board._fd.as_raw_fd()) };
        assert_eq!(read_file(&from_raw_fd_for_test(dup)), None);
    }
}
