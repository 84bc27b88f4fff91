/**
 * @file shim.c
 * @brief LD_PRELOAD shim of the grader: line-buffered stdout and forced short reads and writes.
 *
 * Not part of any lab: the grader preloads it into the programs it tests.
 *
 * - GRADER_LINEBUF=1     makes stdout line-buffered before main() runs (what `stdbuf -oL` does),
 *                        so that a student who forgot fflush() loses one check, not all of them.
 * - GRADER_SHORT_READ=N  caps every read/recv on a TCP socket at N bytes;
 * - GRADER_SHORT_WRITE=N caps every write/send on a TCP socket at N bytes.  On loopback short
 *                        reads and writes are rare; with the caps, a program that assumes one read
 *                        is one message, or ignores a short write, fails every time instead of
 *                        once in a while.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

static size_t read_cap;
static size_t write_cap;

__attribute__((constructor)) static void shim_init(void)
{
    const char *linebuf = getenv("GRADER_LINEBUF");
    const char *read_limit = getenv("GRADER_SHORT_READ");
    const char *write_limit = getenv("GRADER_SHORT_WRITE");

    if (linebuf != NULL && linebuf[0] == '1') {
        setvbuf(stdout, NULL, _IOLBF, 0);
    }
    if (read_limit != NULL) {
        read_cap = (size_t)strtoul(read_limit, NULL, 10);
    }
    if (write_limit != NULL) {
        write_cap = (size_t)strtoul(write_limit, NULL, 10);
    }
}

/* Cap len at cap_bytes when fd is a TCP (stream) socket and a cap is set. */
static size_t capped(int fd, size_t len, size_t cap_bytes)
{
    int type = 0;
    socklen_t size = sizeof type;

    if (cap_bytes == 0 || len <= cap_bytes) {
        return len;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 || type != SOCK_STREAM) {
        return len;
    }
    return cap_bytes;
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

ssize_t read(int fd, void *buf, size_t len)
{
    return NEXT(read)(fd, buf, capped(fd, len, read_cap));
}

ssize_t write(int fd, const void *buf, size_t len)
{
    return NEXT(write)(fd, buf, capped(fd, len, write_cap));
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    return NEXT(recv)(fd, buf, capped(fd, len, read_cap), flags);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    return NEXT(send)(fd, buf, capped(fd, len, write_cap), flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen)
{
    return NEXT(recvfrom)(fd, buf, capped(fd, len, read_cap), flags, addr, alen);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
               socklen_t alen)
{
    return NEXT(sendto)(fd, buf, capped(fd, len, write_cap), flags, addr, alen);
}
