/* store.c: where bookings outlive the process: the backend-neutral calls. */
#include "store.h"

#include <stdio.h>
#include <string.h>

/* The backends, by enum store_kind. */
static const struct store_ops *const store_backends[] = {
    [STORE_MEMORY] = &store_memory_ops,
    [STORE_SQLITE] = &store_sqlite_ops,
    [STORE_POSTGRESQL] = &store_pg_ops,
};

/* Open the store of the backend params name. */
struct store *
store_open(const struct store_params *params, char *err, size_t errlen)
{
    if ((size_t)params->kind >= sizeof store_backends / sizeof store_backends[0]) {
        snprintf(err, errlen, "unknown store backend %d", (int)params->kind);
        return NULL;
    }
    return store_backends[params->kind]->open(params, err, errlen);
}

/* Copy at most size - 1 bytes of src into dst. */
static void
store_copy(char *dst, size_t size, const char *src)
{
    size_t n = src != NULL ? strnlen(src, size - 1) : 0;

    memcpy(dst, src != NULL ? src : "", n);
    dst[n] = '\0';
}

/* Fill a booking op. */
void
store_op_put(struct store_op *op, const struct store_booking *b, void *arg)
{
    memset(op, 0, sizeof *op);
    op->put = 1;
    op->index = b->index;
    store_copy(op->user, sizeof op->user, b->user);
    store_copy(op->day, sizeof op->day, b->day);
    store_copy(op->time, sizeof op->time, b->time);
    store_copy(op->doctor, sizeof op->doctor, b->doctor);
    op->port = b->port;
    op->arg = arg;
}

/* Fill a removal op. */
void
store_op_del(struct store_op *op, uint32_t index, void *arg)
{
    memset(op, 0, sizeof *op);
    op->index = index;
    op->arg = arg;
}

/* Call fn for every stored booking. */
int
store_load(struct store *s, int (*fn)(void *, const struct store_booking *), void *arg, char *err,
           size_t errlen)
{
    return s->ops->load(s, fn, arg, err, errlen);
}

/* The backend's name. */
const char *
store_name(const struct store *s)
{
    return s->ops->name;
}

/* Whether the store is shared. */
int
store_shared(const struct store *s)
{
    return s->ops->attach != NULL;
}

/* Whether write blocks. */
int
store_blocking(const struct store *s)
{
    return s->ops->blocking;
}

/* Write a batch in one transaction. */
enum store_status
store_write(struct store *s, struct store_op *ops, size_t n, char *err, size_t errlen)
{
    return s->ops->write(s, ops, n, err, errlen);
}

/* Close the store. */
void
store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}
