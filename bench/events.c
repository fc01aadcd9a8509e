/* events.c: the events mode: N event streams (GET /events on the reception desk, HTTP Basic
 * auth) read their snapshot; then one patient books and cancels a slot --cycles times, each
 * change waiting until every stream has its event, and every event is checked (slot index,
 * booked or free) and timed from the patient's request. With --hold S the streams are only
 * held open for S seconds (or until SIGTERM), for measuring something else beside them. */
#include "addr.h"
#include "bench.h"
#include "hist.h"
#include "report.h"
#include "window.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define EVENTS_LINE 160   /* bytes of a line kept (the start of a data line is enough) */
#define EVENTS_BURST 200  /* streams connecting or not yet past their snapshot at once */
#define EVENTS_RBUF 65536 /* bytes read at once */

/* One event stream, or the patient (id == n). */
struct events_conn {
    int fd;
    unsigned id;
    int hstate;    /* 0: status line, 1: headers, 2: body */
    int ev;        /* the event being read: 0 none, 1 snapshot, 2 slot, 3 other */
    int ready;     /* past its first snapshot */
    int closed;    /* gone */
    uint32_t seen; /* changes whose event this stream has (the next expected is seen) */
    size_t linelen;
    char line[EVENTS_LINE];
};

/* The whole run. */
struct events {
    const struct bench_opts *o;
    struct sockaddr_storage dss, pss;
    socklen_t dlen, plen;
    int ep;
    unsigned n, opened, nready, dropped;
    struct events_conn *c; /* n streams, then the patient */
    char auth[512];        /* the Authorization header's value */
    uint32_t slot;
    uint32_t sent;     /* changes the patient asked for (even: selection, odd: cancel) */
    int answered;      /* the patient's last request is answered */
    unsigned got;      /* streams that have the event of the last change */
    uint64_t t_change; /* when the last change was asked for */
    uint64_t wrong, errors, snapshots, events;
    uint64_t bytes_snapshot;
    struct hist book_lat, cancel_lat, last_lat, answer_lat;
    struct window win;
    int stop;
    char rbuf[EVENTS_RBUF];
};

static volatile sig_atomic_t events_term;

/* SIGTERM or SIGINT: end the hold. */
static void
events_on_signal(int sig)
{
    (void)sig;
    events_term = 1;
}

/* Base64 of len bytes of s into out (NUL-terminated). */
static void
events_base64(const char *s, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 2 < len; i += 3, out += 4) {
        unsigned v =
            (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8 | (unsigned char)s[i + 2];
        out[0] = tab[v >> 18], out[1] = tab[v >> 12 & 63], out[2] = tab[v >> 6 & 63],
        out[3] = tab[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned char)s[i] << 16;
        out[0] = tab[v >> 18], out[1] = tab[v >> 12 & 63], out[2] = '=', out[3] = '=', out += 4;
    } else if (len - i == 2) {
        unsigned v = (unsigned char)s[i] << 16 | (unsigned char)s[i + 1] << 8;
        out[0] = tab[v >> 18], out[1] = tab[v >> 12 & 63], out[2] = tab[v >> 6 & 63], out[3] = '=';
        out += 4;
    }
    *out = '\0';
}

/* Write all of a short request on a fresh socket (loopback: it goes at once). Returns 0 or -1. */
static int
events_write(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, s, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        len -= (size_t)w;
    }
    return 0;
}

/* A stream is gone or broke: count it once. */
static void
events_drop(struct events *e, struct events_conn *c, const char *why)
{
    if (c->closed)
        return;
    c->closed = 1;
    e->errors++;
    if (c->id < e->n) {
        e->dropped++;
        if (!c->ready)
            e->opened--;
    }
    report_problem("%s %u: %s", c->id < e->n ? "stream" : "patient", c->id, why);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->id == e->n)
        e->stop = 1;
}

/* Open stream or patient c (blocking connect on loopback, then non-blocking). Returns 0 or -1. */
static int
events_open(struct events *e, struct events_conn *c)
{
    int one = 1, fd = socket(e->dss.ss_family, SOCK_STREAM, 0);
    const struct sockaddr_storage *ss = c->id < e->n ? &e->dss : &e->pss;
    socklen_t len = c->id < e->n ? e->dlen : e->plen;
    struct epoll_event ev = {.events = EPOLLIN};
    char req[700];
    int n;

    if (fd < 0 || connect(fd, (const struct sockaddr *)ss, len) == -1) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    if (c->id < e->n) {
        n = snprintf(req, sizeof req,
                     "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n"
                     "Accept: text/event-stream\r\n\r\n",
                     e->auth);
    } else {
        n = snprintf(req, sizeof req, "authenticate user%u pw%u\n", e->o->user_offset,
                     e->o->user_offset);
    }
    if (events_write(fd, req, (size_t)n) == -1)
        return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    ev.data.u32 = c->id;
    return epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Open streams until EVENTS_BURST are on their way to their snapshot. */
static void
events_open_more(struct events *e)
{
    /* The first stream alone until its snapshot: its login is then remembered by the desk. */
    while (e->opened < e->n && e->opened - e->nready < (e->nready == 0 ? 1u : EVENTS_BURST)) {
        struct events_conn *c = &e->c[e->opened++];

        if (events_open(e, c) == -1)
            events_drop(e, c, "cannot connect to the desk");
    }
}

/* The patient asks for the next change: selection of the slot, then cancel, in turn. */
static void
events_change(struct events *e)
{
    struct events_conn *p = &e->c[e->n];
    char req[64];
    int n = e->sent % 2 == 0 ? snprintf(req, sizeof req, "selection %u\n", e->slot)
                             : snprintf(req, sizeof req, "cancel\n");

    e->answered = 0;
    e->got = 0;
    e->t_change = bench_now();
    e->sent++;
    if (events_write(p->fd, req, (size_t)n) == -1)
        events_drop(e, p, "cannot write");
}

/* The streams still open. */
static unsigned
events_live(const struct events *e)
{
    return e->n - e->dropped;
}

/* Is the last change answered and on every stream? Then the next, or the end. */
static void
events_next(struct events *e)
{
    if (!e->answered || e->got < events_live(e))
        return;
    hist_add(&e->last_lat, bench_now() - e->t_change);
    if (e->sent == 2 * e->o->cycles) {
        window_end(&e->win);
        e->stop = 1;
        return;
    }
    events_change(e);
}

/* A "data: " line of a slot event on a stream: the change it should be, timed. */
static void
events_on_slot(struct events *e, struct events_conn *c, const char *line, size_t len)
{
    char want[48];
    int n = snprintf(want, sizeof want, "data: {\"index\":%u,", e->slot);
    uint64_t k = c->seen; /* the change this event should tell */
    int booked = len >= 13 && memcmp(line + len - 12, "\"user\":null}", 12) != 0;

    e->events++;
    if (!c->ready || e->sent == 0)
        return; /* before the run (an earlier change): not measured */
    if (k >= e->sent || (size_t)n > len || memcmp(line, want, (size_t)n) != 0 ||
        booked != (k % 2 == 0)) {
        e->wrong++;
        report_problem("stream %u: event %llu: \"%.*s\" (not the change %llu asked for)", c->id,
                       (unsigned long long)k + 1, (int)(len > 120 ? 120 : len), line,
                       (unsigned long long)k + 1);
        return;
    }
    c->seen++;
    hist_add(k % 2 == 0 ? &e->book_lat : &e->cancel_lat, bench_now() - e->t_change);
    if (++e->got == events_live(e))
        events_next(e);
}

/* One whole line of a stream (len: its full length; at most EVENTS_LINE bytes kept). */
static void
events_stream_line(struct events *e, struct events_conn *c, size_t len)
{
    const char *l = c->line;
    size_t kept = len < EVENTS_LINE ? len : EVENTS_LINE;

    if (c->hstate == 0) {
        if (kept < 12 || memcmp(l, "HTTP/1.1 200", 12) != 0) {
            char why[EVENTS_LINE + 32];

            snprintf(why, sizeof why, "the desk answered \"%.*s\"", (int)(kept > 40 ? 40 : kept),
                     l);
            events_drop(e, c, why);
        }
        c->hstate = 1;
        return;
    }
    if (c->hstate == 1) {
        if (len == 1 && l[0] == '\r')
            c->hstate = 2;
        return;
    }
    if (len > 0 && l[kept - 1] == '\r' && len == kept)
        return;     /* chunk framing */
    if (len == 0) { /* the end of an event */
        if (c->ev == 1 && !c->ready) {
            c->ready = 1;
            e->nready++;
        }
        c->ev = 0;
        return;
    }
    if (len == 15 && memcmp(l, "event: snapshot", 15) == 0) {
        c->ev = 1;
        e->snapshots++;
    } else if (len == 11 && memcmp(l, "event: slot", 11) == 0) {
        c->ev = 2;
    } else if (kept >= 6 && memcmp(l, "event:", 6) == 0) {
        c->ev = 3;
    } else if (kept >= 6 && memcmp(l, "data: ", 6) == 0) {
        if (c->ev == 1 && c->id == 0 && e->bytes_snapshot == 0)
            e->bytes_snapshot = len;
        if (c->ev == 2)
            events_on_slot(e, c, l, kept);
        else if (c->ev == 3)
            e->wrong++;
    }
}

/* One line from the patient: the login's answer, then each change's. */
static void
events_patient_line(struct events *e, struct events_conn *c, size_t len)
{
    const char *l = c->line;

    if (e->sent == 0) {
        if (len < 7 || memcmp(l, "success", 7) != 0)
            events_drop(e, c, "the patient could not log in");
        else
            c->ready = 1;
        return;
    }
    if (e->sent % 2 == 1
            ? (len >= 12 && memcmp(l, "notavailable", 12) == 0) || memchr(l, ' ', len) == NULL
            : len < 10 || memcmp(l, "cancelled ", 10) != 0) {
        events_drop(e, c, "a change was refused");
        return;
    }
    hist_add(&e->answer_lat, bench_now() - e->t_change);
    e->answered = 1;
    events_next(e);
}

/* Read what a connection has; split it into lines. */
static void
events_read(struct events *e, struct events_conn *c)
{
    for (;;) {
        ssize_t r = read(c->fd, e->rbuf, sizeof e->rbuf);
        const char *p, *end, *nl;

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            events_drop(e, c, r == 0 ? "closed by the server" : strerror(errno));
            return;
        }
        for (p = e->rbuf, end = e->rbuf + r; p < end && !c->closed; p = nl + 1) {
            size_t part;

            nl = memchr(p, '\n', (size_t)(end - p));
            part = (size_t)((nl != NULL ? nl : end) - p);
            if (c->linelen < EVENTS_LINE)
                memcpy(c->line + c->linelen, p,
                       part < EVENTS_LINE - c->linelen ? part : EVENTS_LINE - c->linelen);
            c->linelen += part;
            if (nl == NULL)
                break;
            if (c->id < e->n)
                events_stream_line(e, c, c->linelen);
            else
                events_patient_line(e, c, c->linelen < EVENTS_LINE ? c->linelen : EVENTS_LINE);
            c->linelen = 0;
        }
        if (c->closed || (size_t)r < sizeof e->rbuf)
            return;
    }
}

/* Run the loop until stop, the deadline, or (hold) a signal. */
static void
events_loop(struct events *e, uint64_t deadline, int hold)
{
    struct epoll_event evs[256];

    while (!e->stop && bench_now() < deadline && !(hold && events_term)) {
        int i, k = epoll_wait(e->ep, evs, 256, 100);

        for (i = 0; i < k; i++) {
            struct events_conn *c = &e->c[evs[i].data.u32];

            if (!c->closed)
                events_read(e, c);
        }
        if (e->opened < e->n)
            events_open_more(e);
        if (hold == 0 && e->nready + e->dropped >= e->n && e->c[e->n].ready && e->opened >= e->n)
            return; /* set-up done */
    }
}

/* Print the results. Returns the exit status. */
static int
events_report(struct events *e, int hold)
{
    double us = e->o->server_pid > 0 && e->win.s0.ok && e->win.s1.ok
                    ? proc_cpu_us(&e->win.s0, &e->win.s1)
                    : -1;
    uint32_t bookings = (e->sent + 1) / 2;

    report_kv("streams", "%u", e->n);
    report_kv("streams_ready", "%u", e->nready);
    report_kv("dropped", "%u", e->dropped);
    report_kv("snapshot_bytes", "%llu", (unsigned long long)e->bytes_snapshot);
    report_kv("snapshots", "%llu", (unsigned long long)e->snapshots);
    report_kv("errors", "%llu", (unsigned long long)e->errors);
    report_kv("wrong", "%llu", (unsigned long long)e->wrong);
    if (hold)
        return e->errors > 0 || e->wrong > 0 || e->nready < e->n ? 2 : 0;
    report_kv("slot", "%u", e->slot);
    report_kv("changes", "%u", e->sent);
    report_kv("bookings", "%u", bookings);
    report_kv("expected_events", "%llu", (unsigned long long)e->sent * e->n);
    report_kv("events", "%llu", (unsigned long long)(e->book_lat.count + e->cancel_lat.count));
    window_report(&e->win, e->sent, "change");
    if (us >= 0 && e->sent > 0)
        report_kv("server_cpu_us_per_change", "%.1f", us / e->sent);
    report_hist("event", &e->book_lat);
    report_hist("cancel_event", &e->cancel_lat);
    report_hist("last_stream", &e->last_lat);
    report_hist("answer", &e->answer_lat);
    return e->errors > 0 || e->wrong > 0 || e->sent < 2 * e->o->cycles ||
                   e->book_lat.count + e->cancel_lat.count != (uint64_t)e->sent * e->n
               ? 2
               : 0;
}

/* The events mode. Returns the exit status. */
int
events_run(const struct bench_opts *o)
{
    struct events *e = calloc(1, sizeof *e);
    char err[256];
    unsigned i;
    int hold = o->hold_set, rc;
    uint64_t deadline;

    if (e == NULL)
        return 1;
    e->o = o;
    e->n = o->conns;
    e->slot = o->slot_offset + 1;
    if (o->desk_auth == NULL || strlen(o->desk_auth) > 300) {
        fprintf(stderr, "hcs-bench: events needs --desk-auth user:password\n");
        return 1;
    }
    events_base64(o->desk_auth, strlen(o->desk_auth), e->auth);
    if (addr_resolve(o->host, o->desk_port, o->allow_remote, &e->dss, &e->dlen, err, sizeof err) ==
            -1 ||
        addr_resolve(o->host, o->port, o->allow_remote, &e->pss, &e->plen, err, sizeof err) == -1) {
        fprintf(stderr, "hcs-bench: %s\n", err);
        return 1;
    }
    hist_init(&e->book_lat);
    hist_init(&e->cancel_lat);
    hist_init(&e->last_lat);
    hist_init(&e->answer_lat);
    if ((e->c = calloc(e->n + 1, sizeof *e->c)) == NULL || (e->ep = epoll_create1(0)) == -1 ||
        window_init(&e->win, o) == -1)
        return 1;
    for (i = 0; i <= e->n; i++) {
        e->c[i].fd = -1;
        e->c[i].id = i;
    }
    signal(SIGTERM, events_on_signal);
    signal(SIGINT, events_on_signal);
    if (!hold && events_open(e, &e->c[e->n]) == -1) {
        fprintf(stderr, "hcs-bench: cannot connect to the patient port\n");
        return 1;
    }
    if (hold)
        e->c[e->n].ready = 1;
    events_open_more(e);
    events_loop(e, bench_now() + (uint64_t)(o->setup_timeout * 1e9), 0);
    if (e->nready < e->n || !e->c[e->n].ready) {
        report_problem("set-up: %u of %u streams past their snapshot, patient %s", e->nready, e->n,
                       e->c[e->n].ready ? "ready" : "not ready");
        rc = events_report(e, 1);
        report_flush();
        return rc ? rc : 2;
    }
    if (hold) {
        printf("streams_open %u\n", e->nready);
        fflush(stdout);
        events_loop(e, bench_now() + (uint64_t)(o->hold * 1e9), 1);
    } else {
        deadline = bench_now() + (uint64_t)(o->duration * 1e9);
        window_begin(&e->win);
        events_change(e);
        events_loop(e, deadline, 2);
        if (e->win.open) {
            report_problem("events: %u of %u changes at the deadline", e->sent, 2 * o->cycles);
            window_end(&e->win);
        }
    }
    rc = events_report(e, hold);
    report_flush();
    window_close(&e->win);
    return rc;
}
