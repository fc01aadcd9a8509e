/* test_throttle.c: sources, their counts and limits, failures by user, the keyed table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "htab.h"
#include "throttle.h"

/* The limits of most tests. */
static const struct throttle_limits limits = {
    .ipv6_prefix = 64,
    .max_conns = 8,
    .max_checks = 2,
    .max_failures = 30,
    .max_user_failures = 10,
};

/* An address from text, IPv4 or IPv6, as accept() gives it. */
static const struct sockaddr *
addr(const char *text)
{
    static struct sockaddr_storage ss[4];
    static int next;
    struct sockaddr_storage *p = &ss[next++ % 4];

    memset(p, 0, sizeof *p);
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)p;
        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)p;
        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    }
    return (const struct sockaddr *)p;
}

static int
setup(void **state)
{
    static struct throttle t;

    assert_int_equal(throttle_init(&t, &limits, 100), 0);
    *state = &t;
    return 0;
}

static int
teardown(void **state)
{
    throttle_free(*state);
    return 0;
}

/* One failed login on a new connection from text, which then closes. */
static void
fail_once(struct throttle *t, const char *text, int64_t now)
{
    struct throttle_src *s = throttle_connect(t, addr(text), now);

    assert_non_null(s);
    assert_int_equal(throttle_login(t, s, 0, now), THROTTLE_CHECK);
    throttle_login_done(t, s, THROTTLE_FAILED, now);
    throttle_disconnect(t, s, 0, now);
}

/* The delay of a source, looked up through a connection of it. */
static unsigned
delay_of(struct throttle *t, const char *text, int64_t now)
{
    struct throttle_src *s = throttle_connect(t, addr(text), now);
    unsigned d;

    assert_non_null(s);
    d = throttle_delay(t, s, now);
    throttle_disconnect(t, s, 0, now);
    return d;
}

/* SipHash-2-4 gives the reference implementation's test vectors. */
static void
test_siphash_vectors(void **state)
{
    uint8_t key[16], msg[64];
    uint64_t k0 = 0, k1 = 0;
    int i;

    (void)state;
    for (i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    for (i = 7; i >= 0; i--) {
        k0 = k0 << 8 | key[i];
        k1 = k1 << 8 | key[8 + i];
    }
    assert_true(throttle_siphash(k0, k1, msg, 0) == 0x726fdb47dd0e0e31ull);
    assert_true(throttle_siphash(k0, k1, msg, 8) == 0x93f5f5799a932462ull);
    assert_true(throttle_siphash(k0, k1, msg, 15) == 0xa129ca6149be45e5ull);
    assert_true(throttle_siphash(k0, k1, msg, 63) == 0x958a324ceb064572ull);
}

/* Every table gets its own random key. */
static void
test_key_is_random(void **state)
{
    struct throttle *t = *state, u;

    assert_int_equal(throttle_init(&u, &limits, 10), 0);
    assert_false(t->k0 == u.k0 && t->k1 == u.k1);
    assert_false(t->k0 == 0 && t->k1 == 0);
    throttle_free(&u);
}

/* THROTTLE_LIMIT failures from one source, and its answers wait; another source's do not. */
static void
test_delay_after_failures(void **state)
{
    struct throttle *t = *state;
    int i;

    for (i = 0; i < THROTTLE_LIMIT - 1; i++)
        fail_once(t, "10.0.0.1", 100);
    assert_int_equal(delay_of(t, "10.0.0.1", 100), 0);
    fail_once(t, "10.0.0.1", 100);
    assert_int_equal(delay_of(t, "10.0.0.1", 100), THROTTLE_DELAY);
    assert_int_equal(delay_of(t, "10.0.0.2", 100), 0);
    assert_int_equal(delay_of(t, "::1", 100), 0);
    /* The window ends, and so does the delay. */
    assert_int_equal(delay_of(t, "10.0.0.1", 100 + THROTTLE_WINDOW - 1), THROTTLE_DELAY);
    assert_int_equal(delay_of(t, "10.0.0.1", 100 + THROTTLE_WINDOW), 0);
    assert_int_equal(throttle_delay(t, NULL, 100), 0);
}

/*
 * Two addresses that shared a slot of the old table (indexed by an unkeyed
 * hash of the address text, 4096 slots) each keep their own count: in the
 * old table each failure of one reset the other's.
 */
static void
test_old_collision_counts_apart(void **state)
{
    struct throttle *t = *state;
    char a[32], b[32], text[32];
    static int seen[4096];
    int i, j;

    memset(seen, 0, sizeof seen);
    a[0] = b[0] = '\0';
    for (i = 1; i < 5000 && b[0] == '\0'; i++) {
        snprintf(text, sizeof text, "10.1.%d.%d", i / 250, i % 250 + 1);
        j = (int)(htab_hash(text, strlen(text)) & 4095);
        if (seen[j] != 0) {
            snprintf(a, sizeof a, "10.1.%d.%d", seen[j] / 250, seen[j] % 250 + 1);
            snprintf(b, sizeof b, "%s", text);
        }
        seen[j] = i;
    }
    assert_true(b[0] != '\0');
    assert_true((htab_hash(a, strlen(a)) & 4095) == (htab_hash(b, strlen(b)) & 4095));
    for (i = 0; i < THROTTLE_LIMIT; i++) {
        fail_once(t, a, 200);
        fail_once(t, b, 200);
    }
    assert_int_equal(delay_of(t, a, 200), THROTTLE_DELAY);
    assert_int_equal(delay_of(t, b, 200), THROTTLE_DELAY);
}

/* IPv6 addresses count by their /64 (ipv6_prefix); IPv4 mapped into IPv6 is IPv4. */
static void
test_ipv6_prefix(void **state)
{
    struct throttle *t = *state, u;
    struct throttle_limits l = limits;
    struct throttle_src *s1, *s2, *s3, *s4;

    s1 = throttle_connect(t, addr("2001:db8:1:2::1"), 1);
    s2 = throttle_connect(t, addr("2001:db8:1:2:ffff:ffff:ffff:fffe"), 1);
    s3 = throttle_connect(t, addr("2001:db8:1:3::1"), 1);
    assert_non_null(s1);
    assert_ptr_equal(s1, s2);
    assert_ptr_not_equal(s1, s3);
    assert_int_equal(s1->conns, 2);
    s4 = throttle_connect(t, addr("::ffff:192.0.2.7"), 1);
    assert_ptr_equal(s4, throttle_connect(t, addr("192.0.2.7"), 1));
    assert_int_equal(s4->conns, 2);

    /* A /56 holds both /64s; a 60-bit prefix cuts inside a byte. */
    l.ipv6_prefix = 56;
    assert_int_equal(throttle_init(&u, &l, 10), 0);
    s1 = throttle_connect(&u, addr("2001:db8:1:2::1"), 1);
    assert_ptr_equal(s1, throttle_connect(&u, addr("2001:db8:1:3::1"), 1));
    assert_ptr_not_equal(s1, throttle_connect(&u, addr("2001:db8:1:102::1"), 1));
    throttle_free(&u);
    l.ipv6_prefix = 60;
    assert_int_equal(throttle_init(&u, &l, 10), 0);
    s1 = throttle_connect(&u, addr("2001:db8:1:2:0:0:0:1"), 1);
    assert_ptr_equal(s1, throttle_connect(&u, addr("2001:db8:1:f::1"), 1));
    assert_ptr_not_equal(s1, throttle_connect(&u, addr("2001:db8:1:10::1"), 1));
    throttle_free(&u);
}

/* max_conns from one source at once; one leaves and one more may come. */
static void
test_max_conns(void **state)
{
    struct throttle *t = *state;
    struct throttle_src *s = NULL;
    unsigned i;

    for (i = 0; i < limits.max_conns; i++)
        assert_non_null(s = throttle_connect(t, addr("198.51.100.1"), 5));
    assert_null(throttle_connect(t, addr("198.51.100.1"), 5));
    assert_non_null(throttle_connect(t, addr("198.51.100.2"), 5));
    assert_int_equal(s->conns, limits.max_conns);
    throttle_disconnect(t, s, 0, 5);
    assert_ptr_equal(throttle_connect(t, addr("198.51.100.1"), 5), s);
}

/* Connections now, unauthenticated now, checks and waiting logins, attempts and failures. */
static void
test_counters(void **state)
{
    struct throttle *t = *state;
    struct throttle_src *s = throttle_connect(t, addr("203.0.113.5"), 10);

    assert_non_null(s);
    assert_ptr_equal(throttle_connect(t, addr("203.0.113.5"), 10), s);
    assert_ptr_equal(throttle_connect(t, addr("203.0.113.5"), 10), s);
    assert_int_equal(s->conns, 3);
    assert_int_equal(s->unauth, 3);
    throttle_authenticated(t, s);
    assert_int_equal(s->unauth, 2);

    /* max_checks = 2: the third login waits, and goes when one check ends. */
    assert_int_equal(throttle_login(t, s, 1, 10), THROTTLE_CHECK);
    assert_int_equal(throttle_login(t, s, 1, 10), THROTTLE_CHECK);
    assert_int_equal(throttle_login(t, s, 1, 10), THROTTLE_WAIT);
    assert_int_equal(s->checks, 2);
    assert_int_equal(s->waiting, 1);
    assert_int_equal(s->attempts, 3);
    assert_int_equal(throttle_check_take(t, s), 0);
    throttle_check_end(t, s);
    throttle_login_done(t, s, THROTTLE_OK, 10);
    assert_int_equal(throttle_check_take(t, s), 1);
    assert_int_equal(s->checks, 2);
    assert_int_equal(s->waiting, 0);
    assert_int_equal(throttle_check_take(t, s), 0);
    throttle_check_end(t, s);
    throttle_login_done(t, s, THROTTLE_FAILED, 10);
    throttle_check_end(t, s);
    throttle_login_done(t, s, THROTTLE_LOST, 10);
    assert_int_equal(s->checks, 0);
    assert_int_equal(s->fails, 1);
    assert_int_equal(s->lost, 1);
    /* A login without a hash holds no check. */
    assert_int_equal(throttle_login(t, s, 0, 10), THROTTLE_CHECK);
    assert_int_equal(s->checks, 0);
    assert_int_equal(s->attempts, 4);
    /* A waiting login that goes away. */
    assert_int_equal(throttle_login(t, s, 1, 10), THROTTLE_CHECK);
    assert_int_equal(throttle_login(t, s, 1, 10), THROTTLE_CHECK);
    assert_int_equal(throttle_login(t, s, 1, 10), THROTTLE_WAIT);
    throttle_unwait(t, s);
    assert_int_equal(s->waiting, 0);
    throttle_check_end(t, s);
    throttle_check_end(t, s);
    /* Connections close: the authenticated one, then the others. */
    throttle_disconnect(t, s, 1, 10);
    assert_int_equal(s->conns, 2);
    assert_int_equal(s->unauth, 2);
    throttle_disconnect(t, s, 0, 10);
    assert_int_equal(s->unauth, 1);
    /* A new window forgets attempts and failures. */
    assert_int_equal(throttle_login(t, s, 0, 10 + THROTTLE_WINDOW), THROTTLE_CHECK);
    assert_int_equal(s->attempts, 1);
    assert_int_equal(s->fails, 0);
    assert_int_equal(s->lost, 0);
}

/* Past max_failures failed or abandoned logins in a window, logins are refused until it ends. */
static void
test_max_failures(void **state)
{
    struct throttle *t = *state;
    struct throttle_src *s = throttle_connect(t, addr("192.0.2.99"), 1000);
    unsigned i;

    assert_non_null(s);
    for (i = 0; i < limits.max_failures; i++) {
        assert_int_equal(throttle_login(t, s, 1, 1000), THROTTLE_CHECK);
        throttle_check_end(t, s);
        throttle_login_done(t, s, i % 2 ? THROTTLE_FAILED : THROTTLE_LOST, 1000);
    }
    assert_int_equal(throttle_login(t, s, 1, 1000), THROTTLE_REFUSE);
    assert_int_equal(throttle_login(t, s, 0, 1000 + THROTTLE_WINDOW - 1), THROTTLE_REFUSE);
    assert_int_equal(s->checks, 0);
    /* Successes never count against a source. */
    assert_int_equal(throttle_login(t, s, 1, 1000 + THROTTLE_WINDOW), THROTTLE_CHECK);
    for (i = 0; i < 3 * limits.max_failures; i++)
        throttle_login_done(t, s, THROTTLE_OK, 1000 + THROTTLE_WINDOW);
    throttle_check_end(t, s);
    assert_int_equal(throttle_login(t, s, 0, 1000 + THROTTLE_WINDOW), THROTTLE_CHECK);
}

/*
 * The table stays bounded whatever clients do: sources without
 * connections are evicted oldest first, those with connections never, and
 * a table full of sources with connections refuses a new source.
 */
static void
test_eviction_bounds(void **state)
{
    struct throttle t;
    struct throttle_limits l = limits;
    struct throttle_src *held[4], *s;
    char text[32];
    int i;

    (void)state;
    l.max_conns = 0;
    assert_int_equal(throttle_init(&t, &l, 4), 0);
    for (i = 0; i < 4; i++) {
        snprintf(text, sizeof text, "172.16.0.%d", i + 1);
        held[i] = throttle_connect(&t, addr(text), 50);
        assert_non_null(held[i]);
        assert_int_equal(throttle_login(&t, held[i], 1, 50), THROTTLE_CHECK);
        throttle_check_end(&t, held[i]);
        throttle_login_done(&t, held[i], THROTTLE_FAILED, 50);
    }
    /* Many sources that fail once and leave: each is remembered until evicted. */
    for (i = 0; i < 3 * THROTTLE_HISTORY; i++) {
        snprintf(text, sizeof text, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        fail_once(&t, text, 50);
        assert_true(t.nsrc <= t.maxsrc);
    }
    assert_int_equal(t.nsrc, t.maxsrc);
    for (i = 0; i < 4; i++) {
        snprintf(text, sizeof text, "172.16.0.%d", i + 1);
        assert_ptr_equal(throttle_connect(&t, addr(text), 50), held[i]);
        assert_int_equal(held[i]->conns, 2);
        assert_int_equal(held[i]->fails, 1);
    }
    /* A source with nothing to remember is forgotten when it leaves. */
    throttle_free(&t);
    assert_int_equal(throttle_init(&t, &l, 0), 0);
    s = throttle_connect(&t, addr("10.9.9.9"), 1);
    throttle_disconnect(&t, s, 0, 1);
    assert_int_equal(t.nsrc, 0);
    /* Full of sources with connections: a new source is refused, a known one is not. */
    for (i = 0; i < THROTTLE_HISTORY; i++) {
        snprintf(text, sizeof text, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        assert_non_null(throttle_connect(&t, addr(text), 1));
    }
    assert_null(throttle_connect(&t, addr("192.0.2.1"), 1));
    assert_non_null(throttle_connect(&t, addr("10.0.0.0"), 1));
    throttle_free(&t);
}

/* max_user_failures of one user, from anywhere, and that user's answers wait. */
static void
test_user_failures(void **state)
{
    struct throttle *t = *state;
    unsigned i;

    for (i = 0; i < limits.max_user_failures - 1; i++)
        throttle_user_failure(t, "alice", 5, 300);
    assert_int_equal(throttle_user_delay(t, "alice", 5, 300), 0);
    throttle_user_failure(t, "alice", 5, 300);
    assert_int_equal(throttle_user_delay(t, "alice", 5, 300), THROTTLE_DELAY);
    assert_int_equal(throttle_user_delay(t, "alic", 4, 300), 0);
    assert_int_equal(throttle_user_delay(t, "alicex", 6, 300), 0);
    assert_int_equal(throttle_user_delay(t, "bob", 3, 300), 0);
    /* Never locked out for long: the wait ends with the window. */
    assert_int_equal(throttle_user_delay(t, "alice", 5, 300 + THROTTLE_WINDOW), 0);
    throttle_user_failure(t, "alice", 5, 300 + THROTTLE_WINDOW);
    assert_int_equal(throttle_user_delay(t, "alice", 5, 300 + THROTTLE_WINDOW), 0);
    /* Many users: the table stays bounded. */
    for (i = 0; i < THROTTLE_USERS + 100; i++) {
        char name[16];

        snprintf(name, sizeof name, "u%u", i);
        throttle_user_failure(t, name, strlen(name), 400);
    }
    assert_true(t->nuser <= THROTTLE_USERS);
}

/* A message that comes often is printed once a second, with the count held back. */
static void
test_ratelog(void **state)
{
    struct throttle *t = *state;

    assert_true(throttle_ratelog(&t->backed, 10) == 1);
    assert_true(throttle_ratelog(&t->backed, 10) == 0);
    assert_true(throttle_ratelog(&t->backed, 10) == 0);
    assert_true(throttle_ratelog(&t->backed, 11) == 3);
    assert_true(throttle_ratelog(&t->backed, 11) == 0);
    assert_true(throttle_ratelog(&t->backed, 20) == 2);
    assert_true(throttle_ratelog(&t->refused, 20) == 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test_setup_teardown(test_key_is_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_after_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_collision_counts_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_conns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_failures, setup, teardown),
        cmocka_unit_test(test_eviction_bounds),
        cmocka_unit_test_setup_teardown(test_user_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ratelog, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
