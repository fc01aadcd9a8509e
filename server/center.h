/* center.h: the health center server: its data, listener and connections. */
#ifndef HCS_CENTER_H
#define HCS_CENTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "config.h"
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
struct committer;

TAILQ_HEAD(conns, conn);

/* Everything the server owns. Created once by center_init. */
struct center {
    struct center_config cfg;
    int quiet; /* no per-request screen lines */
    struct users users;
    struct schedule sched;
    struct throttle throttle; /* failed logins by address */

    struct event_base *base;
    struct evconnlistener *listener;
    struct event *resume_ev;     /* re-enables accept after running out of descriptors */
    struct event *flush_ev;      /* writes pushes, CENTER_PUSH_DELAY_US after the first */
    struct event *commit_ev;     /* commits the store once per loop pass */
    struct conns conns;          /* every live connection */
    struct conns dirty;          /* connections with pushed output to write */
    struct conns committing;     /* connections whose change waits for the next batch */
    struct conns inflight;       /* connections whose change is in the batch being written */
    struct committer *committer; /* writes the store on its own thread */
    struct store *store;         /* NULL: bookings live in memory only */
    struct authpool *authpool;   /* checks hashed passwords; NULL when all are clear */
    const char *dummyhash;       /* a hash from users.txt, checked for clear and unknown users */
    size_t nconns;

    char *rbuf; /* one read buffer shared by all connections */
    size_t rbufsize;

    char pushline[64]; /* the push line of the last change, for every watcher */
    size_t pushlen;
    uint64_t pushversion;

    /* The slot lines of the "slots n" reply, one block per SCHEDULE_BLOCK
     * slots, each rebuilt only when one of its slots changed. */
    struct center_block **blocks;
    char head[32]; /* "slots n\n" for headfree free slots */
    size_t headlen, headfree;
};

/* Load the data files named by cfg (taken over by the center). */
int center_init(struct center *c, struct center_config *cfg, int quiet, char *err, size_t errlen);
/* Bind the listening socket and start accepting on base. */
int center_listen(struct center *c, struct event_base *base, char *err, size_t errlen);
/* Close every connection and free everything, in reverse order of creation. */
void center_free(struct center *c);
/*
 * Write conn's pushes soon: every push queued within CENTER_PUSH_DELAY_US
 * goes out in one write per watcher, so a burst of bookings costs each
 * waiting patient one system call, not one per booking.
 */
void center_push_later(struct center *c, struct conn *conn);
/* The push line for the change just made to slot (formatted once per change). */
const char *center_push_line(struct center *c, enum sched_change change, const struct slot *slot,
                             size_t *len);
/*
 * Stage conn's change (a booking of index by user, or its removal) and hold
 * its answer until the batch holding it is committed.
 */
void center_commit_later(struct center *c, struct conn *conn, int put, const char *user,
                         uint32_t index);
/* Append the "slots n" reply (the free slots now) to out. */
void center_list(struct center *c, struct evbuffer *out);
/* Print one screen line unless quiet. */
void center_print(const struct center *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
