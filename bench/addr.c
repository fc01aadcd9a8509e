/* addr.c: target addresses, free ports, waiting for a port to open. */
#include "addr.h"
#include "bench.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Is this address on the loopback network (127.0.0.0/8 or ::1)? */
static int
addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        static const unsigned char lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        return memcmp(&in6->sin6_addr, lo, 16) == 0;
    }
    return 0;
}

/* Resolve host and port; refuse non-loopback targets unless allowed. */
int
addr_resolve(const char *host, unsigned port, int allow_remote, struct sockaddr_storage *ss,
             socklen_t *len, char *err, size_t errlen)
{
    struct addrinfo hints, *res;
    char serv[16];
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(serv, sizeof serv, "%u", port);
    if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
        snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    if (!allow_remote && !addr_is_loopback(res->ai_addr)) {
        snprintf(err, errlen, "%s is not a loopback address (use --allow-remote)", host);
        freeaddrinfo(res);
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Bind a socket of this type to 127.0.0.1:port (0: any); return the port or 0. */
static unsigned
addr_try_bind(int type, unsigned port)
{
    struct sockaddr_in in;
    socklen_t len = sizeof in;
    unsigned got = 0;
    int fd;

    if ((fd = socket(AF_INET, type, 0)) == -1)
        return 0;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&in, sizeof in) == 0 &&
        getsockname(fd, (struct sockaddr *)&in, &len) == 0)
        got = ntohs(in.sin_port);
    close(fd);
    return got;
}

/* Print a port that is free for TCP and for UDP on 127.0.0.1. */
int
addr_freeport(void)
{
    unsigned port;
    int i;

    for (i = 0; i < 100; i++) {
        if ((port = addr_try_bind(SOCK_STREAM, 0)) != 0 &&
            addr_try_bind(SOCK_DGRAM, port) == port) {
            printf("%u\n", port);
            return 0;
        }
    }
    fprintf(stderr, "hcs-bench: no free port found\n");
    return 1;
}

/* Wait until the address accepts a TCP connection (bounded by secs). */
int
addr_ping(const struct sockaddr_storage *ss, socklen_t len, double secs)
{
    uint64_t end = bench_now() + (uint64_t)(secs * 1e9);

    do {
        int fd = socket(ss->ss_family, SOCK_STREAM, 0);
        if (fd == -1)
            break;
        if (connect(fd, (const struct sockaddr *)ss, len) == 0) {
            close(fd);
            return 0;
        }
        close(fd);
        poll(NULL, 0, 20);
    } while (bench_now() < end);
    fprintf(stderr, "hcs-bench: nothing accepts on the port after %.1f s\n", secs);
    return 1;
}
