/* Hostile: leaves a daemon behind (double fork + setsid), then behaves. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void hostile(void)
{
    pid_t child = fork();

    if (child == 0) {
        (void)setsid();
        if (fork() == 0) {
            signal(SIGINT, SIG_IGN);
            signal(SIGTERM, SIG_IGN);
            signal(SIGHUP, SIG_IGN);
            for (;;) {
                pause();
            }
        }
        _exit(0);
    }
}
