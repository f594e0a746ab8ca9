/*
 * System-wide /proc and /sys files in the layouts programs parse: meminfo (fs/proc/meminfo.c:
 * "Key:" padded to 16 columns, kB values), uptime (two seconds.hundredths numbers), loadavg
 * (three averages, running/total, last pid), and /sys/devices/system/cpu/online and possible
 * as CPU ranges that agree with sysconf. The numbers themselves differ by machine; only their
 * form and relations are checked.
 */
#include "procfs.h"
#include <ctype.h>

static char buf[16384];

/* "0", "0-3", "0-1,3": the number of CPUs in a range list, or -1 when malformed. */
static int cpus_in(const char *s)
{
    int count = 0;
    while (*s && *s != '\n') {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s)
            return -1;
        if (*end == '-') {
            s = end + 1;
            b = strtol(s, &end, 10);
            if (end == s || b < a)
                return -1;
        }
        count += (int)(b - a + 1);
        s = end;
        if (*s == ',')
            s++;
    }
    return *s == '\n' && s[1] == 0 ? count : -1;
}

int main(void)
{
    CHECK_OK("read /proc/meminfo", slurp("/proc/meminfo", buf, sizeof buf));
    const char *first[] = { "MemTotal:", "MemFree:", "MemAvailable:", "Buffers:", "Cached:" };
    const char *p = buf;
    int in_order = 1;
    for (int i = 0; i < 5; i++, p = strchr(p, '\n') + 1)
        in_order &= strncmp(p, first[i], strlen(first[i])) == 0;
    CHECK_EQ("MemTotal, MemFree, MemAvailable, Buffers, Cached lead", in_order, 1);
    int well_formed = 1, lines = 0;
    for (p = buf; *p; p = strchr(p, '\n') + 1, lines++) {
        const char *colon = strchr(p, ':');
        size_t len = strcspn(p, "\n");
        /* "%-16s%8lu kB" or without the unit: the value ends at column 24 or later. */
        well_formed &= colon && colon < p + len && len >= 24 && isdigit((unsigned char)p[len - 1 - (p[len - 1] == 'B' ? 3 : 0)]);
    }
    CHECK_EQ("every line is a key and a right-aligned number", well_formed, 1);
    check("dozens of lines", lines >= 40, "%d", lines);
    long total = atol(field(buf, "MemTotal")), free_ = atol(field(buf, "MemFree")),
         avail = atol(field(buf, "MemAvailable"));
    check("free memory is at most the total", free_ > 0 && free_ <= total && avail <= total,
          "%ld %ld %ld", total, free_, avail);
    check("MemTotal in kB", strstr(field(buf, "MemTotal"), " kB") != NULL, "no unit");
    check("HugePages_Total without a unit", strchr(field(buf, "HugePages_Total"), 'k') == NULL, "unit");

    CHECK_OK("read /proc/uptime", slurp("/proc/uptime", buf, sizeof buf));
    unsigned long up, up_c, idle, idle_c;
    char nl;
    CHECK_EQ("uptime is two seconds.hundredths numbers",
             sscanf(buf, "%lu.%2lu %lu.%2lu%c", &up, &up_c, &idle, &idle_c, &nl) == 5 && nl == '\n', 1);
    check("both with two decimals", buf[strcspn(buf, ".") + 3] == ' ', "%s", buf);

    CHECK_OK("read /proc/loadavg", slurp("/proc/loadavg", buf, sizeof buf));
    unsigned a1, a2, b1, b2, c1, c2, running, total_tasks, last;
    CHECK_EQ("loadavg's five fields",
             sscanf(buf, "%u.%2u %u.%2u %u.%2u %u/%u %u%c", &a1, &a2, &b1, &b2, &c1, &c2, &running,
                    &total_tasks, &last, &nl) == 10 && nl == '\n', 1);
    check("at least this task is running", running >= 1 && running <= total_tasks, "%u/%u", running,
          total_tasks);

    CHECK_OK("read /sys/devices/system/cpu/online", slurp("/sys/devices/system/cpu/online", buf, sizeof buf));
    int online = cpus_in(buf);
    check("online is a list of CPU ranges", online >= 1, "%s", buf);
    CHECK_EQ("as many as sysconf's online CPUs", online, sysconf(_SC_NPROCESSORS_ONLN));
    CHECK_OK("read /sys/devices/system/cpu/possible", slurp("/sys/devices/system/cpu/possible", buf, sizeof buf));
    int possible = cpus_in(buf);
    check("possible is a list of CPU ranges", possible >= online, "%s", buf);
    return check_finish();
}
