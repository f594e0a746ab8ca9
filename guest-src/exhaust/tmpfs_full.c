/*
 * tmpfs_full — a 64 KiB tmpfs (the fixture's `tmpfs`, mounted at ./small) filled up: write
 * fails with ENOSPC after exactly 16 pages; statfs and st_blocks agree; the space comes back
 * with unlink. Then a shared mapping of a sparse file twice the size of the file system: the
 * pages that fit are written, the first page that cannot be allocated is SIGBUS (BUS_ADRERR at
 * the exact address, Linux's shmem_fault → VM_FAULT_SIGBUS) for a write and for a read of a hole
 * alike, a process without a handler dies of it, a system call handed that page gets EFAULT,
 * and what was written is in the file.
 */
#include "check.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#define PAGE 4096
#define FS_PAGES 16
#define MAP_PAGES (2 * FS_PAGES)

static sigjmp_buf env;
static volatile int bus_code;
static void *volatile bus_addr;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    bus_code = si->si_code;
    bus_addr = si->si_addr;
    siglongjmp(env, 1);
}

/* Touches *p (a write, or a read of a hole): 1 if it raised SIGBUS, else 0. */
static int bus_on(volatile char *p, int write)
{
    bus_code = 0;
    bus_addr = NULL;
    if (sigsetjmp(env, 1))
        return 1;
    if (write)
        *p = 'w';
    else
        (void)*p;
    return 0;
}

static long free_blocks(void)
{
    struct statfs st;
    return statfs("small", &st) == 0 ? (long)st.f_bfree : -1;
}

static void fill_and_free(void)
{
    CHECK_EQ("an empty tmpfs has 16 free pages", free_blocks(), FS_PAGES);
    int fd = open("small/fill", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE("create small/fill", fd >= 0);
    static char page[PAGE];
    memset(page, 'f', sizeof page);
    long written = 0;
    ssize_t n;
    while ((n = write(fd, page, sizeof page)) == PAGE)
        written += n;
    int e = errno;
    CHECK_EQ("the last write fails", n, -1);
    CHECK_EQ("with ENOSPC", e, ENOSPC);
    CHECK_EQ("after exactly the 16 pages", written, FS_PAGES * PAGE);
    CHECK_ERR("one more byte is ENOSPC too", write(fd, "x", 1), ENOSPC);
    CHECK_ERR("pwrite past the end is ENOSPC", pwrite(fd, "x", 1, 1 << 20), ENOSPC);
    struct stat st;
    CHECK_OK("fstat", fstat(fd, &st));
    CHECK_EQ("st_size is what was written", (long)st.st_size, written);
    CHECK_EQ("st_blocks counts the 16 pages", (long)st.st_blocks, FS_PAGES * PAGE / 512);
    CHECK_EQ("statfs: no free page", free_blocks(), 0);
    int other = open("small/other", O_WRONLY | O_CREAT, 0644);
    check("a second file can be created (inodes are not pages)", other >= 0, "%s", errname(errno));
    CHECK_ERR("but cannot take a page", write(other, "y", 1), ENOSPC);
    close(other);
    CHECK_OK("truncating gives pages back", ftruncate(fd, 8 * PAGE));
    CHECK_EQ("statfs: 8 free pages", free_blocks(), 8);
    close(fd);
    CHECK_OK("unlink", unlink("small/fill"));
    CHECK_OK("unlink the empty one", unlink("small/other"));
    CHECK_EQ("statfs: all 16 free again", free_blocks(), FS_PAGES);
}

/* The first child: writes every page in order without a handler, counting in shared memory. */
static void die_writing(volatile char *map, volatile int *count)
{
    for (int i = 0; i < MAP_PAGES; i++) {
        map[(long)i * PAGE + 7] = (char)('a' + i);
        *count = i + 1;
    }
    _exit(0);
}

static void shared_map(void)
{
    int fd = open("small/sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE("create small/sparse", fd >= 0);
    CHECK_OK("ftruncate to twice the file system", ftruncate(fd, (off_t)MAP_PAGES * PAGE));
    CHECK_EQ("a sparse file takes no page", free_blocks(), FS_PAGES);
    char *map = mmap(NULL, (size_t)MAP_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("mmap MAP_SHARED", map != MAP_FAILED);
    volatile int *count =
        mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE("mmap the counter", count != MAP_FAILED);

    pid_t pid = fork_or_die();
    if (pid == 0)
        die_writing(map, count);
    int status;
    REQUIRE("waitpid", waitpid(pid, &status, 0) == pid);
    check("the writer died of SIGBUS", WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
          "status %#x", status);
    CHECK_EQ("after writing the 16 pages that fit", *count, FS_PAGES);
    CHECK_EQ("statfs: none left", free_blocks(), 0);

    struct sigaction sa = {0};
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK_OK("SIGBUS handler", sigaction(SIGBUS, &sa, NULL));
    char *next = map + (long)FS_PAGES * PAGE + 123;
    check("a write to the next page is SIGBUS", bus_on(next, 1), "no signal");
    CHECK_EQ("si_code BUS_ADRERR", bus_code, BUS_ADRERR);
    check("si_addr is the address written", bus_addr == next, "off by %ld",
          (long)((char *)bus_addr - next));
    char *hole = map + (long)(MAP_PAGES - 1) * PAGE + 5;
    check("a read of a hole is SIGBUS too", bus_on(hole, 0), "no signal");
    CHECK_EQ("si_code BUS_ADRERR (read)", bus_code, BUS_ADRERR);
    check("si_addr is the address read", bus_addr == hole, "off by %ld",
          (long)((char *)bus_addr - hole));
    check("a written page still reads back", !bus_on(map + 3 * PAGE + 7, 0) &&
          map[3 * PAGE + 7] == 'd', "got %d", map[3 * PAGE + 7]);

    int p[2];
    REQUIRE("pipe", pipe(p) == 0);
    CHECK_ERR("write() from a page that cannot be allocated is EFAULT", write(p[1], next, 8),
              EFAULT);
    CHECK_EQ("write() from a written page works", write(p[1], map + 7, 1), 1);
    CHECK_ERR("read() into that page is EFAULT", read(p[0], next, 1), EFAULT);

    char got[FS_PAGES];
    for (int i = 0; i < FS_PAGES; i++)
        if (pread(fd, &got[i], 1, (off_t)i * PAGE + 7) != 1)
            got[i] = '?';
    check("the file holds every byte written through the map",
          memcmp(got, "abcdefghijklmnop", FS_PAGES) == 0, "got %.16s", got);
    CHECK_ERR("write() to the file is ENOSPC", pwrite(fd, "z", 1, (off_t)FS_PAGES * PAGE), ENOSPC);
    munmap(map, (size_t)MAP_PAGES * PAGE);
    close(fd);
    CHECK_OK("unlink", unlink("small/sparse"));
    CHECK_EQ("statfs: all 16 free again", free_blocks(), FS_PAGES);
}

int main(void)
{
    fill_and_free();
    shared_map();
    return check_finish();
}
