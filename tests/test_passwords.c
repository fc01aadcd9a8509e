/* test_passwords.c: hashed users.txt rows through the real hcs and `hcs passwd` (issue 5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

/* A users.txt row for user from `hcs passwd user`, the password piped in. */
static const char *
hashed_row(const char *user, const char *password)
{
    struct hproc *p = h_start("hcs passwd", NULL, "hcs", "passwd", user, NULL);
    const char *line;

    h_send(p, "%s\n", password);
    h_close_in(p);
    line = h_line(p);
    if (strncmp(line, user, strlen(user)) != 0 || strncmp(line + strlen(user), " $y$", 4) != 0)
        h_fail("hcs passwd: unexpected row \"%s\"", line);
    if (strstr(line, password) != NULL || strstr(h_stderr(p), password) != NULL)
        h_fail("hcs passwd printed the password");
    line = h_str("%s", line);
    h_expect_exit(p, 0);
    return line;
}

/* The two slots of every center of this file. */
static const struct fixture_slot slots[] = {
    {1, "Mon", "10am", "doc1", 41001},
    {2, "Tue", "11am", "doc2", 41002},
};

/* Write users (file text) and the two slots, start hcs. */
static struct fixture *
start_center(void **state, const char *users)
{
    const struct fixture_opts o = {
        .users_text = users,
        .slots = slots,
        .nslots = sizeof slots / sizeof slots[0],
    };

    return fixture_setup(state, &o);
}

/* Log in and return the answer line. */
static const char *
try_login(unsigned port, const char *user, const char *password)
{
    struct tconn *c = tc_connect(port);
    const char *line;

    tc_sendf(c, "authenticate %s %s\n", user, password);
    line = tc_line(c, h_timeout_ms);
    if (line == NULL)
        h_fail("no answer to the login of %s", user);
    line = h_str("%s", line);
    tc_close(c);
    return line;
}

/* Hashed, clear and unknown users, and the hash itself sent as a password. */
static void
test_hashed_logins(void **state)
{
    const char *ana = hashed_row("ana", "Secret-1");
    const char *bo = hashed_row("bo", "pw-bo-long");
    const char *hash = strchr(ana, ' ') + 1;
    struct fixture *f = start_center(state, h_str("%s\n%s\ncy clear-pw\n", ana, bo));
    struct hproc *hcs = f->hcs;
    unsigned port = f->port;

    if (strstr(h_stderr(hcs), "users.txt: 1 of 3 passwords are stored in clear") == NULL)
        h_fail("no warning about the clear password: \"%s\"", h_stderr(hcs));
    assert_string_equal(try_login(port, "ana", "Secret-1"), "success");
    assert_string_equal(try_login(port, "bo", "pw-bo-long"), "success");
    assert_string_equal(try_login(port, "cy", "clear-pw"), "success");
    assert_string_equal(try_login(port, "ana", "Secret-2"), "failure");
    assert_string_equal(try_login(port, "ana", hash), "failure");
    assert_string_equal(try_login(port, "cy", "clear-px"), "failure");
    assert_string_equal(try_login(port, "nobody", "Secret-1"), "failure");
    fixture_stop(f);
    if (strstr(h_stdout(hcs), "Secret-1") != NULL || strstr(h_stderr(hcs), "Secret-1") != NULL)
        h_fail("a password reached the center's screen");
}

/* --upgrade hashes the clear rows in place, keeping the mode; logins still work. */
static void
test_upgrade(void **state)
{
    struct fixture *f = start_center(state, "ana pw-a\r\n\nbo pw-b");
    const char *users = h_path(f->dir, "users.txt");
    struct hproc *p;
    struct stat st;
    char text[4096];
    size_t n;
    FILE *fp;

    fixture_stop(f);
    p = h_start("hcs passwd --upgrade", NULL, "hcs", "passwd", "--upgrade", users, NULL);
    h_expect_exit(p, 0);
    assert_int_equal(stat(users, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    fp = fopen(users, "r");
    assert_non_null(fp);
    n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    if (strncmp(text, "ana $y$", 7) != 0 || strstr(text, "\nbo $y$") == NULL ||
        strstr(text, "pw-a") != NULL || strstr(text, "pw-b") != NULL)
        h_fail("users.txt after --upgrade: \"%s\"", text);
    fixture_start(f);
    assert_string_equal(h_stderr(f->hcs), "");
    assert_string_equal(try_login(f->port, "ana", "pw-a"), "success");
    assert_string_equal(try_login(f->port, "bo", "pw-b"), "success");
    assert_string_equal(try_login(f->port, "bo", "pw-a"), "failure");
}

/* While many hash checks run, another patient's request is answered first. */
static void
test_loop_not_blocked(void **state)
{
    enum { N = 40 };
    const char *row = hashed_row("u0", "same-pw-long");
    const char *hash = strchr(row, ' ') + 1;
    struct fixture *f;
    struct tconn *a, *c[N];
    char text[N * 160];
    size_t off = 0;
    int i, answered = 0;

    for (i = 0; i < N; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "u%d %s\n", i, hash);
    f = start_center(state, text);
    a = fixture_login(f, "u0", "same-pw-long");
    for (i = 0; i < N; i++) {
        c[i] = tc_connect(f->port);
        tc_sendf(c[i], "authenticate u%d same-pw-long\n", i);
    }
    tc_sendf(a, "available\n");
    tc_expect(a, "slots 2");
    /* The list came; the logins, each a hash check of some milliseconds,
     * cannot all be done yet if the loop did not wait for them. */
    for (i = 0; i < N; i++)
        answered += tc_ready(c[i]);
    if (answered == N)
        h_fail("all %d logins were answered before a plain request", N);
    for (i = 0; i < N; i++)
        tc_expect(c[i], "success");
}

/* `hcs passwd` refuses a password with a space, and prints nothing secret. */
static void
test_passwd_refuses(void **state)
{
    struct hproc *p = h_start("hcs passwd", NULL, "hcs", "passwd", "ben", NULL);

    (void)state;
    h_send(p, "two words\n");
    h_close_in(p);
    assert_int_equal(h_wait(p), 1);
    if (strstr(h_stdout(p), "two words") != NULL || strstr(h_stderr(p), "two words") != NULL)
        h_fail("the refused password was printed");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hashed_logins, fixture_teardown),
        cmocka_unit_test_teardown(test_upgrade, fixture_teardown),
        cmocka_unit_test_teardown(test_loop_not_blocked, fixture_teardown),
        cmocka_unit_test_teardown(test_passwd_refuses, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
