/* conn.c: one patient connection: socket I/O, line framing, back-pressure, timers, states. */
#include "conn.h"
#include "authpool.h"
#include "center.h"
#include "command.h"
#include "committer.h"
#include "log.h"
#include "net.h"
#include "out.h"
#include "transport.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define CONN_LINGER_SECS 2  /* how long to discard input after the last reply */
#define CONN_OUT_HIGH 65536 /* stop handling requests while this much is queued */
#define CONN_DUE_MAX 64     /* deadlines handled per firing; more wait for the next pass */

/* "TLS handshake not finished": one line a second at most, with a count. */
static struct throttle_ratelog conn_handshake_log = {-1, 0};

static void conn_event_cb(evutil_socket_t, short, void *);
static void conn_timer_cb(struct conn *);
static void conn_timers_cb(evutil_socket_t, short, void *);
static void conn_push_cb(struct sched_sub *, enum sched_change, const struct slot *);

static const char *conn_state_names[] = {"new",    "auth",    "throttled", "ready",
                                         "commit", "closing", "linger"};

/* Move to a new state, logging the transition. */
static void
conn_set_state(struct conn *c, enum conn_state state)
{
    if (c->state != state)
        log_debug("%s:%u: %s -> %s", conn_host(c), c->port, conn_state_names[c->state],
                  conn_state_names[state]);
    c->state = state;
}

/* Whether c waits for one answer (input is kept until it comes). */
static int
conn_waiting(const struct conn *c)
{
    return c->state == CONN_AUTH || c->state == CONN_THROTTLED || c->state == CONN_COMMIT;
}

/* Seconds on libevent's cached clock (no system call). */
int64_t
conn_now(const struct conn *c)
{
    return center_now(c->center);
}

/* Wait for readiness to read (normally) or to write (after a short write). */
static void
conn_set_events(struct conn *c, short flags)
{
    if (!c->evset || c->evflags == flags)
        return;
    event_del(&c->ev);
    c->evflags = flags;
    if (flags == 0)
        return;
    event_assign(&c->ev, c->center->base, c->fd, flags | EV_PERSIST, conn_event_cb, c);
    if (event_add(&c->ev, NULL) == -1)
        log_warnx("%s:%u: cannot watch socket", conn_host(c), c->port);
}

/*
 * Milliseconds on the loop's monotonic clock (as its timers count, so a
 * step of the wall clock moves no deadline; no system call).
 */
static int64_t
conn_now_ms(const struct center *center)
{
    struct timeval tv;

    if (center->base == NULL || event_gettime_monotonic(center->base, &tv) == -1)
        return 0;
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Put c at place i of the heap. */
static void
conn_heap_put(struct conn_timers *t, size_t i, struct conn *c)
{
    t->heap[i] = c;
    c->timeridx = (uint32_t)i;
}

/* Move the connection at place i up or down until the heap is ordered again. */
static void
conn_heap_fix(struct conn_timers *t, size_t i)
{
    struct conn *c = t->heap[i];

    while (i > 0 && t->heap[(i - 1) / 2]->deadline > c->deadline) {
        conn_heap_put(t, i, t->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t k = 2 * i + 1;

        if (k >= t->n)
            break;
        if (k + 1 < t->n && t->heap[k + 1]->deadline < t->heap[k]->deadline)
            k++;
        if (t->heap[k]->deadline >= c->deadline)
            break;
        conn_heap_put(t, i, t->heap[k]);
        i = k;
    }
    conn_heap_put(t, i, c);
}

/* Set the center's timer for the earliest deadline (or none). */
static void
conn_timers_set(struct center *center)
{
    struct conn_timers *t = &center->timers;
    int64_t ms;
    struct timeval tv;

    if (t->n == 0) {
        if (t->ev != NULL)
            evtimer_del(t->ev);
        return;
    }
    if (t->ev == NULL && (t->ev = evtimer_new(center->base, conn_timers_cb, center)) == NULL) {
        log_warnx("cannot make the connections' timer");
        return;
    }
    ms = t->heap[0]->deadline - conn_now_ms(center);
    if (ms < 0)
        ms = 0;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
    evtimer_add(t->ev, &tv);
}

/* Take c's deadline off the heap, if it has one. */
static void
conn_timer_del(struct conn *c)
{
    struct conn_timers *t = &c->center->timers;
    size_t i = c->timeridx;
    int first = i == 0;

    if (c->timeridx == CONN_NO_TIMER)
        return;
    c->timeridx = CONN_NO_TIMER;
    if (i < --t->n) {
        conn_heap_put(t, i, t->heap[t->n]);
        conn_heap_fix(t, i);
    }
    if (first)
        conn_timers_set(c->center);
}

/* Arm the timer to fire after secs seconds (replacing the deadline set before). */
static void
conn_arm_timer(struct conn *c, int64_t secs)
{
    struct conn_timers *t = &c->center->timers;
    int first;

    if (!c->timed)
        return;
    c->deadline = conn_now_ms(c->center) + (secs > 0 ? secs : 0) * 1000;
    if (c->timeridx == CONN_NO_TIMER) {
        if (t->n == t->cap) {
            size_t cap = t->cap > 0 ? t->cap * 2 : 64;
            struct conn **h = realloc(t->heap, cap * sizeof *h);

            if (h == NULL) {
                log_warnx("%s:%u: out of memory for its deadline", conn_host(c), c->port);
                return;
            }
            t->heap = h;
            t->cap = cap;
        }
        conn_heap_put(t, t->n++, c);
    }
    first = c->timeridx == 0;
    conn_heap_fix(t, c->timeridx);
    if (first || c->timeridx == 0) /* the earliest deadline changed */
        conn_timers_set(c->center);
}

/*
 * The earliest deadline passed: take every connection whose deadline has
 * (up to CONN_DUE_MAX; the rest on the next loop pass) off the heap, then
 * handle each. One popped but re-armed or closed meanwhile is left alone.
 */
static void
conn_timers_cb(evutil_socket_t fd, short what, void *arg)
{
    struct center *center = arg;
    struct conn_timers *t = &center->timers;
    struct conn *due[CONN_DUE_MAX];
    int64_t now = conn_now_ms(center);
    size_t n = 0, i;

    (void)fd;
    (void)what;
    while (t->n > 0 && n < CONN_DUE_MAX && t->heap[0]->deadline <= now) {
        due[n++] = t->heap[0];
        t->heap[0]->timeridx = CONN_NO_TIMER;
        if (--t->n > 0) {
            conn_heap_put(t, 0, t->heap[t->n]);
            conn_heap_fix(t, 0);
        }
    }
    for (i = 0; i < n; i++)
        if (!due[i]->lost && due[i]->timeridx == CONN_NO_TIMER)
            conn_timer_cb(due[i]);
    conn_timers_set(center);
}

/* Free the center's deadline heap and its timer (center teardown). */
void
conn_timers_free(struct conn_timers *t)
{
    if (t->ev != NULL)
        event_free(t->ev);
    free(t->heap);
    memset(t, 0, sizeof *t);
}

/* Whether c keeps deadlines (see conn.h). */
int
conn_timed(const struct conn *c)
{
    return c->timed;
}

/* The output buffer, made if there is none. */
struct evbuffer *
conn_out(struct conn *c)
{
    if (c->out == NULL)
        c->out = evbuffer_new();
    return c->out;
}

/* Bytes of output waiting. */
size_t
conn_outlen(const struct conn *c)
{
    return c->out != NULL ? evbuffer_get_length(c->out) : 0;
}

/* Keep the peer's address compactly (conn_host formats it). */
static void
conn_set_addr(struct conn *c, const struct sockaddr *sa)
{
    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        memcpy(c->addr, &sin->sin_addr, sizeof sin->sin_addr);
        c->port = ntohs(sin->sin_port);
        c->family = CONN_AF_INET;
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        memcpy(c->addr, &sin6->sin6_addr, sizeof sin6->sin6_addr);
        c->port = ntohs(sin6->sin6_port);
        c->family = CONN_AF_INET6;
    } else {
        c->family = sa != NULL ? CONN_AF_UNKNOWN : CONN_AF_NONE;
    }
}

/* The peer's address as text (see conn.h): four buffers in turn, for one log line's uses. */
const char *
conn_host(const struct conn *c)
{
    static char buf[4][INET6_ADDRSTRLEN];
    static unsigned next;
    char *h = buf[next++ % 4];

    if (c->family == CONN_AF_INET || c->family == CONN_AF_INET6)
        inet_ntop(c->family == CONN_AF_INET ? AF_INET : AF_INET6, c->addr, h, sizeof buf[0]);
    else
        snprintf(h, sizeof buf[0], "%s", c->family == CONN_AF_NONE ? "none" : "unknown");
    return h;
}

/*
 * Arm the timer for the next deadline: the TLS handshake's
 * (tls_handshake_timeout after connecting), the login's (auth_timeout
 * after connecting, also while a password check runs) or the idle one
 * (idle_timeout after the last complete line). A closing connection keeps
 * the linger deadline conn_close_after gave it (a refused TLS connection
 * whose handshake ends later must not stay for idle_timeout).
 */
static void
conn_arm_deadline(struct conn *c, int64_t now)
{
    const struct center_config *cfg = &c->center->cfg;
    int64_t auth_end = c->created + cfg->auth_timeout, idle_end = c->lastline + cfg->idle_timeout;
    int64_t next = idle_end;

    if (c->state == CONN_CLOSING || c->state == CONN_LINGER)
        return;

    if ((c->state == CONN_NEW || c->state == CONN_AUTH) && auth_end < idle_end)
        next = auth_end;
    if (c->handshaking && c->created + cfg->tls_handshake_timeout < next)
        next = c->created + cfg->tls_handshake_timeout;
    conn_arm_timer(c, next - now);
}

/* Create a connection for an accepted socket. */
struct conn *
conn_new(struct center *center, int fd, const struct sockaddr *sa, const struct transport_ops *xprt)
{
    struct conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->center = center;
    c->fd = fd;
    c->xprt = xprt;
    c->state = CONN_NEW;
    c->sub.cb = conn_push_cb;
    c->sub.arg = c;
    c->timeridx = CONN_NO_TIMER;
    conn_set_addr(c, sa);
    c->created = c->lastline = conn_now(c);
    if (fd != -1) {
        if (event_assign(&c->ev, center->base, fd, EV_READ | EV_PERSIST, conn_event_cb, c) == -1 ||
            event_add(&c->ev, NULL) == -1)
            goto fail;
        c->evset = 1;
        c->timed = 1;
        c->evflags = EV_READ;
        c->handshaking = xprt != NULL && xprt->handshake != NULL;
        conn_arm_deadline(c, c->created);
    }
    center_conn_add(center, c);
    return c;
fail:
    free(c);
    return NULL;
}

/* Close a connection now; the center frees it at the end of the loop pass. */
void
conn_close(struct conn *c)
{
    struct center *center = c->center;

    if (c->lost)
        return;
    log_debug("%s:%u: closed", conn_host(c), c->port);
    c->lost = 1;
    schedule_unsubscribe(&center->sched, &c->sub);
    if (c->committing)
        committer_forget(center->committer, c);
    command_conn_closed(c);
    if (c->evset)
        event_del(&c->ev);
    c->evset = 0;
    conn_timer_del(c);
    c->timed = 0;
    if (c->xprt != NULL)
        c->xprt->close(c);
    c->fd = -1;
    center_conn_lost(center, c);
}

/* Free what a closed connection still holds. */
void
conn_free(struct conn *c)
{
    if (c->out != NULL)
        evbuffer_free(c->out);
    util_wipe(c->pend, c->pendlen);
    free(c->pend);
    free(c->loginname);
    free(c);
}

/* Queue a reply. */
void
conn_reply(struct conn *c, const char *s, size_t len)
{
    if (trace_on)
        conn_trace(c, TRACE_OUT, s, len);
    if (conn_out(c) == NULL || evbuffer_add(c->out, s, len) == -1)
        log_warnx("%s:%u: out of memory for a reply", conn_host(c), c->port);
}

/* Print one trace line on stdout, among the screen lines. */
static void
conn_trace_sink(const char *line, size_t len, void *arg)
{
    (void)arg;
    out_line(OUT_STDOUT, "%.*s", (int)len, line);
}

/* Print the trace lines of one message to or from c. */
void
conn_trace(const struct conn *c, enum trace_dir dir, const char *s, size_t len)
{
    char peer[TRACE_PEERLEN];

    trace_peer(peer, sizeof peer, conn_host(c), c->port);
    trace_lines(dir, peer, trace_tcp_phase(s, len, c->user != NULL), s, len, conn_trace_sink, NULL);
}

/* Print the trace lines of what was queued to c from offset from on. */
void
conn_trace_queued(const struct conn *c, size_t from)
{
    size_t len = evbuffer_get_length(c->out);
    struct evbuffer_ptr at;
    char *copy;

    if (len <= from || evbuffer_ptr_set(c->out, &at, from, EVBUFFER_PTR_SET) == -1 ||
        (copy = malloc(len - from)) == NULL)
        return;
    if (evbuffer_copyout_from(c->out, &at, copy, len - from) == (ev_ssize_t)(len - from))
        conn_trace(c, TRACE_OUT, copy, len - from);
    free(copy);
}

/* Queue a formatted reply. */
void
conn_replyf(struct conn *c, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        conn_reply(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Queue a last reply and close once it is written. */
void
conn_close_after(struct conn *c, const char *s, size_t len)
{
    conn_reply(c, s, len);
    schedule_unsubscribe(&c->center->sched, &c->sub);
    center_conn_settled(c->center, c); /* never asked to make room: it goes already */
    conn_set_state(c, CONN_CLOSING);
    conn_arm_timer(c, CONN_LINGER_SECS);
}

/* Queue "error <reason>"; close after it when the error says so. */
void
conn_error(struct conn *c, enum proto_error e)
{
    const struct proto_error_info *pe = &proto_errors[e];

    if (pe->closes)
        conn_close_after(c, pe->line, pe->linelen);
    else
        conn_reply(c, pe->line, pe->linelen);
}

/* Refuse a connection with an error line (see conn.h). */
void
conn_refuse(struct conn *c, enum proto_error e)
{
    conn_error(c, e);
    conn_flush(c);
}

/*
 * What a waiting connection watches: in AUTH its socket stays readable, so
 * a client that leaves is seen at once and its check dropped (what it sends
 * meanwhile is kept, up to a read buffer's worth); otherwise nothing.
 */
static short
conn_wait_events(const struct conn *c)
{
    return c->state == CONN_AUTH && c->pendlen < c->center->rbufsize ? EV_READ : 0;
}

/* Stop handling requests until the one answer c waits for is known. */
void
conn_wait(struct conn *c, enum conn_state state, unsigned secs)
{
    conn_set_state(c, state);
    conn_set_events(c, conn_wait_events(c));
    if (state == CONN_THROTTLED)
        conn_arm_timer(c, secs);
    else if (state == CONN_COMMIT)
        conn_timer_del(c); /* the store answers; conn_done_waiting re-arms */
}

/* The answer is queued: go on in state and write it. */
void
conn_done_waiting(struct conn *c, enum conn_state state)
{
    conn_set_state(c, state);
    conn_arm_deadline(c, conn_now(c));
    conn_flush(c);
}

/* Keep unprocessed input for later. */
static void
conn_keep(struct conn *c, const char *data, size_t len, int backlog)
{
    char *p = NULL;

    if (len > 0 && (p = malloc(len)) == NULL) {
        conn_error(c, PROTO_ERR_OUT_OF_MEMORY);
        return;
    }
    if (len > 0)
        memcpy(p, data, len);
    /* What it held may be part of a password. */
    if (c->pendlen > 0)
        util_wipe(c->pend, c->pendlen);
    free(c->pend);
    c->pend = p;
    c->pendlen = len;
    c->backlog = backlog && len > 0;
}

/* Handle every complete line of data; returns whether it held a login. */
static int
conn_process_lines(struct conn *c, char *data, size_t len)
{
    size_t max = c->center->cfg.max_line;
    char *p = data, *end = data + len;
    int login = 0;

    while (p < end && (c->state == CONN_NEW || c->state == CONN_READY)) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t linelen, i;

        if (nl == NULL) {
            /* +1: a "\r" may still come before the "\n" */
            if ((size_t)(end - p) <= max + 1) {
                conn_keep(c, p, (size_t)(end - p), 0);
                return login;
            }
            conn_error(c, PROTO_ERR_LINE_TOO_LONG);
            break;
        }
        if (conn_outlen(c) >= CONN_OUT_HIGH) {
            conn_keep(c, p, (size_t)(end - p), 1);
            return login;
        }
        linelen = (size_t)(nl - p);
        if (linelen > 0 && p[linelen - 1] == '\r')
            linelen--;
        if (linelen > max) {
            conn_error(c, PROTO_ERR_LINE_TOO_LONG);
            break;
        }
        for (i = 0; i < linelen; i++)
            if ((unsigned char)p[i] < 0x20)
                break;
        if (i < linelen) {
            if (trace_on)
                conn_trace(c, TRACE_IN, p, linelen); /* escaped: the byte shows as \xNN */
            conn_error(c, PROTO_ERR_BAD_LINE);
            break;
        }
        c->lastline = conn_now(c);
        login |= linelen >= 12 && memcmp(p, "authenticate", 12) == 0;
        if (trace_on)
            conn_trace(c, TRACE_IN, p, linelen);
        command_dispatch(c, p, linelen);
        p = nl + 1;
        if (conn_waiting(c)) {
            conn_keep(c, p, (size_t)(end - p), 1);
            return login;
        }
    }
    conn_keep(c, NULL, 0, 0);
    return login;
}

/*
 * Handle every complete line of data (see conn.h). Input that held a
 * login, or came before one, may hold a password: it is wiped from the
 * buffer once handled (what is kept was copied).
 */
void
conn_process(struct conn *c, char *data, size_t len)
{
    int before = c->user == NULL;

    if (conn_process_lines(c, data, len) || before)
        util_wipe(data, len);
}

/* Feed bytes from memory, as conn_read does from the socket. */
void
conn_feed(struct conn *c, const char *data, size_t len)
{
    struct center *center = c->center;

    while (len > 0 && (c->state == CONN_NEW || c->state == CONN_READY)) {
        size_t have = c->pendlen, n = center->rbufsize - have;

        if (n == 0)
            break; /* a backlog fills the buffer: the caller must take c->out */
        if (n > len)
            n = len;
        if (have > 0)
            memcpy(center->rbuf, c->pend, have);
        memcpy(center->rbuf + have, data, n);
        conn_process(c, center->rbuf, have + n);
        data += n;
        len -= n;
    }
}

/* Append a push line for a schedule change; written soon after (center_push_later). */
static void
conn_push_cb(struct sched_sub *sub, enum sched_change change, const struct slot *slot)
{
    struct conn *c = sub->arg;
    struct center *center = c->center;
    const char *line;
    size_t len;

    line = center_push_line(center, change, slot, &len);
    conn_reply(c, line, len);
    /* Only what a client leaves unread counts against it: a reader that
     * keeps up may get many pushes in one loop pass. */
    if (c->stalled > center->cfg.max_output) {
        c->overflow = 1;
        schedule_unsubscribe(&center->sched, sub);
    }
    if (c->xprt != NULL)
        center_push_later(center, c);
}

/* Process input held back while output was queued or an answer awaited. */
static void
conn_resume(struct conn *c)
{
    struct center *center = c->center;
    size_t len = c->pendlen;

    if (!c->backlog)
        return;
    memcpy(center->rbuf, c->pend, len);
    c->backlog = 0;
    conn_process(c, center->rbuf, len);
    conn_flush(c);
}

/* Write queued output (see conn.h). */
void
conn_flush(struct conn *c)
{
    short want = EV_WRITE;

    if (c->lost || c->xprt == NULL)
        return;
    if (c->overflow) {
        log_warnx("%s:%u: client does not read its pushes; closing", conn_host(c), c->port);
        c->center->stats.overflows++;
        conn_close(c);
        return;
    }
    if (conn_outlen(c) > 0 && c->xprt->write(c, c->out, &want) == -1 && errno != EAGAIN &&
        errno != EINTR) {
        log_debug("%s:%u: write: %s", conn_host(c), c->port, strerror(errno));
        conn_close(c);
        return;
    }
    c->stalled = conn_outlen(c);
    if (c->stalled > 0) {
        conn_set_events(c, want);
        return;
    }
    if (c->out != NULL) { /* an idle connection holds no buffer */
        evbuffer_free(c->out);
        c->out = NULL;
    }
    if (conn_waiting(c)) {
        conn_set_events(c, conn_wait_events(c));
        return; /* requests are handled again after the held answer */
    }
    if (c->state == CONN_CLOSING) {
        /* Shut our side, then read until EOF so unread input from the
         * client cannot turn our close into a reset that loses the reply. */
        c->xprt->shutdown(c);
        conn_set_state(c, CONN_LINGER);
    }
    conn_set_events(c, EV_READ);
    conn_resume(c);
    /* Bytes the transport took in while c waited wake no socket event: make one, so they
     * are read on the next loop pass (not here: the shared read buffer may be in use). */
    if (!c->lost && !c->backlog && c->evset && (c->state == CONN_NEW || c->state == CONN_READY) &&
        c->xprt->pending != NULL && c->xprt->pending(c) > 0)
        event_active(&c->ev, EV_READ, 0);
}

/* Discard what a lingering client still sends, until its end of file. */
static void
conn_drain(struct conn *c)
{
    char sink[4096];
    short want;
    ssize_t n;

    while ((n = c->xprt->read(c, sink, sizeof sink, &want)) > 0)
        ;
    if (n == 0 || (errno != EAGAIN && errno != EINTR))
        conn_close(c);
}

/* In AUTH: keep what the client sends for later, and close at once when it leaves. */
static void
conn_read_waiting(struct conn *c)
{
    struct center *center = c->center;
    size_t have = c->pendlen;
    short want = EV_READ;
    ssize_t n;

    c->readwantswrite = 0;
    if (have >= center->rbufsize) {
        conn_set_events(c, 0);
        return;
    }
    if (have > 0)
        memcpy(center->rbuf, c->pend, have);
    n = c->xprt->read(c, center->rbuf + have, center->rbufsize - have, &want);
    if (n > 0)
        conn_keep(c, center->rbuf, have + (size_t)n, 1);
    util_wipe(center->rbuf, have + (n > 0 ? (size_t)n : 0));
    if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
        log_debug("%s:%u: %s while its login is checked", conn_host(c), c->port,
                  n == 0 ? "end of file" : strerror(errno));
        conn_close(c);
    } else if (n == -1) {
        c->readwantswrite = want == EV_WRITE;
        if (want != EV_READ)
            conn_set_events(c, want);
    } else {
        conn_set_events(c, conn_wait_events(c));
    }
}

/* Read what the socket has and handle it. */
static void
conn_read(struct conn *c)
{
    struct center *center = c->center;
    short want = EV_READ;
    size_t have;
    ssize_t n;

    if (c->state == CONN_LINGER) {
        conn_drain(c);
        return;
    }
    if (c->state == CONN_AUTH) {
        conn_read_waiting(c);
        return;
    }
    c->readwantswrite = 0;
    do {
        /* The partial line goes in front of the new bytes in the shared buffer. */
        have = c->pendlen;
        if (have > 0)
            memcpy(center->rbuf, c->pend, have);
        n = c->xprt->read(c, center->rbuf + have, center->rbufsize - have, &want);
        if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
            log_debug("%s:%u: %s", conn_host(c), c->port, n == 0 ? "end of file" : strerror(errno));
            conn_close(c);
            return;
        }
        if (n == -1) {
            /* A TLS read may need the socket writable first: try again then. */
            c->readwantswrite = want == EV_WRITE;
            if (want != EV_READ)
                conn_set_events(c, want);
            return;
        }
        conn_process(c, center->rbuf, have + (size_t)n);
        conn_flush(c);
        /* What the transport already holds is handled before waiting again,
         * unless replies are backed up (conn_resume takes it up then). */
    } while (!c->lost && !c->backlog && (c->state == CONN_NEW || c->state == CONN_READY) &&
             c->xprt->pending != NULL && c->xprt->pending(c) > 0);
}

/* Go on with the transport's opening; once done, read what came with it. */
static void
conn_handshake(struct conn *c)
{
    short want = EV_READ;
    int rc = c->xprt->handshake(c, &want);

    if (rc == -1) {
        log_debug("%s:%u: handshake failed", conn_host(c), c->port);
        conn_close(c);
        return;
    }
    if (rc == 0) {
        conn_set_events(c, want);
        return;
    }
    c->handshaking = 0;
    conn_arm_deadline(c, conn_now(c));
    conn_flush(c); /* a refusal ("busy") queued meanwhile */
    if (!c->lost)
        conn_read(c);
}

/*
 * The socket is readable or writable. Output that waits is written first,
 * whichever readiness came (a TLS write may wait for the socket to be
 * readable), and a read that waited for writability is tried again.
 */
static void
conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    (void)fd;
    if (c->handshaking) {
        conn_handshake(c);
        return;
    }
    if ((what & EV_WRITE) || c->stalled > 0)
        conn_flush(c);
    if (!c->lost && ((what & EV_READ) || c->readwantswrite))
        conn_read(c);
}

/* A deadline passed: idle, authentication, a throttled login, or the end of lingering. */
static void
conn_timer_cb(struct conn *c)
{
    const struct center_config *cfg = &c->center->cfg;
    int64_t now = conn_now(c);

    if (c->handshaking) {
        /* No line can be sent before the handshake: it just goes. A refused
         * one (closing already) ends its linger; the others are logged at
         * most once a second, so a stream of silent clients cannot flood the log. */
        uint64_t n = c->state == CONN_CLOSING || c->state == CONN_LINGER
                         ? 0
                         : throttle_ratelog(&conn_handshake_log, now);

        if (n > 0)
            log_info("%s:%u: TLS handshake not finished in %u s; closed %llu connection%s since "
                     "the last such message",
                     conn_host(c), c->port, cfg->tls_handshake_timeout, (unsigned long long)n,
                     n == 1 ? "" : "s");
        conn_close(c);
        return;
    }
    switch (c->state) {
    case CONN_CLOSING:
    case CONN_LINGER:
        conn_close(c);
        return;
    case CONN_COMMIT:
        return; /* not armed: the store answers */
    case CONN_THROTTLED:
        command_login_delayed(c);
        return;
    default:
        break;
    }
    if ((c->state == CONN_NEW || c->state == CONN_AUTH) && now >= c->created + cfg->auth_timeout) {
        command_login_abandon(c);
        conn_error(c, PROTO_ERR_AUTH_TIMEOUT);
    } else if (now >= c->lastline + cfg->idle_timeout && !c->sub.active) {
        command_login_abandon(c); /* a check still running (idle_timeout < auth_timeout) */
        conn_error(c, PROTO_ERR_IDLE_TIMEOUT);
    } else if (now >= c->lastline + cfg->idle_timeout) {
        /* A patient choosing at the prompt reads its pushes and may take its
         * time: TCP keepalive finds a peer that vanished, max_output one
         * that stopped reading. */
        conn_arm_timer(c, cfg->idle_timeout);
        return;
    } else {
        conn_arm_deadline(c, now);
        return;
    }
    conn_flush(c);
}
