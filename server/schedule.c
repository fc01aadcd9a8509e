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

/*
 * Make room in array v (*cap elements of size bytes) for element n,
 * doubling it (first elements at first). The array, moved or not, or NULL
 * out of memory (v is then left as it was).
 */
static void *
schedule_grow(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
    size_t c;

    if (n < *cap)
        return v;
    c = *cap ? *cap * 2 : first;
    if ((v = realloc(v, c * size)) != NULL)
        *cap = c;
    return v;
}

/* The number of doctor name at port, added if new; -1 out of memory. name fits PROTO_NAMELEN. */
static int64_t
schedule_doctor_id(struct schedule *s, const char *name, size_t len, unsigned port)
{
    struct sched_doctor key, *d;
    uint64_t h;
    int64_t i;

    memset(&key, 0, sizeof key);
    memcpy(key.name, name, len);
    key.port = port;
    h = htab_hash(&key, sizeof key);
    if ((i = htab_find(&s->doctor_idx, h, schedule_doctor_eq, s, &key, sizeof key)) != -1)
        return i;
    if ((d = schedule_grow(s->doctors, &s->dcap, s->ndoctors, sizeof *d, 8)) == NULL)
        return -1;
    s->doctors = d;
    s->doctors[s->ndoctors] = key;
    if (htab_insert(&s->doctor_idx, h, (uint32_t)s->ndoctors) == -1)
        return -1;
    return (int64_t)s->ndoctors++;
}

/* Find or add the doctor of the current row; returns its number or -1. */
static int64_t
schedule_add_doctor(struct schedule *s, struct datafile *df, char *err, size_t errlen)
{
    uint64_t port;
    int64_t i;

    if (df->len[3] >= PROTO_NAMELEN)
        return datafile_error(df, err, errlen, "doctor name longer than %d bytes",
                              PROTO_NAMELEN - 1);
    if (util_parse_uint(df->field[4], df->len[4], 1, 65535, &port) == -1)
        return datafile_error(df, err, errlen, "port must be a number from 1 to 65535");
    if ((i = schedule_doctor_id(s, df->field[3], df->len[3], (unsigned)port)) == -1)
        return datafile_error(df, err, errlen, "out of memory");
    return i;
}

/* Append a copy of slot (its doctor already a number of s) and index it; -1 out of memory. */
static int
schedule_push(struct schedule *s, const struct slot *slot)
{
    struct slot *v;

    if ((v = schedule_grow(s->slots, &s->cap, s->n, sizeof *v, 64)) == NULL)
        return -1;
    s->slots = v;
    if (htab_insert(&s->idx, schedule_hash(slot->index), (uint32_t)s->n) == -1)
        return -1;
    s->slots[s->n++] = *slot;
    if (slot->holder == SCHEDULE_FREE && !slot->retired)
        s->nfree++;
    return 0;
}

/* Add the current row of df as a slot. */
static int
schedule_add(struct schedule *s, struct datafile *df, char *err, size_t errlen)
{
    struct slot slot;
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
    if ((doctor = schedule_add_doctor(s, df, err, errlen)) == -1)
        return -1;
    memset(&slot, 0, sizeof slot);
    slot.index = idx32;
    slot.holder = SCHEDULE_FREE;
    slot.doctor = (uint32_t)doctor;
    slot.line = df->line;
    memcpy(slot.day, df->field[1], df->len[1]);
    memcpy(slot.time, df->field[2], df->len[2]);
    if (schedule_push(s, &slot) == -1)
        return datafile_error(df, err, errlen, "out of memory");
    return 0;
}

/* Size the block versions for the slots there are, every block marked changed. */
static int
schedule_size_blocks(struct schedule *s)
{
    size_t i, n = (s->n + SCHEDULE_BLOCK - 1) / SCHEDULE_BLOCK;
    uint64_t *v = realloc(s->blockver, (n + 1) * sizeof *v);

    if (v == NULL)
        return -1;
    s->blockver = v;
    s->nblocks = n;
    for (i = 0; i <= n; i++)
        v[i] = s->version;
    return 0;
}

/* Read every row of an open data file. An empty schedule is valid. */
static int
schedule_read(void *ctx, struct datafile *df, char *err, size_t errlen)
{
    struct schedule *s = ctx;
    int rc;

    memset(s, 0, sizeof *s);
    TAILQ_INIT(&s->subs);
    if (htab_init(&s->idx, 64) == -1 || htab_init(&s->doctor_idx, 8) == -1) {
        snprintf(err, errlen, "%s: out of memory", df->name);
        return -1;
    }
    while ((rc = datafile_next(df, err, errlen)) == 1)
        if (schedule_add(s, df, err, errlen) == -1)
            return -1;
    if (rc == -1)
        return -1;
    if (schedule_size_blocks(s) == -1) {
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
    free(s->pending);
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

    if (i == -1 || (s->slots[i].retired && s->slots[i].holder == SCHEDULE_FREE))
        return NULL; /* not there, or a retired slot given back: gone */
    return &s->slots[i];
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
    if (slot >= s->slots && slot < s->slots + s->n)
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
    if (slot->retired)
        return SCHED_TAKEN; /* booked, and never given to anyone else */
    if (slot->holder != SCHEDULE_FREE)
        return SCHED_TAKEN;
    slot->holder = holder;
    s->nfree--;
    if (self != NULL)
        schedule_unsubscribe(s, self);
    schedule_notify(s, SCHED_RESERVED, slot);
    return SCHED_OK;
}

/* The row waiting for a retired slot of this index, or -1. */
static int64_t
schedule_pending_find(const struct schedule *s, uint32_t index)
{
    size_t i;

    for (i = 0; i < s->npending; i++)
        if (s->pending[i].index == index)
            return (int64_t)i;
    return -1;
}

/*
 * Release a reserved slot. A retired one is gone once given back, or
 * becomes the row of availabilities.txt that waited for it (told as added).
 */
enum sched_result
schedule_release(struct schedule *s, uint32_t index)
{
    struct slot *slot = schedule_find(s, index);
    int64_t p;

    if (slot == NULL)
        return SCHED_UNKNOWN;
    if (slot->holder == SCHEDULE_FREE)
        return SCHED_TAKEN;
    slot->holder = SCHEDULE_FREE;
    if (!slot->retired) {
        s->nfree++;
        schedule_notify(s, SCHED_RELEASED, slot);
        return SCHED_OK;
    }
    if ((p = schedule_pending_find(s, index)) == -1) {
        s->version++; /* gone: nobody watching ever saw it free */
        return SCHED_OK;
    }
    *slot = s->pending[p];
    s->pending[p] = s->pending[--s->npending];
    s->nfree++;
    schedule_notify(s, SCHED_ADDED, slot);
    return SCHED_OK;
}

/* Whether two slots (each with its own schedule's doctors) say the same. */
static int
schedule_same(const struct schedule *a, const struct slot *x, const struct schedule *b,
              const struct slot *y)
{
    const struct sched_doctor *dx = &a->doctors[x->doctor], *dy = &b->doctors[y->doctor];

    return strcmp(x->day, y->day) == 0 && strcmp(x->time, y->time) == 0 &&
           strcmp(dx->name, dy->name) == 0 && dx->port == dy->port;
}

/* Copy slot (of schedule from) into t, with its doctor renumbered for t; -1 out of memory. */
static int
schedule_copy_into(struct schedule *t, const struct schedule *from, const struct slot *slot,
                   struct slot *out)
{
    const struct sched_doctor *d = &from->doctors[slot->doctor];
    int64_t id = schedule_doctor_id(t, d->name, strlen(d->name), d->port);

    if (id == -1)
        return -1;
    *out = *slot;
    out->doctor = (uint32_t)id;
    return 0;
}

/* Note a slot to tell watchers of once the change is made. */
static int
schedule_note(struct slot **v, size_t *n, size_t *cap, const struct slot *slot)
{
    struct slot *nv = schedule_grow(*v, cap, *n, sizeof *nv, 16);

    if (nv == NULL)
        return -1;
    *v = nv;
    (*v)[(*n)++] = *slot;
    return 0;
}

/*
 * Make s what next says (see schedule.h). Built aside first, so that on
 * running out of memory s is left exactly as it was.
 */
int
schedule_apply(struct schedule *s, const struct schedule *next, struct sched_diff *diff,
               void (*kept)(void *, const struct slot *, const char *), void *arg)
{
    struct schedule t;
    struct slot *gone = NULL, *added = NULL, copy;
    size_t ngone = 0, gonecap = 0, nadded = 0, addedcap = 0, i;
    int64_t j;

    memset(diff, 0, sizeof *diff);
    memset(&t, 0, sizeof t);
    if (htab_init(&t.idx, next->n + s->n + 1) == -1 || htab_init(&t.doctor_idx, 8) == -1)
        goto nomem;
    /* The rows of next in their order: kept, changed or new. */
    for (i = 0; i < next->n; i++) {
        const struct slot *x = &next->slots[i];
        struct slot *o = schedule_find(s, x->index);

        if (schedule_copy_into(&t, next, x, &copy) == -1)
            goto nomem;
        if (o != NULL && schedule_same(s, o, next, x)) {
            copy.holder = o->holder; /* unchanged, booked or not */
        } else if (o != NULL && o->holder != SCHEDULE_FREE) {
            /* Booked as told: the new row waits until the booking ends. */
            if (schedule_note(&t.pending, &t.npending, &t.pendcap, &copy) == -1)
                goto nomem;
            diff->changed_booked++;
            continue;
        } else {
            if (o != NULL)
                diff->changed++; /* the old one is told as removed below */
            else
                diff->added++;
            if (schedule_note(&added, &nadded, &addedcap, &copy) == -1)
                goto nomem;
        }
        if (schedule_push(&t, &copy) == -1)
            goto nomem;
    }
    /* Old slots that next lacks or changed: free ones go, booked ones stay as told. */
    for (i = 0; i < s->n; i++) {
        const struct slot *o = &s->slots[i];
        const struct slot *x = schedule_find(next, o->index);

        if (o->retired && o->holder == SCHEDULE_FREE)
            continue; /* gone already */
        if (x != NULL && schedule_same(s, o, next, x))
            continue; /* placed above */
        if (o->holder == SCHEDULE_FREE) {
            /* Left the file, or changed there (its new row is added above). */
            if (schedule_note(&gone, &ngone, &gonecap, o) == -1)
                goto nomem;
            if (x == NULL)
                diff->removed++;
            continue;
        }
        if (schedule_copy_into(&t, s, o, &copy) == -1)
            goto nomem;
        if (!o->retired && x == NULL)
            diff->removed_booked++;
        copy.retired = 1;
        if (schedule_push(&t, &copy) == -1)
            goto nomem;
    }
    /* A new version for every block, so no list built before is taken for current. */
    t.version = s->version + 1;
    if (schedule_size_blocks(&t) == -1)
        goto nomem;
    /* Swap the new table in. The watchers stay: the list head keeps its
     * place in *s, so its pointers and theirs stay valid. */
    t.subs = s->subs;
    t.nsubs = s->nsubs;
    free(s->slots);
    free(s->doctors);
    free(s->blockver);
    free(s->pending);
    htab_free(&s->idx);
    htab_free(&s->doctor_idx);
    *s = t;
    for (i = 0; i < s->n; i++)
        if (s->slots[i].retired && kept != NULL)
            kept(arg, &s->slots[i],
                 schedule_find(next, s->slots[i].index) != NULL ? "changed in the file"
                                                                : "no longer in the file");
    for (i = 0; i < ngone; i++)
        schedule_notify(s, SCHED_REMOVED, &gone[i]);
    for (i = 0; i < nadded; i++)
        if ((j = htab_find(&s->idx, schedule_hash(added[i].index), schedule_eq, s, &added[i].index,
                           sizeof added[i].index)) != -1)
            schedule_notify(s, SCHED_ADDED, &s->slots[j]);
    free(gone);
    free(added);
    return 0;
nomem:
    free(gone);
    free(added);
    free(t.slots);
    free(t.doctors);
    free(t.blockver);
    free(t.pending);
    htab_free(&t.idx);
    htab_free(&t.doctor_idx);
    return -1;
}

/*
 * Keep a booking as its patient was told of it when the schedule says
 * otherwise (at start-up, from the store): the slot, as told, stays booked
 * by holder and retired; the schedule's row of that index, if any, waits
 * for the booking to end. -1 out of memory.
 */
int
schedule_keep(struct schedule *s, uint32_t index, const char *day, const char *time,
              const char *doctor, unsigned port, uint32_t holder)
{
    struct slot slot;
    int64_t i, id;

    memset(&slot, 0, sizeof slot);
    slot.index = index;
    slot.holder = holder;
    slot.retired = 1;
    snprintf(slot.day, sizeof slot.day, "%s", day);
    snprintf(slot.time, sizeof slot.time, "%s", time);
    if ((id = schedule_doctor_id(s, doctor, strnlen(doctor, PROTO_NAMELEN - 1), port)) == -1)
        return -1;
    slot.doctor = (uint32_t)id;
    i = htab_find(&s->idx, schedule_hash(index), schedule_eq, s, &index, sizeof index);
    if (i != -1) {
        /* The file's row waits; the booking takes its place. */
        if (s->slots[i].holder != SCHEDULE_FREE)
            return -1;
        if (schedule_note(&s->pending, &s->npending, &s->pendcap, &s->slots[i]) == -1)
            return -1;
        if (!s->slots[i].retired)
            s->nfree--;
        slot.line = s->slots[i].line;
        s->slots[i] = slot;
        s->version++;
        s->blockver[(size_t)i / SCHEDULE_BLOCK] = s->version;
        return 0;
    }
    if (schedule_push(s, &slot) == -1)
        return -1;
    s->version++;
    return schedule_size_blocks(s);
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
