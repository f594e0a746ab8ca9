/*
 * symlink(2) stores its target as text, verbatim: a target that names the caller's descriptor
 * directory (/dev/stdin, /proc/self/fd/1) or any absolute or relative path is what readlink(2)
 * returns later, whatever it would resolve to.
 */
#include "check.h"

#include <sys/stat.h>

static void roundtrip(const char *target, const char *link)
{
    char buf[256] = {0};
    int r = symlink(target, link);
    check(link, r == 0, "symlink: %s", errname(errno));
    ssize_t n = readlink(link, buf, sizeof buf - 1);
    check(target, n == (ssize_t)strlen(target) && memcmp(buf, target, (size_t)n) == 0,
          "readlink gave %zd bytes", n);
}

int main(void)
{
    roundtrip("/dev/stdin", "l-stdin");
    roundtrip("/proc/self/fd/1", "l-fd1");
    roundtrip("/dev/fd/7", "l-fd7");
    roundtrip("/nonexistent/dir/file", "l-abs");
    roundtrip("../relative/./x", "l-rel");
    struct stat st;
    CHECK_OK("lstat sees the link itself", lstat("l-abs", &st));
    check("it is a symlink", S_ISLNK(st.st_mode), "mode %o", (unsigned)st.st_mode);
    CHECK_ERR("stat follows it to nothing", stat("l-abs", &st), ENOENT);
    return check_finish();
}
