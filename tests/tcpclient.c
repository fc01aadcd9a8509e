/* tcpclient.c: raw TCP and UDP clients and a tiny fake TCP server for system tests: exact
 * bytes out, lines in with deadlines, and how the peer ended (orderly close or reset). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "tcpclient.h"

#define TC_SLICE_MS 10  /* longest poll before the harness's pipes are pumped again */
#define TC_READ 65536   /* bytes read at once */
#define TC_SHOW 300     /* bytes of unread input shown in a failure */
#define TC_MAXUDP 65536 /* bytes of one datagram received */

static struct tconn **tc_conns; /* every connection made, open or closed */
static size_t tc_nconns, tc_cconns;
static struct tserver **tc_servers;
static size_t tc_nservers, tc_cservers;
static int *tc_udps;
static size_t tc_nudps, tc_cudps;

/* Grow an array of n items of size sz with capacity *cap so one more fits. */
static void *
tc_grow(void *v, size_t n, size_t *cap, size_t sz)
{
    void *p;

    if (n < *cap)
        return v;
    *cap = *cap ? *cap * 2 : 16;
    if ((p = realloc(v, *cap * sz)) == NULL) {
        fprintf(stderr, "tcpclient: out of memory\n");
        abort();
    }
    return p;
}

/* Close and free every connection, server and UDP socket still open. */
void
tc_cleanup(void)
{
    size_t i;

    for (i = 0; i < tc_nconns; i++) {
        if (tc_conns[i]->fd != -1)
            close(tc_conns[i]->fd);
        free(tc_conns[i]->buf);
        free(tc_conns[i]->line);
        free(tc_conns[i]);
    }
    free(tc_conns);
    tc_conns = NULL;
    tc_nconns = tc_cconns = 0;
    for (i = 0; i < tc_nservers; i++) {
        if (tc_servers[i]->fd != -1)
            close(tc_servers[i]->fd);
        free(tc_servers[i]);
    }
    free(tc_servers);
    tc_servers = NULL;
    tc_nservers = tc_cservers = 0;
    for (i = 0; i < tc_nudps; i++)
        close(tc_udps[i]);
    free(tc_udps);
    tc_udps = NULL;
    tc_nudps = tc_cudps = 0;
}

/* The name of an ending, for messages. */
const char *
tc_end_name(enum tc_end end)
{
    switch (end) {
    case TC_OPEN:
        return "still open";
    case TC_EOF:
        return "end of file";
    case TC_RESET:
        return "reset";
    case TC_ERROR:
        break;
    }
    return "read error";
}

/* Quote up to TC_SHOW bytes with control bytes as \xNN (kept until h_cleanup). */
static const char *
tc_quote(const char *s, size_t len)
{
    char out[TC_SHOW * 4 + 16];
    size_t i, o = 0;

    out[o++] = '"';
    for (i = 0; i < len && i < TC_SHOW; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
    }
    out[o++] = '"';
    out[o] = '\0';
    if (len > TC_SHOW)
        return h_str("%s... (%zu bytes)", out, len);
    return h_str("%s", out);
}

/* Set close-on-exec and non-blocking mode on fd. */
static void
tc_fdflags(int fd)
{
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* The loopback address with port. */
static struct sockaddr_in
tc_addr(unsigned port)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

/* The local port of a socket. */
static unsigned
tc_local_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;

    if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
        return 0;
    return ntohs(sin.sin_port);
}

/* The local port of a UDP socket. */
unsigned
tc_udp_port(int fd)
{
    return tc_local_port(fd);
}

/*
 * Wait up to ms for events on fd, pumping the harness's processes meanwhile.
 * Returns the events seen, 0 when the time ran out, -1 on a poll error.
 */
static int
tc_wait(int fd, short events, int ms)
{
    long long deadline = h_now_ms() + (ms > 0 ? ms : 0);

    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        long long left = deadline - h_now_ms();
        int r = poll(&p, 1, left <= 0 ? 0 : left < TC_SLICE_MS ? (int)left : TC_SLICE_MS);

        if (r > 0)
            return p.revents;
        if (r == -1 && errno != EINTR)
            return -1;
        h_pump(0);
        if (h_now_ms() >= deadline)
            return 0;
    }
}

/* Wrap an open socket in a new connection kept on the list. */
static struct tconn *
tc_wrap(int fd)
{
    struct tconn *c = calloc(1, sizeof *c);

    if (c == NULL) {
        fprintf(stderr, "tcpclient: out of memory\n");
        abort();
    }
    c->fd = fd;
    c->lport = tc_local_port(fd);
    c->end = TC_OPEN;
    tc_conns = tc_grow(tc_conns, tc_nconns, &tc_cconns, sizeof *tc_conns);
    tc_conns[tc_nconns++] = c;
    return c;
}

/* Connect to 127.0.0.1:port, with SO_RCVBUF set first when rcvbuf > 0. */
struct tconn *
tc_connect_at(const char *file, int line, unsigned port, int rcvbuf)
{
    struct sockaddr_in sin = tc_addr(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0), err = 0;
    socklen_t len = sizeof err;

    if (fd == -1)
        h_fail_at(file, line, "tcpclient: socket: %s", strerror(errno));
    tc_fdflags(fd);
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == -1)
        h_fail_at(file, line, "tcpclient: SO_RCVBUF: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
        if (errno != EINPROGRESS) {
            err = errno;
            close(fd);
            h_fail_at(file, line, "tcpclient: connect to port %u: %s", port, strerror(err));
        }
        if (tc_wait(fd, POLLOUT, h_timeout_ms) <= 0) {
            close(fd);
            h_fail_at(file, line, "tcpclient: connect to port %u: not done within %d ms", port,
                      h_timeout_ms);
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0) {
            close(fd);
            h_fail_at(file, line, "tcpclient: connect to port %u: %s", port, strerror(err));
        }
    }
    return tc_wrap(fd);
}

/* Send what fits within ms. */
ssize_t
tc_send_some(struct tconn *c, const void *data, size_t len, int ms)
{
    long long deadline = h_now_ms() + (ms > 0 ? ms : 0);
    const char *p = data;
    size_t off = 0;

    if (c->fd == -1) {
        errno = EBADF;
        return -1;
    }
    while (off < len) {
        ssize_t w = send(c->fd, p + off, len - off, MSG_NOSIGNAL);
        long long left;

        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
            return off > 0 ? (ssize_t)off : -1;
        left = deadline - h_now_ms();
        if (left <= 0 || tc_wait(c->fd, POLLOUT, (int)left) <= 0)
            break;
    }
    return (ssize_t)off;
}

/* Send every byte; fails the test on error or when the peer does not take them in time. */
void
tc_send_at(const char *file, int line, struct tconn *c, const void *data, size_t len)
{
    ssize_t n = tc_send_some(c, data, len, h_timeout_ms);

    if (n == -1)
        h_fail_at(file, line, "tcpclient: send on port %u: %s", c->lport, strerror(errno));
    if ((size_t)n != len)
        h_fail_at(file, line, "tcpclient: send on port %u: %zd of %zu bytes within %d ms", c->lport,
                  n, len, h_timeout_ms);
}

/* Send formatted text. */
void
tc_sendf_at(const char *file, int line, struct tconn *c, const char *fmt, ...)
{
    char small[1024], *text = small;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        h_fail_at(file, line, "tcpclient: bad format");
    if ((size_t)n >= sizeof small) {
        if ((text = malloc((size_t)n + 1)) == NULL)
            abort();
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    tc_send_at(file, line, c, text, (size_t)n);
    if (text != small)
        free(text);
}

/* Read once from a readable socket into the buffer. Returns 1 if bytes came. */
static int
tc_read_once(struct tconn *c)
{
    ssize_t n;

    if (c->len + TC_READ > c->cap) {
        size_t cap = c->cap ? c->cap : TC_READ * 2;

        while (c->len + TC_READ > cap)
            cap *= 2;
        if ((c->buf = realloc(c->buf, cap)) == NULL)
            abort();
        c->cap = cap;
    }
    do
        n = read(c->fd, c->buf + c->len, TC_READ);
    while (n == -1 && errno == EINTR);
    if (n > 0) {
        c->len += (size_t)n;
        c->total += (size_t)n;
        return 1;
    }
    if (n == 0) {
        c->end = TC_EOF;
    } else if (errno == ECONNRESET) {
        c->end = TC_RESET;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c->end = TC_ERROR;
        c->err = errno;
    }
    return 0;
}

/* Wait up to ms for bytes or the end and read what is there. */
int
tc_recv(struct tconn *c, int ms)
{
    long long deadline = h_now_ms() + (ms > 0 ? ms : 0);

    while (c->fd != -1 && c->end == TC_OPEN) {
        long long left = deadline - h_now_ms();
        int ev = tc_wait(c->fd, POLLIN, left > 0 ? (int)left : 0);

        if (ev < 0)
            return 0;
        if (ev > 0 && tc_read_once(c))
            return 1;
        if (ev == 0 && h_now_ms() >= deadline)
            return 0;
    }
    return 0;
}

/* Whether a complete line, or the end, is already there. */
int
tc_ready(struct tconn *c)
{
    while (tc_recv(c, 0))
        continue;
    return (c->len > 0 && memchr(c->buf, '\n', c->len) != NULL) || c->end != TC_OPEN;
}

/* The next complete line without its "\n" within ms, or NULL. */
const char *
tc_line(struct tconn *c, int ms)
{
    long long deadline = h_now_ms() + (ms > 0 ? ms : 0);

    for (;;) {
        char *nl = c->len > 0 ? memchr(c->buf, '\n', c->len) : NULL;
        long long left;

        if (nl != NULL) {
            size_t n = (size_t)(nl - c->buf);

            if (n + 1 > c->linecap) {
                c->linecap = n + 1;
                if ((c->line = realloc(c->line, c->linecap)) == NULL)
                    abort();
            }
            memcpy(c->line, c->buf, n);
            c->line[n] = '\0';
            c->len -= n + 1;
            memmove(c->buf, nl + 1, c->len);
            return c->line;
        }
        left = deadline - h_now_ms();
        if (c->fd == -1 || c->end != TC_OPEN || left <= 0)
            return NULL;
        tc_recv(c, (int)left);
    }
}

/* Fail because no line came: say how the connection stands and what is unread. */
static _Noreturn void
tc_no_line(const char *file, int line, struct tconn *c, const char *want)
{
    if (c->end != TC_OPEN)
        h_fail_at(file, line, "port %u: expected %s, but the connection ended (%s) with %s unread",
                  c->lport, tc_quote(want, strlen(want)), tc_end_name(c->end),
                  tc_quote(c->buf, c->len));
    h_fail_at(file, line,
              "port %u: expected %s, but no complete line came within %d ms (%s unread)", c->lport,
              tc_quote(want, strlen(want)), h_timeout_ms, tc_quote(c->buf, c->len));
}

/* The next line must be exactly s. */
void
tc_expect_at(const char *file, int line, struct tconn *c, const char *s)
{
    const char *got = tc_line(c, h_timeout_ms);

    if (got == NULL)
        tc_no_line(file, line, c, s);
    if (strcmp(got, s) != 0)
        h_fail_at(file, line, "port %u: expected %s, got %s", c->lport, tc_quote(s, strlen(s)),
                  tc_quote(got, strlen(got)));
}

/* The next line must be exactly the formatted text. */
void
tc_expectf_at(const char *file, int line, struct tconn *c, const char *fmt, ...)
{
    char want[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    tc_expect_at(file, line, c, want);
}

/* Nothing more comes: an orderly close, every byte taken. */
void
tc_expect_eof_at(const char *file, int line, struct tconn *c)
{
    long long deadline = h_now_ms() + h_timeout_ms;

    while (c->fd != -1 && c->end == TC_OPEN && c->len == 0 && h_now_ms() < deadline)
        tc_recv(c, (int)(deadline - h_now_ms()));
    if (c->len > 0)
        h_fail_at(file, line, "port %u: expected the end, got more: %s", c->lport,
                  tc_quote(c->buf, c->len));
    if (c->end != TC_EOF)
        h_fail_at(file, line, "port %u: expected an orderly close within %d ms, got: %s", c->lport,
                  h_timeout_ms, c->fd == -1 ? "closed by the test" : tc_end_name(c->end));
}

/* Read and discard until the peer ends or ms pass. */
enum tc_end
tc_drain(struct tconn *c, int ms, size_t *bytes)
{
    long long deadline = h_now_ms() + (ms > 0 ? ms : 0);

    for (;;) {
        long long left;

        if (bytes != NULL)
            *bytes += c->len;
        c->len = 0;
        left = deadline - h_now_ms();
        if (c->fd == -1 || c->end != TC_OPEN || left <= 0)
            return c->end;
        tc_recv(c, (int)left);
    }
}

/* Shut down the sending side. */
void
tc_shutdown(struct tconn *c)
{
    if (c->fd != -1)
        shutdown(c->fd, SHUT_WR);
}

/* Close in an orderly way. */
void
tc_close(struct tconn *c)
{
    if (c->fd != -1) {
        close(c->fd);
        c->fd = -1;
    }
}

/* Close abortively: with SO_LINGER 0 the kernel sends a reset. */
void
tc_abort(struct tconn *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    if (c->fd != -1) {
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c->fd);
        c->fd = -1;
    }
}

/* Listen on 127.0.0.1, port 0. */
struct tserver *
tc_listen_at(const char *file, int line)
{
    struct sockaddr_in sin = tc_addr(0);
    struct tserver *s;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd == -1)
        h_fail_at(file, line, "tcpclient: socket: %s", strerror(errno));
    tc_fdflags(fd);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 || listen(fd, 16) == -1) {
        int err = errno;

        close(fd);
        h_fail_at(file, line, "tcpclient: listen: %s", strerror(err));
    }
    if ((s = calloc(1, sizeof *s)) == NULL)
        abort();
    s->fd = fd;
    s->port = tc_local_port(fd);
    tc_servers = tc_grow(tc_servers, tc_nservers, &tc_cservers, sizeof *tc_servers);
    tc_servers[tc_nservers++] = s;
    return s;
}

/* Accept one connection within h_timeout_ms. */
struct tconn *
tc_accept_at(const char *file, int line, struct tserver *s)
{
    long long deadline = h_now_ms() + h_timeout_ms;

    for (;;) {
        long long left = deadline - h_now_ms();
        int fd;

        if (left <= 0 || tc_wait(s->fd, POLLIN, (int)left) <= 0)
            h_fail_at(file, line, "fake server on port %u: nobody connected within %d ms", s->port,
                      h_timeout_ms);
        if ((fd = accept(s->fd, NULL, NULL)) != -1) {
            tc_fdflags(fd);
            return tc_wrap(fd);
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
            h_fail_at(file, line, "fake server on port %u: accept: %s", s->port, strerror(errno));
    }
}

/* A UDP socket connected to 127.0.0.1:port. */
int
tc_udp_at(const char *file, int line, unsigned port)
{
    struct sockaddr_in sin = tc_addr(port);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    if (fd == -1)
        h_fail_at(file, line, "tcpclient: UDP socket: %s", strerror(errno));
    tc_fdflags(fd);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
        int err = errno;

        close(fd);
        h_fail_at(file, line, "tcpclient: UDP connect to port %u: %s", port, strerror(err));
    }
    tc_udps = tc_grow(tc_udps, tc_nudps, &tc_cudps, sizeof *tc_udps);
    tc_udps[tc_nudps++] = fd;
    return fd;
}

/* Send one datagram. */
void
tc_udp_send_at(const char *file, int line, int fd, const void *data, size_t len)
{
    ssize_t n;

    do
        n = send(fd, data, len, 0);
    while (n == -1 && errno == EINTR);
    if (n != (ssize_t)len)
        h_fail_at(file, line, "tcpclient: UDP send of %zu bytes: %s", len,
                  n == -1 ? strerror(errno) : "cut short");
}

/* One datagram within ms. */
ssize_t
tc_udp_recv(int fd, char *buf, size_t cap, int ms)
{
    long long deadline = h_now_ms() + (ms > 0 ? ms : 0);

    for (;;) {
        long long left = deadline - h_now_ms();
        ssize_t n;

        if (left <= 0 || tc_wait(fd, POLLIN, (int)left) <= 0)
            return -1;
        n = recv(fd, buf, cap - 1, 0);
        if (n >= 0) {
            buf[n] = '\0';
            return n;
        }
        /* EINTR, a late ICMP "port unreachable" (ECONNREFUSED), or nothing after all. */
    }
}

/* Send a datagram and return the reply as a string. */
const char *
tc_udp_ask_at(const char *file, int line, int fd, const void *data, size_t len)
{
    static char buf[TC_MAXUDP];
    ssize_t n;

    tc_udp_send_at(file, line, fd, data, len);
    if ((n = tc_udp_recv(fd, buf, sizeof buf, h_timeout_ms)) == -1)
        h_fail_at(file, line, "UDP port %u: no reply to %s within %d ms", tc_udp_port(fd),
                  tc_quote(data, len), h_timeout_ms);
    return h_str("%.*s", (int)n, buf);
}
