/* committer.h: writes the bookings store in batches, so the event loop never waits on it. */
#ifndef HCS_COMMITTER_H
#define HCS_COMMITTER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct event_base;
struct committer;

/*
 * The batch in ops[0..n) is written (STORE_OK: each op's refused says
 * whether the store took it) or can never be (STORE_FATAL, with a message).
 * Runs on the loop.
 */
typedef void committer_done_fn(void *arg, enum store_status status, const char *err,
                               struct store_op *ops, size_t n);

/*
 * The loop stages changes (committer_stage) and sends them as one batch
 * (committer_flush); the batch is written in one transaction on a thread of
 * the committer's own (for a store whose writes block), then done runs on
 * the loop.
 * One batch is written at a time: what is staged meanwhile forms the next
 * one. A batch that fails for a moment (STORE_TRANSIENT) is written again,
 * unchanged, after a growing pause, and while it waits the committer is
 * unavailable (committer_available) so that new changes can be refused.
 */
struct committer *committer_new(struct event_base *base, struct store *store,
                                committer_done_fn *done, void *arg, char *err, size_t errlen);
/* Stage a copy of a change (see store_op_put, store_op_del); op->arg comes back with it. */
int committer_stage(struct committer *cm, const struct store_op *op);
/* Send the staged changes if no batch is being written. 1 if sent, else 0. */
int committer_flush(struct committer *cm);
/* 0 while a batch waits to be written again after a transient failure, else 1. */
int committer_available(const struct committer *cm);
/* Forget the arg of every staged or in-flight op that carries arg (its owner is gone). */
void committer_forget(struct committer *cm, void *arg);
/* Write what is in flight and staged, stop the thread, free everything. */
void committer_free(struct committer *cm);

#endif
