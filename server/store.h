/* store.h: where bookings outlive the process. One backend today: SQLite. */
#ifndef HCS_STORE_H
#define HCS_STORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Changes are staged with store_put and store_del and made durable together
 * by store_commit: the center commits once per pass of its event loop, and
 * tells patients of their bookings only after that.
 */
struct store;

/* What a backend provides (see store_sqlite.c). */
struct store_ops {
    const char *name;
    struct store *(*open)(const char *path, int full_sync, char *err, size_t errlen);
    int (*load)(struct store *, int (*fn)(void *, const char *, uint32_t), void *arg, char *err,
                size_t errlen);
    int (*put)(struct store *, const char *user, uint32_t index, char *err, size_t errlen);
    int (*del)(struct store *, uint32_t index, char *err, size_t errlen);
    int (*commit)(struct store *, char *err, size_t errlen);
    void (*close)(struct store *);
};

/* Every store starts with its backend's operations. */
struct store {
    const struct store_ops *ops;
};

/* Open (or create) the store at path; full_sync: each commit reaches the disk. */
struct store *store_open(const char *path, int full_sync, char *err, size_t errlen);
/* Call fn(arg, user, index) for every stored booking; fn returns 0 or -1 to stop. */
int store_load(struct store *s, int (*fn)(void *, const char *, uint32_t), void *arg, char *err,
               size_t errlen);
/* Stage a booking of slot index by user. */
int store_put(struct store *s, const char *user, uint32_t index, char *err, size_t errlen);
/* Stage the removal of the booking of slot index. */
int store_del(struct store *s, uint32_t index, char *err, size_t errlen);
/* Make every staged change durable at once. */
int store_commit(struct store *s, char *err, size_t errlen);
void store_close(struct store *s);

extern const struct store_ops store_sqlite_ops;

#endif
