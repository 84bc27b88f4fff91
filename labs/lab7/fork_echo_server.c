/**
 * @file fork_echo_server.c
 * @brief Lab 7: a TCP echo server that serves each client in a child process of its own (fork).
 *
 * Lab 4's echo server, made concurrent. The parent only accepts: at each connection it
 * prints "connection from IP:PORT", calls fork(), closes its own copy of the connection
 * socket and goes straight back to accept(). The child closes its copy of the listening
 * socket, echoes its client until the client closes its side, prints
 * "closed IP:PORT (N bytes)" and exits. A client that connects and then says nothing
 * holds up its own child only, never the other clients.
 *
 * The lessons: fork() copies the process, its descriptors included, so each side closes
 * the descriptor it does not need; a child that has ended stays a zombie until its parent
 * reaps it, which the parent does in a SIGCHLD handler with waitpid(WNOHANG); and that
 * handler interrupts accept(), which then fails with EINTR and is simply called again.
 *
 * Run it, then talk to it with lab 4's echo_client (or `nc 127.0.0.1 9000`), several at once:
 *
 *     ./fork_echo_server 9000        # serves clients until Ctrl-C
 *     ./fork_echo_server 9000 3      # accepts three clients, waits for them, exits 0
 *     ./fork_echo_server 0           # the kernel picks a free port; the first line shows it
 *
 * Watch it from another terminal: `ps -o pid,ppid,stat,cmd --ppid PID` lists the children,
 * `ls -l /proc/PID/fd` the descriptors of one process.
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
#include <sys/wait.h>
#include <unistd.h>

/** Connections the kernel may queue before accept: as many as it allows (a burst of clients). */
#define BACKLOG SOMAXCONN

/** Size of the receive buffer; any size works, a read simply returns at most this many bytes. */
#define BUFFER_SIZE 8192

/** Room for "255.255.255.255:65535" and the terminating NUL. */
#define ADDRESS_TEXT_SIZE (INET_ADDRSTRLEN + 6)

/** Slots the table of children starts with; it doubles when full. */
#define FIRST_CAPACITY 16

/** Set by the SIGINT/SIGTERM handler; the loops check it and stop cleanly. */
static volatile sig_atomic_t stop_requested = 0;

/**
 * The pids of the parent's children still serving (0: a free slot), so that a stop can send
 * each one SIGTERM. The SIGCHLD handler removes the children it reaps (else a stop could send
 * SIGTERM to a pid the system has given to another process since), so the rest of the
 * parent touches the table only while SIGCHLD is blocked (see accept_client()).
 *
 * Global, as the stop flag is, and for the same reason: a signal handler takes no
 * arguments, so what it shares with the code it interrupts cannot be passed to it. The
 * handler does only async-signal-safe work here (waitpid, and reading and writing these
 * slots); it never grows the table (realloc is not async-signal-safe), and it cannot run
 * while the table grows, since SIGCHLD is blocked then.
 */
static pid_t *children = NULL;

/** How many slots the table of children has. */
static size_t children_capacity = 0;

/**
 * @brief Signal handler for SIGINT and SIGTERM: only records that we should stop.
 *
 * The interrupted blocking call (accept, read, write, waitpid) then fails with EINTR and
 * the code that made it sees the flag. Parent and children share this handler: each
 * process has its own copy of the flag.
 *
 * @param signo the signal number (unused).
 */
static void on_stop_signal(int signo)
{
    (void)signo;
    stop_requested = 1;
}

/**
 * @brief Takes a child that has ended out of the table (0 frees its slot).
 *
 * Called from the SIGCHLD handler: it only reads and writes memory, which is safe there.
 *
 * @param pid the child's process id.
 */
static void forget_child(pid_t pid)
{
    for (size_t i = 0; i < children_capacity; i++) {
        if (children[i] == pid) {
            children[i] = 0;
            return;
        }
    }
}

/**
 * @brief Signal handler for SIGCHLD: reaps every child that has ended (Stevens' sig_chld).
 *
 * A child that has exited stays a zombie (its exit status kept for the parent) until the
 * parent calls wait or waitpid for it. Signals of one kind do not queue: one SIGCHLD may
 * stand for several children, so the handler loops on
 * <a href="https://man7.org/linux/man-pages/man2/waitpid.2.html">waitpid(2)</a> with
 * WNOHANG (never block: a child still serving would hold the parent here) until it
 * returns 0 (children left, none ended) or -1 (no child at all). errno is saved and
 * restored: the handler may interrupt code that is about to read it.
 *
 * @param signo the signal number (unused).
 */
// [reap_children]
static void on_child_exit(int signo)
{
    (void)signo;
    int saved_errno = errno;
    /* TODO 5: reap every child that has ended: call waitpid(-1, &status, WNOHANG)
       in a loop while it returns a pid (> 0), and forget_child(pid) each time. */
    (void)forget_child; /* placeholder: remove once you call forget_child */
    errno = saved_errno;
}
// [reap_children]

/**
 * @brief Installs the handlers: SIGINT and SIGTERM stop, SIGCHLD reaps, SIGPIPE is ignored.
 *
 * The handlers are installed with
 * <a href="https://man7.org/linux/man-pages/man2/sigaction.2.html">sigaction(2)</a>
 * WITHOUT SA_RESTART, so that a blocked accept, read or write returns EINTR instead of
 * being restarted behind our back (the stop flag is seen at once). SIGCHLD gets
 * SA_NOCLDSTOP: a child that is only stopped (Ctrl-Z) has not ended. SIGPIPE is ignored
 * because writing to a client that has gone away would otherwise kill the process; write
 * then fails with EPIPE and only that session ends.
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
    action.sa_handler = on_child_exit;
    action.sa_flags = SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &action, NULL) < 0) {
        perror("sigaction");
        return -1;
    }
    action.sa_handler = SIG_IGN;
    action.sa_flags = 0;
    if (sigaction(SIGPIPE, &action, NULL) < 0) {
        perror("sigaction");
        return -1;
    }
    return 0;
}

/**
 * @brief Blocks or unblocks SIGCHLD in the calling process.
 *
 * The parent keeps SIGCHLD blocked except while it waits in accept(), so that the handler
 * (which changes the table of children) never runs while the rest of the code changes the
 * table too (CS:APP, "Synchronizing Flows to Avoid Nasty Concurrency Bugs"). A SIGCHLD that
 * comes while it is blocked waits, and is handled as soon as it is unblocked.
 *
 * @param how SIG_BLOCK or SIG_UNBLOCK.
 */
static void mask_sigchld(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(how, &set, NULL) < 0) {
        perror("sigprocmask"); /* cannot happen with a valid how and set */
    }
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
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return -1;
    }

    /* SO_REUSEADDR lets a restarted server bind its port at once, even while
       connections of the previous run still sit in TIME_WAIT. */
    int on = 1;
    int rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
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
    rc = bind(fd, (struct sockaddr *)&address, sizeof address);
    if (rc < 0) {
        perror("bind");
        close(fd);
        return -1;
    }

    rc = listen(fd, BACKLOG);
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
static int write_all(int fd, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        if (stop_requested) {
            errno = EINTR; /* a signal came between two writes: stop now */
            return -1;
        }
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0) {
            if (errno == EINTR && !stop_requested) {
                continue; /* interrupted before anything was written: try again */
            }
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

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
static unsigned long long echo_session(int conn_fd, char *buf, size_t size)
{
    unsigned long long echoed = 0;
    while (!stop_requested) {
        ssize_t n = read(conn_fd, buf, size);
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

/**
 * @brief Makes sure the table of children has a free slot, growing it if it is full.
 *
 * Called before fork(), so that remember_child() cannot fail once the child exists.
 * SIGCHLD is blocked here (the handler never sees the table while it moves).
 *
 * @return 0 when a slot is free; -1 if the table could not grow (perror has said why).
 */
static int make_room_for_child(void)
{
    for (size_t i = 0; i < children_capacity; i++) {
        if (children[i] == 0) {
            return 0;
        }
    }
    size_t capacity = children_capacity == 0 ? FIRST_CAPACITY : 2 * children_capacity;
    pid_t *grown = realloc(children, capacity * sizeof *grown);
    if (grown == NULL) {
        perror("realloc");
        return -1;
    }
    for (size_t i = children_capacity; i < capacity; i++) {
        grown[i] = 0;
    }
    children = grown;
    children_capacity = capacity;
    return 0;
}

/**
 * @brief Records a new child in a free slot of the table (make_room_for_child() made one).
 *
 * @param pid the child's process id.
 */
static void remember_child(pid_t pid)
{
    for (size_t i = 0; i < children_capacity; i++) {
        if (children[i] == 0) {
            children[i] = pid;
            return;
        }
    }
}

/**
 * @brief Waits in accept() for the next client, with SIGCHLD unblocked meanwhile.
 *
 * This is where the parent spends its time, so this is where it reaps: a child that ends
 * interrupts accept(), the handler reaps it, and accept() fails with EINTR.
 *
 * @param listen_fd the listening socket.
 * @param peer where accept stores the client's address.
 * @return the connected socket (>= 0); -1 with errno set (EINTR: a signal came).
 */
static int accept_client(int listen_fd, struct sockaddr_in *peer)
{
    socklen_t peer_length = sizeof *peer;
    mask_sigchld(SIG_UNBLOCK); /* a child that ended meanwhile is reaped right here */
    int conn_fd = accept(listen_fd, (struct sockaddr *)peer, &peer_length);
    int error = errno; /* saved: sigprocmask may change errno */
    mask_sigchld(SIG_BLOCK);
    errno = error;
    return conn_fd;
}

/**
 * @brief The child's whole life: serve one client, then exit. It never returns.
 *
 * The child got a copy of everything the parent had: the listening socket (closed at
 * once: only the parent accepts), the table of children (freed: it is the parent's
 * business) and the receive buffer (used, then freed). It echoes, closes the connection,
 * prints "closed IP:PORT (N bytes)" and calls exit(0), so that it can never run the
 * parent's accept loop.
 *
 * @param listen_fd the child's copy of the listening socket.
 * @param conn_fd the connected socket of its client.
 * @param name the client's address as text ("IP:PORT").
 * @param buf the receive buffer (the child's copy); freed here.
 */
// [run_child]
static void run_child(int listen_fd, int conn_fd, const char *name, char *buf)
{
    /* A child that kept the listening socket would keep the port open after the
       parent closed it, and could even accept clients itself. */
    /* TODO 2: close(2) the child's copy of listen_fd (report a failure with perror). */
    (void)listen_fd;
    free(children); /* the parent's table: this process has no children */
    children = NULL;
    children_capacity = 0;
    if (signal(SIGCHLD, SIG_DFL) == SIG_ERR) {
        perror("signal");
    }
    mask_sigchld(SIG_UNBLOCK);

    unsigned long long echoed = echo_session(conn_fd, buf, BUFFER_SIZE);
    if (close(conn_fd) < 0) {
        perror("close");
    }
    printf("closed %s (%llu bytes)\n", name, echoed);
    free(buf);
    /* TODO 3: end the child here with exit(0): returning would take it back into
       the parent's accept loop. */
}
// [run_child]

/**
 * @brief Forks a child to serve the client on conn_fd; the parent closes its copy of conn_fd.
 *
 * <a href="https://man7.org/linux/man-pages/man2/fork.2.html">fork(2)</a> returns twice:
 * 0 in the child, the child's pid in the parent. If it fails (EAGAIN: too many processes),
 * the client cannot be served: the error is reported, the connection closed, and the
 * parent goes on with the next client.
 *
 * @param listen_fd the listening socket (the child closes its copy).
 * @param conn_fd the connected socket; the parent's copy is closed when this returns.
 * @param name the client's address as text.
 * @param buf the receive buffer (the child uses its copy).
 */
// [start_child]
static void start_child(int listen_fd, int conn_fd, const char *name, char *buf)
{
    if (make_room_for_child() < 0) {
        close(conn_fd);
        return;
    }
    /* TODO 1: create the child with fork(2); pid is what fork returns. */
    errno = ENOSYS; /* placeholder: perror says "Function not implemented" until TODO 1 */
    pid_t pid = -1; /* placeholder: replace -1 with your fork(2) call */
    if (pid < 0) {
        perror("fork"); /* e.g. EAGAIN: this client is not served, the others are */
        close(conn_fd);
        return;
    }
    if (pid == 0) {
        run_child(listen_fd, conn_fd, name, buf); /* never returns */
    }
    remember_child(pid);
    /* The child has its own copy of the connection. The parent's copy must go: else the
       parent runs out of descriptors, and the client never sees end of file, since the
       connection stays open while any process holds it. */
    /* TODO 4: close(2) the parent's copy of conn_fd (report a failure with perror). */
}
// [start_child]

/**
 * @brief Tells whether an accept failure concerns one connection only.
 *
 * Such a connection was aborted or reset before we got to it (ECONNABORTED,
 * ECONNRESET, EPROTO; Linux also passes on network errors such as ENETDOWN, see
 * <a href="https://man7.org/linux/man-pages/man2/accept.2.html">accept(2)</a>). The
 * listening socket itself is fine, so the server reports the error and goes on. (EINTR,
 * a signal, is not an error at all: serve_clients() retries it without a word.)
 *
 * @param error the errno value accept left.
 * @return 1 if the server should go on; 0 if the listening socket itself failed.
 */
static int is_per_connection_error(int error)
{
    switch (error) {
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
 * @brief The parent's loop: accept a client, hand it to a new child, repeat.
 *
 * The parent never reads or writes a client: it is back in accept() as soon as the child
 * exists, so a client that stalls holds up nobody but its own child.
 *
 * @param listen_fd the listening socket.
 * @param max_clients how many clients to accept before returning; 0 means no limit.
 * @param buf the receive buffer (each child uses its own copy).
 * @return 0 after max_clients clients or a stop request; -1 if accept failed for
 *         the listening socket itself (the error is already printed).
 */
// [serve_clients]
static int serve_clients(int listen_fd, unsigned long max_clients, char *buf)
{
    unsigned long accepted = 0;
    while (!stop_requested && (max_clients == 0 || accepted < max_clients)) {
        struct sockaddr_in peer;
        int conn_fd = accept_client(listen_fd, &peer);
        if (conn_fd < 0) {
            if (stop_requested) {
                break; /* SIGINT or SIGTERM while waiting: a clean stop */
            }
            int error = errno; /* saved: perror may change errno */
            /* TODO 6: a child that ends interrupts accept (SIGCHLD): when error is
               EINTR, go round the loop again (continue) without a message. */
            perror("accept");
            if (is_per_connection_error(error)) {
                continue;
            }
            return -1;
        }
        accepted++; /* a client whose fork fails counts too */
        char name[ADDRESS_TEXT_SIZE];
        format_address(&peer, name, sizeof name);
        printf("connection from %s\n", name);
        start_child(listen_fd, conn_fd, name, buf);
    }
    return 0;
}
// [serve_clients]

/**
 * @brief Ends the parent's children: on a stop, SIGTERM to each one; then waits for them all.
 *
 * Called once the listening socket is closed. SIGCHLD is blocked, so the handler does not
 * run: <a href="https://man7.org/linux/man-pages/man2/waitpid.2.html">waitpid(2)</a> here
 * reaps every child, blocking until the last one has ended (it then fails with ECHILD).
 * A second SIGINT interrupts it (EINTR): it simply waits again.
 *
 * @param stopping nonzero after SIGINT/SIGTERM: the children are asked to stop too.
 */
// [end_children]
static void end_children(int stopping)
{
    if (stopping) {
        /* TODO 7: send SIGTERM with kill(2) to every child still in the table
           (children[0] to children[children_capacity - 1]; 0 is a free slot). */
    }
    /* TODO 8: wait for every child: call waitpid(-1, &status, 0) until it fails
       with ECHILD (no child left); on EINTR call it again. forget_child() each pid. */
}
// [end_children]

/**
 * @brief Entry point: fork_echo_server PORT [MAX_CLIENTS].
 *
 * @param argc the argument count.
 * @param argv the arguments.
 * @return 0 after a clean stop (MAX_CLIENTS accepted and served, SIGINT or SIGTERM);
 *         1 on a run-time failure; 2 on a usage error.
 */
int main(int argc, char *argv[])
{
    uint16_t port = 0;
    unsigned long max_clients = 0; /* 0: serve until stopped */
    if (argc < 2 || argc > 3 || parse_port(argv[1], &port) < 0 ||
        (argc == 3 && parse_count(argv[2], &max_clients) < 0)) {
        fprintf(stderr, "usage: fork_echo_server PORT [MAX_CLIENTS]\n");
        return 2;
    }

    /* stdout may be a pipe shared by the parent and every child: line buffering writes
       each line whole, in one write, as soon as it ends, so lines never mix, and a child
       inherits an empty buffer (nothing is printed twice). */
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) {
        fprintf(stderr, "setvbuf: cannot line-buffer stdout\n");
        return 1;
    }
    if (install_signal_handlers() < 0) {
        return 1;
    }
    mask_sigchld(SIG_BLOCK); /* unblocked only in accept_client() */

    char *buf = malloc(BUFFER_SIZE);
    if (buf == NULL) {
        perror("malloc");
        return 1;
    }

    int status = 1;
    int listen_fd = open_listener(port);
    if (listen_fd >= 0) {
        if (print_ready_line(listen_fd) == 0 && serve_clients(listen_fd, max_clients, buf) == 0) {
            status = 0;
        }
        if (close(listen_fd) < 0) { /* no new client from here on */
            perror("close");
            status = 1;
        }
        end_children(stop_requested);
    }
    free(children);
    free(buf);
    return status;
}
