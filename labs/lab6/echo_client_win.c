/**
 * @file echo_client_win.c
 * @brief Lab 6: the echo client of lab 4, ported to Winsock 2.
 *
 * It behaves exactly like lab 4's echo_client: stdin is sent a line at a time
 * and each line's echo is read back, byte for byte, until as many bytes came back
 * as were sent; `q`, `Q` or end of input ends the session. Two things are new on
 * Windows. Winsock is started with WSAStartup() and stopped with WSACleanup().
 * And the C runtime's stdin and stdout start in *text mode*, which turns "\n"
 * into "\r\n" on output, "\r\n" into "\n" on input and takes Ctrl-Z (0x1A) for
 * the end of the input: the client switches both to binary mode so that every
 * byte passes unchanged.
 *
 *     echo_client_win.exe 127.0.0.1 9000
 *
 * Build: `x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -o echo_client_win.exe
 * echo_client_win.c -lws2_32` (or, with Microsoft's compiler, `cl echo_client_win.c`).
 */

/* Windows Vista or later: inet_pton() is declared only from there on. */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600
#endif
#define WIN32_LEAN_AND_MEAN /* windows.h without the parts we do not need */

#include <winsock2.h>
#include <ws2tcpip.h>

#include <fcntl.h> /* _O_BINARY */
#include <io.h>    /* _setmode, _isatty */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _MSC_VER
/* Microsoft's compiler links the Winsock library when the source asks for it;
   mingw-w64 needs -lws2_32 on the command line instead. */
#pragma comment(lib, "Ws2_32.lib")
#endif

/** Receive buffer size; a recv returns at most this many bytes, often fewer. */
#define BUFFER_SIZE 8192

/** At most this many bytes of a line are sent but not yet echoed back (see echo_line()). */
#define WINDOW_SIZE 32768

/**
 * @brief Reports a failed Winsock call on stderr: "connect failed: error 10061".
 *
 * @param call the name of the call that failed, such as "connect".
 */
static void report_error(const char *call)
{
    fprintf(stderr, "%s failed: error %d\n", call, WSAGetLastError());
}

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
 * @brief Turns a host argument (127.0.0.1 or a name such as localhost) into an IPv4 address.
 *
 * Needs Winsock started: getaddrinfo() is part of it.
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
 * @brief Closes a socket with closesocket() (close() does not know sockets on Windows).
 *
 * @param s the socket to close.
 * @return 0 on success; -1 if closesocket failed (already reported).
 */
static int close_socket(SOCKET s)
{
    /* TODO 6: release the socket with closesocket(); on SOCKET_ERROR report it with
       report_error("closesocket") and return -1. */
    /* No placeholder: until TODO 6 is done, the check imports_winsock_calls fails. */
    (void)s;
    return 0;
}

/**
 * @brief Opens a TCP connection to server.
 *
 * @param server the server's address and port.
 * @return the connected socket; INVALID_SOCKET if a call failed (it is reported,
 *         e.g. "connect failed: error 10061" when nothing listens, and nothing is
 *         left open).
 */
// [connect_to_server]
static SOCKET connect_to_server(const struct sockaddr_in *server)
{
    /* TODO 3: create an IPv4 TCP socket with socket() (INVALID_SOCKET on failure:
       report_error("socket")), then connect() it to *server (SOCKET_ERROR on failure:
       report_error("connect"), close the socket). Return the socket, or INVALID_SOCKET. */
    (void)server;
    WSASetLastError(ERROR_CALL_NOT_IMPLEMENTED); /* placeholder: "error 120" until TODO 3 */
    report_error("socket");
    return INVALID_SOCKET;
}
// [connect_to_server]

/**
 * @brief Sends all len bytes of buf, finishing short sends.
 *
 * @param s the connected socket.
 * @param buf the bytes to send.
 * @param len how many bytes to send.
 * @return 0 when all len bytes were sent; -1 otherwise (WSAGetLastError() says why).
 */
static int send_all(SOCKET s, const char *buf, int len)
{
    int done = 0;
    while (done < len) {
        /* TODO 4: send() the len - done bytes that start at buf + done (flags 0) and add
           what it returned to done; on SOCKET_ERROR return -1. */
        (void)s;
        (void)buf;
        WSASetLastError(ERROR_CALL_NOT_IMPLEMENTED); /* placeholder: "error 120" until TODO 4 */
        return -1;
    }
    return 0;
}

/**
 * @brief Reports why talking to the server failed, after a call failed.
 *
 * A reset or aborted connection (10054 WSAECONNRESET, 10053 WSAECONNABORTED)
 * means the server has gone; anything else is reported under the call's name.
 *
 * @param call the name of the call that failed, such as "recv".
 */
static void report_failure(const char *call)
{
    int error = WSAGetLastError();
    if (error == WSAECONNRESET || error == WSAECONNABORTED) {
        fputs("server closed the connection\n", stderr);
    } else {
        report_error(call);
    }
}

/**
 * @brief Receives some of the echo (one recv) and copies it to stdout unchanged.
 *
 * @param s the connected socket.
 * @param at_most the most bytes to receive (> 0): the bytes sent but not yet echoed.
 * @return the number of bytes received and written to stdout (> 0); -1 if the
 *         server closed the connection or a call failed (already reported).
 */
// [receive_some]
static int receive_some(SOCKET s, size_t at_most)
{
    char buf[BUFFER_SIZE];
    int room = at_most < sizeof buf ? (int)at_most : (int)sizeof buf;
    /* TODO 5: recv() at most room bytes from s into buf (flags 0). If it returns 0, the
       server closed: print "server closed the connection" on stderr, return -1. If it
       returns SOCKET_ERROR: report_failure("recv"), return -1. Otherwise fwrite the n
       bytes to stdout (check the result) and return n. */
    (void)s;
    (void)buf;
    (void)room;
    WSASetLastError(ERROR_CALL_NOT_IMPLEMENTED); /* placeholder: "error 120" until TODO 5 */
    report_failure("recv");
    return -1;
}
// [receive_some]

/**
 * @brief Sends one line and copies its echo to stdout: receives until all bytes are back.
 *
 * At most WINDOW_SIZE bytes are in flight (sent, echo not yet received), so a
 * huge line cannot fill both sides' buffers and deadlock (see lab 4's client).
 *
 * @param s the connected socket.
 * @param line the bytes of the line (its newline included, NUL bytes allowed).
 * @param len the length of the line.
 * @return 0 when the whole echo came back and was flushed to stdout; -1 otherwise
 *         (already reported).
 */
static int echo_line(SOCKET s, const char *line, size_t len)
{
    size_t sent = 0; /* bytes of the line sent so far */
    size_t got = 0;  /* bytes of its echo received so far */
    while (got < len) {
        size_t in_flight = sent - got;
        if (sent < len && in_flight < WINDOW_SIZE) {
            size_t room = WINDOW_SIZE - in_flight;
            size_t piece = len - sent < room ? len - sent : room;
            if (send_all(s, line + sent, (int)piece) < 0) {
                report_failure("send");
                return -1;
            }
            sent += piece;
        } else {
            int n = receive_some(s, in_flight);
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

/**
 * @brief Reads one line of any length: every byte up to and including a newline.
 *
 * POSIX's getline() does not exist on Windows, so this is a small one. The
 * buffer grows (doubling) to fit the line; NUL bytes are kept, so the length is
 * returned separately and strlen() is never used on the line.
 *
 * @param in the stream to read.
 * @param line in/out: the buffer (NULL at first); free it when done.
 * @param capacity in/out: its size.
 * @param length out: the number of bytes read.
 * @return 1 when a line was read; 0 at end of input (nothing read); -1 on a read
 *         error or when memory ran out (already reported).
 */
// [read_line]
static int read_line(FILE *in, char **line, size_t *capacity, size_t *length)
{
    size_t used = 0;
    int c;
    while ((c = getc(in)) != EOF) {
        if (used + 1 >= *capacity) {
            size_t bigger = *capacity == 0 ? 128 : *capacity * 2;
            char *grown = realloc(*line, bigger);
            if (grown == NULL) {
                perror("realloc");
                return -1;
            }
            *line = grown;
            *capacity = bigger;
        }
        (*line)[used++] = (char)c;
        if (c == '\n') {
            break;
        }
    }
    if (ferror(in)) {
        perror("getc");
        return -1;
    }
    *length = used;
    return used > 0 ? 1 : 0; /* a last line without newline still counts */
}
// [read_line]

/**
 * @brief Tells whether a line asks to quit: exactly "q" or "Q", with or without newline.
 *
 * @param line the line.
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
 * @brief Runs the session: read a line from stdin, echo it, repeat until q or end of input.
 *
 * @param s the connected socket.
 * @return the exit status: 0 after q or end of input; 1 if something failed.
 */
static int run_session(SOCKET s)
{
    int interactive = _isatty(_fileno(stdin));
    char *line = NULL;
    size_t capacity = 0;
    size_t len = 0;
    int status = 0;
    for (;;) {
        if (interactive) {
            fputs("Input message (Q to quit): ", stderr); /* stdout carries only echoed bytes */
        }
        int got = read_line(stdin, &line, &capacity, &len);
        if (got <= 0) {
            status = got < 0 ? 1 : 0; /* end of input is a normal end */
            break;
        }
        if (is_quit(line, len)) {
            break;
        }
        if (echo_line(s, line, len) < 0) {
            status = 1;
            break;
        }
    }
    free(line);
    return status;
}

/**
 * @brief Switches stdin and stdout to binary mode, so that every byte passes unchanged.
 *
 * @return 0 on success; -1 if _setmode failed (already reported).
 */
// [binary_mode]
static int use_binary_stdio(void)
{
    /* TODO 2: switch stdin and stdout to binary mode:
       _setmode(_fileno(stdin), _O_BINARY), likewise stdout; each returns -1 on failure
       (report it with perror("_setmode") and return -1). Text mode would change
       "\n" into "\r\n" on stdout and stop reading stdin at a Ctrl-Z byte. */
    /* No placeholder: until TODO 2 is done, the check client_stdio_is_binary fails. */
    return 0;
}
// [binary_mode]

/**
 * @brief Entry point: echo_client_win HOST PORT.
 *
 * @param argc the argument count.
 * @param argv the arguments.
 * @return 0 after q or end of input; 1 on a run-time failure (connection refused,
 *         server closed early); 2 on a usage error.
 */
int main(int argc, char *argv[])
{
    uint16_t port = 0;
    if (argc != 3 || parse_port(argv[2], &port) < 0) {
        fprintf(stderr, "usage: echo_client_win HOST PORT\n");
        return 2;
    }
    if (use_binary_stdio() < 0) {
        return 1;
    }

    /* Winsock first: even resolving the host name (getaddrinfo) needs it. */
    /* TODO 1: start Winsock 2.2 with WSAStartup(MAKEWORD(2, 2), &wsa). It returns 0 on
       success, else the error number: print "WSAStartup failed: error N", return 1. */
    /* No placeholder: until TODO 1 is done, the check client_echoes_lines fails. */

    int status = 1;
    struct sockaddr_in server;
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_port = htons(port); /* network byte order */
    if (resolve_host(argv[1], &server.sin_addr) < 0) {
        fprintf(stderr, "usage: echo_client_win HOST PORT\n");
        fprintf(stderr, "  HOST: an IPv4 address or a host name; PORT: 0-65535\n");
        status = 2;
    } else {
        SOCKET s = connect_to_server(&server);
        if (s != INVALID_SOCKET) {
            status = run_session(s);
            if (close_socket(s) < 0) {
                status = 1;
            }
        }
    }

    /* Every successful WSAStartup is paired with a WSACleanup, on every path. */
    /* TODO 7: stop Winsock with WSACleanup() (it returns SOCKET_ERROR on failure). */
    /* No placeholder: until TODO 7 is done, the check winsock_started_first_and_cleaned_up fails. */
    return status;
}
