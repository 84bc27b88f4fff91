/* Hostile: tries to read the reference solution and the checks; exits 42 if it can. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

__attribute__((constructor)) static void hostile(void)
{
    static const char *paths[] = {
        "../solutions/lab3/hello_server.c",
        "../../solutions/lab3/hello_server.c",
        "../../../solutions/lab3/hello_server.c",
        "../../../../solutions/lab3/hello_server.c",
        "../../../../../solutions/lab3/hello_server.c",
        "@ROOT@/solutions/lab3/hello_server.c",
        "@ROOT@/grader/checks/test_lab3.py",
        "../../../kit/grader/checks/test_lab3.py",
        "../../../../kit/grader/checks/test_lab3.py",
    };
    char byte;

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int fd = open(paths[i], O_RDONLY);

        if (fd >= 0 && read(fd, &byte, 1) == 1) {
            fprintf(stderr, "read %s\n", paths[i]);
            _exit(42);
        }
        if (fd >= 0) {
            close(fd);
        }
    }
}
