/* udp.c: closed-loop datagram queries (insurance plans to a doctor, or memcached's UDP
 * port with its frame header): one outstanding request per socket, resent after a timeout,
 * every latency recorded; and the amplify mode, the worst reply/request byte ratio. */
#include "addr.h"
#include "bench.h"
#include "load.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_EVENTS 256
#define UDP_TICK_MS 20
#define UDP_RESEND_NS 200000000ull /* resend a request unanswered this long */
#define UDP_MCHDR 8                /* memcached's UDP frame: id, seq 0, total 1, reserved 0 */
#define UDP_MAXREQ 1500            /* bytes of one request datagram */
#define UDP_AMP_WAIT_MS 200        /* amplify: how long each probe waits for replies */

/* One socket with at most one request in flight. */
struct uc {
    int fd;
    int busy;        /* a request is outstanding */
    int measured;    /* it counts */
    uint64_t t_req;  /* first sent */
    uint64_t t_sent; /* last sent */
    uint16_t id;     /* --memcached-udp: the request id of its frame header */
};

/* The whole run. */
struct udp {
    const struct bench_opts *o;
    struct uc *c;
    unsigned n;
    int ep;
    int stop;
    uint64_t errors, resent, refused;
    size_t reqlen;
    char req[UDP_MAXREQ]; /* the request: the line, after a frame header with --memcached-udp */
    struct load load;
};

/*
 * Make the request datagram: the line as it is, or (memcached) an 8-byte
 * frame header (request id, sequence 0, 1 datagram, reserved 0) and the
 * line with CRLF. Returns its length, or 0 when it does not fit.
 */
static size_t
udp_make(char *buf, size_t size, const char *line, int mc)
{
    size_t len = strlen(line), hdr = mc ? UDP_MCHDR : 0, crlf = mc ? 2 : 0;

    if (hdr + len + crlf > size)
        return 0;
    memset(buf, 0, hdr);
    if (mc)
        buf[5] = 1; /* total datagrams: 1 (big-endian 16 bits at offset 4) */
    memcpy(buf + hdr, line, len);
    memcpy(buf + hdr + len, "\r\n", crlf);
    return hdr + len + crlf;
}

/* Send (or resend) the request of c. */
static void
udp_send(struct udp *u, struct uc *c)
{
    c->t_sent = bench_now();
    if (u->o->mc_udp) { /* the socket's request id; the reply carries it back */
        u->req[0] = (char)(c->id >> 8);
        u->req[1] = (char)(c->id & 0xff);
    }
    if (send(c->fd, u->req, u->reqlen, 0) == -1 && errno != EAGAIN && errno != ECONNREFUSED)
        report_problem("send: %s", strerror(errno));
}

/* Issue the next request on c if the load allows one. */
static void
udp_request(struct udp *u, struct uc *c)
{
    int measured;

    if (!load_issue(&u->load, &measured))
        return;
    c->busy = 1;
    c->measured = measured;
    c->t_req = bench_now();
    udp_send(u, c);
}

/* Act on what the load phases say. */
static void
udp_action(struct udp *u, enum load_action act)
{
    unsigned i;

    if (act == LOAD_STOP)
        u->stop = 1;
    else if (act == LOAD_KICK)
        for (i = 0; i < u->n; i++)
            if (!u->c[i].busy)
                udp_request(u, &u->c[i]);
}

/*
 * Read the answer waiting on c. One answer per readiness (epoll is level
 * triggered: more is reported again), so that an answered socket costs no
 * recv that finds nothing; late copies of answered requests are skipped.
 */
static void
udp_read(struct udp *u, struct uc *c)
{
    char buf[UDP_MAXREQ + 1];
    const char *text;
    ssize_t n;
    int ok;

    while ((n = recv(c->fd, buf, sizeof buf - 1, 0)) != -1 || errno == ECONNREFUSED) {
        if (n == -1) {
            u->refused++; /* nobody listens yet: the resend timer tries again */
            continue;
        }
        if (!c->busy)
            continue; /* a late answer to a request already answered */
        buf[n] = '\0';
        text = buf;
        if (u->o->mc_udp) { /* its frame header: our request id, datagram 1 of 1 */
            if (n < UDP_MCHDR || ((unsigned char)buf[0] << 8 | (unsigned char)buf[1]) != c->id ||
                buf[2] != 0 || buf[3] != 0 || buf[4] != 0 || buf[5] != 1)
                text = "error: not the frame header of this socket's request";
            else
                text = buf + UDP_MCHDR;
        }
        ok = text[0] != '\0' && strncmp(text, "error", 5) != 0 &&
             (u->o->expect == NULL || strncmp(text, u->o->expect, strlen(u->o->expect)) == 0);
        if (!ok) {
            u->errors++;
            report_problem("answer \"%.60s\"", text);
        }
        c->busy = 0;
        udp_action(u, load_answered(&u->load, c->measured, bench_now() - c->t_req, ok));
        if (u->stop)
            return;
        if (!c->busy) /* a new phase may have given c a request already */
            udp_request(u, c);
        return;
    }
}

/* Resend what has waited too long; check the phases and the deadline. */
static void
udp_tick(struct udp *u)
{
    uint64_t now = bench_now();
    unsigned i;

    for (i = 0; i < u->n; i++) {
        struct uc *c = &u->c[i];
        if (c->busy && now - c->t_sent >= UDP_RESEND_NS) {
            u->resent++;
            udp_send(u, c);
        }
    }
    udp_action(u, load_tick(&u->load));
    if (!u->stop && now >= load_deadline(&u->load)) {
        report_problem("%llu requests unanswered at the deadline",
                       (unsigned long long)u->load.outstanding);
        u->errors += u->load.outstanding;
        u->stop = 1;
    }
}

/* Run the udp mode. */
int
udp_run(const struct bench_opts *o)
{
    struct sockaddr_storage ss;
    struct epoll_event ev[UDP_EVENTS];
    socklen_t sslen;
    struct udp u;
    char err[256];
    unsigned i;
    int rc = 1, k;

    memset(&u, 0, sizeof u);
    u.o = o;
    u.n = o->conns;
    u.ep = -1;
    if ((u.reqlen = udp_make(u.req, sizeof u.req, o->line, o->mc_udp)) == 0 && o->mc_udp) {
        fprintf(stderr, "hcs-bench: --line is too long for one datagram\n");
        return 1;
    }
    if (addr_resolve(o->host, o->port, o->allow_remote, &ss, &sslen, err, sizeof err) == -1) {
        fprintf(stderr, "hcs-bench: %s\n", err);
        return 1;
    }
    if ((u.c = calloc(u.n, sizeof *u.c)) == NULL || load_init(&u.load, o) == -1 ||
        (u.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
        goto out;
    for (i = 0; i < u.n; i++) {
        u.c[i].fd = -1;
        u.c[i].id = (uint16_t)i;
    }
    for (i = 0; i < u.n; i++) {
        struct epoll_event e;
        struct uc *c = &u.c[i];

        if ((c->fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1 ||
            fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1 ||
            connect(c->fd, (struct sockaddr *)&ss, sslen) == -1) {
            fprintf(stderr, "hcs-bench: udp socket: %s\n", strerror(errno));
            goto out;
        }
        memset(&e, 0, sizeof e);
        e.events = EPOLLIN;
        e.data.u32 = i;
        if (epoll_ctl(u.ep, EPOLL_CTL_ADD, c->fd, &e) == -1)
            goto out;
    }
    udp_action(&u, load_start(&u.load));
    while (!u.stop) {
        k = epoll_wait(u.ep, ev, UDP_EVENTS, UDP_TICK_MS);
        for (i = 0; k > 0 && i < (unsigned)k && !u.stop; i++)
            udp_read(&u, &u.c[ev[i].data.u32]);
        if (!u.stop)
            udp_tick(&u);
    }
    report_kv("conns", "%u", u.n);
    load_report(&u.load, u.errors, "req");
    report_kv("resent", "%llu", (unsigned long long)u.resent);
    report_kv("refused", "%llu", (unsigned long long)u.refused);
    report_flush();
    rc = u.errors > 0 ? 2 : 0;
out:
    if (rc == 1 && u.c != NULL)
        fprintf(stderr, "hcs-bench: udp set-up failed\n");
    if (u.c != NULL)
        for (i = 0; i < u.n; i++)
            if (u.c[i].fd != -1)
                close(u.c[i].fd);
    window_close(&u.load.win);
    if (u.ep != -1)
        close(u.ep);
    free(u.c);
    return rc;
}

/* One probe of the amplify mode: bytes (or a byte repeated) and a name for the report. */
struct udp_probe {
    const char *name;
    const char *data; /* NULL: size bytes of fill */
    size_t size;
    char fill;
};

/* The worst requests: empty, one byte, unknown and bad plans, long garbage. */
static const struct udp_probe udp_probes[] = {
    {"empty", "", 0, 0},
    {"one-byte", "x", 1, 0},
    {"newline", "\n", 1, 0},
    {"unknown-short", "zz", 2, 0},
    {"unknown", "nosuchplan", 10, 0},
    {"bad-bytes", "\x01\x02\x03", 3, 0},
    {"garbage-63", NULL, 63, '\xff'},
    {"garbage-512", NULL, 512, '\xff'},
    {"garbage-1400", NULL, 1400, 'q'},
    {"line", NULL, 0, 0}, /* --line, as udp sends it */
};

/*
 * Send one probe on fd and total the bytes of every reply that comes within
 * UDP_AMP_WAIT_MS. Returns the reply bytes, or -1 on a send error.
 */
static long
udp_probe(int fd, const char *req, size_t len, unsigned *replies)
{
    char buf[65536];
    uint64_t end;
    long total = 0;
    ssize_t n;

    *replies = 0;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) /* late replies of the last probe */
        ;
    if (send(fd, req, len, 0) == -1 && errno != ECONNREFUSED)
        return -1;
    end = bench_now() + UDP_AMP_WAIT_MS * 1000000ull;
    for (;;) {
        uint64_t now = bench_now();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};

        if (now >= end || poll(&pfd, 1, (int)((end - now) / 1000000u) + 1) <= 0)
            break; /* the wait is over */
        if ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) == -1)
            continue; /* ECONNREFUSED (nobody listens), EAGAIN */
        total += n;
        (*replies)++;
    }
    return total;
}

/*
 * The amplify mode: send each probe of udp_probes (with --memcached-udp,
 * after the frame header), wait for what comes back, and report the worst
 * ratio of reply bytes to request bytes (an empty request answered counts
 * its reply bytes as the ratio).
 */
int
udp_amplify_run(const struct bench_opts *o)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    char err[256], data[UDP_MAXREQ], req[UDP_MAXREQ];
    double worst = 0;
    const char *worst_name = "none";
    unsigned i, answered = 0;
    int fd;

    if (addr_resolve(o->host, o->port, o->allow_remote, &ss, &sslen, err, sizeof err) == -1) {
        fprintf(stderr, "hcs-bench: %s\n", err);
        return 1;
    }
    if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1 ||
        connect(fd, (struct sockaddr *)&ss, sslen) == -1) {
        fprintf(stderr, "hcs-bench: udp socket: %s\n", strerror(errno));
        if (fd != -1)
            close(fd);
        return 1;
    }
    for (i = 0; i < sizeof udp_probes / sizeof udp_probes[0]; i++) {
        const struct udp_probe *p = &udp_probes[i];
        size_t len = p->size, hdr = o->mc_udp ? UDP_MCHDR : 0;
        unsigned replies;
        double ratio;
        long got;

        if (p->data == NULL && p->size == 0) { /* the line, as the udp mode sends it */
            if (o->line == NULL || (len = udp_make(req, sizeof req, o->line, o->mc_udp)) == 0)
                continue;
        } else {
            if (p->data != NULL)
                memcpy(data, p->data, len);
            else
                memset(data, p->fill, len);
            if (hdr + len > sizeof req)
                len = sizeof req - hdr;
            memset(req, 0, hdr);
            if (o->mc_udp)
                req[5] = 1;
            memcpy(req + hdr, data, len);
            len += hdr;
        }
        if ((got = udp_probe(fd, req, len, &replies)) == -1) {
            fprintf(stderr, "hcs-bench: send: %s\n", strerror(errno));
            close(fd);
            return 1;
        }
        ratio = len > 0 ? (double)got / (double)len : (double)got;
        printf("  probe %-14s request %4zu bytes, %u repl%s, %5ld bytes: ratio %.2f\n", p->name,
               len, replies, replies == 1 ? "y" : "ies", got, ratio);
        answered += replies > 0;
        if (ratio > worst) {
            worst = ratio;
            worst_name = p->name;
        }
    }
    close(fd);
    report_kv("probes", "%zu", sizeof udp_probes / sizeof udp_probes[0]);
    report_kv("answered", "%u", answered);
    report_kv("amp_max_ratio", "%.2f", worst);
    report_kv("amp_worst", "%s", worst_name);
    report_flush();
    return 0;
}
