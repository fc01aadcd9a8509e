/* test_slotlist.c: unit tests of the patient's list of free slots, built from the center's lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slotlist.h"

/* Parse one line from the center (a literal) into r. */
static void
parse(const char *s, struct proto_reply *r)
{
    assert_int_equal(proto_parse_reply(s, strlen(s), r), 0);
}

/* Append a row given as the center sends it, "5 Mon 01pm". */
static void
add(struct slotlist *l, const char *s)
{
    struct proto_reply r;

    parse(s, &r);
    assert_int_equal(r.kind, PROTO_SLOT);
    assert_int_equal(slotlist_append(l, &r), SLOTLIST_CHANGED);
}

/* Apply a push given as the center sends it, "* reserved 5"; returns what it did. */
static enum slotlist_result
push(struct slotlist *l, const char *s)
{
    struct proto_reply r;

    parse(s, &r);
    assert_true(slotlist_is_push(&r));
    return slotlist_apply(l, &r);
}

/* The rows as the screen shows them (valid until the next call). */
static const char *
rows(const struct slotlist *l)
{
    static char buf[4096];
    char row[SLOTLIST_ROWLEN];
    size_t i, len = 0, n;

    for (i = 0; i < l->nslots; i++) {
        n = slotlist_row(l, i, row);
        assert_int_equal(n, strlen(row));
        assert_true(len + n < sizeof buf);
        memcpy(buf + len, row, n);
        len += n;
    }
    buf[len] = '\0';
    return buf;
}

/* The list "5 Mon 01pm, 2 Tue 02pm, 9 Wed 03pm" (not ascending), finished. */
static void
three(struct slotlist *l)
{
    uint32_t dup = 0;

    slotlist_init(l);
    add(l, "5 Mon 01pm");
    add(l, "2 Tue 02pm");
    add(l, "9 Wed 03pm");
    assert_int_equal(slotlist_finish(l, &dup), 0);
    assert_int_equal(l->nslots, 3);
}

/* Rows stay in the center's order; lookups find exactly the listed indices. */
static void
test_add_find(void **state)
{
    struct slotlist l;

    (void)state;
    three(&l);
    assert_string_equal(rows(&l), "5 Mon 01pm\n2 Tue 02pm\n9 Wed 03pm\n");
    assert_true(slotlist_has(&l, 2));
    assert_true(slotlist_has(&l, 5));
    assert_true(slotlist_has(&l, 9));
    assert_false(slotlist_has(&l, 0));
    assert_false(slotlist_has(&l, 3));
    assert_false(slotlist_has(&l, 10));
    assert_false(slotlist_has(&l, UINT32_MAX));
    slotlist_free(&l);
    assert_int_equal(l.nslots, 0);
    assert_null(l.slots);
    assert_false(slotlist_has(&l, 5));
}

/* An empty list finishes and finds nothing; an index listed twice is refused. */
static void
test_empty_and_twice(void **state)
{
    struct slotlist l;
    uint32_t dup = 0;

    (void)state;
    slotlist_init(&l);
    assert_int_equal(slotlist_finish(&l, &dup), 0);
    assert_false(slotlist_has(&l, 1));
    assert_string_equal(rows(&l), "");
    slotlist_free(&l);

    slotlist_init(&l);
    add(&l, "7 Mon 01pm");
    add(&l, "3 Tue 02pm");
    add(&l, "7 Wed 03pm");
    assert_int_equal(slotlist_finish(&l, &dup), -1);
    assert_int_equal(dup, 7);
    slotlist_free(&l);
}

/* "* reserved" removes a listed slot and keeps the others in order; an unknown index is ignored. */
static void
test_reserved(void **state)
{
    struct slotlist l;

    (void)state;
    three(&l);
    assert_int_equal(push(&l, "* reserved 77"), SLOTLIST_SAME);
    assert_int_equal(l.nslots, 3);
    assert_int_equal(push(&l, "* reserved 2"), SLOTLIST_CHANGED);
    assert_false(slotlist_has(&l, 2));
    assert_string_equal(rows(&l), "5 Mon 01pm\n9 Wed 03pm\n");
    assert_int_equal(push(&l, "* reserved 2"), SLOTLIST_SAME);
    assert_int_equal(slotlist_remove(&l, 9, SLOTLIST_LISTED), SLOTLIST_CHANGED);
    assert_int_equal(slotlist_remove(&l, 9, SLOTLIST_TAKEN), SLOTLIST_SAME);
    assert_int_equal(push(&l, "* reserved 5"), SLOTLIST_CHANGED);
    assert_int_equal(l.nslots, 0);
    assert_string_equal(rows(&l), "");
    assert_int_equal(push(&l, "* reserved 5"), SLOTLIST_SAME);
    slotlist_free(&l);
}

/* "* released" goes before the first listed slot with a higher index; a listed one is ignored. */
static void
test_released(void **state)
{
    struct slotlist l;

    (void)state;
    three(&l);
    assert_int_equal(push(&l, "* released 3 Thu 04pm"), SLOTLIST_CHANGED);
    assert_string_equal(rows(&l), "3 Thu 04pm\n5 Mon 01pm\n2 Tue 02pm\n9 Wed 03pm\n");
    assert_int_equal(push(&l, "* released 7 Fri 10am"), SLOTLIST_CHANGED);
    assert_string_equal(rows(&l), "3 Thu 04pm\n5 Mon 01pm\n2 Tue 02pm\n7 Fri 10am\n9 Wed 03pm\n");
    assert_int_equal(push(&l, "* released 12 Sat 11am"), SLOTLIST_CHANGED);
    assert_int_equal(push(&l, "* released 7 Sun 09am"), SLOTLIST_SAME);
    assert_int_equal(push(&l, "* released 2 Sun 09am"), SLOTLIST_SAME);
    assert_string_equal(rows(&l), "3 Thu 04pm\n5 Mon 01pm\n2 Tue 02pm\n7 Fri 10am\n9 Wed 03pm\n"
                                  "12 Sat 11am\n");
    assert_true(slotlist_has(&l, 3));
    assert_true(slotlist_has(&l, 7));
    assert_true(slotlist_has(&l, 12));
    assert_int_equal(push(&l, "* reserved 7"), SLOTLIST_CHANGED);
    assert_int_equal(push(&l, "* released 7 Fri 10am"), SLOTLIST_CHANGED);
    assert_string_equal(rows(&l), "3 Thu 04pm\n5 Mon 01pm\n2 Tue 02pm\n7 Fri 10am\n9 Wed 03pm\n"
                                  "12 Sat 11am\n");
    slotlist_free(&l);

    /* Into an empty list, then an ascending list stays ascending. */
    slotlist_init(&l);
    assert_int_equal(push(&l, "* released 4 Mon 01pm"), SLOTLIST_CHANGED);
    assert_int_equal(push(&l, "* released 1 Mon 02pm"), SLOTLIST_CHANGED);
    assert_int_equal(push(&l, "* released 9 Mon 03pm"), SLOTLIST_CHANGED);
    assert_int_equal(push(&l, "* released 6 Mon 04pm"), SLOTLIST_CHANGED);
    assert_string_equal(rows(&l), "1 Mon 02pm\n4 Mon 01pm\n6 Mon 04pm\n9 Mon 03pm\n");
    slotlist_free(&l);
}

/* "* added" goes in like "* released"; "* removed" takes the slot out like "* reserved". */
static void
test_added_removed(void **state)
{
    struct slotlist l;

    (void)state;
    three(&l);
    assert_int_equal(push(&l, "* added 3 Thu 04pm"), SLOTLIST_CHANGED);
    assert_string_equal(rows(&l), "3 Thu 04pm\n5 Mon 01pm\n2 Tue 02pm\n9 Wed 03pm\n");
    assert_int_equal(push(&l, "* added 3 Fri 05pm"), SLOTLIST_SAME);
    assert_int_equal(push(&l, "* added 12 Sat 11am"), SLOTLIST_CHANGED);
    assert_true(slotlist_has(&l, 12));
    assert_int_equal(push(&l, "* removed 5"), SLOTLIST_CHANGED);
    assert_false(slotlist_has(&l, 5));
    assert_int_equal(push(&l, "* removed 5"), SLOTLIST_SAME);
    assert_int_equal(push(&l, "* removed 77"), SLOTLIST_SAME);
    assert_string_equal(rows(&l), "3 Thu 04pm\n2 Tue 02pm\n9 Wed 03pm\n12 Sat 11am\n");
    slotlist_free(&l);
}

/* A slot that went away is remembered with why, until it comes back. */
static void
test_gone(void **state)
{
    struct proto_reply r;
    struct slotlist l;
    uint32_t i;

    (void)state;
    three(&l);
    assert_int_equal(slotlist_gone(&l, 5), SLOTLIST_LISTED);  /* listed */
    assert_int_equal(slotlist_gone(&l, 77), SLOTLIST_LISTED); /* never listed */
    push(&l, "* reserved 2");
    push(&l, "* removed 9");
    push(&l, "* reserved 77"); /* not listed: nothing to remember */
    assert_int_equal(slotlist_gone(&l, 2), SLOTLIST_TAKEN);
    assert_int_equal(slotlist_gone(&l, 9), SLOTLIST_DROPPED);
    assert_int_equal(slotlist_gone(&l, 77), SLOTLIST_LISTED);
    /* Back again: forgotten there, and it can go again for another reason. */
    assert_int_equal(l.ngone, 2);
    assert_int_equal(push(&l, "* released 2 Tue 02pm"), SLOTLIST_CHANGED);
    assert_int_equal(slotlist_gone(&l, 2), SLOTLIST_LISTED);
    assert_int_equal(l.ngone, 1); /* forgotten, not only hidden */
    assert_int_equal(push(&l, "* added 9 Wed 03pm"), SLOTLIST_CHANGED);
    assert_int_equal(slotlist_gone(&l, 9), SLOTLIST_LISTED);
    assert_int_equal(push(&l, "* removed 2"), SLOTLIST_CHANGED);
    assert_int_equal(slotlist_gone(&l, 2), SLOTLIST_DROPPED);
    assert_int_equal(slotlist_remove(&l, 9, SLOTLIST_TAKEN), SLOTLIST_CHANGED);
    assert_int_equal(slotlist_gone(&l, 9), SLOTLIST_TAKEN);
    assert_int_equal(slotlist_remove(&l, 5, SLOTLIST_LISTED), SLOTLIST_CHANGED);
    assert_int_equal(slotlist_gone(&l, 5), SLOTLIST_LISTED);
    assert_int_equal(l.nslots, 0);
    assert_int_equal(l.ngone, 2);
    /* Many, added in a shuffled order: each keeps its own reason. */
    parse("* added 100 Mon 01pm", &r);
    for (i = 0; i < 41; i++) {
        r.index = 100 + i * 7 % 41;
        assert_int_equal(slotlist_apply(&l, &r), SLOTLIST_CHANGED);
    }
    for (i = 100; i <= 140; i++)
        assert_int_equal(slotlist_remove(&l, i, i % 2 ? SLOTLIST_TAKEN : SLOTLIST_DROPPED),
                         SLOTLIST_CHANGED);
    for (i = 100; i <= 140; i++)
        assert_int_equal(slotlist_gone(&l, i), i % 2 ? SLOTLIST_TAKEN : SLOTLIST_DROPPED);
    assert_int_equal(l.ngone, 43);
    slotlist_free(&l);
    assert_null(l.gone);
    assert_int_equal(l.ngone, 0);
}

/* Replies that are not pushes change nothing. */
static void
test_not_push(void **state)
{
    static const char *lines[] = {"success",      "slots 3",     "5 Mon 01pm",
                                  "notavailable", "cancelled 5", "error busy"};
    struct proto_reply r;
    struct slotlist l;
    size_t i;

    (void)state;
    three(&l);
    for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        parse(lines[i], &r);
        assert_false(slotlist_is_push(&r));
        assert_int_equal(slotlist_apply(&l, &r), SLOTLIST_SAME);
    }
    assert_string_equal(rows(&l), "5 Mon 01pm\n2 Tue 02pm\n9 Wed 03pm\n");
    slotlist_free(&l);
}

/* The longest row fits SLOTLIST_ROWLEN. */
static void
test_row_longest(void **state)
{
    struct slotlist l;
    char row[SLOTLIST_ROWLEN];

    (void)state;
    slotlist_init(&l);
    add(&l, "4294967295 Wednesday-long1 afternoon-15chr");
    assert_int_equal(slotlist_row(&l, 0, row), 43);
    assert_string_equal(row, "4294967295 Wednesday-long1 afternoon-15chr\n");
    slotlist_free(&l);
}

/* The list stops at SLOTLIST_MAX slots, for rows and for pushes, and stays as it was. */
static void
test_full(void **state)
{
    struct proto_reply r;
    struct slotlist l;
    uint32_t dup = 0, i;

    (void)state;
    slotlist_init(&l);
    parse("1 Mon 01pm", &r);
    for (i = 1; i <= SLOTLIST_MAX; i++) {
        r.index = i;
        assert_int_equal(slotlist_append(&l, &r), SLOTLIST_CHANGED);
    }
    r.index = SLOTLIST_MAX + 1;
    assert_int_equal(slotlist_append(&l, &r), SLOTLIST_FULL);
    assert_int_equal(slotlist_finish(&l, &dup), 0);
    assert_int_equal(push(&l, "* released 2000000 Tue 02pm"), SLOTLIST_FULL);
    assert_int_equal(l.nslots, SLOTLIST_MAX);
    assert_false(slotlist_has(&l, 2000000));
    assert_int_equal(push(&l, "* released 5 Tue 02pm"), SLOTLIST_SAME);
    assert_int_equal(push(&l, "* reserved 5"), SLOTLIST_CHANGED);
    assert_int_equal(push(&l, "* released 2000000 Tue 02pm"), SLOTLIST_CHANGED);
    assert_true(slotlist_has(&l, 2000000));
    slotlist_free(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find), cmocka_unit_test(test_empty_and_twice),
        cmocka_unit_test(test_reserved), cmocka_unit_test(test_released),
        cmocka_unit_test(test_not_push), cmocka_unit_test(test_row_longest),
        cmocka_unit_test(test_full),     cmocka_unit_test(test_added_removed),
        cmocka_unit_test(test_gone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
