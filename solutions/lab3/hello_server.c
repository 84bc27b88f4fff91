#define _POSIX_C_SOURCE 200809L

/**
 * @file hello_server.c
 * @brief Lab 3: a TCP server that greets every client with "Hello, World!\n" and hangs up.
 *
 * The server side of TCP in five calls: socket(2), bind(2), listen(2) turn a
 * socket into a listening socket; accept(2) takes one finished connection from
 * its queue and returns a new socket for it; close(2) hangs up. The listening
 * socket stays open for the next client.
 *
 * Run:
 *
 *     ./hello_server 5000 &                # prints "listening on 0.0.0.0:5000"
 *     ./hello_client 127.0.0.1 5000        # prints "Hello, World!"
 *     ./hello_server 0 2                   # any free port, stop after 2 clients
 *
 * For each client it prints `connection from IP:PORT`. It stops, exit 0, after
 * MAX_CLIENTS clients (when given) or on SIGINT (Ctrl-C) or SIGTERM.
 */

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

/**
 * How many finished connections the kernel may hold for us while we have not
 * called accept(2) yet. When the queue is full, new clients wait or are
 * refused. 5 is the classic textbook value; it is plenty here because each
 * client is served in microseconds. (Linux caps it at
 * /proc/sys/net/core/somaxconn.)
 */
#define BACKLOG 5

/** The greeting: 14 bytes, the newline included, the C string's NUL not. */
static const char GREETING[] = "Hello, World!\n";

/** Set by the SIGINT/SIGTERM handler; read by the accept loop. */
static volatile sig_atomic_t stop_requested = 0;

/**
 * @brief Print the usage line on stderr.
 * @return 2, the exit status of a usage error.
 */
static int usage(void)
{
    fprintf(stderr, "usage: hello_server PORT [MAX_CLIENTS]\n");
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
 * @brief Parse a count argument: a positive decimal number.
 * @param text the argument as typed.
 * @param[out] count the number, set only on success.
 * @return 0 on success; -1 if text is empty, holds anything but the digits
 *         0-9, is 0, or is too large for an unsigned long.
 */
static int parse_count(const char *text, unsigned long *count)
{
    unsigned long value = 0;

    if (text[0] == '\0')
        return -1;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned long digit = (unsigned long)(*p - '0');
        if (value > (ULONG_MAX - digit) / 10)
            return -1; /* would overflow */
        value = value * 10 + digit;
    }
    if (value == 0)
        return -1;
    *count = value;
    return 0;
}

/**
 * @brief Signal handler for SIGINT and SIGTERM: only note the request.
 * @param signo the signal number (unused).
 */
static void on_stop_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

/**
 * @brief Install the handlers: SIGINT and SIGTERM set the stop flag, SIGPIPE is ignored.
 *
 * No SA_RESTART: a blocked accept(2) then fails with EINTR when a stop signal
 * arrives, and the accept loop sees the flag. SIGPIPE is ignored because
 * sending to a client that has already gone would otherwise kill the whole
 * server; ignored, send(2) just fails with EPIPE for that one client. See
 * <a href="https://man7.org/linux/man-pages/man2/sigaction.2.html">sigaction(2)</a>.
 *
 * @return 0 on success; -1 on failure, after perror("sigaction").
 */
static int install_signal_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART */
    sa.sa_handler = on_stop_signal;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        perror("sigaction");
        return -1;
    }
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0) {
        perror("sigaction");
        return -1;
    }
    return 0;
}

/**
 * @brief Let the port be bound again at once after the server stops (SO_REUSEADDR).
 *
 * After a TCP connection closes, its address stays in TIME_WAIT for up to a
 * few minutes. Without SO_REUSEADDR a restarted server would meet
 * `bind: Address already in use` for that long. See
 * <a href="https://man7.org/linux/man-pages/man7/socket.7.html">socket(7)</a> and
 * <a href="https://man7.org/linux/man-pages/man2/setsockopt.2.html">setsockopt(2)</a>.
 *
 * @param fd a TCP socket, not yet bound.
 * @return 0 on success; -1 on failure, after perror("setsockopt").
 */
// [allow_reuse]
static int allow_reuse(int fd)
{
    // $skeleton: /* TODO 2: turn on the SO_REUSEADDR option (level SOL_SOCKET) with setsockopt(2);
    // $skeleton:    the option value is an int set to 1, passed by address with its size. */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 2 */
    // $skeleton: int rc = -1;    /* placeholder: replace -1 with your setsockopt(2) call */
    // $skeleton: (void)fd;
    // $begin solution
    int on = 1;
    int rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    // $end solution
    if (rc < 0) {
        perror("setsockopt");
        return -1;
    }
    return 0;
}
// [allow_reuse]

/**
 * @brief Bind a socket to INADDR_ANY:port (every local interface).
 *
 * See <a href="https://man7.org/linux/man-pages/man2/bind.2.html">bind(2)</a>
 * and <a href="https://man7.org/linux/man-pages/man7/ip.7.html">ip(7)</a>.
 *
 * @param fd a TCP socket, not yet bound.
 * @param port the port in host byte order; 0 lets the kernel pick a free one.
 * @return 0 on success; -1 on failure, after perror("bind").
 */
// [bind_any]
static int bind_any(int fd, uint16_t port)
{
    // $skeleton: /* TODO 3: as in lab 2, fill a zeroed struct sockaddr_in with AF_INET,
    // $skeleton:    htons(port) and htonl(INADDR_ANY), then bind fd to it with bind(2). */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 3 */
    // $skeleton: int rc = -1;    /* placeholder: replace -1 with your bind(2) call */
    // $skeleton: (void)fd;
    // $skeleton: (void)port;
    // $begin solution
    struct sockaddr_in addr;

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);              /* network byte order */
    addr.sin_addr.s_addr = htonl(INADDR_ANY); /* every local interface */
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    // $end solution
    if (rc < 0) {
        perror("bind");
        return -1;
    }
    return 0;
}
// [bind_any]

/**
 * @brief Turn a bound socket into a listening socket.
 *
 * From now on the kernel completes connections to the port by itself and
 * queues them (at most BACKLOG) until accept(2) takes them. See
 * <a href="https://man7.org/linux/man-pages/man2/listen.2.html">listen(2)</a>.
 *
 * @param fd a bound TCP socket.
 * @return 0 on success; -1 on failure, after perror("listen").
 */
// [start_listening]
static int start_listening(int fd)
{
    // $skeleton: /* TODO 4: make fd a listening socket with listen(2), queue length BACKLOG. */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 4 */
    // $skeleton: int rc = -1;    /* placeholder: replace -1 with your listen(2) call */
    // $skeleton: (void)fd;
    // $begin solution
    int rc = listen(fd, BACKLOG);
    // $end solution
    if (rc < 0) {
        perror("listen");
        return -1;
    }
    return 0;
}
// [start_listening]

/**
 * @brief Create the listening socket: socket, SO_REUSEADDR, bind, listen.
 *
 * See <a href="https://man7.org/linux/man-pages/man2/socket.2.html">socket(2)</a>.
 *
 * @param port the port in host byte order (0: any free port).
 * @return the listening socket (>= 0) on success; -1 on failure, after the
 *         failing call was named by perror and the socket closed again.
 */
// [open_listener]
static int open_listener(uint16_t port)
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
    /* SO_REUSEADDR must be set before bind: bind is where it is checked. */
    if (allow_reuse(fd) < 0 || bind_any(fd, port) < 0 || start_listening(fd) < 0) {
        close(fd); /* already failing: the error that matters is printed */
        return -1;
    }
    return fd;
}
// [open_listener]

/**
 * @brief Print the ready line `listening on 0.0.0.0:PORT` with the port really bound.
 *
 * See <a href="https://man7.org/linux/man-pages/man2/getsockname.2.html">getsockname(2)</a>.
 *
 * @param fd the listening socket.
 * @return 0 on success; -1 on failure, after perror("getsockname").
 */
static int print_ready(int fd)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;

    /* With port 0 only the kernel knows the port: ask it. */
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
        perror("getsockname");
        return -1;
    }
    printf("listening on 0.0.0.0:%u\n", (unsigned)ntohs(addr.sin_port));
    /* stdout may be a pipe, which is block-buffered: flush each line now. */
    fflush(stdout);
    return 0;
}

/**
 * @brief Print `connection from IP:PORT` for a client's address.
 *
 * See <a href="https://man7.org/linux/man-pages/man3/inet_ntop.3.html">inet_ntop(3)</a>.
 *
 * @param peer the client's address as accept(2) filled it (network byte order).
 */
static void print_peer(const struct sockaddr_in *peer)
{
    char ip[INET_ADDRSTRLEN];

    if (inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof ip) == NULL) {
        perror("inet_ntop");
        return;
    }
    printf("connection from %s:%u\n", ip, (unsigned)ntohs(peer->sin_port));
    fflush(stdout);
}

/**
 * @brief Send all len bytes of buf on a connected socket.
 *
 * send(2) may send fewer bytes than asked (a short write) or be interrupted
 * by a signal before sending anything (EINTR); the loop goes on until every
 * byte is out, like Stevens' writen. See
 * <a href="https://man7.org/linux/man-pages/man2/send.2.html">send(2)</a>.
 *
 * @param fd a connected socket.
 * @param buf the bytes to send.
 * @param len how many bytes.
 * @return 0 when all len bytes were sent; -1 on failure with errno set (for
 *         example EPIPE or ECONNRESET when the client has gone), some bytes
 *         possibly sent. Nothing is printed.
 */
// [send_all]
static int send_all(int fd, const char *buf, size_t len)
{
    size_t sent = 0;

    while (sent < len) {
        // $skeleton: /* TODO 6: send the bytes not sent yet, buf + sent (len - sent of them), on fd
        // $skeleton:    with send(2), flags 0 (SIGPIPE is already ignored), and keep its result in n. */
        // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 6 */
        // $skeleton: ssize_t n = -1; /* placeholder: replace -1 with your send(2) call */
        // $skeleton: (void)fd;
        // $skeleton: (void)buf;
        // $begin solution
        ssize_t n = send(fd, buf + sent, len - sent, 0);
        // $end solution
        if (n < 0) {
            if (errno == EINTR && !stop_requested)
                continue; /* interrupted before sending anything: try again */
            return -1;
        }
        sent += (size_t)n; /* maybe fewer than asked: loop for the rest */
    }
    return 0;
}
// [send_all]

/**
 * @brief Serve one client: print its address, send the greeting, hang up.
 *
 * Errors here concern this one client only (it may have gone already), so
 * they are reported and the server goes on.
 *
 * @param conn the connected socket from accept(2); closed on return.
 * @param peer the client's address.
 */
// [serve_client]
static void serve_client(int conn, const struct sockaddr_in *peer)
{
    print_peer(peer);
    /* sizeof GREETING - 1: the 14 bytes without the string's terminating NUL. */
    if (send_all(conn, GREETING, sizeof GREETING - 1) < 0)
        perror("send");
    // $skeleton: /* TODO 7: hang up: close the connected socket conn with close(2) (perror("close")
    // $skeleton:    if it fails). The client's read then returns 0, end of file. */
    // $skeleton: /* No placeholder: until TODO 7 is done, the check greets_a_client fails. */
    // $begin solution
    /* Closing is what tells the client "no more data": its read returns 0. */
    if (close(conn) < 0)
        perror("close");
    // $end solution
}
// [serve_client]

/**
 * @brief Tell whether a failed accept(2) concerns only one connection.
 *
 * A client that resets before we accept it makes accept fail with
 * ECONNABORTED (or EPROTO on some systems); such an error is not the
 * listening socket's fault, so the server goes on. See
 * <a href="https://man7.org/linux/man-pages/man2/accept.2.html">accept(2)</a>.
 *
 * @param err the errno value accept left.
 * @return 1 if the server should report it and accept again; 0 if the
 *         listening socket itself failed.
 */
static int accept_error_is_transient(int err)
{
    return err == ECONNABORTED || err == EPROTO || err == ECONNRESET || err == EINTR;
}

/**
 * @brief The accept loop: serve clients until the count is used up or a stop signal arrives.
 *
 * A stop signal that lands between the flag check and the start of accept(2)
 * is noticed at the next connection or signal; closing that small window needs
 * ppoll(2) or a self-pipe, more than this lab is about.
 *
 * @param listen_fd the listening socket (left open: the caller closes it).
 * @param max_clients how many clients to serve; 0 means no limit.
 * @return 0 when the count is used up or a stop signal arrived; 1 if accept(2)
 *         failed on the listening socket itself, after perror("accept").
 */
// [accept_loop]
static int accept_loop(int listen_fd, unsigned long max_clients)
{
    unsigned long served = 0;

    while (!stop_requested && (max_clients == 0 || served < max_clients)) {
        struct sockaddr_in peer;

        // $skeleton: /* TODO 5: wait for the next client with accept(2) on listen_fd; let it fill peer
        // $skeleton:    (cast &peer to struct sockaddr *; its length is a socklen_t holding sizeof
        // $skeleton:    peer, passed by address). Keep the new connected socket in conn. */
        // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 5 */
        // $skeleton: int conn = -1;  /* placeholder: replace -1 with your accept(2) call */
        // $skeleton: (void)listen_fd;
        // $begin solution
        socklen_t len = sizeof peer;
        /* accept returns a NEW socket for this one client; listen_fd keeps
           listening for the next ones. */
        int conn = accept(listen_fd, (struct sockaddr *)&peer, &len);
        // $end solution
        if (conn < 0) {
            int err = errno; /* saved: perror may change errno */
            if (err == EINTR && stop_requested)
                break; /* Ctrl-C or SIGTERM: stop cleanly */
            perror("accept");
            if (accept_error_is_transient(err))
                continue;
            return 1;
        }
        served++;
        serve_client(conn, &peer);
    }
    return 0;
}
// [accept_loop]

/**
 * @brief Listen on PORT and greet clients until MAX_CLIENTS or a stop signal.
 * @param argc argument count.
 * @param argv arguments: PORT [MAX_CLIENTS].
 * @return the exit status: 0 success, 1 a call failed, 2 usage error.
 */
int main(int argc, char **argv)
{
    uint16_t port;
    unsigned long max_clients = 0; /* 0: no limit */

    if (argc < 2 || argc > 3 || parse_port(argv[1], &port) < 0)
        return usage();
    if (argc == 3 && parse_count(argv[2], &max_clients) < 0)
        return usage();
    if (install_signal_handlers() < 0)
        return 1;

    int listen_fd = open_listener(port);
    if (listen_fd < 0)
        return 1;

    int status = print_ready(listen_fd) == 0 ? accept_loop(listen_fd, max_clients) : 1;

    if (close(listen_fd) < 0) {
        perror("close");
        status = 1;
    }
    return status;
}
