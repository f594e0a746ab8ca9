/* getdents64 over a directory this test builds: every entry once, with its d_type. */
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *type_name(unsigned char t)
{
    switch (t) {
    case DT_REG: return "REG";
    case DT_DIR: return "DIR";
    case DT_LNK: return "LNK";
    case DT_FIFO: return "FIFO";
    default: return "OTHER";
    }
}

int main(void)
{
    REQUIRE("mkdir", mkdir("dir", 0755) == 0);
    const char *files[] = {"c", "a", "b-with-a-much-longer-name-than-the-others"};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "dir/%s", files[i]);
        close(open(path, O_CREAT | O_WRONLY, 0644));
    }
    mkdir("dir/sub", 0755);
    symlink("a", "dir/link");
    mkfifo("dir/fifo", 0644);

    int fd = open("dir", O_RDONLY | O_DIRECTORY);
    REQUIRE("open O_DIRECTORY", fd >= 0);
    /* A small buffer forces several calls. */
    char buf[80];
    char *names[32];
    int n = 0, calls = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (got <= 0) {
            CHECK_EQ("getdents64 ends with 0", got, 0);
            break;
        }
        calls++;
        for (long off = 0; off < got;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            char line[300];
            snprintf(line, sizeof line, "%s %s", d->d_name, type_name(d->d_type));
            if (n < 32)
                names[n++] = strdup(line);
            off += d->d_reclen;
        }
    }
    check("small buffer needed several calls", calls > 1, "%d calls", calls);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++)
        out("entry %s\n", names[i]);
    CHECK_EQ("entry count", n, 8);
    lseek(fd, 0, SEEK_SET);
    CHECK_ERR("getdents64 with a buffer too small for one entry",
              syscall(SYS_getdents64, fd, buf, 8), EINVAL);
    int file = open("dir/a", O_RDONLY);
    CHECK_ERR("getdents64 on a regular file", syscall(SYS_getdents64, file, buf, sizeof buf), ENOTDIR);
    CHECK_ERR("open O_DIRECTORY on a file", open("dir/a", O_RDONLY | O_DIRECTORY), ENOTDIR);
    return check_finish();
}
