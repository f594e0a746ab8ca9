//! The host side of the guest ABI: host errno values translated to the guest's.
//!
//! `elfvisor-abi` holds only guest values; this crate is where host (`libc`) values meet them,
//! so that every part of the runtime translates a host failure the same way. On a Linux host
//! the numbers agree (x86_64 uses the asm-generic errno table too) and the translation is the
//! identity for every errno; the table is still by name, so other hosts translate correctly.
#![deny(unsafe_code)]

use std::io;

use elfvisor_abi::Errno;

/// What a host errno with no guest counterpart becomes.
///
/// `EIO` is Linux's own answer when a layer below a call fails in a way the call has no
/// specific error for; it is valid for nearly every call, and it tells the guest neither to
/// retry (`EAGAIN`, `EINTR`), nor that memory ran out (`ENOMEM`, which an allocator would act
/// on), nor that its arguments were wrong (`EINVAL`). On a Linux host every errno the host can
/// return has a counterpart, so only values that are not errnos at all (0, negative numbers,
/// an `io::Error` that carries no OS error) and other hosts' own errnos reach it.
pub const UNKNOWN_HOST_ERRNO: Errno = Errno::EIO;

/// Host errno → guest errno, by name. An errno the guest ABI does not name maps to
/// [`UNKNOWN_HOST_ERRNO`].
pub fn errno_from_host(host: i32) -> Errno {
    macro_rules! by_name {
        ($($name:ident),* $(,)?) => {
            $(if host == libc::$name { return Errno::$name; })*
        };
    }
    // Named the same on every host libc knows.
    by_name!(
        EPERM,
        ENOENT,
        ESRCH,
        EINTR,
        EIO,
        ENXIO,
        E2BIG,
        ENOEXEC,
        EBADF,
        ECHILD,
        EAGAIN,
        ENOMEM,
        EACCES,
        EFAULT,
        ENOTBLK,
        EBUSY,
        EEXIST,
        EXDEV,
        ENODEV,
        ENOTDIR,
        EISDIR,
        EINVAL,
        ENFILE,
        EMFILE,
        ENOTTY,
        ETXTBSY,
        EFBIG,
        ENOSPC,
        ESPIPE,
        EROFS,
        EMLINK,
        EPIPE,
        EDOM,
        ERANGE,
        EDEADLK,
        ENAMETOOLONG,
        ENOLCK,
        ENOSYS,
        ENOTEMPTY,
        ELOOP,
        ENOMSG,
        EIDRM,
        ENOSTR,
        ENODATA,
        ETIME,
        ENOSR,
        EREMOTE,
        ENOLINK,
        EPROTO,
        EMULTIHOP,
        EBADMSG,
        EOVERFLOW,
        EILSEQ,
        EUSERS,
        ENOTSOCK,
        EDESTADDRREQ,
        EMSGSIZE,
        EPROTOTYPE,
        ENOPROTOOPT,
        EPROTONOSUPPORT,
        ESOCKTNOSUPPORT,
        EOPNOTSUPP,
        EPFNOSUPPORT,
        EAFNOSUPPORT,
        EADDRINUSE,
        EADDRNOTAVAIL,
        ENETDOWN,
        ENETUNREACH,
        ENETRESET,
        ECONNABORTED,
        ECONNRESET,
        ENOBUFS,
        EISCONN,
        ENOTCONN,
        ESHUTDOWN,
        ETOOMANYREFS,
        ETIMEDOUT,
        ECONNREFUSED,
        EHOSTDOWN,
        EHOSTUNREACH,
        EALREADY,
        EINPROGRESS,
        ESTALE,
        EDQUOT,
        ECANCELED,
        EOWNERDEAD,
        ENOTRECOVERABLE,
    );
    // Linux's own (and the aliases that are distinct numbers elsewhere).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    by_name!(
        ECHRNG,
        EL2NSYNC,
        EL3HLT,
        EL3RST,
        ELNRNG,
        EUNATCH,
        ENOCSI,
        EL2HLT,
        EBADE,
        EBADR,
        EXFULL,
        ENOANO,
        EBADRQC,
        EBADSLT,
        EBFONT,
        ENONET,
        ENOPKG,
        EADV,
        ESRMNT,
        ECOMM,
        EDOTDOT,
        ENOTUNIQ,
        EBADFD,
        EREMCHG,
        ELIBACC,
        ELIBBAD,
        ELIBSCN,
        ELIBMAX,
        ELIBEXEC,
        ERESTART,
        ESTRPIPE,
        EUCLEAN,
        ENOTNAM,
        ENAVAIL,
        EISNAM,
        EREMOTEIO,
        ENOMEDIUM,
        EMEDIUMTYPE,
        ENOKEY,
        EKEYEXPIRED,
        EKEYREVOKED,
        EKEYREJECTED,
        ERFKILL,
        EHWPOISON,
    );
    // Other hosts' names for errors Linux knows by another name.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        if host == libc::ENOTSUP {
            return Errno::EOPNOTSUPP;
        }
        #[cfg(target_vendor = "apple")]
        {
            // Extended attributes: Linux's ENOATTR is ENODATA.
            if host == libc::ENOATTR {
                return Errno::ENODATA;
            }
            // The per-user process limit: Linux's fork says EAGAIN.
            if host == libc::EPROCLIM {
                return Errno::EAGAIN;
            }
        }
    }
    UNKNOWN_HOST_ERRNO
}

/// The guest errno for a host I/O error: its OS errno translated, or [`UNKNOWN_HOST_ERRNO`]
/// when it carries none.
pub fn errno_from_io(e: &io::Error) -> Errno {
    e.raw_os_error().map_or(UNKNOWN_HOST_ERRNO, errno_from_host)
}

/// The calling thread's last host errno (after a libc call returned its failure value), as a
/// guest errno.
pub fn last_errno() -> Errno {
    errno_from_io(&io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_common_errnos() {
        assert_eq!(errno_from_host(libc::ENOENT), Errno::ENOENT);
        assert_eq!(errno_from_host(libc::EAGAIN), Errno::EAGAIN);
        assert_eq!(errno_from_host(libc::EWOULDBLOCK), Errno::EAGAIN);
        assert_eq!(errno_from_host(libc::EOPNOTSUPP), Errno::EOPNOTSUPP);
        assert_eq!(errno_from_host(libc::ENOTSUP), Errno::EOPNOTSUPP);
        assert_eq!(errno_from_host(libc::EDEADLK), Errno::EDEADLK);
    }

    #[test]
    fn test_unknown_values_take_the_default() {
        assert_eq!(errno_from_host(0), UNKNOWN_HOST_ERRNO);
        assert_eq!(errno_from_host(-1), UNKNOWN_HOST_ERRNO);
        assert_eq!(errno_from_host(99_999), UNKNOWN_HOST_ERRNO);
        assert_eq!(errno_from_io(&io::Error::other("no errno")), UNKNOWN_HOST_ERRNO);
        assert_eq!(errno_from_io(&io::Error::from_raw_os_error(libc::EBADF)), Errno::EBADF);
    }

    /// On Linux the host and guest numbers agree, so the table must be the identity on every
    /// errno the guest ABI names: a name missing from the table would show up here.
    #[cfg(target_os = "linux")]
    #[test]
    fn test_every_linux_errno_is_mapped() {
        let mut named = 0;
        for n in 1..4096 {
            if Errno(n).name().is_some() {
                named += 1;
                assert_eq!(errno_from_host(n), Errno(n), "{}", Errno(n));
            }
        }
        assert_eq!(named, 131);
    }

    #[test]
    #[allow(unsafe_code)]
    fn test_last_errno() {
        // SAFETY: closing a descriptor that cannot be open (negative) touches nothing.
        let r = unsafe { libc::close(-1) };
        assert_eq!(r, -1);
        assert_eq!(last_errno(), Errno::EBADF);
    }
}
