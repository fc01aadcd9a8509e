/* test_profile.c: unit tests of the patient's credentials and insurance loaders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "profile.h"

/* Load credentials from len bytes, asserting that they load. */
static void
cred_ok(struct profile *p, const char *text, size_t len)
{
    char err[256] = "";
    int rc = profile_load_credentials_mem(p, "patient1.txt", text, len, err, sizeof err);

    if (rc != 0)
        print_error("unexpected load error: %s\n", err);
    assert_int_equal(rc, 0);
}

/* Load an insurance plan from len bytes, asserting that it loads. */
static void
plan_ok(struct profile *p, const char *text, size_t len)
{
    char err[256] = "";
    int rc = profile_load_insurance_mem(p, "patient1insurance.txt", text, len, err, sizeof err);

    if (rc != 0)
        print_error("unexpected load error: %s\n", err);
    assert_int_equal(rc, 0);
}

/* Assert that credentials fail to load with exactly the message want, leaving them empty. */
static void
cred_fails(const char *text, size_t len, const char *want)
{
    struct profile p;
    char err[256] = "";

    memset(&p, 'x', sizeof p);
    assert_int_equal(profile_load_credentials_mem(&p, "patient1.txt", text, len, err, sizeof err),
                     -1);
    assert_string_equal(err, want);
    assert_string_equal(p.user, "");
    assert_string_equal(p.password, "");
}

/* Assert that an insurance file fails to load with exactly the message want. */
static void
plan_fails(const char *text, size_t len, const char *want)
{
    struct profile p;
    char err[256] = "";

    memset(&p, 'x', sizeof p);
    assert_int_equal(
        profile_load_insurance_mem(&p, "patient1insurance.txt", text, len, err, sizeof err), -1);
    assert_string_equal(err, want);
    assert_string_equal(p.plan, "");
}

/* The helpers for string literals, which may hold NUL bytes. */
#define CRED_OK(p, lit) cred_ok(p, lit, sizeof lit - 1)
#define PLAN_OK(p, lit) plan_ok(p, lit, sizeof lit - 1)
#define CRED_FAILS(lit, want) cred_fails(lit, sizeof lit - 1, want)
#define PLAN_FAILS(lit, want) plan_fails(lit, sizeof lit - 1, want)

/* The sample files load. */
static void
test_sample(void **state)
{
    struct profile p;

    (void)state;
    memset(&p, 0, sizeof p);
    CRED_OK(&p, "patient1 password111\n");
    PLAN_OK(&p, "insurance1\n");
    assert_string_equal(p.user, "patient1");
    assert_string_equal(p.password, "password111");
    assert_string_equal(p.plan, "insurance1");
    profile_clear(&p);
    assert_string_equal(p.user, "");
    assert_string_equal(p.password, "");
    assert_string_equal(p.plan, "");
}

/* CRLF, no final newline, blank lines, tabs and repeated spaces are accepted. */
static void
test_layouts(void **state)
{
    struct profile p;

    (void)state;
    memset(&p, 0, sizeof p);
    CRED_OK(&p, "\r\n\n  patient2 \t password222  \r\n\r\n");
    assert_string_equal(p.user, "patient2");
    assert_string_equal(p.password, "password222");
    CRED_OK(&p, "patient3 pass");
    assert_string_equal(p.user, "patient3");
    assert_string_equal(p.password, "pass");
    PLAN_OK(&p, "\n\t insurance2\t\r\n\n");
    assert_string_equal(p.plan, "insurance2");
    PLAN_OK(&p, "insurance3");
    assert_string_equal(p.plan, "insurance3");
}

/* Loading one file keeps what the other one gave. */
static void
test_independent(void **state)
{
    struct profile p;

    (void)state;
    memset(&p, 0, sizeof p);
    CRED_OK(&p, "patient1 password111\n");
    PLAN_FAILS("", "patient1insurance.txt:1: empty file (expected one row: the insurance plan)");
    PLAN_OK(&p, "insurance1\n");
    assert_int_equal(profile_load_insurance_mem(&p, "i.txt", "a b\n", 4, (char[64]){0}, 64), -1);
    assert_string_equal(p.user, "patient1");
    assert_string_equal(p.password, "password111");
    assert_string_equal(p.plan, "");
}

/* Empty files and files of blank lines hold no row. */
static void
test_empty(void **state)
{
    (void)state;
    CRED_FAILS("", "patient1.txt:1: empty file (expected one row: username password)");
    CRED_FAILS("\n\r\n  \t\n", "patient1.txt:1: empty file (expected one row: username password)");
    PLAN_FAILS("", "patient1insurance.txt:1: empty file (expected one row: the insurance plan)");
    PLAN_FAILS("\n\n",
               "patient1insurance.txt:1: empty file (expected one row: the insurance plan)");
}

/* A row with the wrong number of fields names its line. */
static void
test_field_count(void **state)
{
    (void)state;
    CRED_FAILS("patient1\n", "patient1.txt:1: expected 2 fields (username password), found 1");
    CRED_FAILS("\n\npatient1 password111 extra\n",
               "patient1.txt:3: expected 2 fields (username password), found 3");
    PLAN_FAILS("insurance1 30\n",
               "patient1insurance.txt:1: expected 1 field (the insurance plan), found 2");
    PLAN_FAILS("\r\na b c\r\n",
               "patient1insurance.txt:2: expected 1 field (the insurance plan), found 3");
    CRED_FAILS("a b c d e f g h i\n", "patient1.txt:1: too many fields");
}

/* A second row is refused, even a valid one, and names both lines. */
static void
test_two_rows(void **state)
{
    (void)state;
    CRED_FAILS("patient1 password111\npatient2 password222\n",
               "patient1.txt:2: more than one row (the first is on line 1)");
    CRED_FAILS("\npatient1 password111\n\n\nx\n",
               "patient1.txt:5: more than one row (the first is on line 2)");
    PLAN_FAILS("insurance1\r\n\r\ninsurance2",
               "patient1insurance.txt:3: more than one row (the first is on line 1)");
}

/* 64-byte names and passwords and 63-byte plans are the longest accepted. */
static void
test_lengths(void **state)
{
    char name[PROFILE_TOKENMAX + 2], pass[PROFILE_TOKENMAX + 2], text[256];
    struct profile p;
    int n;

    (void)state;
    memset(&p, 0, sizeof p);
    memset(name, 'u', PROFILE_TOKENMAX);
    name[PROFILE_TOKENMAX] = '\0';
    memset(pass, 'p', PROFILE_TOKENMAX);
    pass[PROFILE_TOKENMAX] = '\0';
    n = snprintf(text, sizeof text, "%s %s\n", name, pass);
    cred_ok(&p, text, (size_t)n);
    assert_string_equal(p.user, name);
    assert_string_equal(p.password, pass);

    strcat(name, "u");
    n = snprintf(text, sizeof text, "%s %s\n", name, pass);
    cred_fails(text, (size_t)n, "patient1.txt:1: username is 65 bytes (at most 64)");
    name[PROFILE_TOKENMAX] = '\0';
    strcat(pass, "p");
    n = snprintf(text, sizeof text, "%s %s\n", name, pass);
    cred_fails(text, (size_t)n, "patient1.txt:1: password is 65 bytes (at most 64)");

    memset(text, 'i', PROFILE_PLANMAX);
    text[PROFILE_PLANMAX] = '\n';
    plan_ok(&p, text, PROFILE_PLANMAX + 1);
    assert_int_equal(strlen(p.plan), PROFILE_PLANMAX);
    memset(text, 'i', PROFILE_PLANMAX + 1);
    plan_fails(text, PROFILE_PLANMAX + 1,
               "patient1insurance.txt:1: insurance plan is 64 bytes (at most 63)");
}

/* Control bytes and NUL bytes are refused with their line. */
static void
test_control_bytes(void **state)
{
    (void)state;
    CRED_FAILS("patient1 pass\x01word\n", "patient1.txt:1: control character (byte 0x01) in row");
    CRED_FAILS("\npatient1 pass\0word\n", "patient1.txt:2: control character (byte 0x00) in row");
    PLAN_FAILS("insur\x1b[2Jance\n",
               "patient1insurance.txt:1: control character (byte 0x1b) in row");
}

/* An error message never shows the password. */
static void
test_password_hidden(void **state)
{
    struct profile p;
    char err[256] = "";

    (void)state;
    assert_int_equal(
        profile_load_credentials_mem(&p, "c.txt", "user secret1 secret2\n", 21, err, sizeof err),
        -1);
    assert_null(strstr(err, "secret"));
    assert_int_equal(profile_load_credentials_mem(&p, "c.txt", "user secret1\nuser secret2\n", 26,
                                                  err, sizeof err),
                     -1);
    assert_null(strstr(err, "secret"));
}

/* A file that cannot be opened is named in the message. */
static void
test_missing_file(void **state)
{
    struct profile p;
    char err[256] = "";

    (void)state;
    memset(&p, 'x', sizeof p);
    assert_int_equal(profile_load_credentials(&p, "/nonexistent/patient1.txt", err, sizeof err),
                     -1);
    assert_string_equal(err, "/nonexistent/patient1.txt: cannot open: No such file or directory");
    assert_string_equal(p.password, "");
    assert_int_equal(profile_load_insurance(&p, "/nonexistent/ins.txt", err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/ins.txt: cannot open: No such file or directory");
    assert_string_equal(p.plan, "");
}

/* Files on disk load the same way as from memory. */
static void
test_files(void **state)
{
    char dir[] = "/tmp/test_profile.XXXXXX", cred[64], ins[64], err[256] = "";
    struct profile p;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(cred, sizeof cred, "%s/patient1.txt", dir);
    snprintf(ins, sizeof ins, "%s/patient1insurance.txt", dir);
    assert_non_null(fp = fopen(cred, "w"));
    fputs("patient1 password111\r\n", fp);
    fclose(fp);
    assert_non_null(fp = fopen(ins, "w"));
    fputs("insurance1", fp);
    fclose(fp);
    memset(&p, 0, sizeof p);
    assert_int_equal(profile_load_credentials(&p, cred, err, sizeof err), 0);
    assert_int_equal(profile_load_insurance(&p, ins, err, sizeof err), 0);
    assert_string_equal(p.user, "patient1");
    assert_string_equal(p.password, "password111");
    assert_string_equal(p.plan, "insurance1");
    unlink(cred);
    unlink(ins);
    rmdir(dir);
}

/* Run the tests of the credentials and insurance loaders. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample),          cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_independent),     cmocka_unit_test(test_empty),
        cmocka_unit_test(test_field_count),     cmocka_unit_test(test_two_rows),
        cmocka_unit_test(test_lengths),         cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_password_hidden), cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
