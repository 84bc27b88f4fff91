/**
 * @file chat_client.c
 * @brief Lab 8: a chat client that waits on the keyboard and the server at the same time.
 *
 * The client connects to a chat server (lab 8's chat_server, lab 9's
 * thread_chat_server), then waits with poll(2) on two descriptors at once: its
 * standard input and the socket. What the user types is sent to the server,
 * line by line as it is; whatever the server sends (the other clients' lines)
 * is written to stdout at once, even while the user is in the middle of typing.
 *
 * The lesson: a program that blocks in fgets() cannot see the server's lines
 * until the user presses Enter. Waiting on both with poll (or select) and then
 * reading only the one that is ready is what Stevens' str_cli does in its select
 * version. It reads stdin with read(), not with stdio: stdio may read several
 * lines ahead into its own buffer, where poll cannot see them.
 *
 * Run it against chat_server:
 *
 *     ./chat_client 127.0.0.1 9000            # type lines; Ctrl-D to leave
 *     printf 'hello\n' | ./chat_client localhost 9000
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/** Read buffer size, for stdin and for the socket. */
#define BUFFER_SIZE 4096

/** What one pass of the loop decided. */
enum step {
    GO_ON,         /**< keep waiting */
    STDIN_ENDED,   /**< end of file on stdin: leave, exit 0 */
    SERVER_CLOSED, /**< the server closed the connection: exit 1 */
    FAILED         /**< a call failed (already reported): exit 1 */
};

/**
 * @brief Parses a port argument: one to five decimal digits, value 0 to 65535.
 *
 * @param text the argument as typed.
 * @param port where to store the port (host byte order).
 * @return 0 on success; -1 if text is not a valid port (*port is then unchanged).
 */
static int parse_port(const char *text, uint16_t *port)
{
    size_t length = strlen(text);
    if (length < 1 || length > 5) {
        return -1;
    }
    unsigned long value = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return -1;
        }
        value = value * 10 + (unsigned long)(text[i] - '0');
    }
    if (value > 65535) {
        return -1;
    }
    *port = (uint16_t)value;
    return 0;
}

/**
 * @brief Turns a host argument (an IPv4 address or a host name) into an IPv4 address.
 *
 * @param host the argument as typed.
 * @param address where to store the address (network byte order).
 * @return 0 on success; -1 if host is neither an IPv4 address nor a known name.
 */
static int resolve_host(const char *host, struct in_addr *address)
{
    if (inet_pton(AF_INET, host, address) == 1) {
        return 0;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *found = NULL;
    if (getaddrinfo(host, NULL, &hints, &found) != 0) {
        return -1;
    }
    *address = ((const struct sockaddr_in *)found->ai_addr)->sin_addr;
    freeaddrinfo(found);
    return 0;
}

/**
 * @brief Ignores SIGPIPE, so that a server that vanished cannot kill the client.
 *
 * @return 0 on success; -1 if sigaction failed (the error is already printed).
 */
static int ignore_sigpipe(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, NULL) < 0) {
        perror("sigaction");
        return -1;
    }
    return 0;
}

/**
 * @brief Opens a TCP connection to server (socket, connect).
 *
 * @param server the server's address and port.
 * @return the connected socket (>= 0); -1 if a call failed (perror has named it,
 *         e.g. "connect: Connection refused", and nothing is left open).
 */
static int connect_to_server(const struct sockaddr_in *server)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)server, sizeof *server) < 0) {
        perror("connect");
        close(fd);
        return -1;
    }
    return fd;
}

/**
 * @brief Writes all len bytes of buf to fd, finishing short writes (Stevens' writen).
 *
 * @param fd the descriptor (the socket, or stdout).
 * @param buf the bytes to write.
 * @param len how many bytes.
 * @return 0 when all len bytes were written; -1 with errno set otherwise.
 */
static int write_all(int fd, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

/**
 * @brief Reports a failed send to the server: gone (EPIPE, ECONNRESET) or another error.
 *
 * @return SERVER_CLOSED or FAILED.
 */
static enum step send_failed(void)
{
    if (errno == EPIPE || errno == ECONNRESET) {
        fputs("server closed the connection\n", stderr);
        return SERVER_CLOSED;
    }
    perror("send");
    return FAILED;
}

/**
 * @brief stdin is readable: one read(), and what it gave is sent to the server as it is.
 *
 * The bytes go out as they come (the server puts a line together from its
 * pieces). At end of file, a last line without a newline gets one, so that the
 * server can relay it.
 *
 * @param sock the connected socket.
 * @param line_open 1 while the bytes sent so far do not end with a newline; updated.
 * @return GO_ON, STDIN_ENDED, SERVER_CLOSED or FAILED.
 */
// [from_stdin]
static enum step from_stdin(int sock, int *line_open)
{
    char buf[BUFFER_SIZE];
    /* TODO 2: read(2) at most sizeof buf bytes from STDIN_FILENO (not fgets: stdio
       would read ahead where poll cannot see). */
    errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 2 */
    ssize_t n = -1; /* placeholder: replace -1 with your read(2) call */
    if (n < 0) {
        if (errno == EINTR) {
            return GO_ON;
        }
        perror("read");
        return FAILED;
    }
    if (n == 0) {
        if (*line_open && write_all(sock, "\n", 1) < 0) {
            return send_failed();
        }
        return STDIN_ENDED;
    }
    /* TODO 3: send the n bytes to the server with write_all(); on failure
       return send_failed(). */
    *line_open = buf[n - 1] != '\n';
    return GO_ON;
}
// [from_stdin]

/**
 * @brief The socket is readable: one recv(), and what it gave goes to stdout at once, unchanged.
 *
 * @param sock the connected socket.
 * @return GO_ON, SERVER_CLOSED (recv returned 0 or the connection was reset:
 *         "server closed the connection" is printed) or FAILED.
 */
// [from_server]
static enum step from_server(int sock)
{
    char buf[BUFFER_SIZE];
    /* TODO 4: recv(2) at most sizeof buf bytes from sock. */
    errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 4 */
    ssize_t n = -1; /* placeholder: replace -1 with your recv(2) call */
    (void)sock;
    if (n < 0 && errno == EINTR) {
        return GO_ON;
    }
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
        fputs("server closed the connection\n", stderr);
        return SERVER_CLOSED;
    }
    if (n < 0) {
        perror("recv");
        return FAILED;
    }
    if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
        perror("write");
        return FAILED;
    }
    return GO_ON;
}
// [from_server]

/**
 * @brief The client's loop: wait on stdin and the socket at once, handle whichever is ready.
 *
 * @param sock the connected socket.
 * @return the exit status: 0 after end of file on stdin; 1 if the server closed
 *         the connection or a call failed.
 */
// [chat_loop]
static int chat_loop(int sock)
{
    struct pollfd fds[2];
    memset(fds, 0, sizeof fds);
    fds[0].fd = STDIN_FILENO;
    fds[0].events = POLLIN;
    fds[1].fd = sock;
    fds[1].events = POLLIN;
    int line_open = 0;
    enum step step = GO_ON;
    while (step == GO_ON) {
        /* TODO 1: wait with poll(2) on both entries of fds, with no timeout (-1). */
        errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 1 */
        int ready = -1; /* placeholder: replace -1 with your poll(2) call */
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("poll");
            return 1;
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            step = from_server(sock);
        }
        if (step == GO_ON && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            step = from_stdin(sock, &line_open);
        }
    }
    return step == STDIN_ENDED ? 0 : 1;
}
// [chat_loop]

/**
 * @brief Entry point: chat_client HOST PORT.
 *
 * @param argc the argument count.
 * @param argv the arguments.
 * @return 0 after end of file on stdin; 1 on a run-time failure (connection
 *         refused, the server closed the connection); 2 on a usage error.
 */
int main(int argc, char *argv[])
{
    struct sockaddr_in server;
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    uint16_t port = 0;
    if (argc != 3 || parse_port(argv[2], &port) < 0 ||
        resolve_host(argv[1], &server.sin_addr) < 0) {
        fprintf(stderr, "usage: chat_client HOST PORT\n");
        fprintf(stderr, "  HOST: an IPv4 address or a host name; PORT: 0-65535\n");
        return 2;
    }
    server.sin_port = htons(port);
    if (ignore_sigpipe() < 0) {
        return 1;
    }
    int sock = connect_to_server(&server);
    if (sock < 0) {
        return 1;
    }
    int status = chat_loop(sock);
    if (close(sock) < 0) {
        perror("close");
        status = 1;
    }
    return status;
}
