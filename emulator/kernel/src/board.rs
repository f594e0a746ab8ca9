//! The process board: a small shared memory file where each emulator process publishes the
//! part of its guest's state that another guest process's `/proc/<pid>/…` reads need and the
//! host's files get wrong (they describe the emulator): the guest threads (their count and
//! tids, without the emulator's helper threads), the first thread's signal mask and pending
//! signals, the process's pending signals, the ignored and caught signals, the argument and
//! environment strings, and the guest's memory sizes.
//!
//! All but the memory sizes are published as they change, by the thread that changes them
//! (a signal is on the board when the call that queued it returns). The memory sizes change
//! with every page the guest touches, so they are counted on request: a reader bumps the
//! request word and wakes the board's server thread with a shared futex; the server counts
//! the address space as the guest's own `/proc/self/statm` would ([`crate::syscalls::proc_files`])
//! and answers in the answer word. A process that does not answer in [`ANSWER_LIMIT`] (one
//! stopped by a signal) is shown with the host's memory lines instead.
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
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::syscalls::proc_files::MemCounts;
use crate::task::Task;
use crate::task::types::SharedMm;

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
/// The first thread's pending signals and the process's (`SigPnd`, `ShdPnd`).
const W_SIGPND: usize = 9;
const W_SHDPND: usize = 10;
/// The memory sizes' request and answer counters (futex words in their low halves).
const W_REQUEST: usize = 11;
const W_ANSWER: usize = 12;
/// The memory sizes in pages, as [`MemCounts`] holds them (eight words from here).
const W_MEM: usize = 13;
/// How many tids the tid area holds, and its sequence count (odd while written).
const W_TIDS: usize = 21;
const W_TIDS_SEQ: usize = 22;
const HEADER_WORDS: usize = 23;
/// The guest tids, 32 bits each, in the order the threads joined (at most [`MAX_TIDS`]).
const TIDS_AT: usize = 256;
const _: () = assert!(HEADER_WORDS * 8 <= TIDS_AT, "the header fits before the tids");
/// Where the argument strings start, and the environment's; each area holds at most
/// [`AREA`] bytes (longer strings are cut there).
const CMDLINE_AT: usize = 4096;
const MAX_TIDS: usize = (CMDLINE_AT - TIDS_AT) / 4;
/// How long a reader waits for another process to count its memory.
const ANSWER_LIMIT: Duration = Duration::from_millis(500);
const ENVIRON_AT: usize = BOARD_BYTES / 2;
const AREA: usize = BOARD_BYTES / 2 - CMDLINE_AT;

/// This process's board: its memfd and its shared mapping.
struct Board {
    _fd: OwnedFd,
    map: Mapping,
}

/// A board's shared mapping of [`BOARD_BYTES`] bytes: this process's own (kept by its
/// [`Board`]) or another process's, mapped by a reader for its request ([`ask`]).
#[derive(Clone, Copy)]
struct Mapping {
    base: *mut u8,
}

// SAFETY: the mapping is process memory that lives as long as the `Board` (unmapped only in
// `Drop`); every access goes through atomics or happens under `BOARD`'s lock.
unsafe impl Send for Board {}

impl std::ops::Deref for Board {
    type Target = Mapping;
    fn deref(&self) -> &Mapping {
        &self.map
    }
}

impl Board {
    fn create() -> Option<Board> {
        let fd = crate::host::shm::memfd_create(NAME, libc::MFD_CLOEXEC).ok()?;
        // SAFETY: a descriptor this process owns; ftruncate takes no pointers.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), BOARD_BYTES as libc::off_t) } != 0 {
            return None;
        }
        let map = Mapping::shared(fd.as_raw_fd())?;
        let board = Board { _fd: fd, map };
        board.word(W_MAGIC).store(MAGIC, Ordering::Release);
        board.word(W_OWNER).store(u64::from(crate::host::pid()), Ordering::Release);
        Some(board)
    }
}

impl Mapping {
    /// A shared read-write mapping of the first [`BOARD_BYTES`] bytes of board file `fd`
    /// (which is that long); the caller unmaps it.
    fn shared(fd: std::os::fd::RawFd) -> Option<Mapping> {
        // SAFETY: a fresh shared mapping of a file of BOARD_BYTES bytes; nothing else is
        // mapped at the address the host picks.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                BOARD_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        (base != libc::MAP_FAILED).then(|| Mapping { base: base.cast() })
    }

    /// Header word `i`.
    fn word(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < HEADER_WORDS);
        // SAFETY: the mapping is BOARD_BYTES bytes, page-aligned, and stays mapped while a
        // `Mapping` of it is used (a `Board` unmaps it when dropped, which only a fork child's
        // adopt or the process's end does; a reader's `ask` unmaps after its last use); the
        // header's words are only ever accessed as atomics.
        unsafe { AtomicU64::from_ptr(self.base.cast::<u64>().add(i)) }
    }

    /// The futex word in the low half of header word `i` (the board is little-endian, as
    /// every host the emulator runs on).
    fn futex_word(&self, i: usize) -> &AtomicU32 {
        debug_assert!(i < HEADER_WORDS);
        // SAFETY: as for `word`; a u32 at the start of an 8-byte aligned word is aligned, and
        // the request and answer words are only ever accessed as these 32-bit atomics.
        unsafe { AtomicU32::from_ptr(self.base.cast::<u32>().add(i * 2)) }
    }

    /// Writes the tid list under its sequence count.
    fn put_tids(&self, tids: &[u32]) {
        let n = tids.len().min(MAX_TIDS);
        let seq = self.word(W_TIDS_SEQ).load(Ordering::Relaxed);
        self.word(W_TIDS_SEQ).store(seq | 1, Ordering::Release);
        for (i, &tid) in tids.iter().take(n).enumerate() {
            // SAFETY: TIDS_AT + 4 * i stays below CMDLINE_AT, inside the mapping, 4-aligned;
            // only this process writes the tids, under the sequence count.
            unsafe { AtomicU32::from_ptr(self.base.add(TIDS_AT).cast::<u32>().add(i)) }
                .store(tid, Ordering::Relaxed);
        }
        self.word(W_TIDS).store(n as u64, Ordering::Release);
        self.word(W_TIDS_SEQ).store((seq | 1) + 1, Ordering::Release);
    }

    /// Whether the calling process owns this board (a host fork child holds its parent's
    /// until it adopts its own, and must not write to it).
    fn is_mine(&self) -> bool {
        self.word(W_OWNER).load(Ordering::Relaxed) == crate::host::getpid() as u64
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
        unsafe { libc::munmap(self.map.base.cast(), BOARD_BYTES) };
    }
}

static BOARD: Mutex<Option<Board>> = Mutex::new(None);

/// Writes to this process's own board (nothing while it has none of its own).
fn with_board(f: impl FnOnce(&Board)) {
    let board = BOARD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = board.as_ref().filter(|b| b.is_mine()) {
        f(b);
    }
}

/// The address space the server counts, and the program's path (its text is counted apart).
static SOURCE: Mutex<Option<(SharedMm, String)>> = Mutex::new(None);
/// The process whose board server is running (a host fork child starts its own).
static SERVER_PID: AtomicU32 = AtomicU32::new(0);

fn set_source(task: &Task) {
    let exe = task.group().exe().to_string_lossy().into_owned();
    *SOURCE.lock().unwrap_or_else(|e| e.into_inner()) = Some((task.mm.clone(), exe));
}

/// Held across a host fork, after the process's other locks: the child finds the board and
/// the server's source free (its server is not there to release them).
pub fn fork_lock() -> impl Sized {
    (
        SOURCE.lock().unwrap_or_else(|e| e.into_inner()),
        BOARD.lock().unwrap_or_else(|e| e.into_inner()),
    )
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

/// Makes this process's board (dropping one a host fork inherited), publishes everything and
/// starts the server.
pub fn start(task: &Task) {
    let fresh = Board::create();
    *BOARD.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
    publish_all(task);
    start_server();
}

/// The board at the start of the run loop: made unless this process already has its own (a
/// respawned child makes it before its parent's fork returns).
pub fn ensure(task: &Task) {
    let has = BOARD.lock().unwrap_or_else(|e| e.into_inner()).is_some();
    if has {
        publish_all(task);
        start_server();
    } else {
        start(task)
    }
}

/// Publishes everything: after `start`, and after an `execve` loaded a new image.
pub fn publish_all(task: &Task) {
    set_source(task);
    let tids: Vec<u32> = task.group().threads().iter().map(|t| t.tid()).collect();
    let tids = if tids.is_empty() { vec![task.pid()] } else { tids };
    let snap = snapshot(task);
    with_board(|b| fill(b, &snap, &tids));
}

/// A fork child's board, made by the parent before a host fork so that the child has it from
/// its first moment (a reader must never take the parent's, which the child inherits until
/// it drops it): the parent's state with one thread, nothing pending and no owner yet.
pub struct ChildBoard(Option<Board>);

pub fn prepare_child(task: &Task) -> ChildBoard {
    let board = Board::create();
    if let Some(b) = &board {
        b.word(W_OWNER).store(0, Ordering::Release);
        fill(b, &Snapshot { sigpnd: 0, shdpnd: 0, ..snapshot(task) }, &[]);
    }
    ChildBoard(board)
}

/// In the child of a host fork: the prepared board becomes this process's, the parent's goes,
/// and the child's own server starts.
pub fn adopt(child: ChildBoard) {
    let me = crate::host::pid();
    if let Some(b) = &child.0 {
        b.put_tids(&[me]);
        b.word(W_OWNER).store(u64::from(me), Ordering::Release);
    }
    *BOARD.lock().unwrap_or_else(|e| e.into_inner()) = child.0;
    start_server();
}

/// What a board shows of a task's process, gathered before the board's lock is taken (the
/// locks gathering takes come before it everywhere, a host fork's included).
struct Snapshot {
    cmdline: Vec<u8>,
    environ: Vec<u8>,
    ignored: u64,
    caught: u64,
    sigmask: u64,
    sigpnd: u64,
    shdpnd: u64,
}

fn snapshot(task: &Task) -> Snapshot {
    let (cmdline, environ) = {
        let mm = task.mm.read();
        (crate::syscalls::proc_files::cmdline(&mm), crate::syscalls::proc_files::environ(&mm))
    };
    let (ignored, caught) = action_sets(task);
    let group = task.group();
    let sigpnd = group.find(task.pid()).map_or(0, |h| pending_bits(&h.pending()));
    let shdpnd = pending_bits(&group.pending());
    Snapshot { cmdline, environ, ignored, caught, sigmask: task.sigmask, sigpnd, shdpnd }
}

fn fill(b: &Mapping, s: &Snapshot, tids: &[u32]) {
    let seq = b.word(W_SEQ).load(Ordering::Relaxed);
    b.word(W_SEQ).store(seq + 1, Ordering::Release);
    b.put_area(CMDLINE_AT, W_CMDLINE_LEN, &s.cmdline);
    b.put_area(ENVIRON_AT, W_ENVIRON_LEN, &s.environ);
    b.word(W_SEQ).store(seq + 2, Ordering::Release);
    b.word(W_IGNORED).store(s.ignored, Ordering::Release);
    b.word(W_CAUGHT).store(s.caught, Ordering::Release);
    b.word(W_THREADS).store(tids.len().max(1) as u64, Ordering::Release);
    b.put_tids(tids);
    b.word(W_SIGMASK).store(s.sigmask, Ordering::Release);
    b.word(W_SIGPND).store(s.sigpnd, Ordering::Release);
    b.word(W_SHDPND).store(s.shdpnd, Ordering::Release);
}

fn pending_bits(list: &[crate::signal::info::SigInfo]) -> u64 {
    list.iter().fold(0, |m, s| m | s.signo.mask_bit())
}

/// The process's signal actions changed (`rt_sigaction`).
pub fn publish_actions(task: &Task) {
    let (ignored, caught) = action_sets(task);
    with_board(|b| {
        b.word(W_IGNORED).store(ignored, Ordering::Release);
        b.word(W_CAUGHT).store(caught, Ordering::Release);
    });
}

/// The guest threads changed: their tids, in the order they joined.
pub fn publish_threads(tids: &[u32]) {
    with_board(|b| {
        b.word(W_THREADS).store(tids.len().max(1) as u64, Ordering::Release);
        b.put_tids(tids);
    });
}

/// The first thread's signal mask (what `/proc/<pid>/status` shows as SigBlk).
pub fn publish_sigmask(mask: u64) {
    with_board(|b| b.word(W_SIGMASK).store(mask, Ordering::Relaxed));
}

/// Whose pending signals a queue holds, for the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingOf {
    /// The process's first thread (`SigPnd`).
    Leader,
    /// The process (`ShdPnd`).
    Process,
}

/// A pending set changed: published by the thread that changed it, before its call returns.
pub fn publish_pending(of: PendingOf, bits: u64) {
    let word = match of {
        PendingOf::Leader => W_SIGPND,
        PendingOf::Process => W_SHDPND,
    };
    with_board(|b| b.word(word).store(bits, Ordering::Release));
}

/// Starts this process's board server unless it runs already.
fn start_server() {
    let pid = crate::host::pid();
    if SERVER_PID.swap(pid, Ordering::SeqCst) == pid {
        return;
    }
    // It takes no signal: the forwarded ones are for the guest's threads.
    let held = crate::signal::forward::hold_forwarded();
    let spawned = std::thread::Builder::new().name("elfvisor-board".into()).spawn(serve);
    drop(held);
    if let Err(e) = spawned {
        eprintln!("elfvisor: cannot start the board server ({e}); /proc shows host memory sizes");
    }
}

/// Shared (not process-private) futex operations on a board word, which other processes
/// wait on and wake through their own mappings.
fn shared_futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(t.subsec_nanos() as i32),
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT on a live, aligned word of a shared mapping; `ts_ptr` is null or
    // points to a timespec that outlives the call.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, ts_ptr);
    }
}

fn shared_futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live, aligned word of a shared mapping.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

/// The server: counts the guest's memory whenever a reader asks.
fn serve() {
    loop {
        // The board's mapping outlives any use here: a board is only replaced by exec's
        // publish (the same board) or a fork child's adopt (in the child, where this thread
        // does not exist), so the pointer stays valid for this process.
        let board = match BOARD.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(b) if b.is_mine() => b.map,
            _ => return,
        };
        let request = board.futex_word(W_REQUEST).load(Ordering::Acquire);
        if board.futex_word(W_ANSWER).load(Ordering::Acquire) == request {
            shared_futex_wait(board.futex_word(W_REQUEST), request, None);
        } else {
            // The source is let go before the address space is locked.
            let source = SOURCE.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let counts =
                source.map(|(mm, exe)| crate::syscalls::proc_files::mem_counts(&mm.read(), &exe));
            if let Some(c) = counts {
                for (i, v) in c.to_words().into_iter().enumerate() {
                    board.word(W_MEM + i).store(v, Ordering::Release);
                }
            }
            board.futex_word(W_ANSWER).store(request, Ordering::Release);
            shared_futex_wake(board.futex_word(W_ANSWER));
        }
    }
}
/// Another guest process's published state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub sigmask: u64,
    pub ignored: u64,
    pub caught: u64,
    pub threads: u64,
    /// The first thread's pending signals, and the process's.
    pub sigpnd: u64,
    pub shdpnd: u64,
    /// The guest tids in the order the threads joined.
    pub tids: Vec<u32>,
    /// The memory sizes as the process counted them for this read; none when it did not
    /// answer in time.
    pub mem: Option<MemCounts>,
    pub cmdline: Vec<u8>,
    pub environ: Vec<u8>,
}

/// The board of host process `pid`, if it is an emulator process that has one: the board
/// it owns, else one handed to it by a fork (a host fork child holds its parent's board
/// too until it drops it, and owns its own from its first instruction). `memory`: ask the
/// process to count its memory first.
pub fn read(pid: u32, memory: bool) -> Option<View> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let want = format!("/memfd:{} (deleted)", NAME.to_str().ok()?);
    let mut handed = None;
    for entry in dir.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else { continue };
        if target.as_os_str().as_encoded_bytes() != want.as_bytes() {
            continue;
        }
        let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(entry.path()) else {
            continue;
        };
        let Some((owner, _)) = read_file(&file, false) else { continue };
        if owner == u64::from(pid) {
            let answered = memory && ask(&file);
            return read_file(&file, answered).map(|(_, view)| view);
        }
        if owner == 0 {
            handed = read_file(&file, false).map(|(_, view)| view);
        }
    }
    handed
}

/// Asks the board's process to count its memory, and waits up to [`ANSWER_LIMIT`] for the
/// answer. Whether it came.
fn ask(file: &std::fs::File) -> bool {
    // Unmapped below after the last use.
    let Some(board) = Mapping::shared(file.as_raw_fd()) else { return false };
    let request = board.futex_word(W_REQUEST).fetch_add(1, Ordering::AcqRel).wrapping_add(1);
    shared_futex_wake(board.futex_word(W_REQUEST));
    let deadline = Instant::now() + ANSWER_LIMIT;
    let answered = loop {
        let answer = board.futex_word(W_ANSWER).load(Ordering::Acquire);
        // Any answer at or after this request (another reader's may have come later).
        if answer.wrapping_sub(request) < u32::MAX / 2 {
            break true;
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { break false };
        shared_futex_wait(board.futex_word(W_ANSWER), answer, Some(left));
    };
    // SAFETY: the mapping made above, no longer used.
    unsafe { libc::munmap(board.base.cast(), BOARD_BYTES) };
    answered
}

/// Parses a board from its file (its owner and what it shows, with the memory sizes when
/// `memory`), retrying a copy that raced a write of the strings or the tids.
fn read_file(file: &std::fs::File, memory: bool) -> Option<(u64, View)> {
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
        let (seq, tids_seq) = (word(&buf, W_SEQ), word(&buf, W_TIDS_SEQ));
        let mut again = [0u8; HEADER_WORDS * 8];
        file.read_exact_at(&mut again, 0).ok()?;
        if seq % 2 == 1
            || tids_seq % 2 == 1
            || word(&again, W_SEQ) != seq
            || word(&again, W_TIDS_SEQ) != tids_seq
        {
            std::thread::yield_now();
            continue;
        }
        let area = |at: usize, len_word: usize| {
            let n = (word(&buf, len_word) as usize).min(AREA);
            buf[at..at + n].to_vec()
        };
        let tids = (0..(word(&buf, W_TIDS) as usize).min(MAX_TIDS))
            .map(|i| {
                let at = TIDS_AT + 4 * i;
                u32::from_le_bytes(buf[at..at + 4].try_into().expect("four bytes"))
            })
            .collect();
        let mem = memory.then(|| {
            let mut words = [0u64; MemCounts::WORDS];
            for (i, w) in words.iter_mut().enumerate() {
                *w = word(&buf, W_MEM + i);
            }
            MemCounts::from_words(words)
        });
        return Some((
            word(&buf, W_OWNER),
            View {
                sigmask: word(&buf, W_SIGMASK),
                ignored: word(&buf, W_IGNORED),
                caught: word(&buf, W_CAUGHT),
                threads: word(&buf, W_THREADS),
                sigpnd: word(&buf, W_SIGPND),
                shdpnd: word(&buf, W_SHDPND),
                tids,
                mem,
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
        board.put_tids(&[7, 9]);
        board.word(W_SIGPND).store(0x100, Ordering::Relaxed);
        let (owner, view) = read_file(&from_raw_fd_for_test(dup), false).expect("a view");
        assert_eq!(owner, u64::from(crate::host::pid()));
        assert_eq!(view.sigmask, 0x800);
        assert_eq!(view.threads, 2);
        assert_eq!(view.tids, [7, 9]);
        assert_eq!((view.sigpnd, view.shdpnd, view.mem), (0x100, 0, None));
        assert_eq!(view.cmdline, b"prog\0one\0");
        assert_eq!(view.environ.len(), AREA, "cut at the area's size");
    }

    #[test]
    fn test_a_board_being_written_is_not_read() {
        let board = Board::create().expect("a memfd");
        board.word(W_SEQ).store(1, Ordering::Relaxed);
        // SAFETY: dup of a live descriptor; the copy is owned by the File below.
        let dup = unsafe { libc::dup(board._fd.as_raw_fd()) };
        assert_eq!(read_file(&from_raw_fd_for_test(dup), false), None);
    }
}
