/**
 * @file chat_server.c
 * @brief Lab 8: a chat server that serves every client from one process with poll(2).
 *
 * The server relays lines between its clients: each complete line a client
 * sends goes to every other client, prefixed with the sender's address
 * ("127.0.0.1:53122: hello\n"). The sender does not get its own line back.
 *
 * The lesson: one process, one thread, and many clients at once. The program
 * blocks in exactly one place, poll(), which waits for ANY of its sockets to be
 * ready: the listening socket (a client is waiting to be accepted) or a client
 * socket (bytes have arrived, or the client left). Whatever poll reports is
 * handled at once without waiting for anything else, and the loop goes back to
 * poll. Three habits make that work:
 *
 * - Each client has its own line buffer. A line may arrive in pieces, between
 *   pieces of other clients' lines; its bytes wait in the buffer of the client
 *   who sent them until the newline comes.
 * - A recv() is made only when poll said the socket is readable, and only once:
 *   it returns what is there, and the server goes back to poll.
 * - Sends never block: the client sockets are non-blocking. A client that has
 *   stopped reading (its buffers are full) cannot take a line whole, so it is
 *   dropped instead of stalling everybody else.
 *
 * Models: Beej's selectserver.c (poll version: pollserver.c), CS:APP's
 * echoservers.c (a pool of clients around select), Stevens' tcpservpoll01.c.
 *
 * Run it, then connect several chat_client programs (or `nc 127.0.0.1 9000`):
 *
 *     ./chat_server 9000        # relays lines until Ctrl-C
 *     ./chat_server 9000 3      # takes three clients, exits 0 when the last has left
 *     ./chat_server 0           # the kernel picks a free port; the first line shows it
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/** The most clients connected at once; more wait in the backlog until one leaves. */
#define CAPACITY 1000

/** The longest line, newline included (the chat protocol's limit). */
#define LINE_MAX_BYTES 1024

/** Room for "255.255.255.255:65535" and the terminating NUL. */
#define ADDRESS_TEXT_SIZE (INET_ADDRSTRLEN + 6)

/** Room for the prefix "IP:PORT: " and the longest line. */
#define MESSAGE_SIZE (ADDRESS_TEXT_SIZE + 2 + LINE_MAX_BYTES)

/** Set by the SIGINT/SIGTERM handler; the event loop checks it and stops cleanly. */
static volatile sig_atomic_t stop_requested = 0;

/** The bytes of a client's current line that have arrived so far (no newline among them). */
struct line_buffer {
    char bytes[LINE_MAX_BYTES]; /**< the start of the line */
    size_t used;                /**< how many bytes of bytes[] hold the line */
};

/** One connected client. */
struct client {
    char name[ADDRESS_TEXT_SIZE]; /**< "IP:PORT", as accept() reported it */
    struct line_buffer buffer;    /**< its line so far */
};

/**
 * Everything the event loop works on. Entry 0 of fds is the listening socket;
 * entries 1 to count are the clients, and clients[i] describes fds[i] (clients[0]
 * is unused). A client that leaves gets fd -1 at once (poll skips negative
 * descriptors, and nothing is sent to it), and the entry is removed at the end of
 * the pass (remove_departed()).
 */
struct room {
    struct pollfd *fds;        /**< what poll() watches: 1 + CAPACITY entries */
    struct client *clients;    /**< the clients, parallel to fds */
    size_t count;              /**< clients in the room: fds[1] to fds[count] */
    unsigned long accepted;    /**< connections accepted so far */
    unsigned long max_clients; /**< stop accepting after this many; 0: no limit */
};

/**
 * @brief Signal handler for SIGINT and SIGTERM: only records that we should stop.
 *
 * poll() then fails with EINTR (it is never restarted after a handler, SA_RESTART
 * or not), and the event loop sees the flag.
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
 * SIGPIPE is ignored because sending to a client that has gone away would
 * otherwise kill the whole server; ignored, send() fails with EPIPE and only
 * that client is dropped.
 *
 * As in lab 4, a signal that arrives after the loop checked stop_requested but
 * before poll() started is noticed only when poll() returns for another reason
 * (ppoll(2) or the self-pipe trick close that gap).
 *
 * @return 0 on success; -1 if sigaction failed (the error is already printed).
 */
static int install_signal_handlers(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
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
 * The backlog is SOMAXCONN, the system's largest: a burst of a hundred
 * connections waits in the kernel's queue until the event loop accepts them.
 *
 * @param port the port to listen on (host byte order); 0 lets the kernel choose.
 * @return the listening socket (>= 0); -1 if a call failed (perror has named it
 *         and nothing is left open).
 */
static int open_listener(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0) {
        perror("setsockopt");
        close(fd);
        return -1;
    }
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(port);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        perror("bind");
        close(fd);
        return -1;
    }
    // $skeleton: /* TODO 1: listen(2) with a backlog of SOMAXCONN (a hundred clients may connect at once). */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 1 */
    // $skeleton: int rc = -1;    /* placeholder: replace -1 with your listen(2) call */
    // $begin solution
    int rc = listen(fd, SOMAXCONN);
    // $end solution
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
 * @brief Makes a socket non-blocking, so that send() and recv() never wait.
 *
 * On a non-blocking socket
 * <a href="https://man7.org/linux/man-pages/man2/send.2.html">send(2)</a> takes
 * what fits in the socket's send buffer and fails with EAGAIN when nothing fits,
 * instead of waiting until the client reads.
 *
 * @param fd the socket.
 * @return 0 on success; -1 if fcntl failed (errno says why).
 */
// [set_nonblocking]
static int set_nonblocking(int fd)
{
    // $skeleton: /* TODO 4: read fd's flags with fcntl(fd, F_GETFL), then set them again with
    // $skeleton:    O_NONBLOCK added (fcntl(fd, F_SETFL, flags | O_NONBLOCK)). Return -1 if
    // $skeleton:    either call fails, 0 otherwise. */
    // $skeleton: (void)fd;
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 4 */
    // $skeleton: return -1;
    // $begin solution
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) {
        return -1;
    }
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    // $end solution
}
// [set_nonblocking]

/**
 * @brief Allocates the room: the poll set and the client table, with the listener in entry 0.
 *
 * @param room the room to fill in.
 * @param listen_fd the listening socket.
 * @param max_clients the MAX_CLIENTS argument (0: no limit).
 * @return 0 on success; -1 if malloc failed (the error is already printed).
 */
static int open_room(struct room *room, int listen_fd, unsigned long max_clients)
{
    memset(room, 0, sizeof *room);
    room->fds = calloc(CAPACITY + 1, sizeof room->fds[0]);
    room->clients = calloc(CAPACITY + 1, sizeof room->clients[0]);
    if (room->fds == NULL || room->clients == NULL) {
        perror("calloc");
        free(room->fds);
        free(room->clients);
        return -1;
    }
    room->fds[0].fd = listen_fd;
    room->fds[0].events = POLLIN; /* readable listener: a connection waits for accept */
    room->max_clients = max_clients;
    return 0;
}

/**
 * @brief Disconnects client i: closes its socket, prints "closed IP:PORT", marks it gone.
 *
 * Its entry keeps fd -1 until remove_departed() takes it out, so that nobody sends
 * to it or closes it again in the meantime (its descriptor number may already
 * belong to a newcomer).
 *
 * @param room the room.
 * @param i the client's index (1 to room->count).
 */
// [drop_client]
static void drop_client(struct room *room, size_t i)
{
    if (close(room->fds[i].fd) < 0) {
        perror("close");
    }
    printf("closed %s\n", room->clients[i].name);
    // $skeleton: /* TODO 9: mark the entry as gone: set room->fds[i].fd to -1, so that poll skips it
    // $skeleton:    and relay_line() sends nothing to it (remove_departed() takes it out later). */
    // $begin solution
    room->fds[i].fd = -1;
    // $end solution
}
// [drop_client]

/**
 * @brief Takes the departed clients (fd -1) out of the table: the last entry fills each hole.
 *
 * @param room the room.
 */
static void remove_departed(struct room *room)
{
    size_t i = 1;
    while (i <= room->count) {
        if (room->fds[i].fd >= 0) {
            i++;
            continue;
        }
        room->fds[i] = room->fds[room->count];
        room->clients[i] = room->clients[room->count];
        room->count--;
    }
}

/**
 * @brief Sends one message to client i without blocking; drops the client if it cannot take it.
 *
 * The socket is non-blocking: send() takes what fits in the socket's buffer at
 * once. A client whose buffers are full has stopped reading; it cannot take the
 * message whole now, and waiting for it would stall the whole room, so it is
 * dropped ("dropped IP:PORT: not reading" on stderr). A client that is gone
 * (EPIPE, ECONNRESET) is dropped too.
 *
 * @param room the room.
 * @param i the receiver's index.
 * @param message the bytes to send.
 * @param len how many.
 */
// [send_to_client]
static void send_to_client(struct room *room, size_t i, const char *message, size_t len)
{
    // $skeleton: /* TODO 8: send(2) the len bytes of message to room->fds[i].fd (a non-blocking
    // $skeleton:    socket: it never waits); n is what send returns. */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 8 */
    // $skeleton: ssize_t n = -1; /* placeholder: replace -1 with your send(2) call */
    // $skeleton: (void)message;
    // $begin solution
    ssize_t n;
    do {
        n = send(room->fds[i].fd, message, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    // $end solution
    if (n == (ssize_t)len) {
        return;
    }
    if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
        /* Its buffers are full (or took only part of the line): it is not reading. */
        fprintf(stderr, "dropped %s: not reading\n", room->clients[i].name);
    } else {
        perror("send"); /* e.g. ECONNRESET: the client is gone */
    }
    drop_client(room, i);
}
// [send_to_client]

/**
 * @brief Relays one complete line from client sender to every other client present.
 *
 * The message is the sender's "IP:PORT: " followed by the line, built once and
 * sent to each receiver in table order, so that every receiver gets the lines in
 * the order the server took them.
 *
 * @param room the room.
 * @param sender the sender's index.
 * @param line the line, its newline included.
 * @param len its length (at most LINE_MAX_BYTES).
 */
// [relay_line]
static void relay_line(struct room *room, size_t sender, const char *line, size_t len)
{
    char message[MESSAGE_SIZE];
    // $skeleton: /* TODO 7: build the message: the sender's name, ": ", then the len bytes of line
    // $skeleton:    (memcpy, not strcpy: a line may hold NUL bytes); prefix is the length of
    // $skeleton:    "IP:PORT: ". */
    // $skeleton: size_t prefix = 0;          /* placeholder: the length of your prefix */
    // $skeleton: memcpy(message, line, len); /* placeholder: the line without its prefix */
    // $begin solution
    int written = snprintf(message, sizeof message, "%s: ", room->clients[sender].name);
    size_t prefix = written > 0 ? (size_t)written : 0;
    memcpy(message + prefix, line, len);
    // $end solution
    for (size_t i = 1; i <= room->count; i++) {
        if (i == sender || room->fds[i].fd < 0) {
            continue; /* never back to the sender, never to a client that has left */
        }
        send_to_client(room, i, message, prefix + len);
    }
}
// [relay_line]

/**
 * @brief Relays every complete line in the buffer of client i, keeps the rest for later.
 *
 * @param room the room.
 * @param i the client's index.
 * @param buffer its line buffer, with new bytes at the end.
 */
// [relay_complete_lines]
static void relay_complete_lines(struct room *room, size_t i, struct line_buffer *buffer)
{
    size_t start = 0; /* where the next line begins */
    // $skeleton: /* TODO 6: for every newline in buffer->bytes[start .. used-1], relay the line
    // $skeleton:    from start up to and including that newline with relay_line(), then move
    // $skeleton:    start past it. Several lines may have come in one recv. */
    // $skeleton: (void)room; /* placeholder: your loop calls relay_line(room, i, ...) */
    // $skeleton: (void)i;
    // $skeleton: (void)relay_line;
    // $begin solution
    for (size_t k = 0; k < buffer->used; k++) {
        if (buffer->bytes[k] == '\n') {
            relay_line(room, i, buffer->bytes + start, k + 1 - start);
            start = k + 1;
        }
    }
    // $end solution
    /* Keep the start of the next line (no newline yet) at the front of the buffer. */
    memmove(buffer->bytes, buffer->bytes + start, buffer->used - start);
    buffer->used -= start;
}
// [relay_complete_lines]

/**
 * @brief Handles a readable client: one recv() into its own buffer, then relays its complete lines.
 *
 * Only one recv() is made: poll() said there are bytes, and recv() returns what
 * is there at once. The bytes go to the end of this client's own buffer, after
 * what is left of its line so far. recv() returning 0 means the client left; a
 * buffer full without a newline is a line over LINE_MAX_BYTES, and the client is
 * dropped ("dropped IP:PORT: line too long").
 *
 * @param room the room.
 * @param i the client's index.
 */
// [read_client]
static void read_client(struct room *room, size_t i)
{
    struct line_buffer *buffer = &room->clients[i].buffer;
    size_t room_left = sizeof buffer->bytes - buffer->used;
    // $skeleton: /* TODO 5: recv(2) at most room_left bytes from room->fds[i].fd into the free end of
    // $skeleton:    this client's own buffer (buffer->bytes + buffer->used). */
    // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 5 */
    // $skeleton: ssize_t n = -1; /* placeholder: replace -1 with your recv(2) call */
    // $skeleton: (void)room_left;
    // $begin solution
    ssize_t n = recv(room->fds[i].fd, buffer->bytes + buffer->used, room_left, 0);
    // $end solution
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
            return; /* nothing after all: poll will say when */
        }
        perror("recv"); /* e.g. ECONNRESET: the client reset the connection */
        drop_client(room, i);
        return;
    }
    if (n == 0) {
        drop_client(room, i); /* it closed its side; a partial last line is discarded */
        return;
    }
    buffer->used += (size_t)n;
    relay_complete_lines(room, i, buffer);
    if (buffer->used == sizeof buffer->bytes && room->fds[i].fd >= 0) {
        fprintf(stderr, "dropped %s: line too long\n", room->clients[i].name);
        drop_client(room, i);
    }
}
// [read_client]

/**
 * @brief Tells whether an accept failure concerns one connection only (the server goes on).
 *
 * @param error the errno value accept left.
 * @return 1 if the server should go on; 0 if the listening socket itself failed.
 */
static int is_per_connection_error(int error)
{
    switch (error) {
    case EINTR:
    case EAGAIN:
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
 * @brief Closes the listening socket and takes it out of the poll set (no more clients).
 *
 * @param room the room.
 * @return 0 on success; -1 if close failed (the error is already printed).
 */
static int close_listener(struct room *room)
{
    int rc = close(room->fds[0].fd);
    if (rc < 0) {
        perror("close");
    }
    room->fds[0].fd = -1;
    return rc;
}

/**
 * @brief Accepts one waiting connection and adds it to the room (the listener was readable).
 *
 * After MAX_CLIENTS connections the listening socket is closed. A room that is
 * full (CAPACITY clients) is not asked: the listener is left out of poll until a
 * client leaves (see update_listener()).
 *
 * @param room the room.
 * @return 0 to go on; -1 if the listening socket itself failed (the error is printed).
 */
// [accept_client]
static int accept_client(struct room *room)
{
    struct sockaddr_in peer;
    socklen_t peer_length = sizeof peer;
    // $skeleton: /* TODO 3: accept(2) the waiting connection on room->fds[0].fd; let accept fill in
    // $skeleton:    peer and peer_length. poll() said one is waiting, so accept does not block. */
    // $skeleton: errno = ENOSYS;   /* placeholder: perror says "Function not implemented" until TODO 3 */
    // $skeleton: int conn_fd = -1; /* placeholder: replace -1 with your accept(2) call */
    // $skeleton: (void)peer_length;
    // $begin solution
    int conn_fd = accept(room->fds[0].fd, (struct sockaddr *)&peer, &peer_length);
    // $end solution
    if (conn_fd < 0) {
        int error = errno; /* saved: perror may change errno */
        perror("accept");
        return is_per_connection_error(error) ? 0 : -1;
    }
    if (set_nonblocking(conn_fd) < 0) {
        perror("fcntl");
        close(conn_fd);
        return 0;
    }
    size_t i = ++room->count;
    room->fds[i].fd = conn_fd;
    room->fds[i].events = POLLIN;
    room->fds[i].revents = 0; /* not ready in this pass: poll has not looked at it yet */
    room->clients[i].buffer.used = 0;
    format_address(&peer, room->clients[i].name, sizeof room->clients[i].name);
    printf("connection from %s\n", room->clients[i].name);
    room->accepted++;
    if (room->max_clients != 0 && room->accepted == room->max_clients) {
        return close_listener(room); /* MAX_CLIENTS reached: nobody else may join */
    }
    return 0;
}
// [accept_client]

/**
 * @brief Watches the listener only while the room has space for one more client.
 *
 * @param room the room.
 */
static void update_listener(struct room *room)
{
    room->fds[0].events = room->count < CAPACITY ? POLLIN : 0;
}

/**
 * @brief One pass of the event loop: handle every socket poll() reported ready.
 *
 * Clients first (1 to count), the listener last, so that a client accepted in
 * this pass is not looked at before poll has watched it.
 *
 * @param room the room.
 * @return 0 to go on; -1 if the listening socket failed.
 */
// [handle_ready]
static int handle_ready(struct room *room)
{
    for (size_t i = 1; i <= room->count; i++) {
        if (room->fds[i].fd >= 0 && (room->fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
            read_client(room, i);
        }
    }
    int status = 0;
    if (room->fds[0].fd >= 0 && (room->fds[0].revents & POLLIN)) {
        status = accept_client(room);
    }
    remove_departed(room);
    return status;
}
// [handle_ready]

/**
 * @brief The event loop: wait in poll() for any socket, handle what is ready, repeat.
 *
 * It ends after a stop request (SIGINT, SIGTERM), or once MAX_CLIENTS clients
 * came and all of them have left.
 *
 * @param room the room.
 * @return 0 after a clean stop; -1 if poll or the listening socket failed.
 */
// [event_loop]
static int event_loop(struct room *room)
{
    while (!stop_requested && (room->fds[0].fd >= 0 || room->count > 0)) {
        update_listener(room);
        // $skeleton: /* TODO 2: wait with poll(2) for any of the room->count + 1 entries of room->fds,
        // $skeleton:    with no timeout (-1). It is the one place the server blocks. */
        // $skeleton: errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 2 */
        // $skeleton: int ready = -1; /* placeholder: replace -1 with your poll(2) call */
        // $begin solution
        int ready = poll(room->fds, (nfds_t)room->count + 1, -1);
        // $end solution
        if (ready < 0) {
            if (errno == EINTR) {
                continue; /* a signal: the loop condition decides */
            }
            perror("poll");
            return -1;
        }
        if (handle_ready(room) < 0) {
            return -1;
        }
    }
    return 0;
}
// [event_loop]

/**
 * @brief Closes every client and the listener (if still open) and frees the room.
 *
 * @param room the room.
 * @return 0 on success; -1 if a close failed (the error is already printed).
 */
static int close_room(struct room *room)
{
    int status = 0;
    for (size_t i = 1; i <= room->count; i++) {
        if (room->fds[i].fd >= 0) {
            drop_client(room, i);
        }
    }
    if (room->fds[0].fd >= 0 && close_listener(room) < 0) {
        status = -1;
    }
    free(room->fds);
    free(room->clients);
    return status;
}

/**
 * @brief Entry point: chat_server PORT [MAX_CLIENTS].
 *
 * @param argc the argument count.
 * @param argv the arguments.
 * @return 0 after a clean stop (the last of MAX_CLIENTS left, SIGINT or SIGTERM);
 *         1 on a run-time failure; 2 on a usage error.
 */
int main(int argc, char *argv[])
{
    uint16_t port = 0;
    unsigned long max_clients = 0; /* 0: serve until stopped */
    if (argc < 2 || argc > 3 || parse_port(argv[1], &port) < 0 ||
        (argc == 3 && parse_count(argv[2], &max_clients) < 0)) {
        fprintf(stderr, "usage: chat_server PORT [MAX_CLIENTS]\n");
        return 2;
    }
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) {
        fprintf(stderr, "setvbuf: cannot line-buffer stdout\n");
        return 1;
    }
    if (install_signal_handlers() < 0) {
        return 1;
    }
    int listen_fd = open_listener(port);
    if (listen_fd < 0) {
        return 1;
    }
    struct room room;
    if (print_ready_line(listen_fd) < 0 || open_room(&room, listen_fd, max_clients) < 0) {
        close(listen_fd);
        return 1;
    }
    int status = event_loop(&room) == 0 ? 0 : 1;
    if (close_room(&room) < 0) {
        status = 1;
    }
    return status;
}
