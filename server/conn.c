/* conn.c: one patient connection: socket I/O, line framing, back-pressure, timers, states. */
#include "conn.h"
#include "authpool.h"
#include "center.h"
#include "command.h"
#include "committer.h"
#include "log.h"
#include "net.h"
#include "transport.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define CONN_LINGER_SECS 2  /* how long to discard input after the last reply */
#define CONN_OUT_HIGH 65536 /* stop handling requests while this much is queued */

static void conn_event_cb(evutil_socket_t, short, void *);
static void conn_timer_cb(evutil_socket_t, short, void *);
static void conn_push_cb(struct sched_sub *, enum sched_change, const struct slot *);

static const char *conn_state_names[] = {"new",    "auth",    "throttled", "ready",
                                         "commit", "closing", "linger"};

/* Move to a new state, logging the transition. */
static void
conn_set_state(struct conn *c, enum conn_state state)
{
    if (c->state != state)
        log_debug("%s:%u: %s -> %s", c->host, c->port, conn_state_names[c->state],
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
    if (c->ev == NULL || c->evflags == flags)
        return;
    event_del(c->ev);
    c->evflags = flags;
    if (flags == 0)
        return;
    event_assign(c->ev, c->center->base, c->fd, flags | EV_PERSIST, conn_event_cb, c);
    if (event_add(c->ev, NULL) == -1)
        log_warnx("%s:%u: cannot watch socket", c->host, c->port);
}

/* Arm the timer to fire after secs seconds. */
static void
conn_arm_timer(struct conn *c, int64_t secs)
{
    struct timeval tv = {secs > 0 ? (time_t)secs : 0, 0};

    if (c->timer != NULL)
        evtimer_add(c->timer, &tv);
}

/*
 * Arm the timer for the next deadline: the TLS handshake's
 * (tls_handshake_timeout after connecting), the login's (auth_timeout
 * after connecting, also while a password check runs) or the idle one
 * (idle_timeout after the last complete line).
 */
static void
conn_arm_deadline(struct conn *c, int64_t now)
{
    const struct center_config *cfg = &c->center->cfg;
    int64_t auth_end = c->created + cfg->auth_timeout, idle_end = c->lastline + cfg->idle_timeout;
    int64_t next = idle_end;

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
    if ((c->out = evbuffer_new()) == NULL)
        goto fail;
    if (sa != NULL)
        net_addr_str(sa, c->host, sizeof c->host, &c->port);
    else
        snprintf(c->host, sizeof c->host, "none");
    c->created = c->lastline = conn_now(c);
    if (fd != -1) {
        c->ev = event_new(center->base, fd, EV_READ | EV_PERSIST, conn_event_cb, c);
        c->timer = evtimer_new(center->base, conn_timer_cb, c);
        if (c->ev == NULL || c->timer == NULL || event_add(c->ev, NULL) == -1)
            goto fail;
        c->evflags = EV_READ;
        c->handshaking = xprt != NULL && xprt->handshake != NULL;
        conn_arm_deadline(c, c->created);
    }
    center_conn_add(center, c);
    return c;
fail:
    if (c->ev != NULL)
        event_free(c->ev);
    if (c->timer != NULL)
        event_free(c->timer);
    if (c->out != NULL)
        evbuffer_free(c->out);
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
    log_debug("%s:%u: closed", c->host, c->port);
    c->lost = 1;
    schedule_unsubscribe(&center->sched, &c->sub);
    if (c->committing)
        committer_forget(center->committer, c);
    command_conn_closed(c);
    if (c->ev != NULL)
        event_free(c->ev);
    if (c->timer != NULL)
        event_free(c->timer);
    c->ev = c->timer = NULL;
    if (c->xprt != NULL)
        c->xprt->close(c);
    c->fd = -1;
    center_conn_lost(center, c);
}

/* Free what a closed connection still holds. */
void
conn_free(struct conn *c)
{
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
    evbuffer_add(c->out, s, len);
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
    else if (state == CONN_COMMIT && c->timer != NULL)
        evtimer_del(c->timer); /* the store answers; conn_done_waiting re-arms */
}

/* The answer is queued: go on in state and write it. */
void
conn_done_waiting(struct conn *c, enum conn_state state)
{
    conn_set_state(c, state);
    if (c->timer != NULL)
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
        if (evbuffer_get_length(c->out) >= CONN_OUT_HIGH) {
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
            conn_error(c, PROTO_ERR_BAD_LINE);
            break;
        }
        c->lastline = conn_now(c);
        login |= linelen >= 12 && memcmp(p, "authenticate", 12) == 0;
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
        log_warnx("%s:%u: client does not read its pushes; closing", c->host, c->port);
        c->center->stats.overflows++;
        conn_close(c);
        return;
    }
    if (evbuffer_get_length(c->out) > 0 && c->xprt->write(c, c->out, &want) == -1 &&
        errno != EAGAIN && errno != EINTR) {
        log_debug("%s:%u: write: %s", c->host, c->port, strerror(errno));
        conn_close(c);
        return;
    }
    c->stalled = evbuffer_get_length(c->out);
    if (c->stalled > 0) {
        conn_set_events(c, want);
        return;
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
    if (!c->lost && !c->backlog && c->ev != NULL &&
        (c->state == CONN_NEW || c->state == CONN_READY) && c->xprt->pending != NULL &&
        c->xprt->pending(c) > 0)
        event_active(c->ev, EV_READ, 0);
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
        log_debug("%s:%u: %s while its login is checked", c->host, c->port,
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
            log_debug("%s:%u: %s", c->host, c->port, n == 0 ? "end of file" : strerror(errno));
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
        /* What the transport already holds is handled before waiting again. */
    } while (!c->lost && (c->state == CONN_NEW || c->state == CONN_READY) &&
             c->xprt->pending != NULL && c->xprt->pending(c) > 0);
}

/* Go on with the transport's opening; once done, read what came with it. */
static void
conn_handshake(struct conn *c)
{
    short want = EV_READ;
    int rc = c->xprt->handshake(c, &want);

    if (rc == -1) {
        log_debug("%s:%u: handshake failed", c->host, c->port);
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
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    const struct center_config *cfg = &c->center->cfg;
    int64_t now = conn_now(c);

    (void)fd;
    (void)what;
    if (c->handshaking) {
        /* No line can be sent before the handshake: it just goes. */
        log_info("%s:%u: TLS handshake not finished in %u s; closing", c->host, c->port,
                 cfg->tls_handshake_timeout);
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
