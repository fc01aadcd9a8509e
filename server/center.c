/* center.c: the health center server: its data, listener, connections and bookings. */
#include "center.h"
#include "authpool.h"
#include "command.h"
#include "committer.h"
#include "conn.h"
#include "desk.h"
#include "log.h"
#include "net.h"
#include "out.h"
#include "proto.h"
#include "tls.h"
#include "transport.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#define CENTER_READ_SIZE 16384    /* bytes read from a socket at once */
#define CENTER_PUSH_DELAY_US 5000 /* pushes wait at most this long to share a write */
#define CENTER_KEEPIDLE 60        /* seconds of silence before the first keepalive probe */
#define CENTER_KEEPINTVL 10       /* seconds between probes */
#define CENTER_KEEPCNT 6          /* unanswered probes before the connection is dropped */

static void center_kept_cb(void *arg, const struct slot *slot, const char *why);
static const char *center_plural(char *buf, size_t len, size_t n, const char *thing);
static int center_shared_schedule(struct schedule *next, const struct store_slot *slots, size_t n,
                                  char *err, size_t errlen);

/*
 * One stored booking: it stands exactly as its patient was told of it. A
 * user no longer in users.txt keeps it (and cannot log in); a slot no
 * longer in availabilities.txt, or changed there, stays booked as told
 * until the booking ends.
 */
static int
center_store_apply(void *arg, const struct store_booking *b)
{
    struct center *c = arg;
    const char *where = c->cfg.state != NULL ? c->cfg.state
                        : c->cfg.dsn != NULL ? "postgresql"
                                             : "store";
    struct user *user = users_keep(&c->users, b->user, strlen(b->user));
    struct slot *slot = schedule_find(&c->sched, b->index);
    const struct sched_doctor *doc;

    if (user == NULL)
        fatalx("out of memory restoring the bookings");
    if (user->removed)
        log_warnx("%s: booking of slot %u by %s: no such user in %s; the booking stands (the "
                  "user cannot log in)",
                  where, b->index, b->user, c->cfg.users);
    if (user->booked != 0)
        fatalx("%s: %s holds slots %u and %u: a store allows one booking per user", where, b->user,
               user->booked, b->index);
    if (b->doctor[0] == '\0') {
        /* Upgraded from a version 1 store: the file's row is all that is known. */
        if (slot == NULL)
            fatalx("%s: booking of slot %u by %s was stored by an older hcs and slot %u is not in "
                   "%s: put the row back, or delete the booking (sqlite3 %s \"DELETE FROM "
                   "bookings WHERE slot = %u\")",
                   where, b->index, b->user, b->index, c->cfg.availabilities, where, b->index);
        center_book(c, user, b->index, NULL);
        return 0;
    }
    doc = slot != NULL ? schedule_doctor(&c->sched, slot) : NULL;
    if (slot != NULL && strcmp(slot->day, b->day) == 0 && strcmp(slot->time, b->time) == 0 &&
        strcmp(doc->name, b->doctor) == 0 && doc->port == b->port) {
        /* No one watches yet, so this tells nobody. */
        center_book(c, user, b->index, NULL);
        return 0;
    }
    log_warnx("%s: slot %u booked by %s is %s %s; kept as told (%s %s %s %u) until it is "
              "cancelled",
              where, b->index, b->user, slot == NULL ? "no longer in" : "changed in",
              c->cfg.availabilities, b->day, b->time, b->doctor, b->port);
    if (schedule_keep(&c->sched, b->index, b->day, b->time, b->doctor, b->port,
                      (uint32_t)(user - c->users.v)) == -1)
        fatalx("out of memory restoring the bookings");
    user->booked = b->index;
    return 0;
}

/* The shared schedule at start-up: taken when the store has one, else seeded from the file. */
struct center_seed {
    struct center *c;
    int rc;
    char *err;
    size_t errlen;
};

/* The file's slots as a shared schedule's rows (slots[] points into the schedule). */
static struct store_slot *
center_store_slots(const struct schedule *sched, size_t *n)
{
    struct store_slot *v = calloc(sched->n + 1, sizeof *v);
    size_t i, k = 0;

    if (v == NULL)
        return NULL;
    for (i = 0; i < sched->n; i++) {
        const struct slot *sl = &sched->slots[i];
        const struct sched_doctor *doc = schedule_doctor(sched, sl);

        if (sl->retired)
            continue;
        v[k].index = sl->index;
        v[k].day = sl->day;
        v[k].time = sl->time;
        v[k].doctor = doc->name;
        v[k].port = doc->port;
        k++;
    }
    *n = k;
    return v;
}

/* The store's schedule (start-up): seed it from availabilities.txt, or use it. */
static void
center_seed_cb(void *arg, const struct store_slot *slots, size_t n)
{
    struct center_seed *sd = arg;
    struct center *c = sd->c;
    struct schedule shared;
    struct store_slot *mine;
    size_t nmine, i;
    int same;

    if ((mine = center_store_slots(&c->sched, &nmine)) == NULL) {
        snprintf(sd->err, sd->errlen, "out of memory");
        sd->rc = -1;
        return;
    }
    if (n == 0) {
        /* An empty database: the file seeds it (--check only looks). */
        if (!c->check)
            sd->rc = c->store->ops->schedule_put(c->store, mine, nmine, sd->err, sd->errlen);
        if (!c->check && sd->rc == 0)
            log_info("postgresql: the shared schedule is %s (%zu slot%s)", c->cfg.availabilities,
                     nmine, nmine == 1 ? "" : "s");
        free(mine);
        return;
    }
    same = n == nmine;
    for (i = 0; same && i < n; i++)
        same = slots[i].index == mine[i].index && slots[i].port == mine[i].port &&
               strcmp(slots[i].day, mine[i].day) == 0 && strcmp(slots[i].time, mine[i].time) == 0 &&
               strcmp(slots[i].doctor, mine[i].doctor) == 0;
    free(mine);
    if (same)
        return;
    if (center_shared_schedule(&shared, slots, n, sd->err, sd->errlen) == -1) {
        sd->rc = -1;
        return;
    }
    log_warnx("%s differs from the shared schedule in the database (%zu slot%s); the shared one "
              "is used (kill -HUP this hcs to make the file the shared schedule)",
              c->cfg.availabilities, n, n == 1 ? "" : "s");
    schedule_free(&c->sched);
    c->sched = shared;
    /* The list head pointed into the copy on the stack; nobody watches yet. */
    TAILQ_INIT(&c->sched.subs);
}

/* A shared store keeps names as text: every name of users.txt must be UTF-8. */
static int
center_names_ok(const struct center *c, const struct users *u, char *err, size_t errlen)
{
    size_t i;

    if (c->cfg.store != CONFIG_STORE_POSTGRESQL)
        return 0;
    for (i = 0; i < u->n; i++)
        if (!u->v[i].removed && !util_utf8_ok(u->v[i].name, u->v[i].namelen)) {
            snprintf(err, errlen,
                     "%s:%u: the user name is not UTF-8; store = postgresql keeps names as text",
                     c->cfg.users, u->v[i].line);
            return -1;
        }
    return 0;
}

/* Open the store cfg names and rebuild the bookings (and a shared schedule) from it. */
static int
center_store_open(struct center *c, char *err, size_t errlen)
{
    struct store_params params;
    struct center_seed sd = {c, 0, err, errlen};

    memset(&params, 0, sizeof params);
    params.kind = c->cfg.store == CONFIG_STORE_SQLITE       ? STORE_SQLITE
                  : c->cfg.store == CONFIG_STORE_POSTGRESQL ? STORE_POSTGRESQL
                                                            : STORE_MEMORY;
    params.path = c->cfg.state;
    params.dsn = c->cfg.dsn;
    params.full_sync = c->cfg.durability == CONFIG_DURABILITY_FULL;
    params.check = c->check;
    if (center_names_ok(c, &c->users, err, errlen) == -1)
        return -1;
    if ((c->store = store_open(&params, err, errlen)) == NULL)
        return -1;
    if (store_shared(c->store) &&
        (c->store->ops->schedule_get(c->store, center_seed_cb, &sd, err, errlen) == -1 ||
         sd.rc == -1))
        return -1;
    return store_load(c->store, center_store_apply, c, err, errlen);
}

/*
 * Load users and schedule (from the files cfg names, or from the texts
 * when they are not NULL) and open the store; the center takes over cfg.
 */
static int
center_setup(struct center *c, struct center_config *cfg, const char *users, const char *slots,
             int flags, char *err, size_t errlen)
{
    struct throttle_limits lim;
    int rc;

    memset(c, 0, sizeof *c);
    TAILQ_INIT(&c->conns);
    TAILQ_INIT(&c->lost);
    TAILQ_INIT(&c->dirty);
    TAILQ_INIT(&c->authwait);
    TAILQ_INIT(&c->unauth);
    c->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    lim.ipv6_prefix = c->cfg.ipv6_prefix;
    lim.max_conns = c->cfg.max_clients_per_address;
    lim.max_checks = c->cfg.max_checks_per_address;
    lim.max_failures = c->cfg.max_login_failures;
    lim.max_user_failures = c->cfg.max_user_failures;
    c->quiet = (flags & CENTER_QUIET) != 0;
    c->check = (flags & CENTER_CHECK) != 0;
    rc = users != NULL ? users_load_mem(&c->users, c->cfg.users, users, strlen(users), err, errlen)
                       : users_load(&c->users, c->cfg.users, err, errlen);
    if (rc == -1)
        return -1;
    rc = slots != NULL ? schedule_load_mem(&c->sched, c->cfg.availabilities, slots, strlen(slots),
                                           err, errlen)
                       : schedule_load(&c->sched, c->cfg.availabilities, err, errlen);
    if (rc == -1)
        return -1;
    c->dummyhash = users_dummy_hash(&c->users);
    if (c->users.nhashed < c->users.n)
        log_warnx("%s: %zu of %zu password%s stored in clear; hash them with: "
                  "hcs passwd --upgrade %s",
                  c->cfg.users, c->users.n - c->users.nhashed, c->users.n,
                  c->users.n == 1 ? " is" : "s are", c->cfg.users);
    if (c->cfg.desk && c->check && desk_check(c, err, errlen) == -1)
        return -1;
    if (c->cfg.tls_cert != NULL && (tls_check_key(&c->cfg, err, errlen) == -1 ||
                                    (c->tls = tls_ctx_new(&c->cfg, err, errlen)) == NULL))
        return -1;
    if (center_store_open(c, err, errlen) == -1)
        return -1;
    if (throttle_init(&c->throttle, &lim, c->cfg.max_clients) == -1) {
        snprintf(err, errlen, "out of memory, or no random bytes for the throttle's key");
        return -1;
    }
    /* A partial line of up to max_line (+ "\r") stays in front of each read. */
    c->rbufsize = c->cfg.max_line + 1 + CENTER_READ_SIZE;
    if ((c->rbuf = malloc(c->rbufsize)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Load the files cfg names; the center takes over cfg's strings. */
int
center_init(struct center *c, struct center_config *cfg, int flags, char *err, size_t errlen)
{
    return center_setup(c, cfg, NULL, NULL, flags, err, errlen);
}

/* Set a center up from texts (tests, fuzzers). */
int
center_init_text(struct center *c, const char *conf, const char *users, const char *slots,
                 int flags, char *err, size_t errlen)
{
    struct center_config cfg;

    if (config_load_center_text(&cfg, "center.conf", conf, err, errlen) == -1) {
        config_free_center(&cfg);
        memset(c, 0, sizeof *c);
        TAILQ_INIT(&c->conns);
        TAILQ_INIT(&c->lost);
        TAILQ_INIT(&c->dirty);
        return -1;
    }
    return center_setup(c, &cfg, users, slots, flags, err, errlen);
}

/*
 * The slot lines of one block of the schedule. Replies refer to the block
 * instead of copying it (evbuffer_add_reference), so a block that changes
 * while a reply still refers to it is replaced and freed when unreferenced.
 */
struct center_block {
    unsigned refs;    /* replies that refer to data */
    int stale;        /* replaced: free when refs drops to 0 */
    uint64_t version; /* schedule.blockver of the block when built */
    size_t len;
    char data[];
};

#define CENTER_BLOCK_LINE 48   /* longest slot line: index, day, time, spaces, "\n" */
#define CENTER_BLOCK_COPY 4096 /* blocks shorter than this are copied, not referred to */

/* A reply no longer refers to a block. */
static void
center_block_unref(const void *data, size_t len, void *arg)
{
    struct center_block *b = arg;

    (void)data;
    (void)len;
    if (--b->refs == 0 && b->stale)
        free(b);
}

/* Drop the center's hold on a block: free it now, or once no reply refers to it. */
static void
center_block_drop(struct center_block *b)
{
    if (b == NULL)
        return;
    if (b->refs == 0)
        free(b);
    else
        b->stale = 1;
}

/* Block i, rebuilt if one of its slots changed since it was built. */
static struct center_block *
center_block(struct center *c, size_t i)
{
    struct schedule *s = &c->sched;
    struct center_block *b = c->blocks[i];
    size_t k, first = i * SCHEDULE_BLOCK, last = first + SCHEDULE_BLOCK;

    if (b != NULL && b->version == s->blockver[i])
        return b;
    if (last > s->n)
        last = s->n;
    if (b == NULL || b->refs > 0) {
        center_block_drop(b);
        b = malloc(sizeof *b + (last - first) * CENTER_BLOCK_LINE);
        if (b == NULL)
            fatalx("out of memory building the list of %zu slots", s->nfree);
        b->refs = 0;
        b->stale = 0;
    }
    b->len = 0;
    for (k = first; k < last; k++) {
        const struct slot *slot = &s->slots[k];
        if (slot->holder == SCHEDULE_FREE && !slot->retired)
            b->len += proto_fmt_slot(b->data + b->len, CENTER_BLOCK_LINE, slot->index, slot->day,
                                     slot->time);
    }
    b->version = s->blockver[i];
    c->blocks[i] = b;
    return b;
}

/* Append the "slots n" reply: a header, then every block of free slots. */
void
center_list(struct center *c, struct evbuffer *out)
{
    struct schedule *s = &c->sched;
    size_t i;
    int n;

    if (c->blocks != NULL && c->nblocks != s->nblocks) {
        /* The schedule changed size: every block is built anew. */
        for (i = 0; i < c->nblocks; i++)
            center_block_drop(c->blocks[i]);
        free(c->blocks);
        c->blocks = NULL;
    }
    if (c->blocks == NULL) {
        if ((c->blocks = calloc(s->nblocks + 1, sizeof *c->blocks)) == NULL)
            fatalx("out of memory building the list of %zu slots", s->nfree);
        c->nblocks = s->nblocks;
    }
    if (c->headlen == 0 || c->headfree != s->nfree) {
        n = snprintf(c->head, sizeof c->head, "slots %zu\n", s->nfree);
        c->headlen = (size_t)n;
        c->headfree = s->nfree;
    }
    evbuffer_add(out, c->head, c->headlen);
    for (i = 0; i < s->nblocks; i++) {
        struct center_block *b = center_block(c, i);

        if (b->len < CENTER_BLOCK_COPY) {
            evbuffer_add(out, b->data, b->len);
        } else {
            b->refs++;
            if (evbuffer_add_reference(out, b->data, b->len, center_block_unref, b) == -1) {
                b->refs--;
                evbuffer_add(out, b->data, b->len);
            }
        }
    }
}

/* Write the pushes of every connection that has some (see center_push_later). */
static void
center_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct center *c = arg;
    struct conn *conn;

    (void)fd;
    (void)what;
    while ((conn = TAILQ_FIRST(&c->dirty)) != NULL) {
        TAILQ_REMOVE(&c->dirty, conn, dirty_entry);
        conn->dirty = 0;
        conn_flush(conn);
    }
}

/* Queue conn for the next push flush, starting the flush timer if idle. */
void
center_push_later(struct center *c, struct conn *conn)
{
    static const struct timeval delay = {0, CENTER_PUSH_DELAY_US};

    if (conn->dirty)
        return;
    conn->dirty = 1;
    TAILQ_INSERT_TAIL(&c->dirty, conn, dirty_entry);
    if (c->flush_ev != NULL && !evtimer_pending(c->flush_ev, NULL))
        evtimer_add(c->flush_ev, &delay);
}

/* Format the push line of a change once, whatever the number of watchers. */
const char *
center_push_line(struct center *c, enum sched_change change, const struct slot *slot, size_t *len)
{
    c->stats.pushes++;
    if (c->pushversion != c->sched.version || c->pushlen == 0) {
        switch (change) {
        case SCHED_RESERVED:
            c->pushlen = proto_fmt_reserved(c->pushline, sizeof c->pushline, slot->index);
            break;
        case SCHED_RELEASED:
            c->pushlen = proto_fmt_released(c->pushline, sizeof c->pushline, slot->index, slot->day,
                                            slot->time);
            break;
        case SCHED_ADDED:
            c->pushlen = proto_fmt_added(c->pushline, sizeof c->pushline, slot->index, slot->day,
                                         slot->time);
            break;
        case SCHED_REMOVED:
            c->pushlen = proto_fmt_removed(c->pushline, sizeof c->pushline, slot->index);
            break;
        }
        c->pushversion = c->sched.version;
    }
    *len = c->pushlen;
    return c->pushline;
}

/* A new connection joins the center. */
void
center_conn_add(struct center *c, struct conn *conn)
{
    TAILQ_INSERT_TAIL(&c->conns, conn, entry);
    c->nconns++;
}

/* A connection authenticated or is closing: off the list of those closed to make room. */
void
center_conn_settled(struct center *c, struct conn *conn)
{
    if (conn->unauthlisted) {
        TAILQ_REMOVE(&c->unauth, conn, unauth_entry);
        conn->unauthlisted = 0;
    }
}

/* A connection was closed: take it off every list; free it at the end of the pass. */
void
center_conn_lost(struct center *c, struct conn *conn)
{
    center_conn_settled(c, conn);
    TAILQ_REMOVE(&c->conns, conn, entry);
    c->nconns--;
    if (conn->refused)
        c->nrefused--;
    if (conn->dirty) {
        TAILQ_REMOVE(&c->dirty, conn, dirty_entry);
        conn->dirty = 0;
    }
    TAILQ_INSERT_TAIL(&c->lost, conn, entry);
    if (c->reap_ev != NULL)
        event_active(c->reap_ev, EV_TIMEOUT, 0);
}

/* Free every closed connection. */
void
center_reap(struct center *c)
{
    struct conn *conn;

    while ((conn = TAILQ_FIRST(&c->lost)) != NULL) {
        TAILQ_REMOVE(&c->lost, conn, entry);
        conn_free(conn);
    }
}

/* End of a loop pass that closed connections. */
static void
center_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    center_reap(arg);
}

/* Book a slot for a user: the slot's holder and the user's booking together. */
enum sched_result
center_book(struct center *c, struct user *user, uint32_t index, struct sched_sub *self)
{
    enum sched_result r = schedule_reserve(&c->sched, index, (uint32_t)(user - c->users.v), self);

    if (r == SCHED_OK)
        user->booked = index;
    return r;
}

/* Give a user's slot back. */
void
center_unbook(struct center *c, struct user *user)
{
    uint32_t index = user->booked;

    user->booked = 0;
    if (index != 0) {
        const struct slot *slot = schedule_find(&c->sched, index);
        int retired = slot != NULL && slot->retired;

        schedule_release(&c->sched, index);
        /* A retired booking that ends tells no watcher: the desk sees it go. */
        if (retired)
            desk_refresh(c->desk);
    }
}

/* Whether the store takes changes now. */
int
center_store_available(const struct center *c)
{
    return c->committer == NULL || committer_available(c->committer);
}

/* Seconds on libevent's cached clock (no system call): the clock of connections and throttle. */
int64_t
center_now(const struct center *c)
{
    struct timeval tv;

    if (c->base == NULL || event_base_gettimeofday_cached(c->base, &tv) == -1)
        return 0;
    return (int64_t)tv.tv_sec;
}

/* Microseconds of a monotonic clock. */
static int64_t
center_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Count a batch written in us microseconds. */
static void
center_count_commit(struct center *c, size_t n, int64_t us)
{
    static const int64_t bounds[CENTER_COMMIT_BUCKETS - 1] = {1000,  2000,   5000,   10000,
                                                              50000, 100000, 1000000};
    size_t b = 0;

    while (b < CENTER_COMMIT_BUCKETS - 1 && us > bounds[b])
        b++;
    c->stats.commit_hist[b]++;
    c->stats.commits++;
    c->stats.commit_ops += n;
    c->stats.commit_us += (uint64_t)(us > 0 ? us : 0);
}

/*
 * The user of a stored booking: kept as removed (no login) when users.txt
 * lacks it. The table may move as it grows: every connection's pointers
 * into it move with it.
 */
static struct user *
center_keep_user(struct center *c, const char *name)
{
    struct user *old = c->users.v, *u = users_keep(&c->users, name, strlen(name));
    struct conn *conn;

    if (u == NULL)
        fatalx("out of memory keeping the booking of %s", name);
    if (c->users.v != old) {
        TAILQ_FOREACH(conn, &c->conns, entry)
        {
            if (conn->user != NULL)
                conn->user = c->users.v + (conn->user - old);
            if (conn->login != NULL)
                conn->login = c->users.v + (conn->login - old);
        }
        TAILQ_FOREACH(conn, &c->lost, entry)
        {
            conn->user = NULL;
            conn->login = NULL;
        }
    }
    return u;
}

/*
 * Make memory say what the store says: user holds b's slot, as b
 * describes it. Whatever memory believed instead gives way (a change told
 * late: the store's order wins): another holder of the slot, another slot
 * of the user. self (if watching) is not told of its own booking.
 */
static void
center_apply_booking(struct center *c, const struct store_booking *b, struct sched_sub *self)
{
    struct user *user = center_keep_user(c, b->user);
    struct slot *slot = schedule_find(&c->sched, b->index);
    const struct sched_doctor *doc = slot != NULL ? schedule_doctor(&c->sched, slot) : NULL;
    uint32_t uid = (uint32_t)(user - c->users.v);

    if (slot != NULL && slot->holder == uid && user->booked == b->index)
        return;
    if (user->booked != 0 && user->booked != b->index)
        center_unbook(c, user);
    if (slot != NULL && slot->holder != SCHEDULE_FREE && slot->holder != uid) {
        c->users.v[slot->holder].booked = 0;
        schedule_release(&c->sched, b->index);
        slot = schedule_find(&c->sched, b->index);
        doc = slot != NULL ? schedule_doctor(&c->sched, slot) : NULL;
    }
    if (slot != NULL && !slot->retired && strcmp(slot->day, b->day) == 0 &&
        strcmp(slot->time, b->time) == 0 && strcmp(doc->name, b->doctor) == 0 &&
        doc->port == b->port) {
        center_book(c, user, b->index, self);
        return;
    }
    /* Not in the schedule as the booking was told: kept as told. */
    if (schedule_keep(&c->sched, b->index, b->day, b->time, b->doctor, b->port, uid) == -1)
        fatalx("out of memory keeping the booking of slot %u", b->index);
    user->booked = b->index;
}

/* Make memory say the store no longer holds user's booking of index. */
static void
center_apply_cancel(struct center *c, uint32_t index, const char *name)
{
    struct user *user = users_find(&c->users, name, strlen(name));

    if (user != NULL && user->booked == index)
        center_unbook(c, user);
}

/* Hand the changes of this loop pass to the committer, unless it is writing. */
static void
center_commit_send(struct center *c)
{
    if (committer_flush(c->committer))
        c->commit_start_us = center_now_us();
}

/* End of a loop pass that staged changes: one batch for all of them. */
static void
center_commit_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    center_commit_send(arg);
}

/* The store wrote one change (or refused it, or could not): memory follows, then the patient. */
static enum center_commit
center_written(struct center *c, struct store_op *op, struct conn *conn)
{
    struct store_booking b = {op->index, op->user, op->day, op->time, op->doctor, op->port};

    if (op->unknown) {
        c->stats.unavailable++;
        return CENTER_UNKNOWN;
    }
    if (op->put && op->refused) {
        c->stats.refused++;
        return CENTER_REFUSED;
    }
    if (op->put)
        center_apply_booking(c, &b, conn != NULL ? &conn->sub : NULL);
    else
        center_apply_cancel(c, op->index, op->user);
    return CENTER_WRITTEN;
}

/* The committer wrote a batch: memory follows it, its patients are answered, the next goes. */
static void
center_committed_cb(void *arg, enum store_status status, const char *err, struct store_op *ops,
                    size_t n)
{
    struct center *c = arg;
    size_t i;

    /* Nothing may be answered that is not stored: there is no safe way on,
     * and a restart rebuilds the schedule from what is. */
    if (status != STORE_OK)
        fatalx("%s", err != NULL ? err : "cannot write the store");
    center_count_commit(c, n, center_now_us() - c->commit_start_us);
    for (i = 0; i < n; i++) {
        struct conn *conn = ops[i].arg != c->desk ? ops[i].arg : NULL;
        enum center_commit r = center_written(c, &ops[i], conn);

        if (ops[i].arg != NULL && ops[i].arg == c->desk) {
            desk_committed(c->desk, ops[i].index, r);
            continue;
        }
        if (conn == NULL)
            continue; /* its patient is gone; the change stands */
        conn->committing = 0;
        command_committed(conn, r);
    }
    center_commit_send(c);
}

/*
 * Ask the store for a change (put: user books index; else user gives its
 * booking back), on behalf of conn. Memory changes once the store took it.
 */
/* Hand a change to the store on behalf of arg (a connection, or the desk). */
static enum center_commit
center_commit_as(struct center *c, void *arg, struct conn *conn, int put, struct user *user,
                 uint32_t index)
{
    struct store_op op;
    char err[256];

    if (put) {
        const struct slot *slot = schedule_find(&c->sched, index);
        const struct sched_doctor *doc = schedule_doctor(&c->sched, slot);
        struct store_booking b = {index, user->name, slot->day, slot->time, doc->name, doc->port};

        c->stats.bookings++;
        store_op_put(&op, &b, arg);
    } else {
        c->stats.cancels++;
        store_op_del(&op, index, arg);
        snprintf(op.user, sizeof op.user, "%s", user->name);
    }
    if (c->committer != NULL) {
        if (committer_stage(c->committer, &op) == -1)
            fatalx("out of memory staging a booking");
        if (conn != NULL)
            conn->committing = 1;
        event_active(c->commit_ev, EV_TIMEOUT, 0);
        return CENTER_HELD;
    }
    if (store_write(c->store, &op, 1, err, sizeof err) != STORE_OK)
        fatalx("%s", err);
    return center_written(c, &op, conn);
}

/* Ask the store for a change on behalf of conn. */
enum center_commit
center_commit(struct center *c, struct conn *conn, int put, struct user *user, uint32_t index)
{
    return center_commit_as(c, conn, conn, put, user, index);
}

/* Ask the store to end user's booking on behalf of the desk. */
enum center_commit
center_commit_desk(struct center *c, struct desk *desk, struct user *user, uint32_t index)
{
    return center_commit_as(c, desk, NULL, 0, user, index);
}

/* Another center booked (store event). */
static void
center_ev_booked(void *arg, const struct store_booking *b)
{
    center_apply_booking(arg, b, NULL);
}

/* A booking ended elsewhere (store event). */
static void
center_ev_cancelled(void *arg, uint32_t index, const char *user)
{
    center_apply_cancel(arg, index, user);
}

/* Order bookings by slot. */
static int
center_booking_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct store_booking *)a)->index;
    uint32_t y = ((const struct store_booking *)b)->index;

    return x < y ? -1 : x > y;
}

/*
 * Every booking, read again after a reconnection: what memory holds that
 * the store does not ends (watchers are told released), what the store
 * holds that memory lacks is made.
 */
static void
center_ev_bookings(void *arg, const struct store_booking *all, size_t n)
{
    struct center *c = arg;
    struct store_booking *sorted = malloc((n + 1) * sizeof *sorted), key;
    size_t i, gone = 0;

    if (sorted == NULL)
        fatalx("out of memory reading the bookings again");
    memcpy(sorted, all, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, center_booking_cmp);
    for (i = 0; i < c->users.n; i++) {
        struct user *u = &c->users.v[i];
        const struct store_booking *b;

        if (u->booked == 0)
            continue;
        key.index = u->booked;
        b = bsearch(&key, sorted, n, sizeof *sorted, center_booking_cmp);
        if (b == NULL || strcmp(b->user, u->name) != 0) {
            center_unbook(c, u);
            gone++;
        }
    }
    for (i = 0; i < n; i++)
        center_apply_booking(c, &sorted[i], NULL);
    free(sorted);
    desk_refresh(c->desk);
    if (gone > 0)
        log_info("postgresql: %zu booking%s ended while the connection was lost", gone,
                 gone == 1 ? "" : "s");
}

/* The slots of a shared schedule as the text of availabilities.txt (for schedule_load_mem). */
static char *
center_slots_text(const struct store_slot *slots, size_t n, size_t *len)
{
    size_t i, cap = 64, used = 0;
    char *buf = malloc(cap), *p;
    int k;

    for (i = 0; buf != NULL && i < n; i++) {
        for (;;) {
            k = snprintf(buf + used, cap - used, "%u %s %s %s %u\n", slots[i].index, slots[i].day,
                         slots[i].time, slots[i].doctor, slots[i].port);
            if (k >= 0 && (size_t)k < cap - used)
                break;
            if ((p = realloc(buf, cap * 2)) == NULL) {
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
        used += (size_t)k;
    }
    if (buf != NULL)
        buf[used] = '\0';
    *len = used;
    return buf;
}

/* The shared schedule as a schedule (rows as the store gave them). */
static int
center_shared_schedule(struct schedule *next, const struct store_slot *slots, size_t n, char *err,
                       size_t errlen)
{
    size_t len;
    char *text = center_slots_text(slots, n, &len);
    int rc;

    if (text == NULL) {
        snprintf(err, errlen, "out of memory reading the shared schedule");
        return -1;
    }
    rc = schedule_load_mem(next, "the shared schedule (hcs_slots)", text, len, err, errlen);
    free(text);
    return rc;
}

/* The shared schedule changed (store event): apply it as a reload would. */
static void
center_ev_schedule(void *arg, const struct store_slot *slots, size_t n)
{
    struct center *c = arg;
    struct schedule next;
    struct sched_diff d;
    char err[512], a[48];

    if (center_shared_schedule(&next, slots, n, err, sizeof err) == -1) {
        log_warnx("%s; the schedule stays as it was", err);
        return;
    }
    if (schedule_apply(&c->sched, &next, &d, center_kept_cb, c) == -1)
        log_warnx("out of memory applying the shared schedule; it stays as it was");
    else if (d.added + d.removed + d.changed > 0)
        log_info("shared schedule: %s added, %zu removed, %zu changed",
                 center_plural(a, sizeof a, d.added, "slot"), d.removed, d.changed);
    schedule_free(&next);
    desk_refresh(c->desk);
}

static const struct store_events center_store_events = {
    .booked = center_ev_booked,
    .cancelled = center_ev_cancelled,
    .bookings = center_ev_bookings,
    .schedule = center_ev_schedule,
};

/*
 * TCP keepalive: a waiting patient may stay silent as long as it likes,
 * so a peer that vanished is found by the kernel (after about two minutes).
 */
static void
center_keepalive(int fd)
{
    int one = 1, idle = CENTER_KEEPIDLE, intvl = CENTER_KEEPINTVL, cnt = CENTER_KEEPCNT;

    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

/* A new patient: a connection, told "error busy" when the center is full. */
static void
center_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                 void *arg)
{
    struct center *c = arg;
    struct conn *conn, *victim;
    uint64_t n;
    int one = 1, full = c->nconns - c->nrefused >= c->cfg.max_clients;

    (void)l;
    (void)salen;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    center_keepalive(fd);
    c->stats.connections++;
    if ((conn = conn_new(c, fd, sa, c->tls != NULL ? &transport_tls_ops : &transport_tcp_ops)) ==
        NULL) {
        log_warnx("out of memory for a new connection");
        close(fd);
        return;
    }
    /*
     * Full: the oldest connection that has not authenticated makes room
     * ("error busy"), so that clients holding connections without logging
     * in cannot keep patients out; an honest login takes milliseconds, so
     * the oldest is rarely one. Only with every connection authenticated
     * is the newcomer refused.
     */
    if (full && (victim = TAILQ_FIRST(&c->unauth)) != NULL) {
        center_conn_settled(c, victim);
        c->stats.busy++;
        victim->refused = 1;
        c->nrefused++;
        command_login_abandon(victim);
        conn_refuse(victim, PROTO_ERR_BUSY);
        full = 0;
    }
    /* Over the limit it still gets a connection, closing at once, so the
     * refusal is written and lingered over like any other last line. */
    if (full) {
        c->stats.busy++;
        conn->refused = 1;
        c->nrefused++;
        conn_refuse(conn, PROTO_ERR_BUSY);
        return;
    }
    /* Its source at max_clients_per_address: the same. Refused connections
     * linger a moment but take no slot, so a flood of them fills nothing. */
    if ((conn->src = throttle_connect(&c->throttle, sa, conn->created)) == NULL) {
        c->stats.busy++;
        conn->refused = 1;
        c->nrefused++;
        if ((n = throttle_ratelog(&c->throttle.refused, conn->created)) > 0)
            log_warnx("%s: over the limits of its address; refused %llu connection%s since the "
                      "last such message",
                      conn_host(conn), (unsigned long long)n, n == 1 ? "" : "s");
        conn_refuse(conn, PROTO_ERR_BUSY);
        return;
    }
    TAILQ_INSERT_TAIL(&c->unauth, conn, unauth_entry);
    conn->unauthlisted = 1;
}

/* Accept again after a pause for lack of descriptors. */
static void
center_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct center *c = arg;

    size_t i;

    (void)fd;
    (void)what;
    for (i = 0; i < c->nlisteners; i++)
        evconnlistener_enable(c->listeners[i]);
}

/* accept() failed: out of descriptors pauses accepting for a second. */
static void
center_accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct center *c = arg;
    struct timeval tv = {1, 0};
    int err = EVUTIL_SOCKET_ERROR();

    size_t i;

    (void)l;
    log_warnx("accept: %s", evutil_socket_error_to_string(err));
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        for (i = 0; i < c->nlisteners; i++)
            evconnlistener_disable(c->listeners[i]);
        evtimer_add(c->resume_ev, &tv);
    }
}

/* Whether a bound socket's address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.x). */
static int
center_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
    const unsigned char *a6 = s6->sin6_addr.s6_addr;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
        return 0;
    if (ss.ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && a6[12] == 127);
    return 0;
}

/* Bind the listening socket and print the start-up line. */
int
center_listen(struct center *c, struct event_base *base, char *err, size_t errlen)
{
    int fds[CENTER_MAXLISTEN], n, i;
    char host[64];
    unsigned port;

    c->base = base;
    /* Every address of the name: "localhost" is ::1 as well as 127.0.0.1 on
     * Debian, and a port left to others on one of them is a trap. */
    n = net_bind_all(c->cfg.listen, c->cfg.port, SOCK_STREAM, 4096, fds, CENTER_MAXLISTEN, err,
                     errlen);
    if (n == -1)
        return -1;
    for (i = 0; i < n; i++) {
        /* Backlog 0: net_bind_all has already called listen(). */
        c->listeners[i] = evconnlistener_new(
            base, center_accept_cb, c, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fds[i]);
        if (c->listeners[i] == NULL) {
            while (i < n)
                close(fds[i++]);
            snprintf(err, errlen, "cannot set up the listener");
            return -1;
        }
        c->nlisteners++;
        evconnlistener_set_error_cb(c->listeners[i], center_accept_error_cb);
    }
    c->flush_ev = evtimer_new(base, center_flush_cb, c);
    c->commit_ev = event_new(base, -1, 0, center_commit_cb, c);
    c->resume_ev = evtimer_new(base, center_resume_cb, c);
    c->reap_ev = event_new(base, -1, 0, center_reap_cb, c);
    if (c->flush_ev == NULL || c->commit_ev == NULL || c->resume_ev == NULL || c->reap_ev == NULL) {
        snprintf(err, errlen, "cannot set up the listener");
        return -1;
    }
    if (c->users.nhashed > 0 && (c->authpool = authpool_new(base, 0, err, errlen)) == NULL)
        return -1;
    if (store_blocking(c->store) &&
        (c->committer = committer_new(base, c->store, center_committed_cb, c, err, errlen)) == NULL)
        return -1;
    if (store_shared(c->store) &&
        c->store->ops->attach(c->store, base, &center_store_events, c, err, errlen) == -1)
        return -1;
    if (c->cfg.desk && !c->check && (c->desk = desk_new(c, base, err, errlen)) == NULL)
        return -1;
    for (i = 0; i < n; i++) {
        net_local_addr(fds[i], host, sizeof host, &port);
        if (c->tls == NULL && !center_loopback(fds[i]))
            log_warnx("listen %s is not a loopback address and TLS is off (no tls_cert): "
                      "passwords travel in clear",
                      host);
        out_line(OUT_STDOUT,
                 "Phase 1: The Health Center Server has port number %u and IP address %s.", port,
                 host);
    }
    return 0;
}

/* Close every connection and free everything, in reverse order of creation. */
void
center_free(struct center *c)
{
    struct conn *conn;
    size_t i;

    desk_free(c->desk);
    c->desk = NULL;
    while ((conn = TAILQ_FIRST(&c->conns)) != NULL)
        conn_close(conn);
    center_reap(c);
    conn_timers_free(&c->timers);
    if (c->authpool != NULL)
        authpool_free(c->authpool);
    if (c->reap_ev != NULL)
        event_free(c->reap_ev);
    if (c->resume_ev != NULL)
        event_free(c->resume_ev);
    if (c->commit_ev != NULL)
        event_free(c->commit_ev);
    if (c->flush_ev != NULL)
        event_free(c->flush_ev);
    for (i = 0; i < c->nlisteners; i++)
        evconnlistener_free(c->listeners[i]);
    /* Changes staged last were never answered: they are written all the
     * same, since the bookings were made. */
    committer_free(c->committer);
    store_close(c->store);
    /* Every reply that referred to a block went with its connection. */
    for (i = 0; c->blocks != NULL && i < c->sched.nblocks; i++)
        center_block_drop(c->blocks[i]);
    free(c->blocks);
    free(c->rbuf);
    throttle_free(&c->throttle);
    tls_ctx_free(c->tls);
    schedule_free(&c->sched);
    users_free(&c->users);
    config_free_center(&c->cfg);
    memset(c, 0, sizeof *c);
}

/* A booked slot that left the file or changed there is kept as its patient was told. */
static void
center_kept_cb(void *arg, const struct slot *slot, const char *why)
{
    struct center *c = arg;
    const struct sched_doctor *doc = schedule_doctor(&c->sched, slot);
    const struct user *user = &c->users.v[slot->holder];

    log_warnx("%s: slot %u booked by %s is %s; kept as told (%s %s %s %u) until it is cancelled",
              c->cfg.availabilities, slot->index, user->name, why, slot->day, slot->time, doc->name,
              doc->port);
}

/* "n thing" or "n things". */
static const char *
center_plural(char *buf, size_t len, size_t n, const char *thing)
{
    snprintf(buf, len, "%zu %s%s", n, thing, n == 1 ? "" : "s");
    return buf;
}

/* The new number of every user of the old table that has one in next, else USERS_NONE. */
static uint32_t *
center_user_map(const struct users *old, const struct users *next)
{
    uint32_t *map = malloc((old->n + 1) * sizeof *map);
    size_t i;

    if (map == NULL)
        return NULL;
    for (i = 0; i < old->n; i++) {
        const struct user *u = users_find(next, old->v[i].name, old->v[i].namelen);
        map[i] = u != NULL ? (uint32_t)(u - next->v) : USERS_NONE;
    }
    return map;
}

/*
 * Re-read users.txt and availabilities.txt (SIGHUP) and apply the
 * difference while patients stay connected; on any error nothing changes.
 */
int
center_reload(struct center *c, char *err, size_t errlen)
{
    struct users next;
    struct schedule sched;
    struct sched_diff d;
    struct conn *conn;
    uint32_t *map = NULL;
    size_t i, added = 0, removed = 0, nrows;
    struct store_slot *rows;
    int shared = store_shared(c->store);
    char a[48], b[48];

    if (users_load(&next, c->cfg.users, err, errlen) == -1)
        return -1;
    if (center_names_ok(c, &next, err, errlen) == -1) {
        users_free(&next);
        return -1;
    }
    if (schedule_load(&sched, c->cfg.availabilities, err, errlen) == -1) {
        users_free(&next);
        return -1;
    }
    for (i = 0; i < c->users.n; i++)
        if (!c->users.v[i].removed &&
            users_find(&next, c->users.v[i].name, c->users.v[i].namelen) == NULL)
            removed++;
    added = next.n - (c->users.n - removed);
    /* A user who left keeps its booking and its sessions, but cannot log in again. */
    for (i = 0; i < c->users.n; i++) {
        const struct user *u = &c->users.v[i];
        struct user *nu;

        if (u->booked == 0)
            continue;
        if ((nu = users_keep(&next, u->name, u->namelen)) == NULL)
            goto nomem;
        nu->booked = u->booked;
    }
    TAILQ_FOREACH(conn, &c->conns, entry)
    {
        if ((conn->user != NULL &&
             users_keep(&next, conn->user->name, conn->user->namelen) == NULL) ||
            (conn->login != NULL &&
             users_keep(&next, conn->login->name, conn->login->namelen) == NULL))
            goto nomem;
    }
    if ((map = center_user_map(&c->users, &next)) == NULL)
        goto nomem;
    memset(&d, 0, sizeof d);
    if (shared) {
        /* The file becomes the shared schedule; every center (this one too) applies it when
         * the database says it changed. */
        if ((rows = center_store_slots(&sched, &nrows)) == NULL)
            goto nomem;
        if (c->store->ops->schedule_put(c->store, rows, nrows, err, errlen) == -1) {
            free(rows);
            free(map);
            users_free(&next);
            schedule_free(&sched);
            return -1;
        }
        free(rows);
    } else if (schedule_apply(&c->sched, &sched, &d, center_kept_cb, c) == -1) {
        /* Holders are still numbers of the old table: the warnings name them from it. */
        goto nomem;
    }
    /* From here on nothing fails: point everything at the new table. */
    for (i = 0; i < c->sched.n; i++)
        if (c->sched.slots[i].holder != SCHEDULE_FREE)
            c->sched.slots[i].holder = map[c->sched.slots[i].holder];
    TAILQ_FOREACH(conn, &c->conns, entry)
    {
        if (conn->user != NULL)
            conn->user = &next.v[map[conn->user - c->users.v]];
        if (conn->login != NULL)
            conn->login = &next.v[map[conn->login - c->users.v]];
    }
    free(map);
    users_free(&c->users);
    c->users = next;
    schedule_free(&sched);
    c->dummyhash = users_dummy_hash(&c->users);
    if (c->users.nhashed > 0 && c->authpool == NULL && c->base != NULL &&
        (c->authpool = authpool_new(c->base, 0, err, errlen)) == NULL)
        log_warnx("%s", err);
    desk_refresh(c->desk);
    if (shared)
        log_info("reload: %s sent to the shared schedule; %s added, %zu removed",
                 c->cfg.availabilities, center_plural(b, sizeof b, added, "user"), removed);
    else
        log_info("reload: %s added, %zu removed, %zu changed; %s added, %zu removed",
                 center_plural(a, sizeof a, d.added, "slot"), d.removed, d.changed,
                 center_plural(b, sizeof b, added, "user"), removed);
    return 0;
nomem:
    free(map);
    users_free(&next);
    schedule_free(&sched);
    snprintf(err, errlen, "out of memory reloading %s and %s", c->cfg.users, c->cfg.availabilities);
    return -1;
}

/* Print the counters, one "name value" line each. */
void
center_print_stats(const struct center *c, FILE *fp)
{
    static const char *const buckets[CENTER_COMMIT_BUCKETS] = {"1ms",  "2ms",   "5ms", "10ms",
                                                               "50ms", "100ms", "1s",  "inf"};
    const struct center_stats *st = &c->stats;
    size_t i;

    fprintf(fp,
            "connections %llu\nlogins_ok %llu\nlogins_failed %llu\nlogins_throttled %llu\n"
            "busy %llu\nbookings %llu\ncancels %llu\nrefused %llu\nunavailable %llu\n"
            "overflows %llu\npushes %llu\ncommits %llu\ncommit_ops %llu\ncommit_us %llu\n",
            (unsigned long long)st->connections, (unsigned long long)st->logins_ok,
            (unsigned long long)st->logins_failed, (unsigned long long)st->logins_throttled,
            (unsigned long long)st->busy, (unsigned long long)st->bookings,
            (unsigned long long)st->cancels, (unsigned long long)st->refused,
            (unsigned long long)st->unavailable, (unsigned long long)st->overflows,
            (unsigned long long)st->pushes, (unsigned long long)st->commits,
            (unsigned long long)st->commit_ops, (unsigned long long)st->commit_us);
    for (i = 0; i < CENTER_COMMIT_BUCKETS; i++)
        fprintf(fp, "commit_le_%s %llu\n", buckets[i], (unsigned long long)st->commit_hist[i]);
}
