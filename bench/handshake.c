/* handshake.c: the handshake mode (--tls): connect, complete a TLS handshake, close; then
 * again. Full handshakes, or with --tls-resume each resumes the session (ticket) the
 * connection's last handshake got, and reads the new ticket before closing. */
#include "bench.h"
#include "load.h"
#include "report.h"
#include "sock.h"
#include "tcp.h"
#include "tlsc.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

/* Open the next connection, if the load allows one. */
void
handshake_begin(struct tcp *t, struct tcp_conn *c)
{
    int measured;

    if (!load_issue(&t->load, &measured))
        return;
    c->measured = measured;
    c->t_start = bench_now();
    if (sock_open(t, c) == -1) {
        t->errors++;
        tcp_load_action(t, load_answered(&t->load, measured, 0, 0));
    }
}

/* The connection ended: close, count, start the next. */
void
handshake_end(struct tcp *t, struct tcp_conn *c, int ok)
{
    uint64_t lat = bench_now() - c->t_start;

    if (ok && c->measured && tlsc_resumed(c))
        t->resumed++;
    sock_close(t, c);
    tcp_load_action(t, load_answered(&t->load, c->measured, lat, ok));
    if (!t->stop && c->st == ST_OFF)
        handshake_begin(t, c);
}

/* In ST_TICKET: read (nothing comes but the ticket) until this connection's session came. */
void
handshake_ticket(struct tcp *t, struct tcp_conn *c)
{
    char buf[256];
    ssize_t n;

    while ((n = tlsc_read(c, buf, sizeof buf)) > 0)
        ;
    if (c->tls_newsess) {
        handshake_end(t, c, 1);
        return;
    }
    if (n == 0 || errno != EAGAIN)
        tcp_fail(t, c, "no session ticket before the end: %s", n == 0 ? "closed" : strerror(errno));
}

/* The handshake is done. */
void
handshake_done(struct tcp *t, struct tcp_conn *c)
{
    if (t->o->tls_resume && !c->tls_newsess) {
        c->st = ST_TICKET;
        sock_watch(t, c, EPOLL_CTL_MOD, EPOLLIN);
        handshake_ticket(t, c);
        return;
    }
    handshake_end(t, c, 1);
}

/* Print handshakes, their latency and how many resumed. */
void
handshake_report(struct tcp *t)
{
    load_report(&t->load, t->errors, "handshake");
    report_kv("resumed", "%llu", (unsigned long long)t->resumed);
    if (t->o->tls_resume && t->resumed == 0) {
        report_problem("no handshake resumed a session");
        t->errors++;
    }
}
