/* store.h: where bookings outlive the process, behind one interface for every backend. */
#ifndef HCS_STORE_H
#define HCS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * The center keeps the schedule in memory and decides at once whether a
 * slot is free; the store makes each decision durable. Changes are written
 * in batches, one per pass of the event loop (server/committer.c), and a
 * patient is told of a change only after its batch was written.
 *
 * Threads. open, load and close run on the event loop's thread while no
 * batch is being written. write applies one batch; a backend whose writes
 * block (SQLite: the disk) says so with blocking, and the committer calls
 * its write on a thread of its own, one batch at a time; the center calls
 * the write of a backend that does not block (memory) on the loop, one
 * change at a time, and answers at once. A backend driven by the loop over
 * the network (PostgreSQL) has submit: the committer hands it a batch and
 * the backend reports on the loop when it is written; write is then only
 * for the last batch at shutdown and for tests.
 *
 * Shared stores. A store several centers share (PostgreSQL) also keeps the
 * schedule, and tells each center, through struct store_events, of the
 * changes the others commit, in commit order: a booking made or ended
 * elsewhere, the schedule changed, the whole set of bookings after a
 * reconnection (the notifications missed meanwhile are lost: the table is
 * the truth), and whether it can take changes now.
 *
 * Outcomes. A backend may refuse one change of a batch while writing the
 * rest (a shared database decides a race itself: "someone else already
 * holds this slot"): it sets that op's refused and the batch is still
 * STORE_OK. Every backend refuses a booking of a slot it holds a booking
 * of, and a booking by a user who holds one: one slot, one holder; one
 * user, one booking. A failure of the whole batch is either STORE_TRANSIENT (the
 * store is busy or unreachable for now: nothing of the batch was written,
 * and the same batch may be written again later) or STORE_FATAL (the store
 * cannot be trusted to go on: the center stops).
 */
struct store;
struct event_base;

/* Which backend (the "store" key of center.conf). */
enum store_kind { STORE_MEMORY, STORE_SQLITE, STORE_POSTGRESQL };

/* What a backend needs to open: the keys of center.conf that concern it. */
struct store_params {
    enum store_kind kind;
    const char *path; /* sqlite: the file */
    int full_sync;    /* sqlite: every commit reaches the disk before it returns */
    const char *dsn;  /* postgresql: the libpq connection string (no password in it) */
    int check;        /* only look (hcs --check): create nothing, change nothing */
};

#define STORE_USERLEN 65 /* user names, NUL included (USERS_MAXNAME + 1) */

/* One booking as the store keeps it: the slot as its patient was told of it. */
struct store_booking {
    uint32_t index;
    const char *user;
    const char *day;
    const char *time;
    const char *doctor;
    unsigned port;
};

/* How writing a whole batch went. */
enum store_status { STORE_OK, STORE_TRANSIENT, STORE_FATAL };

/* One change of a batch and, once written, what became of it. */
struct store_op {
    int put;        /* 1: index booked by user, as described; 0: the booking of index removed */
    uint32_t index; /* the slot */
    char user[STORE_USERLEN];
    char day[PROTO_DAYLEN]; /* put: the slot as the patient is told of it */
    char time[PROTO_DAYLEN];
    char doctor[PROTO_NAMELEN];
    unsigned port;
    int refused; /* set by the backend: another booking of the slot, or of the user, stands */
    int unknown; /* set by the backend: not written for want of the store (nothing changed) */
    void *arg;   /* the caller's (the center: the connection waiting for it) */
};

/* Fill a booking op (names longer than the op's fields are cut: callers check lengths). */
void store_op_put(struct store_op *op, const struct store_booking *b, void *arg);
/* Fill a removal op. */
void store_op_del(struct store_op *op, uint32_t index, void *arg);
/* (A removal may also name the user whose booking it removes, in op->user: a shared store then
 * removes nothing if another user holds the slot by now.) */

/* One slot of a shared schedule, in the order of availabilities.txt. */
struct store_slot {
    uint32_t index;
    const char *day;
    const char *time;
    const char *doctor;
    unsigned port;
};

/* What a shared store tells its center, on the loop (see above). */
struct store_events {
    /* A booking committed by another center, or by hand. */
    void (*booked)(void *arg, const struct store_booking *b);
    /* The booking of index by user ended elsewhere. */
    void (*cancelled)(void *arg, uint32_t index, const char *user);
    /* After a reconnection: every booking, in one call (no change missed is told otherwise). */
    void (*bookings)(void *arg, const struct store_booking *all, size_t n);
    /* The shared schedule changed (or, after a reconnection, may have): all its slots. */
    void (*schedule)(void *arg, const struct store_slot *slots, size_t n);
};

/* A batch handed to submit is written (or can never be): on the loop. */
typedef void store_done_fn(void *arg, enum store_status status, const char *err);

/* What a backend provides (store_memory.c, store_sqlite.c, store_pg.c). */
struct store_ops {
    const char *name;
    /* Open or create the store; refuse one that is not an hcs store. */
    struct store *(*open)(const struct store_params *, char *err, size_t errlen);
    int (*load)(struct store *, int (*fn)(void *, const struct store_booking *), void *arg,
                char *err, size_t errlen);
    /* Write ops[0..n) in one transaction, in order, setting each op's refused (a shared
     * store may take one user's bookings of one batch in slot order: see store_pg.c). */
    enum store_status (*write)(struct store *, struct store_op *ops, size_t n, char *err,
                               size_t errlen);
    void (*close)(struct store *);
    int blocking; /* write waits for a disk or a network: call it off the loop */

    /* Loop-driven and shared backends only (NULL otherwise). */
    /* Start working on base: events come from now on. */
    int (*attach)(struct store *, struct event_base *base, const struct store_events *ev, void *arg,
                  char *err, size_t errlen);
    /* Write ops[0..n) (kept by the caller until done runs), then call done on the loop. */
    void (*submit)(struct store *, struct store_op *ops, size_t n, store_done_fn *done, void *arg);
    /* Whether a batch submitted now would be written (connected), else it waits. */
    int (*available)(const struct store *);
    /* The shared schedule: fn(arg, slots, n) once; an empty store gives n = 0. Start-up only. */
    int (*schedule_get)(struct store *, void (*fn)(void *, const struct store_slot *, size_t),
                        void *arg, char *err, size_t errlen);
    /* Make the shared schedule slots[0..n): now at start-up (no base yet), else on the loop
     * (every center, this one too, is then told by its schedule event). */
    int (*schedule_put)(struct store *, const struct store_slot *slots, size_t n, char *err,
                        size_t errlen);
};

/* Every store starts with its backend's operations. */
struct store {
    const struct store_ops *ops;
};

/* Open (or create) the store that params name. */
struct store *store_open(const struct store_params *params, char *err, size_t errlen);
/* Call fn(arg, booking) for every stored booking; fn returns 0, or -1 to stop (load fails). */
int store_load(struct store *s, int (*fn)(void *, const struct store_booking *), void *arg,
               char *err, size_t errlen);
/* Whether the store is shared with other centers (it keeps the schedule, and has events). */
int store_shared(const struct store *s);
/* The backend's name ("memory", "sqlite", "postgresql"). */
const char *store_name(const struct store *s);
/* Whether write blocks (see above). */
int store_blocking(const struct store *s);
/* Write ops[0..n) in one transaction (see store_ops.write). */
enum store_status store_write(struct store *s, struct store_op *ops, size_t n, char *err,
                              size_t errlen);
/* Close the store; a batch not yet written is dropped. NULL is ignored. */
void store_close(struct store *s);

extern const struct store_ops store_memory_ops;
extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

#endif
