/* schedule.c: the appointment slots, their reservation, and who watches them. */
#include "schedule.h"
#include "datafile.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compare a slot index with slot number item (for htab_find). */
static int
schedule_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    (void)keylen;
    return ((const struct schedule *)ctx)->slots[item].index == *(const uint32_t *)key;
}

/* Compare "name port" with doctor number item. */
static int
schedule_doctor_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    const struct sched_doctor *d = &((const struct schedule *)ctx)->doctors[item];
    const struct sched_doctor *k = key;

    (void)keylen;
    return d->port == k->port && strcmp(d->name, k->name) == 0;
}

/* Hash a slot index. */
static uint64_t
schedule_hash(uint32_t index)
{
    return htab_hash(&index, sizeof index);
}

/* Find or add the doctor of the current row; returns its number or -1. */
static int64_t
schedule_add_doctor(struct schedule *s, struct datafile *df, size_t *cap, char *err, size_t errlen)
{
    struct sched_doctor key;
    uint64_t port, h;
    int64_t i;

    if (df->len[3] >= sizeof key.name)
        return datafile_error(df, err, errlen, "doctor name longer than %zu bytes",
                              sizeof key.name - 1);
    if (util_parse_uint(df->field[4], df->len[4], 1, 65535, &port) == -1)
        return datafile_error(df, err, errlen, "port must be a number from 1 to 65535");
    memset(&key, 0, sizeof key);
    memcpy(key.name, df->field[3], df->len[3]);
    key.port = (unsigned)port;
    h = htab_hash(&key, sizeof key);
    if ((i = htab_find(&s->doctor_idx, h, schedule_doctor_eq, s, &key, sizeof key)) != -1)
        return i;
    if (s->ndoctors == *cap) {
        struct sched_doctor *d;
        *cap = *cap ? *cap * 2 : 8;
        if ((d = realloc(s->doctors, *cap * sizeof *d)) == NULL)
            return datafile_error(df, err, errlen, "out of memory");
        s->doctors = d;
    }
    s->doctors[s->ndoctors] = key;
    if (htab_insert(&s->doctor_idx, h, (uint32_t)s->ndoctors) == -1)
        return datafile_error(df, err, errlen, "out of memory");
    return (int64_t)s->ndoctors++;
}

/* Add the current row of df as a slot. */
static int
schedule_add(struct schedule *s, struct datafile *df, size_t *cap, size_t *dcap, char *err,
             size_t errlen)
{
    struct slot *slot;
    uint64_t index;
    uint32_t idx32;
    int64_t prev, doctor;

    if (df->nfields != 5)
        return datafile_error(df, err, errlen,
                              "expected 5 fields (index day time doctor port), found %d",
                              df->nfields);
    if (util_parse_uint(df->field[0], df->len[0], 1, PROTO_MAXINDEX, &index) == -1)
        return datafile_error(df, err, errlen, "index must be a number from 1 to %u",
                              PROTO_MAXINDEX);
    if (df->len[1] >= PROTO_DAYLEN || df->len[2] >= PROTO_DAYLEN)
        return datafile_error(df, err, errlen, "day or time longer than %d bytes",
                              PROTO_DAYLEN - 1);
    idx32 = (uint32_t)index;
    prev = htab_find(&s->idx, schedule_hash(idx32), schedule_eq, s, &idx32, sizeof idx32);
    if (prev != -1)
        return datafile_error(df, err, errlen, "duplicate index %u (first on line %u)", idx32,
                              s->slots[prev].line);
    if ((doctor = schedule_add_doctor(s, df, dcap, err, errlen)) == -1)
        return -1;
    if (s->n == *cap) {
        struct slot *v;
        *cap = *cap ? *cap * 2 : 64;
        if ((v = realloc(s->slots, *cap * sizeof *v)) == NULL)
            return datafile_error(df, err, errlen, "out of memory");
        s->slots = v;
    }
    slot = &s->slots[s->n];
    memset(slot, 0, sizeof *slot);
    slot->index = idx32;
    slot->holder = SCHEDULE_FREE;
    slot->doctor = (uint32_t)doctor;
    slot->line = df->line;
    memcpy(slot->day, df->field[1], df->len[1]);
    memcpy(slot->time, df->field[2], df->len[2]);
    if (htab_insert(&s->idx, schedule_hash(idx32), (uint32_t)s->n) == -1)
        return datafile_error(df, err, errlen, "out of memory");
    s->n++;
    s->nfree++;
    return 0;
}

/* Read every row of an open data file. An empty schedule is valid. */
static int
schedule_read(void *ctx, struct datafile *df, char *err, size_t errlen)
{
    struct schedule *s = ctx;
    size_t cap = 0, dcap = 0;
    int rc;

    memset(s, 0, sizeof *s);
    TAILQ_INIT(&s->subs);
    if (htab_init(&s->idx, 64) == -1 || htab_init(&s->doctor_idx, 8) == -1) {
        snprintf(err, errlen, "%s: out of memory", df->name);
        return -1;
    }
    while ((rc = datafile_next(df, err, errlen)) == 1)
        if (schedule_add(s, df, &cap, &dcap, err, errlen) == -1)
            return -1;
    if (rc == -1)
        return -1;
    s->nblocks = (s->n + SCHEDULE_BLOCK - 1) / SCHEDULE_BLOCK;
    if ((s->blockver = calloc(s->nblocks + 1, sizeof *s->blockver)) == NULL) {
        snprintf(err, errlen, "%s: out of memory", df->name);
        return -1;
    }
    return 0;
}

/* Load availabilities.txt. */
int
schedule_load(struct schedule *s, const char *path, char *err, size_t errlen)
{
    int rc;

    memset(s, 0, sizeof *s);
    if ((rc = datafile_load(path, NULL, 0, schedule_read, s, err, errlen)) == -1)
        schedule_free(s);
    return rc;
}

/* Load a schedule from memory (tests and fuzzers). */
int
schedule_load_mem(struct schedule *s, const char *name, const void *data, size_t len, char *err,
                  size_t errlen)
{
    int rc;

    memset(s, 0, sizeof *s);
    rc = datafile_load(name, data != NULL ? data : "", len, schedule_read, s, err, errlen);
    if (rc == -1)
        schedule_free(s);
    return rc;
}

/* Free the slots and indexes; watchers belong to their owners. */
void
schedule_free(struct schedule *s)
{
    free(s->slots);
    free(s->doctors);
    free(s->blockver);
    htab_free(&s->idx);
    htab_free(&s->doctor_idx);
    memset(s, 0, sizeof *s);
    TAILQ_INIT(&s->subs);
}

/* Find a slot by index. */
struct slot *
schedule_find(const struct schedule *s, uint32_t index)
{
    int64_t i = htab_find(&s->idx, schedule_hash(index), schedule_eq, s, &index, sizeof index);

    return i == -1 ? NULL : &s->slots[i];
}

/* The doctor of a slot. */
const struct sched_doctor *
schedule_doctor(const struct schedule *s, const struct slot *slot)
{
    return &s->doctors[slot->doctor];
}

/* Tell every watcher of a change. A watcher may unsubscribe itself. */
static void
schedule_notify(struct schedule *s, enum sched_change change, const struct slot *slot)
{
    struct sched_sub *sub, *next;

    s->version++;
    s->blockver[(size_t)(slot - s->slots) / SCHEDULE_BLOCK] = s->version;
    for (sub = TAILQ_FIRST(&s->subs); sub != NULL; sub = next) {
        next = TAILQ_NEXT(sub, entry);
        sub->cb(sub, change, slot);
    }
}

/* Reserve a slot atomically: check and mark in one step. */
enum sched_result
schedule_reserve(struct schedule *s, uint32_t index, uint32_t holder, struct sched_sub *self)
{
    struct slot *slot = schedule_find(s, index);

    if (slot == NULL)
        return SCHED_UNKNOWN;
    if (slot->holder != SCHEDULE_FREE)
        return SCHED_TAKEN;
    slot->holder = holder;
    s->nfree--;
    if (self != NULL)
        schedule_unsubscribe(s, self);
    schedule_notify(s, SCHED_RESERVED, slot);
    return SCHED_OK;
}

/* Release a reserved slot. */
enum sched_result
schedule_release(struct schedule *s, uint32_t index)
{
    struct slot *slot = schedule_find(s, index);

    if (slot == NULL)
        return SCHED_UNKNOWN;
    if (slot->holder == SCHEDULE_FREE)
        return SCHED_TAKEN;
    slot->holder = SCHEDULE_FREE;
    s->nfree++;
    schedule_notify(s, SCHED_RELEASED, slot);
    return SCHED_OK;
}

/* Start telling sub of changes. */
void
schedule_subscribe(struct schedule *s, struct sched_sub *sub)
{
    if (sub->active)
        return;
    TAILQ_INSERT_TAIL(&s->subs, sub, entry);
    sub->active = 1;
    s->nsubs++;
}

/* Stop telling sub of changes. */
void
schedule_unsubscribe(struct schedule *s, struct sched_sub *sub)
{
    if (!sub->active)
        return;
    TAILQ_REMOVE(&s->subs, sub, entry);
    sub->active = 0;
    s->nsubs--;
}
