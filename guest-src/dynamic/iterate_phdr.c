/*
 * dl_iterate_phdr and dladdr: the program comes first, at the bias its AT_PHDR gives; a linked
 * library is listed with its path, and the PT_LOAD segment holding its function at dlpi_addr +
 * p_vaddr; a dlopen adds an entry and bumps dlpi_adds, a dlclose of a library that stays loaded
 * does not drop it; a callback's non-zero answer ends the walk and is returned.
 */
#include "dyn.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/auxv.h>

int dyn_a_value(void);

/* The plugin calls back into its program (exported with -rdynamic). */
int host_base(void)
{
    return 0;
}

struct walk {
    int count;
    int first_is_program;
    unsigned long long adds;
    int lib_found, lib_holds_fn, lib_phdrs_ok;
    int plugin_found;
    const char *name_of_lib;
    int stop_at;
};

static int visit(struct dl_phdr_info *info, size_t size, void *data)
{
    struct walk *w = data;
    w->count++;
    w->adds = info->dlpi_adds;
    if (w->count == 1) {
        const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
        w->first_is_program = size >= sizeof *info && info->dlpi_phdr == ph &&
                              info->dlpi_phnum == getauxval(AT_PHNUM);
    }
    if (info->dlpi_name && !strcmp(info->dlpi_name, tree("lib/libdyn_a.so"))) {
        w->lib_found++;
        unsigned long fn = (unsigned long)dyn_a_value;
        for (int i = 0; i < info->dlpi_phnum; i++) {
            const ElfW(Phdr) *p = &info->dlpi_phdr[i];
            if (p->p_type == PT_LOAD && fn >= info->dlpi_addr + p->p_vaddr &&
                fn < info->dlpi_addr + p->p_vaddr + p->p_memsz && (p->p_flags & PF_X))
                w->lib_holds_fn = 1;
        }
        const ElfW(Ehdr) *e = (const ElfW(Ehdr) *)info->dlpi_addr;
        w->lib_phdrs_ok = !memcmp(e->e_ident, ELFMAG, SELFMAG) && e->e_phnum == info->dlpi_phnum;
    }
    if (info->dlpi_name && !strcmp(info->dlpi_name, tree("lib/libplugin.so")))
        w->plugin_found++;
    return w->stop_at && w->count == w->stop_at ? 77 : 0;
}

int main(void)
{
    struct walk before = {0};
    CHECK_EQ("a walk to the end returns 0", dl_iterate_phdr(visit, &before), 0);
    check("the program comes first, with AT_PHDR's headers", before.first_is_program, "no");
    CHECK_EQ("the linked library is listed once", before.lib_found, 1);
    check("its executable segment holds its function", before.lib_holds_fn, "not found");
    check("dlpi_addr is its ELF header (a library is linked at 0)", before.lib_phdrs_ok, "no");
    CHECK_EQ("the plugin is not listed yet", before.plugin_found, 0);
    check("at least the program, the library, libc and the vDSO", before.count >= 4, "%d",
          before.count);

    void *h = dlopen(tree("lib/libplugin.so"), RTLD_NOW);
    REQUIRE("dlopen", h != NULL);
    struct walk after = {0};
    dl_iterate_phdr(visit, &after);
    CHECK_EQ("a dlopen adds one entry", after.count, before.count + 1);
    CHECK_EQ("the plugin is listed", after.plugin_found, 1);
    check("dlpi_adds grew", after.adds > before.adds, "%llu then %llu", before.adds, after.adds);

    void *again = dlopen(tree("lib/libplugin.so"), RTLD_NOW);
    CHECK_EQ("dlclose of a second reference", dlclose(again), 0);
    struct walk kept = {0};
    dl_iterate_phdr(visit, &kept);
    CHECK_EQ("the plugin is still listed", kept.plugin_found, 1);

    struct walk stop = {.stop_at = 2};
    CHECK_EQ("a callback's non-zero answer ends the walk and is returned",
             dl_iterate_phdr(visit, &stop), 77);
    CHECK_EQ("after two entries", stop.count, 2);

    Dl_info info;
    check("dladdr of a data address inside the library names it",
          dladdr((char *)dlsym(h, "plugin_value"), &info) && info.dli_fname &&
          !strcmp(info.dli_fname, tree("lib/libplugin.so")), "elsewhere");
    check("dladdr of an address in no object fails", dladdr((void *)16, &info) == 0, "found");
    return check_finish();
}
