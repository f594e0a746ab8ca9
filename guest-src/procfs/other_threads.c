/*
 * Another guest process's threads, pending signals and memory as its parent reads them
 * (fs/proc/array.c, proc_pid_status and do_task_stat; fs/proc/task_mmu.c, task_mem and
 * task_statm; fs/proc/base.c, proc_task_readdir). A fork child starts two threads, leaves a
 * blocked signal pending for its first thread (tgkill) and one for the process (kill), and
 * touches pages of a fresh mapping; the parent then sees Threads:, task/ with exactly the
 * child's tids, SigPnd and ShdPnd, stat's pending field, and the same memory sizes in status,
 * stat and statm as the child read itself; after the child touches more, they grow by that
 * (less what Linux has not added up yet).
 * The child also reads a sibling's SigPnd right after tgkill returned: already set.
 */
#include "procfs.h"
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define PAGE 4096
#define FIRST_PAGES 16
#define MORE_PAGES 256
/* Linux 6.1 adds a thread's page faults to its process's counters every 64 (mm/memory.c,
 * check_sync_rss_stat): fewer may not show yet. */
#define UNSYNCED_FAULTS 64
/* Pages the child's threads may touch between counting themselves and waiting (see below). */
#define LATE_PAGES 8

/* What the child tells its parent, in a shared page. */
struct report {
    pid_t tids[3];
    char statm[256];
};

static char buf[8192];
static struct turns t;
static int ready[2], stop[2];
static pid_t worker_tid[2];

static void *worker(void *arg)
{
    long i = (long)arg;
    worker_tid[i] = (pid_t)syscall(SYS_gettid);
    char c = 0;
    NEED("ready", write(ready[1], &c, 1) == 1);
    NEED("wait", read(stop[0], &c, 1) == 1);
    return NULL;
}

static unsigned long long hex_field(const char *key)
{
    return strtoull(field(buf, key), NULL, 16);
}

static long kb_field(const char *key)
{
    return atol(field(buf, key));
}

/* The child's status, stat and statm as the parent reads them: sizes in pages. */
struct sizes {
    long size, resident;
};

static struct sizes read_sizes(pid_t pid)
{
    char path[64];
    struct sizes st = { 0, 0 }, s = { 0, 0 };
    snprintf(path, sizeof path, "/proc/%d/statm", pid);
    NEED("read its statm", slurp(path, buf, sizeof buf) > 0);
    NEED("parse its statm", sscanf(buf, "%ld %ld", &st.size, &st.resident) == 2);
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    NEED("read its status", slurp(path, buf, sizeof buf) > 0);
    s.size = kb_field("VmSize") / (PAGE / 1024);
    s.resident = kb_field("VmRSS") / (PAGE / 1024);
    check("status VmSize is statm's size", s.size == st.size, "%ld and %ld pages", s.size, st.size);
    check("status VmRSS is statm's resident", s.resident == st.resident, "%ld and %ld pages",
          s.resident, st.resident);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    NEED("read its stat", slurp(path, buf, sizeof buf) > 0);
    long long vsize = atoll(stat_field(buf, 23)), rss = atoll(stat_field(buf, 24));
    check("stat vsize is statm's size", vsize == (long long)st.size * PAGE, "%lld and %ld pages",
          vsize, st.size);
    check("stat rss is statm's resident", rss == st.resident, "%lld and %ld", rss, st.resident);
    return st;
}

static int cmp_pid(const void *a, const void *b)
{
    return *(const pid_t *)a - *(const pid_t *)b;
}

int main(void)
{
    struct report *r = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    NEED("a shared page", r != MAP_FAILED);
    memset(r, 0, sizeof *r);
    memset(buf, 0, sizeof buf);
    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGUSR2);
        sigaddset(&set, SIGWINCH);
        NEED("the child blocks SIGHUP, SIGUSR2 and SIGWINCH", sigprocmask(SIG_SETMASK, &set, NULL) == 0);
        NEED("pipes", pipe(ready) == 0 && pipe(stop) == 0);
        pthread_t th[2];
        char c;
        for (long i = 0; i < 2; i++)
            NEED("a thread", pthread_create(&th[i], NULL, worker, (void *)i) == 0 && read(ready[0], &c, 1) == 1);
        /* A sibling's pending set shows a signal as soon as tgkill returns. */
        NEED("tgkill a sibling", syscall(SYS_tgkill, getpid(), worker_tid[1], SIGWINCH) == 0);
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/status", worker_tid[1]);
        NEED("read the sibling's status", slurp(path, buf, sizeof buf) > 0);
        out("the sibling's SigPnd after tgkill: %s\n", field(buf, "SigPnd"));
        NEED("a signal pending for the first thread", syscall(SYS_tgkill, getpid(), getpid(), SIGHUP) == 0);
        NEED("one pending for the process", kill(getpid(), SIGUSR2) == 0);
        char *mem = mmap(NULL, 512 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        NEED("a private mapping", mem != MAP_FAILED);
        for (int i = 0; i < FIRST_PAGES; i++)
            mem[i * PAGE] = 1;
        r->tids[0] = getpid();
        r->tids[1] = worker_tid[0];
        r->tids[2] = worker_tid[1];
        /* Every page the report needs is touched before the child counts itself. */
        r->statm[0] = 1;
        memset(buf, 1, sizeof buf);
        NEED("read its own statm", slurp("/proc/self/statm", buf, sizeof buf) > 0);
        memcpy(r->statm, buf, strlen(buf) + 1);
        pass_to_parent(&t);
        wait_for_parent(&t);
        for (int i = FIRST_PAGES; i < FIRST_PAGES + MORE_PAGES; i++)
            mem[i * PAGE] = 1;
        pass_to_parent(&t);
        wait_for_parent(&t);
        child_exit();
    }
    wait_for_child(&t);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    CHECK_OK("read the child's status", slurp(path, buf, sizeof buf));
    out("the child's Threads: %s\n", field(buf, "Threads"));
    out("the child's SigPnd: %016llx\n", hex_field("SigPnd"));
    out("the child's ShdPnd: %016llx\n", hex_field("ShdPnd"));
    out("the child's SigBlk: %016llx\n", hex_field("SigBlk"));
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    CHECK_OK("read the child's stat", slurp(path, buf, sizeof buf));
    out("the child's stat signal: %s\n", stat_field(buf, 31));
    out("the child's stat blocked: %s\n", stat_field(buf, 32));

    /* task/ lists the child's three threads, its first thread first. */
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    REQUIRE("open the child's task/", d != NULL);
    pid_t listed[8];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && n < 8)
            listed[n++] = atoi(e->d_name);
    closedir(d);
    CHECK_EQ("task/ entries", n, 3);
    CHECK_PID("the first entry", listed[0], pid);
    pid_t want[3];
    memcpy(want, r->tids, sizeof want);
    qsort(listed, (size_t)(n < 3 ? n : 3), sizeof(pid_t), cmp_pid);
    qsort(want, 3, sizeof(pid_t), cmp_pid);
    check("task/ lists exactly the child's tids", n == 3 && memcmp(listed, want, sizeof want) == 0,
          "other tids");

    /* The memory sizes: what the child counted, in all three files alike. */
    long own_size = 0, own_resident = 0;
    NEED("the child's own statm", sscanf(r->statm, "%ld %ld", &own_size, &own_resident) == 2);
    struct sizes first = read_sizes(pid);
    check("statm size as the child counted it", first.size == own_size, "%ld, the child %ld",
          first.size, own_size);
    /* The child's threads go on between its count and this read (its main thread into its
     * wait, the workers into theirs): a page first touched on the way, a code page first run,
     * may count once more here, whichever comes first. */
    check("statm resident as the child counted it",
          first.resident >= own_resident && first.resident - own_resident <= LATE_PAGES,
          "%ld, the child %ld", first.resident, own_resident);
    pass_to_child(&t);
    wait_for_child(&t);
    struct sizes more = read_sizes(pid);
    CHECK_EQ("the size after touching more", more.size, first.size);
    check("resident grew by the pages touched", more.resident - first.resident >= MORE_PAGES - UNSYNCED_FAULTS,
          "grew by %ld pages", more.resident - first.resident);
    pass_to_child(&t);
    check_status("the child", pid, "exit 0");
    return check_finish();
}
