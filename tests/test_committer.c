/* test_committer.c: the store's writer thread, and the loop-driven path, against scripted
 * backends on a real event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "committer.h"
#include "store.h"

#define SCRIPT_MAX 8

/* A blocking backend whose writes go as scripted: one status per call, then STORE_OK. */
struct fake {
    struct store base;
    pthread_mutex_t mu;
    enum store_status script[SCRIPT_MAX];
    size_t nscript, calls;
    size_t written;        /* ops of every successful write */
    uint32_t refuse_index; /* a put of this slot is refused */
    pthread_t writer;      /* thread of the last write */
};

/* Write a batch as the script says (on the committer's thread). */
static enum store_status
fake_write(struct store *base, struct store_op *ops, size_t n, char *err, size_t errlen)
{
    struct fake *f = (struct fake *)base;
    enum store_status st;
    size_t i;

    pthread_mutex_lock(&f->mu);
    st = f->calls < f->nscript ? f->script[f->calls] : STORE_OK;
    f->calls++;
    f->writer = pthread_self();
    if (st == STORE_OK) {
        for (i = 0; i < n; i++)
            ops[i].refused = ops[i].put && ops[i].index == f->refuse_index;
        f->written += n;
    }
    pthread_mutex_unlock(&f->mu);
    if (st != STORE_OK)
        snprintf(err, errlen, "fake: %s", st == STORE_TRANSIENT ? "busy" : "disk on fire");
    return st;
}

static const struct store_ops fake_ops = {
    .name = "fake",
    .write = fake_write,
    .blocking = 1,
};

/* Stage a booking (put) or a removal of index by user, carrying arg. */
static int
stage(struct committer *cm, int put, const char *user, uint32_t index, void *arg)
{
    struct store_booking b = {index, user, "Mon", "9am", "doc", 41000};
    struct store_op op;

    if (put)
        store_op_put(&op, &b, arg);
    else
        store_op_del(&op, index, arg);
    return committer_stage(cm, &op);
}

/* What the done callback saw. */
struct seen {
    int calls;
    enum store_status status;
    char err[128];
    size_t n;
    int refused[16];
    void *args[16];
};

/* Everything one test uses. */
struct fixture {
    struct event_base *base;
    struct fake fake;
    struct committer *cm;
    struct seen seen;
};

/* committer done callback: note what came back. */
static void
seen_done(void *arg, enum store_status status, const char *err, struct store_op *ops, size_t n)
{
    struct seen *s = arg;
    size_t i;

    s->calls++;
    s->status = status;
    snprintf(s->err, sizeof s->err, "%s", err != NULL ? err : "");
    s->n = n;
    for (i = 0; i < n && i < 16; i++) {
        s->refused[i] = ops[i].refused;
        s->args[i] = ops[i].arg;
    }
}

/* A loop, the fake store and a committer. */
static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];

    assert_non_null(f);
    assert_non_null(f->base = event_base_new());
    f->fake.base.ops = &fake_ops;
    pthread_mutex_init(&f->fake.mu, NULL);
    f->cm = committer_new(f->base, &f->fake.base, seen_done, &f->seen, err, sizeof err);
    if (f->cm == NULL)
        fail_msg("committer_new: %s", err);
    *state = f;
    return 0;
}

/* Free the committer (if the test has not), the loop and the fixture. */
static int
teardown(void **state)
{
    struct fixture *f = *state;

    committer_free(f->cm);
    event_base_free(f->base);
    pthread_mutex_destroy(&f->fake.mu);
    free(f);
    return 0;
}

/* Run the loop until done has been called calls times, or fail after 5 s. */
static void
run_until(struct fixture *f, int calls)
{
    struct timeval tick = {0, 10000};
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (f->seen.calls < calls) {
        event_base_loopexit(f->base, &tick);
        event_base_loop(f->base, EVLOOP_ONCE);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 5)
            fail_msg("done was called %d times, not %d, within 5 s", f->seen.calls, calls);
    }
}

/* Run the loop until the committer says it is unavailable, or fail after 5 s. */
static void
run_until_unavailable(struct fixture *f)
{
    struct timeval tick = {0, 10000};
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    while (committer_available(f->cm)) {
        event_base_loopexit(f->base, &tick);
        event_base_loop(f->base, EVLOOP_ONCE);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 5)
            fail_msg("the committer stayed available after a transient failure (done called %d "
                     "times)",
                     f->seen.calls);
    }
}

/* A batch is written off the loop's thread; each op comes back with its arg and outcome. */
static void
test_batch_written(void **state)
{
    struct fixture *f = *state;
    int a, b, c;

    f->fake.refuse_index = 7;
    assert_int_equal(stage(f->cm, 1, "alice", 5, &a), 0);
    assert_int_equal(stage(f->cm, 1, "bob", 7, &b), 0);
    assert_int_equal(stage(f->cm, 0, NULL, 9, &c), 0);
    assert_int_equal(committer_flush(f->cm), 1);
    assert_int_equal(committer_flush(f->cm), 0); /* one batch at a time */
    run_until(f, 1);
    assert_int_equal(f->seen.status, STORE_OK);
    assert_int_equal(f->seen.n, 3);
    assert_ptr_equal(f->seen.args[0], &a);
    assert_ptr_equal(f->seen.args[1], &b);
    assert_ptr_equal(f->seen.args[2], &c);
    assert_int_equal(f->seen.refused[0], 0);
    assert_int_equal(f->seen.refused[1], 1);
    assert_int_equal(f->seen.refused[2], 0);
    assert_false(pthread_equal(f->fake.writer, pthread_self()));
    assert_int_equal(committer_flush(f->cm), 0); /* nothing staged */
}

/* What is staged while a batch is written forms the next batch. */
static void
test_next_batch(void **state)
{
    struct fixture *f = *state;
    int a, b;

    stage(f->cm, 1, "alice", 1, &a);
    assert_int_equal(committer_flush(f->cm), 1);
    stage(f->cm, 1, "bob", 2, &b);
    assert_int_equal(committer_flush(f->cm), 0);
    run_until(f, 1);
    assert_int_equal(f->seen.n, 1);
    assert_int_equal(committer_flush(f->cm), 1);
    run_until(f, 2);
    assert_int_equal(f->seen.n, 1);
    assert_ptr_equal(f->seen.args[0], &b);
}

/*
 * A transient failure: the same batch is written again after a pause,
 * nobody is answered meanwhile, and the committer says it is unavailable
 * until the batch is written.
 */
static void
test_transient_retried(void **state)
{
    struct fixture *f = *state;
    int a;

    f->fake.script[0] = STORE_TRANSIENT;
    f->fake.script[1] = STORE_TRANSIENT;
    f->fake.nscript = 2;
    assert_int_equal(committer_available(f->cm), 1);
    stage(f->cm, 1, "alice", 1, &a);
    committer_flush(f->cm);
    run_until_unavailable(f);
    assert_int_equal(f->seen.calls, 0);
    run_until(f, 1);
    assert_int_equal(f->seen.status, STORE_OK);
    assert_int_equal(f->fake.calls, 3);
    assert_int_equal(f->fake.written, 1);
    assert_ptr_equal(f->seen.args[0], &a);
    assert_int_equal(committer_available(f->cm), 1);
}

/* A fatal failure is handed to done with the store's message, once. */
static void
test_fatal_reported(void **state)
{
    struct fixture *f = *state;

    f->fake.script[0] = STORE_FATAL;
    f->fake.nscript = 1;
    stage(f->cm, 1, "alice", 1, NULL);
    committer_flush(f->cm);
    run_until(f, 1);
    assert_int_equal(f->seen.status, STORE_FATAL);
    assert_string_equal(f->seen.err, "fake: disk on fire");
    assert_int_equal(f->fake.written, 0);
}

/* An owner that goes away is forgotten: its op is still written, its arg cleared. */
static void
test_forget(void **state)
{
    struct fixture *f = *state;
    int a, b;

    stage(f->cm, 1, "alice", 1, &a);
    stage(f->cm, 1, "bob", 2, &b);
    committer_flush(f->cm);
    committer_forget(f->cm, &a);
    run_until(f, 1);
    assert_int_equal(f->seen.n, 2);
    assert_null(f->seen.args[0]);
    assert_ptr_equal(f->seen.args[1], &b);
}

/*
 * At shutdown, the batch in flight and what was staged after it are
 * written, and a batch waiting for a retry is written once more.
 */
static void
test_free_writes_the_rest(void **state)
{
    struct fixture *f = *state;

    f->fake.script[0] = STORE_TRANSIENT;
    f->fake.nscript = 1;
    stage(f->cm, 1, "alice", 1, NULL);
    committer_flush(f->cm);
    run_until_unavailable(f);
    stage(f->cm, 1, "bob", 2, NULL);
    stage(f->cm, 1, "carol", 3, NULL);
    committer_free(f->cm);
    f->cm = NULL;
    assert_int_equal(f->fake.written, 3);
    assert_int_equal(f->seen.calls, 0); /* nobody is answered after the end */
}

/* A backend driven by the loop (as PostgreSQL): submit answers on the loop, as scripted. */
struct loopfake {
    struct store base;
    struct event *ev; /* fires the answer of the batch submitted */
    store_done_fn *done;
    void *arg;
    struct store_op *ops;
    size_t n;
    enum store_status script[SCRIPT_MAX];
    size_t nscript, calls, written, sync_written;
    int up; /* what available says */
    pthread_t writer;
};

/* The answer to the batch submitted, on the loop. */
static void
loopfake_answer(evutil_socket_t fd, short what, void *arg)
{
    struct loopfake *f = arg;
    enum store_status st = f->calls < f->nscript ? f->script[f->calls] : STORE_OK;

    (void)fd;
    (void)what;
    f->calls++;
    f->writer = pthread_self();
    if (st == STORE_OK)
        f->written += f->n;
    f->done(f->arg, st, st == STORE_OK ? NULL : "loopfake: gone");
}

/* Take a batch; answer it on the next loop pass. */
static void
loopfake_submit(struct store *base, struct store_op *ops, size_t n, store_done_fn *done, void *arg)
{
    struct loopfake *f = (struct loopfake *)base;
    struct timeval now = {0, 0};

    f->ops = ops;
    f->n = n;
    f->done = done;
    f->arg = arg;
    evtimer_add(f->ev, &now);
}

/* Whether the fake is "connected". */
static int
loopfake_available(const struct store *base)
{
    return ((const struct loopfake *)base)->up;
}

/* The write of the last batch at shutdown. */
static enum store_status
loopfake_write(struct store *base, struct store_op *ops, size_t n, char *err, size_t errlen)
{
    (void)ops;
    (void)err;
    (void)errlen;
    ((struct loopfake *)base)->sync_written += n;
    return STORE_OK;
}

static const struct store_ops loopfake_ops = {
    .name = "loopfake",
    .write = loopfake_write,
    .blocking = 1,
    .submit = loopfake_submit,
    .available = loopfake_available,
};

/*
 * A loop-driven store: no thread; the batch goes to submit and its answer
 * comes back on the loop's thread; a transient failure is submitted again
 * after the pause; the committer is unavailable while the store says so;
 * at shutdown what was staged is written with write.
 */
static void
test_loop_driven(void **state)
{
    struct fixture *f = *state;
    struct loopfake lf;
    struct committer *cm;
    char err[256];
    int a, b;

    memset(&lf, 0, sizeof lf);
    lf.base.ops = &loopfake_ops;
    lf.up = 1;
    lf.script[0] = STORE_TRANSIENT;
    lf.nscript = 1;
    assert_non_null(lf.ev = evtimer_new(f->base, loopfake_answer, &lf));
    cm = committer_new(f->base, &lf.base, seen_done, &f->seen, err, sizeof err);
    assert_non_null(cm);
    stage(cm, 1, "alice", 1, &a);
    assert_int_equal(committer_flush(cm), 1);
    assert_int_equal(committer_available(cm), 1);
    run_until(f, 1);
    assert_int_equal(lf.calls, 2); /* the transient failure, then the retry */
    assert_int_equal(f->seen.status, STORE_OK);
    assert_ptr_equal(f->seen.args[0], &a);
    assert_true(pthread_equal(lf.writer, pthread_self()));
    lf.up = 0;
    assert_int_equal(committer_available(cm), 0);
    lf.up = 1;
    assert_int_equal(committer_available(cm), 1);
    stage(cm, 1, "bob", 2, &b);
    committer_free(cm);
    assert_int_equal(lf.written, 1);
    assert_int_equal(lf.sync_written, 1);
    event_free(lf.ev);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transient_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_writes_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_driven, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
