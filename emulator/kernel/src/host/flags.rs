//! Open flag translation between the host and the guest.

use elfvisor_abi::fcntl as g;

/// Guest open flags → host open flags. Unknown bits are ignored, as Linux does for open.
pub fn open_flags_to_host(guest: u32) -> i32 {
    let pairs: [(u32, i32); 17] = [
        (g::O_WRONLY, libc::O_WRONLY),
        (g::O_RDWR, libc::O_RDWR),
        (g::O_CREAT, libc::O_CREAT),
        (g::O_EXCL, libc::O_EXCL),
        (g::O_NOCTTY, libc::O_NOCTTY),
        (g::O_TRUNC, libc::O_TRUNC),
        (g::O_APPEND, libc::O_APPEND),
        (g::O_NONBLOCK, libc::O_NONBLOCK),
        (g::O_DSYNC, libc::O_DSYNC),
        (g::O_ASYNC, libc::O_ASYNC),
        (g::O_DIRECTORY, libc::O_DIRECTORY),
        (g::O_NOFOLLOW, libc::O_NOFOLLOW),
        (g::O_DIRECT, libc::O_DIRECT),
        (g::O_NOATIME, libc::O_NOATIME),
        (g::O_CLOEXEC, libc::O_CLOEXEC),
        (g::O_PATH, libc::O_PATH),
        (g::O_SYNC & !g::O_DSYNC, libc::O_SYNC & !libc::O_DSYNC),
    ];
    let mut host = 0;
    for (guest_bit, host_bit) in pairs {
        if guest & guest_bit == guest_bit {
            host |= host_bit;
        }
    }
    if guest & g::O_TMPFILE == g::O_TMPFILE {
        host |= libc::O_TMPFILE;
    }
    host
}

/// Host status flags (F_GETFL) → guest flags.
pub fn open_flags_from_host(host: i32) -> u32 {
    let pairs: [(i32, u32); 12] = [
        (libc::O_WRONLY, g::O_WRONLY),
        (libc::O_RDWR, g::O_RDWR),
        (libc::O_APPEND, g::O_APPEND),
        (libc::O_NONBLOCK, g::O_NONBLOCK),
        (libc::O_DSYNC, g::O_DSYNC),
        (libc::O_ASYNC, g::O_ASYNC),
        (libc::O_DIRECT, g::O_DIRECT),
        (libc::O_NOATIME, g::O_NOATIME),
        (libc::O_PATH, g::O_PATH),
        (libc::O_DIRECTORY, g::O_DIRECTORY),
        (libc::O_NOFOLLOW, g::O_NOFOLLOW),
        (libc::O_LARGEFILE, g::O_LARGEFILE),
    ];
    let mut guest = 0;
    for (host_bit, guest_bit) in pairs {
        if host_bit != 0 && host & host_bit == host_bit {
            guest |= guest_bit;
        }
    }
    // Linux reports O_LARGEFILE on 64-bit; so does the aarch64 kernel.
    guest | g::O_LARGEFILE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_open_flags_round_trip_the_aarch64_numbering() {
        let guest = g::O_RDWR | g::O_CREAT | g::O_DIRECTORY | g::O_NOFOLLOW | g::O_CLOEXEC;
        let host = open_flags_to_host(guest);
        assert_eq!(
            host,
            libc::O_RDWR | libc::O_CREAT | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC
        );
        assert_eq!(
            open_flags_from_host(libc::O_WRONLY | libc::O_APPEND | libc::O_DIRECTORY),
            g::O_WRONLY | g::O_APPEND | g::O_DIRECTORY | g::O_LARGEFILE
        );
        assert_eq!(open_flags_to_host(g::O_TMPFILE | g::O_RDWR), libc::O_TMPFILE | libc::O_RDWR);
    }
}
