/*
 * A library whose two constructors (priorities 101 and 200) and destructor write their name to
 * stdout with write(2). NAME names the build, FN its function; with BASE it also defines
 * base_hello(), with NEEDS_BASE its function calls that of another library.
 */
#include <string.h>
#include <unistd.h>

static void say(const char *what)
{
    char line[128];
    size_t n = strlen(what), m = strlen(NAME);
    memcpy(line, what, n);
    line[n] = ' ';
    memcpy(line + n + 1, NAME, m);
    line[n + 1 + m] = '\n';
    (void)!write(1, line, n + m + 2);
}

__attribute__((constructor(200))) static void late_ctor(void)
{
    say("ctor(200)");
}

__attribute__((constructor(101))) static void early_ctor(void)
{
    say("ctor(101)");
}

__attribute__((destructor)) static void dtor(void)
{
    say("dtor");
}

#ifdef BASE
void base_hello(void)
{
    say("hello from");
}
#endif

#ifdef NEEDS_BASE
void base_hello(void);
#endif

void FN(void)
{
#ifdef NEEDS_BASE
    base_hello();
#endif
    say("hello");
}
