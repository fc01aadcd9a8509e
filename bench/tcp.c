/* tcp.c: the TCP modes (session, list, line, idle, race, fanout) on non-blocking sockets
 * and epoll: one outstanding request per connection, every latency recorded. */
#include "addr.h"
#include "bench.h"
#include "hist.h"
#include "load.h"
#include "proc.h"
#include "report.h"
#include "window.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TCP_PART 256       /* bytes of one reply line kept across reads */
#define TCP_OUT 192        /* bytes of one queued request */
#define TCP_RBUF 65536     /* bytes read at once */
#define TCP_EVENTS 1024    /* events taken from epoll at once */
#define TCP_RETRIES 8      /* session: new choices after "notavailable" */
#define TCP_TICK_MS 20     /* longest wait in epoll before the clocks are checked */
#define TCP_VERIFY_SECS 30 /* bound on the verification round of race and idle */

/* Where one connection is. */
enum tc_state {
    TC_OFF,        /* no socket */
    TC_CONNECTING, /* connect() in progress */
    TC_AUTH,       /* authenticate sent */
    TC_READY,      /* connected (and logged in); nothing outstanding */
    TC_LIST,       /* available sent; reading "slots n" and n lines */
    TC_REPLY,      /* a one-line request sent (line mode, idle) */
    TC_SELECT,     /* selection sent */
    TC_CANCEL,     /* cancel sent */
    TC_APPT,       /* appointment sent (race verification) */
};

/* Steps of a session (and of the fanout booker), each with its own latencies. */
enum tc_step { STEP_CONNECT, STEP_AUTH, STEP_LIST, STEP_SELECT, STEP_CANCEL, STEP_N };
static const char *tcp_step_names[STEP_N] = {"connect", "auth", "available", "selection", "cancel"};

/* Phases of the whole run. */
enum tcp_phase { TP_SETUP, TP_RUN, TP_HOLD, TP_VERIFY, TP_DONE };

/* One client connection. */
struct tc {
    int fd;
    unsigned id;
    unsigned gen; /* bumped on close, so a handler can tell its socket went away */
    enum tc_state st;
    uint32_t user;
    uint32_t nlist; /* n of the "slots n" being read; */
    uint32_t want;  /* list lines still to come; 0 with inlist == 0: "slots n" next */
    int inlist;
    uint32_t pos;  /* list line number being read */
    uint32_t pick; /* list line whose index this connection wants */
    uint32_t slot; /* session: chosen slot; race, fanout: slot asked for */
    int measured;  /* the outstanding request counts */
    int won;       /* race: 1 won, 0 lost, -1 no valid answer */
    unsigned retries;
    uint64_t t_req;   /* when the outstanding request was sent */
    uint64_t t_start; /* session: when it began */
    uint64_t pushes;
    uint16_t partlen, outlen, outoff;
    char part[TCP_PART];
    char out[TCP_OUT];
};

/* The whole run. */
struct tcp {
    const struct bench_opts *o;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int ep;
    struct tc *c;
    unsigned n;
    enum tcp_phase phase;
    int stop;
    uint64_t setup_end;       /* deadline of the set-up */
    unsigned next_connect;    /* set-up: next connection to open */
    unsigned connecting;      /* set-up: connects in flight */
    unsigned nready, nfailed; /* set-up outcome */
    uint64_t errors;
    uint64_t pushes;
    struct load load; /* phases and the measured window (race, fanout: window only) */
    struct hist steps[STEP_N];
    /* session */
    uint32_t next_user;
    uint64_t conflicts, nofree, nobook, booked;
    /* race */
    uint64_t t_fire, t_sent, t_first, t_last, run_end;
    unsigned nanswered, nwon, nlost, ndup, nverified, nbad;
    unsigned char *taken;
    /* fanout */
    uint32_t fan_slot;
    uint32_t cycles;
    unsigned wdone;
    int booker_done;
    uint64_t t_lastpush;
    /* idle */
    long rss0, rss1, rss2;
    uint64_t hold_end;
    char rbuf[TCP_RBUF];
};

static void tcp_ready(struct tcp *t, struct tc *c);
static void tcp_session_begin(struct tcp *t, struct tc *c);
static void tcp_race_check(struct tcp *t);
static void tcp_verify_one(struct tcp *t);
static void tcp_fail(struct tcp *t, struct tc *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Is the connection the fanout booker (the last one)? */
static int
tcp_is_booker(const struct tcp *t, const struct tc *c)
{
    return t->o->mode == MODE_FANOUT && c->id == t->n - 1;
}

/* Watch the socket for reading, or for writing too. */
static void
tcp_watch(struct tcp *t, struct tc *c, int op, uint32_t events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    /* The generation lets tcp_loop drop an event of a socket closed earlier in the batch. */
    ev.data.u64 = (uint64_t)c->gen << 32 | c->id;
    if (epoll_ctl(t->ep, op, c->fd, &ev) == -1)
        report_problem("conn %u: epoll_ctl: %s", c->id, strerror(errno));
}

/* Close the socket; the slot can be opened again. */
static void
tcp_close(struct tcp *t, struct tc *c)
{
    (void)t;
    if (c->fd != -1)
        close(c->fd);
    c->fd = -1;
    c->st = TC_OFF;
    c->partlen = c->outlen = c->outoff = 0;
    c->inlist = 0;
    c->want = 0;
    c->gen++;
}

/* Start a non-blocking connect. Returns 0 or -1. */
static int
tcp_open(struct tcp *t, struct tc *c)
{
    int one = 1;

    c->fd = socket(t->ss.ss_family, SOCK_STREAM, 0);
    if (c->fd == -1) {
        report_problem("conn %u: socket: %s", c->id, strerror(errno));
        return -1;
    }
    if (fcntl(c->fd, F_SETFL, O_NONBLOCK) == -1 || fcntl(c->fd, F_SETFD, FD_CLOEXEC) == -1)
        report_problem("conn %u: fcntl: %s", c->id, strerror(errno));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->t_req = bench_now();
    c->st = TC_CONNECTING;
    c->partlen = c->outlen = c->outoff = 0;
    if (connect(c->fd, (const struct sockaddr *)&t->ss, t->sslen) == -1 && errno != EINPROGRESS) {
        report_problem("conn %u: connect: %s", c->id, strerror(errno));
        close(c->fd);
        c->fd = -1;
        c->st = TC_OFF;
        return -1;
    }
    tcp_watch(t, c, EPOLL_CTL_ADD, EPOLLOUT);
    return 0;
}

/* Queue a request and write it; what does not go waits for write readiness. */
static void __attribute__((format(printf, 3, 4)))
tcp_send(struct tcp *t, struct tc *c, const char *fmt, ...)
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
    w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
    if (w == (ssize_t)c->outlen) {
        c->outlen = 0;
        return;
    }
    if (w == -1 && errno != EAGAIN && errno != EINTR) {
        tcp_fail(t, c, "send: %s", strerror(errno));
        return;
    }
    c->outoff = (uint16_t)(w > 0 ? w : 0);
    tcp_watch(t, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
}

/* Write the rest of a queued request. */
static void
tcp_flush(struct tcp *t, struct tc *c)
{
    ssize_t w;

    if (c->outlen == 0)
        return;
    w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
    if (w == -1) {
        if (errno != EAGAIN && errno != EINTR)
            tcp_fail(t, c, "send: %s", strerror(errno));
        return;
    }
    c->outoff += (uint16_t)w;
    if (c->outoff < c->outlen)
        return;
    c->outlen = c->outoff = 0;
    tcp_watch(t, c, EPOLL_CTL_MOD, EPOLLIN);
}

/* Does the line start with this prefix? */
static int
tcp_starts(const char *line, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);

    return len >= n && memcmp(line, prefix, n) == 0;
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
static int
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
        struct tc *c = &t->c[t->next_connect++];
        if (tcp_open(t, c) == -1) {
            t->errors++;
            t->nfailed++;
            continue;
        }
        t->connecting++;
    }
}

/* The user number of a connection in the set-up modes. */
static uint32_t
tcp_user_of(const struct tcp *t, const struct tc *c)
{
    return t->o->user_offset + c->id;
}

/* Send the next request of a list or line connection, if the load allows one. */
static void
tcp_request(struct tcp *t, struct tc *c)
{
    int measured;

    if (!load_issue(&t->load, &measured))
        return;
    c->measured = measured;
    c->t_req = bench_now();
    if (t->o->mode == MODE_LIST) {
        c->st = TC_LIST;
        tcp_send(t, c, "available\n");
    } else {
        c->st = TC_REPLY;
        tcp_send(t, c, "%s\r\n", t->o->line);
    }
}

/* Act on what the load phases say. */
static void
tcp_load_action(struct tcp *t, enum load_action act)
{
    unsigned i;

    if (act == LOAD_STOP) {
        t->stop = 1;
        t->phase = TP_DONE;
    } else if (act == LOAD_KICK) {
        for (i = 0; i < t->n; i++) {
            struct tc *c = &t->c[i];
            if (t->o->mode == MODE_SESSION && c->st == TC_OFF)
                tcp_session_begin(t, c);
            else if (t->o->mode != MODE_SESSION && c->st == TC_READY)
                tcp_request(t, c);
        }
    }
}

/* Race: every patient asks for its slot at once. */
static void
tcp_race_fire(struct tcp *t)
{
    unsigned i;

    t->phase = TP_RUN;
    window_begin(&t->load.win);
    t->t_fire = bench_now();
    t->run_end = t->t_fire + (uint64_t)(t->o->duration * 1e9);
    for (i = 0; i < t->n; i++) {
        struct tc *c = &t->c[i];
        if (c->st != TC_READY)
            continue;
        c->slot = t->o->slot_offset + (uint32_t)(i % t->o->slots) + 1;
        c->won = -1;
        c->st = TC_SELECT;
        c->t_req = bench_now();
        tcp_send(t, c, "selection %u\n", c->slot);
    }
    t->t_sent = bench_now();
}

/* Fanout: the booker starts reserving and cancelling. */
static void
tcp_fanout_book(struct tcp *t, struct tc *c)
{
    c->st = TC_SELECT;
    c->t_req = bench_now();
    tcp_send(t, c, "selection %u\n", t->fan_slot);
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
        tcp_race_fire(t);
        break;
    case MODE_FANOUT:
        t->phase = TP_RUN;
        if (t->c[t->n - 1].st != TC_READY || t->fan_slot == 0) {
            report_problem("fanout: the booker or the list is missing");
            t->stop = 1;
            return;
        }
        window_begin(&t->load.win);
        t->run_end = t->load.win.t0 + (uint64_t)(t->o->duration * 1e9);
        tcp_fanout_book(t, &t->c[t->n - 1]);
        break;
    case MODE_IDLE:
        t->phase = TP_HOLD;
        if (t->o->server_pid > 0)
            t->rss1 = proc_status_kib(t->o->server_pid, "VmRSS");
        t->hold_end = bench_now() + (uint64_t)(t->o->hold * 1e9);
        break;
    default:
        break;
    }
}

/* One more connection finished its set-up. */
static void
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
tcp_ready(struct tcp *t, struct tc *c)
{
    c->st = TC_READY;
    switch (t->o->mode) {
    case MODE_FANOUT:
        if (!tcp_is_booker(t, c)) {
            c->st = TC_LIST;
            c->pick = 0;
            c->t_req = bench_now();
            tcp_send(t, c, "available\n");
            return;
        }
        break;
    case MODE_IDLE:
        if (t->o->line != NULL) {
            c->st = TC_REPLY;
            tcp_send(t, c, "%s\r\n", t->o->line);
            return;
        }
        break;
    default:
        break;
    }
    tcp_setup_one(t, 1);
}

/* ---- session ---- */

/* Start a new session on this slot, if the load allows one. */
static void
tcp_session_begin(struct tcp *t, struct tc *c)
{
    const struct bench_opts *o = t->o;
    int measured;

    if (!load_issue(&t->load, &measured))
        return;
    c->measured = measured;
    c->user = t->next_user++;
    if (t->next_user >= o->user_offset + o->users)
        t->next_user = o->user_offset;
    c->retries = 0;
    c->t_start = bench_now();
    if (tcp_open(t, c) == -1) {
        t->errors++;
        tcp_load_action(t, load_answered(&t->load, measured, 0, 0));
    }
}

/* The session ended (ok or not): close, count, start the next. */
static void
tcp_session_end(struct tcp *t, struct tc *c, int ok)
{
    uint64_t lat = bench_now() - c->t_start;

    tcp_close(t, c);
    tcp_load_action(t, load_answered(&t->load, c->measured, lat, ok));
    if (!t->stop && c->st == TC_OFF)
        tcp_session_begin(t, c);
}

/* Record the latency of a step of the outstanding request. */
static void
tcp_step(struct tcp *t, struct tc *c, enum tc_step step)
{
    if (c->measured || t->o->mode != MODE_SESSION)
        hist_add(&t->steps[step], bench_now() - c->t_req);
}

/* ---- failures ---- */

/* A connection broke or got a wrong answer: count it and carry on without it. */
static void
tcp_fail(struct tcp *t, struct tc *c, const char *fmt, ...)
{
    char why[200];
    enum tc_state st = c->st;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    report_problem("conn %u (user%u): %s", c->id, c->user, why);
    t->errors++;
    if (t->o->mode == MODE_SESSION) {
        tcp_session_end(t, c, 0);
        return;
    }
    tcp_close(t, c);
    if (st == TC_CONNECTING && t->connecting > 0) {
        t->connecting--;
        tcp_fill(t);
    }
    if (t->phase == TP_SETUP) {
        tcp_setup_one(t, 0);
        return;
    }
    if ((t->o->mode == MODE_LIST || t->o->mode == MODE_LINE) && st != TC_READY)
        tcp_load_action(t, load_answered(&t->load, c->measured, 0, 0));
    if (t->o->mode == MODE_RACE && t->phase == TP_RUN && st == TC_SELECT) {
        t->nanswered++;
        tcp_race_check(t);
    }
    if (t->phase == TP_VERIFY && (st == TC_APPT || st == TC_REPLY)) {
        t->nbad++;
        tcp_verify_one(t);
    }
}

/* ---- replies ---- */

/* A complete reply to available arrived. */
static void
tcp_list_done(struct tcp *t, struct tc *c)
{
    const struct bench_opts *o = t->o;

    switch (o->mode) {
    case MODE_LIST:
        c->st = TC_READY;
        tcp_load_action(t, load_answered(&t->load, c->measured, bench_now() - c->t_req, 1));
        if (!t->stop && c->st == TC_READY)
            tcp_request(t, c);
        break;
    case MODE_SESSION:
        tcp_step(t, c, STEP_LIST);
        if (c->nlist == 0) {
            t->nofree++;
            tcp_session_end(t, c, 1);
            return;
        }
        c->st = TC_SELECT;
        c->t_req = bench_now();
        tcp_send(t, c, "selection %u\n", c->slot);
        break;
    case MODE_FANOUT:
        c->st = TC_READY;
        tcp_setup_one(t, 1);
        break;
    default:
        break;
    }
}

/* A line while reading the reply to available. */
static void
tcp_on_list(struct tcp *t, struct tc *c, const char *line, size_t len)
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
tcp_on_select(struct tcp *t, struct tc *c, const char *line, size_t len)
{
    int booked = !tcp_starts(line, len, "notavailable") && !tcp_is_error(line, len) &&
                 memchr(line, ' ', len) != NULL;

    switch (t->o->mode) {
    case MODE_SESSION:
        if (tcp_starts(line, len, "notavailable")) {
            t->conflicts++;
            if (c->retries++ < TCP_RETRIES) {
                c->st = TC_LIST;
                c->t_req = bench_now();
                tcp_send(t, c, "available\n");
            } else {
                t->nobook++;
                tcp_session_end(t, c, 1);
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
            c->st = TC_CANCEL;
            c->t_req = bench_now();
            tcp_send(t, c, "cancel\n");
        } else {
            tcp_session_end(t, c, 1);
        }
        break;
    case MODE_RACE: {
        uint64_t now = bench_now();
        uint32_t k = c->slot - t->o->slot_offset - 1;
        hist_add(&t->steps[STEP_SELECT], now - c->t_req);
        if (t->nanswered++ == 0)
            t->t_first = now;
        t->t_last = now;
        c->st = TC_READY;
        if (booked) {
            c->won = 1;
            t->nwon++;
            if (t->taken[k])
                t->ndup++;
            t->taken[k] = 1;
        } else if (tcp_starts(line, len, "notavailable")) {
            c->won = 0;
            t->nlost++;
        } else {
            c->won = -1;
            t->errors++;
            report_problem("conn %u: selection %u: \"%.*s\"", c->id, c->slot, (int)len, line);
        }
        tcp_race_check(t);
        break;
    }
    case MODE_FANOUT:
        if (!booked) {
            tcp_fail(t, c, "booker: selection %u: \"%.*s\"", t->fan_slot, (int)len, line);
            t->stop = 1;
            return;
        }
        tcp_step(t, c, STEP_SELECT);
        c->st = TC_CANCEL;
        c->t_req = bench_now();
        tcp_send(t, c, "cancel\n");
        break;
    default:
        tcp_fail(t, c, "unexpected selection answer");
        break;
    }
}

/* Fanout: is everything delivered? */
static void
tcp_fanout_check(struct tcp *t)
{
    if (t->booker_done && t->wdone == t->n - 1 - t->nfailed) {
        window_end(&t->load.win);
        t->phase = TP_DONE;
        t->stop = 1;
    }
}

/* The answer to cancel. */
static void
tcp_on_cancel(struct tcp *t, struct tc *c, const char *line, size_t len)
{
    if (!tcp_starts(line, len, "cancelled ")) {
        tcp_fail(t, c, "cancel: \"%.*s\"", (int)len, line);
        if (t->o->mode == MODE_FANOUT)
            t->stop = 1;
        return;
    }
    tcp_step(t, c, STEP_CANCEL);
    if (t->o->mode == MODE_SESSION) {
        tcp_session_end(t, c, 1);
        return;
    }
    /* fanout booker */
    if (++t->cycles < t->o->cycles) {
        tcp_fanout_book(t, c);
        return;
    }
    c->st = TC_READY;
    t->booker_done = 1;
    tcp_fanout_check(t);
}

/* A push line ("* reserved n" or "* released n day time"). */
static void
tcp_on_push(struct tcp *t, struct tc *c)
{
    c->pushes++;
    t->pushes++;
    if (t->o->mode == MODE_FANOUT && t->phase == TP_RUN &&
        c->pushes == 2 * (uint64_t)t->o->cycles) {
        t->wdone++;
        t->t_lastpush = bench_now();
        tcp_fanout_check(t);
    }
}

/* One more verification answer (or failure): stop after the last. */
static void
tcp_verify_one(struct tcp *t)
{
    if (++t->nverified == t->nready) {
        t->phase = TP_DONE;
        t->stop = 1;
    }
}

/* The answer to a verification request (race: appointment; idle: its line). */
static void
tcp_on_verify(struct tcp *t, struct tc *c, const char *line, size_t len)
{
    char want[64];
    int ok;

    if (t->o->mode == MODE_RACE) {
        if (c->won == 1) {
            snprintf(want, sizeof want, "appointment %u ", c->slot);
            ok = tcp_starts(line, len, want);
        } else {
            ok = len == 16 && memcmp(line, "appointment none", 16) == 0;
        }
    } else if (t->o->line != NULL) {
        ok = tcp_reply_ok(t, line, len);
    } else {
        ok = tcp_starts(line, len, "appointment ");
    }
    if (!ok) {
        t->nbad++;
        report_problem("conn %u: verification: \"%.*s\"", c->id, (int)len, line);
    }
    c->st = TC_READY;
    tcp_verify_one(t);
}

/* Handle one line from the server. */
static void
tcp_line(struct tcp *t, struct tc *c, const char *line, size_t len)
{
    if (len >= 2 && line[0] == '*' && line[1] == ' ' && t->o->mode != MODE_LINE) {
        tcp_on_push(t, c);
        return;
    }
    switch (c->st) {
    case TC_AUTH:
        if (len == 7 && memcmp(line, "success", 7) == 0) {
            tcp_step(t, c, STEP_AUTH);
            if (t->o->mode == MODE_SESSION) {
                c->st = TC_LIST;
                c->t_req = bench_now();
                tcp_send(t, c, "available\n");
            } else {
                tcp_ready(t, c);
            }
        } else {
            tcp_fail(t, c, "login answered \"%.*s\"", (int)len, line);
        }
        break;
    case TC_LIST:
        tcp_on_list(t, c, line, len);
        break;
    case TC_SELECT:
        tcp_on_select(t, c, line, len);
        break;
    case TC_CANCEL:
        tcp_on_cancel(t, c, line, len);
        break;
    case TC_APPT:
        tcp_on_verify(t, c, line, len);
        break;
    case TC_REPLY:
        if (t->phase == TP_VERIFY) {
            tcp_on_verify(t, c, line, len);
        } else if (t->o->mode == MODE_IDLE) {
            if (!tcp_reply_ok(t, line, len)) {
                tcp_fail(t, c, "reply \"%.*s\"", (int)len, line);
                return;
            }
            c->st = TC_READY;
            tcp_setup_one(t, 1);
        } else {
            int ok = tcp_reply_ok(t, line, len);
            if (!ok) {
                t->errors++;
                report_problem("conn %u: reply \"%.*s\"", c->id, (int)len, line);
            }
            c->st = TC_READY;
            tcp_load_action(t, load_answered(&t->load, c->measured, bench_now() - c->t_req, ok));
            if (!t->stop && c->st == TC_READY)
                tcp_request(t, c);
        }
        break;
    default:
        tcp_fail(t, c, "unexpected line \"%.*s\"", (int)len, line);
        break;
    }
}

/* Split what was read into lines, joining a line cut by the previous read. */
static void
tcp_input(struct tcp *t, struct tc *c, const char *p, size_t n)
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
tcp_read(struct tcp *t, struct tc *c)
{
    unsigned gen = c->gen;
    ssize_t n;

    for (;;) {
        n = read(c->fd, t->rbuf, sizeof t->rbuf);
        if (n > 0) {
            tcp_input(t, c, t->rbuf, (size_t)n);
            if (c->gen != gen || t->stop || (size_t)n < sizeof t->rbuf)
                return;
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            return;
        tcp_fail(t, c, "%s", n == 0 ? "server closed the connection" : strerror(errno));
        return;
    }
}

/* The socket of c is ready. */
static void
tcp_event(struct tcp *t, struct tc *c, uint32_t events)
{
    if (c->fd == -1)
        return;
    if (c->st == TC_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
            err = errno;
        if (err != 0) {
            tcp_fail(t, c, "connect: %s", strerror(err));
            return;
        }
        if (t->phase == TP_SETUP && t->connecting > 0) {
            t->connecting--;
            tcp_fill(t);
        }
        tcp_watch(t, c, EPOLL_CTL_MOD, EPOLLIN);
        tcp_step(t, c, STEP_CONNECT);
        if (t->o->auth) {
            c->st = TC_AUTH;
            if (t->o->mode != MODE_SESSION)
                c->user = tcp_user_of(t, c);
            c->t_req = bench_now();
            tcp_send(t, c, "authenticate user%u pw%u\n", c->user, c->user);
        } else {
            tcp_ready(t, c);
        }
        return;
    }
    if (events & EPOLLOUT) {
        tcp_flush(t, c);
        if (c->fd == -1)
            return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        tcp_read(t, c);
}

/* ---- the clock ---- */

/* Start the verification round of race and idle. */
static void
tcp_verify(struct tcp *t)
{
    unsigned i;

    t->phase = TP_VERIFY;
    t->run_end = bench_now() + (uint64_t)TCP_VERIFY_SECS * 1000000000u;
    t->nready = 0;
    for (i = 0; i < t->n; i++) {
        struct tc *c = &t->c[i];
        if (c->fd == -1 || c->st != TC_READY)
            continue;
        t->nready++;
        if (t->o->mode == MODE_RACE) {
            c->st = TC_APPT;
            tcp_send(t, c, "appointment\n");
        } else {
            c->st = TC_REPLY;
            if (t->o->line != NULL)
                tcp_send(t, c, "%s\r\n", t->o->line);
            else
                tcp_send(t, c, "appointment\n");
        }
    }
    if (t->nready == 0) {
        t->phase = TP_DONE;
        t->stop = 1;
    }
}

/* Race: after the last answer, stop the clock and check every patient's appointment. */
static void
tcp_race_check(struct tcp *t)
{
    if (t->phase == TP_RUN && t->nanswered == t->nready) {
        window_end(&t->load.win);
        tcp_verify(t);
    }
}

/* Check deadlines and time-driven phase changes. */
static void
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
        if (t->phase == TP_RUN && now >= t->run_end) {
            report_problem("race: %u of %u answered in time", t->nanswered, t->nready);
            window_end(&t->load.win);
            t->errors += t->nready - t->nanswered;
            t->stop = 1;
        } else if (t->phase == TP_VERIFY && now >= t->run_end) {
            report_problem("race: %u of %u verified in time", t->nverified, t->nready);
            t->stop = 1;
        }
        break;
    case MODE_FANOUT:
        if (t->phase == TP_RUN && now >= t->run_end) {
            window_end(&t->load.win);
            t->stop = 1;
        }
        break;
    case MODE_IDLE:
        if (t->phase == TP_HOLD && now >= t->hold_end) {
            if (t->o->server_pid > 0)
                t->rss2 = proc_status_kib(t->o->server_pid, "VmRSS");
            tcp_verify(t);
        } else if (t->phase == TP_VERIFY && now >= t->run_end) {
            t->stop = 1;
        }
        break;
    default:
        break;
    }
}

/* Run the event loop until the mode is done or a deadline passes. */
static void
tcp_loop(struct tcp *t)
{
    struct epoll_event ev[TCP_EVENTS];
    int i, k;

    while (!t->stop) {
        k = epoll_wait(t->ep, ev, TCP_EVENTS, TCP_TICK_MS);
        if (k == -1 && errno != EINTR) {
            report_problem("epoll_wait: %s", strerror(errno));
            t->errors++;
            break;
        }
        for (i = 0; i < k && !t->stop; i++) {
            struct tc *c = &t->c[(uint32_t)ev[i].data.u64];
            if ((unsigned)(ev[i].data.u64 >> 32) == c->gen)
                tcp_event(t, c, ev[i].events);
        }
        if (!t->stop)
            tcp_tick(t);
    }
}

/* ---- reports ---- */

/* Print the results of the run. Returns the exit status. */
static int
tcp_report(struct tcp *t)
{
    const struct bench_opts *o = t->o;
    unsigned i;
    int bad = t->errors > 0;

    report_kv("conns", "%u", o->mode == MODE_FANOUT ? t->n - 1 : t->n);
    switch (o->mode) {
    case MODE_SESSION:
        load_report(&t->load, t->errors, "session");
        report_kv("booked", "%llu", (unsigned long long)t->booked);
        report_kv("conflicts", "%llu", (unsigned long long)t->conflicts);
        report_kv("nofree", "%llu", (unsigned long long)t->nofree);
        report_kv("nobook", "%llu", (unsigned long long)t->nobook);
        for (i = 0; i < STEP_N; i++)
            if (o->cancel || i != STEP_CANCEL)
                report_hist(tcp_step_names[i], &t->steps[i]);
        break;
    case MODE_LIST:
    case MODE_LINE:
        load_report(&t->load, t->errors, "req");
        report_kv("pushes", "%llu", (unsigned long long)t->pushes);
        break;
    case MODE_IDLE: {
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
        bad = bad || t->nbad > 0 || t->nready != t->n;
        break;
    }
    case MODE_RACE: {
        unsigned expect = t->n < o->slots ? t->n : o->slots;
        int ok = t->errors == 0 && t->nwon == expect && t->ndup == 0 && t->nbad == 0 &&
                 t->nanswered == t->n && t->nverified == t->n;
        report_kv("patients", "%u", t->n);
        report_kv("slots", "%u", o->slots);
        report_kv("answered", "%u", t->nanswered);
        report_kv("winners", "%u", t->nwon);
        report_kv("expected_winners", "%u", expect);
        report_kv("losers", "%u", t->nlost);
        report_kv("slot_twice", "%u", t->ndup);
        report_kv("verified_bad", "%u", t->nbad);
        report_kv("errors", "%llu", (unsigned long long)t->errors);
        report_kv("send_all_ms", "%.3f", (double)(t->t_sent - t->t_fire) / 1e6);
        report_kv("first_to_last_ms", "%.3f",
                  t->nanswered > 0 ? (double)(t->t_last - t->t_first) / 1e6 : 0.0);
        report_kv("send_to_last_ms", "%.3f",
                  t->nanswered > 0 ? (double)(t->t_last - t->t_fire) / 1e6 : 0.0);
        window_report(&t->load.win, t->nanswered, "answer");
        report_hist("selection", &t->steps[STEP_SELECT]);
        report_kv("race", "%s", ok ? "ok" : "FAILED");
        bad = !ok;
        break;
    }
    case MODE_FANOUT: {
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
        bad = bad || t->pushes != expect;
        break;
    }
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
    if (addr_resolve(o->host, o->port, o->allow_remote, &t->ss, &t->sslen, err, sizeof err) == -1) {
        fprintf(stderr, "hcs-bench: %s\n", err);
        goto out;
    }
    t->n = o->conns + (o->mode == MODE_FANOUT ? 1 : 0);
    if ((t->c = calloc(t->n, sizeof *t->c)) == NULL ||
        (o->mode == MODE_RACE && (t->taken = calloc(o->slots, 1)) == NULL)) {
        fprintf(stderr, "hcs-bench: out of memory\n");
        goto out;
    }
    for (i = 0; i < t->n; i++) {
        t->c[i].fd = -1;
        t->c[i].id = i;
    }
    for (i = 0; i < STEP_N; i++)
        hist_init(&t->steps[i]);
    if ((t->ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
        fprintf(stderr, "hcs-bench: epoll_create1: %s\n", strerror(errno));
        goto out;
    }
    if (load_init(&t->load, o) == -1)
        goto out;
    t->next_user = o->user_offset;
    if (o->mode == MODE_IDLE && o->server_pid > 0)
        t->rss0 = proc_status_kib(o->server_pid, "VmRSS");
    if (o->mode == MODE_SESSION) {
        t->phase = TP_RUN;
        tcp_load_action(t, load_start(&t->load));
    } else {
        t->phase = TP_SETUP;
        t->setup_end = bench_now() + (uint64_t)(o->setup_timeout * 1e9);
        tcp_fill(t);
    }
    tcp_loop(t);
    rc = tcp_report(t);
out:
    if (t->c != NULL)
        for (i = 0; i < t->n; i++)
            if (t->c[i].fd != -1)
                close(t->c[i].fd);
    window_close(&t->load.win);
    if (t->ep != -1)
        close(t->ep);
    free(t->taken);
    free(t->c);
    free(t);
    return rc;
}
