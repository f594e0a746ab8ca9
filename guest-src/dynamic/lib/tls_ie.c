/* libtls_ie.so: lib/tls.c's variables under other names, in static TLS (initial-exec). */
#define tls_init ie_tls_init_v
#define tls_zero ie_tls_zero_v
#define tls_aligned ie_tls_aligned_v
#define tls_init_addr ie_tls_init_addr
#define bump ie_bump
#define tls_init_value ie_tls_init_value
#define aligned_ok ie_aligned_ok
#include "tls.c"
