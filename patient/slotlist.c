/* slotlist.c: the patient's list of free slots, kept current by the center's pushes. */
#include "slotlist.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest row: 10 digits, two fields of PROTO_DAYLEN - 1 bytes, 2 spaces, "\n" and NUL. */
_Static_assert(SLOTLIST_ROWLEN >= 12 + 2 * PROTO_DAYLEN, "SLOTLIST_ROWLEN holds any row");

/* A push and what it does to the list; another kind of push is one more row of the table. */
struct slotlist_push {
    enum proto_reply_kind kind;
    int adds;              /* 1: the slot (index, day, time) is free; 0: the index is gone */
    enum slotlist_why why; /* when it is gone: why */
};

/* The pushes that change the list. */
static const struct slotlist_push slotlist_pushes[] = {
    {PROTO_PUSH_RESERVED, 0, SLOTLIST_TAKEN},  /* another patient took the slot */
    {PROTO_PUSH_RELEASED, 1, SLOTLIST_LISTED}, /* a booking was cancelled */
    {PROTO_PUSH_ADDED, 1, SLOTLIST_LISTED},    /* the center added the slot to its schedule */
    {PROTO_PUSH_REMOVED, 0, SLOTLIST_DROPPED}, /* the center took the slot off its schedule */
};

/* Start an empty list. */
void
slotlist_init(struct slotlist *l)
{
    memset(l, 0, sizeof *l);
}

/* Free the arrays. */
void
slotlist_free(struct slotlist *l)
{
    free(l->slots);
    free(l->sorted);
    free(l->gone);
    slotlist_init(l);
}

/* Position of index in the sorted array, or where it would go; *found tells which. */
static size_t
slotlist_bsearch(const struct slotlist *l, uint32_t index, int *found)
{
    size_t lo = 0, hi = l->nslots;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->sorted[mid] < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < l->nslots && l->sorted[lo] == index;
    return lo;
}

/* Whether index is listed. */
int
slotlist_has(const struct slotlist *l, uint32_t index)
{
    int found;

    slotlist_bsearch(l, index, &found);
    return found;
}

/* Make room for one more slot. */
static enum slotlist_result
slotlist_grow(struct slotlist *l)
{
    struct slotlist_slot *slots;
    uint32_t *sorted;
    size_t cap;

    if (l->nslots < l->cap)
        return SLOTLIST_CHANGED;
    if (l->nslots >= SLOTLIST_MAX)
        return SLOTLIST_FULL;
    cap = l->cap == 0 ? 16 : l->cap * 2;
    if (cap > SLOTLIST_MAX)
        cap = SLOTLIST_MAX;
    if ((slots = realloc(l->slots, cap * sizeof *slots)) != NULL)
        l->slots = slots;
    if ((sorted = realloc(l->sorted, cap * sizeof *sorted)) != NULL)
        l->sorted = sorted;
    if (slots == NULL || sorted == NULL)
        return SLOTLIST_NOMEM;
    l->cap = cap;
    return SLOTLIST_CHANGED;
}

/* Copy the slot of r into s. */
static void
slotlist_set(struct slotlist_slot *s, const struct proto_reply *r)
{
    s->index = r->index;
    memcpy(s->day, r->day, sizeof r->day);
    memcpy(s->time, r->time, sizeof r->time);
}

/* Add a row at the end; the lookup is built by slotlist_finish. */
enum slotlist_result
slotlist_append(struct slotlist *l, const struct proto_reply *r)
{
    enum slotlist_result rc;

    if ((rc = slotlist_grow(l)) != SLOTLIST_CHANGED)
        return rc;
    slotlist_set(&l->slots[l->nslots], r);
    l->sorted[l->nslots] = r->index;
    l->nslots++;
    return SLOTLIST_CHANGED;
}

/* Compare two indices for qsort. */
static int
slotlist_cmp_index(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Sort the lookup and check that no index is listed twice. */
int
slotlist_finish(struct slotlist *l, uint32_t *dup)
{
    size_t i;

    if (l->nslots > 1) /* with none, sorted may be NULL, which qsort must not get */
        qsort(l->sorted, l->nslots, sizeof *l->sorted, slotlist_cmp_index);
    for (i = 1; i < l->nslots; i++)
        if (l->sorted[i] == l->sorted[i - 1]) {
            *dup = l->sorted[i];
            return -1;
        }
    return 0;
}

/* Position of index in the gone array, or where it would go; *found tells which. */
static size_t
slotlist_gone_find(const struct slotlist *l, uint32_t index, int *found)
{
    size_t lo = 0, hi = l->ngone;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->gone[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < l->ngone && l->gone[lo].index == index;
    return lo;
}

/* Remember why index went away; without room, it is not remembered. */
static void
slotlist_gone_add(struct slotlist *l, uint32_t index, enum slotlist_why why)
{
    struct slotlist_gone *gone;
    size_t pos, cap;
    int found;

    pos = slotlist_gone_find(l, index, &found);
    if (found) {
        l->gone[pos].why = why;
        return;
    }
    if (l->ngone == l->gonecap) {
        if (l->gonecap >= SLOTLIST_MAX)
            return;
        cap = l->gonecap == 0 ? 16 : l->gonecap * 2;
        if (cap > SLOTLIST_MAX)
            cap = SLOTLIST_MAX;
        if ((gone = realloc(l->gone, cap * sizeof *gone)) == NULL)
            return;
        l->gone = gone;
        l->gonecap = cap;
    }
    memmove(&l->gone[pos + 1], &l->gone[pos], (l->ngone - pos) * sizeof *l->gone);
    l->gone[pos].index = index;
    l->gone[pos].why = why;
    l->ngone++;
}

/* Forget why index went away: it is listed again. */
static void
slotlist_gone_forget(struct slotlist *l, uint32_t index)
{
    size_t pos;
    int found;

    pos = slotlist_gone_find(l, index, &found);
    if (!found)
        return;
    memmove(&l->gone[pos], &l->gone[pos + 1], (l->ngone - pos - 1) * sizeof *l->gone);
    l->ngone--;
}

/* Why index is not listed. */
enum slotlist_why
slotlist_gone(const struct slotlist *l, uint32_t index)
{
    size_t pos;
    int found;

    if (slotlist_has(l, index))
        return SLOTLIST_LISTED;
    pos = slotlist_gone_find(l, index, &found);
    return found ? l->gone[pos].why : SLOTLIST_LISTED;
}

/* Remove index from both arrays and remember why. */
enum slotlist_result
slotlist_remove(struct slotlist *l, uint32_t index, enum slotlist_why why)
{
    size_t pos, i;
    int found;

    pos = slotlist_bsearch(l, index, &found);
    if (!found)
        return SLOTLIST_SAME;
    memmove(&l->sorted[pos], &l->sorted[pos + 1], (l->nslots - pos - 1) * sizeof *l->sorted);
    for (i = 0; i < l->nslots && l->slots[i].index != index; i++)
        continue;
    memmove(&l->slots[i], &l->slots[i + 1], (l->nslots - i - 1) * sizeof *l->slots);
    l->nslots--;
    if (why != SLOTLIST_LISTED)
        slotlist_gone_add(l, index, why);
    return SLOTLIST_CHANGED;
}

/* Add the slot of r before the first listed slot with a higher index, unless it is there. */
static enum slotlist_result
slotlist_insert(struct slotlist *l, const struct proto_reply *r)
{
    enum slotlist_result rc;
    size_t pos, i;
    int found;

    pos = slotlist_bsearch(l, r->index, &found);
    if (found)
        return SLOTLIST_SAME;
    if ((rc = slotlist_grow(l)) != SLOTLIST_CHANGED)
        return rc;
    memmove(&l->sorted[pos + 1], &l->sorted[pos], (l->nslots - pos) * sizeof *l->sorted);
    l->sorted[pos] = r->index;
    for (i = 0; i < l->nslots && l->slots[i].index < r->index; i++)
        continue;
    memmove(&l->slots[i + 1], &l->slots[i], (l->nslots - i) * sizeof *l->slots);
    slotlist_set(&l->slots[i], r);
    l->nslots++;
    slotlist_gone_forget(l, r->index);
    return SLOTLIST_CHANGED;
}

/* The row of the push table for r, or NULL if r is no push. */
static const struct slotlist_push *
slotlist_push_find(const struct proto_reply *r)
{
    size_t i;

    for (i = 0; i < sizeof slotlist_pushes / sizeof slotlist_pushes[0]; i++)
        if (slotlist_pushes[i].kind == r->kind)
            return &slotlist_pushes[i];
    return NULL;
}

/* Whether r is a schedule push. */
int
slotlist_is_push(const struct proto_reply *r)
{
    return slotlist_push_find(r) != NULL;
}

/* Apply a pushed schedule change. */
enum slotlist_result
slotlist_apply(struct slotlist *l, const struct proto_reply *r)
{
    const struct slotlist_push *push = slotlist_push_find(r);

    if (push == NULL)
        return SLOTLIST_SAME;
    return push->adds ? slotlist_insert(l, r) : slotlist_remove(l, r->index, push->why);
}

/* Format row i for the screen. */
size_t
slotlist_row(const struct slotlist *l, size_t i, char buf[SLOTLIST_ROWLEN])
{
    const struct slotlist_slot *s = &l->slots[i];
    int n = snprintf(buf, SLOTLIST_ROWLEN, "%" PRIu32 " %s %s\n", s->index, s->day, s->time);

    return n < 0 ? 0 : (size_t)n;
}
