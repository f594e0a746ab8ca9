/* Unaligned addresses and lengths to every mm call, and private file mappings that lie past the
 * end of their file (nothing of them readable), then a fork: errnos as Linux gives them, and the
 * fork copies what is there on every strategy. */
#include "check.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define P 4096L

/* Forks a child that reads `probe` (when given) and exits 7; checks its status. */
static void fork_and_reap(const char *name, const char *probe, char want)
{
    pid_t pid = fork_or_die();
    if (pid == 0)
        _exit(probe == NULL || *probe == want ? 7 : 1);
    int status = 0;
    NEED("waitpid", waitpid(pid, &status, 0) == pid);
    check(name, WIFEXITED(status) && WEXITSTATUS(status) == 7, "status %#x", status);
}

int main(void)
{
    int fd = open("f.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    REQUIRE("create", fd >= 0);
    REQUIRE("write", write(fd, "hello world", 11) == 11);

    char *past = mmap(NULL, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, P);
    CHECK_EQ("a private mapping wholly past EOF", past != MAP_FAILED, 1);
    fork_and_reap("fork with a private mapping wholly past EOF", NULL, 0);
    char *part = mmap(NULL, 3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK_EQ("a private mapping reaching past EOF", part != MAP_FAILED, 1);
    part[1] = 'E';
    fork_and_reap("fork with a written page before EOF", part + 1, 'E');
    int empty = open("empty.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    char *none = mmap(NULL, P, PROT_READ, MAP_PRIVATE, empty, 0);
    CHECK_EQ("a private mapping of an empty file", none != MAP_FAILED, 1);
    fork_and_reap("fork with a mapping of an empty file", NULL, 0);

    char *a = mmap(NULL, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE("anonymous memory", a != MAP_FAILED);
    for (long i = 0; i < 8 * P; i += P)
        a[i] = 'a';
    char *odd = a + P + 1;
    unsigned char vec[4];
    /* The system call itself: musl's mprotect rounds the address down first. */
    CHECK_ERR("mprotect at an unaligned address", syscall(SYS_mprotect, odd, P, PROT_READ), EINVAL);
    CHECK_OK("mprotect of an unaligned length", mprotect(a + P, 1, PROT_READ | PROT_WRITE));
    CHECK_ERR("munmap at an unaligned address", munmap(odd, P), EINVAL);
    CHECK_ERR("madvise at an unaligned address", madvise(odd, P, MADV_DONTNEED), EINVAL);
    CHECK_ERR("msync at an unaligned address", msync(odd, P, MS_SYNC), EINVAL);
    CHECK_ERR("mincore at an unaligned address", mincore(odd, P, vec), EINVAL);
    CHECK_OK("mincore of an unaligned length", mincore(a, P + 1, vec));
    CHECK_OK("mlock at an unaligned address", mlock(odd, 10));
    CHECK_OK("munlock at an unaligned address", munlock(odd, 10));
    CHECK_EQ("mremap at an unaligned address", mremap(odd, P, 2 * P, MREMAP_MAYMOVE) == MAP_FAILED && errno == EINVAL, 1);
    CHECK_EQ("mremap to an unaligned fixed address",
             mremap(a, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 4 * P + 3) == MAP_FAILED && errno == EINVAL, 1);
    CHECK_EQ("MAP_FIXED at an unaligned address",
             mmap(odd, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED && errno == EINVAL, 1);
    CHECK_EQ("a file mapping at an unaligned offset",
             mmap(NULL, P, PROT_READ, MAP_PRIVATE, fd, 100) == MAP_FAILED && errno == EINVAL, 1);
    CHECK_OK("munmap of an unaligned length", munmap(a + 6 * P, 1));
    CHECK_OK("madvise of an unaligned length", madvise(a + 2 * P, 1, MADV_DONTNEED));
    CHECK_OK("msync of an unaligned length", msync(a, 1, MS_ASYNC));
    char *grown = mremap(a + 4 * P, P + 1, 2 * P + 1, MREMAP_MAYMOVE);
    CHECK_EQ("mremap of unaligned lengths", grown != MAP_FAILED, 1);
    fork_and_reap("fork after every unaligned call", a, 'a');
    check("the unaligned calls left the first page", a[0] == 'a', "changed");
    check("an unaligned DONTNEED cleared its page", a[2 * P] == 0, "kept");
    unlink("f.txt");
    unlink("empty.txt");
    return check_finish();
}
