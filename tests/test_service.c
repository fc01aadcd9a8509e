/* test_service.c: the real hcs and doctor under a service manager's eyes: log priorities
 * when $JOURNAL_STREAM names stderr (or stdout), timestamps when stderr is a file, --syslog
 * keeping stderr quiet, and the sd_notify datagrams (READY, RELOADING, STOPPING) on a unix
 * socket the test binds and names in $NOTIFY_SOCKET. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

/* A shell prefix giving $JOURNAL_STREAM the dev:ino of the shell's descriptor fd (the pipe
 * the harness reads), as systemd gives a service's stderr connected to the journal. */
#define JOURNAL_OF(fd) "export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/$$/fd/" #fd ")"

static const struct fixture_user users[] = {
    {"ann", "pw-ann-1"},
};

static const struct fixture_slot slots[] = {
    {2, "Mon", "09am", "house", 41001},
};

/* A center on the test data: shell runs before it, flag is one option of hcs. */
static struct fixture *
start(void **state, const char *shell, const char *flag)
{
    struct fixture_opts o = {0};

    o.users = users;
    o.nusers = 1;
    o.slots = slots;
    o.nslots = 1;
    o.shell = shell;
    o.flag = flag;
    return fixture_setup(state, &o);
}

/* Every line of text must start with a priority "<N>"; returns the number of lines. */
static int
all_prioritized(const char *text)
{
    int n = 0;

    while (*text != '\0') {
        const char *nl = strchr(text, '\n');

        if (text[0] != '<' || text[1] < '0' || text[1] > '7' || text[2] != '>')
            h_fail("a log line without a priority: %.*s", (int)(nl ? nl - text : 80), text);
        n++;
        if (nl == NULL)
            break;
        text = nl + 1;
    }
    return n;
}

/*
 * stderr is the journal: the clear-password warning is <4>, a failed login and the stop are
 * <6>, -v's connection states <7>, and every line has one; stdout (another pipe) keeps the
 * classic screen lines as they are (the fixture reads the start-up line exactly).
 */
static void
test_journal_stderr(void **state)
{
    struct fixture *f = start(state, JOURNAL_OF(2), "-v");
    struct tconn *c = tc_connect(f->port);

    tc_sendf(c, "authenticate ann wrong-pw\n");
    tc_expect(c, "failure");
    h_wait_stderr(f->hcs, 0, "<6>hcs: failed login for ann from 127.0.0.1");
    fixture_stop(f);
    assert_non_null(strstr(h_stderr(f->hcs), "<4>hcs: "));
    assert_non_null(strstr(h_stderr(f->hcs), "1 of 1 password is stored in clear"));
    assert_non_null(strstr(h_stderr(f->hcs), "\n<7>hcs: "));
    assert_non_null(strstr(h_stderr(f->hcs), "<6>hcs: caught signal 15, stopping\n"));
    /* -v's counters, a block of lines, each with its priority. */
    assert_non_null(strstr(h_stderr(f->hcs), "\n<6>connections 1\n"));
    assert_true(all_prioritized(h_stderr(f->hcs)) >= 5);
}

/* stdout is the journal: the screen lines are given the info priority, and nothing else
 * changes in them. */
static void
test_journal_stdout(void **state)
{
    struct fixture_opts o = {0};
    struct fixture *f;
    struct hproc *p;

    o.users = users;
    o.nusers = 1;
    o.slots = slots;
    o.nslots = 1;
    o.files_only = 1;
    f = fixture_setup(state, &o);
    p = h_start("hcs", NULL, "/bin/sh", "-c", JOURNAL_OF(1) " && exec \"$0\" --config \"$1\"",
                h_str("%s/hcs", HCS_BIN_DIR), f->conf, NULL);
    h_expect_port(p, "<6>Phase 1: The Health Center Server has port number ",
                  " and IP address 127.0.0.1.");
    assert_int_equal(h_stop(p), 0);
    /* stderr is not the journal here: its lines stay as they were. */
    assert_non_null(strstr(h_stderr(p), "hcs: caught signal 15, stopping"));
    assert_null(strstr(h_stderr(p), "<6>"));
}

/* A configuration error in the journal is an error: <3> before each file:line line. */
static void
test_journal_config_error(void **state)
{
    const char *dir = h_tmpdir();
    const char *conf = h_file(dir, "center.conf", "[center]\nport = 99999\nbogus = 1\n");
    struct hproc *p;

    (void)state;
    p = h_start("hcs", NULL, "/bin/sh", "-c", JOURNAL_OF(2) " && exec \"$0\" --config \"$1\"",
                h_str("%s/hcs", HCS_BIN_DIR), conf, NULL);
    assert_int_equal(h_wait(p), 1);
    assert_non_null(strstr(h_stderr(p), h_str("<3>%s:2: ", conf)));
    assert_non_null(strstr(h_stderr(p), h_str("<3>%s:3: ", conf)));
    assert_true(all_prioritized(h_stderr(p)) >= 2);
}

/* stderr a regular file: each log line starts with the local date and time. */
static void
test_file_timestamps(void **state)
{
    struct fixture *f;
    const char *log, *text;
    FILE *fp;
    char line[512];
    int n = 0;

    f = start(state, "exec 2>>\"$(dirname \"$1\")/hcs.log\"", NULL);
    log = h_path(f->dir, "hcs.log");
    fixture_stop(f);
    assert_non_null(fp = fopen(log, "r"));
    while (fgets(line, sizeof line, fp) != NULL) {
        /* 2026-12-01T13:48:00.123+0000 hcs: ... */
        if (strlen(line) < 30 || line[4] != '-' || line[7] != '-' || line[10] != 'T' ||
            line[13] != ':' || line[16] != ':' || line[19] != '.' ||
            (line[23] != '+' && line[23] != '-') || line[28] != ' ')
            h_fail("a line of %s without a timestamp: %s", log, line);
        n++;
        text = line + 29;
        if (strcmp(text, "hcs: caught signal 15, stopping\n") == 0)
            n += 100;
    }
    fclose(fp);
    assert_true(n > 100);
}

/* --syslog: the log goes to syslog(3), not stderr (the screen lines stay on stdout). */
static void
test_syslog(void **state)
{
    struct fixture *f = start(state, NULL, "--syslog");

    fixture_stop(f);
    assert_null(strstr(h_stderr(f->hcs), "caught signal"));
    assert_null(strstr(h_stderr(f->hcs), "stored in clear"));
}

/* Bind a datagram socket on a fresh abstract name; *name gets "@..." for $NOTIFY_SOCKET. */
static int
notify_socket(const char **name)
{
    static unsigned seq;
    struct sockaddr_un sun;
    socklen_t len;
    int fd;

    *name = h_str("@hcs-test-service-%ld-%u", (long)getpid(), seq++);
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path + 1, *name + 1, strlen(*name) - 1);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(*name));
    assert_true((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
    return fd;
}

/* The next datagram on fd must be want, within the harness's deadline. */
static void
expect_notify(int fd, const char *want)
{
    long long end = h_now_ms() + h_timeout_ms;
    char buf[256];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT)) == -1) {
        if (h_now_ms() > end)
            h_fail("no datagram \"%s\" on the notify socket", want);
        h_pump(20);
    }
    buf[n] = '\0';
    if (strcmp(buf, want) != 0)
        h_fail("notify socket: \"%s\", expected \"%s\"", buf, want);
}

/* Nothing more on fd for a moment. */
static void
expect_no_notify(int fd)
{
    char buf[256];

    h_pump(100);
    assert_int_equal(recv(fd, buf, sizeof buf, MSG_DONTWAIT), -1);
}

/* hcs tells READY=1 once it listens, RELOADING=1 and READY=1 around a SIGHUP reload (a bad
 * file too), and STOPPING=1 on SIGTERM. */
static void
test_notify_hcs(void **state)
{
    const char *name;
    int fd = notify_socket(&name);
    struct fixture *f = start(state, h_str("export NOTIFY_SOCKET=%s", name), NULL);
    size_t before;

    expect_notify(fd, "READY=1");
    expect_no_notify(fd);
    before = strlen(h_stderr(f->hcs));
    assert_int_equal(kill(f->hcs->pid, SIGHUP), 0);
    expect_notify(fd, "RELOADING=1");
    expect_notify(fd, "READY=1");
    h_wait_stderr(f->hcs, before, "hcs: reload: ");
    h_file(f->dir, "availabilities.txt", "x Mon 09am house 41001\n");
    assert_int_equal(kill(f->hcs->pid, SIGHUP), 0);
    expect_notify(fd, "RELOADING=1");
    expect_notify(fd, "READY=1");
    h_wait_stderr(f->hcs, before, "nothing changed");
    fixture_stop(f);
    expect_notify(fd, "STOPPING=1");
    expect_no_notify(fd);
    close(fd);
}

/* The doctor too: READY=1 once bound, RELOADING=1 and READY=1 on SIGHUP, STOPPING=1. */
static void
test_notify_doctor(void **state)
{
    const char *name, *env[2], *args[3], *dir = h_tmpdir();
    int fd = notify_socket(&name);
    unsigned port;
    struct hproc *d;

    (void)state;
    env[0] = h_str("NOTIFY_SOCKET=%s", name);
    env[1] = NULL;
    args[0] = "--config";
    args[1] = h_path(dir, "doctor1.conf");
    args[2] = NULL;
    d = fixture_doctor(dir, 1, "house", "plan1 30\n", env, args, &port);
    expect_notify(fd, "READY=1");
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    expect_notify(fd, "RELOADING=1");
    expect_notify(fd, "READY=1");
    assert_int_equal(h_stop(d), 0);
    expect_notify(fd, "STOPPING=1");
    close(fd);
}

/* Without $NOTIFY_SOCKET nothing is sent and nothing is said about it. */
static void
test_no_notify_socket(void **state)
{
    struct fixture *f = start(state, "unset NOTIFY_SOCKET", NULL);

    assert_int_equal(kill(f->hcs->pid, SIGHUP), 0);
    h_wait_stderr(f->hcs, 0, "hcs: reload: ");
    fixture_stop(f);
    assert_null(strstr(h_stderr(f->hcs), "NOTIFY_SOCKET"));
}

/* A $NOTIFY_SOCKET nobody listens at: hcs says so and serves all the same. */
static void
test_notify_nobody(void **state)
{
    struct fixture *f = start(state, "export NOTIFY_SOCKET=/nonexistent/notify", NULL);
    struct tconn *c;

    h_wait_stderr(f->hcs, 0, "hcs: cannot tell the service manager READY=1 (NOTIFY_SOCKET): ");
    c = fixture_login(f, "ann", "pw-ann-1");
    tc_sendf(c, "selection 2\n");
    tc_expect(c, "house 41001");
    fixture_stop(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_journal_stderr, fixture_teardown),
        cmocka_unit_test_teardown(test_journal_stdout, fixture_teardown),
        cmocka_unit_test_teardown(test_journal_config_error, fixture_teardown),
        cmocka_unit_test_teardown(test_file_timestamps, fixture_teardown),
        cmocka_unit_test_teardown(test_syslog, fixture_teardown),
        cmocka_unit_test_teardown(test_notify_hcs, fixture_teardown),
        cmocka_unit_test_teardown(test_notify_doctor, fixture_teardown),
        cmocka_unit_test_teardown(test_no_notify_socket, fixture_teardown),
        cmocka_unit_test_teardown(test_notify_nobody, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
