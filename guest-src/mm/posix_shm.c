/*
 * POSIX shared memory: shm_open creates a named object, O_EXCL refuses an existing name, two
 * independent mmaps and a second shm_open by name all see one object, and shm_unlink removes the
 * name while mappings and fds keep the object alive.
 */
#include "mm.h"
#include <sys/stat.h>

int main(void)
{
    mm_init();
    char name[64];
    snprintf(name, sizeof name, "/elfvisor-mm-shm-%d", (int)getpid());
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    REQUIRE("shm_open O_CREAT|O_EXCL", fd >= 0);
    struct stat st;
    fstat(fd, &st);
    CHECK_EQ("a new object is empty", st.st_size, 0);
    CHECK_EQ("it has the requested mode", st.st_mode & 0777, 0600);
    CHECK_ERR("O_CREAT|O_EXCL of an existing name", shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600), EEXIST);
    int again = shm_open(name, O_CREAT | O_RDWR, 0600);
    check("O_CREAT without O_EXCL opens the existing object", again >= 0, "errno %s", errname(errno));
    close(again);
    CHECK_OK("ftruncate to 2 pages", ftruncate(fd, 2 * pg));

    volatile char *m1 = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    volatile char *m2 = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    REQUIRE("two mmaps of the object", m1 != MAP_FAILED && m2 != MAP_FAILED && m1 != m2);
    check("the object is zero-filled", m1[0] == 0 && m2[2 * pg - 1] == 0, "non-zero");
    memcpy((char *)m1 + 8, "one", 3);
    CHECK_MEM("the second mmap sees the first's write", (const char *)m2 + 8, "one", 3);
    memcpy((char *)m2 + pg, "two", 3);
    CHECK_MEM("the first mmap sees the second's write", (const char *)m1 + pg, "two", 3);

    int fd2 = shm_open(name, O_RDWR, 0);
    REQUIRE("a second shm_open by name", fd2 >= 0);
    fstat(fd2, &st);
    CHECK_EQ("it sees the size", st.st_size, 2 * pg);
    volatile char *m3 = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, pg);
    REQUIRE("mmap through the second fd at an offset", m3 != MAP_FAILED);
    CHECK_MEM("it sees the object", (const char *)m3, "two", 3);
    m3[100] = 'x';
    CHECK_EQ("and writes it", m1[pg + 100], 'x');
    char buf[4] = {0};
    pread(fd, buf, 3, 8);
    CHECK_MEM("pread through the first fd sees the mapped writes", buf, "one", 3);

    int rd = shm_open(name, O_RDONLY, 0);
    REQUIRE("shm_open O_RDONLY", rd >= 0);
    errno = 0;
    check("a writable shared mapping of a read-only fd",
          mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, rd, 0) == MAP_FAILED && errno == EACCES,
          "errno %s", errname(errno));
    close(rd);

    CHECK_OK("shm_unlink", shm_unlink(name));
    CHECK_ERR("shm_open after unlink", shm_open(name, O_RDWR, 0), ENOENT);
    CHECK_ERR("shm_unlink again", shm_unlink(name), ENOENT);
    m2[200] = 'y';
    CHECK_EQ("the mappings still share the unlinked object", m1[200], 'y');
    pread(fd2, buf, 1, 200);
    CHECK_EQ("and so does the fd", buf[0], 'y');
    int fresh = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    check("the name can be created anew", fresh >= 0, "errno %s", errname(errno));
    fstat(fresh, &st);
    CHECK_EQ("as a new, empty object", st.st_size, 0);
    shm_unlink(name);
    CHECK_OK("munmap", munmap((void *)m1, (size_t)(2 * pg)));
    munmap((void *)m2, (size_t)(2 * pg));
    munmap((void *)m3, (size_t)pg);
    return check_finish();
}
