/*
 * epoll_dup — epoll keys a registration by (open file, descriptor number): two descriptors of
 * one pipe (dup) are two registrations, each with its own data word; closing one descriptor
 * leaves its registration in place while the file stays open (it still reports, and can no
 * longer be deleted through the closed number); fdinfo lists both numbers; a child after fork
 * deletes the registration of one number and leaves the other.
 */
#include "check.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>

/* The data words of the ready events, sorted (Linux reports them in wakeup order). */
static int ready(int ep, unsigned long long *words, int max)
{
    struct epoll_event evs[8];
    int n = epoll_wait(ep, evs, max < 8 ? max : 8, 0);
    for (int i = 0; i < n; i++)
        words[i] = evs[i].data.u64;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && words[j - 1] > words[j]; j--) {
            unsigned long long t = words[j];
            words[j] = words[j - 1];
            words[j - 1] = t;
        }
    return n;
}

/* The numbers of the fdinfo `tfd:` lines of `ep`, in order, as "a,b". */
static void tfds(int ep, char *out, size_t size)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", ep);
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    out[0] = 0;
    if (n <= 0)
        return;
    buf[n] = 0;
    int nums[8], count = 0;
    for (char *at = strstr(buf, "tfd:"); at && count < 8; at = strstr(at + 4, "tfd:"))
        nums[count++] = atoi(at + 4);
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && nums[j - 1] > nums[j]; j--) {
            int t = nums[j];
            nums[j] = nums[j - 1];
            nums[j - 1] = t;
        }
    size_t used = 0;
    for (int i = 0; i < count && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, i ? ",%d" : "%d", nums[i]);
}

int main(void)
{
    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    int d = dup(p[0]);
    REQUIRE("dup", d >= 0);
    int ep = epoll_create1(0);
    REQUIRE("epoll", ep >= 0);

    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    CHECK_OK("add the pipe's read end", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    ev.data.u64 = 2;
    CHECK_OK("add its duplicate: another registration", epoll_ctl(ep, EPOLL_CTL_ADD, d, &ev));
    CHECK_ERR("add the duplicate twice", epoll_ctl(ep, EPOLL_CTL_ADD, d, &ev), EEXIST);
    ev.data.u64 = 3;
    CHECK_OK("modify the duplicate's alone", epoll_ctl(ep, EPOLL_CTL_MOD, d, &ev));

    char want[64], got[64];
    snprintf(want, sizeof want, "%d,%d", p[0] < d ? p[0] : d, p[0] < d ? d : p[0]);
    tfds(ep, got, sizeof got);
    check("fdinfo lists both numbers", strcmp(got, want) == 0, "tfd %s, want %s", got, want);

    unsigned long long w[8];
    CHECK_EQ("nothing ready", ready(ep, w, 8), 0);
    NEED("write", write(p[1], "x", 1) == 1);
    int n = ready(ep, w, 8);
    check("one write readies both registrations", n == 2 && w[0] == 1 && w[1] == 3,
          "%d events, data %llu %llu", n, w[0], w[1]);

    /* Closing a number keeps its registration while the file is open through the other. */
    int closed = p[0];
    CHECK_OK("close the first number", close(p[0]));
    n = ready(ep, w, 8);
    check("the closed number's registration still reports", n == 2 && w[0] == 1 && w[1] == 3,
          "%d events, data %llu %llu", n, w[0], w[1]);
    CHECK_ERR("delete through the closed number", epoll_ctl(ep, EPOLL_CTL_DEL, closed, NULL), EBADF);
    tfds(ep, got, sizeof got);
    check("fdinfo still names the closed number", strcmp(got, want) == 0, "tfd %s, want %s", got,
          want);

    /* A new descriptor at the closed number is a new registration. */
    int again = dup2(d, closed);
    CHECK_EQ("dup2 onto the closed number", again, closed);
    ev.data.u64 = 4;
    CHECK_ERR("the old registration is still (file, number)",
              epoll_ctl(ep, EPOLL_CTL_ADD, closed, &ev), EEXIST);
    CHECK_OK("modify it through the new descriptor", epoll_ctl(ep, EPOLL_CTL_MOD, closed, &ev));
    n = ready(ep, w, 8);
    check("both report, one with its new word", n == 2 && w[0] == 3 && w[1] == 4,
          "%d events, data %llu %llu", n, w[0], w[1]);

    pid_t pid = fork_or_die();
    if (pid == 0) {
        int ok = epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL) == 0;
        ok = ok && epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL) == -1 && errno == ENOENT;
        _exit(ok ? 0 : 1);
    }
    int st;
    CHECK_EQ("the child deleted the duplicate's registration",
             waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
    n = ready(ep, w, 8);
    check("the other number's registration stays", n == 1 && w[0] == 4, "%d events, data %llu",
          n, w[0]);
    return check_finish();
}
