/* The task name through prctl: PR_SET_NAME keeps at most 15 bytes and needs no NUL among them,
 * PR_GET_NAME returns 16 NUL-padded bytes; bad pointers are EFAULT, unknown options EINVAL. */
#include "check.h"
#include <sys/mman.h>
#include <sys/prctl.h>

int main(void)
{
    char name[16];
    memset(name, 'x', sizeof name);
    CHECK_OK("PR_GET_NAME of the new program", prctl(PR_GET_NAME, name));
    size_t len = strnlen(name, sizeof name);
    check("the initial name is 1 to 15 bytes and NUL-terminated", len > 0 && len < sizeof name,
          "length %zu", len);

    CHECK_OK("PR_SET_NAME worker", prctl(PR_SET_NAME, "worker"));
    memset(name, 'x', sizeof name);
    CHECK_OK("PR_GET_NAME after PR_SET_NAME", prctl(PR_GET_NAME, name));
    CHECK_MEM("PR_GET_NAME pads with NULs", name, "worker\0\0\0\0\0\0\0\0\0", 16);

    CHECK_OK("PR_SET_NAME of 20 bytes", prctl(PR_SET_NAME, "abcdefghijklmnopqrst"));
    prctl(PR_GET_NAME, name);
    CHECK_MEM("a long name keeps its first 15 bytes", name, "abcdefghijklmno", 16);

    long page_size = sysconf(_SC_PAGESIZE);
    char *page = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    REQUIRE("mmap two pages", page != MAP_FAILED);
    REQUIRE("munmap the second", munmap(page + page_size, page_size) == 0);
    char *end = page + page_size;
    memcpy(end - 15, "fifteen-bytes-!", 15);
    CHECK_OK("PR_SET_NAME of 15 bytes ending at unmapped memory", prctl(PR_SET_NAME, end - 15));
    prctl(PR_GET_NAME, name);
    CHECK_MEM("those 15 bytes are the name", name, "fifteen-bytes-!", 16);

    memcpy(end - 14, "fourteen-bytes", 14);
    CHECK_ERR("PR_SET_NAME that faults before a NUL", prctl(PR_SET_NAME, end - 14), EFAULT);
    CHECK_ERR("PR_SET_NAME from unmapped memory", prctl(PR_SET_NAME, end), EFAULT);
    CHECK_ERR("PR_GET_NAME to unmapped memory", prctl(PR_GET_NAME, end), EFAULT);
    prctl(PR_GET_NAME, name);
    CHECK_MEM("a failed PR_SET_NAME keeps the name", name, "fifteen-bytes-!", 16);
    CHECK_ERR("an unknown option", prctl(0x7fff0000, 0, 0, 0, 0), EINVAL);
    return check_finish();
}
