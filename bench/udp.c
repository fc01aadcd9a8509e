/* udp.c: closed-loop datagram queries (insurance plans to a doctor): one outstanding
 * request per socket, resent after a timeout, every latency recorded. */
#include "addr.h"
#include "bench.h"
#include "load.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_EVENTS 256
#define UDP_TICK_MS 20
#define UDP_RESEND_NS 200000000ull /* resend a request unanswered this long */

/* One socket with at most one request in flight. */
struct uc {
    int fd;
    int busy;        /* a request is outstanding */
    int measured;    /* it counts */
    uint64_t t_req;  /* first sent */
    uint64_t t_sent; /* last sent */
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
    struct load load;
};

/* Send (or resend) the request of c. */
static void
udp_send(struct udp *u, struct uc *c)
{
    c->t_sent = bench_now();
    if (send(c->fd, u->o->line, u->reqlen, 0) == -1 && errno != EAGAIN && errno != ECONNREFUSED)
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

/* Read the answers waiting on c. */
static void
udp_read(struct udp *u, struct uc *c)
{
    char buf[600];
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
        ok = n > 0 && strncmp(buf, "error", 5) != 0 &&
             (u->o->expect == NULL || strncmp(buf, u->o->expect, strlen(u->o->expect)) == 0);
        if (!ok) {
            u->errors++;
            report_problem("answer \"%.*s\"", (int)(n > 60 ? 60 : n), buf);
        }
        c->busy = 0;
        udp_action(u, load_answered(&u->load, c->measured, bench_now() - c->t_req, ok));
        if (u->stop)
            return;
        if (!c->busy) /* a new phase may have given c a request already */
            udp_request(u, c);
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
    u.reqlen = strlen(o->line);
    if (addr_resolve(o->host, o->port, o->allow_remote, &ss, &sslen, err, sizeof err) == -1) {
        fprintf(stderr, "hcs-bench: %s\n", err);
        return 1;
    }
    if ((u.c = calloc(u.n, sizeof *u.c)) == NULL || load_init(&u.load, o) == -1 ||
        (u.ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
        goto out;
    for (i = 0; i < u.n; i++)
        u.c[i].fd = -1;
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
