/**
 * @file udp_upper_client.c
 * @brief Lab 5: a UDP client that sends each stdin line as one datagram, with timeout and retry.
 *
 * For every line of standard input (without its newline) the client sends one
 * datagram to the server and prints the reply followed by a newline. A line that
 * is just `q` or `Q`, or the end of the input, ends it.
 *
 * The lesson: UDP does not promise delivery. A datagram or its reply may be lost,
 * or nobody may be listening, so a client must not wait forever: it waits about a
 * second for the reply, sends the datagram again if none came, and gives up after
 * three tries with `no reply from HOST:PORT` and exit status 1.
 *
 * Run it against udp_upper_server:
 *
 *     ./udp_upper_client 127.0.0.1 9000        # type lines, Q to quit
 *     printf 'hello\nworld\n' | ./udp_upper_client localhost 9000
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/**
 * Reply buffer size: 65535 bytes, more than the largest datagram IPv4
 * can carry: 65507 bytes (65535 minus the 20-byte IP header and the 8-byte UDP
 * header). A datagram larger than the buffer would be cut short, silently.
 */
#define BUFFER_SIZE 65535

/** How many times a datagram is sent before the client gives up. */
#define TRIES 3

/** How long each try waits for the reply, in milliseconds. */
#define TRY_TIMEOUT_MS 1000

/** wait_for_reply() and ask_server() result: no reply came in time. */
#define NO_REPLY (-1)

/** wait_for_reply() and ask_server() result: a call failed (already reported). */
#define FAILED (-2)

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
    hints.ai_socktype = SOCK_DGRAM;
    struct addrinfo *found = NULL;
    if (getaddrinfo(host, NULL, &hints, &found) != 0) {
        return -1;
    }
    *address = ((const struct sockaddr_in *)found->ai_addr)->sin_addr;
    freeaddrinfo(found);
    return 0;
}

/**
 * @brief Creates a UDP socket and connects it to the server.
 *
 * Calls <a href="https://man7.org/linux/man-pages/man2/socket.2.html">socket(2)</a>
 * and <a href="https://man7.org/linux/man-pages/man2/connect.2.html">connect(2)</a>.
 * On a UDP socket, connect sends nothing: it only records the server's address.
 * From then on send() goes to the server, and the kernel delivers to this socket
 * only datagrams that come from exactly that address and port, so replies from
 * anybody else are dropped for us. It also lets the kernel report an ICMP "port
 * unreachable" as the error ECONNREFUSED.
 *
 * @param server the server's address and port.
 * @return the connected socket (>= 0); -1 if a call failed (perror has named it
 *         and nothing is left open).
 */
static int open_client_socket(const struct sockaddr_in *server)
{
    // $skeleton: /* TODO 1: create an IPv4 UDP socket (SOCK_DGRAM) with socket(2). */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 1 */
    // $skeleton: int fd = -1;    /* placeholder: replace -1 with your socket(2) call */
    // $begin solution
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    // $end solution
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    // $skeleton: /* TODO 2: connect(2) the socket to *server, so that only its replies reach us. */
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
 * @brief Reads a clock that only moves forward, in milliseconds.
 *
 * <a href="https://man7.org/linux/man-pages/man3/clock_gettime.3.html">clock_gettime(3)</a>
 * with CLOCK_MONOTONIC is not affected when someone sets the date, so deadlines
 * computed from it stay right.
 *
 * @param ms where to store the time.
 * @return 0 on success; -1 if clock_gettime failed (the error is already printed).
 */
static int now_ms(long long *ms)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) < 0) {
        perror("clock_gettime");
        return -1;
    }
    *ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    return 0;
}

/**
 * @brief Sends one datagram to the server (one try).
 *
 * <a href="https://man7.org/linux/man-pages/man2/send.2.html">send(2)</a> on a UDP
 * socket sends the len bytes as one datagram, or nothing: there are no short
 * sends. An empty datagram (len 0) is a real datagram too.
 *
 * @param fd the connected UDP socket.
 * @param msg the bytes to send.
 * @param len how many bytes (0 to 65507).
 * @return 0 when the datagram went out, or when send reported ECONNREFUSED (an ICMP
 *         error for an earlier datagram: this try simply goes unanswered); -1 if
 *         send failed otherwise, e.g. EMSGSIZE (the error is already printed).
 */
static int send_datagram(int fd, const char *msg, size_t len)
{
    // $skeleton: /* TODO 3: send(2) the len bytes of msg; n is what send returns. */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 3 */
    // $skeleton: ssize_t n = -1; /* placeholder: replace -1 with your send(2) call */
    // $skeleton: (void)fd;
    // $skeleton: (void)msg;
    // $skeleton: (void)len;
    // $begin solution
    ssize_t n = send(fd, msg, len, 0);
    // $end solution
    if (n < 0 && errno != ECONNREFUSED) {
        perror("send");
        return -1;
    }
    return 0;
}

/**
 * @brief Waits at most TRY_TIMEOUT_MS for the server's reply (one try).
 *
 * <a href="https://man7.org/linux/man-pages/man2/poll.2.html">poll(2)</a> sleeps
 * until a datagram can be read or the time is up; then
 * <a href="https://man7.org/linux/man-pages/man2/recv.2.html">recv(2)</a> takes the
 * datagram. The deadline is fixed when the try starts, and every wait is computed
 * from it, so nothing (a signal, an error) can restart the second. A recv error
 * such as ECONNREFUSED (nobody listens on the server's port) leaves this try
 * unanswered, but we still wait out its second: a try always lasts the same time.
 *
 * @param fd the connected UDP socket.
 * @param buf where to store the reply.
 * @param size the size of buf.
 * @return the length of the reply (>= 0, a reply may be empty); NO_REPLY if none
 *         came in time; FAILED if poll or the clock failed (already reported).
 */
// [wait_for_reply]
static ssize_t wait_for_reply(int fd, char *buf, size_t size)
{
    long long deadline = 0;
    if (now_ms(&deadline) < 0) {
        return FAILED;
    }
    deadline += TRY_TIMEOUT_MS;
    // $skeleton: /* TODO 4: loop until deadline: read the clock with now_ms() (time left =
    // $skeleton:    deadline - now; none left: return NO_REPLY), poll(2) fd for POLLIN
    // $skeleton:    for the time left (0 ready: NO_REPLY; -1: retry on EINTR, else
    // $skeleton:    perror and FAILED), then recv(2) into buf: n >= 0 is the reply,
    // $skeleton:    return n; a recv error means this try goes unanswered: keep waiting. */
    // $skeleton: /* No placeholder: until TODO 4 is done, the check client_uppercases_lines fails. */
    // $skeleton: (void)fd;
    // $skeleton: (void)buf;
    // $skeleton: (void)size;
    // $skeleton: (void)deadline;
    // $skeleton: return NO_REPLY;
    // $begin solution
    for (;;) {
        long long now = 0;
        if (now_ms(&now) < 0) {
            return FAILED;
        }
        if (now >= deadline) {
            return NO_REPLY;
        }
        struct pollfd watch = {.fd = fd, .events = POLLIN};
        int ready = poll(&watch, 1, (int)(deadline - now));
        if (ready < 0) {
            if (errno == EINTR) {
                continue; /* the deadline stays where it was */
            }
            perror("poll");
            return FAILED;
        }
        if (ready == 0) {
            return NO_REPLY;
        }
        ssize_t n = recv(fd, buf, size, 0);
        if (n >= 0) {
            return n;
        }
        /* An error, e.g. ECONNREFUSED: it is reported once, so poll waits again. */
    }
    // $end solution
}
// [wait_for_reply]

/**
 * @brief Sends msg and waits for the reply, up to TRIES times.
 *
 * @param fd the connected UDP socket.
 * @param msg the datagram to send.
 * @param len its length.
 * @param reply where to store the reply.
 * @param size the size of reply.
 * @return the length of the reply (>= 0); NO_REPLY if no try was answered; FAILED
 *         if a call failed (already reported).
 */
// [ask_server]
static ssize_t ask_server(int fd, const char *msg, size_t len, char *reply, size_t size)
{
    // $skeleton: /* TODO 5: one try is not enough with UDP: repeat the send and the wait below
    // $skeleton:    up to TRIES times, and stop at the first try that gets a reply. */
    // $skeleton: /* No placeholder: until TODO 5 is done, the check client_retries fails. */
    // $skeleton: if (send_datagram(fd, msg, len) < 0) {
    // $skeleton:     return FAILED;
    // $skeleton: }
    // $skeleton: return wait_for_reply(fd, reply, size);
    // $begin solution
    for (int attempt = 1; attempt <= TRIES; attempt++) {
        if (send_datagram(fd, msg, len) < 0) {
            return FAILED;
        }
        ssize_t n = wait_for_reply(fd, reply, size);
        if (n != NO_REPLY) {
            return n; /* a reply, or FAILED */
        }
    }
    return NO_REPLY;
    // $end solution
}
// [ask_server]

/**
 * @brief Throws away replies that are already waiting before a new line is sent.
 *
 * When a reply is late, we may have sent the datagram again and taken the first
 * answer; the second answer then sits in the socket and would be mistaken for
 * the reply to the next line. recv with MSG_DONTWAIT returns at once: -1 with
 * EAGAIN when nothing is left.
 *
 * @param fd the connected UDP socket.
 * @param buf scratch space.
 * @param size the size of buf.
 */
static void drain_stale_replies(int fd, char *buf, size_t size)
{
    for (;;) {
        ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);
        if (n < 0 && errno != ECONNREFUSED && errno != EINTR) {
            return; /* EAGAIN or EWOULDBLOCK: the socket is empty */
        }
    }
}

/**
 * @brief Prints a reply followed by a newline on stdout, and flushes it.
 *
 * fwrite with the length n, never printf("%s"): the reply may contain NUL bytes.
 *
 * @param reply the reply.
 * @param n its length.
 * @return 0 on success; -1 if writing to stdout failed (the error is already printed).
 */
static int print_reply(const char *reply, size_t n)
{
    if (fwrite(reply, 1, n, stdout) != n || putchar('\n') == EOF || fflush(stdout) == EOF) {
        perror("stdout");
        return -1;
    }
    return 0;
}

/**
 * @brief Runs the session: for each stdin line, ask the server and print its reply.
 *
 * Lines are read with <a href="https://man7.org/linux/man-pages/man3/getline.3.html">getline(3)</a>,
 * which grows its buffer to fit any line and returns the line's length: we use
 * that length, never strlen, because a line may contain NUL bytes.
 *
 * @param fd the connected UDP socket.
 * @param host the HOST argument as typed (for the "no reply" message).
 * @param port the PORT argument as typed.
 * @return the exit status: 0 after q or end of file; 1 if a line got no reply or
 *         something failed.
 */
static int run_session(int fd, const char *host, const char *port)
{
    char *reply = malloc(BUFFER_SIZE);
    if (reply == NULL) {
        perror("malloc");
        return 1;
    }
    int interactive = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t capacity = 0;
    int status = 0;
    for (;;) {
        if (interactive) {
            fputs("Input message (Q to quit): ", stderr); /* stdout carries only replies */
        }
        ssize_t len = getline(&line, &capacity, stdin);
        if (len < 0) {
            if (!feof(stdin)) {
                perror("getline");
                status = 1;
            }
            break; /* end of input: a normal end of the session */
        }
        if (len > 0 && line[len - 1] == '\n') {
            len--; /* the newline is not part of the datagram */
        }
        if (len == 1 && (line[0] == 'q' || line[0] == 'Q')) {
            break;
        }
        drain_stale_replies(fd, reply, BUFFER_SIZE);
        ssize_t n = ask_server(fd, line, (size_t)len, reply, BUFFER_SIZE);
        if (n == NO_REPLY) {
            fprintf(stderr, "no reply from %s:%s\n", host, port);
        }
        if (n < 0 || print_reply(reply, (size_t)n) < 0) {
            status = 1;
            break;
        }
    }
    free(line);
    free(reply);
    return status;
}

/**
 * @brief Entry point: udp_upper_client HOST PORT.
 *
 * @param argc the argument count.
 * @param argv the arguments.
 * @return 0 after q or end of input; 1 on a run-time failure (no reply after
 *         TRIES tries, a call failed); 2 on a usage error.
 */
int main(int argc, char *argv[])
{
    struct sockaddr_in server;
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    uint16_t port = 0;
    if (argc != 3 || parse_port(argv[2], &port) < 0 ||
        resolve_host(argv[1], &server.sin_addr) < 0) {
        fprintf(stderr, "usage: udp_upper_client HOST PORT\n");
        fprintf(stderr, "  HOST: an IPv4 address or a host name; PORT: 0-65535\n");
        return 2;
    }
    server.sin_port = htons(port); /* network byte order */

    int fd = open_client_socket(&server);
    if (fd < 0) {
        return 1;
    }
    int status = run_session(fd, argv[1], argv[2]);

    // $skeleton: /* TODO 6: close(2) the socket (report a failure with perror("close"), status 1). */
    // $skeleton: /* No placeholder: until TODO 6 is done, the check client_valgrind_clean fails. */
    // $begin solution
    if (close(fd) < 0) {
        perror("close");
        status = 1;
    }
    // $end solution
    return status;
}
