/* slotlist.h: the patient's list of free slots, kept current by the center's pushes. */
#ifndef HCS_SLOTLIST_H
#define HCS_SLOTLIST_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define SLOTLIST_MAX 1000000 /* slots the list holds at most */
#define SLOTLIST_ROWLEN 48   /* one formatted row, "\n" and NUL included */

/*
 * How the session uses the list: slotlist_append for each row of the
 * center's "slots <n>" reply, then slotlist_finish once, which builds the
 * lookup and refuses an index listed twice. After that, slotlist_apply takes
 * every schedule push (slotlist_is_push tells which replies are pushes),
 * slotlist_has answers lookups and slotlist_row formats the rows.
 *
 * The list is kept in the center's order (availabilities.txt). A slot that
 * comes back goes before the first listed slot with a higher index, which is
 * ascending order whenever the center's list is ascending.
 *
 * The list also remembers why a slot it listed went away (slotlist_gone), so
 * that a person who types it is told it was taken or taken off the schedule,
 * not that it was never there. A slot that comes back is forgotten there.
 */

/* One free slot as the center listed it. */
struct slotlist_slot {
    uint32_t index;
    char day[PROTO_DAYLEN];
    char time[PROTO_DAYLEN];
};

/* Why a slot is not listed. */
enum slotlist_why {
    SLOTLIST_LISTED = 0,  /* not gone: listed now, or never listed */
    SLOTLIST_TAKEN = 1,   /* another patient took it ("* reserved", or the center refused it) */
    SLOTLIST_DROPPED = 2, /* the center took it off the schedule ("* removed") */
};

/* A slot that was listed and is gone, and why. */
struct slotlist_gone {
    uint32_t index;
    enum slotlist_why why;
};

/* The list. Fields are for reading; change them only through the functions below. */
struct slotlist {
    struct slotlist_slot *slots; /* in the center's order */
    uint32_t *sorted;            /* the same indices in ascending order, for lookups */
    size_t nslots;
    size_t cap;                 /* room in both arrays */
    struct slotlist_gone *gone; /* slots that went away, ascending by index */
    size_t ngone;
    size_t gonecap;
};

/* What a change of the list did. The negative ones leave the list as it was. */
enum slotlist_result {
    SLOTLIST_NOMEM = -2,  /* no memory for one more slot */
    SLOTLIST_FULL = -1,   /* the list holds SLOTLIST_MAX slots already */
    SLOTLIST_SAME = 0,    /* nothing to do: the slot was already there, or was not */
    SLOTLIST_CHANGED = 1, /* a slot was added or removed */
};

/* Start an empty list. */
void slotlist_init(struct slotlist *l);
/* Free the list; it is empty again. */
void slotlist_free(struct slotlist *l);

/* Add a row of the center's list (r: PROTO_SLOT) at the end: SLOTLIST_CHANGED or an error. */
enum slotlist_result slotlist_append(struct slotlist *l, const struct proto_reply *r);
/* The whole list is in: build the lookup. Returns 0, or -1 with *dup an index listed twice. */
int slotlist_finish(struct slotlist *l, uint32_t *dup);

/* Whether r is a schedule change that slotlist_apply takes. */
int slotlist_is_push(const struct proto_reply *r);
/* Apply a pushed schedule change; anything else than a push is SLOTLIST_SAME. */
enum slotlist_result slotlist_apply(struct slotlist *l, const struct proto_reply *r);
/*
 * Remove index and remember why (SLOTLIST_LISTED: remember nothing):
 * SLOTLIST_CHANGED, or SLOTLIST_SAME if it is not listed. The reason is
 * kept as long as memory allows (at most SLOTLIST_MAX of them); it is only
 * a better message.
 */
enum slotlist_result slotlist_remove(struct slotlist *l, uint32_t index, enum slotlist_why why);

/* Whether index is listed. */
int slotlist_has(const struct slotlist *l, uint32_t index);
/* Why index is not listed: SLOTLIST_LISTED if it is, or if it never was (or was forgotten). */
enum slotlist_why slotlist_gone(const struct slotlist *l, uint32_t index);
/* Format row i (below l->nslots) as the screen shows it, "5 Mon 01pm\n"; returns its length. */
size_t slotlist_row(const struct slotlist *l, size_t i, char buf[SLOTLIST_ROWLEN]);

#endif
