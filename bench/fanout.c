/* fanout.c: the fanout mode: watchers wait after available while one more connection, the
 * booker (the last), reserves and cancels a slot --cycles times; every push is counted. */
#include "bench.h"
#include "report.h"
#include "sock.h"
#include "tcp.h"
#include "window.h"

/* Is the connection the booker (the last one)? */
static int
fanout_is_booker(const struct tcp *t, const struct tcp_conn *c)
{
    return c->id == t->n - 1;
}

/* The booker reserves the slot. */
static void
fanout_book(struct tcp *t, struct tcp_conn *c)
{
    c->st = ST_SELECT;
    c->t_req = bench_now();
    sock_send(t, c, "selection %u\n", t->fan_slot);
}

/* Is everything delivered? Then stop. */
static void
fanout_check(struct tcp *t)
{
    if (t->booker_done && t->wdone == t->n - 1 - t->nfailed) {
        window_end(&t->load.win);
        t->phase = TP_DONE;
        t->stop = 1;
    }
}

/* Every connection is ready: the booker starts reserving and cancelling. */
void
fanout_start(struct tcp *t)
{
    t->phase = TP_RUN;
    if (t->c[t->n - 1].st != ST_READY || t->fan_slot == 0) {
        report_problem("fanout: the booker or the list is missing");
        t->stop = 1;
        return;
    }
    window_begin(&t->load.win);
    t->run_end = t->load.win.t0 + (uint64_t)(t->o->duration * 1e9);
    fanout_book(t, &t->c[t->n - 1]);
}

/* Connected and logged in: a watcher asks available, the booker is ready. */
void
fanout_ready(struct tcp *t, struct tcp_conn *c)
{
    if (!fanout_is_booker(t, c)) {
        c->st = ST_LIST;
        c->pick = 0;
        c->t_req = bench_now();
        sock_send(t, c, "available\n");
        return;
    }
    tcp_setup_one(t, 1);
}

/* The booker's answer to selection: cancel next; anything but a booking stops the run. */
void
fanout_on_select(struct tcp *t, struct tcp_conn *c, const char *line, size_t len, int booked)
{
    if (!booked) {
        tcp_fail(t, c, "booker: selection %u: \"%.*s\"", t->fan_slot, (int)len, line);
        t->stop = 1;
        return;
    }
    tcp_step(t, c, STEP_SELECT);
    c->st = ST_CANCEL;
    c->t_req = bench_now();
    sock_send(t, c, "cancel\n");
}

/* The booker's answer to cancel: book again, or stop after the last cycle. */
void
fanout_on_cancel(struct tcp *t, struct tcp_conn *c)
{
    if (++t->cycles < t->o->cycles) {
        fanout_book(t, c);
        return;
    }
    c->st = ST_READY;
    t->booker_done = 1;
    fanout_check(t);
}

/* A watcher got a push line: is it the last it waits for? */
void
fanout_on_push(struct tcp *t, struct tcp_conn *c)
{
    if (t->phase == TP_RUN && c->pushes == 2 * (uint64_t)t->o->cycles) {
        t->wdone++;
        t->t_lastpush = bench_now();
        fanout_check(t);
    }
}

/* Stop at the end of the time bound. */
void
fanout_tick(struct tcp *t, uint64_t now)
{
    if (t->phase == TP_RUN && now >= t->run_end) {
        window_end(&t->load.win);
        t->stop = 1;
    }
}

/* Print the push lines delivered and their rate. Returns 1 if some were missing. */
int
fanout_report(struct tcp *t)
{
    const struct bench_opts *o = t->o;
    uint64_t expect = 2 * (uint64_t)o->cycles * (t->n - 1);
    double secs =
        t->t_lastpush > t->load.win.t0 ? (double)(t->t_lastpush - t->load.win.t0) / 1e9 : 0;

    report_kv("watchers", "%u", t->n - 1);
    report_kv("cycles", "%u", t->cycles);
    report_kv("push_lines", "%llu", (unsigned long long)t->pushes);
    report_kv("expected_push_lines", "%llu", (unsigned long long)expect);
    report_kv("errors", "%llu", (unsigned long long)t->errors);
    report_kv("push_seconds", "%.3f", secs);
    report_kv("push_lines_per_s", "%.0f", secs > 0 ? (double)t->pushes / secs : 0.0);
    window_report(&t->load.win, t->pushes, "push");
    report_hist("selection", &t->steps[STEP_SELECT]);
    report_hist("cancel", &t->steps[STEP_CANCEL]);
    return t->pushes != expect;
}
