/**
 * @file echo_client.c
 * @brief Lab 4: a TCP echo client that sends stdin line by line and prints the echo.
 *
 * The client connects to an echo server, then reads its standard input a line
 * at a time (every byte up to and including a newline, NUL bytes too). It sends
 * each line and reads the echo back until exactly as many bytes have come back
 * as it sent, writing them to stdout unchanged. A line that is just `q` or `Q`,
 * or the end of the input, ends the session.
 *
 * The lesson: TCP delivers a stream of bytes, not messages. One write is not one
 * read at the other end, so the client counts bytes: it reads until all of them
 * are back, however the network splits them.
 *
 * Run it against echo_server:
 *
 *     ./echo_client 127.0.0.1 9000            # type lines, Q to quit
 *     printf 'one\ntwo\n' | ./echo_client localhost 9000
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/** Receive buffer size; a read returns at most this many bytes, often fewer. */
#define BUFFER_SIZE 8192

/**
 * At most this many bytes of a line are "in flight": sent, but their echo not yet
 * read back. It is far less than the socket buffers hold (see echo_line()).
 */
#define WINDOW_SIZE 32768

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
 * @brief Turns a host argument into an IPv4 address.
 *
 * A dotted quad such as 127.0.0.1 is converted directly with
 * <a href="https://man7.org/linux/man-pages/man3/inet_pton.3.html">inet_pton(3)</a>;
 * anything else is looked up as a host name with
 * <a href="https://man7.org/linux/man-pages/man3/getaddrinfo.3.html">getaddrinfo(3)</a>
 * (IPv4 only), and the first address found is used.
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
 * Writing to a connection the peer has closed raises SIGPIPE, whose default
 * action ends the process silently. Ignored, it turns into an EPIPE error from
 * write, which we can report properly.
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
 * @brief Opens a TCP connection to server.
 *
 * Calls <a href="https://man7.org/linux/man-pages/man2/socket.2.html">socket(2)</a>
 * and <a href="https://man7.org/linux/man-pages/man2/connect.2.html">connect(2)</a>.
 *
 * @param server the server's address and port.
 * @return the connected socket (>= 0); -1 if a call failed (perror has named it,
 *         e.g. "connect: Connection refused", and nothing is left open).
 */
static int connect_to_server(const struct sockaddr_in *server)
{
    // $skeleton: /* TODO 1: create an IPv4 TCP socket with socket(2). */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 1 */
    // $skeleton: int fd = -1;    /* placeholder: replace -1 with your socket(2) call */
    // $begin solution
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    // $end solution
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    // $skeleton: /* TODO 2: connect(2) the socket to *server (cast it to const struct sockaddr *). */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 2 */
    // $skeleton: int rc = -1;    /* placeholder: replace -1 with your connect(2) call */
    // $skeleton: (void)server;
    // $begin solution
    int rc = connect(fd, (const struct sockaddr *)server, sizeof *server);
    // $end solution
    if (rc < 0) {
        perror("connect");
        close(fd);
        return -1;
    }
    return fd;
}

/**
 * @brief Writes all len bytes of buf to fd, finishing short writes (Stevens' writen).
 *
 * <a href="https://man7.org/linux/man-pages/man2/write.2.html">write(2)</a> on a
 * socket may take fewer bytes than asked; the rest must be written too, or the
 * server would echo less than we wait for. A write interrupted by a signal (EINTR)
 * is tried again.
 *
 * @param fd the connected socket.
 * @param buf the bytes to send.
 * @param len how many bytes to send.
 * @return 0 when all len bytes were written; -1 with errno set otherwise
 *         (EPIPE or ECONNRESET: the server is gone).
 */
static int write_all(int fd, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        // $skeleton: /* TODO 3: write(2) the len - done bytes that start at buf + done and add what
        // $skeleton:    write returned to done; retry on EINTR, otherwise return -1. */
        // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 3 */
        // $skeleton: (void)fd;
        // $skeleton: (void)buf;
        // $skeleton: return -1;
        // $begin solution
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        done += (size_t)n;
        // $end solution
    }
    return 0;
}

/**
 * @brief Reports why talking to the server failed, after a call set errno.
 *
 * EPIPE and ECONNRESET mean the server closed or reset the connection; anything
 * else is printed by perror under the name of the call.
 *
 * @param call the name of the call that failed, such as "read".
 */
static void report_failure(const char *call)
{
    if (errno == EPIPE || errno == ECONNRESET) {
        fputs("server closed the connection\n", stderr);
    } else {
        perror(call);
    }
}

/**
 * @brief Reads some of the echo (one read) and copies it to stdout unchanged.
 *
 * One <a href="https://man7.org/linux/man-pages/man2/read.2.html">read(2)</a>
 * returns whatever has arrived: n bytes, from 1 up to what we ask for. The caller
 * counts the bytes and calls again until the whole echo is back. We never ask for
 * more than the echo still owes us, so no byte of a later echo is taken early. A
 * read that returns 0 (end of file) means the server closed the connection.
 *
 * @param fd the connected socket.
 * @param at_most the most bytes to read (> 0): the bytes sent but not yet echoed.
 * @return the number of bytes received and written to stdout (> 0); -1 if the
 *         server closed the connection or a call failed (the reason is already
 *         printed, e.g. "server closed the connection").
 */
// [receive_some]
static ssize_t receive_some(int fd, size_t at_most)
{
    char buf[BUFFER_SIZE];
    size_t room = at_most < sizeof buf ? at_most : sizeof buf;
    // $skeleton: /* TODO 4: read(2) at most room bytes from fd into buf. If read returns 0, the
    // $skeleton:    server closed: print "server closed the connection" on stderr and
    // $skeleton:    return -1. If it returns -1: try again on EINTR, otherwise call
    // $skeleton:    report_failure("read") and return -1. Otherwise fwrite the n bytes
    // $skeleton:    to stdout (check the result) and return n. */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 4 */
    // $skeleton: (void)fd;
    // $skeleton: (void)buf;
    // $skeleton: (void)room;
    // $skeleton: report_failure("read");
    // $skeleton: return -1;
    // $begin solution
    ssize_t n;
    do {
        n = read(fd, buf, room);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        fputs("server closed the connection\n", stderr);
        return -1;
    }
    if (n < 0) {
        report_failure("read");
        return -1;
    }
    if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
        perror("fwrite");
        return -1;
    }
    return n;
    // $end solution
}
// [receive_some]

/**
 * @brief Sends one line and copies its echo to stdout: reads until all bytes are back.
 *
 * The obvious way, "send the whole line, then read the echo", works for short
 * lines but deadlocks on a huge one: the server echoes while we are still
 * writing, nobody reads that echo, the socket buffers fill up, and both sides
 * end up blocked in write forever. So we keep at most WINDOW_SIZE bytes in
 * flight: while there is room we send the next piece of the line, otherwise we
 * read some of the echo. Either way we go on until as many bytes came back as
 * the line has.
 *
 * @param fd the connected socket.
 * @param line the bytes of the line (its newline included, NUL bytes allowed).
 * @param len the length of the line, as getline returned it.
 * @return 0 when the whole echo came back and was flushed to stdout; -1 otherwise
 *         (the reason is already printed).
 */
// [echo_line]
static int echo_line(int fd, const char *line, size_t len)
{
    size_t sent = 0; /* bytes of the line sent so far */
    size_t got = 0;  /* bytes of its echo received so far */
    while (got < len) {
        size_t in_flight = sent - got;
        if (sent < len && in_flight < WINDOW_SIZE) {
            size_t room = WINDOW_SIZE - in_flight;
            size_t piece = len - sent < room ? len - sent : room;
            if (write_all(fd, line + sent, piece) < 0) {
                report_failure("write");
                return -1;
            }
            sent += piece;
        } else {
            ssize_t n = receive_some(fd, in_flight);
            if (n < 0) {
                return -1;
            }
            got += (size_t)n;
        }
    }
    if (fflush(stdout) == EOF) {
        perror("fflush");
        return -1;
    }
    return 0;
}
// [echo_line]

/**
 * @brief Tells whether a line asks to quit: exactly "q" or "Q", with or without newline.
 *
 * @param line the line as getline returned it.
 * @param len its length.
 * @return 1 if the line is a quit command; 0 otherwise.
 */
static int is_quit(const char *line, size_t len)
{
    if (len == 2 && line[1] != '\n') {
        return 0;
    }
    return (len == 1 || len == 2) && (line[0] == 'q' || line[0] == 'Q');
}

/**
 * @brief Runs the session: read a line from stdin, echo it, repeat until q or end of file.
 *
 * Lines are read with <a href="https://man7.org/linux/man-pages/man3/getline.3.html">getline(3)</a>,
 * which grows its buffer to fit any line and returns the line's length: we use
 * that length, never strlen, because a line may contain NUL bytes.
 *
 * @param fd the connected socket.
 * @return the exit status: 0 after q or end of file; 1 if something failed.
 */
static int run_session(int fd)
{
    int interactive = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t capacity = 0;
    int status = 0;
    for (;;) {
        if (interactive) {
            fputs("Input message (Q to quit): ", stderr); /* stdout carries only echoed bytes */
        }
        ssize_t len = getline(&line, &capacity, stdin);
        if (len < 0) {
            if (!feof(stdin)) {
                perror("getline");
                status = 1;
            }
            break; /* end of input: a normal end of the session */
        }
        if (is_quit(line, (size_t)len)) {
            break;
        }
        if (echo_line(fd, line, (size_t)len) < 0) {
            status = 1;
            break;
        }
    }
    free(line);
    return status;
}

/**
 * @brief Entry point: echo_client HOST PORT.
 *
 * @param argc the argument count.
 * @param argv the arguments.
 * @return 0 after q or end of input; 1 on a run-time failure (connection refused,
 *         server closed early); 2 on a usage error.
 */
int main(int argc, char *argv[])
{
    struct sockaddr_in server;
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    uint16_t port = 0;
    if (argc != 3 || parse_port(argv[2], &port) < 0 ||
        resolve_host(argv[1], &server.sin_addr) < 0) {
        fprintf(stderr, "usage: echo_client HOST PORT\n");
        fprintf(stderr, "  HOST: an IPv4 address or a host name; PORT: 0-65535\n");
        return 2;
    }
    server.sin_port = htons(port); /* network byte order */

    if (ignore_sigpipe() < 0) {
        return 1;
    }
    int fd = connect_to_server(&server);
    if (fd < 0) {
        return 1;
    }
    int status = run_session(fd);

    // $skeleton: /* TODO 5: close(2) the socket (report a failure with perror("close"), status 1). */
    // $skeleton: /* No placeholder: until TODO 5 is done, the check client_valgrind_clean fails. */
    // $begin solution
    if (close(fd) < 0) {
        perror("close");
        status = 1;
    }
    // $end solution
    return status;
}
