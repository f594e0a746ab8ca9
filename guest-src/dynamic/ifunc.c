/*
 * GNU IFUNC (glibc only: musl has none): the program's own IFUNC resolved once, before main,
 * with aarch64's arguments — AT_HWCAP with _IFUNC_ARG_HWCAP set, and an __ifunc_arg_t holding
 * AT_HWCAP and AT_HWCAP2 — and a dlopened library's, resolved at load; calls through the PLT and
 * through pointers reach the chosen function.
 */
#include "dyn.h"

#include <dlfcn.h>
#include <stdint.h>

typedef int (*pick_fn)(void);
#include <sys/auxv.h>
#include <sys/ifunc.h>

static int calls;
static uint64_t got_hwcap;
static __ifunc_arg_t got_arg;

static int with_arg(void)
{
    return 2;
}

static int without_arg(void)
{
    return 1;
}

static pick_fn resolve_pick(uint64_t hwcap, const __ifunc_arg_t *arg)
{
    calls++;
    got_hwcap = hwcap;
    if (!(hwcap & _IFUNC_ARG_HWCAP))
        return without_arg;
    got_arg = *arg;
    return with_arg;
}

int pick(void) __attribute__((ifunc("resolve_pick")));

int main(void)
{
    CHECK_EQ("the program's resolver ran once, before main", calls, 1);
    CHECK_EQ("a call reaches the function it chose", pick(), 2);
    int (*through)(void) = pick;
    CHECK_EQ("so does a call through a pointer", through(), 2);
    CHECK_EQ("the resolver was not called again", calls, 1);
    CHECK_EQ("its first argument is AT_HWCAP with _IFUNC_ARG_HWCAP", got_hwcap,
             getauxval(AT_HWCAP) | _IFUNC_ARG_HWCAP);
    CHECK_EQ("__ifunc_arg_t's size", got_arg._size >= 24, 1);
    CHECK_EQ("__ifunc_arg_t's AT_HWCAP", got_arg._hwcap, getauxval(AT_HWCAP));
    CHECK_EQ("__ifunc_arg_t's AT_HWCAP2", got_arg._hwcap2, getauxval(AT_HWCAP2));

    void *h = dlopen(tree("lib/libifunc.so"), RTLD_NOW);
    REQUIRE("the IFUNC library opens", h != NULL);
    int (*count)(void) = (int (*)(void))dlsym(h, "lib_resolver_calls");
    int (*lib_pick)(void) = (int (*)(void))dlsym(h, "lib_pick");
    REQUIRE("its symbols", count && lib_pick);
    CHECK_EQ("its resolver ran once at load", count(), 1);
    CHECK_EQ("dlsym gives the chosen function", lib_pick(), 20);
    CHECK_EQ("no resolver call since", count(), 1);
    return check_finish();
}
