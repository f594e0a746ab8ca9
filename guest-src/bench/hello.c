/* Startup cost: the smallest program, stdio output flushed by exit. */
#include <stdio.h>

int main(void)
{
    printf("hello, world\n");
    return 0;
}
