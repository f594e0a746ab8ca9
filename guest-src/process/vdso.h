/*
 * vdso.h — finding the vDSO the way a C library does: AT_SYSINFO_EHDR, the program headers, the
 * dynamic section, then each symbol by name in the SysV hash table's symbol range, accepted only
 * when its version (DT_VERSYM/DT_VERDEF) is the one asked for. Also the [vdso] and [vvar] lines
 * of /proc/self/maps, and a signal handler installed with no SA_RESTORER, which returns wherever
 * the kernel pointed its link register.
 */
#ifndef ELFVISOR_VDSO_H
#define ELFVISOR_VDSO_H

#include "check.h"
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#define VDSO_VERSION "LINUX_2.6.39"

struct vdso {
    const Elf64_Ehdr *eh;
    uintptr_t base; /* load bias: address of vaddr 0 */
    const Elf64_Dyn *dyn;
    const Elf64_Sym *syms;
    const char *strs;
    const uint32_t *hash;
    const uint16_t *versym;
    const Elf64_Verdef *verdef;
    int loads, has_gnu_hash;
    const char *soname;
};

/* Fills v from AT_SYSINFO_EHDR; returns 0 when any of what a libc needs is missing. */
CHECK_UNUSED static int vdso_open(struct vdso *v)
{
    memset(v, 0, sizeof *v);
    v->eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
    if (!v->eh || memcmp(v->eh->e_ident, ELFMAG, SELFMAG) != 0)
        return 0;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)v->eh + v->eh->e_phoff);
    const Elf64_Dyn *dyn = NULL;
    for (int i = 0; i < v->eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD) {
            if (v->loads++ == 0)
                v->base = (uintptr_t)v->eh + ph[i].p_offset - ph[i].p_vaddr;
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = (const Elf64_Dyn *)((const char *)v->eh + ph[i].p_offset);
        }
    }
    if (!dyn || !v->loads)
        return 0;
    v->dyn = dyn;
    uintptr_t soname = 0;
    int has_soname = 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t p = v->base + dyn->d_un.d_ptr;
        switch (dyn->d_tag) {
        case DT_SYMTAB: v->syms = (const Elf64_Sym *)p; break;
        case DT_STRTAB: v->strs = (const char *)p; break;
        case DT_HASH: v->hash = (const uint32_t *)p; break;
        case DT_GNU_HASH: v->has_gnu_hash = 1; break;
        case DT_VERSYM: v->versym = (const uint16_t *)p; break;
        case DT_VERDEF: v->verdef = (const Elf64_Verdef *)p; break;
        case DT_SONAME: soname = dyn->d_un.d_val; has_soname = 1; break;
        }
    }
    if (v->strs && has_soname)
        v->soname = v->strs + soname;
    return v->syms && v->strs && v->hash;
}

/* The name of version index ndx in the version definitions, or NULL. */
CHECK_UNUSED static const char *vdso_version_name(const struct vdso *v, unsigned ndx)
{
    const Elf64_Verdef *d = v->verdef;
    for (int guard = 0; d && guard < 64; guard++) {
        if ((d->vd_ndx & 0x7fff) == ndx) {
            const Elf64_Verdaux *a = (const Elf64_Verdaux *)((const char *)d + d->vd_aux);
            return v->strs + a->vda_name;
        }
        if (!d->vd_next)
            break;
        d = (const Elf64_Verdef *)((const char *)d + d->vd_next);
    }
    return NULL;
}

/*
 * The address of a defined code symbol `name` of version `version`, or NULL. Linux's
 * __kernel_rt_sigreturn is untyped (STT_NOTYPE), the time functions are STT_FUNC.
 */
CHECK_UNUSED static void *vdso_sym(const struct vdso *v, const char *name, const char *version)
{
    uint32_t nsyms = v->hash[1];
    for (uint32_t i = 0; i < nsyms; i++) {
        const Elf64_Sym *s = &v->syms[i];
        int type = ELF64_ST_TYPE(s->st_info);
        if (s->st_shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_NOTYPE) ||
            (ELF64_ST_BIND(s->st_info) != STB_GLOBAL && ELF64_ST_BIND(s->st_info) != STB_WEAK))
            continue;
        if (strcmp(v->strs + s->st_name, name) != 0)
            continue;
        if (v->versym) {
            const char *ver = vdso_version_name(v, v->versym[i] & 0x7fff);
            if (!ver || strcmp(ver, version) != 0)
                continue;
        }
        return (void *)(v->base + s->st_value);
    }
    return NULL;
}

typedef int (*vdso_clock_fn)(clockid_t, struct timespec *);
typedef int (*vdso_tod_fn)(struct timeval *, struct timezone *);

/* The [vdso] and [vvar] lines of /proc/self/maps. */
struct vdso_maps {
    uintptr_t vdso_start, vdso_end, vvar_start, vvar_end;
    char vdso_perms[8], vvar_perms[8];
    int vdso_lines, vvar_lines;
};

CHECK_UNUSED static void vdso_read_maps(struct vdso_maps *m)
{
    static char text[1 << 16];
    memset(m, 0, sizeof *m);
    int fd = open("/proc/self/maps", O_RDONLY);
    NEED("open /proc/self/maps", fd >= 0);
    size_t len = 0;
    ssize_t n;
    while (len < sizeof text - 1 && (n = read(fd, text + len, sizeof text - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    text[len] = 0;
    for (char *s = text; s && *s;) {
        char *eol = strchr(s, '\n');
        if (eol)
            *eol = 0;
        unsigned long a, b;
        char perms[8];
        int used = 0;
        if (sscanf(s, "%lx-%lx %7s %*s %*s %*s %n", &a, &b, perms, &used) == 3 && used > 0) {
            const char *path = s + used;
            if (!strcmp(path, "[vdso]")) {
                m->vdso_start = a, m->vdso_end = b, m->vdso_lines++;
                strcpy(m->vdso_perms, perms);
            } else if (!strcmp(path, "[vvar]")) {
                m->vvar_start = a, m->vvar_end = b, m->vvar_lines++;
                strcpy(m->vvar_perms, perms);
            }
        }
        s = eol ? eol + 1 : NULL;
    }
}

/* ---- a handler without SA_RESTORER ---- */

static volatile uintptr_t vdso_handler_lr;
static volatile int vdso_handler_runs;

static __attribute__((noinline)) void vdso_on_usr1(int sig)
{
    (void)sig;
    vdso_handler_lr = (uintptr_t)__builtin_return_address(0);
    vdso_handler_runs++;
}

/* The kernel's struct sigaction on arm64. */
struct vdso_ksigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    uint64_t mask;
};

/*
 * Installs vdso_on_usr1 with rt_sigaction and no SA_RESTORER, raises SIGUSR1 and returns the
 * handler's return address (0 if it did not run or the handler did not return here).
 */
CHECK_UNUSED static uintptr_t vdso_signal_return_address(void)
{
    struct vdso_ksigaction ka = {vdso_on_usr1, 0, NULL, 0}, old;
    vdso_handler_lr = 0;
    vdso_handler_runs = 0;
    if (syscall(SYS_rt_sigaction, SIGUSR1, &ka, &old, 8) != 0)
        return 0;
    syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
    syscall(SYS_rt_sigaction, SIGUSR1, &old, NULL, 8);
    return vdso_handler_runs == 1 ? vdso_handler_lr : 0;
}

#endif
