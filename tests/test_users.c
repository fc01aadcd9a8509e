/* test_users.c: unit tests of the registered patients table (users.txt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "users.h"

/* Load a users table from a string, asserting that it loads. */
static void
load_ok(struct users *u, const char *text)
{
    char err[256] = "";
    int rc = users_load_mem(u, "users.txt", text, strlen(text), err, sizeof err);

    if (rc != 0)
        print_error("unexpected load error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
}

/* Assert that len bytes of text fail to load with exactly the message want. */
static void
load_fails(const char *text, size_t len, const char *want)
{
    struct users u;
    char err[256] = "";

    memset(&u, 0x5a, sizeof u);
    assert_int_equal(users_load_mem(&u, "users.txt", text, len, err, sizeof err), -1);
    assert_string_equal(err, want);
    /* A failed load leaves an empty table that lookups and free accept. */
    assert_int_equal(u.n, 0);
    assert_null(u.v);
    assert_null(u.chunks);
    assert_null(users_find(&u, "patient1", 8));
    users_free(&u);
    users_free(&u);
}

/* load_fails for a string literal, which may hold NUL bytes. */
#define LOAD_FAILS(lit, want) load_fails(lit, sizeof lit - 1, want)

/* Assert that user has this name, password and row. */
static void
assert_user(const struct user *user, const char *name, const char *password, unsigned line)
{
    assert_non_null(user);
    assert_string_equal(user->name, name);
    assert_int_equal(user->namelen, strlen(name));
    assert_string_equal(user->password, password);
    assert_int_equal(user->passlen, strlen(password));
    assert_int_equal(user->line, line);
    assert_int_equal(user->booked, 0);
}

/* The sample users.txt loads in file order. */
static void
test_load_sample(void **state)
{
    struct users u;

    (void)state;
    load_ok(&u, "patient1 password111\npatient2 password222\n");
    assert_int_equal(u.n, 2);
    assert_user(&u.v[0], "patient1", "password111", 1);
    assert_user(&u.v[1], "patient2", "password222", 2);
    assert_ptr_equal(users_find(&u, "patient1", 8), &u.v[0]);
    assert_ptr_equal(users_find(&u, "patient2", 8), &u.v[1]);
    users_free(&u);
    assert_int_equal(u.n, 0);
    assert_null(u.v);
    assert_null(u.chunks);
}

/* CRLF, blank lines, tabs, repeated spaces and a missing final newline are accepted. */
static void
test_load_layouts(void **state)
{
    struct users u;

    (void)state;
    load_ok(&u, "alice pw1\r\n"
                "\r\n"
                "   bob \t\t  pw2   \r\n"
                "\n"
                " \t \n"
                "\tcarol\tpw3\t\n"
                "dave  pw4\r");
    assert_int_equal(u.n, 4);
    assert_user(&u.v[0], "alice", "pw1", 1);
    assert_user(&u.v[1], "bob", "pw2", 3);
    assert_user(&u.v[2], "carol", "pw3", 6);
    assert_user(&u.v[3], "dave", "pw4", 7);
    users_free(&u);

    load_ok(&u, "erin pw5");
    assert_int_equal(u.n, 1);
    assert_user(&u.v[0], "erin", "pw5", 1);
    users_free(&u);

    /* Bytes above 0x7f (UTF-8) are ordinary name and password bytes. */
    load_ok(&u, "j\xc3\xb6rg p\xc3\xa4ss\n");
    assert_int_equal(u.n, 1);
    assert_user(&u.v[0], "j\xc3\xb6rg", "p\xc3\xa4ss", 1);
    users_free(&u);
}

/* A row needs exactly a username and a password. */
static void
test_load_field_count(void **state)
{
    (void)state;
    LOAD_FAILS("patient1 password111\npatient2 password222 extra\n",
               "users.txt:2: expected 2 fields (username password), found 3");
    LOAD_FAILS("patient1 password111\r\n\r\n\r\npatient2\r\n",
               "users.txt:4: expected 2 fields (username password), found 1");
    LOAD_FAILS("a b c d e f g h\n", "users.txt:1: expected 2 fields (username password), found 8");
    LOAD_FAILS("a b c d e f g h i\n", "users.txt:1: too many fields");
}

/* Names and passwords of 64 bytes load; 65 bytes are refused. */
static void
test_load_lengths(void **state)
{
    char max[USERS_MAXNAME + 1], over[USERS_MAXNAME + 2], text[512];
    struct users u;

    (void)state;
    memset(max, 'm', USERS_MAXNAME);
    max[USERS_MAXNAME] = '\0';
    memset(over, 'o', USERS_MAXNAME + 1);
    over[USERS_MAXNAME + 1] = '\0';

    snprintf(text, sizeof text, "%s %s\n", max, max);
    load_ok(&u, text);
    assert_int_equal(u.n, 1);
    assert_user(&u.v[0], max, max, 1);
    assert_ptr_equal(users_find(&u, max, USERS_MAXNAME), &u.v[0]);
    users_free(&u);

    snprintf(text, sizeof text, "a b\n%s pw\n", over);
    load_fails(text, strlen(text), "users.txt:2: username or password longer than 64 bytes");
    snprintf(text, sizeof text, "a b\nc d\n\n%s %s\n", max, over);
    load_fails(text, strlen(text), "users.txt:4: username or password longer than 64 bytes");
}

/* A username twice names both lines; names differing in case or length are distinct. */
static void
test_load_duplicate(void **state)
{
    struct users u;

    (void)state;
    LOAD_FAILS("patient1 a\npatient2 b\n\npatient1 c\n",
               "users.txt:4: duplicate username (first on line 1)");
    LOAD_FAILS("x 1\r\ny 2\r\ny 2\r\n", "users.txt:3: duplicate username (first on line 2)");

    load_ok(&u, "ann 1\nAnn 2\nANN 3\nann2 4\nan 5\n");
    assert_int_equal(u.n, 5);
    assert_string_equal(users_find(&u, "ann", 3)->password, "1");
    assert_string_equal(users_find(&u, "Ann", 3)->password, "2");
    assert_string_equal(users_find(&u, "ANN", 3)->password, "3");
    assert_string_equal(users_find(&u, "ann2", 4)->password, "4");
    assert_string_equal(users_find(&u, "an", 2)->password, "5");
    users_free(&u);
}

/* A file with no users is refused. */
static void
test_load_empty(void **state)
{
    (void)state;
    LOAD_FAILS("", "users.txt:1: no users in file");
    LOAD_FAILS("\n", "users.txt:1: no users in file");
    /* Like doctor/prices.c, the message names line 1 whatever the file holds. */
    LOAD_FAILS("\n\r\n  \n\t\n", "users.txt:1: no users in file");
}

/* Control bytes, NUL and DEL inside a row are refused with their line. */
static void
test_load_control(void **state)
{
    (void)state;
    LOAD_FAILS("patient1 pass\x01word\n", "users.txt:1: control character (byte 0x01) in row");
    LOAD_FAILS("patient1 password111\npat\0ient2 password222\n",
               "users.txt:2: control character (byte 0x00) in row");
    LOAD_FAILS("a b\n\nc d\x7f\n", "users.txt:3: control character (byte 0x7f) in row");
    LOAD_FAILS("a b\rc d\n", "users.txt:1: control character (byte 0x0d) in row");
    LOAD_FAILS("a b\r\r\n", "users.txt:1: control character (byte 0x0d) in row");
    LOAD_FAILS("a b\n\x1b[31m c\n", "users.txt:2: control character (byte 0x1b) in row");
}

/* An error message is cut to the caller's buffer and still terminated. */
static void
test_load_error_truncated(void **state)
{
    struct users u;
    char err[12];

    (void)state;
    memset(err, 'z', sizeof err);
    assert_int_equal(users_load_mem(&u, "users.txt", "a b c", 5, err, sizeof err), -1);
    assert_string_equal(err, "users.txt:1");
    assert_int_equal(u.n, 0);
    users_free(&u);
}

/* Lookups are exact, by length, with names that are prefixes of each other. */
static void
test_find(void **state)
{
    static const char *const names[] = {"pat", "patient", "patient1", "patient10", "patient100"};
    struct users u;
    size_t i;

    (void)state;
    load_ok(&u, "pat p0\npatient p1\npatient1 p2\npatient10 p3\npatient100 p4\n");
    assert_int_equal(u.n, 5);
    for (i = 0; i < 5; i++) {
        struct user *user = users_find(&u, names[i], strlen(names[i]));
        assert_ptr_equal(user, &u.v[i]);
        assert_string_equal(user->name, names[i]);
    }
    /* The length, not a NUL, ends the name. */
    assert_ptr_equal(users_find(&u, "patient100", 3), &u.v[0]);
    assert_ptr_equal(users_find(&u, "patient100", 7), &u.v[1]);
    assert_ptr_equal(users_find(&u, "patient100", 8), &u.v[2]);
    assert_ptr_equal(users_find(&u, "patient100", 9), &u.v[3]);
    assert_ptr_equal(users_find(&u, "patient1 p2", 8), &u.v[2]);

    assert_null(users_find(&u, "", 0));
    assert_null(users_find(&u, "pa", 2));
    assert_null(users_find(&u, "patien", 6));
    assert_null(users_find(&u, "patient2", 8));
    assert_null(users_find(&u, "patient1000", 11));
    assert_null(users_find(&u, "Patient1", 8));
    assert_null(users_find(&u, "patient1 ", 9));
    assert_null(users_find(&u, "p0", 2));
    assert_null(users_find(&u, "patient1\0", 9));
    users_free(&u);
}

/* Check name/password (NUL-terminated); assert the answer and what *out became. */
static void
check(const struct users *u, const char *name, const char *password, int want,
      const struct user *want_user)
{
    struct user *out = (struct user *)(uintptr_t)1; /* must be overwritten */

    assert_int_equal(users_check(u, name, strlen(name), password, strlen(password), &out), want);
    assert_ptr_equal(out, want_user);
}

/* Only the right password of a known user logs in. */
static void
test_check(void **state)
{
    struct users u;
    struct user *out;

    (void)state;
    load_ok(&u, "patient1 password111\npatient2 password222\nshort x\n");
    check(&u, "patient1", "password111", 1, &u.v[0]);
    check(&u, "patient2", "password222", 1, &u.v[1]);
    check(&u, "short", "x", 1, &u.v[2]);

    check(&u, "patient1", "password222", 0, NULL);  /* another user's password */
    check(&u, "patient1", "password112", 0, NULL);  /* last byte differs */
    check(&u, "patient1", "Password111", 0, NULL);  /* first byte differs */
    check(&u, "patient1", "password11", 0, NULL);   /* a prefix */
    check(&u, "patient1", "password1111", 0, NULL); /* an extension */
    check(&u, "patient1", "password111password111", 0, NULL);
    check(&u, "patient1", "", 0, NULL);
    check(&u, "short", "", 0, NULL);
    check(&u, "short", "xx", 0, NULL);
    check(&u, "short", "y", 0, NULL);

    check(&u, "patient3", "password111", 0, NULL);
    check(&u, "patient", "password111", 0, NULL);
    check(&u, "patient11", "password111", 0, NULL);
    check(&u, "", "", 0, NULL);
    check(&u, "nobody", "not-a-password", 0, NULL); /* the dummy compared for unknown names */

    /* Lengths, not NULs, end the name and the password. */
    out = NULL;
    assert_int_equal(users_check(&u, "patient1xyz", 8, "password111xyz", 11, &out), 1);
    assert_ptr_equal(out, &u.v[0]);
    assert_int_equal(users_check(&u, "patient1", 8, "password111", 10, &out), 0);
    assert_null(out);
    users_free(&u);
}

/* 100000 generated users load, each is found and logs in with its own password. */
static void
test_many_users(void **state)
{
    const size_t n = 100000;
    size_t i, off = 0, size = n * 32;
    char *text = malloc(size), name[32], pw[32];
    struct users u;

    (void)state;
    assert_non_null(text);
    for (i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, size - off, "user%zu pw%zux\n", i, i * 7);
    load_ok(&u, text);
    assert_int_equal(u.n, n);
    for (i = 0; i < n; i++) {
        int nl = snprintf(name, sizeof name, "user%zu", i);
        int pl = snprintf(pw, sizeof pw, "pw%zux", i * 7);
        struct user *out = NULL, *user = users_find(&u, name, (size_t)nl);

        assert_ptr_equal(user, &u.v[i]);
        assert_int_equal(user->line, i + 1);
        assert_string_equal(user->name, name);
        assert_int_equal(users_check(&u, name, (size_t)nl, pw, (size_t)pl, &out), 1);
        assert_ptr_equal(out, user);
    }
    assert_null(users_find(&u, "user100000", 10));
    assert_null(users_find(&u, "user", 4));
    assert_null(users_find(&u, "user-1", 6));
    users_free(&u);
    free(text);
}

/* Loading from a real file: CRLF and no final newline; a missing file; a directory. */
static void
test_load_file(void **state)
{
    static const char text[] = "patient1 password111\r\n\r\npatient2 password222";
    char dir[] = "/tmp/test_users_XXXXXX", path[128], err[256] = "", want[256];
    struct users u;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/users.txt", dir);
    assert_non_null(fp = fopen(path, "w"));
    assert_int_equal(fwrite(text, 1, sizeof text - 1, fp), sizeof text - 1);
    assert_int_equal(fclose(fp), 0);

    assert_int_equal(users_load(&u, path, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(u.n, 2);
    assert_user(users_find(&u, "patient1", 8), "patient1", "password111", 1);
    assert_user(users_find(&u, "patient2", 8), "patient2", "password222", 3);
    users_free(&u);

    /* A bad row in a real file names the path. */
    assert_non_null(fp = fopen(path, "w"));
    assert_true(fputs("a b\na c\n", fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(users_load(&u, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:2: duplicate username (first on line 1)", path);
    assert_string_equal(err, want);
    assert_int_equal(u.n, 0);
    users_free(&u);
    assert_int_equal(unlink(path), 0);

    assert_int_equal(users_load(&u, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);
    assert_int_equal(u.n, 0);
    assert_null(u.v);
    users_free(&u);

    /* A directory opens but cannot be read. */
    assert_int_equal(users_load(&u, dir, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:1: read error: Is a directory", dir);
    assert_string_equal(err, want);
    assert_int_equal(u.n, 0);
    users_free(&u);
    assert_int_equal(rmdir(dir), 0);
}

/* Run every test. */
/* users_keep: a name the file lacks is added as removed (no login); a known one is returned. */
static void
test_keep(void **state)
{
    struct users u;
    struct user *kept, *out = NULL;
    size_t i;

    (void)state;
    load_ok(&u, "alice pw1\nbob pw2\n");
    assert_ptr_equal(users_keep(&u, "bob", 3), users_find(&u, "bob", 3));
    assert_int_equal(u.n, 2);
    kept = users_keep(&u, "carol", 5);
    assert_non_null(kept);
    assert_int_equal(u.n, 3);
    assert_true(kept->removed);
    assert_string_equal(kept->name, "carol");
    assert_ptr_equal(users_find(&u, "carol", 5), kept);
    /* A removed user cannot log in, whatever password is tried, even an empty one. */
    assert_int_equal(users_check(&u, "carol", 5, "", 0, &out), 0);
    assert_null(out);
    assert_int_equal(users_check(&u, "alice", 5, "pw1", 3, &out), 1);
    /* Many more move the table but keep every name. */
    for (i = 0; i < 200; i++) {
        char name[16];
        int n = snprintf(name, sizeof name, "gone%zu", i);
        assert_non_null(users_keep(&u, name, (size_t)n));
    }
    assert_int_equal(u.n, 203);
    assert_true(users_find(&u, "carol", 5)->removed);
    assert_false(users_find(&u, "alice", 5)->removed);
    users_free(&u);
}

/* Hashes of "pw" of three costs: rounds 1000 (two methods) and 300000. */
#define CHEAP6                                                                                     \
    "$6$rounds=1000$cheapsal$xk/"                                                                  \
    "fRGStrfidUdTRJ22zxEofPWOq6b3nQagy0rQC4LwnL5VVTdl580yHfehrbk4BlzuUWUvUfOC.2FXTX4tQB1"
#define CHEAP5 "$5$rounds=1000$cheapsal$wQlPPTpiCv0aMyTNhYyal/E0w1a2thG278SpB8GewzB"
#define COSTLY6                                                                                    \
    "$6$rounds=300000$costlysa$/"                                                                  \
    "GgsxUlNfbMi0xyZj.nKgywOQQpzNbKJ0RjSFJAeG33hKLmLcvwew.V1BZ5bOTnQxPhpqB75izbNWogVcCZg70"

/* Unknown and clear users are checked against the costliest hash, wherever it is in the file. */
static void
test_dummy_hash(void **state)
{
    struct users u;

    (void)state;
    load_ok(&u, "a " CHEAP6 "\nb " CHEAP5 "\nc clear-pw\nd " COSTLY6 "\ne " CHEAP6 "\n");
    assert_string_equal(users_dummy_hash(&u), COSTLY6);
    users_free(&u);
    load_ok(&u, "d " COSTLY6 "\na " CHEAP6 "\n");
    assert_string_equal(users_dummy_hash(&u), COSTLY6);
    users_free(&u);
    load_ok(&u, "b " CHEAP5 "\n");
    assert_string_equal(users_dummy_hash(&u), CHEAP5);
    users_free(&u);
    load_ok(&u, "c clear-pw\n");
    assert_null(users_dummy_hash(&u));
    users_free(&u);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_sample),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_load_layouts),
        cmocka_unit_test(test_load_field_count),
        cmocka_unit_test(test_load_lengths),
        cmocka_unit_test(test_load_duplicate),
        cmocka_unit_test(test_load_empty),
        cmocka_unit_test(test_load_control),
        cmocka_unit_test(test_load_error_truncated),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_many_users),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_dummy_hash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
