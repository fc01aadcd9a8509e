/* throttle.h: slow down password guessing from one address. */
#ifndef HCS_THROTTLE_H
#define HCS_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define THROTTLE_LIMIT 5   /* failures from one address within the window ... */
#define THROTTLE_WINDOW 60 /* ... seconds, after which answers wait */
#define THROTTLE_DELAY 1   /* seconds each answer then waits */
#define THROTTLE_ADDRLEN 64

/* Recent failures of one address. */
struct throttle_entry {
    char addr[THROTTLE_ADDRLEN];
    uint32_t fails;
    int64_t first; /* time of the first failure in the window */
};

/*
 * A fixed-size table: an address hashes to one entry, and a newer address
 * takes the entry over. Memory stays bounded whatever clients do.
 */
struct throttle {
    struct throttle_entry *v;
    size_t mask;
};

int throttle_init(struct throttle *t, size_t entries);
void throttle_free(struct throttle *t);
/* Count a failed login from addr at time now (seconds). */
void throttle_failure(struct throttle *t, const char *addr, int64_t now);
/* Seconds an answer to addr must wait at time now: 0 or THROTTLE_DELAY. */
unsigned throttle_delay(const struct throttle *t, const char *addr, int64_t now);

#endif
