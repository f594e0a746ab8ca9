/*
 * rlimit_data — RLIMIT_DATA is the process's own: lowered to 32 MiB, brk cannot grow the heap
 * past it (the break stays), a private writable 64 MiB mapping gets ENOMEM while a read-only or
 * a shared one of that size does not, and a fork child inherits it. Under an emulator the
 * limit must bound the guest, never the emulator's own memory.
 */
#include "limits.h"
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT (32UL << 20)

static void limited(const char *who)
{
    char name[96];
    snprintf(name, sizeof name, "%s: private writable 64 MiB", who);
    CHECK_ERR(name, (long)mmap(NULL, 2 * LIMIT, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), ENOMEM);
    long brk0 = syscall(SYS_brk, 0);
    snprintf(name, sizeof name, "%s: brk 64 MiB up stays", who);
    CHECK_EQ(name, syscall(SYS_brk, brk0 + 2 * LIMIT), brk0);
}

int main(void)
{
    struct rlimit r = {LIMIT, LIMIT};
    CHECK_OK("setrlimit RLIMIT_DATA 32 MiB", setrlimit(RLIMIT_DATA, &r));
    struct rlimit got;
    getrlimit(RLIMIT_DATA, &got);
    CHECK_EQ("getrlimit soft", got.rlim_cur, LIMIT);
    CHECK_EQ("getrlimit hard", got.rlim_max, LIMIT);
    limited("parent");
    long brk0 = syscall(SYS_brk, 0);
    CHECK_EQ("brk 1 MiB up moves", syscall(SYS_brk, brk0 + (1 << 20)), brk0 + (1 << 20));
    CHECK_EQ("brk back down", syscall(SYS_brk, brk0), brk0);
    void *ro = mmap(NULL, 2 * LIMIT, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK_EQ("read-only 64 MiB fits", ro != MAP_FAILED, 1);
    CHECK_OK("mprotect makes a page of it writable (not checked against the limit)",
             mprotect(ro, 4096, PROT_READ | PROT_WRITE));
    void *sh = mmap(NULL, 2 * LIMIT, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK_EQ("shared writable 64 MiB fits", sh != MAP_FAILED, 1);
    void *small = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK_EQ("private writable 1 MiB fits", small != MAP_FAILED, 1);

    thread_and_fork_child(limited, "the fork child kept the limit");
    return check_finish();
}
