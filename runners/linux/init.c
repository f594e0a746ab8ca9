/*
 * /init for the `linux` lane: runs every guest case listed in /cases/manifest on a real kernel,
 * one after another, and reports each one on the console in a framed, hex-encoded form that
 * survives the serial line (CRLF endings, stray kernel messages):
 *
 *   @@ELFVISOR BEGIN <id>
 *   @@ELFVISOR OUT <hex>        (stdout, 64 bytes a line)
 *   @@ELFVISOR ERR <hex>        (stderr, kept for diagnosis, never compared)
 *   @@ELFVISOR END <id> exit <code> | signal <number> | timeout
 *   @@ELFVISOR DONE
 *
 * The manifest is line-based: `case <id>`, `bin <path>`, `timeout <seconds>`, `arg <hex>` (argv[0]
 * first), `env <hex>`, `stdin <path>`, `file <hex name> <path>` (copied into the case's directory
 * under that name before it runs), `user <id>` (run as that user and group id, which then own
 * the case's directory and files; without it, as root), then `run`. Each case starts in a fresh
 * directory under /tmp, as its own process group, with only the listed environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 256
#define MAX_FILES 64
#define MAX_CAPTURE (4 << 20)

struct capture {
    char *data;
    size_t len;
    int open;
};

struct spec {
    char id[256];
    char bin[512];
    char stdin_path[512];
    int timeout_s;
    char *argv[MAX_ARGS + 1];
    int argc;
    char *envp[MAX_ARGS + 1];
    int envc;
    char *file_name[MAX_FILES];
    char *file_src[MAX_FILES];
    int filec;
    long user; /* -1: root */
    char *tmpfs_dir; /* a tmpfs to mount in the working directory, if any */
    int tmpfs_kib;
    const char *bad; /* why the manifest entry cannot be run as written, if it cannot */
};

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void mount_or_warn(const char *src, const char *dst, const char *type)
{
    mkdir(dst, 0755);
    if (mount(src, dst, type, 0, NULL) != 0 && errno != EBUSY)
        say("@@ELFVISOR WARN mount %s: %s\n", dst, strerror(errno));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes a hex string into a fresh NUL-terminated buffer. */
static char *unhex(const char *hex)
{
    size_t n = strlen(hex) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (char)(hi << 4 | lo);
    }
    out[n] = '\0';
    return out;
}

/* Copies src to dir/name, a new file of mode 0644. Returns 0, or -1 with errno set. */
static int copy_in(const char *src, const char *dir, const char *name)
{
    char dst[1024];
    if (name[0] == '\0' || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
        errno = EINVAL;
        return -1;
    }
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[16384];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    }
    int saved = errno;
    close(in);
    close(out);
    errno = saved;
    return n < 0 ? -1 : 0;
}

static void emit(const char *tag, const struct capture *c)
{
    static const char digits[] = "0123456789abcdef";
    char line[64 * 2 + 1];
    for (size_t off = 0; off < c->len; off += 64) {
        size_t n = c->len - off < 64 ? c->len - off : 64;
        for (size_t i = 0; i < n; i++) {
            unsigned char b = (unsigned char)c->data[off + i];
            line[2 * i] = digits[b >> 4];
            line[2 * i + 1] = digits[b & 15];
        }
        line[2 * n] = '\0';
        say("@@ELFVISOR %s %s\n", tag, line);
    }
}

static void drain(int fd, struct capture *c)
{
    char buf[16384];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close(fd);
            c->open = 0;
        }
        return;
    }
    if (c->len + (size_t)n > MAX_CAPTURE)
        n = (ssize_t)(MAX_CAPTURE - c->len);
    memcpy(c->data + c->len, buf, (size_t)n);
    c->len += (size_t)n;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void run_case(struct spec *s, int serial)
{
    int out[2], err[2];
    char cwd[64];
    snprintf(cwd, sizeof cwd, "/tmp/case%d", serial);
    mkdir(cwd, 0777);
    say("@@ELFVISOR BEGIN %s\n", s->id);
    if (s->bad) {
        say("@@ELFVISOR END %s harness-error manifest: %s\n", s->id, s->bad);
        return;
    }
    for (int i = 0; i < s->filec; i++) {
        if (copy_in(s->file_src[i], cwd, s->file_name[i]) != 0) {
            say("@@ELFVISOR END %s harness-error file %s: %s\n", s->id, s->file_name[i],
                strerror(errno));
            return;
        }
    }
    if (s->user >= 0) {
        /* The case's user owns its directory and files, as the host lanes give them. */
        uid_t uid = (uid_t)s->user;
        int bad = chown(cwd, uid, (gid_t)uid) != 0;
        for (int i = 0; i < s->filec && !bad; i++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", cwd, s->file_name[i]);
            bad = chown(path, uid, (gid_t)uid) != 0;
        }
        if (bad) {
            say("@@ELFVISOR END %s harness-error chown: %s\n", s->id, strerror(errno));
            return;
        }
    }
    char mnt[1024] = "";
    if (s->tmpfs_dir) {
        /* The fixture's `tmpfs`: the same mount the host lanes make in a private namespace. */
        char opts[64];
        snprintf(mnt, sizeof mnt, "%s/%s", cwd, s->tmpfs_dir);
        snprintf(opts, sizeof opts, "size=%dk", s->tmpfs_kib);
        if (strchr(s->tmpfs_dir, '/') || mkdir(mnt, 0777) != 0 ||
            mount("tmpfs", mnt, "tmpfs", 0, opts) != 0) {
            say("@@ELFVISOR END %s harness-error tmpfs %s: %s\n", s->id, s->tmpfs_dir,
                strerror(errno));
            return;
        }
    }
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        say("@@ELFVISOR END %s harness-error pipe\n", s->id);
        return;
    }
    s->argv[s->argc] = NULL;
    s->envp[s->envc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int in = open(s->stdin_path[0] ? s->stdin_path : "/dev/null", O_RDONLY);
        if (in < 0)
            _exit(126);
        /* Groups first, then the group id, then the user id: after setuid there is no way
         * back to the rights the first two need. */
        if (s->user >= 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)s->user) != 0 ||
                             setuid((uid_t)s->user) != 0))
            _exit(126);
        if (chdir(cwd) != 0)
            _exit(126);
        dup2(in, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        if (in > 2)
            close(in);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(s->bin, s->argv, s->envp);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        say("@@ELFVISOR END %s harness-error fork\n", s->id);
        return;
    }
    struct capture cap[2] = {{malloc(MAX_CAPTURE), 0, 1}, {malloc(MAX_CAPTURE), 0, 1}};
    int fds[2] = {out[0], err[0]};
    long long deadline = now_ms() + s->timeout_s * 1000LL;
    int status = 0, exited = 0, timed_out = 0;
    long long exited_at = 0;
    for (;;) {
        if (!exited) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                exited = 1;
                exited_at = now_ms();
            }
        }
        if (exited && !cap[0].open && !cap[1].open)
            break;
        long long left = deadline - now_ms();
        /* Leftover processes of the case may hold the pipes open: give them a moment, no more. */
        if (exited && now_ms() - exited_at > 1000)
            break;
        if (left <= 0) {
            timed_out = !exited;
            break;
        }
        struct pollfd p[2];
        int np = 0;
        for (int i = 0; i < 2; i++)
            if (cap[i].open)
                p[np++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        poll(p, (nfds_t)np, left < 20 ? (int)left : 20);
        for (int i = 0; i < np; i++)
            if (p[i].revents)
                drain(p[i].fd, p[i].fd == fds[0] ? &cap[0] : &cap[1]);
    }
    kill(-pid, SIGKILL);
    if (timed_out)
        waitpid(pid, &status, 0);
    for (int i = 0; i < 2; i++) {
        while (cap[i].open)
            drain(fds[i], &cap[i]);
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    emit("OUT", &cap[0]);
    emit("ERR", &cap[1]);
    if (timed_out)
        say("@@ELFVISOR END %s timeout\n", s->id);
    else if (WIFSIGNALED(status))
        say("@@ELFVISOR END %s signal %d\n", s->id, WTERMSIG(status));
    else
        say("@@ELFVISOR END %s exit %d\n", s->id, WEXITSTATUS(status));
    free(cap[0].data);
    free(cap[1].data);
    if (mnt[0])
        umount2(mnt, MNT_DETACH); /* its pages go back to the VM's RAM */
}

int main(void)
{
    mount_or_warn("proc", "/proc", "proc");
    mount_or_warn("sysfs", "/sys", "sysfs");
    mount_or_warn("devtmpfs", "/dev", "devtmpfs");
    mount_or_warn("tmpfs", "/tmp", "tmpfs");
    mount_or_warn("tmpfs", "/dev/shm", "tmpfs");
    /* The links a booted Debian system has in /dev (udev makes them; devtmpfs does not): the
     * shell's process substitution and programs that open /dev/stdin rely on them. */
    symlink("/proc/self/fd", "/dev/fd");
    symlink("/proc/self/fd/0", "/dev/stdin");
    symlink("/proc/self/fd/1", "/dev/stdout");
    symlink("/proc/self/fd/2", "/dev/stderr");
    umask(022);
    say("@@ELFVISOR BOOTED\n");

    FILE *m = fopen("/cases/manifest", "r");
    if (!m) {
        say("@@ELFVISOR WARN no manifest: %s\n", strerror(errno));
    } else {
        static char line[1 << 16];
        static struct spec s;
        int serial = 0;
        while (fgets(line, sizeof line, m)) {
            line[strcspn(line, "\n")] = '\0';
            char *val = strchr(line, ' ');
            if (val)
                *val++ = '\0';
            else
                val = line + strlen(line);
            if (strcmp(line, "case") == 0) {
                for (int i = 0; i < s.argc; i++)
                    free(s.argv[i]);
                for (int i = 0; i < s.envc; i++)
                    free(s.envp[i]);
                for (int i = 0; i < s.filec; i++) {
                    free(s.file_name[i]);
                    free(s.file_src[i]);
                }
                free(s.tmpfs_dir);
                memset(&s, 0, sizeof s);
                snprintf(s.id, sizeof s.id, "%s", val);
                s.timeout_s = 10;
                s.user = -1;
            } else if (strcmp(line, "bin") == 0) {
                snprintf(s.bin, sizeof s.bin, "%s", val);
            } else if (strcmp(line, "stdin") == 0) {
                snprintf(s.stdin_path, sizeof s.stdin_path, "%s", val);
            } else if (strcmp(line, "timeout") == 0) {
                s.timeout_s = atoi(val);
            } else if (strcmp(line, "user") == 0) {
                char *end;
                long user = strtol(val, &end, 10);
                if (*val == '\0' || *end != '\0' || user <= 0 || user > 65534)
                    s.bad = "bad user line";
                else
                    s.user = user;
            } else if (strcmp(line, "arg") == 0 && s.argc < MAX_ARGS) {
                s.argv[s.argc++] = unhex(val);
            } else if (strcmp(line, "env") == 0 && s.envc < MAX_ARGS) {
                s.envp[s.envc++] = unhex(val);
            } else if (strcmp(line, "file") == 0) {
                char *src = strchr(val, ' ');
                char *name = NULL;
                if (src) {
                    *src++ = '\0';
                    name = unhex(val);
                }
                if (!name || s.filec == MAX_FILES) {
                    free(name);
                    s.bad = "bad or too many file lines";
                } else {
                    s.file_name[s.filec] = name;
                    s.file_src[s.filec++] = strdup(src);
                }
            } else if (strcmp(line, "tmpfs") == 0) {
                char *kib = strchr(val, ' ');
                if (kib)
                    *kib++ = '\0';
                free(s.tmpfs_dir);
                s.tmpfs_dir = kib ? unhex(val) : NULL;
                s.tmpfs_kib = kib ? atoi(kib) : 0;
                if (!s.tmpfs_dir || s.tmpfs_kib <= 0)
                    s.bad = "bad tmpfs line";
            } else if (strcmp(line, "run") == 0) {
                run_case(&s, serial++);
            }
        }
        fclose(m);
    }
    say("@@ELFVISOR DONE\n");
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
