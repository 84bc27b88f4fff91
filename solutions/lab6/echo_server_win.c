/**
 * @file echo_server_win.c
 * @brief Lab 6: the iterative echo server of lab 4, ported to Winsock 2.
 *
 * It behaves exactly like lab 4's echo_server: one client at a time, every byte
 * sent back unchanged, `connection from IP:PORT` and `closed IP:PORT (N bytes)`
 * on stdout. Only the socket API changes. Winsock must be started with
 * WSAStartup() before the first socket call and stopped with WSACleanup() before
 * the program ends; a socket is a SOCKET (an unsigned handle, never negative)
 * that is checked against INVALID_SOCKET and closed with closesocket(); errors
 * come from WSAGetLastError(), not errno.
 *
 * Windows has no signals to stop the server with, so it stops after MAX_CLIENTS
 * clients (or is ended with Ctrl-C, which simply kills it).
 *
 *     echo_server_win.exe 9000 3    # serves three clients, then exits 0
 *     echo_server_win.exe 0 1       # a port the system picks; the first line shows it
 *
 * Build: `x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -o echo_server_win.exe
 * echo_server_win.c -lws2_32` (or, with Microsoft's compiler, `cl echo_server_win.c`).
 */

/* Windows Vista or later: inet_ntop() is declared only from there on. */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600
#endif
#define WIN32_LEAN_AND_MEAN /* windows.h without the parts we do not need */

#include <winsock2.h>
#include <ws2tcpip.h>

#include <fcntl.h> /* _O_BINARY */
#include <io.h>    /* _setmode */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _MSC_VER
/* Microsoft's compiler links the Winsock library when the source asks for it;
   mingw-w64 needs -lws2_32 on the command line instead. */
#pragma comment(lib, "Ws2_32.lib")
#endif

/** Connections that may wait in the queue while we serve someone else. */
#define BACKLOG 5

/** Size of the receive buffer; any size works, a recv simply returns at most this many bytes. */
#define BUFFER_SIZE 8192

/** Room for "255.255.255.255:65535" and the terminating NUL. */
#define ADDRESS_TEXT_SIZE (INET_ADDRSTRLEN + 6)

/**
 * @brief Reports a failed Winsock call on stderr: "bind failed: error 10048".
 *
 * Winsock does not set errno, so perror() would print a stale, unrelated message.
 * The error of the last failed call is WSAGetLastError(); the numbers are listed
 * in Microsoft's "Windows Sockets Error Codes" (10048 is WSAEADDRINUSE).
 *
 * @param call the name of the call that failed, such as "bind".
 */
// [report_error]
static void report_error(const char *call)
{
    // $skeleton: /* TODO 2: perror() knows nothing of Winsock: print the error Winsock recorded,
    // $skeleton:    WSAGetLastError(), in place of the placeholder 120. */
    // $skeleton: fprintf(stderr, "%s failed: error %d\n", call, 120); /* placeholder until TODO 2 */
    // $begin solution
    fprintf(stderr, "%s failed: error %d\n", call, WSAGetLastError());
    // $end solution
}
// [report_error]

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
 * @param address the address to format (its port in network byte order).
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
 * @brief Prints one line on stdout and sends it out at once.
 *
 * The Microsoft C runtime has no line buffering (setvbuf's _IOLBF means full
 * buffering there), and stdout may be a pipe, so each line is flushed by hand.
 *
 * @param line the text, without its newline.
 */
static void print_line(const char *line)
{
    printf("%s\n", line);
    if (fflush(stdout) == EOF) {
        perror("fflush");
    }
}

/**
 * @brief Closes a socket, reporting a failure (the socket is gone either way).
 *
 * On Windows a socket is not a file descriptor: close() does not know it, only
 * closesocket() releases it (and sends the client its end of file).
 *
 * @param s the socket to close.
 * @return 0 on success; -1 if closesocket failed (already reported).
 */
// [close_socket]
static int close_socket(SOCKET s)
{
    // $skeleton: /* TODO 8: release the socket with closesocket() (not close()); report a failure
    // $skeleton:    (SOCKET_ERROR) with report_error("closesocket") and return -1. */
    // $skeleton: /* No placeholder: until TODO 8 is done, the check 100_clients_in_sequence fails. */
    // $skeleton: (void)s;
    // $begin solution
    if (closesocket(s) == SOCKET_ERROR) {
        report_error("closesocket");
        return -1;
    }
    // $end solution
    return 0;
}
// [close_socket]

/**
 * @brief Creates the listening socket: socket, SO_REUSEADDR, bind to 0.0.0.0:port, listen.
 *
 * @param port the port to listen on (host byte order); 0 lets the system choose.
 * @return the listening socket; INVALID_SOCKET if a call failed (it is reported
 *         and nothing is left open).
 */
// [open_listener]
static SOCKET open_listener(uint16_t port)
{
    /* A SOCKET is unsigned: test it against INVALID_SOCKET, never with "< 0". */
    // $skeleton: /* TODO 3: create an IPv4 TCP socket with socket(). */
    // $skeleton: WSASetLastError(ERROR_CALL_NOT_IMPLEMENTED); /* placeholder: "error 120" until TODO 3 */
    // $skeleton: SOCKET s = INVALID_SOCKET;                   /* placeholder: your socket() call */
    // $begin solution
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    // $end solution
    if (s == INVALID_SOCKET) {
        report_error("socket");
        return INVALID_SOCKET;
    }

    /* Winsock's setsockopt takes the option value as a const char *. */
    int on = 1;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&on, sizeof on) == SOCKET_ERROR) {
        report_error("setsockopt");
        close_socket(s);
        return INVALID_SOCKET;
    }

    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY); /* every local interface */
    address.sin_port = htons(port);              /* network byte order */
    // $skeleton: /* TODO 4: bind() the socket to address, then listen() with BACKLOG. Each returns
    // $skeleton:    SOCKET_ERROR on failure: report it (report_error("bind"), report_error("listen")),
    // $skeleton:    close the socket and return INVALID_SOCKET. */
    // $skeleton: (void)address;
    // $skeleton: WSASetLastError(ERROR_CALL_NOT_IMPLEMENTED); /* placeholder: "error 120" until TODO 4 */
    // $skeleton: report_error("bind");
    // $skeleton: close_socket(s);
    // $skeleton: return INVALID_SOCKET;
    // $begin solution
    if (bind(s, (struct sockaddr *)&address, sizeof address) == SOCKET_ERROR) {
        report_error("bind");
        close_socket(s);
        return INVALID_SOCKET;
    }
    if (listen(s, BACKLOG) == SOCKET_ERROR) {
        report_error("listen");
        close_socket(s);
        return INVALID_SOCKET;
    }
    return s;
    // $end solution
}
// [open_listener]

/**
 * @brief Prints the ready line "listening on 0.0.0.0:PORT" with the port really bound.
 *
 * @param listener the listening socket.
 * @return 0 on success; -1 if getsockname failed (already reported).
 */
static int print_ready_line(SOCKET listener)
{
    struct sockaddr_in address;
    int length = sizeof address; /* Winsock uses int where POSIX has socklen_t */
    if (getsockname(listener, (struct sockaddr *)&address, &length) == SOCKET_ERROR) {
        report_error("getsockname");
        return -1;
    }
    char line[64];
    snprintf(line, sizeof line, "listening on 0.0.0.0:%u", (unsigned)ntohs(address.sin_port));
    print_line(line);
    return 0;
}

/**
 * @brief Sends all len bytes of buf, finishing short sends.
 *
 * send() returns how many bytes it took, which may be fewer than asked; the rest
 * must be sent too. Its length is an int, so len is at most BUFFER_SIZE here.
 *
 * @param s the connected socket.
 * @param buf the bytes to send.
 * @param len how many bytes to send.
 * @return 0 when all len bytes were sent; -1 otherwise (WSAGetLastError() says why,
 *         e.g. 10054 WSAECONNRESET: the client is gone).
 */
// [send_all]
static int send_all(SOCKET s, const char *buf, int len)
{
    int done = 0;
    while (done < len) {
        // $skeleton: /* TODO 7: send() the len - done bytes that start at buf + done (flags 0) and add
        // $skeleton:    what it returned to done; on SOCKET_ERROR return -1. */
        // $skeleton: (void)s;
        // $skeleton: (void)buf;
        // $skeleton: WSASetLastError(ERROR_CALL_NOT_IMPLEMENTED); /* placeholder: "error 120" until TODO 7 */
        // $skeleton: return -1;
        // $begin solution
        int n = send(s, buf + done, len - done, 0);
        if (n == SOCKET_ERROR) {
            return -1;
        }
        done += n;
        // $end solution
    }
    return 0;
}
// [send_all]

/**
 * @brief Echoes one client: receives what it sends and sends those bytes straight back.
 *
 * recv() returns n > 0 (send back exactly those n bytes), 0 (the client closed its
 * side: the session is over) or SOCKET_ERROR (the client reset the connection, for
 * example: this session ends, the server goes on).
 *
 * @param s the connected socket returned by accept.
 * @param buf a receive buffer.
 * @param size the size of buf.
 * @return the number of bytes echoed back to this client.
 */
// [echo_session]
static unsigned long long echo_session(SOCKET s, char *buf, int size)
{
    unsigned long long echoed = 0;
    for (;;) {
        // $skeleton: /* TODO 6: recv() from s into buf, at most size bytes, flags 0; n is what it returns. */
        // $skeleton: (void)size;
        // $skeleton: WSASetLastError(ERROR_CALL_NOT_IMPLEMENTED); /* placeholder: "error 120" until TODO 6 */
        // $skeleton: int n = SOCKET_ERROR;                        /* placeholder: your recv() call */
        // $begin solution
        int n = recv(s, buf, size, 0);
        // $end solution
        if (n == 0) {
            break; /* end of file: the client closed its side */
        }
        if (n == SOCKET_ERROR) {
            report_error("recv"); /* e.g. 10054: this client is gone, the server is not */
            break;
        }
        if (send_all(s, buf, n) < 0) {
            report_error("send");
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
 * @param s the connected socket; it is closed when this returns.
 * @param peer the client's address, as accept reported it.
 * @param buf a receive buffer.
 * @param size the size of buf.
 */
static void serve_client(SOCKET s, const struct sockaddr_in *peer, char *buf, int size)
{
    char name[ADDRESS_TEXT_SIZE];
    char line[ADDRESS_TEXT_SIZE + 48];
    format_address(peer, name, sizeof name);
    snprintf(line, sizeof line, "connection from %s", name);
    print_line(line);

    unsigned long long echoed = echo_session(s, buf, size);

    /* Every accepted connection is a socket of its own: close it, or handles pile
       up and the client never sees end of file. */
    close_socket(s);
    snprintf(line, sizeof line, "closed %s (%llu bytes)", name, echoed);
    print_line(line);
}

/**
 * @brief Tells whether an accept failure concerns one connection only.
 *
 * A connection reset or dropped before we accepted it (WSAECONNRESET,
 * WSAENOTCONN, WSAECONNABORTED) leaves the listening socket fine, so the server
 * reports it and goes on.
 *
 * @param error what WSAGetLastError() returned.
 * @return 1 if the server should go on; 0 if the listening socket itself failed.
 */
static int is_per_connection_error(int error)
{
    return error == WSAECONNRESET || error == WSAENOTCONN || error == WSAECONNABORTED;
}

/**
 * @brief The iterative server loop: accept a client, serve it, repeat.
 *
 * @param listener the listening socket.
 * @param max_clients how many clients to serve before returning; 0 means no limit.
 * @param buf a receive buffer shared by all sessions (one client at a time).
 * @param size the size of buf.
 * @return 0 after max_clients clients; -1 if accept failed for the listening
 *         socket itself (already reported).
 */
// [serve_clients]
static int serve_clients(SOCKET listener, unsigned long max_clients, char *buf, int size)
{
    unsigned long served = 0;
    while (max_clients == 0 || served < max_clients) {
        struct sockaddr_in peer;
        int peer_length = sizeof peer;
        // $skeleton: /* TODO 5: accept() the next connection on listener, letting it
        // $skeleton:    fill in peer and peer_length; it returns INVALID_SOCKET on failure. */
        // $skeleton: (void)listener;
        // $skeleton: (void)peer_length;
        // $skeleton: WSASetLastError(ERROR_CALL_NOT_IMPLEMENTED); /* placeholder: "error 120" until TODO 5 */
        // $skeleton: SOCKET s = INVALID_SOCKET;                   /* placeholder: your accept() call */
        // $begin solution
        SOCKET s = accept(listener, (struct sockaddr *)&peer, &peer_length);
        // $end solution
        if (s == INVALID_SOCKET) {
            int error = WSAGetLastError(); /* saved: the report may change it */
            report_error("accept");
            if (is_per_connection_error(error)) {
                continue;
            }
            return -1;
        }
        served++;
        serve_client(s, &peer, buf, size);
    }
    return 0;
}
// [serve_clients]

/**
 * @brief Runs the server once Winsock is started: listen, serve, close.
 *
 * @param port the port to listen on (host byte order).
 * @param max_clients how many clients to serve; 0 means no limit.
 * @return the exit status: 0 after max_clients clients, 1 on a failure.
 */
static int run_server(uint16_t port, unsigned long max_clients)
{
    /* One buffer for the whole run, reused by every session and freed at the end. */
    char *buf = malloc(BUFFER_SIZE);
    if (buf == NULL) {
        perror("malloc");
        return 1;
    }
    int status = 1;
    SOCKET listener = open_listener(port);
    if (listener != INVALID_SOCKET) {
        if (print_ready_line(listener) == 0 &&
            serve_clients(listener, max_clients, buf, BUFFER_SIZE) == 0) {
            status = 0;
        }
        if (close_socket(listener) < 0) {
            status = 1;
        }
    }
    free(buf);
    return status;
}

/**
 * @brief Entry point: echo_server_win PORT [MAX_CLIENTS].
 *
 * @param argc the argument count.
 * @param argv the arguments.
 * @return 0 after MAX_CLIENTS clients; 1 on a run-time failure; 2 on a usage error.
 */
// [main]
int main(int argc, char *argv[])
{
    uint16_t port = 0;
    unsigned long max_clients = 0; /* 0: serve until killed */
    if (argc < 2 || argc > 3 || parse_port(argv[1], &port) < 0 ||
        (argc == 3 && parse_count(argv[2], &max_clients) < 0)) {
        fprintf(stderr, "usage: echo_server_win PORT [MAX_CLIENTS]\n");
        return 2;
    }

    /* In text mode (the default) the C library writes each "\n" as "\r\n"; the
       log lines must end in "\n" alone, as on POSIX. (The client's TODO 2 does
       the same for the bytes it relays.) */
    if (_setmode(_fileno(stdout), _O_BINARY) == -1) {
        perror("_setmode");
        return 1;
    }

    /* Winsock must be started before the first socket call, and asked for the
       version we use (2.2). WSAStartup returns its error; it does not set one. */
    // $skeleton: /* TODO 1: start Winsock 2.2 with WSAStartup(MAKEWORD(2, 2), &wsa). It returns 0 on
    // $skeleton:    success, else the error number: print "WSAStartup failed: error N", return 1. */
    // $skeleton: /* No placeholder: until TODO 1 is done, the check server_ready_line fails. */
    // $begin solution
    WSADATA wsa;
    int error = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (error != 0) {
        fprintf(stderr, "WSAStartup failed: error %d\n", error);
        return 1;
    }
    // $end solution

    int status = run_server(port, max_clients);

    /* Every successful WSAStartup is paired with a WSACleanup, on every path. */
    // $skeleton: /* TODO 9: stop Winsock with WSACleanup() (it returns SOCKET_ERROR on failure). */
    // $skeleton: /* No placeholder: until TODO 9 is done, the check winsock_started_first_and_cleaned_up fails. */
    // $begin solution
    if (WSACleanup() == SOCKET_ERROR) {
        report_error("WSACleanup");
        status = 1;
    }
    // $end solution
    return status;
}
// [main]
