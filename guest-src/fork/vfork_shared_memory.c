/*
 * clone(CLONE_VM | CLONE_VFORK) on a stack of its own, as posix_spawn makes its child: until the
 * child execs or exits it shares the parent's memory, so every private page it writes — a
 * global, the heap, a page never touched before, a private file mapping, the parent's stack —
 * holds the child's bytes when the parent resumes, and pages it did not write keep the
 * parent's. A private file mapping the child wrote still leaves the file alone. The same holds
 * when the child ends by a successful execve instead of _exit.
 */
#include "fork.h"
#include <sched.h>
#include <sys/mman.h>

#define HEAP_BYTES (300 * 1024) /* more than one message's worth */

static int global_word = 1;
static unsigned char *heap;
static unsigned char *fresh; /* mapped by the parent, never touched before the clone */
static char *file_map;
static int *parent_local;
static const char *path;

struct job {
    int exec; /* end by execve of this program instead of _exit */
};

static int child(void *arg)
{
    struct job *job = arg;
    global_word = 2;
    for (size_t i = 0; i < HEAP_BYTES; i += 4096)
        heap[i] = (unsigned char)(i / 4096 + 1);
    fresh[4096] = 0x5a;
    file_map[0] = 'C';
    *parent_local = 77;
    if (job->exec) {
        char *const args[] = {"vfork-shared", CHILD_MODE, NULL};
        execve(path, args, args + 2);
        global_word = -1;
    }
    _exit(3);
}

static void check_writes(const char *how)
{
    char name[96];
    snprintf(name, sizeof name, "%s: the child's write to a global is the parent's", how);
    CHECK_EQ(name, global_word, 2);
    int heap_ok = 1;
    for (size_t i = 0; i < HEAP_BYTES; i += 4096)
        heap_ok &= heap[i] == (unsigned char)(i / 4096 + 1) && heap[i + 1] == 0xee;
    snprintf(name, sizeof name, "%s: %d KiB of heap the child wrote, page by page", how,
             HEAP_BYTES / 1024);
    check(name, heap_ok, "a page differs");
    snprintf(name, sizeof name, "%s: a page the parent never touched", how);
    check(name, fresh[4096] == 0x5a && fresh[0] == 0 && fresh[8192] == 0, "got %#x %#x %#x",
          fresh[4096], fresh[0], fresh[8192]);
    snprintf(name, sizeof name, "%s: a private file mapping", how);
    check(name, file_map[0] == 'C' && file_map[1] == 'f', "got %c%c", file_map[0], file_map[1]);
    snprintf(name, sizeof name, "%s: a local on the parent's stack", how);
    CHECK_EQ(name, *parent_local, 77);
}

static void reset(void)
{
    global_word = 1;
    memset(heap, 0xee, HEAP_BYTES);
    file_map[0] = 'f';
    *parent_local = 0;
}

int main(int argc, char **argv)
{
    if (in_child_mode(argc, argv))
        return 9;
    path = self_exe();
    heap = malloc(HEAP_BYTES);
    NEED("malloc", heap != NULL);
    fresh = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    NEED("mmap", fresh != MAP_FAILED);
    char tmpl[] = "/tmp/vfork-shared-XXXXXX";
    int fd = mkstemp(tmpl);
    NEED("mkstemp", fd >= 0);
    unlink(tmpl);
    NEED("write the file", write(fd, "ffff", 4) == 4);
    file_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    NEED("mmap the file", file_map != MAP_FAILED);
    int local = 0;
    parent_local = &local;
    size_t stack_size = 64 * 1024;
    char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
    NEED("the child's stack", stack != MAP_FAILED);

    reset();
    struct job job = {.exec = 0};
    pid_t pid = clone(child, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &job);
    NEED("clone", pid > 0);
    check_writes("_exit");
    check_status("the child exits 3", pid, "exit 3");

    reset();
    job.exec = 1;
    pid = clone(child, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &job);
    NEED("clone", pid > 0);
    check_writes("execve");
    check_status("the exec'd image exits 9", pid, "exit 9");

    char on_disk[5] = {0};
    CHECK_EQ("read the file", pread(fd, on_disk, 4, 0), 4);
    check("the file keeps its bytes", strcmp(on_disk, "ffff") == 0, "got %s", on_disk);
    return check_finish();
}
