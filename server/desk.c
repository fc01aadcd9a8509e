/* desk.c: the reception desk: staff see the whole schedule live and change it, over HTTP. */
#include "desk.h"
#include "authpool.h"
#include "desk_json.h"
#include "log.h"
#include "net.h"
#include "throttle.h"
#include "users.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/ssl.h>

#define DESK_MAX_HEADERS 8192   /* bytes of a request's headers */
#define DESK_MAX_BODY 4096      /* bytes of a request's body */
#define DESK_TIMEOUT 30         /* seconds to send a request */
#define DESK_PING_SECS 15       /* a comment line on every stream this often */
#define DESK_STREAM_SECS 86400  /* a stream's connection may stay silent this long */
#define DESK_STREAM_MAX 1048576 /* bytes queued to a stream that does not read: dropped */
#define DESK_CACHE 32           /* staff logins remembered */
#define DESK_CACHE_SECS 600     /* ... this long after their check */
#define DESK_REALM "hcs desk"
#define DESK_MAX_WAITING 64 /* logins waiting for their source's share of the checks */

extern const unsigned char desk_page[];
extern const size_t desk_page_len;

/* One open event stream. */
struct desk_stream {
    TAILQ_ENTRY(desk_stream) entry;
    struct desk *desk;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    int chunked; /* the reply is chunked (HTTP/1.1): events are written as chunks here */
};
TAILQ_HEAD(desk_streams, desk_stream);

/* A cancel waiting for the store, answered in commit order. */
struct desk_wait {
    TAILQ_ENTRY(desk_wait) entry;
    struct evhttp_request *req;
    uint32_t index;
    char user[USERS_MAXNAME + 1];
};
TAILQ_HEAD(desk_waits, desk_wait);

/* A staff login checked lately: the keyed hash of its Authorization header. */
struct desk_login {
    uint64_t key;
    int64_t until; /* seconds of the monotonic clock; 0: empty */
};

/* A staff login being checked by the authpool, or waiting for its source's share. */
struct desk_check {
    TAILQ_ENTRY(desk_check) entry; /* desk.waiting while it waits, then desk.checking */
    struct desk *desk;
    struct evhttp_request *req;
    struct throttle_src *src;
    uint64_t key;
    int known;        /* the name is in the staff file (else the check only takes the time) */
    const char *hash; /* the staff row's, or the dummy */
    char pass[128];   /* while waiting: the password, wiped once handed over */
    size_t passlen;
    char name[96]; /* escaped, for the log */
    char host[64];
    struct authpool_job *job;
};
TAILQ_HEAD(desk_checks, desk_check);

struct desk {
    struct center *c;
    struct evhttp *http;
    unsigned port;
    struct users staff;
    const char *dummy; /* the hash unknown staff names are checked against */
    struct sched_sub sub;
    struct desk_streams streams;
    size_t nstreams;
    struct desk_waits waits;
    struct desk_checks waiting;  /* logins beyond their source's share of the checks */
    struct desk_checks checking; /* logins the authpool is checking */
    size_t nwaiting;
    struct event *wait_ev;
    struct event *ping_ev;
    struct desk_login logins[DESK_CACHE];
    uint64_t k0, k1;
    uint64_t requests, refused;
    int tls; /* served over TLS with the center's certificate: its pages' origin is https */
};

/*
 * Send a reply with body b (NULL: none). A HEAD request gets the headers
 * only, with the length the body would have: evhttp would send the body.
 */
static void
desk_send(struct evhttp_request *req, int code, const char *reason, struct evbuffer *b)
{
    char len[32];

    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        snprintf(len, sizeof len, "%zu", b != NULL ? evbuffer_get_length(b) : (size_t)0);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", len);
        evhttp_send_reply(req, code, reason, NULL);
        return;
    }
    evhttp_send_reply(req, code, reason, b);
}

/* Send a reply: status, reason, content type and text. */
static void
desk_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
           const char *text, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (b != NULL)
        evbuffer_add(b, text, len);
    desk_send(req, code, reason, b);
    if (b != NULL)
        evbuffer_free(b);
}

/* Reply with a JSON error: {"error":"..."}. */
static void
desk_error(struct evhttp_request *req, int code, const char *reason, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (b != NULL) {
        evbuffer_add(b, "{\"error\":", 9);
        desk_json_str(b, msg, strlen(msg));
        evbuffer_add(b, "}\n", 2);
    }
    desk_send(req, code, reason, b);
    if (b != NULL)
        evbuffer_free(b);
}

/* Reply with the JSON in b (taken over). */
static void
desk_json_reply(struct evhttp_request *req, int code, const char *reason, struct evbuffer *b)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    desk_send(req, code, reason, b);
    evbuffer_free(b);
}

/* Send one event to every stream; a stream whose reader fell behind is dropped. */
static void
desk_broadcast(struct desk *d, const char *text, size_t len)
{
    struct desk_stream *s, *next;
    char head[24];
    int hl = snprintf(head, sizeof head, "%zx\r\n", len);

    for (s = TAILQ_FIRST(&d->streams); s != NULL; s = next) {
        struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
        struct evbuffer *out = bev != NULL ? bufferevent_get_output(bev) : NULL;
        struct iovec iov[3] = {{head, (size_t)hl}, {(char *)text, len}, {"\r\n", 2}};
        size_t total = (size_t)hl + len + 2, done = 0;
        ssize_t n;
        int i;

        next = TAILQ_NEXT(s, entry);
        if (out == NULL)
            continue;
        if (evbuffer_get_length(out) > DESK_STREAM_MAX) {
            log_warnx("desk: an event stream that does not read was dropped");
            evhttp_connection_free(s->evcon); /* its close callback frees s */
            continue;
        }
        /*
         * The chunk straight to the socket when nothing is queued before it,
         * as the patients' pushes go: no write event to arm and disarm per
         * stream and per event. What the socket does not take is queued.
         */
        if (s->chunked && evbuffer_get_length(out) == 0 &&
            (n = writev(bufferevent_getfd(bev), iov, 3)) > 0)
            done = (size_t)n;
        if (done == total)
            continue;
        if (!s->chunked) {
            struct evbuffer *b = evbuffer_new();

            if (b != NULL) {
                evbuffer_add(b, text, len);
                evhttp_send_reply_chunk(s->req, b);
                evbuffer_free(b);
            }
            continue;
        }
        for (i = 0; i < 3; i++) {
            if (done >= iov[i].iov_len) {
                done -= iov[i].iov_len;
                continue;
            }
            bufferevent_write(bev, (const char *)iov[i].iov_base + done, iov[i].iov_len - done);
            done = 0;
        }
    }
}

/* A change of the schedule: one event for every stream. */
static void
desk_sched_cb(struct sched_sub *sub, enum sched_change change, const struct slot *slot)
{
    struct desk *d = sub->arg;
    struct evbuffer *b;
    size_t len;
    char *text;

    if (d->nstreams == 0 || (b = evbuffer_new()) == NULL)
        return;
    if (change == SCHED_REMOVED)
        evbuffer_add_printf(b, "event: removed\ndata: {\"index\":%u}\n\n", slot->index);
    else if (evbuffer_add(b, "event: slot\ndata: ", 18) == 0 && desk_json_slot(b, d->c, slot) == 0)
        evbuffer_add(b, "\n\n", 2);
    len = evbuffer_get_length(b);
    if ((text = (char *)evbuffer_pullup(b, -1)) != NULL)
        desk_broadcast(d, text, len);
    evbuffer_free(b);
}

/* The schedule changed in a way the slot events do not tell: a new snapshot for every stream. */
void
desk_refresh(struct desk *d)
{
    struct evbuffer *b;
    size_t len;
    char *text;

    if (d == NULL || d->nstreams == 0 || (b = evbuffer_new()) == NULL)
        return;
    if (evbuffer_add(b, "event: snapshot\ndata: ", 22) == 0 && desk_json_schedule(b, d->c) == 0 &&
        evbuffer_add(b, "\n", 1) == 0 && (text = (char *)evbuffer_pullup(b, -1)) != NULL) {
        len = evbuffer_get_length(b);
        desk_broadcast(d, text, len);
    }
    evbuffer_free(b);
}

/* Every DESK_PING_SECS: a comment line keeps streams and proxies awake. */
static void
desk_ping_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    desk_broadcast(arg, ": ping\n\n", 8);
}

/*
 * A stream's connection closes: forget it. Closed by its reader, the
 * request was let go by the connection (it holds none) and is ours to
 * free, which ending the reply does; closed here (dropped, shutdown), the
 * connection frees it.
 */
static void
desk_stream_closed(struct evhttp_connection *evcon, void *arg)
{
    struct desk_stream *s = arg;

    (void)evcon;
    if (evhttp_request_get_connection(s->req) == NULL)
        evhttp_send_reply_end(s->req);
    TAILQ_REMOVE(&s->desk->streams, s, entry);
    s->desk->nstreams--;
    free(s);
}

/* GET /events: a snapshot, then one event per change. */
static void
desk_events(struct desk *d, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct desk_stream *s;
    struct evbuffer *b;

    if (d->nstreams >= d->c->cfg.desk_max_streams) {
        desk_error(req, 503, "Service Unavailable", "too many event streams open");
        return;
    }
    if (evcon == NULL || (s = calloc(1, sizeof *s)) == NULL) {
        desk_error(req, 503, "Service Unavailable", "out of memory");
        return;
    }
    if ((b = evbuffer_new()) == NULL) {
        free(s);
        desk_error(req, 503, "Service Unavailable", "out of memory");
        return;
    }
    s->desk = d;
    s->req = req;
    s->evcon = evcon;
    evhttp_add_header(h, "Content-Type", "text/event-stream");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply_start(req, 200, "OK");
    s->chunked = evhttp_find_header(h, "Transfer-Encoding") != NULL;
    evhttp_connection_set_timeout(evcon, DESK_STREAM_SECS);
    evhttp_connection_set_closecb(evcon, desk_stream_closed, s);
    TAILQ_INSERT_TAIL(&d->streams, s, entry);
    d->nstreams++;
    evbuffer_add(b, "retry: 1000\nevent: snapshot\ndata: ", 34);
    desk_json_schedule(b, d->c);
    /* desk_json_schedule ends its text with a newline: one more ends the event. */
    evbuffer_add(b, "\n", 1);
    evhttp_send_reply_chunk(req, b);
    evbuffer_free(b);
}

/* GET /metrics: the center's counters in Prometheus' text format. */
static void
desk_metrics(struct desk *d, struct evhttp_request *req)
{
    static const char *const le[CENTER_COMMIT_BUCKETS] = {"0.001", "0.002", "0.005", "0.01",
                                                          "0.05",  "0.1",   "1",     "+Inf"};
    const struct center_stats *st = &d->c->stats;
    struct evbuffer *b = evbuffer_new();
    uint64_t cum = 0;
    size_t i;

    if (b == NULL) {
        desk_error(req, 503, "Service Unavailable", "out of memory");
        return;
    }
#define DESK_COUNTER(name, help, v)                                                                \
    evbuffer_add_printf(                                                                           \
        b, "# HELP hcs_" name " " help "\n# TYPE hcs_" name " counter\nhcs_" name " %llu\n",       \
        (unsigned long long)(v))
    DESK_COUNTER("connections_total", "Patient connections accepted.", st->connections);
    evbuffer_add_printf(b,
                        "# HELP hcs_logins_total Patient logins by result.\n"
                        "# TYPE hcs_logins_total counter\n"
                        "hcs_logins_total{result=\"ok\"} %llu\n"
                        "hcs_logins_total{result=\"failed\"} %llu\n"
                        "hcs_logins_total{result=\"throttled\"} %llu\n",
                        (unsigned long long)st->logins_ok, (unsigned long long)st->logins_failed,
                        (unsigned long long)st->logins_throttled);
    DESK_COUNTER("busy_total", "Connections or logins refused as busy.", st->busy);
    DESK_COUNTER("bookings_total", "Selections handed to the store.", st->bookings);
    DESK_COUNTER("cancels_total", "Cancels handed to the store.", st->cancels);
    DESK_COUNTER("refused_total", "Bookings the store refused (taken meanwhile).", st->refused);
    DESK_COUNTER("unavailable_total", "Changes answered unavailable (store unreachable).",
                 st->unavailable);
    DESK_COUNTER("overflows_total", "Patients dropped for not reading their pushes.",
                 st->overflows);
    DESK_COUNTER("pushes_total", "Push lines queued to waiting patients.", st->pushes);
    DESK_COUNTER("desk_requests_total", "Requests to the desk.", d->requests);
    DESK_COUNTER("desk_refused_total", "Desk requests refused (login, origin, size).", d->refused);
#undef DESK_COUNTER
    evbuffer_add_printf(b, "# HELP hcs_commit_seconds Time from handing a batch to the store to "
                           "its answer.\n# TYPE hcs_commit_seconds histogram\n");
    for (i = 0; i < CENTER_COMMIT_BUCKETS; i++) {
        cum += st->commit_hist[i];
        evbuffer_add_printf(b, "hcs_commit_seconds_bucket{le=\"%s\"} %llu\n", le[i],
                            (unsigned long long)cum);
    }
    evbuffer_add_printf(b,
                        "hcs_commit_seconds_sum %.6f\nhcs_commit_seconds_count %llu\n"
                        "# HELP hcs_store_up Whether the store takes changes now.\n"
                        "# TYPE hcs_store_up gauge\nhcs_store_up %d\n"
                        "# HELP hcs_desk_streams Event streams open.\n"
                        "# TYPE hcs_desk_streams gauge\nhcs_desk_streams %zu\n",
                        (double)st->commit_us / 1e6, (unsigned long long)st->commits,
                        center_store_available(d->c), d->nstreams);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    desk_send(req, 200, "OK", b);
    evbuffer_free(b);
}

/* The schedule as availabilities.txt rows (the file's view: retired bookings are not rows). */
static int
desk_rows(const struct center *c, struct evbuffer *out, uint32_t skip, const struct desk_slot *add)
{
    const struct schedule *s = &c->sched;
    size_t i;

    for (i = 0; i < s->n + s->npending; i++) {
        const struct slot *sl = i < s->n ? &s->slots[i] : &s->pending[i - s->n];
        const struct sched_doctor *doc = schedule_doctor(s, sl);

        if ((i < s->n && sl->retired) || sl->index == skip)
            continue;
        if (evbuffer_add_printf(out, "%u %s %s %s %u\n", sl->index, sl->day, sl->time, doc->name,
                                doc->port) < 0)
            return -1;
    }
    if (add != NULL && evbuffer_add_printf(out, "%u %s %s %s %u\n", add->index, add->day, add->time,
                                           add->doctor, add->port) < 0)
        return -1;
    return 0;
}

/* Write availabilities.txt anew: the schedule without skip, with add; replaced atomically. */
static int
desk_write(struct desk *d, uint32_t skip, const struct desk_slot *add, char *err, size_t errlen)
{
    const char *path = d->c->cfg.availabilities;
    struct evbuffer *b = evbuffer_new();
    char tmp[4096];
    int fd = -1, rc = -1;

    tmp[0] = '\0';
    if (b == NULL || desk_rows(d->c, b, skip, add) == -1) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.desk-XXXXXX", path) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        tmp[0] = '\0';
        goto out;
    }
    if ((fd = mkstemp(tmp)) == -1) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    while (evbuffer_get_length(b) > 0)
        if (evbuffer_write(b, fd) <= 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
    rc = fsync(fd);
    rc = close(fd) == -1 ? -1 : rc;
    fd = -1;
    if (rc == -1) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if ((rc = rename(tmp, path)) == -1)
        snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
    else
        tmp[0] = '\0';
out:
    if (fd != -1)
        close(fd);
    if (tmp[0] != '\0')
        unlink(tmp);
    if (b != NULL)
        evbuffer_free(b);
    return rc;
}

/*
 * Change the schedule as a reload would: write availabilities.txt anew and
 * reload it, so the change lasts, reaches waiting patients as pushes and,
 * with a shared store, every center. A reload that fails puts the file
 * back as the schedule still is.
 */
static int
desk_change(struct desk *d, uint32_t skip, const struct desk_slot *add, char *err, size_t errlen)
{
    char again[256];

    if (desk_write(d, skip, add, err, errlen) == -1)
        return -1;
    if (center_reload(d->c, err, errlen) == 0)
        return 0;
    if (desk_write(d, 0, NULL, again, sizeof again) == -1)
        log_warnx("desk: %s", again);
    return -1;
}

/* Whether an index is used by the schedule in any form (a slot, a retired booking, a row). */
static int
desk_index_used(const struct center *c, uint32_t index)
{
    size_t i;

    if (schedule_find(&c->sched, index) != NULL)
        return 1;
    for (i = 0; i < c->sched.npending; i++)
        if (c->sched.pending[i].index == index)
            return 1;
    return 0;
}

/* POST /api/slots: a new slot. */
static void
desk_add(struct desk *d, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req), *b;
    size_t len = evbuffer_get_length(in);
    const char *body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
    struct desk_slot ds;
    char err[512];
    const struct slot *sl;

    if (desk_json_parse_slot(body, len, &ds, err, sizeof err) == -1) {
        desk_error(req, 400, "Bad Request", err);
        return;
    }
    if (desk_index_used(d->c, ds.index)) {
        snprintf(err, sizeof err, "slot %u exists", ds.index);
        desk_error(req, 409, "Conflict", err);
        return;
    }
    if (desk_change(d, 0, &ds, err, sizeof err) == -1) {
        log_warnx("desk: adding slot %u: %s", ds.index, err);
        desk_error(req, 500, "Internal Server Error", err);
        return;
    }
    log_info("desk: slot %u added (%s %s %s %u)", ds.index, ds.day, ds.time, ds.doctor, ds.port);
    if ((b = evbuffer_new()) == NULL) {
        desk_error(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    /* With a shared store the slot appears once the database announces it. */
    if ((sl = schedule_find(&d->c->sched, ds.index)) != NULL)
        desk_json_slot(b, d->c, sl);
    else
        evbuffer_add_printf(b, "{\"index\":%u,\"pending\":true}", ds.index);
    evbuffer_add(b, "\n", 1);
    desk_json_reply(req, sl != NULL ? 201 : 202, sl != NULL ? "Created" : "Accepted", b);
}

/* DELETE /api/slots/<index>: a free slot leaves the schedule. */
static void
desk_remove(struct desk *d, struct evhttp_request *req, uint32_t index)
{
    const struct slot *sl = schedule_find(&d->c->sched, index);
    struct evbuffer *b;
    char err[512];

    if (sl == NULL || sl->retired) {
        desk_error(req, 404, "Not Found", "no such slot");
        return;
    }
    if (sl->holder != SCHEDULE_FREE) {
        desk_error(req, 409, "Conflict", "the slot is booked: cancel the booking first");
        return;
    }
    if (desk_change(d, index, NULL, err, sizeof err) == -1) {
        log_warnx("desk: removing slot %u: %s", index, err);
        desk_error(req, 500, "Internal Server Error", err);
        return;
    }
    log_info("desk: slot %u removed", index);
    if ((b = evbuffer_new()) == NULL) {
        desk_error(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    evbuffer_add_printf(b, "{\"removed\":%u}\n", index);
    desk_json_reply(req, 200, "OK", b);
}

/* Answer a cancel the store took (or not). */
static void
desk_cancel_answer(struct evhttp_request *req, uint32_t index, const char *user,
                   enum center_commit r)
{
    struct evbuffer *b;

    if (r == CENTER_UNKNOWN) {
        desk_error(req, 503, "Service Unavailable", "the store is unavailable; try again");
        return;
    }
    if ((b = evbuffer_new()) == NULL) {
        desk_error(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    evbuffer_add_printf(b, "{\"cancelled\":%u,\"user\":", index);
    desk_json_str(b, user, strlen(user));
    evbuffer_add(b, "}\n", 2);
    log_info("desk: booking of slot %u cancelled", index);
    desk_json_reply(req, 200, "OK", b);
}

/* DELETE /api/bookings/<index>: the booking ends, as if its patient cancelled it. */
static void
desk_cancel(struct desk *d, struct evhttp_request *req, uint32_t index)
{
    const struct slot *sl = schedule_find(&d->c->sched, index);
    struct user *u;
    struct desk_wait *w;
    enum center_commit r;

    if (sl == NULL || sl->holder == SCHEDULE_FREE) {
        desk_error(req, 404, "Not Found", "no booking of that slot");
        return;
    }
    if (!center_store_available(d->c)) {
        desk_error(req, 503, "Service Unavailable", "the store is unavailable; try again");
        return;
    }
    u = &d->c->users.v[sl->holder];
    if ((w = calloc(1, sizeof *w)) == NULL) {
        desk_error(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    w->req = req;
    w->index = index;
    snprintf(w->user, sizeof w->user, "%.*s", (int)u->namelen, u->name);
    r = center_commit_desk(d->c, d, u, index);
    if (r != CENTER_HELD) {
        desk_cancel_answer(req, index, w->user, r);
        free(w);
        return;
    }
    TAILQ_INSERT_TAIL(&d->waits, w, entry);
}

/* The store answered a cancel of the desk (in the order they were asked). */
void
desk_committed(struct desk *d, uint32_t index, enum center_commit r)
{
    struct desk_wait *w = TAILQ_FIRST(&d->waits);

    if (w == NULL || w->index != index) {
        log_warnx("desk: an answer for slot %u nobody waits for", index);
        return;
    }
    TAILQ_REMOVE(&d->waits, w, entry);
    desk_cancel_answer(w->req, w->index, w->user, r);
    free(w);
}

/* A cross-site request: an Origin that is not this server's (https when it speaks TLS). */
static int
desk_cross_site(const struct desk *d, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *origin = evhttp_find_header(h, "Origin");
    const char *host = evhttp_find_header(h, "Host");
    char want[512];

    if (origin == NULL)
        return 0; /* not from a browser's page (curl, scripts) */
    if (host == NULL)
        return 1;
    snprintf(want, sizeof want, "%s://%s", d->tls ? "https" : "http", host);
    return strcmp(origin, want) != 0;
}

/* Handle one request of a logged-in staff member. */
static void
desk_route(struct desk *d, struct evhttp_request *req)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *type;
    uint32_t index;

    if (path == NULL)
        path = "/";
    if (cmd == EVHTTP_REQ_HEAD && strcmp(path, "/events") != 0)
        cmd = EVHTTP_REQ_GET; /* evhttp sends the headers only */
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        /* A state change: never from another site's page, always JSON (a form cannot send it). */
        type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        if (desk_cross_site(d, req)) {
            d->refused++;
            desk_error(req, 403, "Forbidden", "cross-site request refused");
            return;
        }
        if (cmd == EVHTTP_REQ_POST && (type == NULL || strncmp(type, "application/json", 16) != 0 ||
                                       (type[16] != '\0' && type[16] != ';'))) {
            d->refused++;
            desk_error(req, 415, "Unsupported Media Type", "send application/json");
            return;
        }
    }
    if (strcmp(path, "/") == 0 && cmd == EVHTTP_REQ_GET) {
        desk_reply(req, 200, "OK", "text/html; charset=utf-8", (const char *)desk_page,
                   desk_page_len);
    } else if (strcmp(path, "/api/schedule") == 0 && cmd == EVHTTP_REQ_GET) {
        struct evbuffer *b = evbuffer_new();

        if (b == NULL || desk_json_schedule(b, d->c) == -1) {
            if (b != NULL)
                evbuffer_free(b);
            desk_error(req, 500, "Internal Server Error", "out of memory");
            return;
        }
        desk_json_reply(req, 200, "OK", b);
    } else if (strcmp(path, "/events") == 0 && cmd == EVHTTP_REQ_GET) {
        desk_events(d, req);
    } else if (strcmp(path, "/metrics") == 0 && cmd == EVHTTP_REQ_GET) {
        desk_metrics(d, req);
    } else if (strcmp(path, "/api/slots") == 0 && cmd == EVHTTP_REQ_POST) {
        desk_add(d, req);
    } else if (desk_path_index(path, "/api/slots/", &index) == 0 && cmd == EVHTTP_REQ_DELETE) {
        desk_remove(d, req, index);
    } else if (desk_path_index(path, "/api/bookings/", &index) == 0 && cmd == EVHTTP_REQ_DELETE) {
        desk_cancel(d, req, index);
    } else if ((strncmp(path, "/api/slots/", 11) == 0 &&
                desk_path_index(path, "/api/slots/", &index) == -1) ||
               (strncmp(path, "/api/bookings/", 14) == 0 &&
                desk_path_index(path, "/api/bookings/", &index) == -1)) {
        desk_error(req, 404, "Not Found", "no such slot (an index is a number from 1)");
    } else if (strcmp(path, "/") == 0 || strcmp(path, "/api/schedule") == 0 ||
               strcmp(path, "/events") == 0 || strcmp(path, "/metrics") == 0 ||
               strcmp(path, "/api/slots") == 0 || strncmp(path, "/api/slots/", 11) == 0 ||
               strncmp(path, "/api/bookings/", 14) == 0) {
        desk_error(req, 405, "Method Not Allowed", "method not allowed here");
    } else {
        desk_error(req, 404, "Not Found", "no such page");
    }
}

/* 401 with the challenge. */
static void
desk_unauthorized(struct desk *d, struct evhttp_request *req)
{
    d->refused++;
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                      "Basic realm=\"" DESK_REALM "\", charset=\"UTF-8\"");
    desk_error(req, 401, "Unauthorized", "staff login required");
}

/* The value of one base64 digit, or -1. */
static int
desk_b64(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Decode base64 (padding optional) into out (size cap); its length, or -1. */
static long
desk_unbase64(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0, v;

    for (; *s != '\0' && *s != '='; s++) {
        if ((v = desk_b64(*s)) == -1)
            return -1;
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        if ((bits += 6) >= 8) {
            bits -= 8;
            if (n + 1 >= cap)
                return -1;
            out[n++] = (char)(acc >> bits & 0xff);
        }
    }
    out[n] = '\0';
    return (long)n;
}

/* The remembered login of key, if it is still good. */
static int
desk_known(struct desk *d, uint64_t key)
{
    int64_t now = center_now(d->c);
    size_t i;

    for (i = 0; i < DESK_CACHE; i++)
        if (d->logins[i].until > now && d->logins[i].key == key)
            return 1;
    return 0;
}

/* Remember a login that was checked (replacing the one that ends first). */
static void
desk_remember(struct desk *d, uint64_t key)
{
    size_t i, old = 0;

    for (i = 1; i < DESK_CACHE; i++)
        if (d->logins[i].until < d->logins[old].until)
            old = i;
    d->logins[old].key = key;
    d->logins[old].until = center_now(d->c) + DESK_CACHE_SECS;
}

static void desk_wake(struct desk *d);

/* The authpool checked a staff password: go on with the request, or refuse it. */
static void
desk_checked(void *arg, int ok)
{
    struct desk_check *k = arg;
    struct desk *d = k->desk;
    struct throttle *t = &d->c->throttle;

    TAILQ_REMOVE(&d->checking, k, entry);
    ok = ok && k->known;
    if (k->src != NULL) {
        throttle_check_end(t, k->src);
        throttle_login_done(t, k->src, ok ? THROTTLE_OK : THROTTLE_FAILED, center_now(d->c));
        throttle_disconnect(t, k->src, 0, center_now(d->c));
    }
    if (ok) {
        desk_remember(d, k->key);
        desk_route(d, k->req);
    } else {
        log_info("desk: failed staff login for %s from %s", k->name, k->host);
        desk_unauthorized(d, k->req);
    }
    free(k);
    desk_wake(d);
}

/* Hand a login to the authpool (its source holds a share of the checks); the password goes. */
static void
desk_check_start(struct desk *d, struct desk_check *k)
{
    struct throttle *t = &d->c->throttle;

    k->job = authpool_check(d->c->authpool, k->hash, k->pass, k->passlen, desk_checked, k);
    util_wipe(k->pass, sizeof k->pass);
    if (k->job != NULL) {
        TAILQ_INSERT_TAIL(&d->checking, k, entry);
        return;
    }
    if (k->src != NULL) {
        throttle_check_end(t, k->src);
        throttle_disconnect(t, k->src, 0, center_now(d->c));
    }
    desk_error(k->req, 503, "Service Unavailable", "password checks are backed up");
    free(k);
}

/* Start the waiting logins whose source has a share of the checks free again. */
static void
desk_wake(struct desk *d)
{
    struct desk_check *k, *next;
    struct timeval tv = {0, 100000};

    for (k = TAILQ_FIRST(&d->waiting); k != NULL; k = next) {
        next = TAILQ_NEXT(k, entry);
        if (!throttle_check_take(&d->c->throttle, k->src))
            continue;
        TAILQ_REMOVE(&d->waiting, k, entry);
        d->nwaiting--;
        desk_check_start(d, k);
    }
    /* A share freed by a patient's check wakes nobody here: look again soon. */
    if (d->nwaiting > 0 && !evtimer_pending(d->wait_ev, NULL))
        evtimer_add(d->wait_ev, &tv);
}

/* The pause of the waiting logins is over. */
static void
desk_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    desk_wake(arg);
}

/*
 * Check the Basic credentials of a request against the staff file, off the
 * loop (the authpool), through the throttle of its source like a patient's
 * login: past its failures it is refused (429), beyond its share of the
 * checks it waits its turn; a login checked lately is known by the keyed
 * hash of its header.
 */
static void
desk_login(struct desk *d, struct evhttp_request *req, const char *auth)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    const struct sockaddr *sa = evcon != NULL ? evhttp_connection_get_addr(evcon) : NULL;
    struct throttle *t = &d->c->throttle;
    struct desk_check *k;
    struct user *u;
    char plain[256], *colon;
    long n;
    uint64_t key = throttle_siphash(d->k0, d->k1, auth, strlen(auth));
    enum throttle_login go = THROTTLE_CHECK;
    unsigned port;

    if (desk_known(d, key)) {
        desk_route(d, req);
        return;
    }
    if (strncmp(auth, "Basic ", 6) != 0 || (n = desk_unbase64(auth + 6, plain, sizeof plain)) < 0 ||
        (colon = memchr(plain, ':', (size_t)n)) == NULL ||
        (size_t)(plain + n - (colon + 1)) >= sizeof k->pass) {
        util_wipe(plain, sizeof plain);
        desk_unauthorized(d, req);
        return;
    }
    if ((k = calloc(1, sizeof *k)) == NULL) {
        util_wipe(plain, sizeof plain);
        desk_error(req, 503, "Service Unavailable", "out of memory");
        return;
    }
    k->desk = d;
    k->req = req;
    k->key = key;
    util_escape(k->name, sizeof k->name, plain, (size_t)(colon - plain));
    if (sa != NULL)
        net_addr_str(sa, k->host, sizeof k->host, &port);
    else
        snprintf(k->host, sizeof k->host, "?");
    if (sa != NULL && (k->src = throttle_connect(t, sa, center_now(d->c))) != NULL)
        go = throttle_login(t, k->src, 1, center_now(d->c));
    if (go == THROTTLE_REFUSE || (go == THROTTLE_WAIT && d->nwaiting >= DESK_MAX_WAITING)) {
        if (go == THROTTLE_WAIT)
            throttle_unwait(t, k->src);
        throttle_disconnect(t, k->src, 0, center_now(d->c));
        util_wipe(plain, sizeof plain);
        free(k);
        d->refused++;
        desk_error(req, 429, "Too Many Requests", "too many logins from this address; wait");
        return;
    }
    u = users_find(&d->staff, plain, (size_t)(colon - plain));
    k->known = u != NULL;
    k->hash = u != NULL ? u->password : d->dummy;
    k->passlen = (size_t)(plain + n - (colon + 1));
    memcpy(k->pass, colon + 1, k->passlen);
    util_wipe(plain, sizeof plain);
    if (go == THROTTLE_WAIT) {
        TAILQ_INSERT_TAIL(&d->waiting, k, entry);
        d->nwaiting++;
        desk_wake(d);
        return;
    }
    desk_check_start(d, k);
}

/* Every request: /healthz for anyone, the rest for staff. */
static void
desk_request_cb(struct evhttp_request *req, void *arg)
{
    struct desk *d = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

    d->requests++;
    if (path != NULL && strcmp(path, "/healthz") == 0) {
        if (center_store_available(d->c))
            desk_reply(req, 200, "OK", "text/plain", "ok\n", 3);
        else
            desk_reply(req, 503, "Service Unavailable", "text/plain", "unavailable\n", 12);
        return;
    }
    if (auth == NULL) {
        desk_unauthorized(d, req);
        return;
    }
    desk_login(d, req, auth);
}

/* Read a staff file into staff: every row a hash. 0, or -1 with "file:line: message". */
static int
desk_staff_load(const char *path, struct users *staff, char *err, size_t errlen)
{
    size_t i;

    if (users_load(staff, path, err, errlen) == -1)
        return -1;
    for (i = 0; i < staff->n; i++)
        if (!staff->v[i].hashed) {
            snprintf(err, errlen,
                     "%s:%u: a clear password is refused for staff; make the row with: hcs "
                     "passwd %.*s",
                     path, staff->v[i].line, (int)staff->v[i].namelen, staff->v[i].name);
            users_free(staff);
            return -1;
        }
    return 0;
}

/* Check the staff file of c's [desk] (hcs --check). */
int
desk_check(const struct center *c, char *err, size_t errlen)
{
    struct users staff;

    if (desk_staff_load(c->cfg.desk_staff, &staff, err, errlen) == -1)
        return -1;
    users_free(&staff);
    return 0;
}

/* Read the staff file. */
static int
desk_staff(struct desk *d, char *err, size_t errlen)
{
    if (desk_staff_load(d->c->cfg.desk_staff, &d->staff, err, errlen) == -1)
        return -1;
    d->dummy = users_dummy_hash(&d->staff);
    return 0;
}

/*
 * A new desk connection over TLS, with the center's context of the moment
 * (a SIGHUP's new certificate reaches the next connection).
 */
static struct bufferevent *
desk_tls_bev_cb(struct event_base *base, void *arg)
{
    struct desk *d = arg;
    struct bufferevent *bev;
    SSL *ssl;

    if ((ssl = SSL_new(d->c->tls)) == NULL)
        return NULL;
    /* libevent waits on the socket once SSL_pending is 0: records read ahead would wait too. */
    SSL_set_read_ahead(ssl, 0);
    /* tls_ca asks the patients for a certificate; staff log in with a password instead. */
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* Browsers often close without close_notify; that is the end of the request. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* Start the desk. */
struct desk *
desk_new(struct center *c, struct event_base *base, char *err, size_t errlen)
{
    struct desk *d = calloc(1, sizeof *d);
    int fds[CENTER_MAXLISTEN], n, i;
    struct timeval ping = {DESK_PING_SECS, 0};
    char host[64];
    uint64_t key[2];

    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->c = c;
    TAILQ_INIT(&d->streams);
    TAILQ_INIT(&d->waits);
    TAILQ_INIT(&d->waiting);
    TAILQ_INIT(&d->checking);
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
        snprintf(err, errlen, "desk: no random bytes: %s", strerror(errno));
        free(d);
        return NULL;
    }
    d->k0 = key[0];
    d->k1 = key[1];
    if (desk_staff(d, err, errlen) == -1)
        goto fail;
    if (c->authpool == NULL && (c->authpool = authpool_new(base, 0, err, errlen)) == NULL)
        goto fail;
    if ((d->http = evhttp_new(base)) == NULL) {
        snprintf(err, errlen, "desk: cannot set up the HTTP server");
        goto fail;
    }
    evhttp_set_max_headers_size(d->http, DESK_MAX_HEADERS);
    evhttp_set_max_body_size(d->http, DESK_MAX_BODY);
    evhttp_set_timeout(d->http, DESK_TIMEOUT);
    evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_DELETE);
    evhttp_set_gencb(d->http, desk_request_cb, d);
    if (c->tls != NULL) {
        evhttp_set_bevcb(d->http, desk_tls_bev_cb, d);
        d->tls = 1;
    }
    n = net_bind_all(c->cfg.desk_listen, c->cfg.desk_port, SOCK_STREAM, 128, fds, CENTER_MAXLISTEN,
                     err, errlen);
    if (n == -1)
        goto fail;
    for (i = 0; i < n; i++) {
        if (evhttp_accept_socket_with_handle(d->http, fds[i]) == NULL) {
            while (i < n)
                close(fds[i++]);
            snprintf(err, errlen, "desk: cannot accept on its socket");
            goto fail;
        }
        net_local_addr(fds[i], host, sizeof host, &d->port);
        log_info("desk: %s://%s%s%s:%u/", c->tls != NULL ? "https" : "http",
                 strchr(host, ':') != NULL ? "[" : "", host, strchr(host, ':') != NULL ? "]" : "",
                 d->port);
    }
    if ((d->ping_ev = event_new(base, -1, EV_PERSIST, desk_ping_cb, d)) == NULL ||
        event_add(d->ping_ev, &ping) == -1 ||
        (d->wait_ev = evtimer_new(base, desk_wait_cb, d)) == NULL) {
        snprintf(err, errlen, "desk: cannot set up its timer");
        goto fail;
    }
    d->sub.cb = desk_sched_cb;
    d->sub.arg = d;
    schedule_subscribe(&c->sched, &d->sub);
    return d;
fail:
    desk_free(d);
    return NULL;
}

/* The desk's port. */
unsigned
desk_port(const struct desk *d)
{
    return d->port;
}

/* Free the desk. */
void
desk_free(struct desk *d)
{
    struct desk_wait *w;
    struct desk_check *k;

    if (d == NULL)
        return;
    while ((k = TAILQ_FIRST(&d->waiting)) != NULL) {
        TAILQ_REMOVE(&d->waiting, k, entry);
        util_wipe(k->pass, sizeof k->pass);
        if (k->src != NULL) {
            throttle_unwait(&d->c->throttle, k->src);
            throttle_disconnect(&d->c->throttle, k->src, 0, center_now(d->c));
        }
        desk_error(k->req, 503, "Service Unavailable", "shutting down");
        free(k);
    }
    while ((k = TAILQ_FIRST(&d->checking)) != NULL) {
        TAILQ_REMOVE(&d->checking, k, entry);
        authpool_cancel(k->job);
        if (k->src != NULL) {
            throttle_check_end(&d->c->throttle, k->src);
            throttle_disconnect(&d->c->throttle, k->src, 0, center_now(d->c));
        }
        desk_error(k->req, 503, "Service Unavailable", "shutting down");
        free(k);
    }
    if (d->wait_ev != NULL)
        event_free(d->wait_ev);
    if (d->sub.cb != NULL)
        schedule_unsubscribe(&d->c->sched, &d->sub);
    while ((w = TAILQ_FIRST(&d->waits)) != NULL) {
        TAILQ_REMOVE(&d->waits, w, entry);
        free(w);
    }
    /* Freeing the server closes every connection; the streams' close callbacks free them. */
    if (d->http != NULL)
        evhttp_free(d->http);
    if (d->ping_ev != NULL)
        event_free(d->ping_ev);
    users_free(&d->staff);
    free(d);
}
