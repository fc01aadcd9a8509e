/* users.h: the registered patients, loaded once from users.txt. */
#ifndef HCS_USERS_H
#define HCS_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "htab.h"

#define USERS_NONE UINT32_MAX
#define USERS_MAXNAME 64 /* bytes in a username or clear password, NUL excluded */

/* One patient. Strings point into the table's arena. */
struct user {
    const char *name;
    const char *password;
    uint32_t namelen;
    uint32_t passlen;
    uint32_t booked; /* slot index held, or 0 for none */
    int hashed;      /* password is a crypt(3) hash, checked by the authpool */
    int removed;     /* no longer in users.txt, kept for a booking or a session: no login */
    uint32_t line;   /* row in users.txt, for messages */
};

/* All patients, with a hash index by name. */
struct users {
    struct user *v;
    size_t n, cap;
    size_t nhashed;             /* rows whose password is a hash */
    struct users_chunk *chunks; /* the strings, in blocks that never move */
    size_t chunkfree;
    struct htab idx;
};

int users_load(struct users *u, const char *path, char *err, size_t errlen);
int users_load_mem(struct users *u, const char *name, const void *data, size_t len, char *err,
                   size_t errlen);
void users_free(struct users *u);
/* The user with this name, or NULL. */
struct user *users_find(const struct users *u, const char *name, size_t len);
/*
 * The user with this name, added as removed (not in users.txt: it cannot
 * log in) if the table lacks it, so that a booking or a session of that
 * name keeps a holder. NULL out of memory. Pointers to users move.
 */
struct user *users_keep(struct users *u, const char *name, size_t len);
/*
 * Check a login against a clear password: 1 if name exists, its password is
 * stored in clear and matches, else 0 (always 0 for a hashed user: those are
 * checked by the authpool; always 0 for a removed one). Takes the same time
 * for an unknown name as for a wrong password.
 */
int users_check(const struct users *u, const char *name, size_t namelen, const char *password,
                size_t passlen, struct user **out);

#define USERS_DUMMY_SETTINGS 8 /* distinct hash settings timed by users_dummy_hash */

/*
 * The hash that logins of unknown and clear users are checked against, so
 * that they take as long as the costliest hashed user's: one hash of each
 * distinct setting (method and cost; the first USERS_DUMMY_SETTINGS) is
 * timed once, and the slowest wins. NULL when no row is hashed.
 */
const char *users_dummy_hash(const struct users *u);

#endif
