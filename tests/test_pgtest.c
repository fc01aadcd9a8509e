/* test_pgtest.c: the throwaway PostgreSQL server of tests/pgtest.c: reached through its own
 * socket folder, databases kept apart, rows as text, data kept over a stop and a restart, and
 * no server or folder left behind by a program that exits or is killed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "harness.h"
#include "pgtest.h"

#define CHILD_FLAG "--pgtest-child=" /* main: be the child of test_gone_after_* */

/* pgtest_query's answer, kept until h_cleanup (NULL on an error). */
static const char *
query(const char *dsn, const char *sql)
{
    char *s = pgtest_query(dsn, sql);
    const char *kept = s != NULL ? h_str("%s", s) : NULL;

    free(s);
    return kept;
}

/* sql on dsn must answer exactly want. */
static void
expect_rows(const char *dsn, const char *sql, const char *want)
{
    const char *got = query(dsn, sql);

    if (got == NULL)
        h_fail("%s: failed", sql);
    assert_string_equal(got, want);
}

/* cmocka teardown: kill what the test started, remove the harness's folders. */
static int
teardown(void **state)
{
    (void)state;
    h_timeout_ms = H_TIMEOUT_MS;
    h_cleanup();
    return 0;
}

/* The server runs, once, and the dsn reaches it through the socket in its folder only. */
static void
test_socket_folder(void **state)
{
    const char *dir, *dsn, *sock;
    struct sockaddr_un peer;
    socklen_t len = sizeof peer;
    struct stat st;
    PGconn *conn;
    int port;

    (void)state;
    assert_int_equal(pgtest_start(), 0);
    dir = pgtest_dir();
    port = pgtest_port();
    assert_non_null(dir);
    assert_int_equal(pgtest_start(), 0);
    assert_string_equal(pgtest_dir(), dir);
    assert_int_equal(pgtest_port(), port);
    assert_true(port > 0 && port < 65536);

    dsn = pgtest_dsn("postgres");
    assert_string_equal(dsn, h_str("host=%s port=%d user=postgres dbname=postgres", dir, port));
    sock = h_str("%s/.s.PGSQL.%d", dir, port);
    assert_int_equal(stat(sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));

    /* libpq's own connection goes to that socket file. */
    conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK)
        h_fail("cannot connect to %s: %s", dsn, PQerrorMessage(conn));
    assert_string_equal(PQhost(conn), dir);
    assert_int_equal(getpeername(PQsocket(conn), (struct sockaddr *)&peer, &len), 0);
    assert_int_equal(peer.sun_family, AF_UNIX);
    assert_string_equal(peer.sun_path, sock);
    PQfinish(conn);

    /* The server says the same, and listens on no TCP address. */
    expect_rows(dsn, "SHOW unix_socket_directories", h_str("%s\n", dir));
    expect_rows(dsn, "SHOW port", h_str("%d\n", port));
    expect_rows(dsn, "SHOW listen_addresses", "\n");
    expect_rows(dsn, "SHOW fsync", "off\n");
    expect_rows(dsn, "SHOW max_connections", "200\n");
    expect_rows(dsn, "SELECT inet_server_addr() IS NULL, current_user, current_database()",
                "t postgres postgres\n");
    expect_rows(dsn, "SHOW server_encoding", "UTF8\n");
    expect_rows(dsn, "SHOW lc_collate", "C\n");
    assert_int_equal(pgtest_count(dsn, "SELECT current_setting('server_version_num')::int / 10000"),
                     15);
}

/* Two new databases are empty and apart: a table made in one is not in the other. */
static void
test_two_databases(void **state)
{
    const char *a, *b;

    (void)state;
    a = pgtest_newdb();
    b = pgtest_newdb();
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b);
    expect_rows(a, h_str("SELECT current_database() LIKE 'hcs_test_%ld_%%'", (long)getpid()),
                "t\n");
    assert_string_not_equal(query(a, "SELECT current_database()"),
                            query(b, "SELECT current_database()"));
    assert_int_equal(pgtest_count(a, "SELECT count(*) FROM pg_class WHERE relname = 't'"), 0);

    assert_int_equal(pgtest_exec(a, "CREATE TABLE t (id int PRIMARY KEY, name text, note text)"),
                     0);
    assert_int_equal(pgtest_exec(a, "INSERT INTO t VALUES (1, 'one', NULL), (2, 'two words', 'x'),"
                                    " (3, '', 'empty name')"),
                     0);
    expect_rows(a, "SELECT id, name FROM t ORDER BY id", "1 one\n2 two words\n3 \n");
    expect_rows(a, "SELECT * FROM t WHERE id = 1", "1 one NULL\n");
    assert_int_equal(pgtest_count(a, "SELECT count(*) FROM t"), 3);
    assert_int_equal(pgtest_count(a, "SELECT sum(id) * 1000000000000 FROM t"), 6000000000000LL);

    assert_int_equal(pgtest_count(b, "SELECT count(*) FROM pg_class WHERE relname = 't'"), 0);
    expect_rows(b, "SELECT to_regclass('t') IS NULL", "t\n");
    assert_null(query(b, "SELECT * FROM t"));
    /* The same name in b is a table of its own. */
    assert_int_equal(pgtest_exec(b, "CREATE TABLE t (id int)"), 0);
    assert_int_equal(pgtest_count(b, "SELECT count(*) FROM t"), 0);
    assert_int_equal(pgtest_count(a, "SELECT count(*) FROM t"), 3);
}

/* Rows as text at the edges, and errors as NULL and -1. */
static void
test_answers(void **state)
{
    const char *db;

    (void)state;
    db = pgtest_newdb();
    assert_non_null(db);
    expect_rows(db, "SELECT 1 WHERE false", "");
    expect_rows(db, "CREATE TABLE n (v int)", "");
    expect_rows(db, "INSERT INTO n VALUES (4), (5)", "");
    expect_rows(db, "INSERT INTO n VALUES (6) RETURNING v, v * 2", "6 12\n");
    expect_rows(db, "SELECT FROM n WHERE v < 6", "\n\n"); /* rows of no columns */
    expect_rows(db, "SELECT 'a b', NULL, 'c'", "a b NULL c\n");
    expect_rows(db, "SELECT E'two\\nlines'", "two\nlines\n");
    expect_rows(db, "INSERT INTO n VALUES (7); SELECT count(*) FROM n", "4\n"); /* the last */
    expect_rows(db, "", "");

    assert_int_equal(pgtest_count(db, "SELECT -5"), -5);
    assert_int_equal(pgtest_count(db, "SELECT 'x'"), -1);
    assert_int_equal(pgtest_count(db, "SELECT '12x'"), -1);
    assert_int_equal(pgtest_count(db, "SELECT NULL"), -1);
    assert_int_equal(pgtest_count(db, "SELECT 1 WHERE false"), -1);
    assert_int_equal(pgtest_count(db, "SELECT nonsense"), -1);
    assert_null(query(db, "SELEC 1"));
    assert_int_equal(pgtest_exec(db, "INSERT INTO nowhere VALUES (1)"), -1);
    /* A failed statement rolls back what came before it in the same call. */
    assert_int_equal(pgtest_exec(db, "INSERT INTO n VALUES (8); INSERT INTO n VALUES ('y')"), -1);
    assert_int_equal(pgtest_count(db, "SELECT count(*) FROM n"), 4);
    assert_int_equal(pgtest_exec(pgtest_dsn("no_such_db"), "SELECT 1"), -1);
}

/* A stopped server answers nothing; restarted on the same folder and port, it has the data. */
static void
test_stop_restart(void **state)
{
    const char *db, *dir, *sock;
    int port;

    (void)state;
    db = pgtest_newdb();
    assert_non_null(db);
    dir = pgtest_dir();
    port = pgtest_port();
    sock = h_str("%s/.s.PGSQL.%d", dir, port);
    assert_int_equal(pgtest_exec(db, "CREATE TABLE kept (id int); INSERT INTO kept "
                                     "SELECT generate_series(1, 100)"),
                     0);

    assert_int_equal(pgtest_stop(), 0);
    assert_int_equal(access(sock, F_OK), -1);
    assert_int_equal(pgtest_count(db, "SELECT count(*) FROM kept"), -1);
    assert_int_equal(pgtest_stop(), 0); /* already stopped */

    assert_int_equal(pgtest_restart(), 0);
    assert_string_equal(pgtest_dir(), dir);
    assert_int_equal(pgtest_port(), port);
    assert_int_equal(access(sock, F_OK), 0);
    assert_int_equal(pgtest_count(db, "SELECT count(*) FROM kept"), 100);
    assert_int_equal(pgtest_count(db, "SELECT sum(id) FROM kept"), 5050);

    /* Restarting a running server stops it first; pgtest_start after a stop restarts too. */
    assert_int_equal(pgtest_restart(), 0);
    assert_int_equal(pgtest_exec(db, "INSERT INTO kept VALUES (101)"), 0);
    assert_int_equal(pgtest_stop(), 0);
    assert_int_equal(pgtest_start(), 0);
    assert_string_equal(pgtest_dir(), dir);
    assert_int_equal(pgtest_count(db, "SELECT count(*) FROM kept"), 101);
    assert_string_equal(pgtest_dsn("postgres"),
                        h_str("host=%s port=%d user=postgres dbname=postgres", dir, port));
}

/* The child of test_gone_after_*: start a server, tell its folder, port and postmaster pid,
 * wait for a line, then end as how says ("exit" or "kill"). */
static int
child(const char *how)
{
    char line[64];
    long pid = 0;
    FILE *fp;

    if (pgtest_start() != 0)
        return 1;
    if ((fp = fopen(h_str("%s/data/postmaster.pid", pgtest_dir()), "r")) == NULL ||
        fscanf(fp, "%ld", &pid) != 1)
        return 1;
    fclose(fp);
    printf("%s %d %ld\n", pgtest_dir(), pgtest_port(), pid);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL)
        return 1;
    if (strcmp(how, "kill") == 0)
        raise(SIGKILL);
    return 3;
}

/* A program that started a server and ends as how says leaves no server and no folder:
 * once it and the watchdog have let go of its output, both are gone. */
static void
gone_after(const char *how, int status)
{
    const char *line, *dir;
    struct pollfd pfd;
    struct stat st;
    struct hproc *p;
    int port, rc, err;
    long pid;
    char *sp;

    h_timeout_ms = 60000; /* initdb on a slow machine */
    p = h_start(how, NULL, "/proc/self/exe", h_str(CHILD_FLAG "%s", how), NULL);
    line = h_line(p);
    sp = strchr(line, ' ');
    if (sp == NULL || sscanf(sp, " %d %ld", &port, &pid) != 2 || pid <= 1)
        h_fail("the child said \"%s\"", line);
    dir = h_str("%.*s", (int)(sp - line), line);
    assert_int_equal(stat(dir, &st), 0);
    pfd.fd = pidfd_open((pid_t)pid, 0);
    if (pfd.fd == -1)
        h_fail("pidfd_open %ld: %s", pid, strerror(errno));
    pfd.events = POLLIN;
    /* Its server runs and answers. */
    assert_int_equal(pgtest_count(h_str("host=%s port=%d user=postgres dbname=postgres", dir, port),
                                  "SELECT 42"),
                     42);

    h_send(p, "go\n");
    h_expect_exit(p, status);
    rc = stat(dir, &st);
    err = errno;
    assert_int_equal(rc, -1);
    assert_int_equal(err, ENOENT);
    /* The postmaster has ended (it removes its pid file, then exits). */
    assert_int_equal(poll(&pfd, 1, h_timeout_ms), 1);
    close(pfd.fd);
}

/* A program that exits (after a failed test, say) stops its server and removes the folder. */
static void
test_gone_after_exit(void **state)
{
    (void)state;
    gone_after("exit", 3);
}

/* A program that is killed leaves no server and no folder either: the watchdog sees to it. */
static void
test_gone_after_kill(void **state)
{
    (void)state;
    gone_after("kill", 128 + SIGKILL);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_socket_folder, teardown),
        cmocka_unit_test_teardown(test_two_databases, teardown),
        cmocka_unit_test_teardown(test_answers, teardown),
        cmocka_unit_test_teardown(test_stop_restart, teardown),
        cmocka_unit_test_teardown(test_gone_after_exit, teardown),
        cmocka_unit_test_teardown(test_gone_after_kill, teardown),
    };

    if (argc == 2 && strncmp(argv[1], CHILD_FLAG, strlen(CHILD_FLAG)) == 0)
        return child(argv[1] + strlen(CHILD_FLAG));
    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
