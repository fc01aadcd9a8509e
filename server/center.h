/* center.h: the health center server: its data, listener, connections and bookings. */
#ifndef HCS_CENTER_H
#define HCS_CENTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>

#include "config.h"
#include "conn.h"
#include "out.h"
#include "schedule.h"
#include "store.h"
#include "throttle.h"
#include "users.h"

struct event_base;
struct event;
struct evconnlistener;
struct conn;
struct center_block;
struct evbuffer;
struct committer;
struct authpool;
struct desk;
struct ssl_ctx_st;

TAILQ_HEAD(conns, conn);

#define CENTER_MAXLISTEN 8      /* addresses of the listen name bound at most */
#define CENTER_COMMIT_BUCKETS 8 /* commit latency: up to 1, 2, 5, 10, 50, 100, 1000 ms, more */

/* What the center counts (printed at a -v shutdown). */
struct center_stats {
    uint64_t connections;      /* accepted */
    uint64_t logins_ok;        /* answered success */
    uint64_t logins_failed;    /* answered failure */
    uint64_t logins_throttled; /* answers delayed by the throttle */
    uint64_t busy;             /* refused: over max_clients, or password checks backed up */
    uint64_t bookings;         /* selections that booked a slot */
    uint64_t cancels;          /* bookings given back */
    uint64_t refused;          /* changes the store refused */
    uint64_t unavailable;      /* changes refused while the store was unavailable */
    uint64_t overflows;        /* clients dropped for not reading their pushes */
    uint64_t pushes;           /* push lines queued to waiting patients */
    uint64_t commits;          /* batches the store wrote */
    uint64_t commit_ops;       /* changes in those batches */
    uint64_t commit_us;        /* time from handing a batch over to its answer, summed */
    uint64_t commit_hist[CENTER_COMMIT_BUCKETS];
};

/* Everything the server owns. Created once by center_init. */
struct center {
    struct center_config cfg;
    int quiet; /* no per-request screen lines */
    int check; /* hcs --check: look at the store, change nothing */
    struct users users;
    struct schedule sched;
    struct throttle throttle; /* connections and logins by source, failures by user */
    struct center_stats stats;

    struct event_base *base;
    struct evconnlistener *listeners[CENTER_MAXLISTEN]; /* one per address of listen */
    size_t nlisteners;
    struct event *resume_ev;     /* re-enables accept after running out of descriptors */
    struct event *flush_ev;      /* writes pushes, CENTER_PUSH_DELAY_US after the first */
    struct event *commit_ev;     /* hands the changes of a loop pass to the committer */
    struct event *reap_ev;       /* frees the connections closed during a loop pass */
    struct conns conns;          /* every live connection */
    struct conns lost;           /* closed connections, freed by center_reap */
    struct conns dirty;          /* connections with pushed output to write */
    struct conns authwait;       /* logins waiting for their source's share of the checks */
    struct conns unauth;         /* accepted, not yet authenticated, oldest first */
    struct store *store;         /* where bookings are kept */
    struct committer *committer; /* writes a blocking store on its own thread; else NULL */
    int64_t commit_start_us;     /* when the batch being written was handed over */
    struct authpool *authpool;   /* checks hashed passwords; NULL when all are clear */
    struct desk *desk;           /* the reception desk ([desk] port), or NULL */
    struct ssl_ctx_st *tls;      /* TLS of new patients and the desk, or NULL */
    const char *dummyhash;       /* the costliest hash of users.txt, for clear and unknown users */
    size_t nconns;
    size_t nrefused; /* of them, refused at accept and closing: not counted in max_clients */

    struct conn_timers timers; /* every connection's deadline, on one timer */

    char *rbuf; /* one read buffer shared by all connections */
    size_t rbufsize;

    char pushline[64]; /* the push line of the last change, for every watcher */
    size_t pushlen;
    uint64_t pushversion;

    /* The slot lines of the "slots n" reply, one block per SCHEDULE_BLOCK
     * slots, each rebuilt only when one of its slots changed. */
    struct center_block **blocks;
    size_t nblocks; /* entries of blocks */
    char head[32];  /* "slots n\n" for headfree free slots */
    size_t headlen, headfree;
};

#define CENTER_QUIET 1 /* no per-request screen lines */
#define CENTER_CHECK 2 /* hcs --check: create nothing, change nothing */

/* Load the data files named by cfg (taken over by the center) and open the store. */
int center_init(struct center *c, struct center_config *cfg, int flags, char *err, size_t errlen);
/*
 * The same from texts (tests, fuzzers): conf is a center.conf, users and
 * slots the contents of its two data files.
 */
int center_init_text(struct center *c, const char *conf, const char *users, const char *slots,
                     int flags, char *err, size_t errlen);
/* Bind the listening socket and start accepting on base. */
int center_listen(struct center *c, struct event_base *base, char *err, size_t errlen);
/* Close every connection and free everything, in reverse order of creation. */
void center_free(struct center *c);
/* Print the counters, one "name value" line each. */
void center_print_stats(const struct center *c, FILE *fp);
/*
 * Re-read users.txt and availabilities.txt and apply the difference while
 * patients stay connected (SIGHUP): new slots are pushed as added, free
 * slots that left as removed, a changed free slot as both; a booking
 * stands exactly as told (see schedule_apply); a user who left cannot log
 * in again but keeps its booking and its session. One line says what
 * changed. On an error (err: "file:line: message") nothing changes.
 */
int center_reload(struct center *c, char *err, size_t errlen);

/* Connections (conn.c calls these; every list of connections lives here). */

/* A new connection joins the center. */
void center_conn_add(struct center *c, struct conn *conn);
/* A connection authenticated, or is closing: no longer one the center may close to make room. */
void center_conn_settled(struct center *c, struct conn *conn);
/* A connection was closed: off every list, freed at the end of the loop pass. */
void center_conn_lost(struct center *c, struct conn *conn);
/* Free every closed connection (run once per loop pass; tests call it directly). */
void center_reap(struct center *c);
/*
 * Write conn's pushes soon: every push queued within CENTER_PUSH_DELAY_US
 * goes out in one write per watcher, so a burst of bookings costs each
 * waiting patient one system call, not one per booking.
 */
void center_push_later(struct center *c, struct conn *conn);
/* The push line for the change just made to slot (formatted once per change). */
const char *center_push_line(struct center *c, enum sched_change change, const struct slot *slot,
                             size_t *len);
/* Append the "slots n" reply (the free slots now) to out. */
void center_list(struct center *c, struct evbuffer *out);
/* Seconds on libevent's cached clock: what connections and the throttle count time in. */
int64_t center_now(const struct center *c);
/*
 * Queue one screen line unless quiet (out.c: a stalled reader never blocks
 * the loop). When quiet the arguments are not even evaluated: some format a
 * peer's address (conn_host), on every request.
 */
#define center_print(c, ...)                                                                       \
    do {                                                                                           \
        if (!(c)->quiet)                                                                           \
            out_line(OUT_STDOUT, __VA_ARGS__);                                                     \
    } while (0)

/* Bookings: the slot and its user's booking change together, here only. */

/* Book slot index for user in memory; on success self (if watching) stops watching. */
enum sched_result center_book(struct center *c, struct user *user, uint32_t index,
                              struct sched_sub *self);
/* Give user's booked slot back to the schedule. */
void center_unbook(struct center *c, struct user *user);
/* Whether the store takes changes now (not while it retries a failed batch). */
int center_store_available(const struct center *c);

/* What became of a change handed to the store. */
enum center_commit {
    CENTER_WRITTEN, /* written at once: answer now */
    CENTER_HELD,    /* being written: command_committed answers conn later */
    CENTER_REFUSED, /* the store holds another booking of the slot or of the user */
    CENTER_UNKNOWN, /* the store could not be reached: nothing changed, answer unavailable */
};

/*
 * Ask the store for a change (put: user books index, free in memory; else
 * user gives its booking of index back), on behalf of conn. Memory (the
 * schedule, the user's booking, the watchers' pushes) changes only once
 * the store took it: in the order the store took them, whatever the
 * number of centers that share it.
 */
enum center_commit center_commit(struct center *c, struct conn *conn, int put, struct user *user,
                                 uint32_t index);
/* The same for the desk: user's booking of index ends; a held answer goes to desk_committed. */
enum center_commit center_commit_desk(struct center *c, struct desk *desk, struct user *user,
                                      uint32_t index);

#endif
