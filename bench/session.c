/* session.c: the session mode: connect, authenticate, available, selection of a listed slot
 * (another on "notavailable"), optional cancel, close; then again with the next user. With
 * --direct, no available: user i books slot --slot-offset + i. */
#include "bench.h"
#include "hist.h"
#include "load.h"
#include "report.h"
#include "sock.h"
#include "tcp.h"

#define SESSION_RETRIES 8 /* new choices after "notavailable" */

/* The step names, as the report prints them. */
static const char *session_step_names[STEP_N] = {"connect", "auth", "available", "selection",
                                                 "cancel"};

/* Start a new session on this connection, if the load allows one. */
void
session_begin(struct tcp *t, struct tcp_conn *c)
{
    const struct bench_opts *o = t->o;
    int measured;

    if (!load_issue(&t->load, &measured))
        return;
    c->measured = measured;
    if (t->next_user >= o->user_offset + o->users) {
        t->next_user = o->user_offset;
        if (!o->cancel) /* warm-up and measured sessions together used every user */
            report_problem("session: all %u users used, starting again at user%u (who has "
                           "booked already): fewer -n or -w, or more -u",
                           o->users, o->user_offset);
    }
    c->user = t->next_user++;
    c->retries = 0;
    c->t_start = bench_now();
    if (sock_open(t, c) == -1) {
        t->errors++;
        tcp_load_action(t, load_answered(&t->load, measured, 0, 0));
    }
}

/* Logged in: ask available, or (--direct) book the user's own slot. */
void
session_logged_in(struct tcp *t, struct tcp_conn *c)
{
    c->t_req = bench_now();
    if (t->o->direct) {
        c->slot = t->o->slot_offset + c->user;
        c->st = ST_SELECT;
        sock_send(t, c, "selection %u\n", c->slot);
        return;
    }
    c->st = ST_LIST;
    sock_send(t, c, "available\n");
}

/* The session ended (ok or not): close, count, start the next. */
void
session_end(struct tcp *t, struct tcp_conn *c, int ok)
{
    uint64_t lat = bench_now() - c->t_start;

    sock_close(t, c);
    tcp_load_action(t, load_answered(&t->load, c->measured, lat, ok));
    if (!t->stop && c->st == ST_OFF)
        session_begin(t, c);
}

/* A complete reply to available arrived: book the chosen slot, or end if none is free. */
void
session_list_done(struct tcp *t, struct tcp_conn *c)
{
    tcp_step(t, c, STEP_LIST);
    if (c->nlist == 0) {
        t->nofree++;
        session_end(t, c, 1);
        return;
    }
    c->st = ST_SELECT;
    c->t_req = bench_now();
    sock_send(t, c, "selection %u\n", c->slot);
}

/* The answer to selection: list again after "notavailable", else cancel or end. */
void
session_on_select(struct tcp *t, struct tcp_conn *c, const char *line, size_t len, int booked)
{
    if (tcp_starts(line, len, "notavailable")) {
        t->conflicts++;
        if (!t->o->direct && c->retries++ < SESSION_RETRIES) {
            c->st = ST_LIST;
            c->t_req = bench_now();
            sock_send(t, c, "available\n");
        } else {
            t->nobook++;
            session_end(t, c, 1);
        }
        return;
    }
    if (!booked) {
        tcp_fail(t, c, "selection %u: \"%.*s\"", c->slot, (int)len, line);
        return;
    }
    tcp_step(t, c, STEP_SELECT);
    t->booked++;
    if (t->o->cancel) {
        c->st = ST_CANCEL;
        c->t_req = bench_now();
        sock_send(t, c, "cancel\n");
    } else {
        session_end(t, c, 1);
    }
}

/* Print sessions, bookings, conflicts and the latency of each step. */
void
session_report(struct tcp *t)
{
    unsigned i;

    load_report(&t->load, t->errors, "session");
    report_kv("booked", "%llu", (unsigned long long)t->booked);
    report_kv("conflicts", "%llu", (unsigned long long)t->conflicts);
    report_kv("nofree", "%llu", (unsigned long long)t->nofree);
    report_kv("nobook", "%llu", (unsigned long long)t->nobook);
    for (i = 0; i < STEP_N; i++)
        if ((t->o->cancel || i != STEP_CANCEL) && (!t->o->direct || i != STEP_LIST))
            report_hist(session_step_names[i], &t->steps[i]);
}
