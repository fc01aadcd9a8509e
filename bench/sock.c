/* sock.c: the transport of the TCP engine: non-blocking connects, requests queued and
 * written, replies read and split into lines, and the epoll loop that drives it all. */
#include "sock.h"
#include "bench.h"
#include "report.h"
#include "tlsc.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCK_EVENTS 1024 /* events taken from epoll at once */
#define SOCK_TICK_MS 20  /* longest wait in epoll before the clocks are checked */

/* Watch the socket for reading, or for writing too. */
void
sock_watch(struct tcp *t, struct tcp_conn *c, int op, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    /* The generation lets sock_loop drop an event of a socket closed earlier in the batch. */
    ev.data.u64 = (uint64_t)c->gen << 32 | c->id;
    if (epoll_ctl(t->ep, op, c->fd, &ev) == -1)
        report_problem("conn %u: epoll_ctl: %s", c->id, strerror(errno));
}

/* Close the socket; the connection can be opened again. */
void
sock_close(struct tcp *t, struct tcp_conn *c)
{
    (void)t;
    if (c->ssl != NULL)
        tlsc_close(c);
    if (c->fd != -1)
        close(c->fd);
    c->fd = -1;
    c->st = ST_OFF;
    c->partlen = c->outlen = c->outoff = 0;
    c->inlist = 0;
    c->want = 0;
    c->gen++;
}

/* Start a non-blocking connect. Returns 0 or -1. */
int
sock_open(struct tcp *t, struct tcp_conn *c)
{
    unsigned k = tcp_port_of(t, c);
    int one = 1;

    c->fd = socket(t->ss[k].ss_family, SOCK_STREAM, 0);
    if (c->fd == -1) {
        report_problem("conn %u: socket: %s", c->id, strerror(errno));
        return -1;
    }
    if (fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1 || fcntl(c->fd, F_SETFD, FD_CLOEXEC) == -1)
        report_problem("conn %u: fcntl: %s", c->id, strerror(errno));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->t_req = bench_now();
    c->st = ST_CONNECTING;
    c->partlen = c->outlen = c->outoff = 0;
    if (connect(c->fd, (const struct sockaddr *)&t->ss[k], t->sslen[k]) == -1 &&
        errno != EINPROGRESS) {
        report_problem("conn %u: connect: %s", c->id, strerror(errno));
        close(c->fd);
        c->fd = -1;
        c->st = ST_OFF;
        return -1;
    }
    sock_watch(t, c, EPOLL_CTL_ADD, EPOLLOUT);
    return 0;
}

/* Write bytes on c's socket, through TLS with --tls: as send(2). */
static ssize_t
sock_write(struct tcp_conn *c, const char *p, size_t len)
{
    if (c->ssl != NULL)
        return tlsc_write(c, p, len);
    return send(c->fd, p, len, MSG_NOSIGNAL);
}

/* Queue a request and write it; what does not go waits for write readiness. */
void
sock_send(struct tcp *t, struct tcp_conn *c, const char *fmt, ...)
{
    int waiting = c->outlen > 0;
    va_list ap;
    ssize_t w;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(c->out + c->outlen, sizeof c->out - c->outlen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof c->out - c->outlen) {
        tcp_fail(t, c, "request too long");
        return;
    }
    c->outlen += (uint16_t)n;
    if (waiting)
        return;
    w = sock_write(c, c->out, c->outlen);
    if (w == (ssize_t)c->outlen) {
        c->outlen = 0;
        return;
    }
    if (w == -1 && errno != EAGAIN && errno != EINTR) {
        tcp_fail(t, c, "send: %s", strerror(errno));
        return;
    }
    c->outoff = (uint16_t)(w > 0 ? w : 0);
    sock_watch(t, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
}

/* Write the rest of a queued request. */
static void
sock_flush(struct tcp *t, struct tcp_conn *c)
{
    ssize_t w;

    if (c->outlen == 0)
        return;
    w = sock_write(c, c->out + c->outoff, c->outlen - c->outoff);
    if (w == -1) {
        if (errno != EAGAIN && errno != EINTR)
            tcp_fail(t, c, "send: %s", strerror(errno));
        return;
    }
    c->outoff += (uint16_t)w;
    if (c->outoff < c->outlen)
        return;
    c->outlen = c->outoff = 0;
    sock_watch(t, c, EPOLL_CTL_MOD, EPOLLIN);
}

/* Split what was read into lines, joining a line cut by the previous read. */
static void
sock_input(struct tcp *t, struct tcp_conn *c, const char *p, size_t n)
{
    const char *end = p + n;
    unsigned gen = c->gen;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line;
        size_t len, chunk = (size_t)((nl != NULL ? nl : end) - p);

        if (c->partlen > 0 || nl == NULL) {
            if (c->partlen + chunk > sizeof c->part) {
                tcp_fail(t, c, "reply line longer than %d bytes", TCP_PART);
                return;
            }
            memcpy(c->part + c->partlen, p, chunk);
            c->partlen += (uint16_t)chunk;
            if (nl == NULL)
                return;
            line = c->part;
            len = c->partlen;
            c->partlen = 0;
        } else {
            line = p;
            len = chunk;
        }
        if (len > 0 && line[len - 1] == '\r')
            len--;
        tcp_line(t, c, line, len);
        if (c->gen != gen || t->stop)
            return;
        p = nl + 1;
    }
}

/* Read what the socket has. */
static void
sock_read(struct tcp *t, struct tcp_conn *c)
{
    unsigned gen = c->gen;
    ssize_t n;

    for (;;) {
        n = c->ssl != NULL ? tlsc_read(c, t->rbuf, sizeof t->rbuf)
                           : read(c->fd, t->rbuf, sizeof t->rbuf);
        if (n > 0) {
            sock_input(t, c, t->rbuf, (size_t)n);
            /* TLS: a read gives one record; go on until OpenSSL wants the socket. */
            if (c->gen != gen || t->stop || (c->ssl == NULL && (size_t)n < sizeof t->rbuf))
                return;
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            return;
        tcp_fail(t, c, "%s", n == 0 ? "server closed the connection" : strerror(errno));
        return;
    }
}

/* --tls: go on with c's handshake; once done, c is connected. */
static void
sock_tls(struct tcp *t, struct tcp_conn *c)
{
    int wants_write = 0, rc;

    if (c->ssl == NULL && tlsc_start(c) == -1) {
        tcp_fail(t, c, "TLS set-up: %s", tlsc_error());
        return;
    }
    c->st = ST_TLS;
    if ((rc = tlsc_handshake(c, &wants_write)) == -1) {
        tcp_fail(t, c, "TLS handshake: %s", tlsc_error());
        return;
    }
    if (rc == 0) {
        sock_watch(t, c, EPOLL_CTL_MOD, wants_write ? EPOLLOUT : EPOLLIN);
        return;
    }
    tcp_connected(t, c);
}

/* The socket of c is ready. */
static void
sock_event(struct tcp *t, struct tcp_conn *c, uint32_t events)
{
    if (c->fd == -1)
        return;
    if (c->st == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
            err = errno;
        if (err != 0) {
            tcp_fail(t, c, "connect: %s", strerror(err));
            return;
        }
        if (t->o->tls)
            sock_tls(t, c);
        else
            tcp_connected(t, c);
        return;
    }
    if (c->st == ST_TLS) {
        sock_tls(t, c);
        return;
    }
    if (c->st == ST_TICKET) {
        handshake_ticket(t, c);
        return;
    }
    if (events & EPOLLOUT) {
        sock_flush(t, c);
        if (c->fd == -1)
            return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        sock_read(t, c);
}

/* Run the event loop until the mode is done or a deadline passes. */
void
sock_loop(struct tcp *t)
{
    struct epoll_event ev[SOCK_EVENTS];
    int i, k;

    while (!t->stop) {
        k = epoll_wait(t->ep, ev, SOCK_EVENTS, SOCK_TICK_MS);
        if (k == -1 && errno != EINTR) {
            report_problem("epoll_wait: %s", strerror(errno));
            t->errors++;
            break;
        }
        for (i = 0; i < k && !t->stop; i++) {
            struct tcp_conn *c = &t->c[(uint32_t)ev[i].data.u64];
            if ((unsigned)(ev[i].data.u64 >> 32) == c->gen)
                sock_event(t, c, ev[i].events);
        }
        if (!t->stop)
            tcp_tick(t);
    }
}
