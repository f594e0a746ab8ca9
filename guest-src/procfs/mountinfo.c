/*
 * /proc/self/mountinfo and /proc/self/mounts (fs/proc_namespace.c, show_mountinfo and
 * show_vfsmnt) in the layout programs parse: mountinfo's ten or more fields with optional
 * tags ended by " - ", then type, source and options; the /proc and /dev/shm mounts found by
 * mount point with their types; a mount id that statx and fdinfo agree on; mounts' six fields.
 * Which mounts exist differs by machine; only the form and these relations are checked.
 */
#include "procfs.h"
#include <stdint.h>
#include <sys/syscall.h>

static char buf[65536];

struct kstatx {
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, pad0;
    uint64_t ino, size, blocks, attributes_mask;
    struct { int64_t sec; uint32_t nsec; int32_t pad; } t[4];
    uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
    uint64_t mnt_id, spare[13];
};

/* The mountinfo line whose mount point is `point` (the last one: a later mount over the
 * same point hides the earlier): its id and file system type. */
static int find(const char *point, unsigned long *id, char *type, size_t type_len)
{
    int found = 0;
    for (char *p = buf; *p; p = strchr(p, '\n') + 1) {
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\n"), p);
        unsigned long mid, parent;
        unsigned major, minor;
        char root[512], mnt[512];
        if (sscanf(line, "%lu %lu %u:%u %511s %511s", &mid, &parent, &major, &minor, root, mnt) != 6)
            continue;
        char *dash = strstr(line, " - ");
        if (strcmp(mnt, point) == 0 && dash) {
            *id = mid;
            snprintf(type, type_len, "%.*s", (int)strcspn(dash + 3, " "), dash + 3);
            found = 1;
        }
    }
    return found;
}

static unsigned long statx_mnt_id(const char *path)
{
    struct kstatx x;
    memset(&x, 0, sizeof x);
    if (syscall(SYS_statx, AT_FDCWD, path, 0, 0x1000, &x) != 0)
        return 0;
    return (unsigned long)x.mnt_id;
}

int main(void)
{
    CHECK_OK("read /proc/self/mountinfo", slurp("/proc/self/mountinfo", buf, sizeof buf));
    int lines = 0, well_formed = 1;
    for (char *p = buf; *p; p = strchr(p, '\n') + 1, lines++) {
        size_t len = strcspn(p, "\n");
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        char *dash = strstr(line, " - ");
        int before = 0, after = 0;
        for (char *q = line; q < (dash ? dash : line + strlen(line)); q++)
            before += *q == ' ';
        if (dash)
            for (char *q = dash + 3; *q; q++)
                after += *q == ' ';
        /* Six fields, optional tags, " - ", then type, source and super options. */
        well_formed &= dash != NULL && before >= 5 && after == 2;
    }
    CHECK_EQ("every line has its fields and the separator", well_formed, 1);
    check("several mounts", lines >= 3, "%d", lines);
    unsigned long proc_id = 0, shm_id = 0;
    char type[64];
    CHECK_EQ("a line for /proc", find("/proc", &proc_id, type, sizeof type), 1);
    out("/proc's type: %s\n", type);
    CHECK_EQ("a line for /dev/shm", find("/dev/shm", &shm_id, type, sizeof type), 1);
    out("/dev/shm's type: %s\n", type);
    CHECK_EQ("statx's mount id of /proc/self is /proc's", statx_mnt_id("/proc/self") == proc_id, 1);
    CHECK_EQ("statx's mount id of /dev/shm is its own", statx_mnt_id("/dev/shm") == shm_id, 1);
    int fd = open("/dev/shm", O_RDONLY | O_DIRECTORY);
    char path[64], info[512];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    slurp(path, info, sizeof info);
    CHECK_EQ("fdinfo's mnt_id agrees", strtoul(field(info, "mnt_id"), NULL, 10) == shm_id, 1);
    char want[64];
    snprintf(want, sizeof want, "/proc/%d/mountinfo", getpid());
    static char again[65536];
    slurp(want, again, sizeof again);
    CHECK_EQ("/proc/<pid>/mountinfo is the same table", strcmp(again, buf), 0);

    CHECK_OK("read /proc/self/mounts", slurp("/proc/self/mounts", buf, sizeof buf));
    int six = 1, proc_seen = 0;
    for (char *p = buf; *p; p = strchr(p, '\n') + 1) {
        char dev[256], point[256], fstype[64], opts[512];
        int freq, pass;
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(p, "\n"), p);
        six &= sscanf(line, "%255s %255s %63s %511s %d %d", dev, point, fstype, opts, &freq, &pass) == 6;
        proc_seen |= strcmp(point, "/proc") == 0 && strcmp(fstype, "proc") == 0;
    }
    CHECK_EQ("every mounts line has six fields", six, 1);
    CHECK_EQ("mounts lists /proc as proc", proc_seen, 1);
    return check_finish();
}
