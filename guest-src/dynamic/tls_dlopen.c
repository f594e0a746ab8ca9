/*
 * Thread-local storage of libraries: one linked with initial-exec TLS and two opened with
 * dlopen, one reaching its TLS through TLS descriptors and one through __tls_get_addr. Every
 * thread — those started before the dlopen included — sees its own initialised, zeroed and
 * aligned copies; dl_iterate_phdr reports a TLS module for each.
 */
#include "dyn.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>

struct lib {
    const char *path;
    void *h;
    int *(*addr)(void);
    long (*bump)(long);
    int (*value)(void);
    int (*aligned)(void);
};

int *ie_tls_init_addr(void);
long ie_bump(long);
int ie_tls_init_value(void);
int ie_aligned_ok(void);

static struct lib libs[3];
static pthread_barrier_t opened;

static int load(struct lib *l)
{
    l->h = dlopen(tree(l->path), RTLD_NOW);
    if (!l->h)
        return 0;
    l->addr = (int *(*)(void))dlsym(l->h, "tls_init_addr");
    l->bump = (long (*)(long))dlsym(l->h, "bump");
    l->value = (int (*)(void))dlsym(l->h, "tls_init_value");
    l->aligned = (int (*)(void))dlsym(l->h, "aligned_ok");
    return l->addr && l->bump && l->value && l->aligned;
}

/* Bumps every library's variables by `by` and answers how many checks failed. */
static int exercise(long by, int **addrs)
{
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        struct lib *l = &libs[i];
        bad += l->value() != 5;
        bad += !l->aligned();
        for (int k = 1; k <= 3; k++)
            bad += l->bump(by) != by * k;
        bad += l->value() != 5 + 3 * (int)by;
        addrs[i] = l->addr();
    }
    return bad;
}

struct result {
    long by;
    int bad;
    int *addrs[3];
};

static void *thread_main(void *arg)
{
    struct result *r = arg;
    pthread_barrier_wait(&opened);
    r->bad = exercise(r->by, r->addrs);
    return NULL;
}

static int tls_modules;

static int count_tls(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    /* Only the tree's libraries: glibc's own libc has a TLS segment too, musl's none. */
    if (!info->dlpi_name || !strstr(info->dlpi_name, "/libtls_"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_TLS && info->dlpi_tls_modid > 0) {
            tls_modules++;
            break;
        }
    return 0;
}

int main(void)
{
    libs[0] = (struct lib){.path = "libtls_ie.so", .addr = ie_tls_init_addr, .bump = ie_bump,
                           .value = ie_tls_init_value, .aligned = ie_aligned_ok};
    libs[1].path = "lib/libtls_desc.so";
    libs[2].path = "lib/libtls_trad.so";
    pthread_barrier_init(&opened, NULL, 2);
    static struct result early = {.by = 7}, late = {.by = 9};
    pthread_t before;
    REQUIRE("a thread starts before the dlopen", pthread_create(&before, NULL, thread_main,
                                                                &early) == 0);
    REQUIRE("the TLS-descriptor library opens", load(&libs[1]));
    REQUIRE("the __tls_get_addr library opens", load(&libs[2]));
    pthread_barrier_wait(&opened);
    int *mine[3];
    int bad = exercise(1, mine);
    pthread_join(before, NULL);
    CHECK_EQ("the main thread's copies start initialised and count alone", bad, 0);
    CHECK_EQ("a thread started before the dlopen has its own copies", early.bad, 0);

    pthread_barrier_destroy(&opened);
    pthread_barrier_init(&opened, NULL, 2);
    pthread_t after;
    REQUIRE("a thread starts after the dlopen", pthread_create(&after, NULL, thread_main,
                                                               &late) == 0);
    pthread_barrier_wait(&opened);
    pthread_join(after, NULL);
    CHECK_EQ("a thread started after the dlopen has its own copies", late.bad, 0);
    int distinct = 1;
    for (int i = 0; i < 3; i++)
        distinct &= mine[i] != early.addrs[i] && mine[i] != late.addrs[i] && mine[i] &&
                    early.addrs[i];
    check("every thread's variables lie apart", distinct, "shared addresses");
    CHECK_EQ("the main thread's values were kept", libs[0].value() + libs[1].value() +
             libs[2].value(), 3 * 8);
    dl_iterate_phdr(count_tls, NULL);
    CHECK_EQ("dl_iterate_phdr reports the three TLS modules", tls_modules, 3);
    return check_finish();
}
