/* conn.c: one patient connection: its state machine, line reader and replies. */
#include "conn.h"
#include "authpool.h"
#include "center.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "throttle.h"
#include "users.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define CONN_LINGER_SECS 2  /* how long to discard input after the last reply */
#define CONN_OUT_HIGH 65536 /* stop handling requests while this much is queued */

static void conn_event_cb(evutil_socket_t, short, void *);
static void conn_timer_cb(evutil_socket_t, short, void *);
static void conn_push_cb(struct sched_sub *, enum sched_change, const struct slot *);

static const char *conn_state_names[] = {"new", "wait", "ready", "commit", "closing", "linger"};

/* Move to a new state, logging the transition. */
static void
conn_set_state(struct conn *c, enum conn_state state)
{
    if (c->state != state)
        log_debug("%s:%u: %s -> %s", c->host, c->port, conn_state_names[c->state],
                  conn_state_names[state]);
    c->state = state;
}

/* Seconds on libevent's cached clock (no system call). */
static int64_t
conn_now(const struct conn *c)
{
    struct timeval tv;

    if (c->center->base == NULL || event_base_gettimeofday_cached(c->center->base, &tv) == -1)
        return 0;
    return (int64_t)tv.tv_sec;
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

/* Create a connection for an accepted socket. */
struct conn *
conn_new(struct center *center, int fd, const struct sockaddr *sa)
{
    struct conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->center = center;
    c->fd = fd;
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
        conn_arm_timer(c, center->cfg.auth_timeout < center->cfg.idle_timeout
                              ? center->cfg.auth_timeout
                              : center->cfg.idle_timeout);
    }
    TAILQ_INSERT_TAIL(&center->conns, c, entry);
    center->nconns++;
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

/* Free a connection and everything it holds; a booking it made stays. */
void
conn_free(struct conn *c)
{
    struct center *center = c->center;

    log_debug("%s:%u: closed", c->host, c->port);
    schedule_unsubscribe(&center->sched, &c->sub);
    TAILQ_REMOVE(&center->conns, c, entry);
    if (c->dirty)
        TAILQ_REMOVE(&center->dirty, c, dirty_entry);
    if (c->committing == CONN_STAGED)
        TAILQ_REMOVE(&center->committing, c, commit_entry);
    else if (c->committing == CONN_INFLIGHT)
        TAILQ_REMOVE(&center->inflight, c, commit_entry);
    center->nconns--;
    if (c->ev != NULL)
        event_free(c->ev);
    if (c->timer != NULL)
        event_free(c->timer);
    authpool_cancel(c->authjob);
    evbuffer_free(c->out);
    free(c->pend);
    free(c->loginname);
    if (c->fd != -1)
        close(c->fd);
    free(c);
}

/* Queue a reply. */
static void
conn_reply(struct conn *c, const char *s, size_t len)
{
    evbuffer_add(c->out, s, len);
}

/* Queue a formatted reply. */
static void __attribute__((format(printf, 2, 3))) conn_replyf(struct conn *c, const char *fmt, ...)
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

/* Queue "error <reason>" and close once it is written. */
static void
conn_close_error(struct conn *c, const char *reason)
{
    conn_replyf(c, "error %s\n", reason);
    schedule_unsubscribe(&c->center->sched, &c->sub);
    conn_set_state(c, CONN_CLOSING);
    conn_arm_timer(c, CONN_LINGER_SECS);
}

/* Refuse a connection with an error line (see conn.h). */
void
conn_refuse(struct conn *c, const char *reason)
{
    conn_close_error(c, reason);
    conn_flush(c);
}

/* Escape a user name for the screen. */
static const char *
conn_username(const struct conn *c, char *buf, size_t len)
{
    if (c->user == NULL)
        return util_escape(buf, len, "", 0);
    return util_escape(buf, len, c->user->name, c->user->namelen);
}

/* Send the answer to a login: success, or failure and close. */
static void
conn_auth_answer(struct conn *c, struct user *user, const char *name)
{
    struct center *center = c->center;

    center_print(center,
                 "Phase 1: The Health Center Server sends the response %s to patient with "
                 "username %s.",
                 user != NULL ? "success" : "failure", name);
    if (user == NULL) {
        conn_reply(c, "failure\n", 8);
        conn_set_state(c, CONN_CLOSING);
        conn_arm_timer(c, CONN_LINGER_SECS);
        return;
    }
    c->user = user;
    conn_set_state(c, CONN_READY);
    conn_reply(c, "success\n", 8);
    conn_arm_timer(c, center->cfg.idle_timeout);
}

/*
 * Answer a change of the schedule: at once without a store, else once the
 * change is committed (the answer is held, and so is any input after it).
 */
static void
conn_answer_change(struct conn *c, const char *answer, size_t len, uint32_t put, uint32_t del)
{
    struct center *center = c->center;

    if (center->committer == NULL) {
        conn_reply(c, answer, len);
        return;
    }
    if (len > sizeof c->held)
        len = sizeof c->held;
    memcpy(c->held, answer, len);
    c->heldlen = len;
    conn_set_state(c, CONN_COMMIT);
    conn_set_events(c, 0);
    center_commit_later(center, c, put != 0, c->user->name, put != 0 ? put : del);
}

/* The store committed: send the held answer and go on (see conn.h). */
void
conn_committed(struct conn *c)
{
    conn_reply(c, c->held, c->heldlen);
    c->heldlen = 0;
    conn_set_state(c, CONN_READY);
    conn_flush(c);
}

/*
 * The login's result is known (user, or NULL for a failure): answer now, or
 * after THROTTLE_DELAY when this address failed too often. async: called
 * from a callback, so the answer must be flushed here.
 */
static void
conn_login_result(struct conn *c, struct user *user, int async)
{
    struct center *center = c->center;
    int64_t now = conn_now(c);
    unsigned delay = throttle_delay(&center->throttle, c->host, now);

    if (user == NULL)
        throttle_failure(&center->throttle, c->host, now);
    if (delay > 0 && c->timer != NULL) {
        log_info("%s: too many failed logins, answers wait %us", c->host, delay);
        c->login = user;
        conn_set_state(c, CONN_WAIT);
        conn_set_events(c, 0);
        conn_arm_timer(c, delay);
        return;
    }
    conn_set_state(c, CONN_NEW);
    conn_auth_answer(c, user, c->loginname != NULL ? c->loginname : "");
    free(c->loginname);
    c->loginname = NULL;
    if (async)
        conn_flush(c);
}

/* The authpool checked the password (see conn_cmd_authenticate). */
static void
conn_auth_done(void *arg, int ok)
{
    struct conn *c = arg;

    struct user *user = c->login;

    c->authjob = NULL;
    c->login = NULL;
    /* For a clear or unknown user the check was a dummy: its result is moot. */
    if (user != NULL && !(user->hashed ? ok : c->loginclear))
        user = NULL;
    conn_login_result(c, user, 1);
}

/*
 * authenticate <user> <password>. Clear passwords are compared at once.
 * When users.txt holds hashes, every login waits for one hash check on the
 * authpool (the real one, or a dummy for a clear or unknown user), so the
 * answer takes as long whoever asks and the loop never runs crypt itself.
 */
static void
conn_cmd_authenticate(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    struct user *user = users_find(&center->users, pf->f[1], pf->len[1]);
    struct user *clear = NULL;
    const char *hash;
    char name[160];

    util_escape(name, sizeof name, pf->f[1], pf->len[1]);
    center_print(center,
                 "Phase 1: The Health Center Server has received request from a patient with "
                 "username %s and password ********.",
                 name);
    c->loginname = strdup(name);
    users_check(&center->users, pf->f[1], pf->len[1], pf->f[2], pf->len[2], &clear);
    if (center->authpool == NULL) {
        conn_login_result(c, clear, 0);
        return;
    }
    c->login = user;
    c->loginclear = clear != NULL;
    hash = user != NULL && user->hashed ? user->password : center->dummyhash;
    c->authjob = authpool_check(center->authpool, hash, pf->f[2], pf->len[2], conn_auth_done, c);
    if (c->authjob == NULL) {
        log_warnx("%s: password checks are backed up; refusing a login", c->host);
        conn_close_error(c, "busy");
        return;
    }
    conn_set_state(c, CONN_WAIT);
    conn_set_events(c, 0);
}

/* available: the free slots, then pushes until booked. */
static void
conn_cmd_available(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    char name[160];

    (void)pf;
    center_print(center,
                 "Phase 2: The Health Center Server, receives a request for available time "
                 "slots from patients with port number %u and IP address %s.",
                 c->port, c->host);
    center_list(center, c->out);
    if (c->user->booked == 0)
        schedule_subscribe(&center->sched, &c->sub);
    if (!center->quiet)
        center_print(center,
                     "Phase 2: The Health Center Server sends available time slots to patient "
                     "with username %s.",
                     conn_username(c, name, sizeof name));
}

/* selection <index>: reserve the slot before replying. */
static void
conn_cmd_selection(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    const struct sched_doctor *doc;
    struct slot *slot;
    uint32_t index;
    char name[160], buf[128];
    size_t len;

    if (proto_field_index(pf, 1, &index) == -1) {
        conn_reply(c, "error bad-index\n", 16);
        return;
    }
    conn_username(c, name, sizeof name);
    center_print(center,
                 "Phase 2: The Health Center Server receives a request for appointment %u from "
                 "patient with port number %u and username %s.",
                 index, c->port, name);
    if (c->user->booked != 0) {
        conn_replyf(c, "error already-booked %u\n", c->user->booked);
    } else if (schedule_reserve(&center->sched, index, (uint32_t)(c->user - center->users.v),
                                &c->sub) == SCHED_OK) {
        c->user->booked = index;
        slot = schedule_find(&center->sched, index);
        doc = schedule_doctor(&center->sched, slot);
        len = proto_fmt_booked(buf, sizeof buf, doc->name, doc->port);
        conn_answer_change(c, buf, len, index, 0);
        center_print(center,
                     "Phase 2: The Health Center Server confirms the following appointment %u "
                     "to patient with username %s.",
                     index, name);
        return;
    } else {
        conn_reply(c, "notavailable\n", 13);
    }
    center_print(center,
                 "Phase 2: The Health Center Server rejects the following appointment %u to "
                 "patient with username %s.",
                 index, name);
}

/* appointment: what this user holds. */
static void
conn_cmd_appointment(struct conn *c, const struct proto_fields *pf)
{
    struct schedule *sched = &c->center->sched;
    const struct sched_doctor *doc;
    const struct slot *slot;

    (void)pf;
    if (c->user->booked == 0 || (slot = schedule_find(sched, c->user->booked)) == NULL) {
        conn_reply(c, "appointment none\n", 17);
        return;
    }
    doc = schedule_doctor(sched, slot);
    conn_replyf(c, "appointment %u %s %s %s %u\n", slot->index, slot->day, slot->time, doc->name,
                doc->port);
}

/* cancel: give the booked slot back to the schedule. */
static void
conn_cmd_cancel(struct conn *c, const struct proto_fields *pf)
{
    struct center *center = c->center;
    uint32_t index = c->user->booked;
    char name[160], buf[32];
    int n;

    (void)pf;
    if (index == 0) {
        conn_reply(c, "error no-appointment\n", 21);
        return;
    }
    c->user->booked = 0;
    schedule_release(&center->sched, index);
    n = snprintf(buf, sizeof buf, "cancelled %u\n", index);
    conn_answer_change(c, buf, (size_t)n, 0, index);
    center_print(center,
                 "Phase 2: The Health Center Server cancels appointment %u of patient with "
                 "username %s.",
                 index, conn_username(c, name, sizeof name));
}

#define CONN_S_NEW (1 << CONN_NEW)
#define CONN_S_READY (1 << CONN_READY)

/* The commands: name, argument count, states allowed, handler. */
static const struct conn_cmd {
    const char *name;
    int nargs;
    int states;
    void (*fn)(struct conn *, const struct proto_fields *);
} conn_cmds[] = {
    {"authenticate", 2, CONN_S_NEW, conn_cmd_authenticate},
    {"available", 0, CONN_S_READY, conn_cmd_available},
    {"selection", 1, CONN_S_READY, conn_cmd_selection},
    {"appointment", 0, CONN_S_READY, conn_cmd_appointment},
    {"cancel", 0, CONN_S_READY, conn_cmd_cancel},
};

/* Handle one complete, checked line. */
static void
conn_dispatch(struct conn *c, const char *line, size_t len)
{
    const struct conn_cmd *cmd;
    struct proto_fields pf;
    size_t i;

    if (len == 0) {
        conn_reply(c, "error empty-line\n", 17);
        return;
    }
    if (proto_split(line, len, &pf) == -1) {
        conn_reply(c, "error bad-spacing\n", 18);
        return;
    }
    for (i = 0; i < sizeof conn_cmds / sizeof conn_cmds[0]; i++) {
        cmd = &conn_cmds[i];
        if (!proto_field_is(&pf, 0, cmd->name))
            continue;
        if (!(cmd->states & (1 << c->state))) {
            if (c->state == CONN_NEW)
                conn_reply(c, "error not-authenticated\n", 24);
            else
                conn_reply(c, "error already-authenticated\n", 28);
            return;
        }
        if (pf.n - 1 != cmd->nargs) {
            conn_reply(c, "error wrong-arguments\n", 22);
            return;
        }
        cmd->fn(c, &pf);
        return;
    }
    conn_reply(c, "error unknown-command\n", 22);
}

/* Keep unprocessed input for later. */
static void
conn_keep(struct conn *c, const char *data, size_t len, int backlog)
{
    char *p = NULL;

    if (len > 0 && (p = malloc(len)) == NULL) {
        conn_close_error(c, "out-of-memory");
        return;
    }
    if (len > 0)
        memcpy(p, data, len);
    free(c->pend);
    c->pend = p;
    c->pendlen = len;
    c->backlog = backlog && len > 0;
}

/* Handle every complete line of data (see conn.h). */
void
conn_process(struct conn *c, char *data, size_t len)
{
    size_t max = c->center->cfg.max_line;
    char *p = data, *end = data + len;

    while (p < end && (c->state == CONN_NEW || c->state == CONN_READY)) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t linelen, i;

        if (nl == NULL) {
            /* +1: a "\r" may still come before the "\n" */
            if ((size_t)(end - p) <= max + 1) {
                conn_keep(c, p, (size_t)(end - p), 0);
                return;
            }
            conn_close_error(c, "line-too-long");
            break;
        }
        if (evbuffer_get_length(c->out) >= CONN_OUT_HIGH) {
            conn_keep(c, p, (size_t)(end - p), 1);
            return;
        }
        linelen = (size_t)(nl - p);
        if (linelen > 0 && p[linelen - 1] == '\r')
            linelen--;
        if (linelen > max) {
            conn_close_error(c, "line-too-long");
            break;
        }
        for (i = 0; i < linelen; i++)
            if ((unsigned char)p[i] < 0x20)
                break;
        if (i < linelen) {
            conn_close_error(c, "bad-line");
            break;
        }
        c->lastline = conn_now(c);
        conn_dispatch(c, p, linelen);
        p = nl + 1;
        if (c->state == CONN_WAIT || c->state == CONN_COMMIT) {
            conn_keep(c, p, (size_t)(end - p), 1);
            return;
        }
    }
    conn_keep(c, NULL, 0, 0);
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
    if (c->fd != -1)
        center_push_later(center, c);
}

/* Process input held back while output was queued. Returns -1 if c is gone. */
static int
conn_resume(struct conn *c)
{
    struct center *center = c->center;
    size_t len = c->pendlen;

    if (!c->backlog)
        return 0;
    memcpy(center->rbuf, c->pend, len);
    c->backlog = 0;
    conn_process(c, center->rbuf, len);
    return conn_flush(c);
}

/* Write queued output (see conn.h). */
int
conn_flush(struct conn *c)
{
    if (c->overflow) {
        log_warnx("%s:%u: client does not read its pushes; closing", c->host, c->port);
        conn_free(c);
        return -1;
    }
    if (evbuffer_get_length(c->out) > 0 && evbuffer_write(c->out, c->fd) == -1 && errno != EAGAIN &&
        errno != EINTR) {
        log_debug("%s:%u: write: %s", c->host, c->port, strerror(errno));
        conn_free(c);
        return -1;
    }
    c->stalled = evbuffer_get_length(c->out);
    if (c->stalled > 0) {
        conn_set_events(c, EV_WRITE);
        return 0;
    }
    if (c->state == CONN_WAIT || c->state == CONN_COMMIT)
        return 0; /* reading resumes with the held answer */
    if (c->state == CONN_CLOSING) {
        /* Shut our side, then read until EOF so unread input from the
         * client cannot turn our close into a reset that loses the reply. */
        shutdown(c->fd, SHUT_WR);
        conn_set_state(c, CONN_LINGER);
    }
    conn_set_events(c, EV_READ);
    return conn_resume(c);
}

/* Read what the socket has and handle it. Returns -1 if c is gone. */
static int
conn_read(struct conn *c)
{
    struct center *center = c->center;
    size_t have = c->pendlen;
    ssize_t n;

    if (c->state == CONN_LINGER) {
        char sink[4096];
        while ((n = read(c->fd, sink, sizeof sink)) > 0)
            ;
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            conn_free(c);
            return -1;
        }
        return 0;
    }
    /* The partial line goes in front of the new bytes in the shared buffer. */
    if (have > 0)
        memcpy(center->rbuf, c->pend, have);
    n = read(c->fd, center->rbuf + have, center->rbufsize - have);
    if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
        log_debug("%s:%u: %s", c->host, c->port, n == 0 ? "end of file" : strerror(errno));
        conn_free(c);
        return -1;
    }
    if (n == -1)
        return 0;
    conn_process(c, center->rbuf, have + (size_t)n);
    return conn_flush(c);
}

/* The socket is readable or writable. */
static void
conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    (void)fd;
    if (what & EV_WRITE) {
        if (conn_flush(c) == -1)
            return;
    }
    if (what & EV_READ)
        conn_read(c);
}

/* A deadline passed: idle, authentication, or the end of lingering. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    const struct center_config *cfg = &c->center->cfg;
    int64_t now = conn_now(c), auth_end, idle_end, next;

    (void)fd;
    (void)what;
    if (c->state == CONN_CLOSING || c->state == CONN_LINGER) {
        conn_free(c);
        return;
    }
    if (c->state == CONN_COMMIT) {
        conn_arm_timer(c, 1); /* the answer waits for the store's writer */
        return;
    }
    if (c->state == CONN_WAIT && c->authjob != NULL) {
        conn_arm_timer(c, 1); /* the password check is still running */
        return;
    }
    if (c->state == CONN_WAIT) { /* the throttle's delay is over */
        struct user *user = c->login;

        c->login = NULL;
        conn_set_state(c, CONN_NEW);
        conn_auth_answer(c, user, c->loginname != NULL ? c->loginname : "");
        free(c->loginname);
        c->loginname = NULL;
        conn_flush(c);
        return;
    }
    auth_end = c->created + cfg->auth_timeout;
    idle_end = c->lastline + cfg->idle_timeout;
    if (c->state == CONN_NEW && now >= auth_end) {
        conn_close_error(c, "auth-timeout");
    } else if (now >= idle_end) {
        conn_close_error(c, "idle-timeout");
    } else {
        next = c->state == CONN_NEW && auth_end < idle_end ? auth_end : idle_end;
        conn_arm_timer(c, next - now);
        return;
    }
    conn_flush(c);
}
