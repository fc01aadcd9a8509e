/* test_htab.c: the open-addressing index: many keys, missing keys, collisions, growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "htab.h"

#define MANY 100000
#define KEYLEN 32

/* The caller's items: fixed-size string keys, and how often eq() ran. */
struct items {
    char (*key)[KEYLEN];
    size_t n;
    unsigned eq_calls;
};

/* htab_eq_fn: whether item n's key equals key. */
static int
items_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    struct items *it = (struct items *)(uintptr_t)ctx;

    it->eq_calls++;
    assert_true(item < it->n);
    return strlen(it->key[item]) == keylen && memcmp(it->key[item], key, keylen) == 0;
}

/* Find a NUL-terminated key under its real hash. */
static int64_t
find(const struct htab *h, struct items *it, const char *key)
{
    return htab_find(h, htab_hash(key, strlen(key)), items_eq, it, key, strlen(key));
}

/* Find a key under a hash the test chooses. */
static int64_t
find_as(const struct htab *h, struct items *it, uint64_t hash, const char *key)
{
    return htab_find(h, hash, items_eq, it, key, strlen(key));
}

/* Allocate room for n keys named "<prefix><i>". */
static void
items_make(struct items *it, size_t n, const char *prefix)
{
    size_t i;

    it->key = calloc(n, sizeof *it->key);
    assert_non_null(it->key);
    it->n = n;
    it->eq_calls = 0;
    for (i = 0; i < n; i++) {
        int len = snprintf(it->key[i], KEYLEN, "%s%zu", prefix, i);
        assert_true(len > 0 && len < KEYLEN);
    }
}

/* A fresh table has the smallest size and finds nothing. */
static void
test_empty(void **state)
{
    struct htab h;
    struct items it = {NULL, 0, 0};

    (void)state;
    assert_int_equal(htab_init(&h, 0), 0);
    assert_non_null(h.cells);
    assert_int_equal(h.mask, 15);
    assert_int_equal(h.count, 0);
    assert_int_equal(find(&h, &it, "alice"), -1);
    assert_int_equal(find(&h, &it, ""), -1);
    assert_int_equal(it.eq_calls, 0);
    htab_free(&h);
}

/* The initial size keeps the load at most 1/2 for the expected count. */
static void
test_init_sizes(void **state)
{
    struct htab h;

    (void)state;
    assert_int_equal(htab_init(&h, 8), 0);
    assert_int_equal(h.mask, 15);
    htab_free(&h);
    assert_int_equal(htab_init(&h, 9), 0);
    assert_int_equal(h.mask, 31);
    htab_free(&h);
    assert_int_equal(htab_init(&h, 100), 0);
    assert_int_equal(h.mask, 255);
    htab_free(&h);
    assert_int_equal(htab_init(&h, 64), 0);
    assert_int_equal(h.mask, 127);
    htab_free(&h);
}

/* A size no memory can hold fails instead of looping or overflowing. */
static void
test_init_huge(void **state)
{
    struct htab h;

    (void)state;
    assert_int_equal(htab_init(&h, SIZE_MAX), -1);
    assert_null(h.cells);
    assert_int_equal(htab_init(&h, SIZE_MAX / 2), -1);
    assert_null(h.cells);
    assert_int_equal(htab_init(&h, SIZE_MAX / 4 + 1), -1);
    assert_null(h.cells);
    htab_free(&h);
}

/* 100000 string keys inserted into a small table are all found again. */
static void
test_many_keys(void **state)
{
    struct htab h;
    struct items it;
    char miss[KEYLEN];
    size_t i;

    (void)state;
    items_make(&it, MANY, "user");
    assert_int_equal(htab_init(&h, 1), 0);
    for (i = 0; i < MANY; i++)
        assert_int_equal(htab_insert(&h, htab_hash(it.key[i], strlen(it.key[i])), (uint32_t)i), 0);
    assert_int_equal(h.count, MANY);
    assert_int_equal(h.mask, 262143); /* 2^18 cells: 100000 at load <= 1/2 */
    for (i = 0; i < MANY; i++)
        assert_int_equal(find(&h, &it, it.key[i]), (int64_t)i);
    for (i = 0; i < 1000; i++) {
        assert_true(snprintf(miss, sizeof miss, "user%zu", MANY + i) < KEYLEN);
        assert_int_equal(find(&h, &it, miss), -1);
        assert_true(snprintf(miss, sizeof miss, "User%zu", i) < KEYLEN);
        assert_int_equal(find(&h, &it, miss), -1);
    }
    assert_int_equal(find(&h, &it, "user"), -1);
    assert_int_equal(find(&h, &it, ""), -1);
    /* A key that is a prefix of a stored one, given by length. */
    assert_int_equal(htab_find(&h, htab_hash("user12", 6), items_eq, &it, "user123", 6), 12);
    htab_free(&h);
    free(it.key);
}

/* Every key whose hash is the same is found by eq(); a missing one is not. */
static void
test_same_hash(void **state)
{
    struct htab h;
    struct items it;
    size_t i;

    (void)state;
    items_make(&it, 1000, "k");
    assert_int_equal(htab_init(&h, 4), 0);
    for (i = 0; i < it.n; i++)
        assert_int_equal(htab_insert(&h, 42, (uint32_t)i), 0);
    assert_int_equal(h.count, 1000);
    for (i = 0; i < it.n; i++)
        assert_int_equal(find_as(&h, &it, 42, it.key[i]), (int64_t)i);
    it.eq_calls = 0;
    assert_int_equal(find_as(&h, &it, 42, "k1000"), -1);
    assert_int_equal(it.eq_calls, 1000); /* every colliding item was compared */
    /* The same key under another hash is not found. */
    assert_int_equal(find_as(&h, &it, 43ULL << 32, "k7"), -1);
    htab_free(&h);
    free(it.key);
}

/* Hashes that differ only in their low 32 bits share a cell tag and still work. */
static void
test_same_high_bits(void **state)
{
    struct htab h;
    struct items it;
    size_t i;

    (void)state;
    items_make(&it, 100, "low");
    assert_int_equal(htab_init(&h, 100), 0);
    for (i = 0; i < it.n; i++)
        assert_int_equal(htab_insert(&h, (7ULL << 32) | i, (uint32_t)i), 0);
    for (i = 0; i < it.n; i++)
        assert_int_equal(find_as(&h, &it, (7ULL << 32) | (i * 31), it.key[i]), (int64_t)i);
    htab_free(&h);
    free(it.key);
}

/* Different stored hashes on one probe path are skipped without asking eq(). */
static void
test_tag_skips_eq(void **state)
{
    struct htab h;
    struct items it;
    size_t i;

    (void)state;
    items_make(&it, 4, "t");
    assert_int_equal(htab_init(&h, 0), 0);
    /* All start at cell 0 of 16: high 32 bits 16, 32, 48, 64. */
    for (i = 0; i < it.n; i++)
        assert_int_equal(htab_insert(&h, (uint64_t)(16 * (i + 1)) << 32, (uint32_t)i), 0);
    it.eq_calls = 0;
    assert_int_equal(find_as(&h, &it, 64ULL << 32, "t3"), 3);
    assert_int_equal(it.eq_calls, 1);
    it.eq_calls = 0;
    assert_int_equal(find_as(&h, &it, 80ULL << 32, "t3"), -1);
    assert_int_equal(it.eq_calls, 0);
    htab_free(&h);
    free(it.key);
}

/* The table doubles exactly when the next insert would pass load 1/2. */
static void
test_growth(void **state)
{
    struct htab h;
    struct items it;
    size_t i;

    (void)state;
    items_make(&it, 33, "g");
    assert_int_equal(htab_init(&h, 0), 0);
    for (i = 0; i < 8; i++)
        assert_int_equal(htab_insert(&h, htab_hash(it.key[i], strlen(it.key[i])), (uint32_t)i), 0);
    assert_int_equal(h.mask, 15);
    assert_int_equal(htab_insert(&h, htab_hash(it.key[8], strlen(it.key[8])), 8), 0);
    assert_int_equal(h.mask, 31);
    for (i = 9; i < 33; i++)
        assert_int_equal(htab_insert(&h, htab_hash(it.key[i], strlen(it.key[i])), (uint32_t)i), 0);
    assert_int_equal(h.mask, 127);
    assert_int_equal(h.count, 33);
    for (i = 0; i < 33; i++)
        assert_int_equal(find(&h, &it, it.key[i]), (int64_t)i);
    htab_free(&h);
    free(it.key);
}

/* htab_eq_fn: item 0xfffffffe matches any key (item numbers at the top of the range). */
static int
top_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    (void)ctx;
    (void)key;
    (void)keylen;
    return item == UINT32_MAX - 1;
}

/* Item numbers 0 and UINT32_MAX - 1 come back intact. */
static void
test_item_numbers(void **state)
{
    struct htab h;
    struct items it;

    (void)state;
    items_make(&it, 1, "z");
    assert_int_equal(htab_init(&h, 2), 0);
    assert_int_equal(htab_insert(&h, 5ULL << 32, 0), 0);
    assert_int_equal(htab_insert(&h, 6ULL << 32, UINT32_MAX - 1), 0);
    assert_int_equal(find_as(&h, &it, 5ULL << 32, "z0"), 0);
    assert_int_equal(htab_find(&h, 6ULL << 32, top_eq, NULL, "", 0), (int64_t)UINT32_MAX - 1);
    assert_int_equal(htab_find(&h, 7ULL << 32, top_eq, NULL, "", 0), -1);
    htab_free(&h);
    free(it.key);
}

/* After htab_free the table is empty and finds nothing. */
static void
test_freed_table(void **state)
{
    struct htab h;
    struct items it;

    (void)state;
    items_make(&it, 1, "f");
    assert_int_equal(htab_init(&h, 2), 0);
    assert_int_equal(htab_insert(&h, htab_hash("f0", 2), 0), 0);
    htab_free(&h);
    assert_null(h.cells);
    assert_int_equal(h.mask, 0);
    assert_int_equal(h.count, 0);
    assert_int_equal(find(&h, &it, "f0"), -1);
    htab_free(&h);
    free(it.key);
}

/* The hash depends on exactly len bytes and spreads its high 32 bits. */
static void
test_hash(void **state)
{
    struct items it;
    uint32_t *hi;
    size_t i, same = 0;

    (void)state;
    assert_true(htab_hash("alice", 5) == htab_hash("alice", 5));
    assert_true(htab_hash("alice", 5) != htab_hash("alicf", 5));
    assert_true(htab_hash("alice", 4) == htab_hash("alic", 4));
    assert_true(htab_hash("a\0b", 3) != htab_hash("a\0c", 3));
    assert_true(htab_hash("", 0) != htab_hash("\0", 1));
    items_make(&it, MANY, "user");
    hi = calloc(MANY, sizeof *hi);
    assert_non_null(hi);
    for (i = 0; i < MANY; i++)
        hi[i] = (uint32_t)(htab_hash(it.key[i], strlen(it.key[i])) >> 32);
    /* About one pair of 100000 random 32-bit values is equal; allow a few. */
    for (i = 0; i < MANY; i++) {
        size_t j;
        for (j = i + 1; j < i + 64 && j < MANY; j++)
            same += hi[i] == hi[j];
    }
    assert_true(same <= 2);
    /* Neighbouring keys start their probes in different places. */
    same = 0;
    for (i = 1; i < MANY; i++)
        same += (hi[i] & 1023) == (hi[i - 1] & 1023);
    assert_true(same < 400); /* about 100 expected */
    free(hi);
    free(it.key);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),        cmocka_unit_test(test_init_sizes),
        cmocka_unit_test(test_init_huge),    cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_same_hash),    cmocka_unit_test(test_same_high_bits),
        cmocka_unit_test(test_tag_skips_eq), cmocka_unit_test(test_growth),
        cmocka_unit_test(test_item_numbers), cmocka_unit_test(test_freed_table),
        cmocka_unit_test(test_hash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
