/* test_throttle.c: failed logins by address, and when answers must wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "throttle.h"

static int
setup(void **state)
{
    static struct throttle t;

    assert_int_equal(throttle_init(&t, 64), 0);
    *state = &t;
    return 0;
}

static int
teardown(void **state)
{
    throttle_free(*state);
    return 0;
}

static void
test_below_limit_no_delay(void **state)
{
    struct throttle *t = *state;
    int i;

    for (i = 0; i < THROTTLE_LIMIT - 1; i++)
        throttle_failure(t, "10.0.0.1", 100);
    assert_int_equal(throttle_delay(t, "10.0.0.1", 100), 0);
    throttle_failure(t, "10.0.0.1", 100);
    assert_int_equal(throttle_delay(t, "10.0.0.1", 100), THROTTLE_DELAY);
}

static void
test_other_address_unaffected(void **state)
{
    struct throttle *t = *state;
    int i;

    for (i = 0; i < THROTTLE_LIMIT * 3; i++)
        throttle_failure(t, "10.0.0.1", 100);
    assert_int_equal(throttle_delay(t, "10.0.0.1", 100), THROTTLE_DELAY);
    assert_int_equal(throttle_delay(t, "10.0.0.2", 100), 0);
    assert_int_equal(throttle_delay(t, "::1", 100), 0);
}

static void
test_window_expires(void **state)
{
    struct throttle *t = *state;
    int i;

    for (i = 0; i < THROTTLE_LIMIT; i++)
        throttle_failure(t, "127.0.0.1", 1000 + i);
    assert_int_equal(throttle_delay(t, "127.0.0.1", 1000 + THROTTLE_WINDOW - 1), THROTTLE_DELAY);
    assert_int_equal(throttle_delay(t, "127.0.0.1", 1000 + THROTTLE_WINDOW), 0);
    /* A failure after the window starts a new count. */
    throttle_failure(t, "127.0.0.1", 1000 + THROTTLE_WINDOW);
    assert_int_equal(throttle_delay(t, "127.0.0.1", 1000 + THROTTLE_WINDOW), 0);
}

static void
test_failures_spread_over_window(void **state)
{
    struct throttle *t = *state;
    int i;

    /* Failures more than a window apart never add up. */
    for (i = 0; i < 20; i++) {
        throttle_failure(t, "192.0.2.7", (int64_t)i * THROTTLE_WINDOW);
        assert_int_equal(throttle_delay(t, "192.0.2.7", (int64_t)i * THROTTLE_WINDOW), 0);
    }
}

static void
test_uninitialised_is_inert(void **state)
{
    struct throttle t = {NULL, 0};

    (void)state;
    throttle_failure(&t, "10.0.0.1", 1);
    assert_int_equal(throttle_delay(&t, "10.0.0.1", 1), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_below_limit_no_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_address_unaffected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_spread_over_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uninitialised_is_inert, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
