/* Hostile: a daemon that holds a fixed TCP port and never exits, then behaves. */
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((constructor)) static void hostile(void)
{
    if (fork() == 0) {
        struct sockaddr_in addr;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;

        (void)setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_port = htons(41999);
        addr.sin_addr.s_addr = htonl(INADDR_ANY);
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        (void)bind(fd, (struct sockaddr *)&addr, sizeof addr);
        (void)listen(fd, 5);
        for (;;) {
            pause();
        }
    }
}
