/* committer.c: a thread that writes the bookings store, so the event loop never waits on disk. */
#include "committer.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

/* One staged change. */
struct committer_op {
    int put;
    uint32_t index;
    const char *user;
};

/* A list of changes written in one transaction. */
struct committer_batch {
    struct committer_op *ops;
    size_t n, cap;
};

struct committer {
    struct store *store;
    void (*done)(void *);
    void *arg;
    struct committer_batch staged; /* loop only */
    struct committer_batch flight; /* handed to the thread */
    int busy;                      /* loop only: flight is being written */

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int work;   /* under mu: flight waits for the thread */
    int stop;   /* under mu: the thread should end */
    int result; /* under mu: 0 or -1 for the last batch */
    char err[512];

    int wake[2]; /* the thread writes a byte when a batch is done */
    struct event *ev;
};

/* Add an op to a batch. */
static int
committer_add(struct committer_batch *b, int put, const char *user, uint32_t index)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct committer_op *ops = realloc(b->ops, cap * sizeof *ops);
        if (ops == NULL)
            return -1;
        b->ops = ops;
        b->cap = cap;
    }
    b->ops[b->n].put = put;
    b->ops[b->n].user = user;
    b->ops[b->n].index = index;
    b->n++;
    return 0;
}

/* Apply a batch to the store and commit it (on the thread). */
static int
committer_write(struct committer *cm, const struct committer_batch *b, char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        const struct committer_op *op = &b->ops[i];
        int rc = op->put ? store_put(cm->store, op->user, op->index, err, errlen)
                         : store_del(cm->store, op->index, err, errlen);
        if (rc == -1)
            return -1;
    }
    return store_commit(cm->store, err, errlen);
}

/* The thread: write each batch it is given, then wake the loop. */
static void *
committer_thread(void *arg)
{
    struct committer *cm = arg;
    char err[512], byte = 1;
    int rc;

    pthread_mutex_lock(&cm->mu);
    for (;;) {
        while (!cm->work && !cm->stop)
            pthread_cond_wait(&cm->cv, &cm->mu);
        if (!cm->work)
            break;
        pthread_mutex_unlock(&cm->mu);
        err[0] = '\0';
        rc = committer_write(cm, &cm->flight, err, sizeof err);
        pthread_mutex_lock(&cm->mu);
        cm->result = rc;
        memcpy(cm->err, err, sizeof err);
        cm->work = 0;
        while (write(cm->wake[1], &byte, 1) == -1 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&cm->mu);
    return NULL;
}

/* A batch is written: tell the center (on the loop). */
static void
committer_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct committer *cm = arg;
    char buf[64];
    int result;

    (void)what;
    while (read(fd, buf, sizeof buf) > 0)
        ;
    pthread_mutex_lock(&cm->mu);
    result = cm->work ? 1 : cm->result;
    pthread_mutex_unlock(&cm->mu);
    if (result == 1 || !cm->busy)
        return;
    /* Nothing may be answered that is not on disk: there is no safe way on,
     * and a restart rebuilds the schedule from what is. */
    if (result == -1)
        fatalx("%s", cm->err);
    cm->busy = 0;
    cm->flight.n = 0;
    cm->done(cm->arg);
}

/* Start the thread. */
struct committer *
committer_new(struct event_base *base, struct store *store, void (*done)(void *arg), void *arg,
              char *err, size_t errlen)
{
    struct committer *cm = calloc(1, sizeof *cm);
    sigset_t all, old;
    int rc;

    if (cm == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cm->store = store;
    cm->done = done;
    cm->arg = arg;
    cm->wake[0] = cm->wake[1] = -1;
    if (pipe(cm->wake) == -1 || fcntl(cm->wake[0], F_SETFL, O_NONBLOCK) == -1 ||
        fcntl(cm->wake[0], F_SETFD, FD_CLOEXEC) == -1 ||
        fcntl(cm->wake[1], F_SETFD, FD_CLOEXEC) == -1 ||
        (cm->ev = event_new(base, cm->wake[0], EV_READ | EV_PERSIST, committer_wake_cb, cm)) ==
            NULL ||
        event_add(cm->ev, NULL) == -1) {
        snprintf(err, errlen, "cannot set up the store's writer: %s", strerror(errno));
        goto fail;
    }
    pthread_mutex_init(&cm->mu, NULL);
    pthread_cond_init(&cm->cv, NULL);
    /* Signals belong to the loop: the thread blocks them all. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&cm->thread, NULL, committer_thread, cm);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the store's writer: %s", strerror(rc));
        pthread_cond_destroy(&cm->cv);
        pthread_mutex_destroy(&cm->mu);
        goto fail;
    }
    return cm;
fail:
    if (cm->ev != NULL)
        event_free(cm->ev);
    if (cm->wake[0] != -1)
        close(cm->wake[0]);
    if (cm->wake[1] != -1)
        close(cm->wake[1]);
    free(cm);
    return NULL;
}

/* Stage one change. */
int
committer_stage(struct committer *cm, int put, const char *user, uint32_t index)
{
    return committer_add(&cm->staged, put, user, index);
}

/* Hand the staged changes to the thread, unless it is writing. */
int
committer_flush(struct committer *cm)
{
    struct committer_batch tmp;

    if (cm->busy || cm->staged.n == 0)
        return 0;
    tmp = cm->flight;
    cm->flight = cm->staged;
    cm->staged = tmp;
    cm->staged.n = 0;
    cm->busy = 1;
    pthread_mutex_lock(&cm->mu);
    cm->work = 1;
    pthread_cond_signal(&cm->cv);
    pthread_mutex_unlock(&cm->mu);
    return 1;
}

/* Finish writing, stop the thread, and write what was staged last, on this thread. */
void
committer_free(struct committer *cm)
{
    char err[512];

    if (cm == NULL)
        return;
    pthread_mutex_lock(&cm->mu);
    cm->stop = 1;
    pthread_cond_signal(&cm->cv);
    pthread_mutex_unlock(&cm->mu);
    pthread_join(cm->thread, NULL);
    /* The bookings were made; their patients were not told yet, but the
     * changes are kept. */
    if (cm->staged.n > 0 && committer_write(cm, &cm->staged, err, sizeof err) == -1)
        log_warnx("%s", err);
    event_free(cm->ev);
    close(cm->wake[0]);
    close(cm->wake[1]);
    pthread_cond_destroy(&cm->cv);
    pthread_mutex_destroy(&cm->mu);
    free(cm->staged.ops);
    free(cm->flight.ops);
    free(cm);
}
