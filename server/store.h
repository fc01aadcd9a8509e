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
 * the network (PostgreSQL) would add one operation here, a submit that
 * starts the batch and reports on the loop, and one branch in the
 * committer, which already keeps the batch, its retries and its answers.
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

/* Which backend (the "store" key of center.conf). */
enum store_kind { STORE_MEMORY, STORE_SQLITE };

/* What a backend needs to open: the keys of center.conf that concern it. */
struct store_params {
    enum store_kind kind;
    const char *path; /* sqlite: the file */
    int full_sync;    /* sqlite: every commit reaches the disk before it returns */
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
    void *arg;   /* the caller's (the center: the connection waiting for it) */
};

/* Fill a booking op (names longer than the op's fields are cut: callers check lengths). */
void store_op_put(struct store_op *op, const struct store_booking *b, void *arg);
/* Fill a removal op. */
void store_op_del(struct store_op *op, uint32_t index, void *arg);

/* What a backend provides (store_memory.c, store_sqlite.c). */
struct store_ops {
    const char *name;
    /* Open or create the store; refuse one that is not an hcs store. */
    struct store *(*open)(const struct store_params *, char *err, size_t errlen);
    int (*load)(struct store *, int (*fn)(void *, const struct store_booking *), void *arg,
                char *err, size_t errlen);
    /* Write ops[0..n) in one transaction, in order, setting each op's refused. */
    enum store_status (*write)(struct store *, struct store_op *ops, size_t n, char *err,
                               size_t errlen);
    void (*close)(struct store *);
    int blocking; /* write waits for a disk or a network: call it off the loop */
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
/* The backend's name ("memory", "sqlite"). */
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

#endif
