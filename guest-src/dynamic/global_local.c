/*
 * RTLD_LOCAL against RTLD_GLOBAL: a library opened RTLD_LOCAL lends its symbols to no one (not
 * to RTLD_DEFAULT, not to a library opened later), until it is opened again with
 * RTLD_NOLOAD|RTLD_GLOBAL; a symbol of the program interposes on a library's own (the library
 * was linked without -Bsymbolic), while the symbolic build keeps its own.
 */
#include "dyn.h"

#include <dlfcn.h>

/* Exported with -rdynamic: every library's call to interposable() comes here. */
int interposable(void)
{
    return 2;
}

int main(void)
{
    void *prov = dlopen(tree("lib/libprovider.so"), RTLD_NOW | RTLD_LOCAL);
    REQUIRE("the provider opens RTLD_LOCAL", prov != NULL);
    check("its symbol is found through its handle", dlsym(prov, "shared_sym") != NULL, "no");
    check("RTLD_DEFAULT does not see a local library", dlsym(RTLD_DEFAULT, "shared_sym") == NULL,
          "found");
    dlerror();
    void *cons = dlopen(tree("lib/libconsumer.so"), RTLD_NOW);
    check("a later library cannot bind to a local one", cons == NULL, "opened");
    const char *err = dlerror();
    check("dlerror names the symbol", err && strstr(err, "shared_sym"), "%s",
          err ? "no name" : "no error");

    void *promoted = dlopen(tree("lib/libprovider.so"), RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
    check("RTLD_NOLOAD|RTLD_GLOBAL returns the same handle", promoted == prov, "%s",
          promoted ? "another handle" : "none");
    check("now RTLD_DEFAULT sees it", dlsym(RTLD_DEFAULT, "shared_sym") != NULL, "not found");
    cons = dlopen(tree("lib/libconsumer.so"), RTLD_NOW);
    REQUIRE("now the consumer opens", cons != NULL);
    int (*consume)(void) = (int (*)(void))dlsym(cons, "consume");
    CHECK_EQ("and its call binds to the provider", consume ? consume() : -1, 22);

    int (*call)(void) = (int (*)(void))dlsym(prov, "call_interposable");
    CHECK_EQ("the program's definition interposes on the library's", call ? call() : -1, 2);
    int (*own)(void) = (int (*)(void))dlsym(prov, "interposable");
    CHECK_EQ("dlsym on the handle still gives the library's own", own ? own() : -1, 1);

    void *sym = dlopen(tree("lib/libprovider_symbolic.so"), RTLD_NOW | RTLD_LOCAL);
    REQUIRE("the -Bsymbolic build opens", sym != NULL);
    call = (int (*)(void))dlsym(sym, "call_interposable");
    CHECK_EQ("with -Bsymbolic the library calls its own", call ? call() : -1, 1);
    check("dlsym(RTLD_DEFAULT) gives the program's definition",
          dlsym(RTLD_DEFAULT, "interposable") == (void *)interposable, "another");
    void *next = dlsym(RTLD_NEXT, "interposable");
    check("RTLD_NEXT from the program finds the global library's", next != NULL &&
          next == (void *)own, "%s", next ? "another" : "none");
    return check_finish();
}
