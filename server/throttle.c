/* throttle.c: slow down password guessing from one address. */
#include "throttle.h"
#include "htab.h"

#include <stdlib.h>
#include <string.h>

/* Allocate a table of entries (rounded up to a power of two). */
int
throttle_init(struct throttle *t, size_t entries)
{
    size_t cap = 1;

    while (cap < entries)
        cap *= 2;
    t->v = calloc(cap, sizeof *t->v);
    t->mask = cap - 1;
    return t->v == NULL ? -1 : 0;
}

/* Free the table. */
void
throttle_free(struct throttle *t)
{
    free(t->v);
    t->v = NULL;
    t->mask = 0;
}

/* The entry an address maps to. */
static struct throttle_entry *
throttle_slot(const struct throttle *t, const char *addr)
{
    return &t->v[htab_hash(addr, strlen(addr)) & t->mask];
}

/* Count a failed login. */
void
throttle_failure(struct throttle *t, const char *addr, int64_t now)
{
    struct throttle_entry *e;

    if (t->v == NULL)
        return;
    e = throttle_slot(t, addr);
    if (strcmp(e->addr, addr) != 0 || now - e->first >= THROTTLE_WINDOW) {
        strncpy(e->addr, addr, sizeof e->addr - 1);
        e->addr[sizeof e->addr - 1] = '\0';
        e->fails = 0;
        e->first = now;
    }
    if (e->fails < UINT32_MAX)
        e->fails++;
}

/* How long an answer to addr waits. */
unsigned
throttle_delay(const struct throttle *t, const char *addr, int64_t now)
{
    const struct throttle_entry *e;

    if (t->v == NULL)
        return 0;
    e = throttle_slot(t, addr);
    if (strcmp(e->addr, addr) != 0 || now - e->first >= THROTTLE_WINDOW ||
        e->fails < THROTTLE_LIMIT)
        return 0;
    return THROTTLE_DELAY;
}
