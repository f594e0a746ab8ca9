/*
 * inotify_moves — inotify beyond create and delete: a rename inside a watched directory
 * (IN_MOVED_FROM and IN_MOVED_TO sharing a cookie), a move between two watched directories,
 * IN_ATTRIB, IN_OPEN with IN_CLOSE_WRITE and IN_CLOSE_NOWRITE, identical events merged, an
 * IN_ONESHOT watch on a file, IN_MOVE_SELF and IN_DELETE_SELF followed by IN_IGNORED, FIONREAD,
 * and a buffer too small for one event (EINVAL).
 */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static char buf[4096] __attribute__((aligned(8)));
static int wd_d, wd_e, wd_f;
static uint32_t cookies[4];
static int ncookies;

/* Reads what is queued and describes it as "WATCH:MASK[:name]" words joined by spaces. */
static void drain(int fd, char *desc, size_t room)
{
    desc[0] = 0;
    ncookies = 0;
    ssize_t n = read(fd, buf, sizeof buf);
    for (ssize_t off = 0; off < n;) {
        struct inotify_event *ev = (struct inotify_event *)(buf + off);
        char word[96];
        const char *w = ev->wd == wd_d ? "d" : ev->wd == wd_e ? "e" : ev->wd == wd_f ? "f" : "?";
        char mask[64] = "";
        static const struct {
            uint32_t bit;
            const char *name;
        } names[] = {{IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
                     {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
                     {IN_OPEN, "OPEN"}, {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
                     {IN_CREATE, "CREATE"}, {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"},
                     {IN_MOVE_SELF, "MOVE_SELF"}, {IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"}};
        uint32_t left = ev->mask;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (left & names[i].bit) {
                left &= ~names[i].bit;
                if (mask[0])
                    strcat(mask, "|");
                strcat(mask, names[i].name);
            }
        if (left)
            strcat(mask, "|OTHER");
        if (ev->cookie && ncookies < 4)
            cookies[ncookies++] = ev->cookie;
        snprintf(word, sizeof word, "%s%s:%s%s%s", desc[0] ? " " : "", w, mask,
                 ev->len ? ":" : "", ev->len ? ev->name : "");
        if (strlen(desc) + strlen(word) < room)
            strcat(desc, word);
        off += (ssize_t)(sizeof *ev + ev->len);
    }
}

static void expect(int fd, const char *name, const char *want)
{
    char got[512];
    drain(fd, got, sizeof got);
    check(name, strcmp(got, want) == 0, "got \"%s\", want \"%s\"", got, want);
}

static void touch(const char *path)
{
    close(open(path, O_CREAT | O_WRONLY, 0644));
}

int main(void)
{
    REQUIRE("mkdir d", mkdir("d", 0755) == 0);
    REQUIRE("mkdir e", mkdir("e", 0755) == 0);
    touch("d/x");
    int fd = inotify_init1(IN_NONBLOCK);
    REQUIRE("inotify_init1", fd >= 0);
    uint32_t all = IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_OPEN | IN_CLOSE_WRITE |
                   IN_CLOSE_NOWRITE | IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF;
    wd_d = inotify_add_watch(fd, "d", all);
    wd_e = inotify_add_watch(fd, "e", IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF);
    CHECK_EQ("two watches", wd_d > 0 && wd_e > 0 && wd_d != wd_e, 1);

    CHECK_OK("rename inside d", rename("d/x", "d/y"));
    expect(fd, "a rename", "d:MOVED_FROM:x d:MOVED_TO:y");
    CHECK_EQ("one cookie for both halves", ncookies == 2 && cookies[0] == cookies[1], 1);
    uint32_t first = cookies[0];
    CHECK_OK("move d/y to e/z", rename("d/y", "e/z"));
    expect(fd, "a move between watched directories", "d:MOVED_FROM:y e:MOVED_TO:z");
    CHECK_EQ("shared again, and new", ncookies == 2 && cookies[0] == cookies[1] && cookies[0] != first, 1);
    CHECK_OK("move it back", rename("e/z", "d/x"));
    expect(fd, "only d watches arrivals it asked for", "d:MOVED_TO:x");

    CHECK_OK("chmod", chmod("d/x", 0600));
    expect(fd, "IN_ATTRIB", "d:ATTRIB:x");
    int w = open("d/x", O_WRONLY);
    CHECK_EQ("write", write(w, "abc", 3), 3);
    CHECK_EQ("write again", write(w, "def", 3), 3);
    close(w);
    expect(fd, "open, identical modifies merged, close-write", "d:OPEN:x d:MODIFY:x d:CLOSE_WRITE:x");
    int r = open("d/x", O_RDONLY);
    close(r);
    expect(fd, "open and close-nowrite", "d:OPEN:x d:CLOSE_NOWRITE:x");

    /* A one-shot watch on the file itself: one event, then IN_IGNORED. */
    wd_f = inotify_add_watch(fd, "d/x", IN_MODIFY | IN_ONESHOT);
    CHECK_EQ("a third watch", wd_f > 0 && wd_f != wd_d && wd_f != wd_e, 1);
    int a = open("d/x", O_WRONLY | O_APPEND);
    write(a, "1", 1);
    int q = -1;
    CHECK_OK("FIONREAD", ioctl(fd, FIONREAD, &q));
    CHECK_EQ("bytes queued: open, two modifies, the one-shot's IN_IGNORED", q,
             (int)(4 * sizeof(struct inotify_event) + 2 * 16));
    char small[8];
    CHECK_ERR("a buffer too small for one event", read(fd, small, sizeof small), EINVAL);
    write(a, "2", 1);
    close(a);
    expect(fd, "one-shot fires once, then is gone",
           "d:OPEN:x d:MODIFY:x f:MODIFY f:IGNORED d:MODIFY:x d:CLOSE_WRITE:x");
    CHECK_ERR("its watch is gone", inotify_rm_watch(fd, wd_f), EINVAL);

    /* The watched directories themselves. */
    CHECK_OK("rename e", rename("e", "e2"));
    expect(fd, "IN_MOVE_SELF", "e:MOVE_SELF");
    CHECK_OK("rmdir e2", rmdir("e2"));
    expect(fd, "IN_DELETE_SELF then IN_IGNORED", "e:DELETE_SELF e:IGNORED");
    unlink("d/x");
    rmdir("d");
    expect(fd, "d goes", "d:DELETE_SELF d:IGNORED");
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK_EQ("nothing left", poll(&p, 1, 0), 0);
    close(fd);
    return check_finish();
}
