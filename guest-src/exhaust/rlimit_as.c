/*
 * rlimit_as — RLIMIT_AS is the process's own: lowered to 256 MiB, a 512 MiB mapping and a
 * mremap growing past it get ENOMEM, 16 MiB mappings fit until the limit and no further,
 * getrlimit, prlimit64 and /proc/self/limits report it, a thread still starts, a fork child and
 * an exec'd image inherit it. Under an emulator the limit must bound the guest, never the
 * emulator's own memory.
 */
#include "limits.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define LIMIT (256UL << 20)

/* The "Max address space" line of /proc/self/limits, soft value. */
static long long proc_limit(void)
{
    FILE *f = fopen("/proc/self/limits", "r");
    if (!f)
        return -1;
    char line[256];
    long long value = -2;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Max address space", 17) == 0)
            value = strtoll(line + 26, NULL, 10);
    fclose(f);
    return value;
}

static void inherited(const char *who)
{
    char name[64];
    struct rlimit r;
    getrlimit(RLIMIT_AS, &r);
    snprintf(name, sizeof name, "%s: getrlimit", who);
    CHECK_EQ(name, r.rlim_cur, LIMIT);
    snprintf(name, sizeof name, "%s: 512 MiB mapping", who);
    CHECK_ERR(name, (long)mmap(NULL, 2 * LIMIT, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              ENOMEM);
    snprintf(name, sizeof name, "%s: /proc/self/limits", who);
    CHECK_EQ(name, proc_limit(), LIMIT);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        inherited("after exec");
        return check_failures ? 1 : 0;
    }
    struct rlimit r = {LIMIT, LIMIT};
    CHECK_OK("setrlimit RLIMIT_AS 256 MiB", setrlimit(RLIMIT_AS, &r));
    struct rlimit old;
    CHECK_OK("prlimit64 reads it", syscall(SYS_prlimit64, 0, RLIMIT_AS, NULL, &old));
    CHECK_EQ("prlimit64 soft", old.rlim_cur, LIMIT);
    CHECK_EQ("prlimit64 hard", old.rlim_max, LIMIT);
    CHECK_EQ("/proc/self/limits", proc_limit(), LIMIT);

    CHECK_ERR("a 512 MiB mapping", (long)mmap(NULL, 2 * LIMIT, PROT_NONE,
                                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              ENOMEM);
    char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("a 16 MiB mapping", p != MAP_FAILED);
    p[0] = 1;
    CHECK_ERR("mremap to 512 MiB", (long)mremap(p, 16 << 20, 2 * LIMIT, MREMAP_MAYMOVE), ENOMEM);
    CHECK_EQ("the mapping is intact", p[0], 1);

    int n = 0;
    void *maps[32];
    while (n < 32) {
        maps[n] = mmap(NULL, 16 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (maps[n] == MAP_FAILED)
            break;
        n++;
    }
    CHECK_EQ("filling ends with ENOMEM", n < 32 && errno == ENOMEM, 1);
    /* What the program itself maps (a few MiB) differs; the count stays within the limit. */
    CHECK_EQ("between 12 and 15 more 16 MiB mappings fit", n >= 12 && n <= 15, 1);
    for (int i = 0; i < n; i++)
        munmap(maps[i], 16 << 20);
    void *again = mmap(NULL, 16 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK_EQ("after unmapping, a mapping fits again", again != MAP_FAILED, 1);

    thread_and_fork_child(inherited, "the fork child saw the limit");

    fflush(stdout);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        char *args[] = {argv[0], "exec", NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK_EQ("the exec'd image saw the limit", WIFEXITED(st) && WEXITSTATUS(st) == 0, 1);
    return check_finish();
}
