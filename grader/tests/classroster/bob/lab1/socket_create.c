/* Lab 1, written from scratch (not from the skeleton): a test submission of the class report. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

struct choice {
    const char *word;
    int sock_type;
    const char *label;
};

static const struct choice choices[] = {
    {"tcp", SOCK_STREAM, "SOCK_STREAM"},
    {"udp", SOCK_DGRAM, "SOCK_DGRAM"},
};

static const struct choice *lookup_word(const char *word)
{
    for (size_t k = 0; k < sizeof choices / sizeof choices[0]; k++) {
        if (strcmp(choices[k].word, word) == 0)
            return &choices[k];
    }
    return NULL;
}

static const char *label_of(int sock_type)
{
    for (size_t k = 0; k < sizeof choices / sizeof choices[0]; k++) {
        if (choices[k].sock_type == sock_type)
            return choices[k].label;
    }
    return "unknown";
}

static int show_socket(const struct choice *wanted, int sock)
{
    int actual = 0;
    socklen_t size = sizeof actual;
    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &actual, &size) == -1) {
        perror("getsockopt");
        return 1;
    }
    if (printf("%s socket created: fd=%d type=%s\n", wanted->word, sock, label_of(actual)) < 0)
        return 1;
    if (fflush(stdout) == EOF)
        return 1;
    return 0;
}

int main(int argc, char *argv[])
{
    const struct choice *wanted = &choices[0];
    if (argc > 2 || (argc == 2 && (wanted = lookup_word(argv[1])) == NULL)) {
        fputs("usage: socket_create [tcp|udp]\n", stderr);
        return 2;
    }
    int sock = socket(AF_INET, wanted->sock_type, 0);
    if (sock == -1) {
        perror("socket");
        return 1;
    }
    int result = show_socket(wanted, sock);
    if (close(sock) == -1) {
        perror("close");
        result = 1;
    }
    return result;
}
