/* schedule.h: the appointment slots, their reservation, and who watches them. */
#ifndef HCS_SCHEDULE_H
#define HCS_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "htab.h"
#include "proto.h"

#define SCHEDULE_FREE UINT32_MAX
#define SCHEDULE_BLOCK 1024 /* slots per block of the list; see blockver */

/* A doctor named in availabilities.txt: name and UDP port. */
struct sched_doctor {
    char name[PROTO_NAMELEN];
    unsigned port;
};

/* One slot of availabilities.txt. */
struct slot {
    uint32_t index;
    uint32_t holder; /* user number that booked it, or SCHEDULE_FREE */
    uint32_t doctor; /* into schedule.doctors */
    uint32_t line;   /* row in availabilities.txt */
    int retired;     /* booked, but no longer in availabilities.txt as it is: never listed
                      * or given to anyone else; gone once given back */
    char day[PROTO_DAYLEN];
    char time[PROTO_DAYLEN];
};

/* What watchers are told: a slot taken or given back, added or taken off the schedule. */
enum sched_change { SCHED_RESERVED, SCHED_RELEASED, SCHED_ADDED, SCHED_REMOVED };

/* What schedule_apply did. */
struct sched_diff {
    size_t added;          /* new rows */
    size_t removed;        /* free slots no longer in the file */
    size_t changed;        /* free slots whose row changed (told as removed, then added) */
    size_t removed_booked; /* booked slots no longer in the file: kept as told */
    size_t changed_booked; /* booked slots whose row changed: kept as told, the row waits */
};

/* Somebody told of every change to the schedule (a waiting patient). */
struct sched_sub {
    TAILQ_ENTRY(sched_sub) entry;
    int active;
    void (*cb)(struct sched_sub *, enum sched_change, const struct slot *);
    void *arg;
};
TAILQ_HEAD(sched_subs, sched_sub);

/* All slots in file order, an index by slot number, and the watchers. */
struct schedule {
    struct slot *slots;
    size_t n, cap;
    size_t nfree;
    struct slot *pending; /* rows of the file waiting for a retired booking of their index */
    size_t npending, pendcap;
    uint64_t version;   /* bumped on every change */
    uint64_t *blockver; /* per SCHEDULE_BLOCK slots (file order): version of its last change */
    size_t nblocks;
    struct sched_doctor *doctors;
    size_t ndoctors, dcap;
    struct htab idx;
    struct htab doctor_idx;
    struct sched_subs subs;
    size_t nsubs;
};

enum sched_result { SCHED_OK, SCHED_TAKEN, SCHED_UNKNOWN };

int schedule_load(struct schedule *s, const char *path, char *err, size_t errlen);
int schedule_load_mem(struct schedule *s, const char *name, const void *data, size_t len, char *err,
                      size_t errlen);
void schedule_free(struct schedule *s);
/* The slot with this index, or NULL. */
struct slot *schedule_find(const struct schedule *s, uint32_t index);
const struct sched_doctor *schedule_doctor(const struct schedule *s, const struct slot *slot);
/*
 * Reserve a free slot for holder. On success, self (if subscribed) stops
 * watching first, then every other watcher is told.
 */
enum sched_result schedule_reserve(struct schedule *s, uint32_t index, uint32_t holder,
                                   struct sched_sub *self);
/*
 * Free a reserved slot and tell every watcher. A retired slot is gone
 * instead (nobody is told), or becomes the row that waited for it (told
 * as added).
 */
enum sched_result schedule_release(struct schedule *s, uint32_t index);
/*
 * Make s what next (a schedule just loaded) says, keeping every booking
 * exactly as its patient was told of it: a new row is added and a free
 * slot that left or changed is removed (watchers are told: removed, then
 * added); a booked slot that left or changed stays, retired, until its
 * booking ends, and kept(arg, slot, why) is called for each. Holders are
 * user numbers, unchanged. 0, or -1 out of memory with s unchanged.
 */
int schedule_apply(struct schedule *s, const struct schedule *next, struct sched_diff *diff,
                   void (*kept)(void *, const struct slot *, const char *), void *arg);
/*
 * Keep a stored booking of index, as its patient was told of it, where
 * the schedule lacks it or says otherwise: booked by holder and retired;
 * the schedule's row, if any, waits for the booking to end. -1 on error.
 */
int schedule_keep(struct schedule *s, uint32_t index, const char *day, const char *time,
                  const char *doctor, unsigned port, uint32_t holder);
/* Start or stop telling sub of changes; both may be called repeatedly. */
void schedule_subscribe(struct schedule *s, struct sched_sub *sub);
void schedule_unsubscribe(struct schedule *s, struct sched_sub *sub);

#endif
