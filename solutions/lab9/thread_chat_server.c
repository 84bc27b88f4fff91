/**
 * @file thread_chat_server.c
 * @brief Lab 9: a chat server with one thread per client and a shared, locked client list.
 *
 * Every line a client sends is relayed to every other connected client, prefixed
 * with the sender's address ("127.0.0.1:53122: hello\n"). The sender does not get
 * its own line back.
 *
 * The main thread accepts connections and starts one thread per client with
 * pthread_create(). Each client thread reads its own client, keeps the line it has
 * so far in its own buffer, and relays each complete line to the others. The list
 * of connected clients is shared by all threads, so one mutex guards it: a thread
 * walks, adds to or removes from the list only while it holds the mutex.
 *
 * Who may touch a client's socket, and when (the rules the whole file keeps):
 *  - any thread may send() to a client, or shutdown() its socket, only while it holds
 *    the mutex and only while the client is in the list;
 *  - only the client's own thread close()s the socket, and only after it has taken
 *    the client out of the list (so nobody can send to it any more, or to whoever gets
 *    the same descriptor number next).
 *
 * Sends never block (MSG_DONTWAIT): the mutex is held while a line goes out, and a
 * client that does not read must not stall the room. A client that cannot take a
 * line whole is dropped ("dropped IP:PORT: not reading"); a line longer than 1024
 * bytes drops its sender ("dropped IP:PORT: line too long").
 *
 * Signals: SIGINT and SIGTERM are blocked in every thread. Only the main thread
 * receives them, and only inside pselect(), which unblocks them while it waits. On
 * a stop, the main thread shuts every client's socket down (each thread then sees
 * end of file and ends) and waits, with a count and a condition variable, until the
 * last client thread has finished. Then it exits 0.
 *
 * Run it, then talk to it with lab 8's chat_client (or `nc 127.0.0.1 9000`):
 *
 *     ./thread_chat_server 9000       # chats until Ctrl-C
 *     ./thread_chat_server 9000 3     # takes three clients, exits 0 when all have left
 *     ./thread_chat_server 0          # the kernel picks a free port; the first line shows it
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/** The longest line, newline included, that the server relays. */
#define LINE_LIMIT 1024

/** Bytes read at a time from a client; any size works. */
#define RECV_SIZE 4096

/** Room for "255.255.255.255:65535" and the terminating NUL. */
#define ADDRESS_TEXT_SIZE (INET_ADDRSTRLEN + 6)

/** Room for one relayed message: "IP:PORT: " and a whole line. */
#define MESSAGE_SIZE (ADDRESS_TEXT_SIZE + 2 + LINE_LIMIT)

/** Set by the SIGINT/SIGTERM handler (which runs in the main thread only). */
static volatile sig_atomic_t stop_requested = 0;

struct room;

/** One connected client. Its thread owns it; `next` and `listed` belong to the room's mutex. */
struct client {
    struct client *next;          /**< the next client in the room's list (guarded) */
    int listed;                   /**< 1 while in the room's list (guarded) */
    int fd;                       /**< the connection; only this client's thread closes it */
    struct room *room;            /**< the room it is in */
    char name[ADDRESS_TEXT_SIZE]; /**< "IP:PORT", the prefix of its lines */
    char line[LINE_LIMIT];        /**< the line received so far (this thread's only) */
    size_t used;                  /**< bytes of line in use */
};

/** What every thread shares. The mutex guards every field but the wake pipe's descriptors. */
struct room {
    pthread_mutex_t lock;    /**< guards clients, threads and every client's next/listed */
    pthread_cond_t all_gone; /**< signalled each time a client thread ends */
    struct client *clients;  /**< the connected clients, newest first */
    unsigned long threads;   /**< client threads still running */
    int wake[2];             /**< self-pipe: a client thread that ends writes a byte to wake[1] */
};

/**
 * @brief Signal handler for SIGINT and SIGTERM: only records that we should stop.
 *
 * It runs in the main thread only (every other thread blocks both signals), while
 * the main thread waits in pselect(), which then fails with EINTR.
 *
 * @param signo the signal number (unused).
 */
static void on_stop_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

/**
 * @brief Blocks SIGINT and SIGTERM in this thread (and so in every thread it creates),
 *        installs their handler, and ignores SIGPIPE.
 *
 * Threads inherit the signal mask of the thread that creates them, so blocking the
 * two signals here, before the first pthread_create(), blocks them in every client
 * thread: a signal for the process can then only be delivered to the main thread,
 * inside pselect() (see wait_for_event()).
 *
 * @param wait_mask set to the mask pselect() waits with: this one without SIGINT and SIGTERM.
 * @return 0 on success; -1 if a call failed (the error is already printed).
 */
// [block_signals]
static int setup_signals(sigset_t *wait_mask)
{
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    // $skeleton: /* TODO 1: block stop_signals in this thread with pthread_sigmask(3) (SIG_BLOCK),
    // $skeleton:    keeping the old mask in *wait_mask; rc is what it returns (an error number). */
    // $skeleton: int rc = ENOSYS; /* placeholder: replace ENOSYS with your pthread_sigmask(3) call */
    // $begin solution
    int rc = pthread_sigmask(SIG_BLOCK, &stop_signals, wait_mask);
    // $end solution
    if (rc != 0) {
        fprintf(stderr, "pthread_sigmask: %s\n", strerror(rc));
        return -1;
    }
    sigdelset(wait_mask, SIGINT); /* pselect() lets exactly these two through */
    sigdelset(wait_mask, SIGTERM);
    // [block_signals]

    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_stop_signal;
    if (sigaction(SIGINT, &action, NULL) < 0 || sigaction(SIGTERM, &action, NULL) < 0) {
        perror("sigaction");
        return -1;
    }
    action.sa_handler = SIG_IGN; /* a client that vanished: send() fails with EPIPE instead */
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
 * @brief Creates the listening socket: socket, SO_REUSEADDR, bind to 0.0.0.0:port,
 *        listen with a backlog of SOMAXCONN, and prints the ready line.
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
    /* A burst of a hundred clients must not wait for SYN retries. */
    if (listen(fd, SOMAXCONN) < 0) {
        perror("listen");
        close(fd);
        return -1;
    }
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) < 0) {
        perror("getsockname");
        close(fd);
        return -1;
    }
    printf("listening on 0.0.0.0:%u\n", (unsigned)ntohs(address.sin_port));
    return fd;
}

/**
 * @brief Sets up the room: an empty list, its mutex and condition variable, the wake pipe.
 *
 * @param room the room to set up.
 * @return 0 on success; -1 if a call failed (the error is printed, nothing is left).
 */
static int open_room(struct room *room)
{
    memset(room, 0, sizeof *room);
    int rc = pthread_mutex_init(&room->lock, NULL);
    if (rc != 0) {
        fprintf(stderr, "pthread_mutex_init: %s\n", strerror(rc));
        return -1;
    }
    rc = pthread_cond_init(&room->all_gone, NULL);
    if (rc != 0) {
        fprintf(stderr, "pthread_cond_init: %s\n", strerror(rc));
        pthread_mutex_destroy(&room->lock);
        return -1;
    }
    /* Both ends non-blocking: a thread that ends never waits on a full pipe, and
       the main thread empties it without waiting. */
    if (pipe(room->wake) < 0 || fcntl(room->wake[0], F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(room->wake[1], F_SETFL, O_NONBLOCK) < 0) {
        perror("pipe");
        pthread_cond_destroy(&room->all_gone);
        pthread_mutex_destroy(&room->lock);
        return -1;
    }
    return 0;
}

/**
 * @brief Frees what open_room() set up. Every client thread must have ended.
 *
 * @param room the room, empty.
 * @return 0 on success; -1 if a close failed (the error is printed).
 */
static int close_room(struct room *room)
{
    int status = 0;
    if (close(room->wake[0]) < 0 || close(room->wake[1]) < 0) {
        perror("close");
        status = -1;
    }
    pthread_cond_destroy(&room->all_gone);
    pthread_mutex_destroy(&room->lock);
    return status;
}

/**
 * @brief Takes the room's mutex. Failing to is a bug of the program itself: it aborts.
 *
 * @param room the room.
 */
static void lock_room(struct room *room)
{
    int rc = pthread_mutex_lock(&room->lock);
    if (rc != 0) {
        fprintf(stderr, "pthread_mutex_lock: %s\n", strerror(rc));
        abort();
    }
}

/**
 * @brief Releases the room's mutex. Failing to is a bug of the program itself: it aborts.
 *
 * @param room the room.
 */
static void unlock_room(struct room *room)
{
    int rc = pthread_mutex_unlock(&room->lock);
    if (rc != 0) {
        fprintf(stderr, "pthread_mutex_unlock: %s\n", strerror(rc));
        abort();
    }
}

/**
 * @brief Puts a new client in the list and counts its thread, under the mutex.
 *
 * @param room the room.
 * @param client the client, not yet in the list.
 */
// [join_room]
static void join_room(struct room *room, struct client *client)
{
    // $skeleton: /* TODO 2: with the room's mutex held (lock_room, unlock_room): put client at the
    // $skeleton:    head of room->clients, set client->listed to 1, add 1 to room->threads. */
    // $skeleton: (void)room;
    // $skeleton: (void)client;
    // $begin solution
    lock_room(room);
    client->next = room->clients;
    room->clients = client;
    client->listed = 1;
    room->threads++;
    unlock_room(room);
    // $end solution
}
// [join_room]

/**
 * @brief Takes a client out of the list. The caller holds the mutex.
 *
 * @param room the room.
 * @param client the client; nothing happens if it is no longer listed (it was dropped).
 */
static void unlink_client(struct room *room, struct client *client)
{
    if (!client->listed) {
        return;
    }
    for (struct client **link = &room->clients; *link != NULL; link = &(*link)->next) {
        if (*link == client) {
            *link = client->next;
            break;
        }
    }
    client->listed = 0;
}

/**
 * @brief Sends one message to one client without ever waiting for it.
 *
 * MSG_DONTWAIT makes this one send() non-blocking: if the client's socket buffer
 * cannot take the whole message now (the client stopped reading), send() takes
 * part of it or fails with EAGAIN instead of waiting, with the room's mutex held,
 * for a client that may never read again. MSG_NOSIGNAL: a vanished client gives
 * EPIPE, not SIGPIPE.
 *
 * @param client the receiver (in the list; the caller holds the mutex).
 * @param message the bytes to send.
 * @param length how many.
 * @return 0 when the whole message went out; -1 when the client must be dropped.
 */
// [deliver]
static int deliver(const struct client *client, const char *message, size_t length)
{
    // $skeleton: /* TODO 3: send(2) the length bytes of message to client->fd WITHOUT blocking
    // $skeleton:    (flags MSG_DONTWAIT | MSG_NOSIGNAL): the mutex is held while you send. */
    // $skeleton: errno = ENOSYS;  /* placeholder: perror says "Function not implemented" until TODO 3 */
    // $skeleton: ssize_t n = -1;  /* placeholder: replace -1 with your send(2) call */
    // $skeleton: (void)client;
    // $skeleton: (void)message;
    // $begin solution
    ssize_t n = send(client->fd, message, length, MSG_DONTWAIT | MSG_NOSIGNAL);
    // $end solution
    if (n == (ssize_t)length) {
        return 0;
    }
    if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
        fprintf(stderr, "dropped %s: not reading\n", client->name);
    }
    return -1; /* otherwise (EPIPE, ECONNRESET) it has gone: its thread will see it too */
}
// [deliver]

/**
 * @brief Drops a client that cannot keep up. The caller holds the mutex.
 *
 * The client leaves the list at once (nobody sends to it again), and shutdown()
 * wakes its thread, blocked in recv(), with end of file. The socket is NOT closed
 * here: its own thread closes it, once, when it ends (see client_main()).
 *
 * @param room the room.
 * @param client the client to drop (in the list).
 */
// [drop_client]
static void drop_client(struct room *room, struct client *client)
{
    unlink_client(room, client);
    // $skeleton: /* TODO 4: wake client's thread with shutdown(2) (SHUT_RDWR) of client->fd.
    // $skeleton:    Never close() it here: its own thread closes it (a descriptor closed twice
    // $skeleton:    may close a newcomer's connection). */
    // $begin solution
    if (shutdown(client->fd, SHUT_RDWR) < 0 && errno != ENOTCONN) {
        perror("shutdown");
    }
    // $end solution
}
// [drop_client]

/**
 * @brief Sends one message to every client but the sender, in one go under the mutex.
 *
 * Holding the mutex for the whole walk keeps the list still (nobody joins, leaves
 * or is freed meanwhile) and gives every receiver the lines in the same order.
 *
 * @param room the room.
 * @param sender the client whose line it is (it does not get it back).
 * @param message the prefixed line.
 * @param length its length.
 */
// [relay]
static void relay(struct room *room, const struct client *sender, const char *message,
                  size_t length)
{
    // $skeleton: /* TODO 5: hold the room's mutex while you walk the list (lock_room, unlock_room). */
    // $begin solution
    lock_room(room);
    // $end solution
    struct client *next = NULL;
    for (struct client *client = room->clients; client != NULL; client = next) {
        next = client->next; /* read first: drop_client() unlinks client */
        if (client != sender && deliver(client, message, length) < 0) {
            drop_client(room, client);
        }
    }
    // $begin solution
    unlock_room(room);
    // $end solution
}
// [relay]

/**
 * @brief Adds received bytes to the client's line buffer; relays each complete line.
 *
 * The bytes of one recv() may hold the end of a line, whole lines and the start
 * of the next: the buffer keeps the unfinished part until its newline comes.
 *
 * @param client the client that sent them (this thread's).
 * @param data the bytes received.
 * @param size how many.
 * @return 0 on success; -1 if a line grew past LINE_LIMIT bytes.
 */
// [take_bytes]
static int take_bytes(struct client *client, const char *data, size_t size)
{
    char message[MESSAGE_SIZE];
    while (size > 0) {
        const char *newline = memchr(data, '\n', size);
        size_t piece = newline != NULL ? (size_t)(newline - data) + 1 : size;
        /* Without its newline a line may hold LINE_LIMIT - 1 bytes: one more and it
           can never end within the limit. */
        size_t room_left = LINE_LIMIT - client->used - (newline != NULL ? 0 : 1);
        if (piece > room_left) {
            return -1;
        }
        memcpy(client->line + client->used, data, piece);
        client->used += piece;
        if (newline != NULL) {
            int prefix = snprintf(message, sizeof message, "%s: ", client->name);
            memcpy(message + prefix, client->line, client->used);
            relay(client->room, client, message, (size_t)prefix + client->used);
            client->used = 0;
        }
        data += piece;
        size -= piece;
    }
    return 0;
}
// [take_bytes]

/**
 * @brief Reads one client until it leaves (or is dropped, or the server stops).
 *
 * @param client the client (this thread's).
 */
static void chat(struct client *client)
{
    char buf[RECV_SIZE];
    for (;;) {
        ssize_t n = recv(client->fd, buf, sizeof buf, 0);
        if (n == 0) {
            return; /* it closed its side, or was shut down by drop_client() or the stop */
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != ECONNRESET) {
                perror("recv");
            }
            return;
        }
        if (take_bytes(client, buf, (size_t)n) < 0) {
            fprintf(stderr, "dropped %s: line too long\n", client->name);
            return;
        }
    }
}

/**
 * @brief Says that one client thread has ended: count it out, wake the main thread.
 *
 * The byte on the wake pipe is written with the mutex held, before the count goes
 * down, so that the main thread, which closes the pipe once the count is 0, never
 * closes it under a thread still about to write.
 *
 * @param room the room.
 */
// [thread_done]
static void thread_done(struct room *room)
{
    lock_room(room);
    if (write(room->wake[1], "x", 1) < 0 && errno != EAGAIN) {
        perror("write"); /* a full pipe (EAGAIN) already holds a wake-up */
    }
    // $skeleton: /* TODO 6: one thread fewer: subtract 1 from room->threads and signal
    // $skeleton:    room->all_gone (pthread_cond_signal), both with the mutex still held. */
    // $begin solution
    room->threads--;
    pthread_cond_signal(&room->all_gone);
    // $end solution
    unlock_room(room);
}
// [thread_done]

/**
 * @brief A client's thread: chat, leave the list, close the socket, free, count out.
 *
 * @param arg the client (struct client *), which this thread owns and frees.
 * @return NULL.
 */
// [client_main]
static void *client_main(void *arg)
{
    struct client *client = arg;
    struct room *room = client->room;
    chat(client);

    lock_room(room); /* out of the list first: then nobody sends to this descriptor */
    // $skeleton: /* TODO 7: take client out of the list (unlink_client) while the mutex is held. */
    // $begin solution
    unlink_client(room, client);
    // $end solution
    unlock_room(room);
    if (close(client->fd) < 0) { /* the only close() of this descriptor */
        perror("close");
    }
    printf("closed %s\n", client->name);
    free(client);
    thread_done(room);
    return NULL;
}
// [client_main]

/**
 * @brief Starts the thread of a new client, detached (it cleans up after itself).
 *
 * @param room the room.
 * @param fd the accepted connection.
 * @param peer the client's address.
 * @return 0 on success (the thread owns the client now); -1 if it could not start
 *         (the error is printed and the connection closed).
 */
// [start_client]
static int start_client(struct room *room, int fd, const struct sockaddr_in *peer)
{
    struct client *client = calloc(1, sizeof *client);
    if (client == NULL) {
        perror("calloc");
        close(fd);
        return -1;
    }
    client->fd = fd;
    client->room = room;
    format_address(peer, client->name, sizeof client->name);
    join_room(room, client);
    printf("connection from %s\n", client->name); /* in the room: lines from now on reach it */

    pthread_t thread;
    // $skeleton: /* TODO 8: start client_main(client) in a new thread with pthread_create(3), then
    // $skeleton:    pthread_detach(3) it (nobody joins it: it must free its stack when it ends).
    // $skeleton:    rc is what pthread_create returns (an error number, 0 on success). */
    // $skeleton: int rc = ENOSYS; /* placeholder: replace ENOSYS with your pthread_create(3) call */
    // $skeleton: (void)thread;
    // $skeleton: (void)client_main;
    // $begin solution
    int rc = pthread_create(&thread, NULL, client_main, client);
    if (rc == 0) {
        rc = pthread_detach(thread);
        if (rc != 0) {
            fprintf(stderr, "pthread_detach: %s\n", strerror(rc));
        }
        return 0;
    }
    // $end solution
    fprintf(stderr, "pthread_create: %s\n", strerror(rc));
    lock_room(room);
    unlink_client(room, client);
    room->threads--;
    unlock_room(room);
    close(fd);
    free(client);
    return -1;
}
// [start_client]

/**
 * @brief Tells whether an accept failure concerns one connection only.
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
    case EMFILE:
    case ENFILE:
        return 1;
    default:
        return 0;
    }
}

/**
 * @brief Accepts one waiting connection and starts its thread.
 *
 * @param room the room.
 * @param listen_fd the listening socket (readable).
 * @return 1 when a client was accepted (its thread may still have failed to start);
 *         0 when accept failed for that connection only; -1 when the listening
 *         socket itself failed (the error is printed).
 */
static int accept_client(struct room *room, int listen_fd)
{
    struct sockaddr_in peer;
    socklen_t peer_length = sizeof peer;
    int fd = accept(listen_fd, (struct sockaddr *)&peer, &peer_length);
    if (fd < 0) {
        int error = errno;
        perror("accept");
        return is_per_connection_error(error) ? 0 : -1;
    }
    start_client(room, fd, &peer);
    return 1;
}

/**
 * @brief Waits until the listening socket or the wake pipe is readable, or a stop signal.
 *
 * <a href="https://man7.org/linux/man-pages/man2/pselect.2.html">pselect(2)</a>
 * installs wait_mask (SIGINT and SIGTERM unblocked) for the wait only, atomically:
 * a signal that came before the call is delivered inside it, never lost in a gap
 * between testing stop_requested and blocking.
 *
 * @param listen_fd the listening socket, or -1 once it is closed.
 * @param wake_fd the read end of the wake pipe.
 * @param wait_mask the signal mask during the wait.
 * @param listen_ready set to 1 when a connection waits.
 * @return 0 on an event or a signal (EINTR); -1 if pselect failed otherwise.
 */
// [wait_for_event]
static int wait_for_event(int listen_fd, int wake_fd, const sigset_t *wait_mask, int *listen_ready)
{
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(wake_fd, &readable);
    if (listen_fd >= 0) {
        FD_SET(listen_fd, &readable);
    }
    int highest = listen_fd > wake_fd ? listen_fd : wake_fd;
    *listen_ready = 0;
    if (pselect(highest + 1, &readable, NULL, NULL, NULL, wait_mask) < 0) {
        if (errno == EINTR) {
            return 0; /* SIGINT or SIGTERM: the caller sees stop_requested */
        }
        perror("pselect");
        return -1;
    }
    if (FD_ISSET(wake_fd, &readable)) {
        char bytes[64];
        while (read(wake_fd, bytes, sizeof bytes) > 0) {
            /* empty the pipe: the wake-up only says "look at the room again" */
        }
    }
    *listen_ready = listen_fd >= 0 && FD_ISSET(listen_fd, &readable);
    return 0;
}
// [wait_for_event]

/**
 * @brief Tells whether every client thread has ended.
 *
 * @param room the room.
 * @return 1 if no client thread is running.
 */
static int room_is_empty(struct room *room)
{
    lock_room(room);
    int empty = room->threads == 0;
    unlock_room(room);
    return empty;
}

/**
 * @brief The main thread's loop: accept clients until MAX_CLIENTS or a stop, then wait
 *        for the room to empty (or a stop).
 *
 * @param room the room.
 * @param listen_fd the listening socket; closed here once MAX_CLIENTS have come.
 * @param max_clients how many clients to accept; 0 means no limit.
 * @param wait_mask the signal mask for waiting (see wait_for_event()).
 * @return 0 after a stop or once the last of MAX_CLIENTS has left; -1 on a failure.
 */
// [serve]
static int serve(struct room *room, int *listen_fd, unsigned long max_clients,
                 const sigset_t *wait_mask)
{
    unsigned long accepted = 0;
    while (!stop_requested) {
        if (*listen_fd >= 0 && max_clients > 0 && accepted == max_clients) {
            if (close(*listen_fd) < 0) {
                perror("close");
            }
            *listen_fd = -1; /* no more clients: wait for these to leave */
        }
        if (*listen_fd < 0 && room_is_empty(room)) {
            return 0;
        }
        int listen_ready = 0;
        if (wait_for_event(*listen_fd, room->wake[0], wait_mask, &listen_ready) < 0) {
            return -1;
        }
        if (listen_ready && !stop_requested) {
            int rc = accept_client(room, *listen_fd);
            if (rc < 0) {
                return -1;
            }
            accepted += (unsigned long)rc;
        }
    }
    return 0;
}
// [serve]

/**
 * @brief Disconnects every client and waits until every client thread has ended.
 *
 * shutdown() (under the mutex, on listed clients only) wakes each thread from
 * recv() with end of file; each then closes its own socket and counts itself out.
 *
 * @param room the room.
 */
// [stop_clients]
static void stop_clients(struct room *room)
{
    lock_room(room);
    for (struct client *client = room->clients; client != NULL; client = client->next) {
        if (shutdown(client->fd, SHUT_RDWR) < 0 && errno != ENOTCONN) {
            perror("shutdown");
        }
    }
    // $skeleton: /* TODO 9: wait until room->threads is 0: pthread_cond_wait(3) on room->all_gone
    // $skeleton:    in a while loop (the mutex is held here; cond_wait releases it while it waits). */
    // $begin solution
    while (room->threads > 0) {
        pthread_cond_wait(&room->all_gone, &room->lock);
    }
    // $end solution
    unlock_room(room);
}
// [stop_clients]

/**
 * @brief Entry point: thread_chat_server PORT [MAX_CLIENTS].
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
        fprintf(stderr, "usage: thread_chat_server PORT [MAX_CLIENTS]\n");
        return 2;
    }
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) {
        fprintf(stderr, "setvbuf: cannot line-buffer stdout\n");
        return 1;
    }
    sigset_t wait_mask;
    if (setup_signals(&wait_mask) < 0) {
        return 1;
    }
    struct room room;
    if (open_room(&room) < 0) {
        return 1;
    }
    int status = 1;
    int listen_fd = open_listener(port);
    if (listen_fd >= 0) {
        status = serve(&room, &listen_fd, max_clients, &wait_mask) == 0 ? 0 : 1;
        stop_clients(&room); /* every client thread has ended after this */
        if (listen_fd >= 0 && close(listen_fd) < 0) {
            perror("close");
            status = 1;
        }
    }
    if (close_room(&room) < 0) {
        status = 1;
    }
    return status;
}
