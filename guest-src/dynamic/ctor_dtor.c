/*
 * Library constructors and destructors: a linked library's run before the program's own and
 * main, by priority; a dlopened library's after those of the library it needs; destructors in
 * the reverse order — a dlopened library's by the time its process exits (glibc runs them at
 * dlclose, musl at exit: the order is the same), then the program's and the linked library's,
 * after atexit handlers. The atexit handler is registered after the fork, in the parent only:
 * glibc runs a dlopened library's destructors before it (at dlclose), musl after.
 */
#include "dyn.h"

#include <dlfcn.h>

void dep_hello(void);

static void say(const char *line)
{
    (void)!write(1, line, strlen(line));
}

__attribute__((constructor)) static void main_ctor(void)
{
    say("ctor main\n");
}

__attribute__((destructor)) static void main_dtor(void)
{
    say("dtor main\n");
}

static void at_exit(void)
{
    say("atexit main\n");
}

int main(void)
{
    say("main start\n");
    dep_hello();
    pid_t pid = fork();
    if (pid == 0) {
        void *h = dlopen(tree("lib/libctor_plugin.so"), RTLD_NOW);
        if (!h)
            _exit(3);
        void (*hello)(void) = (void (*)(void))dlsym(h, "plugin_hello");
        if (!hello)
            _exit(4);
        hello();
        dlclose(h);
        exit(0);
    }
    atexit(at_exit);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK_EQ("the child that dlopened the plugin exits 0", exit_of(status), 0);
    return check_finish();
}
