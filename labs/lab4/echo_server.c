/**
 * @file echo_server.c
 * @brief Lab 4: an iterative TCP echo server (accept, echo, close, repeat).
 *
 * The server talks to one client at a time. It accepts a connection, sends back
 * every byte the client sends, unchanged and in order, until the client closes
 * its side, then closes the connection and accepts the next client. Clients that
 * connect in the meantime wait in the listen backlog.
 *
 * The lesson: a TCP connection is a byte stream. read() returns however many
 * bytes happen to be there (n), so the server must send back exactly those n
 * bytes, and write() may take fewer bytes than asked, so the server loops until
 * all n are gone.
 *
 * Run it, then talk to it with echo_client (or `nc 127.0.0.1 9000`):
 *
 *     ./echo_server 9000        # serves clients until Ctrl-C
 *     ./echo_server 9000 3      # serves three clients, then exits 0
 *     ./echo_server 0           # the kernel picks a free port; the first line shows it
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/** Connections that may wait in the kernel's queue while we serve someone else. */
#define BACKLOG 5

/** Size of the receive buffer; any size works, a read simply returns at most this many bytes. */
#define BUFFER_SIZE 8192

/** Room for "255.255.255.255:65535" and the terminating NUL. */
#define ADDRESS_TEXT_SIZE (INET_ADDRSTRLEN + 6)

/** Set by the SIGINT/SIGTERM handler; the main loop checks it and stops cleanly. */
static volatile sig_atomic_t stop_requested = 0;

/**
 * @brief Signal handler for SIGINT and SIGTERM: only records that we should stop.
 *
 * A handler may do very little safely, so it sets a flag. The interrupted
 * blocking call (accept, read, write) then fails with EINTR and the code that
 * made it sees the flag.
 *
 * @param signo the signal number (unused).
 */
static void on_stop_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

/**
 * @brief Installs the stop handler for SIGINT and SIGTERM and ignores SIGPIPE.
 *
 * The handler is installed with
 * <a href="https://man7.org/linux/man-pages/man2/sigaction.2.html">sigaction(2)</a>
 * WITHOUT SA_RESTART, so that a blocked accept, read or write returns EINTR instead
 * of being restarted behind our back. SIGPIPE is ignored because writing to a
 * client that has gone away would otherwise kill the whole server; with SIGPIPE
 * ignored, write just fails with EPIPE and only that session ends.
 *
 * One small gap remains, and this lab accepts it: a signal that arrives just
 * after the loop has checked stop_requested, but before the next blocking call
 * has started, is handled before that call blocks. The call then sees no EINTR,
 * and the server stops only when the call returns for another reason (the next
 * client, the next bytes, the client closing). Closing that gap takes
 * pselect(2) or the "self-pipe trick".
 *
 * @return 0 on success; -1 if sigaction failed (the error is already printed).
 */
static int install_signal_handlers(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; /* no SA_RESTART: see above */
    action.sa_handler = on_stop_signal;
    if (sigaction(SIGINT, &action, NULL) < 0 || sigaction(SIGTERM, &action, NULL) < 0) {
        perror("sigaction");
        return -1;
    }
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, NULL) < 0) {
        perror("sigaction");
        return -1;
    }
    return 0;
}

/**
 * @brief Parses a port argument: one to five decimal digits, value 0 to 65535.
 *
 * Unlike atoi(), this refuses "80x", "-1", "+80", "70000" and the empty string.
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
 * @brief Parses a count argument: a positive decimal number (digits only).
 *
 * @param text the argument as typed.
 * @param count where to store the number.
 * @return 0 on success; -1 if text is empty, has a non-digit, is 0 or does not fit
 *         in an unsigned long (*count is then unchanged).
 */
static int parse_count(const char *text, unsigned long *count)
{
    if (text[0] == '\0') {
        return -1;
    }
    unsigned long value = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        unsigned long digit = (unsigned long)(*p - '0');
        if (value > (ULONG_MAX - digit) / 10) {
            return -1; /* too large */
        }
        value = value * 10 + digit;
    }
    if (value == 0) {
        return -1;
    }
    *count = value;
    return 0;
}

/**
 * @brief Formats an IPv4 address and port as "IP:PORT", e.g. "127.0.0.1:41234".
 *
 * The port travels in network byte order (big-endian) inside sockaddr_in, so it
 * goes through ntohs() before it is printed as a number.
 *
 * @param address the address to format.
 * @param text the output buffer, at least ADDRESS_TEXT_SIZE bytes.
 * @param size the size of text.
 */
static void format_address(const struct sockaddr_in *address, char *text, size_t size)
{
    char ip[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, &address->sin_addr, ip, sizeof ip) == NULL) {
        strcpy(ip, "?"); /* cannot happen with AF_INET and a buffer this size */
    }
    snprintf(text, size, "%s:%u", ip, (unsigned)ntohs(address->sin_port));
}

/**
 * @brief Creates the listening socket: socket, SO_REUSEADDR, bind to 0.0.0.0:port, listen.
 *
 * Calls <a href="https://man7.org/linux/man-pages/man2/socket.2.html">socket(2)</a>,
 * <a href="https://man7.org/linux/man-pages/man2/setsockopt.2.html">setsockopt(2)</a>,
 * <a href="https://man7.org/linux/man-pages/man2/bind.2.html">bind(2)</a> and
 * <a href="https://man7.org/linux/man-pages/man2/listen.2.html">listen(2)</a>.
 *
 * @param port the port to listen on (host byte order); 0 lets the kernel choose.
 * @return the listening socket (>= 0); -1 if a call failed (perror has named it
 *         and nothing is left open).
 */
static int open_listener(uint16_t port)
{
    /* TODO 1: create an IPv4 TCP socket with socket(2). */
    errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 1 */
    int fd = -1;    /* placeholder: replace -1 with your socket(2) call */
    if (fd < 0) {
        perror("socket");
        return -1;
    }

    /* SO_REUSEADDR lets a restarted server bind its port at once, even while
       connections of the previous run still sit in TIME_WAIT. */
    /* TODO 2: turn on SO_REUSEADDR (level SOL_SOCKET, an int 1) with setsockopt(2). */
    errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 2 */
    int rc = -1;    /* placeholder: replace -1 with your setsockopt(2) call */
    if (rc < 0) {
        perror("setsockopt");
        close(fd);
        return -1;
    }

    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY); /* every local interface */
    address.sin_port = htons(port);              /* network byte order */
    /* TODO 3: bind(2) the socket to address (cast it to struct sockaddr *). */
    errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 3 */
    rc = -1;        /* placeholder: replace -1 with your bind(2) call */
    if (rc < 0) {
        perror("bind");
        close(fd);
        return -1;
    }

    /* TODO 4: listen(2) with a backlog of BACKLOG. */
    errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 4 */
    rc = -1;        /* placeholder: replace -1 with your listen(2) call */
    if (rc < 0) {
        perror("listen");
        close(fd);
        return -1;
    }
    return fd;
}

/**
 * @brief Prints the ready line "listening on 0.0.0.0:PORT" with the port really bound.
 *
 * Asks the kernel with
 * <a href="https://man7.org/linux/man-pages/man2/getsockname.2.html">getsockname(2)</a>,
 * so that port 0 shows the port the kernel chose.
 *
 * @param listen_fd the listening socket.
 * @return 0 on success; -1 if getsockname failed (the error is already printed).
 */
static int print_ready_line(int listen_fd)
{
    struct sockaddr_in address;
    socklen_t length = sizeof address;
    if (getsockname(listen_fd, (struct sockaddr *)&address, &length) < 0) {
        perror("getsockname");
        return -1;
    }
    printf("listening on 0.0.0.0:%u\n", (unsigned)ntohs(address.sin_port));
    return 0;
}

/**
 * @brief Writes all len bytes of buf to fd, finishing short writes (Stevens' writen).
 *
 * <a href="https://man7.org/linux/man-pages/man2/write.2.html">write(2)</a> on a
 * socket may accept fewer bytes than asked (a short write), for example when a
 * signal arrives or the send buffer is nearly full. Dropping the rest would lose
 * data, so we loop until every byte is gone. A write interrupted by a signal
 * (EINTR) is simply tried again, unless a stop was requested.
 *
 * @param fd the connected socket.
 * @param buf the bytes to send.
 * @param len how many bytes to send.
 * @return 0 when all len bytes were written; -1 with errno set otherwise
 *         (EPIPE or ECONNRESET: the client is gone; EINTR: a stop was requested).
 */
// [write_all]
static int write_all(int fd, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        /* TODO 7: write(2) the len - done bytes that start at buf + done, and add what
           write returned to done. If write returns -1: retry on EINTR unless
           stop_requested is set; otherwise return -1 (errno says why). */
        errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 7 */
        (void)fd;
        (void)buf;
        return -1;
    }
    return 0;
}
// [write_all]

/**
 * @brief Echoes one client: reads what it sends and writes those bytes straight back.
 *
 * Loops on <a href="https://man7.org/linux/man-pages/man2/read.2.html">read(2)</a>:
 * n > 0 bytes arrived (send back exactly those n, never the buffer size); 0 means
 * the client closed its side, so the session is over. A client that resets the
 * connection (ECONNRESET on read, EPIPE on write) ends this session only.
 *
 * @param conn_fd the connected socket returned by accept.
 * @param buf a receive buffer.
 * @param size the size of buf.
 * @return the number of bytes echoed back to this client. The session is over when
 *         this returns: the client closed or vanished, or a stop was requested.
 */
// [echo_session]
static unsigned long long echo_session(int conn_fd, char *buf, size_t size)
{
    unsigned long long echoed = 0;
    while (!stop_requested) {
        /* TODO 6: read(2) from conn_fd into buf, at most size bytes; n is what read returns. */
        errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 6 */
        ssize_t n = -1; /* placeholder: replace -1 with your read(2) call */
        (void)size;
        if (n == 0) {
            break; /* end of file: the client closed its side */
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue; /* the loop condition decides: go on, or stop */
            }
            perror("read"); /* e.g. ECONNRESET: this client is gone, the server is not */
            break;
        }
        if (write_all(conn_fd, buf, (size_t)n) < 0) {
            if (errno != EINTR) {
                perror("write"); /* e.g. EPIPE: the client is gone */
            }
            break;
        }
        echoed += (unsigned long long)n;
    }
    return echoed;
}
// [echo_session]

/**
 * @brief Serves one accepted client from start to end, then closes its socket.
 *
 * Prints "connection from IP:PORT", echoes, closes the connection with
 * <a href="https://man7.org/linux/man-pages/man2/close.2.html">close(2)</a> and prints
 * "closed IP:PORT (N bytes)".
 *
 * @param conn_fd the connected socket; it is closed when this returns.
 * @param peer the client's address, as accept reported it.
 * @param buf a receive buffer.
 * @param size the size of buf.
 */
static void serve_client(int conn_fd, const struct sockaddr_in *peer, char *buf, size_t size)
{
    char name[ADDRESS_TEXT_SIZE];
    format_address(peer, name, sizeof name);
    printf("connection from %s\n", name);

    unsigned long long echoed = echo_session(conn_fd, buf, size);

    /* Every accepted connection is a descriptor of its own: close it, or the
       server runs out of descriptors and the client never sees end of file. */
    /* TODO 8: close(2) conn_fd (report a failure with perror("close")). */
    /* No placeholder: until TODO 8 is done, the check echoes_one_client fails. */
    printf("closed %s (%llu bytes)\n", name, echoed);
}

/**
 * @brief Tells whether an accept failure concerns one connection only.
 *
 * Such a connection was aborted or reset before we got to it (ECONNABORTED,
 * ECONNRESET, EPROTO; Linux also passes on network errors such as ENETDOWN, see
 * <a href="https://man7.org/linux/man-pages/man2/accept.2.html">accept(2)</a>), or a
 * signal interrupted the call (EINTR). The listening socket itself is fine, so the
 * server reports the error and goes on.
 *
 * @param error the errno value accept left.
 * @return 1 if the server should go on; 0 if the listening socket itself failed.
 */
static int is_per_connection_error(int error)
{
    switch (error) {
    case EINTR:
    case ECONNABORTED:
    case ECONNRESET:
    case EPROTO:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENOPROTOOPT:
    case EOPNOTSUPP:
        return 1;
    default:
        return 0;
    }
}

/**
 * @brief The iterative server loop: accept a client, serve it, repeat.
 *
 * @param listen_fd the listening socket.
 * @param max_clients how many clients to serve before returning; 0 means no limit.
 * @param buf a receive buffer shared by all sessions (one client at a time).
 * @param size the size of buf.
 * @return 0 after max_clients clients or a stop request; -1 if accept failed for
 *         the listening socket itself (the error is already printed).
 */
// [serve_clients]
static int serve_clients(int listen_fd, unsigned long max_clients, char *buf, size_t size)
{
    unsigned long served = 0;
    while (!stop_requested && (max_clients == 0 || served < max_clients)) {
        struct sockaddr_in peer;
        socklen_t peer_length = sizeof peer;
        /* TODO 5: accept(2) the next connection on listen_fd; let accept fill in
           peer and peer_length (the client's address). */
        errno = ENOSYS;   /* placeholder: perror says "Function not implemented" until TODO 5 */
        int conn_fd = -1; /* placeholder: replace -1 with your accept(2) call */
        (void)listen_fd;
        (void)peer_length;
        if (conn_fd < 0) {
            if (stop_requested) {
                break; /* SIGINT or SIGTERM while waiting: a clean stop */
            }
            int error = errno; /* saved: perror may change errno */
            perror("accept");
            if (is_per_connection_error(error)) {
                continue;
            }
            return -1;
        }
        served++;
        serve_client(conn_fd, &peer, buf, size);
    }
    return 0;
}
// [serve_clients]

/**
 * @brief Entry point: echo_server PORT [MAX_CLIENTS].
 *
 * @param argc the argument count.
 * @param argv the arguments.
 * @return 0 after a clean stop (MAX_CLIENTS served, SIGINT or SIGTERM); 1 on a
 *         run-time failure; 2 on a usage error.
 */
int main(int argc, char *argv[])
{
    uint16_t port = 0;
    unsigned long max_clients = 0; /* 0: serve until stopped */
    if (argc < 2 || argc > 3 || parse_port(argv[1], &port) < 0 ||
        (argc == 3 && parse_count(argv[2], &max_clients) < 0)) {
        fprintf(stderr, "usage: echo_server PORT [MAX_CLIENTS]\n");
        return 2;
    }

    /* stdout may be a pipe (a grader, a log), which the C library would fill in
       large blocks: line buffering sends every line out as soon as it ends. */
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) {
        fprintf(stderr, "setvbuf: cannot line-buffer stdout\n");
        return 1;
    }
    if (install_signal_handlers() < 0) {
        return 1;
    }

    /* One buffer for the whole run, on the heap: it is reused by every session
       and freed at exit, so Valgrind's leak check shows that cleanup works. */
    char *buf = malloc(BUFFER_SIZE);
    if (buf == NULL) {
        perror("malloc");
        return 1;
    }

    int status = 1;
    int listen_fd = open_listener(port);
    if (listen_fd >= 0) {
        if (print_ready_line(listen_fd) == 0 &&
            serve_clients(listen_fd, max_clients, buf, BUFFER_SIZE) == 0) {
            status = 0;
        }
        if (close(listen_fd) < 0) {
            perror("close");
            status = 1;
        }
    }
    free(buf);
    return status;
}
