/*
 * dlopen, dlsym, dlclose and dlerror on a library of the tree: a function and data by name, a
 * second open (and RTLD_NOLOAD) giving the same handle with its state kept, the program's own symbols
 * through dlopen(NULL) and RTLD_DEFAULT, dladdr, and dlerror for a missing library, a file that
 * is no ELF, a missing symbol, and once read, none. (A bare soname is not looked up among
 * loaded libraries the same way: glibc matches DT_SONAME, musl only the file's search.)
 */
#include "dyn.h"

#include <dlfcn.h>

int host_base(void)
{
    return 40;
}

int main(void)
{
    check("no error before any call", dlerror() == NULL, "an error pending");

    void *h = dlopen(tree("lib/libplugin.so"), RTLD_NOW);
    REQUIRE("dlopen by path", h != NULL);
    int (*add)(int, int) = (int (*)(int, int))dlsym(h, "plugin_add");
    int *value = (int *)dlsym(h, "plugin_value");
    int (*calls)(void) = (int (*)(void))dlsym(h, "plugin_calls");
    int (*from_host)(void) = (int (*)(void))dlsym(h, "plugin_from_host");
    REQUIRE("dlsym finds the functions and the data", add && value && calls && from_host);
    CHECK_EQ("calling a function found by dlsym", add(2, 3), 5);
    CHECK_EQ("reading data found by dlsym", *value, 7);
    *value = 8;
    CHECK_EQ("the library calls back into the program", from_host(), 41);

    void *again = dlopen(tree("lib/libplugin.so"), RTLD_NOW | RTLD_NOLOAD);
    check("RTLD_NOLOAD finds the loaded library", again == h, "another handle");
    void *second = dlopen(tree("lib/libplugin.so"), RTLD_LAZY);
    check("a second dlopen gives the same handle", second == h, "another handle");
    int *value2 = second ? (int *)dlsym(second, "plugin_value") : NULL;
    check("the state is shared", value2 == value && *value2 == 8, "another copy");
    CHECK_EQ("dlclose of the second reference", dlclose(second), 0);
    if (again)
        dlclose(again);
    CHECK_EQ("still loaded after one dlclose", add(1, 1) + calls(), 2 + 2);

    Dl_info info;
    memset(&info, 0, sizeof info);
    check("dladdr names the library", dladdr((void *)add, &info) != 0 && info.dli_fname &&
          !strcmp(info.dli_fname, tree("lib/libplugin.so")), "%s",
          info.dli_fname ? "another file" : "no file");
    check("dladdr names the symbol", info.dli_sname && !strcmp(info.dli_sname, "plugin_add") &&
          info.dli_saddr == (void *)add, "%s", info.dli_sname ? info.dli_sname : "none");
    check("dladdr gives the library's base", info.dli_fbase != NULL &&
          !memcmp(info.dli_fbase, "\177ELF", 4), "no ELF header there");

    void *self = dlopen(NULL, RTLD_NOW);
    check("dlopen(NULL) finds the program's symbols", self &&
          dlsym(self, "host_base") == (void *)host_base, "not found");
    check("RTLD_DEFAULT finds the program's symbols",
          dlsym(RTLD_DEFAULT, "host_base") == (void *)host_base, "not found");
    check("RTLD_DEFAULT finds libc", dlsym(RTLD_DEFAULT, "strlen") != NULL, "no strlen");
    check("RTLD_DEFAULT does not see a local library",
          dlsym(RTLD_DEFAULT, "plugin_add") == NULL, "found");
    dlerror();

    check("dlsym of a missing symbol", dlsym(h, "no_such_symbol") == NULL, "found");
    const char *err = dlerror();
    check("dlerror names the missing symbol", err && strstr(err, "no_such_symbol"), "%s",
          err ? "no name" : "no error");
    check("dlerror is cleared once read", dlerror() == NULL, "still set");

    check("dlopen of a missing library", dlopen(tree("lib/libmissing.so"), RTLD_NOW) == NULL,
          "opened");
    err = dlerror();
    check("dlerror names the missing library", err && strstr(err, "libmissing.so"), "%s",
          err ? "no name" : "no error");
    check("dlopen of a bare missing name", dlopen("libmissing.so", RTLD_NOW) == NULL &&
          dlerror() != NULL, "opened");
    check("dlopen of a file that is no ELF", dlopen("./notelf.so", RTLD_NOW) == NULL &&
          dlerror() != NULL, "opened");
    check("dlopen of a directory", dlopen(tree("lib"), RTLD_NOW) == NULL && dlerror() != NULL,
          "opened");

    CHECK_EQ("dlclose of the last reference", dlclose(h), 0);
    return check_finish();
}
