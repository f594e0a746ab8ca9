/* Standard input from the runner: read to EOF, echo upper-cased, count bytes and lines. */
#include "check.h"
#include <ctype.h>

int main(void)
{
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(0, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    int lines = 0;
    for (size_t i = 0; i < len; i++) {
        lines += buf[i] == '\n';
        buf[i] = (char)toupper((unsigned char)buf[i]);
    }
    out("%.*s", (int)len, buf);
    CHECK_EQ("bytes read", len, 18);
    CHECK_EQ("lines read", lines, 3);
    CHECK_EQ("read at EOF returns 0", read(0, buf, sizeof buf), 0);
    return check_finish();
}
