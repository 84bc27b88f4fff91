/* Hostile: floods stdout and stderr without end. */
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void hostile(void)
{
    static char buf[65536];

    memset(buf, 'A', sizeof buf);
    for (;;) {
        (void)write(1, buf, sizeof buf);
        (void)write(2, buf, 512);
    }
}
