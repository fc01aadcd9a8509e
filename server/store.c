/* store.c: where bookings outlive the process: the backend-neutral calls. */
#include "store.h"

/* Open the store; every path is a SQLite file for now. */
struct store *
store_open(const char *path, int full_sync, char *err, size_t errlen)
{
    return store_sqlite_ops.open(path, full_sync, err, errlen);
}

/* Call fn for every stored booking. */
int
store_load(struct store *s, int (*fn)(void *, const char *, uint32_t), void *arg, char *err,
           size_t errlen)
{
    return s->ops->load(s, fn, arg, err, errlen);
}

/* Stage a booking. */
int
store_put(struct store *s, const char *user, uint32_t index, char *err, size_t errlen)
{
    return s->ops->put(s, user, index, err, errlen);
}

/* Stage a cancellation. */
int
store_del(struct store *s, uint32_t index, char *err, size_t errlen)
{
    return s->ops->del(s, index, err, errlen);
}

/* Commit what was staged. */
int
store_commit(struct store *s, char *err, size_t errlen)
{
    return s->ops->commit(s, err, errlen);
}

/* Close the store (staged, uncommitted changes are dropped). */
void
store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}
