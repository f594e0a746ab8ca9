/*
 * check.h — the transcript vocabulary shared by every elfvisor guest test.
 *
 * A guest test prints one line per check, `ok <check>` or `FAIL <check>: <detail>`, and ends with
 * `verdict: ...` from check_finish(). Transcripts are compared byte for byte across lanes, so
 * never print pids, addresses, timings, temp names or libc-specific strings (strerror texts differ
 * between musl and glibc: use errname()).
 *
 * Output goes through write(2) with no stdio buffer, so a fork never duplicates pending output and
 * the order of lines is the order of the calls.
 */
#ifndef ELFVISOR_CHECK_H
#define ELFVISOR_CHECK_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK_UNUSED __attribute__((unused))

static int check_count;
static int check_failures;

/* Writes the formatted text to stdout at once, retrying short writes. */
CHECK_UNUSED __attribute__((format(printf, 1, 2))) static void out(const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = sizeof buf - 1;
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(1, p, (size_t)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (int)w;
    }
}

/* The symbolic name of an errno value, identical under every libc. */
CHECK_UNUSED static const char *errname(int e)
{
    switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC) E(EBADF) E(ECHILD)
    E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR)
    E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(EFBIG) E(ENOSPC) E(ESPIPE) E(EROFS)
    E(EMLINK) E(EPIPE) E(ERANGE) E(ENAMETOOLONG) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(EOVERFLOW)
    E(ETIMEDOUT) E(EOPNOTSUPP) E(EIDRM) E(ENOMSG)
#undef E
    case 0: return "0";
    default: return "E?";
    }
}

/* Records one check. The detail is printed only when the check fails. */
CHECK_UNUSED __attribute__((format(printf, 3, 4))) static int check(const char *name, int cond,
                                                       const char *fmt, ...)
{
    check_count++;
    if (cond) {
        out("ok %s\n", name);
        return 1;
    }
    check_failures++;
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    out("FAIL %s: %s\n", name, detail);
    return 0;
}

/* got == want, for integers of any width. */
#define CHECK_EQ(name, got, want)                                                              \
    do {                                                                                       \
        long long got_ = (long long)(got), want_ = (long long)(want);                          \
        check((name), got_ == want_, "got %lld, want %lld (errno %s)", got_, want_,            \
              errname(errno));                                                                 \
    } while (0)

/* A call that must succeed (return >= 0). */
#define CHECK_OK(name, ret)                                                                    \
    do {                                                                                       \
        errno = 0;                                                                             \
        long long ret_ = (long long)(ret);                                                     \
        check((name), ret_ >= 0, "returned %lld, errno %s", ret_, errname(errno));             \
    } while (0)

/* A call that must fail with -1 and the given errno. */
#define CHECK_ERR(name, ret, want_errno)                                                       \
    do {                                                                                       \
        errno = 0;                                                                             \
        long long ret_ = (long long)(ret);                                                     \
        int errno_ = errno;                                                                    \
        check((name), ret_ == -1 && errno_ == (want_errno), "returned %lld, errno %s, want %s",  \
              ret_, errname(errno_), errname(want_errno));                                     \
    } while (0)

/* Equal byte strings of a given length. */
#define CHECK_MEM(name, got, want, len)                                                        \
    check((name), memcmp((got), (want), (len)) == 0, "bytes differ from \"%.*s\"", (int)(len),  \
          (const char *)(want))

/* A condition the rest of the test depends on: on failure, report it and end with status 1. */
#define REQUIRE(name, cond)                                                                    \
    do {                                                                                       \
        if (!check((name), (cond), "required (errno %s)", errname(errno))) {                   \
            out("verdict: FAIL (stopped at a required check)\n");                              \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* Like REQUIRE, but silent when it holds: for set-up steps inside helpers. */
#define NEED(name, cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            check((name), 0, "required (errno %s)", errname(errno));                           \
            out("verdict: FAIL (stopped at a required check)\n");                              \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/*
 * fork() that ends the test if it fails. A successful fork prints nothing: a line printed right
 * after fork would race with the other process's output.
 */
CHECK_UNUSED static pid_t fork_or_die(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        check("fork", 0, "errno %s", errname(e));
        out("verdict: FAIL (stopped at a required check)\n");
        exit(1);
    }
    return pid;
}

/* Prints the verdict line; returns the process exit status (0 when every check passed). */
CHECK_UNUSED static int check_finish(void)
{
    if (check_failures == 0) {
        out("verdict: PASS (%d checks)\n", check_count);
        return 0;
    }
    out("verdict: FAIL (%d of %d checks failed)\n", check_failures, check_count);
    return 1;
}

#endif
