/* fanout.c: the fanout mode: watchers wait after available while one more connection, the
 * booker (the last), reserves and cancels a slot --cycles times; every push is counted, checked
 * against the booker's request that made it, and timed from that request. With
 * --wait-pushes the booker sends its next request only once every watcher has the push of
 * the last one, so each delay is one change's, not a queue's. */
#include "bench.h"
#include "hist.h"
#include "report.h"
#include "sock.h"
#include "tcp.h"
#include "window.h"

#include <stdio.h>

/* Is the connection the booker (the last one)? */
static int
fanout_is_booker(const struct tcp *t, const struct tcp_conn *c)
{
    return c->id == t->n - 1;
}

/* The watchers still connected since the set-up. */
static unsigned
fanout_watchers(const struct tcp *t)
{
    return t->n - 1 - t->nfailed;
}

/* The booker's next request: selection of the slot, then cancel, in turn. */
static void
fanout_send(struct tcp *t, struct tcp_conn *c)
{
    uint32_t k = t->ev_sent++;

    c->t_req = bench_now();
    t->t_event[k] = c->t_req;
    t->ev_got = 0;
    if (k % 2 == 0) {
        c->st = ST_SELECT;
        sock_send(t, c, "selection %u\n", t->fan_slot);
    } else {
        c->st = ST_CANCEL;
        sock_send(t, c, "cancel\n");
    }
}

/* Is everything delivered? Then stop. */
static void
fanout_check(struct tcp *t)
{
    if (t->booker_done && t->wdone == fanout_watchers(t)) {
        window_end(&t->load.win);
        t->phase = TP_DONE;
        t->stop = 1;
    }
}

/* Once the booker's answer is in (and, with --wait-pushes, every watcher's push of it):
 * the next request, or the end after the last cycle. */
static void
fanout_next(struct tcp *t)
{
    struct tcp_conn *c = &t->c[t->n - 1];

    if (!t->booker_answered || (t->o->wait_pushes && t->ev_got < fanout_watchers(t)))
        return;
    t->booker_answered = 0;
    if (t->ev_sent == 2 * t->o->cycles) {
        t->booker_done = 1;
        fanout_check(t);
        return;
    }
    fanout_send(t, c);
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
    fanout_send(t, &t->c[t->n - 1]);
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
    c->st = ST_READY;
    t->booker_answered = 1;
    fanout_next(t);
}

/* The booker's answer to cancel: book again, or stop after the last cycle. */
void
fanout_on_cancel(struct tcp *t, struct tcp_conn *c)
{
    t->cycles++;
    c->st = ST_READY;
    t->booker_answered = 1;
    fanout_next(t);
}

/* Is the k-th push line the one the booker's k-th request made ("* reserved n" after a
 * selection, "* released n day time" after a cancel)? */
static int
fanout_push_is(const struct tcp *t, uint64_t k, const char *line, size_t len)
{
    char want[48];
    int n =
        snprintf(want, sizeof want, "* %s %u", k % 2 == 0 ? "reserved" : "released", t->fan_slot);

    return tcp_starts(line, len, want) &&
           (k % 2 == 0 ? len == (size_t)n : len > (size_t)n + 1 && line[n] == ' ');
}

/* A watcher got a push line: time it from the booker's request that made it, check it; is it
 * the last this watcher waits for, or the last watcher the booker waits for? */
void
fanout_on_push(struct tcp *t, struct tcp_conn *c, const char *line, size_t len)
{
    uint64_t k = c->pushes - 1;

    if (t->phase != TP_RUN || fanout_is_booker(t, c))
        return;
    if (k < t->ev_sent && fanout_push_is(t, k, line, len)) {
        hist_add(&t->push_lat, bench_now() - t->t_event[k]);
    } else {
        t->push_wrong++;
        report_problem("conn %u: push %llu: \"%.*s\" (not what the booker's request %llu made)",
                       c->id, (unsigned long long)k + 1, (int)len, line, (unsigned long long)k + 1);
    }
    if (c->pushes == 2 * (uint64_t)t->o->cycles) {
        t->wdone++;
        t->t_lastpush = bench_now();
        fanout_check(t);
    }
    if (k + 1 == t->ev_sent && ++t->ev_got == fanout_watchers(t))
        fanout_next(t);
}

/* Stop at the end of the time bound. */
void
fanout_tick(struct tcp *t, uint64_t now)
{
    if (t->phase == TP_RUN && now >= t->run_end) {
        report_problem("fanout: %u of %u cycles, %u of %u watchers complete at the deadline",
                       t->cycles, t->o->cycles, t->wdone, fanout_watchers(t));
        window_end(&t->load.win);
        t->stop = 1;
    }
}

/* Print the push lines delivered, their rate and delay. Returns 1 if some were missing. */
int
fanout_report(struct tcp *t)
{
    const struct bench_opts *o = t->o;
    uint64_t expect = 2 * (uint64_t)o->cycles * (t->n - 1);
    double secs =
        t->t_lastpush > t->load.win.t0 ? (double)(t->t_lastpush - t->load.win.t0) / 1e9 : 0;

    report_kv("watchers", "%u", t->n - 1);
    report_kv("cycles", "%u", t->cycles);
    report_kv("wait_pushes", "%d", o->wait_pushes);
    report_kv("push_lines", "%llu", (unsigned long long)t->pushes);
    report_kv("expected_push_lines", "%llu", (unsigned long long)expect);
    report_kv("push_wrong", "%llu", (unsigned long long)t->push_wrong);
    report_kv("errors", "%llu", (unsigned long long)t->errors);
    report_kv("push_seconds", "%.3f", secs);
    report_kv("push_lines_per_s", "%.0f", secs > 0 ? (double)t->pushes / secs : 0.0);
    window_report(&t->load.win, t->pushes, "push");
    report_hist("selection", &t->steps[STEP_SELECT]);
    report_hist("cancel", &t->steps[STEP_CANCEL]);
    report_hist("push_delay", &t->push_lat);
    return t->pushes != expect || t->push_wrong > 0;
}
