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

/* Start hcs on users (file text) with two slots; return its port. */
static unsigned
start_center(const char *dir, const char *users, struct hproc **out)
{
    const char *conf;

    chmod(h_file(dir, "users.txt", "%s", users), 0600);
    h_file(dir, "availabilities.txt", "1 Mon 10am doc1 41001\n2 Tue 11am doc2 41002\n");
    conf = h_file(dir, "center.conf",
                  "[center]\nport = 0\nusers = users.txt\navailabilities = availabilities.txt\n");
    *out = h_start("hcs", NULL, "hcs", "--config", conf, NULL);
    return h_port(h_expect_prefix(*out, "Phase 1: The Health Center Server has port number "));
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
    const char *dir = h_tmpdir();
    const char *ana = hashed_row("ana", "Secret-1");
    const char *bo = hashed_row("bo", "pw-bo");
    const char *hash = strchr(ana, ' ') + 1;
    struct hproc *hcs;
    unsigned port;

    (void)state;
    port = start_center(dir, h_str("%s\n%s\ncy clear-pw\n", ana, bo), &hcs);
    if (strstr(h_stderr(hcs), "users.txt: 1 of 3 passwords are stored in clear") == NULL)
        h_fail("no warning about the clear password: \"%s\"", h_stderr(hcs));
    assert_string_equal(try_login(port, "ana", "Secret-1"), "success");
    assert_string_equal(try_login(port, "bo", "pw-bo"), "success");
    assert_string_equal(try_login(port, "cy", "clear-pw"), "success");
    assert_string_equal(try_login(port, "ana", "Secret-2"), "failure");
    assert_string_equal(try_login(port, "ana", hash), "failure");
    assert_string_equal(try_login(port, "cy", "clear-px"), "failure");
    assert_string_equal(try_login(port, "nobody", "Secret-1"), "failure");
    assert_int_equal(h_stop(hcs), 0);
    if (strstr(h_stdout(hcs), "Secret-1") != NULL || strstr(h_stderr(hcs), "Secret-1") != NULL)
        h_fail("a password reached the center's screen");
}

/* --upgrade hashes the clear rows in place, keeping the mode; logins still work. */
static void
test_upgrade(void **state)
{
    const char *dir = h_tmpdir();
    const char *users = h_path(dir, "users.txt");
    struct hproc *p, *hcs;
    struct stat st;
    unsigned port;
    char text[4096];
    size_t n;
    FILE *fp;

    (void)state;
    port = start_center(dir, "ana pw-a\r\n\nbo pw-b", &hcs);
    assert_int_equal(h_stop(hcs), 0);
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
    hcs = h_start("hcs", NULL, "hcs", "--config", h_path(dir, "center.conf"), NULL);
    port = h_port(h_expect_prefix(hcs, "Phase 1: The Health Center Server has port number "));
    assert_string_equal(h_stderr(hcs), "");
    assert_string_equal(try_login(port, "ana", "pw-a"), "success");
    assert_string_equal(try_login(port, "bo", "pw-b"), "success");
    assert_string_equal(try_login(port, "bo", "pw-a"), "failure");
}

/* While many hash checks run, another patient's request is answered first. */
static void
test_loop_not_blocked(void **state)
{
    enum { N = 40 };
    const char *dir = h_tmpdir();
    const char *row = hashed_row("u0", "same-pw");
    const char *hash = strchr(row, ' ') + 1;
    struct tconn *a, *c[N];
    struct hproc *hcs;
    char text[N * 160];
    size_t off = 0;
    unsigned port;
    int i, answered = 0;

    (void)state;
    for (i = 0; i < N; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "u%d %s\n", i, hash);
    port = start_center(dir, text, &hcs);
    a = tc_connect(port);
    tc_sendf(a, "authenticate u0 same-pw\n");
    tc_expect(a, "success");
    for (i = 0; i < N; i++) {
        c[i] = tc_connect(port);
        tc_sendf(c[i], "authenticate u%d same-pw\n", i);
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

static int
teardown(void **state)
{
    (void)state;
    tc_cleanup();
    h_cleanup();
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hashed_logins, teardown),
        cmocka_unit_test_teardown(test_upgrade, teardown),
        cmocka_unit_test_teardown(test_loop_not_blocked, teardown),
        cmocka_unit_test_teardown(test_passwd_refuses, teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
