/*
 * A MAP_PRIVATE file mapping across fork. The file has three pages, 'a', 'b', 'c':
 *   page 0 the parent writes before the fork: both sides share that private copy, which no
 *          longer follows the file;
 *   page 1 the child writes after the fork: its copy stays in the child, the parent keeps
 *          following the file there;
 *   page 2 nobody writes: both sides keep seeing later pwrites to the file.
 */
#include "fork.h"
#include <sys/mman.h>

static long pg;

static void check_page(const char *name, volatile char *map, int page, char want)
{
    volatile char *p = map + page * pg;
    check(name, p[0] == want && p[pg - 1] == want, "got '%c' '%c'", p[0], p[pg - 1]);
}

static void pwrite_page(int fd, int page, char c)
{
    char buf[65536];
    memset(buf, c, (size_t)pg);
    NEED("pwrite a page", pwrite(fd, buf, (size_t)pg, page * pg) == pg);
}

int main(void)
{
    pg = sysconf(_SC_PAGESIZE);
    int fd = open("private.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create the file", fd >= 0);
    for (int i = 0; i < 3; i++)
        pwrite_page(fd, i, (char)('a' + i));
    volatile char *map = mmap(NULL, (size_t)(3 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    REQUIRE("mmap MAP_PRIVATE", map != MAP_FAILED);
    check_page("the mapping reads the file", map, 2, 'c');
    memset((char *)map, 'P', (size_t)pg);

    struct turns t;
    turns_open(&t);
    pid_t pid = fork_child();
    if (pid == 0) {
        check_page("child: page 0 holds the parent's pre-fork private write", map, 0, 'P');
        check_page("child: page 1 reads the file", map, 1, 'b');
        memset((char *)map + pg, 'C', (size_t)pg);
        pass_to_parent(&t);
        wait_for_parent(&t);
        check_page("child: page 0 keeps the pre-fork copy, not the pwrite", map, 0, 'P');
        check_page("child: page 1 keeps its own write, not the pwrite", map, 1, 'C');
        check_page("child: untouched page 2 shows the parent's pwrite", map, 2, 'X');
        pwrite_page(fd, 2, 'Z');
        check_page("child: untouched page 2 shows its own pwrite", map, 2, 'Z');
        child_exit();
    }
    wait_for_child(&t);
    check_page("parent: page 1 still reads the file, not the child's write", map, 1, 'b');
    char c = 0;
    pread(fd, &c, 1, pg);
    CHECK_EQ("the child's private write did not reach the file", c, 'b');
    pread(fd, &c, 1, 0);
    CHECK_EQ("the parent's private write did not reach the file", c, 'a');
    pwrite_page(fd, 0, 'Y');
    pwrite_page(fd, 1, 'Y');
    pwrite_page(fd, 2, 'X');
    check_page("parent: page 0 keeps its private copy, not the pwrite", map, 0, 'P');
    check_page("parent: page 1 follows the pwrite", map, 1, 'Y');
    check_page("parent: untouched page 2 follows the pwrite", map, 2, 'X');
    pass_to_child(&t);
    check_status("child exited 0", pid, "exit 0");
    check_page("parent: page 2 shows the child's pwrite", map, 2, 'Z');
    return check_finish();
}
