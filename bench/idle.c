/* idle.c: the idle mode: open and log in every connection, hold them, then ask each once
 * more (the verification round); the server's memory before, while ready and after. */
#include "bench.h"
#include "proc.h"
#include "report.h"
#include "sock.h"
#include "tcp.h"

/* Every connection is ready: read the server's memory and hold them. */
void
idle_start(struct tcp *t)
{
    t->phase = TP_HOLD;
    if (t->o->server_pid > 0)
        t->rss1 = proc_status_kib(t->o->server_pid, "VmRSS");
    t->hold_end = bench_now() + (uint64_t)(t->o->hold * 1e9);
}

/* Connected and logged in: send the line, if any, before counting it ready. */
void
idle_ready(struct tcp *t, struct tcp_conn *c)
{
    if (t->o->line != NULL) {
        c->st = ST_REPLY;
        sock_send(t, c, "%s\r\n", t->o->line);
        return;
    }
    tcp_setup_one(t, 1);
}

/* The reply to the line sent by idle_ready: the connection is ready, or it failed. */
void
idle_on_reply(struct tcp *t, struct tcp_conn *c, const char *line, size_t len)
{
    if (!tcp_reply_ok(t, line, len)) {
        tcp_fail(t, c, "reply \"%.*s\"", (int)len, line);
        return;
    }
    c->st = ST_READY;
    tcp_setup_one(t, 1);
}

/* At the end of the hold, read the memory and verify; stop at the end of the round. */
void
idle_tick(struct tcp *t, uint64_t now)
{
    if (t->phase == TP_HOLD && now >= t->hold_end) {
        if (t->o->server_pid > 0)
            t->rss2 = proc_status_kib(t->o->server_pid, "VmRSS");
        tcp_verify(t);
    } else if (t->phase == TP_VERIFY && now >= t->run_end) {
        t->stop = 1;
    }
}

/* Print the connections held and the server's memory each. Returns 1 if one failed. */
int
idle_report(struct tcp *t)
{
    const struct bench_opts *o = t->o;
    long grow = t->rss2 - t->rss0;

    report_kv("ready", "%u", t->nready);
    report_kv("errors", "%llu", (unsigned long long)t->errors);
    report_kv("verified_bad", "%u", t->nbad);
    if (o->server_pid > 0 && t->rss0 > 0 && t->rss2 > 0 && t->nready > 0) {
        report_kv("rss_before_kib", "%ld", t->rss0);
        report_kv("rss_ready_kib", "%ld", t->rss1);
        report_kv("rss_held_kib", "%ld", t->rss2);
        report_kv("bytes_per_conn", "%.0f", (double)grow * 1024.0 / t->nready);
    }
    return t->nbad > 0 || t->nready != t->n;
}
