/*
 * A library with thread-local storage: initialised (.tdata), zeroed (.tbss) and 64-byte aligned
 * variables, and accessors. Built with the dialect in its flags: TLS descriptors (the aarch64
 * default), -mtls-dialect=trad (__tls_get_addr) or -ftls-model=initial-exec (static TLS).
 */
#include <stdint.h>

__thread int tls_init = 5;
__thread long tls_zero;
__thread __attribute__((aligned(64))) char tls_aligned[100] = {1};

int *tls_init_addr(void)
{
    return &tls_init;
}

long bump(long by)
{
    tls_init += (int)by;
    tls_zero += by;
    return tls_zero;
}

int tls_init_value(void)
{
    return tls_init;
}

int aligned_ok(void)
{
    return ((uintptr_t)tls_aligned % 64) == 0 && tls_aligned[0] == 1 && tls_aligned[99] == 0;
}
