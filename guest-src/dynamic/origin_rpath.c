/*
 * $ORIGIN in rpath and runpath: the program finds libdyn_chain.so in $ORIGIN/lib (DT_RUNPATH),
 * which finds libdyn_leaf.so in its own $ORIGIN/../deps; dladdr names each library by the
 * expanded path. Helpers of the tree: one with ${ORIGIN} braces, one with an old DT_RPATH; each
 * started through a symlink in another directory ($ORIGIN is the file's real directory) and as
 * a copy elsewhere (its $ORIGIN is there, the libraries are not: 127).
 */
#include "dyn.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

int chain(void);

/* The program's dynamic section (glibc's link.h declares it, musl's does not). */
extern ElfW(Dyn) _DYNAMIC[];

static char buf[4096];

/* Whether the program's dynamic section has an entry of this tag. */
static int has_tag(long tag)
{
    for (const ElfW(Dyn) *d = _DYNAMIC; d->d_tag != DT_NULL; d++)
        if (d->d_tag == tag)
            return 1;
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), outfd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char data[65536];
    ssize_t n;
    int ok = in >= 0 && outfd >= 0;
    while (ok && (n = read(in, data, sizeof data)) > 0)
        ok = write(outfd, data, (size_t)n) == n;
    if (in >= 0)
        close(in);
    if (outfd >= 0)
        close(outfd);
    return ok;
}

static void helper(const char *name)
{
    char *envp[] = {NULL};
    char *argv[] = {(char *)name, NULL};
    char what[128];
    int status = run_capture(tree(name), argv, envp, NULL, buf, sizeof buf);
    snprintf(what, sizeof what, "%s finds both libraries", name);
    check(what, exit_of(status) == 0 && !strcmp(buf, "chain 41\n"), "status %d, got %s",
          exit_of(status), buf);

    char link[64];
    snprintf(link, sizeof link, "link-%s", name);
    CHECK_OK("a symlink to it in the working directory", symlink(tree(name), link));
    char path[80];
    snprintf(path, sizeof path, "./%s", link);
    status = run_capture(path, argv, envp, NULL, buf, sizeof buf);
    snprintf(what, sizeof what, "%s through a symlink: $ORIGIN is the real directory", name);
    check(what, exit_of(status) == 0 && !strcmp(buf, "chain 41\n"), "status %d, got %s",
          exit_of(status), buf);

    char copy[64];
    snprintf(copy, sizeof copy, "copy-%s", name);
    CHECK_OK("a copy of it in the working directory", copy_file(tree(name), copy) ? 0 : -1);
    snprintf(path, sizeof path, "./%s", copy);
    status = run_capture(path, argv, envp, NULL, buf, sizeof buf);
    snprintf(what, sizeof what, "%s copied elsewhere does not find them: 127", name);
    check(what, exit_of(status) == 127 && buf[0] == '\0', "status %d, got %s", exit_of(status),
          buf);
}

int main(void)
{
    CHECK_EQ("the call crosses both libraries", chain(), 41);
    check("the program has a DT_RUNPATH", has_tag(DT_RUNPATH) && !has_tag(DT_RPATH),
          "runpath %d, rpath %d", has_tag(DT_RUNPATH), has_tag(DT_RPATH));
    Dl_info info;
    check("the chain library is $ORIGIN/lib/libdyn_chain.so", dladdr((void *)chain, &info) &&
          info.dli_fname && !strcmp(info.dli_fname, tree("lib/libdyn_chain.so")), "elsewhere");
    void *leaf = dlsym(RTLD_DEFAULT, "leaf");
    check("the leaf library is $ORIGIN/lib/../deps/libdyn_leaf.so",
          leaf && dladdr(leaf, &info) && info.dli_fname &&
          !strcmp(info.dli_fname, tree("lib/../deps/libdyn_leaf.so")), "elsewhere");
    helper("braced");
    helper("old_rpath");
    return check_finish();
}
