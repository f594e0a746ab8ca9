/* The exit status of main reaches the parent unchanged (the fixture passes 42). */
#include "check.h"

int main(int argc, char **argv)
{
    int code = argc > 1 ? atoi(argv[1]) : 0;
    out("exiting with %d\n", code);
    exit(code);
}
