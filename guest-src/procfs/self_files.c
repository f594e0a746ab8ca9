/*
 * The process's own /proc files as a program reads them: cmdline and environ byte for byte,
 * auxv against getauxval, status (Name, Pid, PPid, Threads, the signal sets, memory, FDSize)
 * for the process and for one thread, stat's fields (comm, threads, signal sets, the
 * argument and environment addresses), statm, and /proc/cpuinfo's arm64 layout. Nothing that
 * varies is printed: every value is compared with what the program knows.
 */
#include "../include/check.h"
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

extern char **environ;

static char file[16384];

static long slurp(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    long total = 0;
    for (;;) {
        ssize_t n = read(fd, file + total, sizeof file - 1 - (size_t)total);
        if (n <= 0)
            break;
        total += n;
    }
    close(fd);
    file[total] = 0;
    return total;
}

/* The value after "Key:" (or "Key\t:") in the text last read, or NULL. */
static const char *field(const char *key)
{
    static char value[256];
    size_t k = strlen(key);
    for (const char *p = file; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *colon = p + k;
        while (strncmp(p, key, k) == 0 && *colon == '\t')
            colon++;
        if (strncmp(p, key, k) == 0 && *colon == ':') {
            const char *v = colon + 1;
            while (*v == '\t' || *v == ' ')
                v++;
            size_t n = strcspn(v, "\n");
            if (n >= sizeof value)
                n = sizeof value - 1;
            memcpy(value, v, n);
            value[n] = 0;
            return value;
        }
    }
    return NULL;
}

static long long num(const char *key)
{
    const char *v = field(key);
    return v ? strtoll(v, NULL, 10) : -1;
}

static unsigned long long hex(const char *key)
{
    const char *v = field(key);
    return v ? strtoull(v, NULL, 16) : ~0ull;
}

/* Field n (1-based) of the stat text last read. */
static unsigned long long stat_field(int n)
{
    const char *p = strrchr(file, ')');
    if (!p)
        return ~0ull;
    p++;
    for (int i = 3; i <= n; i++) {
        while (*p == ' ')
            p++;
        if (i == n)
            return strtoull(p, NULL, 10);
        p += strcspn(p, " ");
    }
    return ~0ull;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int running, release_them;
static pid_t worker_tid;

static void *worker(void *arg)
{
    pthread_mutex_lock(&lock);
    if (arg)
        worker_tid = (pid_t)syscall(SYS_gettid);
    running++;
    pthread_cond_broadcast(&cond);
    while (!release_them)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void on_usr2(int sig)
{
    (void)sig;
}

int main(int argc, char **argv)
{
    /* cmdline: the argument strings, each with its NUL. */
    long n = slurp("/proc/self/cmdline");
    char want[4096];
    long w = 0;
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]) + 1;
        memcpy(want + w, argv[i], l);
        w += (long)l;
    }
    CHECK_EQ("cmdline has the arguments' length", n, w);
    CHECK_EQ("cmdline is the arguments", n == w && memcmp(file, want, (size_t)w) == 0, 1);
    CHECK_EQ("argv[0] is where stat says the arguments start",
             slurp("/proc/self/stat") > 0 && stat_field(48) == (uintptr_t)argv[0], 1);
    CHECK_EQ("the arguments end where the environment starts", stat_field(49) == stat_field(50), 1);
    if (environ[0])
        CHECK_EQ("environ[0] is where the environment starts", stat_field(50) == (uintptr_t)environ[0],
                 1);

    n = slurp("/proc/self/environ");
    w = 0;
    for (char **e = environ; *e; e++) {
        size_t l = strlen(*e) + 1;
        memcpy(want + w, *e, l);
        w += (long)l;
    }
    CHECK_EQ("environ is the environment", n == w && memcmp(file, want, (size_t)w) == 0, 1);

    n = slurp("/proc/self/auxv");
    CHECK_EQ("auxv is whole pairs", n > 0 && n % 16 == 0, 1);
    uint64_t *aux = (uint64_t *)file;
    int seen = 0, last_null = 0;
    for (long i = 0; i + 1 < n / 8; i += 2) {
        uint64_t k = aux[i], v = aux[i + 1];
        if (k == AT_PAGESZ || k == AT_ENTRY || k == AT_HWCAP || k == AT_PHDR || k == AT_RANDOM)
            seen += v == getauxval(k);
        last_null = k == AT_NULL;
    }
    CHECK_EQ("AT_PAGESZ, AT_ENTRY, AT_HWCAP, AT_PHDR and AT_RANDOM as getauxval", seen, 5);
    CHECK_EQ("it ends with AT_NULL", last_null, 1);

    /* status and stat, with known signal dispositions, a mask and two more threads. */
    NEED("a name", prctl(PR_SET_NAME, "pfs-case") == 0);
    signal(SIGUSR2, on_usr2);
    signal(SIGURG, SIG_IGN);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    NEED("SIGUSR1 blocked", sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);
    NEED("status", slurp("/proc/self/status") > 0);
    CHECK_EQ("Name", strcmp(field("Name") ? field("Name") : "", "pfs-case"), 0);
    CHECK_EQ("Pid", num("Pid"), getpid());
    CHECK_EQ("Tgid", num("Tgid"), getpid());
    CHECK_EQ("PPid", num("PPid"), getppid());
    CHECK_EQ("Threads", num("Threads"), 1);
    CHECK_EQ("SigBlk", hex("SigBlk"), 1ull << (SIGUSR1 - 1));
    CHECK_EQ("SigCgt has SIGUSR2", (hex("SigCgt") >> (SIGUSR2 - 1)) & 1, 1);
    CHECK_EQ("SigIgn has SIGURG", (hex("SigIgn") >> (SIGURG - 1)) & 1, 1);
    CHECK_EQ("SigIgn has not SIGUSR2", (hex("SigIgn") >> (SIGUSR2 - 1)) & 1, 0);
    CHECK_EQ("SigPnd", hex("SigPnd"), 0);
    CHECK_EQ("FDSize", num("FDSize"), 64);
    CHECK_EQ("VmSize is at least VmRSS", num("VmSize") >= num("VmRSS") && num("VmRSS") > 0, 1);
    CHECK_EQ("VmExe", num("VmExe") > 0, 1);
    CHECK_EQ("VmStk", num("VmStk") > 0, 1);
    raise(SIGUSR1);
    NEED("status", slurp("/proc/self/status") > 0);
    CHECK_EQ("a blocked signal raised is pending", hex("SigPnd") | hex("ShdPnd"), 1ull << (SIGUSR1 - 1));
    NEED("stat", slurp("/proc/self/stat") > 0);
    CHECK_EQ("stat's pid", stat_field(1) == 0 ? 1 : (long long)strtol(file, NULL, 10) == getpid(), 1);
    CHECK_EQ("stat's comm", strstr(file, "(pfs-case)") != NULL, 1);
    CHECK_EQ("stat's thread count", stat_field(20), 1);
    CHECK_EQ("stat's blocked set", stat_field(32), 1ull << (SIGUSR1 - 1));
    CHECK_EQ("stat's caught set has SIGUSR2", (stat_field(34) >> (SIGUSR2 - 1)) & 1, 1);
    CHECK_EQ("stat's vsize is status's VmSize", stat_field(23) / 1024,
             (slurp("/proc/self/status"), (unsigned long long)num("VmSize")));
    sigset_t pend;
    int sig;
    sigpending(&pend);
    NEED("take the pending SIGUSR1", sigismember(&pend, SIGUSR1) && sigwait(&usr1, &sig) == 0);

    pthread_t t[2];
    NEED("two threads", pthread_create(&t[0], NULL, worker, (void *)1) == 0 &&
                            pthread_create(&t[1], NULL, worker, NULL) == 0);
    pthread_mutex_lock(&lock);
    while (running < 2)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    NEED("status", slurp("/proc/self/status") > 0);
    CHECK_EQ("Threads with two more", num("Threads"), 3);
    NEED("stat", slurp("/proc/self/stat") > 0);
    CHECK_EQ("stat's thread count", stat_field(20), 3);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)worker_tid);
    CHECK_EQ("a thread's status", slurp(path) > 0, 1);
    CHECK_EQ("its Pid is its tid", num("Pid"), worker_tid);
    CHECK_EQ("its Tgid is the process", num("Tgid"), getpid());
    CHECK_EQ("its Threads", num("Threads"), 3);
    CHECK_EQ("thread-self", slurp("/proc/thread-self/status") > 0 && num("Pid") == getpid(), 1);
    DIR *task = opendir("/proc/self/task");
    int tasks = 0, found_worker = 0, found_main = 0, first_is_main = 0;
    if (task) {
        struct dirent *d;
        while ((d = readdir(task)) != NULL) {
            if (d->d_name[0] == '.')
                continue;
            int t = atoi(d->d_name);
            if (tasks == 0)
                first_is_main = t == getpid();
            tasks++;
            found_worker += t == worker_tid;
            found_main += t == getpid();
        }
        rewinddir(task);
        int again = 0;
        while ((d = readdir(task)) != NULL)
            again += d->d_name[0] != '.';
        CHECK_EQ("task/ after rewinddir", again, 3);
        closedir(task);
    }
    CHECK_EQ("task/ lists the three threads", tasks, 3);
    CHECK_EQ("the first is the process's", first_is_main, 1);
    CHECK_EQ("and the worker", found_worker == 1 && found_main == 1, 1);
    pthread_mutex_lock(&lock);
    release_them = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);

    NEED("statm", slurp("/proc/self/statm") > 0);
    unsigned long long sm[7];
    int got = sscanf(file, "%llu %llu %llu %llu %llu %llu %llu", &sm[0], &sm[1], &sm[2], &sm[3],
                     &sm[4], &sm[5], &sm[6]);
    CHECK_EQ("statm has seven fields", got, 7);
    CHECK_EQ("size at least resident, resident above 0", sm[0] >= sm[1] && sm[1] > 0, 1);

    int extra = open("/proc/self/cmdline", O_RDONLY);
    NEED("another descriptor", extra >= 0 && dup2(extra, 40) == 40);
    DIR *fds = opendir("/proc/self/fd");
    int listed = 0, listed_open = 0, saw_40 = 0, dots = 0;
    if (fds) {
        struct dirent *d;
        while ((d = readdir(fds)) != NULL) {
            if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) {
                dots++;
                continue;
            }
            int f = atoi(d->d_name);
            listed++;
            listed_open += fcntl(f, F_GETFD) >= 0;
            saw_40 += f == 40 && d->d_type == DT_LNK;
        }
        closedir(fds);
    }
    int open_now = 0;
    for (int f = 0; f < 1024; f++)
        open_now += fcntl(f, F_GETFD) >= 0;
    CHECK_EQ("fd/ has . and ..", dots, 2);
    CHECK_EQ("fd/ lists only open descriptors", listed_open, listed);
    CHECK_EQ("fd/ lists every one (with its own, now closed)", listed, open_now + 1);
    CHECK_EQ("fd/ has descriptor 40 as a link", saw_40, 1);
    close(40);
    close(extra);
    CHECK_ERR("O_DIRECTORY of status", open("/proc/self/status", O_RDONLY | O_DIRECTORY), ENOTDIR);

    NEED("cpuinfo", slurp("/proc/cpuinfo") > 0);
    int procs = 0;
    for (const char *p = file; (p = strstr(p, "processor\t: ")) != NULL; p++)
        procs++;
    CHECK_EQ("a block per CPU", procs, (int)sysconf(_SC_NPROCESSORS_ONLN));
    CHECK_EQ("Features has fp and asimd",
             field("Features") && strstr(field("Features"), "fp asimd") == field("Features"), 1);
    CHECK_EQ("CPU architecture: 8", num("CPU architecture"), 8);
    CHECK_EQ("CPU implementer", field("CPU implementer") != NULL, 1);
    return check_finish();
}
