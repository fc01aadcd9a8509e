/* request.c: the list and line modes: on every connection, one request after another
 * (available, or the --line request), as the load phases allow. */
#include "bench.h"
#include "load.h"
#include "report.h"
#include "sock.h"
#include "tcp.h"

/* Send the next request of a list or line connection, if the load allows one. */
void
request_next(struct tcp *t, struct tcp_conn *c)
{
    int measured;

    if (!load_issue(&t->load, &measured))
        return;
    c->measured = measured;
    c->t_req = bench_now();
    if (t->o->mode == MODE_LIST) {
        c->st = ST_LIST;
        sock_send(t, c, "available\n");
    } else {
        c->st = ST_REPLY;
        sock_send(t, c, "%s\r\n", t->o->line);
    }
}

/* The answer to one request (the whole list, or the one reply line) arrived. */
void
request_answered(struct tcp *t, struct tcp_conn *c, int ok)
{
    c->st = ST_READY;
    tcp_load_action(t, load_answered(&t->load, c->measured, bench_now() - c->t_req, ok));
    if (!t->stop && c->st == ST_READY)
        request_next(t, c);
}

/* The reply line to a line-mode request: a wrong one is counted, not fatal. */
void
request_on_reply(struct tcp *t, struct tcp_conn *c, const char *line, size_t len)
{
    int ok = tcp_reply_ok(t, line, len);

    if (!ok) {
        t->errors++;
        report_problem("conn %u: reply \"%.*s\"", c->id, (int)len, line);
    }
    request_answered(t, c, ok);
}

/* Print requests, latency and the pushes seen. */
void
request_report(struct tcp *t)
{
    load_report(&t->load, t->errors, "req");
    report_kv("pushes", "%llu", (unsigned long long)t->pushes);
}
