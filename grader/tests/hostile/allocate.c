/* Hostile: allocates and touches memory without limit (and keeps trying when refused). */
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void hostile(void)
{
    for (;;) {
        char *p = malloc(1 << 20);

        if (p != NULL) {
            memset(p, 1, 1 << 20);
        }
    }
}
