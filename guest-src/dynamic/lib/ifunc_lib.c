/* libifunc.so: an IFUNC resolved when the library is loaded, counting its resolver's calls. */
#include <stdint.h>

typedef int (*pick_fn)(void);

static int resolved;

static int fast(void)
{
    return 20;
}

static int slow(void)
{
    return 10;
}

static pick_fn resolve_lib_pick(uint64_t hwcap)
{
    resolved++;
    return hwcap ? fast : slow;
}

int lib_pick(void) __attribute__((ifunc("resolve_lib_pick")));

int lib_resolver_calls(void)
{
    return resolved;
}
