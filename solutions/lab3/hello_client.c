#define _POSIX_C_SOURCE 200809L

/**
 * @file hello_client.c
 * @brief Lab 3: connect to a TCP server and copy everything it sends to stdout.
 *
 * The client side of TCP: socket(2), connect(2) to the server's address, then
 * read until the server closes the connection (read returns 0, end of file).
 * TCP is a byte stream, not a message service: the server's bytes may arrive
 * in one read or in several, so the program keeps reading and writes out
 * exactly the bytes each read returned.
 *
 * Run (with hello_server running on port 5000):
 *
 *     ./hello_client 127.0.0.1 5000      # prints "Hello, World!"
 *     ./hello_client localhost 5000      # a host name works too
 *
 * Exit status: 0 once the server has closed, 1 if a call failed (for example
 * `connect: Connection refused` when nothing listens on the port), 2 usage
 * error (wrong arguments, bad port, unknown host).
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>

/** Size of the receive buffer. Any size works: the loop reads until end of file. */
#define BUF_SIZE 4096

/**
 * @brief Print the usage line on stderr.
 * @return 2, the exit status of a usage error.
 */
static int usage(void)
{
    fprintf(stderr, "usage: hello_client HOST PORT\n");
    return 2;
}

/**
 * @brief Parse a port argument: one to five decimal digits, value 0-65535.
 * @param text the argument as typed.
 * @param[out] port the port number, set only on success.
 * @return 0 on success; -1 if text is empty, longer than five characters,
 *         holds anything but the digits 0-9 or is above 65535.
 */
static int parse_port(const char *text, uint16_t *port)
{
    size_t len = strlen(text);
    unsigned long value = 0;

    if (len < 1 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (unsigned long)(text[i] - '0');
    }
    if (value > 65535)
        return -1;
    *port = (uint16_t)value;
    return 0;
}

/**
 * @brief Turn HOST and PORT into an IPv4 socket address.
 *
 * getaddrinfo(3) accepts a dotted quad such as 127.0.0.1 as well as a name
 * such as localhost; hints restrict it to IPv4 TCP. The first address found is
 * used. Any failure counts as a bad HOST argument: to the user, "no such host"
 * and "no name server reachable" look the same. See
 * <a href="https://man7.org/linux/man-pages/man3/getaddrinfo.3.html">getaddrinfo(3)</a>.
 *
 * @param host an IPv4 address or a host name.
 * @param port the port in host byte order.
 * @param[out] addr the server's address, port included, set only on success.
 * @return 0 on success; otherwise getaddrinfo's error code (an EAI_ value,
 *         never 0), which gai_strerror(3) turns into words. Nothing is printed.
 */
static int resolve_host(const char *host, uint16_t port, struct sockaddr_in *addr)
{
    struct addrinfo hints;
    struct addrinfo *list = NULL;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &list);
    if (rc != 0)
        return rc; /* getaddrinfo reports errors through its result, not errno */
    memcpy(addr, list->ai_addr, sizeof *addr);
    addr->sin_port = htons(port); /* network byte order */
    freeaddrinfo(list);
    return 0;
}

/**
 * @brief Create a TCP socket and connect it to the server.
 *
 * See <a href="https://man7.org/linux/man-pages/man2/socket.2.html">socket(2)</a>
 * and <a href="https://man7.org/linux/man-pages/man2/connect.2.html">connect(2)</a>.
 *
 * @param server the server's address.
 * @return the connected socket (>= 0) on success; -1 on failure, after
 *         perror named the failing call (`connect: Connection refused`) and
 *         the socket was closed again.
 */
// [connect_to]
static int connect_to(const struct sockaddr_in *server)
{
    // $skeleton: /* TODO 1: create an IPv4 TCP socket with socket(2) (as in lab 1). */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 1 */
    // $skeleton: int fd = -1;    /* placeholder: replace -1 with your socket(2) call */
    // $begin solution
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    // $end solution
    if (fd < 0) {
        perror("socket");
        return -1;
    }

    // $skeleton: /* TODO 2: connect fd to *server with connect(2) (cast server to
    // $skeleton:    const struct sockaddr *, pass the size of *server). The kernel picks our port. */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 2 */
    // $skeleton: int rc = -1;    /* placeholder: replace -1 with your connect(2) call */
    // $skeleton: (void)server;
    // $begin solution
    /* No bind needed: connect gives the socket a free local port. */
    int rc = connect(fd, (const struct sockaddr *)server, sizeof *server);
    // $end solution
    if (rc < 0) {
        perror("connect");
        close(fd); /* already failing: the error that matters is printed */
        return -1;
    }
    return fd;
}
// [connect_to]

/**
 * @brief Write all len bytes of buf to a file descriptor.
 *
 * write(2) may write fewer bytes than asked (a short write, for example on a
 * full pipe) or be interrupted by a signal (EINTR); the loop goes on until
 * every byte is out, like Stevens' writen. See
 * <a href="https://man7.org/linux/man-pages/man2/write.2.html">write(2)</a>.
 *
 * @param fd where to write.
 * @param buf the bytes.
 * @param len how many bytes.
 * @return 0 when all len bytes were written; -1 on failure with errno set,
 *         some bytes possibly written. Nothing is printed.
 */
static int write_all(int fd, const char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        // $skeleton: /* TODO 4: write the bytes not written yet, buf + done (len - done of them), to fd
        // $skeleton:    with write(2), and keep its result in n. It may write fewer than asked. */
        // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 4 */
        // $skeleton: ssize_t n = -1; /* placeholder: replace -1 with your write(2) call */
        // $skeleton: (void)fd;
        // $skeleton: (void)buf;
        // $begin solution
        ssize_t n = write(fd, buf + done, len - done);
        // $end solution
        if (n < 0) {
            if (errno == EINTR)
                continue; /* interrupted before writing anything: try again */
            return -1;
        }
        done += (size_t)n; /* maybe fewer than asked: loop for the rest */
    }
    return 0;
}

/**
 * @brief Copy everything the server sends to stdout, until it closes.
 *
 * recv(2) returns as soon as some bytes are there: maybe the whole greeting,
 * maybe a piece of it. It returns 0 only when the server has closed its side
 * (end of file). Each piece is written out with its exact length n: the
 * buffer's other bytes are leftovers, and the data may hold NUL bytes, so
 * neither sizeof buf nor strlen is the right length. See
 * <a href="https://man7.org/linux/man-pages/man2/recv.2.html">recv(2)</a>.
 *
 * @param fd a connected socket.
 * @return 0 at end of file, everything copied; -1 on failure, after
 *         perror("recv") or perror("write").
 */
// [copy_to_stdout]
static int copy_to_stdout(int fd)
{
    char buf[BUF_SIZE];

    for (;;) {
        // $skeleton: /* TODO 3: receive up to sizeof buf bytes from fd into buf with recv(2) (flags 0;
        // $skeleton:    read(2) works too) and keep its result in n. */
        // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 3 */
        // $skeleton: ssize_t n = -1; /* placeholder: replace -1 with your recv(2) call */
        // $skeleton: (void)fd;
        // $begin solution
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        // $end solution
        if (n == 0)
            return 0; /* end of file: the server closed the connection */
        if (n < 0) {
            if (errno == EINTR)
                continue; /* interrupted before any byte arrived: try again */
            perror("recv");
            return -1;
        }
        /* Exactly the n bytes received: not sizeof buf, not strlen(buf). */
        if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
            perror("write");
            return -1;
        }
    }
}
// [copy_to_stdout]

/**
 * @brief Connect to HOST:PORT and copy what the server sends to stdout.
 * @param argc argument count.
 * @param argv arguments: HOST PORT.
 * @return the exit status: 0 success, 1 a call failed, 2 usage error.
 */
int main(int argc, char **argv)
{
    uint16_t port;
    struct sockaddr_in server;

    if (argc != 3 || parse_port(argv[2], &port) < 0)
        return usage();
    int rc = resolve_host(argv[1], port, &server);
    if (rc != 0) {
        usage();
        fprintf(stderr, "hello_client: bad host '%s': %s\n", argv[1], gai_strerror(rc));
        return 2;
    }

    int fd = connect_to(&server);
    if (fd < 0)
        return 1;

    int status = copy_to_stdout(fd) == 0 ? 0 : 1;

    // $skeleton: /* TODO 5: close the socket with close(2); if close fails, perror("close") and set
    // $skeleton:    status to 1. */
    // $skeleton: /* No placeholder: until TODO 5 is done, the check valgrind_clean fails. */
    // $begin solution
    if (close(fd) < 0) {
        perror("close");
        status = 1;
    }
    // $end solution
    return status;
}
