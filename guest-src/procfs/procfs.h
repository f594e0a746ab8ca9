/*
 * procfs.h — reading /proc files whole and picking out their lines and fields, for the
 * procfs cases.
 */
#ifndef ELFVISOR_PROCFS_H
#define ELFVISOR_PROCFS_H

#include "../fork/fork.h"
#include <fcntl.h>

/* The whole of a file into a static buffer (NUL-terminated); its length, or -errno. */
CHECK_UNUSED static long slurp(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    return (long)n;
}

/* The value after "key:" (tabs and spaces skipped) up to the end of its line, or "". */
CHECK_UNUSED static const char *field(const char *text, const char *key)
{
    static char val[256];
    size_t k = strlen(key);
    val[0] = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, k) == 0 && p[k] == ':') {
            p += k + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            size_t n = strcspn(p, "\n");
            if (n >= sizeof val)
                n = sizeof val - 1;
            memcpy(val, p, n);
            val[n] = 0;
            break;
        }
    }
    return val;
}

/* Field n (1-based) of a stat line; comm (2) is the text inside the last parentheses. */
CHECK_UNUSED static const char *stat_field(const char *text, int n)
{
    static char val[256];
    val[0] = 0;
    const char *open_ = strchr(text, '('), *close_ = strrchr(text, ')');
    if (!open_ || !close_)
        return val;
    if (n == 1) {
        snprintf(val, sizeof val, "%.*s", (int)(open_ - text - 1), text);
        return val;
    }
    if (n == 2) {
        snprintf(val, sizeof val, "%.*s", (int)(close_ - open_ - 1), open_ + 1);
        return val;
    }
    const char *p = close_ + 2;
    for (int i = 3; i < n && p; i++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (p)
        snprintf(val, sizeof val, "%.*s", (int)strcspn(p, " \n"), p);
    return val;
}

#endif
