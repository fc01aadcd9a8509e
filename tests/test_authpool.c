/* test_authpool.c: password checks on worker threads, delivered on a real event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "authpool.h"

#define NJOBS 400

/* The loop and pool under test. */
struct fixture {
    struct event_base *base;
    struct authpool *pool;
};

/* What one job reported. */
struct answer {
    int calls;
    int ok;
    int expect; /* the right answer, or -1 when the job is cancelled */
    struct authpool_job *job;
    int *order; /* where to record the position of this answer, if not NULL */
};

static int answers;        /* done callbacks so far, in every test */
static int order_next;     /* sequence numbers for the ordering test */
static int timed_out;      /* the safety deadline of run_until passed */
static struct answer *all; /* the jobs of test_cancel_random, for its callbacks */
static unsigned rng = 12345;

/* A small deterministic random number generator. */
static unsigned
test_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 16) & 0x7fff;
}

/* Hash password with a fresh setting for prefix and count into out. */
static void
make_hash(const char *prefix, unsigned long count, const char *password, char *out, size_t outlen)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *h;

    assert_non_null(cd);
    assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, setting, (int)sizeof setting));
    h = crypt_rn(password, setting, cd, (int)sizeof *cd);
    assert_non_null(h);
    assert_true(strlen(h) < outlen);
    strcpy(out, h);
    free(cd);
}

/* done callback: record the answer. */
static void
on_done(void *arg, int ok)
{
    struct answer *a = arg;

    a->calls++;
    a->ok = ok;
    a->job = NULL;
    if (a->order != NULL)
        *a->order = order_next++;
    answers++;
}

/* Safety deadline: a test that would hang fails instead. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    timed_out = 1;
}

/* Run the loop until target answers have arrived (or 30 s passed). */
static void
run_until(struct event_base *base, int target)
{
    struct timeval tv = {30, 0};
    struct event *deadline = evtimer_new(base, on_deadline, NULL);

    assert_non_null(deadline);
    timed_out = 0;
    evtimer_add(deadline, &tv);
    while (answers < target && !timed_out)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(deadline);
    assert_false(timed_out);
}

static int
setup(void **state)
{
    static struct fixture f;
    char err[256];

    f.base = event_base_new();
    assert_non_null(f.base);
    f.pool = authpool_new(f.base, 2, err, sizeof err);
    assert_non_null(f.pool);
    answers = 0;
    order_next = 0;
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    authpool_free(f->pool);
    event_base_free(f->base);
    return 0;
}

static void
test_right_and_wrong_password(void **state)
{
    struct fixture *f = *state;
    char hash[CRYPT_OUTPUT_SIZE];
    struct answer right = {0}, wrong = {0}, prefix = {0}, empty = {0};

    make_hash("$y$", 1, "s3cret", hash, sizeof hash);
    assert_non_null(authpool_check(f->pool, hash, "s3cret", 6, on_done, &right));
    assert_non_null(authpool_check(f->pool, hash, "s3creT", 6, on_done, &wrong));
    assert_non_null(authpool_check(f->pool, hash, "s3cret!", 6, on_done, &prefix));
    assert_non_null(authpool_check(f->pool, hash, "", 0, on_done, &empty));
    assert_int_equal(answers, 0); /* never answered before the loop runs */
    run_until(f->base, 4);
    assert_int_equal(right.calls, 1);
    assert_int_equal(right.ok, 1);
    assert_int_equal(wrong.calls, 1);
    assert_int_equal(wrong.ok, 0);
    assert_int_equal(prefix.calls, 1); /* passlen 6: "s3cret" */
    assert_int_equal(prefix.ok, 1);
    assert_int_equal(empty.calls, 1);
    assert_int_equal(empty.ok, 0);
}

static void
test_other_methods(void **state)
{
    struct fixture *f = *state;
    char sha512[CRYPT_OUTPUT_SIZE], bcrypt[CRYPT_OUTPUT_SIZE];
    struct answer a[4] = {{0}};

    make_hash("$6$", 1000, "pässwörd", sha512, sizeof sha512);
    make_hash("$2b$", 4, "pässwörd", bcrypt, sizeof bcrypt);
    assert_memory_equal(sha512, "$6$", 3);
    assert_non_null(
        authpool_check(f->pool, sha512, "pässwörd", strlen("pässwörd"), on_done, &a[0]));
    assert_non_null(authpool_check(f->pool, sha512, "password", 8, on_done, &a[1]));
    assert_non_null(
        authpool_check(f->pool, bcrypt, "pässwörd", strlen("pässwörd"), on_done, &a[2]));
    assert_non_null(authpool_check(f->pool, bcrypt, "password", 8, on_done, &a[3]));
    run_until(f->base, 4);
    assert_int_equal(a[0].ok, 1);
    assert_int_equal(a[1].ok, 0);
    assert_int_equal(a[2].ok, 1);
    assert_int_equal(a[3].ok, 0);
}

static void
test_unusable_hash_and_nul_password(void **state)
{
    struct fixture *f = *state;
    char hash[CRYPT_OUTPUT_SIZE];
    struct answer a[4] = {{0}};

    make_hash("$y$", 1, "ab", hash, sizeof hash);
    assert_non_null(authpool_check(f->pool, "ab", "ab", 2, on_done, &a[0])); /* clear text */
    assert_non_null(authpool_check(f->pool, "", "", 0, on_done, &a[1]));
    assert_non_null(authpool_check(f->pool, "$y$", "x", 1, on_done, &a[2]));
    /* "ab\0c": crypt would see "ab", which must not count as a match */
    assert_non_null(authpool_check(f->pool, hash, "ab\0c", 4, on_done, &a[3]));
    run_until(f->base, 4);
    assert_int_equal(a[0].ok, 0);
    assert_int_equal(a[1].ok, 0);
    assert_int_equal(a[2].ok, 0);
    assert_int_equal(a[3].ok, 0);
}

static void
test_many_concurrent_jobs(void **state)
{
    struct fixture *f = *state;
    char y[CRYPT_OUTPUT_SIZE], six[CRYPT_OUTPUT_SIZE];
    static struct answer a[NJOBS];
    int i;

    make_hash("$y$", 1, "alpha", y, sizeof y);
    make_hash("$6$", 1000, "beta", six, sizeof six);
    memset(a, 0, sizeof a);
    for (i = 0; i < NJOBS; i++) {
        const char *hash = i % 2 ? six : y;
        const char *pw = (i % 3 == 0) ? "wrong" : (i % 2 ? "beta" : "alpha");
        a[i].expect = i % 3 != 0;
        assert_non_null(authpool_check(f->pool, hash, pw, strlen(pw), on_done, &a[i]));
    }
    run_until(f->base, NJOBS);
    for (i = 0; i < NJOBS; i++) {
        assert_int_equal(a[i].calls, 1);
        assert_int_equal(a[i].ok, a[i].expect);
    }
    /* Nothing more arrives later. */
    assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
    assert_int_equal(answers, NJOBS);
}

static void
test_cancel_queued(void **state)
{
    struct fixture *f = *state;
    char hash[CRYPT_OUTPUT_SIZE];
    struct answer a[3] = {{0}};
    struct authpool_job *job;

    make_hash("$y$", 1, "pw", hash, sizeof hash);
    assert_non_null(authpool_check(f->pool, hash, "pw", 2, on_done, &a[0]));
    job = authpool_check(f->pool, hash, "pw", 2, on_done, &a[1]);
    assert_non_null(job);
    authpool_cancel(job);
    authpool_cancel(NULL);
    assert_non_null(authpool_check(f->pool, hash, "pw", 2, on_done, &a[2]));
    run_until(f->base, 2);
    assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
    assert_int_equal(a[0].calls, 1);
    assert_int_equal(a[1].calls, 0);
    assert_int_equal(a[2].calls, 1);
    assert_int_equal(answers, 2);
}

/* A cancelled job that was still queued is never checked: crypt does not run for it. */
static void
test_cancel_queued_never_runs(void **state)
{
    enum { N = 50 };
    char err[128];
    struct event_base *base = event_base_new();
    struct authpool *pool;
    char slow[CRYPT_OUTPUT_SIZE];
    struct answer a[N];
    int i;

    (void)state;
    memset(a, 0, sizeof a);
    assert_non_null(base);
    pool = authpool_new(base, 1, err, sizeof err);
    assert_non_null(pool);
    make_hash("$6$", 200000, "pw", slow, sizeof slow);
    /* One worker: the first job runs (some 50 ms), the others wait behind it; all but the
     * first and the last are cancelled. */
    for (i = 0; i < N; i++)
        assert_non_null(a[i].job = authpool_check(pool, slow, "pw", 2, on_done, &a[i]));
    for (i = 1; i < N - 1; i++)
        authpool_cancel(a[i].job);
    /* The last one, kept, is checked after every job before it that still runs. */
    answers = 0;
    run_until(base, 2);
    assert_int_equal(a[0].calls, 1);
    assert_int_equal(a[N - 1].calls, 1);
    for (i = 1; i < N - 1; i++)
        assert_int_equal(a[i].calls, 0);
    /* Only those two ran, and perhaps the one a worker had already taken. */
    assert_true(authpool_ran(pool) <= 3);
    authpool_free(pool);
    event_base_free(base);
}

/* The setting of a hash (method and cost) and the time one check of it takes. */
static void
test_setting_and_cost(void **state)
{
    char cheap[CRYPT_OUTPUT_SIZE], costly[CRYPT_OUTPUT_SIZE];

    (void)state;
    assert_int_equal(authpool_setting_len("$6$rounds=5000$salt$sum"), 15);
    assert_int_equal(authpool_setting_len("$6$salt$sum"), 3);
    assert_int_equal(authpool_setting_len("$y$j9T$salt$sum"), 7);
    assert_int_equal(authpool_setting_len("$2b$12$0123456789012345678901234567890123456789"
                                          "012345678901"),
                     7);
    make_hash("$6$", 1000, "pw", cheap, sizeof cheap);
    make_hash("$6$", 400000, "pw", costly, sizeof costly);
    assert_true(authpool_cost(cheap) >= 0);
    assert_true(authpool_cost(costly) > authpool_cost(cheap));
    assert_true(authpool_cost("$9$no-such-method$x") == -1);
}

/* done callback that also cancels other jobs, queued, running or finished. */
static void
on_done_cancel(void *arg, int ok)
{
    struct answer *a = arg;
    int i, k;

    on_done(arg, ok);
    assert_int_not_equal(a->expect, -1);
    for (k = 0; k < 2; k++) {
        i = (int)(a - all) + 1 + (int)(test_rand() % 8);
        if (i < NJOBS && all[i].job != NULL && test_rand() % 3 == 0) {
            authpool_cancel(all[i].job);
            all[i].job = NULL;
            all[i].expect = -1;
        }
    }
}

static void
test_cancel_random(void **state)
{
    struct fixture *f = *state;
    char hash[CRYPT_OUTPUT_SIZE];
    static struct answer a[NJOBS];
    int i, live = 0;

    make_hash("$6$", 1000, "pw", hash, sizeof hash);
    memset(a, 0, sizeof a);
    all = a;
    for (i = 0; i < NJOBS; i++) {
        a[i].expect = 1;
        a[i].job = authpool_check(f->pool, hash, "pw", 2, on_done_cancel, &a[i]);
        assert_non_null(a[i].job);
        if (i > 0 && test_rand() % 5 == 0 && a[i - 1].job != NULL) {
            authpool_cancel(a[i - 1].job);
            a[i - 1].job = NULL;
            a[i - 1].expect = -1;
        }
    }
    /* Every job still held is answered; count them as the callbacks cancel more. */
    while (!timed_out) {
        for (live = 0, i = 0; i < NJOBS; i++)
            live += a[i].job != NULL;
        if (live == 0)
            break;
        run_until(f->base, answers + 1);
    }
    assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 0);
    for (live = 0, i = 0; i < NJOBS; i++) {
        if (a[i].expect == -1) {
            assert_int_equal(a[i].calls, 0);
        } else {
            assert_int_equal(a[i].calls, 1);
            assert_int_equal(a[i].ok, 1);
            live++;
        }
    }
    assert_int_equal(answers, live);
    assert_true(live < NJOBS);
    all = NULL;
}

/* done callback that must never run. */
static void
on_done_never(void *arg, int ok)
{
    (void)arg;
    (void)ok;
    fail_msg("a dropped job called back");
}

static void
test_free_with_jobs_pending(void **state)
{
    char hash[CRYPT_OUTPUT_SIZE], fast[CRYPT_OUTPUT_SIZE], err[256];
    struct event_base *base = event_base_new();
    struct authpool *pool = authpool_new(base, 3, err, sizeof err);
    int i;

    (void)state;
    assert_non_null(pool);
    make_hash("$y$", 0, "pw", hash, sizeof hash); /* default cost: still running at free */
    make_hash("$6$", 1000, "pw", fast, sizeof fast);
    for (i = 0; i < 64; i++)
        assert_non_null(authpool_check(pool, i % 4 ? fast : hash, "pw", 2, on_done_never, NULL));
    authpool_free(pool);
    event_base_free(base);
}

static void
test_queue_bound(void **state)
{
    struct fixture *f = *state;
    static struct answer a[AUTHPOOL_MAX_PENDING];
    struct authpool_job *job;
    int i;

    memset(a, 0, sizeof a);
    /* Jobs the loop has not delivered count, so the bound is exact. */
    for (i = 0; i < AUTHPOOL_MAX_PENDING; i++)
        assert_non_null(authpool_check(f->pool, "not-a-hash", "pw", 2, on_done, &a[i]));
    assert_null(authpool_check(f->pool, "not-a-hash", "pw", 2, on_done_never, NULL));
    run_until(f->base, AUTHPOOL_MAX_PENDING);
    for (i = 0; i < AUTHPOOL_MAX_PENDING; i++) {
        assert_int_equal(a[i].calls, 1);
        assert_int_equal(a[i].ok, 0);
    }
    /* Room again once delivered. */
    job = authpool_check(f->pool, "not-a-hash", "pw", 2, on_done_never, NULL);
    assert_non_null(job);
    authpool_cancel(job);
}

/* Timer callback: record when the loop ran it. */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = order_next++;
}

static void
test_loop_runs_during_slow_check(void **state)
{
    struct fixture *f = *state;
    char hash[CRYPT_OUTPUT_SIZE];
    struct timeval now = {0, 0};
    struct answer a = {0};
    int job_pos = -1, timer_pos = -1;
    struct event *timer = evtimer_new(f->base, on_timer, &timer_pos);

    /* A default-cost yescrypt check takes tens of milliseconds. */
    make_hash("$y$", 0, "slow", hash, sizeof hash);
    a.order = &job_pos;
    assert_non_null(authpool_check(f->pool, hash, "slow", 4, on_done, &a));
    /* Added after the check: a loop blocked by the check would run it second. */
    evtimer_add(timer, &now);
    run_until(f->base, 1);
    event_free(timer);
    assert_int_equal(a.ok, 1);
    assert_int_equal(timer_pos, 0);
    assert_int_equal(job_pos, 1);
}

static void
test_is_hash(void **state)
{
    static const char *const prefixes[] = {"$y$", "$gy$", "$2b$", "$2y$", "$6$", "$5$"};
    static const char *const clear[] = {
        "",
        "secret",
        "$y$",
        "$6$abc",
        "$6$",
        "$2b$",
        "$1$2nYDkcne$IFG5E4xeVPpogg5ApnEKI0", /* md5crypt: not accepted */
        "_J9..MBKcbEOkMIRViFQ",               /* bsdi DES */
        "heni4vmWKFGB2",                      /* traditional DES */
        "$y$j75$1SNhE5M0YQlmRiP70PpUE1$uibLiav8YskR1Z54QYNQoCW93gkE9xB9dPB5CYnWJT",
        "$y$j75$1SNhE5M0YQlmRiP70PpUE1$uibLiav8YskR1Z54QYNQoCW93gkE9xB9dPB5CYnWJT6x",
        "$y$j75$1SNhE5M0YQlmRiP70PpUE1$uibLiav8YskR1Z54QYNQoCW93gkE9xB9dPB5CYn JT6",
        "$y$uibLiav8YskR1Z54QYNQoCW93gkE9xB9dPB5CYnWJT6",
        "$2b$05$Dlu5lhFvweEMF.3TU2.rtOgOVisw1TdbKqPgNJ6iWLJBm9Tiz4X0",
        "$2b$05$Dlu5lhFvweEMF.3TU2.rtOgOVisw1TdbKqPgNJ6iWLJBm9Tiz$X0S",
    };
    char hash[CRYPT_OUTPUT_SIZE];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        make_hash(prefixes[i], 0, "pw", hash, sizeof hash);
        assert_true(authpool_is_hash(hash));
    }
    make_hash("$y$", 1, "pw", hash, sizeof hash);
    assert_true(authpool_is_hash(hash));
    make_hash("$6$", 5000, "pw", hash, sizeof hash); /* $6$rounds=5000$... */
    assert_true(authpool_is_hash(hash));
    assert_true(authpool_is_hash("$7$CU..../....2Y63XMT8rhc/ktrcdLbRz.$6EdsZk/"
                                 "XCKAjD/4adHUn8eN5YkgLb36eex1OEUtR.n."));
    assert_true(authpool_is_hash(
        "$y$j75$1SNhE5M0YQlmRiP70PpUE1$uibLiav8YskR1Z54QYNQoCW93gkE9xB9dPB5CYnWJT6"));
    assert_true(authpool_is_hash("$2b$05$Dlu5lhFvweEMF.3TU2.rtOgOVisw1TdbKqPgNJ6iWLJBm9Tiz4X0S"));
    for (i = 0; i < sizeof clear / sizeof clear[0]; i++) {
        if (authpool_is_hash(clear[i]))
            fail_msg("taken for a hash: \"%s\"", clear[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_right_and_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_hash_and_nul_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_concurrent_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_random, setup, teardown),
        cmocka_unit_test(test_cancel_queued_never_runs),
        cmocka_unit_test(test_setting_and_cost),
        cmocka_unit_test(test_free_with_jobs_pending),
        cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_runs_during_slow_check, setup, teardown),
        cmocka_unit_test(test_is_hash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
