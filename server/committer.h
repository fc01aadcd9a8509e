/* committer.h: a thread that writes the bookings store, so the event loop never waits on disk. */
#ifndef HCS_COMMITTER_H
#define HCS_COMMITTER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;
struct committer;

/*
 * The loop stages changes (committer_stage) and sends them as one batch
 * (committer_flush); the thread applies the batch to the store in one
 * transaction and commits it, then done(arg) runs on the loop. One batch is
 * written at a time: what is staged meanwhile forms the next one.
 */
struct committer *committer_new(struct event_base *base, struct store *store,
                                void (*done)(void *arg), void *arg, char *err, size_t errlen);
/* Stage a booking of index by user (put) or its removal. user must outlive the batch. */
int committer_stage(struct committer *cm, int put, const char *user, uint32_t index);
/* Send the staged changes if no batch is being written. 1 if sent, else 0. */
int committer_flush(struct committer *cm);
/* Write what is in flight and staged, stop the thread, free everything. */
void committer_free(struct committer *cm);

#endif
