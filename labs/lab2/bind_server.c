#define _POSIX_C_SOURCE 200809L

/**
 * @file bind_server.c
 * @brief Lab 2: bind a TCP socket to INADDR_ANY:PORT and show the port the kernel gave.
 *
 * A socket from socket(2) has no address yet. bind(2) gives it one: here
 * INADDR_ANY (every local interface, printed 0.0.0.0) and the port from the
 * command line. getsockname(2) then asks the kernel which address the socket
 * really has, which matters for port 0 ("any free port"). The program does not
 * listen, so nobody can connect yet: that is lab 3.
 *
 * Run:
 *
 *     ./bind_server 5000       # prints "bound to 0.0.0.0:5000", waits
 *     ./bind_server 0          # the kernel picks a free port
 *
 * It waits until stdin reaches end of file (Ctrl-D on a terminal) or until
 * SIGINT (Ctrl-C) or SIGTERM, then closes the socket and exits 0. While it
 * waits, `ss -tan` shows no socket in LISTEN state for the port, and a second
 * `./bind_server 5000` fails with `bind: Address already in use` (exit 1).
 */

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

/** Set by the SIGINT/SIGTERM handler; read by the wait loop. */
static volatile sig_atomic_t stop_requested = 0;

/**
 * @brief Print the usage line on stderr.
 * @return 2, the exit status of a usage error.
 */
static int usage(void)
{
    fprintf(stderr, "usage: bind_server PORT\n");
    return 2;
}

/**
 * @brief Parse a port argument: one to five decimal digits, value 0-65535.
 * @param text the argument as typed.
 * @param[out] port the port number, set only on success.
 * @return 0 on success; -1 if text is empty, longer than five characters,
 *         holds anything but the digits 0-9 (a sign, a space, a letter) or
 *         is above 65535.
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
 * @brief Signal handler for SIGINT and SIGTERM: only note the request.
 *
 * A handler may run between any two instructions of the program, so it does
 * the one thing that is safe there: set a volatile sig_atomic_t flag.
 *
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
 * sa_flags has no SA_RESTART, on purpose: a read(2) blocked when the signal
 * arrives then fails with EINTR instead of being restarted, so the wait loop
 * gets control back and sees the flag. See
 * <a href="https://man7.org/linux/man-pages/man2/sigaction.2.html">sigaction(2)</a>.
 * SIGPIPE would kill the program if it wrote to a pipe nobody reads; ignored,
 * the write fails with EPIPE instead.
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
 * @brief Build the IPv4 address INADDR_ANY:port.
 *
 * Multi-byte numbers inside a socket address are in network byte order (big
 * endian), whatever the CPU uses: htons(3) converts a 16-bit port, htonl(3) a
 * 32-bit address. See <a href="https://man7.org/linux/man-pages/man7/ip.7.html">ip(7)</a>
 * and <a href="https://man7.org/linux/man-pages/man3/htons.3.html">byteorder(3)</a>.
 *
 * @param port the port, in host byte order (as parsed from the command line).
 * @return the filled address (returned by value; nothing to free).
 */
// [any_address]
static struct sockaddr_in any_address(uint16_t port)
{
    struct sockaddr_in addr;

    /* Zero everything first: the struct has padding (sin_zero) that must be 0. */
    memset(&addr, 0, sizeof addr);
    /* TODO 1: fill addr: family AF_INET, port `port` converted with htons(3), and
       address INADDR_ANY converted with htonl(3). See ip(7) and byteorder(3). */
    /* No placeholder: until TODO 1 is done, the check binds_the_given_port fails. */
    (void)port;
    return addr;
}
// [any_address]

/**
 * @brief Bind a socket to INADDR_ANY:port.
 *
 * See <a href="https://man7.org/linux/man-pages/man2/bind.2.html">bind(2)</a>.
 *
 * @param fd an IPv4 socket without an address yet.
 * @param port the port in host byte order; 0 lets the kernel pick a free one.
 * @return 0 on success; -1 on failure, after perror("bind")
 *         (`bind: Address already in use` when another socket has the port,
 *         `bind: Permission denied` for a port below 1024 without privileges).
 */
// [bind_any]
static int bind_any(int fd, uint16_t port)
{
    struct sockaddr_in addr = any_address(port);

    /* TODO 2: bind fd to addr with bind(2). bind takes a generic struct sockaddr *,
       so cast &addr, and pass the size of addr. */
    errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 2 */
    int rc = -1;    /* placeholder: replace -1 with your bind(2) call */
    (void)fd;
    (void)addr;
    if (rc < 0) {
        perror("bind");
        return -1;
    }
    return 0;
}
// [bind_any]

/**
 * @brief Ask the kernel which port a socket is bound to.
 *
 * See <a href="https://man7.org/linux/man-pages/man2/getsockname.2.html">getsockname(2)</a>.
 *
 * @param fd a bound IPv4 socket.
 * @param[out] port the bound port in host byte order, set only on success.
 * @return 0 on success; -1 on failure, after perror("getsockname").
 */
// [bound_port]
static int bound_port(int fd, uint16_t *port)
{
    /* TODO 3: fill a struct sockaddr_in with getsockname(2) (its length argument is a
       socklen_t holding the size, passed by address), then store its port in *port,
       converted back to host byte order with ntohs(3). */
    errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 3 */
    int rc = -1;    /* placeholder: replace -1 with your getsockname(2) call */
    (void)fd;
    (void)port;
    if (rc < 0) {
        perror("getsockname");
        return -1;
    }
    return 0;
}
// [bound_port]

/**
 * @brief Wait until stdin reaches end of file or a stop signal arrives.
 *
 * Whatever arrives on stdin is read and thrown away. A signal interrupts the
 * blocked read(2) with EINTR (no SA_RESTART), and the loop then checks the
 * flag. A signal that lands between the flag check and the start of read(2)
 * is noticed only at the next signal or at end of file; closing that small
 * window needs ppoll(2) or a self-pipe, more than this lab is about.
 * See <a href="https://man7.org/linux/man-pages/man2/read.2.html">read(2)</a>.
 *
 * @return 0 on end of file or on a stop signal; -1 if read(2) fails for
 *         another reason, after perror("read").
 */
static int wait_for_stop(void)
{
    char discard[512];

    while (!stop_requested) {
        ssize_t n = read(STDIN_FILENO, discard, sizeof discard);
        if (n == 0)
            return 0; /* end of file */
        if (n < 0 && errno != EINTR) {
            perror("read");
            return -1;
        }
        /* n > 0: data, thrown away. EINTR: the loop condition checks the flag. */
    }
    return 0;
}

/**
 * @brief Bind, report the address, wait: everything done with the open socket.
 * @param fd a fresh IPv4 TCP socket.
 * @param port the port to bind, in host byte order.
 * @return the exit status: 0 after end of file or a stop signal, 1 if a call failed.
 */
static int run(int fd, uint16_t port)
{
    uint16_t real_port = 0;

    if (bind_any(fd, port) < 0 || bound_port(fd, &real_port) < 0)
        return 1;
    printf("bound to 0.0.0.0:%u\n", (unsigned)real_port);
    /* stdout may be a pipe, which is block-buffered: flush the ready line now. */
    fflush(stdout);
    return wait_for_stop() == 0 ? 0 : 1;
}

/**
 * @brief Create a TCP socket, bind it, report it, wait, close it.
 * @param argc argument count.
 * @param argv arguments: PORT.
 * @return the exit status: 0 success, 1 a call failed, 2 usage error.
 */
int main(int argc, char **argv)
{
    uint16_t port;

    if (argc != 2 || parse_port(argv[1], &port) < 0)
        return usage();
    if (install_signal_handlers() < 0)
        return 1;

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }

    int status = run(fd, port);

    /* TODO 4: close the socket with close(2); if close fails, perror("close") and set
       status to 1. Closing also gives the port back to the system. */
    /* No placeholder: until TODO 4 is done, the check valgrind_clean fails. */
    return status;
}
