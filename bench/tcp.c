/* tcp.c: the TCP modes (session, list, line, idle, race, fanout): the run, its set-up, the
 * dispatch of each reply to its mode, the verification round of race and idle, and the
 * clock. One outstanding request per connection, every latency recorded. */
#include "addr.h"
#include "bench.h"
#include "hist.h"
#include "load.h"
#include "proc.h"
#include "report.h"
#include "sock.h"
#include "tcp.h"
#include "tlsc.h"
#include "window.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define TCP_VERIFY_SECS 30 /* bound on the verification round of race and idle */

/* Does the line start with this prefix? */
int
tcp_starts(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && memcmp(line, prefix, n) == 0;
}

/* Which of the ports of -p connection c uses: i mod nports; in fanout with several ports the
 * booker (the last connection) uses the first and the watchers share the others, so that
 * every push a watcher gets crossed from one server to another. */
unsigned
tcp_port_of(const struct tcp *t, const struct tcp_conn *c)
{
    unsigned n = t->o->nports;

    if (n <= 1)
        return 0;
    if (t->o->mode == MODE_FANOUT)
        return c->id == t->n - 1 ? 0 : 1 + c->id % (n - 1);
    return c->id % n;
}

/* Parse a decimal number at the start of s (stops at a space or the end). */
static int
tcp_number(const char *s, size_t len, uint32_t *out)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < len && s[i] != ' '; i++) {
        if (s[i] < '0' || s[i] > '9' || v > UINT32_MAX / 10)
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Is this reply an error of the server (ours or a peer's)? */
static int
tcp_is_error(const char *line, size_t len)
{
    return tcp_starts(line, len, "error") || tcp_starts(line, len, "ERROR") ||
           tcp_starts(line, len, "CLIENT_ERROR") || tcp_starts(line, len, "SERVER_ERROR");
}

/* Is the one-line reply good for line mode and idle? */
int
tcp_reply_ok(const struct tcp *t, const char *line, size_t len)
{
    if (t->o->expect != NULL)
        return tcp_starts(line, len, t->o->expect);
    return !tcp_is_error(line, len);
}

/* ---- set-up: connect and log in every connection ---- */

/* Open more connections while fewer than the burst are in flight. */
static void
tcp_fill(struct tcp *t)
{
    while (t->phase == TP_SETUP && t->connecting < t->o->connect_burst && t->next_connect < t->n) {
        struct tcp_conn *c = &t->c[t->next_connect++];
        if (sock_open(t, c) == -1) {
            t->errors++;
            t->nfailed++;
            continue;
        }
        t->connecting++;
    }
}

/* The user number of a connection in the set-up modes. */
static uint32_t
tcp_user_of(const struct tcp *t, const struct tcp_conn *c)
{
    return t->o->user_offset + c->id;
}

/* Act on what the load phases say. */
void
tcp_load_action(struct tcp *t, enum load_action act)
{
    unsigned i;

    if (act == LOAD_STOP) {
        t->stop = 1;
        t->phase = TP_DONE;
    } else if (act == LOAD_KICK) {
        for (i = 0; i < t->n; i++) {
            struct tcp_conn *c = &t->c[i];
            if (t->o->mode == MODE_SESSION && c->st == ST_OFF)
                session_begin(t, c);
            else if (t->o->mode == MODE_TLS_HS && c->st == ST_OFF)
                handshake_begin(t, c);
            else if (t->o->mode != MODE_SESSION && c->st == ST_READY)
                request_next(t, c);
        }
    }
}

/* Every connection is ready (or failed): start the mode's run. */
static void
tcp_setup_done(struct tcp *t)
{
    if (t->nready == 0) {
        report_problem("no connection could be set up");
        t->stop = 1;
        return;
    }
    switch (t->o->mode) {
    case MODE_LIST:
    case MODE_LINE:
        t->phase = TP_RUN;
        tcp_load_action(t, load_start(&t->load));
        break;
    case MODE_RACE:
        race_fire(t);
        break;
    case MODE_FANOUT:
        fanout_start(t);
        break;
    case MODE_IDLE:
        idle_start(t);
        break;
    default:
        break;
    }
}

/* One more connection finished its set-up. */
void
tcp_setup_one(struct tcp *t, int ok)
{
    if (ok)
        t->nready++;
    else
        t->nfailed++;
    if (t->phase == TP_SETUP && t->nready + t->nfailed == t->n)
        tcp_setup_done(t);
}

/* Connected and logged in (or no login needed). */
static void
tcp_ready(struct tcp *t, struct tcp_conn *c)
{
    c->st = ST_READY;
    switch (t->o->mode) {
    case MODE_FANOUT:
        fanout_ready(t, c);
        break;
    case MODE_IDLE:
        idle_ready(t, c);
        break;
    default:
        tcp_setup_one(t, 1);
        break;
    }
}

/* The socket of c connected: log in, or go straight to ready. */
void
tcp_connected(struct tcp *t, struct tcp_conn *c)
{
    if (t->phase == TP_SETUP && t->connecting > 0) {
        t->connecting--;
        tcp_fill(t);
    }
    sock_watch(t, c, EPOLL_CTL_MOD, EPOLLIN);
    tcp_step(t, c, STEP_CONNECT);
    if (t->o->mode == MODE_TLS_HS) {
        handshake_done(t, c);
        return;
    }
    if (t->o->auth) {
        c->st = ST_AUTH;
        if (t->o->mode != MODE_SESSION)
            c->user = tcp_user_of(t, c);
        c->t_req = bench_now();
        sock_send(t, c, "authenticate user%u pw%u\n", c->user, c->user);
    } else {
        tcp_ready(t, c);
    }
}

/* Record the latency of a step of the outstanding request. */
void
tcp_step(struct tcp *t, struct tcp_conn *c, enum tcp_step step)
{
    if (c->measured || t->o->mode != MODE_SESSION)
        hist_add(&t->steps[step], bench_now() - c->t_req);
}

/* ---- failures ---- */

/* One more verification answer (or failure): stop after the last. */
static void
tcp_verify_one(struct tcp *t)
{
    if (++t->nverified == t->nready) {
        t->phase = TP_DONE;
        t->stop = 1;
    }
}

/* A connection broke or got a wrong answer: count it and carry on without it. */
void
tcp_fail(struct tcp *t, struct tcp_conn *c, const char *fmt, ...)
{
    char why[200];
    enum tcp_conn_state st = c->st;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    report_problem("conn %u (user%u): %s", c->id, c->user, why);
    t->errors++;
    if (t->o->mode == MODE_SESSION) {
        session_end(t, c, 0);
        return;
    }
    if (t->o->mode == MODE_TLS_HS) {
        handshake_end(t, c, 0);
        return;
    }
    sock_close(t, c);
    if ((st == ST_CONNECTING || st == ST_TLS) && t->connecting > 0) {
        t->connecting--;
        tcp_fill(t);
    }
    if (t->phase == TP_SETUP) {
        tcp_setup_one(t, 0);
        return;
    }
    if ((t->o->mode == MODE_LIST || t->o->mode == MODE_LINE) && st != ST_READY)
        tcp_load_action(t, load_answered(&t->load, c->measured, 0, 0));
    if (t->o->mode == MODE_RACE && t->phase == TP_RUN && st == ST_SELECT) {
        t->nanswered++;
        race_check(t);
    }
    if (t->phase == TP_VERIFY && (st == ST_APPT || st == ST_REPLY)) {
        t->nbad++;
        tcp_verify_one(t);
    }
}

/* ---- replies ---- */

/* A complete reply to available arrived. */
static void
tcp_list_done(struct tcp *t, struct tcp_conn *c)
{
    switch (t->o->mode) {
    case MODE_LIST:
        request_answered(t, c, 1);
        break;
    case MODE_SESSION:
        session_list_done(t, c);
        break;
    case MODE_FANOUT:
        c->st = ST_READY;
        tcp_setup_one(t, 1);
        break;
    default:
        break;
    }
}

/* A line while reading the reply to available. */
static void
tcp_on_list(struct tcp *t, struct tcp_conn *c, const char *line, size_t len)
{
    uint32_t v;

    if (!c->inlist) {
        if (!tcp_starts(line, len, "slots ") || tcp_number(line + 6, len - 6, &v) == -1) {
            tcp_fail(t, c, "expected \"slots n\", got \"%.*s\"", (int)len, line);
            return;
        }
        c->nlist = v;
        c->pos = 0;
        if (v == 0) {
            tcp_list_done(t, c);
            return;
        }
        c->inlist = 1;
        c->want = v;
        if (t->o->mode == MODE_SESSION)
            c->pick = (uint32_t)(((uint64_t)c->user * 2654435761u + c->retries) % v);
        return;
    }
    if (c->pos == c->pick) {
        if (tcp_number(line, len, &v) == -1) {
            tcp_fail(t, c, "bad slot line \"%.*s\"", (int)len, line);
            return;
        }
        if (t->o->mode == MODE_SESSION)
            c->slot = v;
        else if (t->o->mode == MODE_FANOUT && t->fan_slot == 0)
            t->fan_slot = v;
    }
    c->pos++;
    if (--c->want == 0) {
        c->inlist = 0;
        tcp_list_done(t, c);
    }
}

/* The answer to selection. */
static void
tcp_on_select(struct tcp *t, struct tcp_conn *c, const char *line, size_t len)
{
    int booked = !tcp_starts(line, len, "notavailable") && !tcp_is_error(line, len) &&
                 memchr(line, ' ', len) != NULL;

    switch (t->o->mode) {
    case MODE_SESSION:
        session_on_select(t, c, line, len, booked);
        break;
    case MODE_RACE:
        race_on_select(t, c, line, len, booked);
        break;
    case MODE_FANOUT:
        fanout_on_select(t, c, line, len, booked);
        break;
    default:
        tcp_fail(t, c, "unexpected selection answer");
        break;
    }
}

/* The answer to cancel. */
static void
tcp_on_cancel(struct tcp *t, struct tcp_conn *c, const char *line, size_t len)
{
    if (!tcp_starts(line, len, "cancelled ")) {
        tcp_fail(t, c, "cancel: \"%.*s\"", (int)len, line);
        if (t->o->mode == MODE_FANOUT)
            t->stop = 1;
        return;
    }
    tcp_step(t, c, STEP_CANCEL);
    if (t->o->mode == MODE_SESSION)
        session_end(t, c, 1);
    else
        fanout_on_cancel(t, c);
}

/* A push line ("* reserved n" or "* released n day time"). */
static void
tcp_on_push(struct tcp *t, struct tcp_conn *c, const char *line, size_t len)
{
    c->pushes++;
    t->pushes++;
    if (t->o->mode == MODE_FANOUT)
        fanout_on_push(t, c, line, len);
}

/* The answer to a verification request (race: appointment; idle: its line). */
static void
tcp_on_verify(struct tcp *t, struct tcp_conn *c, const char *line, size_t len)
{
    int ok;

    if (t->o->mode == MODE_RACE)
        ok = race_verified(c, line, len);
    else if (t->o->line != NULL)
        ok = tcp_reply_ok(t, line, len);
    else
        ok = tcp_starts(line, len, "appointment ");
    if (!ok) {
        t->nbad++;
        report_problem("conn %u: verification: \"%.*s\"", c->id, (int)len, line);
    }
    c->st = ST_READY;
    tcp_verify_one(t);
}

/* Handle one line from the server. */
void
tcp_line(struct tcp *t, struct tcp_conn *c, const char *line, size_t len)
{
    if (len >= 2 && line[0] == '*' && line[1] == ' ' && t->o->mode != MODE_LINE) {
        tcp_on_push(t, c, line, len);
        return;
    }
    switch (c->st) {
    case ST_AUTH:
        if (len == 7 && memcmp(line, "success", 7) == 0) {
            tcp_step(t, c, STEP_AUTH);
            if (t->o->mode == MODE_SESSION) {
                session_logged_in(t, c);
            } else {
                tcp_ready(t, c);
            }
        } else {
            tcp_fail(t, c, "login answered \"%.*s\"", (int)len, line);
        }
        break;
    case ST_LIST:
        tcp_on_list(t, c, line, len);
        break;
    case ST_SELECT:
        tcp_on_select(t, c, line, len);
        break;
    case ST_CANCEL:
        tcp_on_cancel(t, c, line, len);
        break;
    case ST_APPT:
        tcp_on_verify(t, c, line, len);
        break;
    case ST_REPLY:
        if (t->phase == TP_VERIFY)
            tcp_on_verify(t, c, line, len);
        else if (t->o->mode == MODE_IDLE)
            idle_on_reply(t, c, line, len);
        else
            request_on_reply(t, c, line, len);
        break;
    default:
        tcp_fail(t, c, "unexpected line \"%.*s\"", (int)len, line);
        break;
    }
}

/* ---- the clock ---- */

/* Start the verification round of race and idle. */
void
tcp_verify(struct tcp *t)
{
    unsigned i;

    t->phase = TP_VERIFY;
    t->run_end = bench_now() + (uint64_t)TCP_VERIFY_SECS * 1000000000u;
    t->nready = 0;
    for (i = 0; i < t->n; i++) {
        struct tcp_conn *c = &t->c[i];
        if (c->fd == -1 || c->st != ST_READY)
            continue;
        t->nready++;
        if (t->o->mode == MODE_RACE) {
            c->st = ST_APPT;
            sock_send(t, c, "appointment\n");
        } else {
            c->st = ST_REPLY;
            if (t->o->line != NULL)
                sock_send(t, c, "%s\r\n", t->o->line);
            else
                sock_send(t, c, "appointment\n");
        }
    }
    if (t->nready == 0) {
        t->phase = TP_DONE;
        t->stop = 1;
    }
}

/* Check deadlines and time-driven phase changes. */
void
tcp_tick(struct tcp *t)
{
    uint64_t now = bench_now();

    if (t->phase == TP_SETUP) {
        if (now >= t->setup_end) {
            report_problem("set-up not finished after %.0f s: %u of %u ready", t->o->setup_timeout,
                           t->nready, t->n);
            t->errors += t->n - t->nready - t->nfailed;
            t->stop = 1;
        }
        return;
    }
    switch (t->o->mode) {
    case MODE_SESSION:
    case MODE_TLS_HS:
    case MODE_LIST:
    case MODE_LINE:
        tcp_load_action(t, load_tick(&t->load));
        if (!t->stop && now >= load_deadline(&t->load)) {
            report_problem("%llu requests unanswered at the deadline",
                           (unsigned long long)t->load.outstanding);
            t->errors += t->load.outstanding;
            t->stop = 1;
        }
        break;
    case MODE_RACE:
        race_tick(t, now);
        break;
    case MODE_FANOUT:
        fanout_tick(t, now);
        break;
    case MODE_IDLE:
        idle_tick(t, now);
        break;
    default:
        break;
    }
}

/* ---- the run ---- */

/* Print the results of the run. Returns the exit status. */
static int
tcp_report(struct tcp *t)
{
    const struct bench_opts *o = t->o;
    int bad = t->errors > 0;

    report_kv("conns", "%u", o->mode == MODE_FANOUT ? t->n - 1 : t->n);
    report_kv("servers", "%u", o->nports);
    switch (o->mode) {
    case MODE_SESSION:
        session_report(t);
        break;
    case MODE_TLS_HS:
        handshake_report(t);
        break;
    case MODE_LIST:
    case MODE_LINE:
        request_report(t);
        break;
    case MODE_IDLE:
        if (idle_report(t))
            bad = 1;
        break;
    case MODE_RACE:
        bad = race_report(t);
        break;
    case MODE_FANOUT:
        if (fanout_report(t))
            bad = 1;
        break;
    default:
        break;
    }
    report_flush();
    return bad ? 2 : 0;
}

/* Run a TCP mode. */
int
tcp_run(const struct bench_opts *o)
{
    struct tcp *t;
    char err[256];
    unsigned i;
    int rc = 1;

    if ((t = calloc(1, sizeof *t)) == NULL)
        return 1;
    t->o = o;
    t->ep = -1;
    for (i = 0; i < o->nports; i++) {
        if (addr_resolve(o->host, o->ports[i], o->allow_remote, &t->ss[i], &t->sslen[i], err,
                         sizeof err) == -1) {
            fprintf(stderr, "hcs-bench: %s\n", err);
            goto out;
        }
    }
    t->n = o->conns + (o->mode == MODE_FANOUT ? 1 : 0);
    if (o->mode == MODE_FANOUT && o->nports > 1 && o->conns < o->nports - 1) {
        fprintf(stderr, "hcs-bench: fanout needs a watcher for every port but the first\n");
        goto out;
    }
    if ((t->c = calloc(t->n, sizeof *t->c)) == NULL ||
        (o->mode == MODE_RACE && (t->taken = calloc(o->slots, 1)) == NULL) ||
        (o->mode == MODE_FANOUT && (t->t_event = calloc(2 * (size_t)o->cycles, 8)) == NULL)) {
        fprintf(stderr, "hcs-bench: out of memory\n");
        goto out;
    }
    for (i = 0; i < t->n; i++) {
        t->c[i].fd = -1;
        t->c[i].id = i;
    }
    for (i = 0; i < STEP_N; i++)
        hist_init(&t->steps[i]);
    hist_init(&t->push_lat);
    if ((t->ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
        fprintf(stderr, "hcs-bench: epoll_create1: %s\n", strerror(errno));
        goto out;
    }
    if (load_init(&t->load, o) == -1)
        goto out;
    t->next_user = o->user_offset;
    if (o->mode == MODE_IDLE && o->server_pid > 0)
        t->rss0 = proc_status_kib(o->server_pid, "VmRSS");
    if (o->tls && tlsc_init(o) == -1)
        goto out;
    if (o->mode == MODE_SESSION || o->mode == MODE_TLS_HS) {
        t->phase = TP_RUN;
        tcp_load_action(t, load_start(&t->load));
    } else {
        t->phase = TP_SETUP;
        t->setup_end = bench_now() + (uint64_t)(o->setup_timeout * 1e9);
        tcp_fill(t);
    }
    sock_loop(t);
    rc = tcp_report(t);
out:
    if (t->c != NULL)
        for (i = 0; i < t->n; i++) {
            sock_close(t, &t->c[i]);
            tlsc_forget(&t->c[i]);
        }
    if (o->tls)
        tlsc_free();
    window_close(&t->load.win);
    if (t->ep != -1)
        close(t->ep);
    free(t->taken);
    free(t->t_event);
    free(t->c);
    free(t);
    return rc;
}
