/* net.c: socket set-up shared by the three programs (addresses, listen, connect). */
#include "net.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

/* Resolve host:port with getaddrinfo, keeping the first answer. */
int
net_resolve(const char *host, unsigned port, int socktype, struct sockaddr_storage *ss,
            socklen_t *sslen, char *err, size_t errlen)
{
    struct addrinfo hints, *res;
    char portstr[16];
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    snprintf(portstr, sizeof portstr, "%u", port);
    if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Check a listen address: literals must parse, names must resolve (see net.h). */
int
net_check_host(const char *host, int socktype, int resolve, char *err, size_t errlen)
{
    struct addrinfo hints, *res;
    struct in_addr a4;
    char safe[128];
    int rc;

    util_escape(safe, sizeof safe, host, strlen(host));
    /* No host name is all digits and dots, so such text can only mean an IPv4 address. */
    if (host[strspn(host, "0123456789.")] == '\0') {
        if (inet_pton(AF_INET, host, &a4) != 1) {
            snprintf(err, errlen, "%s is not an IPv4 address", safe);
            return -1;
        }
        return 0;
    }
    if (strchr(host, ':') != NULL) {
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_INET6;
        hints.ai_socktype = socktype;
        hints.ai_flags = AI_NUMERICHOST;
        if (getaddrinfo(host, NULL, &hints, &res) != 0) {
            snprintf(err, errlen, "%s is not an IPv6 address", safe);
            return -1;
        }
        freeaddrinfo(res);
        return 0;
    }
    if (!resolve)
        return 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", safe, gai_strerror(rc));
        return -1;
    }
    freeaddrinfo(res);
    return 0;
}

/* Make fd non-blocking. */
int
net_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
        return -1;
    return 0;
}

/* Create, bind and (for TCP) listen on host:port. */
int
net_bind(const char *host, unsigned port, int socktype, int backlog, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd, one = 1;

    if (net_resolve(host, port, socktype, &ss, &sslen, err, errlen) == -1)
        return -1;
    if ((fd = socket(ss.ss_family, socktype, 0)) == -1) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 || net_nonblock(fd) == -1 ||
        (socktype == SOCK_STREAM &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1)) {
        snprintf(err, errlen, "socket options: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
        (socktype == SOCK_STREAM && listen(fd, backlog) == -1)) {
        snprintf(err, errlen, "cannot bind %s port %u: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Bind and (TCP) listen on one resolved address; the socket, or -1 with err set. */
static int
net_bind_one(const struct addrinfo *ai, const char *host, unsigned port, int backlog, char *err,
             size_t errlen)
{
    int fd, one = 1;

    if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) == -1) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* An IPv6 socket takes IPv6 only, so that the IPv4 address binds beside it. */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 || net_nonblock(fd) == -1 ||
        (ai->ai_socktype == SOCK_STREAM &&
         setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1) ||
        (ai->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == -1)) {
        snprintf(err, errlen, "socket options: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
        (ai->ai_socktype == SOCK_STREAM && listen(fd, backlog) == -1)) {
        char addr[64];
        unsigned p;

        net_addr_str(ai->ai_addr, addr, sizeof addr, &p);
        snprintf(err, errlen, "cannot bind %s (%s) port %u: %s", host, addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Set the port of a resolved address. */
static void
net_set_port(struct sockaddr *sa, unsigned port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

/* Bind every address of host (see net.h). */
int
net_bind_all(const char *host, unsigned port, int socktype, int backlog, int *fds, int max,
             char *err, size_t errlen)
{
    struct addrinfo hints, *res, *ai, *prev;
    char portstr[16], addr[64];
    unsigned got = port;
    int rc, n = 0, i;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_PASSIVE;
    snprintf(portstr, sizeof portstr, "%u", port);
    if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        /* A name listed twice (two lines of /etc/hosts) is bound once. */
        for (prev = res; prev != ai; prev = prev->ai_next)
            if (prev->ai_addrlen == ai->ai_addrlen &&
                memcmp(prev->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0)
                break;
        if (prev != ai)
            continue;
        /* Port 0: the kernel chooses for the first address, the others take the same. */
        net_set_port(ai->ai_addr, got);
        if ((fds[n] = net_bind_one(ai, host, got, backlog, err, errlen)) == -1)
            goto fail;
        if (got == 0 && net_local_addr(fds[n], addr, sizeof addr, &got) == -1)
            goto fail;
        n++;
    }
    freeaddrinfo(res);
    if (n == 0) {
        snprintf(err, errlen, "%s has no IPv4 or IPv6 address", host);
        return -1;
    }
    return n;
fail:
    for (i = 0; i < n; i++)
        close(fds[i]);
    freeaddrinfo(res);
    return -1;
}

/* Try one address: a non-blocking connect, waited for with poll. */
static int
net_connect_one(const struct addrinfo *ai, unsigned timeout_ms)
{
    struct pollfd pfd;
    socklen_t len = sizeof(int);
    int fd, soerr = 0;

    if ((fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol)) == -1)
        return -1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 || net_nonblock(fd) == -1)
        goto fail;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS)
        goto fail;
    pfd.fd = fd;
    pfd.events = POLLOUT;
    switch (poll(&pfd, 1, (int)timeout_ms)) {
    case 1:
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
            goto fail;
        if (soerr == 0)
            return fd;
        errno = soerr;
        goto fail;
    case 0:
        errno = ETIMEDOUT;
        goto fail;
    default:
        goto fail;
    }
fail:
    soerr = errno;
    close(fd);
    errno = soerr;
    return -1;
}

/* Connect to host:port over TCP; the socket returned is non-blocking. */
int
net_connect_tcp(const char *host, unsigned port, unsigned timeout_ms, char *err, size_t errlen)
{
    struct addrinfo hints, *res, *ai;
    char portstr[16];
    int rc, fd = -1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%u", port);
    if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    /* The next address is tried only when nobody is there at this one: a
     * timeout or any other failure ends the attempt. */
    for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
        if ((fd = net_connect_one(ai, timeout_ms)) == -1 && errno != ECONNREFUSED &&
            errno != ENETUNREACH && errno != EADDRNOTAVAIL && errno != EAFNOSUPPORT)
            break;
    if (fd == -1)
        snprintf(err, errlen, "cannot connect to %s port %u: %s", host, port, strerror(errno));
    freeaddrinfo(res);
    return fd;
}

/* Format the local address of fd. */
int
net_local_addr(int fd, char *host, size_t hostlen, unsigned *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
        return -1;
    net_addr_str((struct sockaddr *)&ss, host, hostlen, port);
    return 0;
}

/* The port of an IPv4 or IPv6 socket address; 0 for another family. */
unsigned
net_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

/* Print an IPv4 or IPv6 socket address as text and port. */
void
net_addr_str(const struct sockaddr *sa, char *host, size_t hostlen, unsigned *port)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, (socklen_t)hostlen);
        *port = ntohs(sin->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)hostlen);
        *port = ntohs(sin6->sin6_port);
    } else {
        snprintf(host, hostlen, "unknown");
        *port = 0;
    }
}
