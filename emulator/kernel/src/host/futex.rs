//! Host futexes on guest words, and the robust list the host kernel walks for a thread of the
//! emulator that dies without a word.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use elfvisor_abi::futex::RobustListHead;
use elfvisor_abi::{Errno, GuestAddr, Prot};
use elfvisor_mm::AddressSpace;

use elfvisor_host::last_errno;

/// An aligned guest futex word, checked mapped, as its host address: only the host kernel
/// touches it (through [`futex`] and [`futex_waitv`]).
#[derive(Debug, Clone, Copy)]
pub struct FutexWord(*mut u32);

/// The host address of the aligned futex word at guest `addr`, mapped with `need`.
///
/// The word goes only to host futex calls, so a file behind it is not asked for its size on
/// every call (`AddressSpace::host_range_for_host_call`): a page past the end of the file by
/// the cached size is `EFAULT` here, and one the file left since then is `EFAULT` from the host
/// kernel's own access (`get_futex_value_locked` and the fault-in after it, or `get_futex_key`'s
/// `get_user_pages_fast` for a shared word), as on Linux.
pub fn futex_word(mm: &AddressSpace, addr: u64, need: Prot) -> Result<FutexWord, Errno> {
    if addr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(FutexWord(mm.host_range_for_host_call(GuestAddr(addr), 4, need)?.cast()))
}

/// The host address of the aligned futex word at guest `addr` for a private wake, which never
/// reads the word: nothing need be mapped there. Linux's `get_futex_key` for a private futex
/// checks only the alignment (EINVAL) and that the address is a user one (`access_ok`,
/// EFAULT); its key is the address, so such a wake finds whoever still waits there (usually
/// nobody). None for a user address past the arena, where no guest word can be.
pub fn futex_word_unread(mm: &AddressSpace, addr: u64) -> Result<Option<FutexWord>, Errno> {
    if addr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    if addr.checked_add(4).is_none_or(|end| end > elfvisor_mm::GUEST_TASK_SIZE) {
        return Err(Errno::EFAULT);
    }
    if addr + 4 > mm.arena_size() {
        return Ok(None);
    }
    // SAFETY: in the arena's reservation; the pointer goes only to a host FUTEX_WAKE, which
    // does not touch the word for a private futex.
    Ok(Some(FutexWord(unsafe { mm.arena_base().add(addr as usize) }.cast())))
}

/// The aligned, writable guest word at `addr` as an atomic, for as long as `mm` is borrowed.
pub fn futex_atomic(mm: &AddressSpace, addr: u64) -> Result<&AtomicU32, Errno> {
    if addr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    // Checked afresh (the file's size asked now): this word is read and written from here.
    let ptr = mm.host_range(GuestAddr(addr), 4, Prot::RW)?.cast::<u32>();
    // SAFETY: `host_range` checked the word is mapped writable in the arena and backed by a
    // host page, and it is aligned; the borrow of `mm` (its lock held by the caller) keeps it
    // mapped for the reference's life. Other threads and processes change the word only with
    // atomic operations too.
    Ok(unsafe { AtomicU32::from_ptr(ptr) })
}

/// The fourth futex argument: a timeout, or a second value (`val2`) that rides in its place.
#[derive(Debug, Clone, Copy)]
pub enum FutexVal2 {
    None,
    /// A timeout (`struct timespec`: seconds, nanoseconds).
    Timeout(i64, i64),
    /// `val2` for the requeue and wake-op operations.
    Value(u64),
}

/// `futex(2)` on guest words; the operation and its flags are Linux's on both sides.
pub fn futex(
    uaddr: FutexWord,
    op: u32,
    val: u32,
    val2: FutexVal2,
    uaddr2: Option<FutexWord>,
    val3: u32,
) -> Result<u64, Errno> {
    let ts;
    let arg4 = match val2 {
        FutexVal2::None => 0,
        FutexVal2::Timeout(sec, nsec) => {
            ts = libc::timespec { tv_sec: sec, tv_nsec: nsec };
            &ts as *const libc::timespec as usize
        }
        FutexVal2::Value(v) => v as usize,
    };
    let uaddr2 = uaddr2.map_or(std::ptr::null_mut(), |w| w.0);
    // SAFETY: `uaddr` and `uaddr2` (or null) were checked mapped in the arena, which stays
    // reserved while the calling task's address space lives (its `SharedMm` handle outlasts
    // the call). A sibling thread's munmap meanwhile leaves the words inside the arena's
    // reservation, where the host futex fails with EFAULT or acts on the new mapping, as
    // Linux's does on a racing unmap; only the host kernel touches them. `arg4` is 0, a count,
    // or the address of `ts`, alive until the call returns.
    let r = unsafe {
        libc::syscall(libc::SYS_futex, uaddr.0, op as libc::c_int, val, arg4, uaddr2, val3)
    };
    if r < 0 { Err(last_errno()) } else { Ok(r as u64) }
}

/// A robust-list head the host kernel walks when this host thread dies without a word (a
/// SIGKILL of the emulator): `{ next, futex_offset, list_op_pending }` in the host's layout.
///
/// The guest's list holds guest pointers, which the host cannot follow, so the shadow names
/// the guest's first entry and pending entry as they are, with the arena base added to the
/// futex offset: the host then finds the futex words of those two, marks them OWNER_DIED and
/// wakes a waiter, and stops at the next link it cannot read. That covers the usual case, a
/// process killed while holding its most recently locked robust mutex (glibc and musl put it
/// first). It is refreshed at every system call of a process with a writable shared mapping
/// (a private futex word dies with the process), when the guest's list is what it was since
/// the last one.
#[derive(Debug, Default)]
pub struct ShadowRobustList {
    words: [AtomicU64; 3],
}

impl ShadowRobustList {
    /// Registers this shadow as the calling host thread's robust list.
    pub fn register(&self) {
        self.clear();
        // SAFETY: the three words live as long as the thread's task (an Arc it holds until the
        // host thread ends); the kernel only reads them at this thread's exit.
        unsafe {
            libc::syscall(libc::SYS_set_robust_list, self.words.as_ptr(), 24usize);
        }
    }

    /// Unregisters the calling host thread's robust list (`set_robust_list(NULL, 24)`): from
    /// then on the host kernel walks nothing when this host thread exits.
    ///
    /// A thread that ends alone calls this before its task, and with it this shadow, is
    /// dropped: its host thread lives on for a moment after that (the rest of the closure, the
    /// C library's thread exit), and Linux's `exit_robust_list` would then read the freed
    /// words, and write `OWNER_DIED` into whatever futex word they now seem to name.
    pub fn unregister(&self) {
        self.clear();
        // SAFETY: a null head with the size Linux insists on; the call only stores the head
        // in the calling thread's task and reads no memory.
        unsafe {
            libc::syscall(libc::SYS_set_robust_list, std::ptr::null::<u64>(), 24usize);
        }
    }

    fn clear(&self) {
        let own = self.words.as_ptr() as u64;
        self.words[0].store(own, Ordering::SeqCst);
        self.words[1].store(0, Ordering::SeqCst);
        self.words[2].store(0, Ordering::SeqCst);
    }

    /// Mirrors the guest list at `head` (0: none) of an address space based at `base`.
    pub fn refresh(&self, mm: &AddressSpace, head: u64) {
        if head == 0 {
            self.clear();
            return;
        }
        let Ok(list) = mm.read_obj::<RobustListHead>(GuestAddr(head)) else {
            self.clear();
            return;
        };
        let (next, offset, pending) =
            (list.list_next, list.futex_offset as u64, list.list_op_pending);
        let base = mm.arena_base() as u64;
        // An empty guest list points at its own head: the shadow is empty too.
        let first = if next == head { self.words.as_ptr() as u64 } else { next };
        self.words[0].store(first, Ordering::SeqCst);
        self.words[1].store(offset.wrapping_add(base), Ordering::SeqCst);
        self.words[2].store(pending, Ordering::SeqCst);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The robust-list head the host kernel holds for the calling host thread
    /// (`get_robust_list(0, ..)`), as an address (0: none).
    pub(crate) fn registered_head() -> usize {
        let mut head: *mut u64 = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: both out-pointers are live locals of the types Linux writes (a pointer and a
        // size_t); pid 0 is the calling thread.
        let r = unsafe {
            libc::syscall(libc::SYS_get_robust_list, 0, &mut head as *mut *mut u64, &mut len)
        };
        assert_eq!(r, 0, "get_robust_list of the calling thread");
        head as usize
    }

    #[test]
    fn test_unregister_leaves_the_host_thread_no_list() {
        std::thread::spawn(|| {
            let shadow = ShadowRobustList::default();
            shadow.register();
            assert_eq!(registered_head(), shadow.words.as_ptr() as usize);
            shadow.unregister();
            assert_eq!(registered_head(), 0);
        })
        .join()
        .expect("the test thread");
    }
}

/// One `struct futex_waitv` in the host's layout (the guest's, with host addresses).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HostWaitv {
    pub val: u64,
    pub uaddr: u64,
    pub flags: u32,
    pub reserved: u32,
}

impl HostWaitv {
    /// A waiter for `word` holding `val`, with the guest's flags (FUTEX_32, private or not).
    pub fn new(word: FutexWord, val: u64, flags: u32) -> HostWaitv {
        HostWaitv { val, uaddr: word.0 as u64, flags, reserved: 0 }
    }
}

/// `futex_waitv(2)` on checked guest words: the index of the word woken, or Linux's errno
/// (EAGAIN, ETIMEDOUT, EINTR); the timeout is absolute on `clock`.
pub fn futex_waitv(
    waiters: &[HostWaitv],
    timeout: Option<(i64, i64)>,
    clock: i32,
) -> Result<u64, Errno> {
    let ts = timeout.map(|(sec, nsec)| libc::timespec { tv_sec: sec, tv_nsec: nsec });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: every waiter's address is an aligned word checked mapped in the arena (see
    // `futex`); the array and the timespec outlive the call, which only the host kernel reads.
    let r = unsafe {
        libc::syscall(libc::SYS_futex_waitv, waiters.as_ptr(), waiters.len(), 0, ts_ptr, clock)
    };
    if r < 0 { Err(last_errno()) } else { Ok(r as u64) }
}
