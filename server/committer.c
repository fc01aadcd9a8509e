/* committer.c: writes the bookings store in batches, so the event loop never waits on it. */
#include "committer.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#define COMMITTER_RETRY_FIRST_MS 50 /* first pause after a transient failure ... */
#define COMMITTER_RETRY_MAX_MS 2000 /* ... doubling up to this */

/* A list of changes written in one transaction. */
struct committer_batch {
    struct store_op *ops;
    size_t n, cap;
};

struct committer {
    struct store *store;
    committer_done_fn *done;
    void *arg;
    struct committer_batch staged; /* loop only */
    struct committer_batch flight; /* being written */
    int busy;                      /* loop only: flight is being written or waits to be again */
    unsigned retry_ms;             /* loop only: pause before the next attempt, 0 when none */
    struct event *retry_ev;
    int loop; /* the store is driven by the loop (submit): no thread */

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int work;                 /* under mu: flight waits for the thread */
    int stop;                 /* under mu: the thread should end */
    enum store_status result; /* under mu: of the last batch */
    char err[512];            /* under mu */
    int wake[2];              /* the thread writes a byte when a batch is done */
    struct event *wake_ev;
};

/* Add a copy of an op to a batch. */
static int
committer_add(struct committer_batch *b, const struct store_op *op)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct store_op *ops = realloc(b->ops, cap * sizeof *ops);
        if (ops == NULL)
            return -1;
        b->ops = ops;
        b->cap = cap;
    }
    b->ops[b->n] = *op;
    b->ops[b->n].refused = 0;
    b->n++;
    return 0;
}

/* The thread: write each batch it is given, then wake the loop. */
static void *
committer_thread(void *arg)
{
    struct committer *cm = arg;
    char err[512], byte = 1;
    enum store_status rc;

    pthread_mutex_lock(&cm->mu);
    for (;;) {
        while (!cm->work && !cm->stop)
            pthread_cond_wait(&cm->cv, &cm->mu);
        if (!cm->work)
            break;
        pthread_mutex_unlock(&cm->mu);
        err[0] = '\0';
        rc = store_write(cm->store, cm->flight.ops, cm->flight.n, err, sizeof err);
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

static void committer_finished(struct committer *cm, enum store_status status, const char *err);

/* A loop-driven store wrote the batch in flight, or failed to. */
static void
committer_submitted(void *arg, enum store_status status, const char *err)
{
    struct committer *cm = arg;

    cm->result = status;
    committer_finished(cm, status, err != NULL ? err : "");
}

/* Hand the batch in flight to the store's submit, or to the thread. */
static void
committer_start(struct committer *cm)
{
    if (cm->loop) {
        cm->store->ops->submit(cm->store, cm->flight.ops, cm->flight.n, committer_submitted, cm);
        return;
    }
    pthread_mutex_lock(&cm->mu);
    cm->work = 1;
    pthread_cond_signal(&cm->cv);
    pthread_mutex_unlock(&cm->mu);
}

/* The batch in flight is written, or failed: answer, or try again later (on the loop). */
static void
committer_finished(struct committer *cm, enum store_status status, const char *err)
{
    struct timeval tv;
    size_t n;

    if (status == STORE_TRANSIENT) {
        if (cm->retry_ms == 0) {
            log_warnx("%s; changes wait, and new ones are refused, until it is written", err);
            cm->retry_ms = COMMITTER_RETRY_FIRST_MS;
        } else if ((cm->retry_ms *= 2) > COMMITTER_RETRY_MAX_MS) {
            cm->retry_ms = COMMITTER_RETRY_MAX_MS;
        }
        tv.tv_sec = cm->retry_ms / 1000;
        tv.tv_usec = (cm->retry_ms % 1000) * 1000;
        evtimer_add(cm->retry_ev, &tv);
        return;
    }
    if (cm->retry_ms != 0 && status == STORE_OK)
        log_info("store available again");
    cm->retry_ms = 0;
    cm->busy = 0;
    n = cm->flight.n;
    cm->flight.n = 0;
    /* done may stage and flush the next batch once it has gone through these ops. */
    cm->done(cm->arg, status, err, cm->flight.ops, n);
}

/* The pause after a transient failure is over: write the same batch again. */
static void
committer_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    committer_start(arg);
}

/* The thread wrote a batch (its byte arrived). */
static void
committer_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct committer *cm = arg;
    char buf[64], err[512];
    enum store_status result;
    int work;

    (void)what;
    while (read(fd, buf, sizeof buf) > 0)
        ;
    pthread_mutex_lock(&cm->mu);
    work = cm->work;
    result = cm->result;
    memcpy(err, cm->err, sizeof err);
    pthread_mutex_unlock(&cm->mu);
    if (work || !cm->busy)
        return;
    committer_finished(cm, result, err);
}

/* Start the thread. */
struct committer *
committer_new(struct event_base *base, struct store *store, committer_done_fn *done, void *arg,
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
    if (store->ops->submit != NULL) {
        /* The store reports on the loop itself. */
        cm->loop = 1;
        if ((cm->retry_ev = evtimer_new(base, committer_retry_cb, cm)) == NULL) {
            snprintf(err, errlen, "cannot set up the store's writer: %s", strerror(errno));
            free(cm);
            return NULL;
        }
        return cm;
    }
    if ((cm->retry_ev = evtimer_new(base, committer_retry_cb, cm)) == NULL ||
        pipe(cm->wake) == -1 || fcntl(cm->wake[0], F_SETFL, O_NONBLOCK) == -1 ||
        fcntl(cm->wake[0], F_SETFD, FD_CLOEXEC) == -1 ||
        fcntl(cm->wake[1], F_SETFD, FD_CLOEXEC) == -1 ||
        (cm->wake_ev = event_new(base, cm->wake[0], EV_READ | EV_PERSIST, committer_wake_cb, cm)) ==
            NULL ||
        event_add(cm->wake_ev, NULL) == -1) {
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
    if (cm->wake_ev != NULL)
        event_free(cm->wake_ev);
    if (cm->retry_ev != NULL)
        event_free(cm->retry_ev);
    if (cm->wake[0] != -1)
        close(cm->wake[0]);
    if (cm->wake[1] != -1)
        close(cm->wake[1]);
    free(cm);
    return NULL;
}

/* Stage one change. */
int
committer_stage(struct committer *cm, const struct store_op *op)
{
    return committer_add(&cm->staged, op);
}

/* Hand the staged changes over, unless a batch is being written. */
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
    committer_start(cm);
    return 1;
}

/* Whether the store takes changes now. */
int
committer_available(const struct committer *cm)
{
    return cm->retry_ms == 0 &&
           (cm->store->ops->available == NULL || cm->store->ops->available(cm->store));
}

/* Clear arg from every op that carries it. */
static void
committer_forget_in(struct committer_batch *b, void *arg)
{
    size_t i;

    for (i = 0; i < b->n; i++)
        if (b->ops[i].arg == arg)
            b->ops[i].arg = NULL;
}

/* The owner of arg is gone: its ops are still written, but nobody is told. */
void
committer_forget(struct committer *cm, void *arg)
{
    if (cm == NULL)
        return;
    committer_forget_in(&cm->staged, arg);
    committer_forget_in(&cm->flight, arg);
}

/* Write one batch at shutdown, on this thread. */
static void
committer_write_now(struct committer *cm, struct committer_batch *b)
{
    char err[512] = "";

    if (b->n > 0 && store_write(cm->store, b->ops, b->n, err, sizeof err) != STORE_OK)
        log_warnx("%s", err);
    b->n = 0;
}

/* Finish writing, stop the thread, and write what was staged last, on this thread. */
void
committer_free(struct committer *cm)
{
    int again;

    if (cm == NULL)
        return;
    if (cm->loop) {
        /* The store finishes the batch in flight when it closes; the staged one is written
         * now, on this thread, unless the store cannot take it. */
        if (cm->busy && cm->result == STORE_TRANSIENT)
            committer_write_now(cm, &cm->flight);
        committer_write_now(cm, &cm->staged);
        event_free(cm->retry_ev);
        free(cm->staged.ops);
        free(cm->flight.ops);
        free(cm);
        return;
    }
    /* The thread finishes the batch it was given before it stops. */
    pthread_mutex_lock(&cm->mu);
    cm->stop = 1;
    pthread_cond_signal(&cm->cv);
    pthread_mutex_unlock(&cm->mu);
    pthread_join(cm->thread, NULL);
    /* The bookings were made; their patients were not told yet, but the
     * changes are kept: a batch that failed and waits to be written again,
     * then the staged one. */
    again = cm->busy && cm->result != STORE_OK;
    if (again)
        committer_write_now(cm, &cm->flight);
    committer_write_now(cm, &cm->staged);
    event_free(cm->wake_ev);
    event_free(cm->retry_ev);
    close(cm->wake[0]);
    close(cm->wake[1]);
    pthread_cond_destroy(&cm->cv);
    pthread_mutex_destroy(&cm->mu);
    free(cm->staged.ops);
    free(cm->flight.ops);
    free(cm);
}
