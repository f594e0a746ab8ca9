/*
 * A library that forks and execs: its fork child sees its own copy of the library's data; a
 * child that the library execs (fork+execve, vfork+execve, posix_spawn) is this dynamic program
 * again, which loads its libraries anew — the linked one and one it dlopens — and answers
 * through its exit status. After a dlopen in the parent, a fork child calls the dlopened
 * library and dlcloses it without the parent losing it. On every fork strategy.
 */
#include "dyn.h"

#include <dlfcn.h>

int spawn_counter(void);
int spawn_fork(void);
int spawn_exec(const char *path, const char *arg);
int spawn_vfork(const char *path, const char *arg);
int spawn_posix(const char *path, const char *arg);

/* The exec'd child: loads the plugin afresh and answers 40 + its value (7). */
static int child(void)
{
    void *h = dlopen(tree("lib/libplugin.so"), RTLD_NOW);
    int *value = h ? (int *)dlsym(h, "plugin_value") : NULL;
    if (!value || spawn_counter() != 10)
        return 1;
    return 40 + *value;
}

int host_base(void)
{
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "child"))
        return child();

    CHECK_EQ("the fork child sees its own copy of the library's data", spawn_fork(), 16);
    CHECK_EQ("the parent's copy is unchanged by the child", spawn_counter(), 11);
    const char *self = tree("fork_exec");
    CHECK_EQ("fork+execve of the program from the library", spawn_exec(self, "child"), 47);
    CHECK_EQ("vfork+execve of the program from the library", spawn_vfork(self, "child"), 47);
    CHECK_EQ("posix_spawn of the program from the library", spawn_posix(self, "child"), 47);
    CHECK_EQ("a missing program: the child's own 126", spawn_exec(tree("missing"), "x"), 126);

    void *h = dlopen(tree("lib/libplugin.so"), RTLD_NOW);
    REQUIRE("dlopen in the parent", h != NULL);
    int *value = (int *)dlsym(h, "plugin_value");
    int (*add)(int, int) = (int (*)(int, int))dlsym(h, "plugin_add");
    REQUIRE("its symbols", value && add);
    *value = 20;
    pid_t pid = fork();
    if (pid == 0) {
        int ok = *value == 20 && add(1, 2) == 3;
        *value = 99;
        ok &= dlclose(h) == 0;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK_EQ("a fork child calls the dlopened library and closes it", exit_of(status), 0);
    CHECK_EQ("the parent keeps it, its value unchanged", *value + add(2, 2), 24);
    return check_finish();
}
