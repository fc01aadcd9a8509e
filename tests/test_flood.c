/* test_flood.c: one source floods the real hcs with logins or connections (issue 10, items 1,
 * 3 and 4); an honest patient from another loopback address logs in and books all the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define ATTACKER "127.0.0.2" /* the flooding source; the honest patient is 127.0.0.1 */
#define BURST 2000           /* fake logins of the burst */
#define BURST_SYNC 300       /* the honest patient starts once this many were sent */
#define HOLD 1000            /* connections the slot-filler opens */
#define TARGET_MS 2000       /* the honest patient logs in and books within this */
#define MAXFDS (HOLD + 64)

/* Hashes ($6$, 50000 rounds: some 17 ms each, as yescrypt's default) of the users' passwords. */
#define HONEST_PW "Honest-pw-1"
#define HONEST_HASH                                                                                \
    "$6$rounds=50000$honestsa$6WWCr7d1Z8TQsTsoJOedvX/K.STIrcOUALU7posvzkibb9/YTsWzDlJYCLpzSQTZO"   \
    "p6RIOfkTSGqX9r6pkTwQ0"
#define PATIENT_HASH                                                                               \
    "$6$rounds=50000$patients$FGpZA2vVl5xMddBCkMyj6adNIYwEdkfy0TuIQEiFDk0ELVEZvJCgJhNvYKMmjXeg9"   \
    "SqxnBQ8WWO3WMgDk3HCG."
/* 150000 rounds (some 50 ms), password "Share-pw-1". */
#define SHARE_PW "Share-pw-1"
#define SHARE_HASH                                                                                 \
    "$6$rounds=150000$sharesal$NIQyqoJ85OpAXFHXoBfnVavgnY7W1sIqc4W8nnT5WKgbZsNb3W3I0UP2l1nm3MrMd"  \
    "74LR7CFQQ0NP0T0AYEg11"
/* 6,000,000 rounds: a check of some 2 s, longer than auth_timeout. The checksum is made up. */
#define SLOW_HASH                                                                                  \
    "$6$rounds=6000000$slowsalt$OBe.NGLIlNgxquJ7oZtyqGcQ2uNGxl82sQk8P2F12lWKBQQdRKRutlHfCh5OjX5"   \
    "0s7betzs.yhnk9vZCCroca0"

/* 4,000,000 rounds: a check of some 1.5 s, ending between an idle timeout of 1 s and the end
 * of the 2 s linger after it. The checksum is made up. */
#define IDLE_HASH                                                                                  \
    "$6$rounds=4000000$idlesalt$OBe.NGLIlNgxquJ7oZtyqGcQ2uNGxl82sQk8P2F12lWKBQQdRKRutlHfCh5OjX5"   \
    "0s7betzs.yhnk9vZCCroca0"

/* A cheap hash (1000 rounds) of a password the memory of hcs is searched for. */
#define WIPE_PW "Wipe-me-pw-42"
#define WIPE_HASH                                                                                  \
    "$6$rounds=1000$wipesalt$IfUNTVtrGNoBQhQFYKpTj3WE78Ygo2ysrZw22aBXYkQgdSdkEelWqZYav25oN8SL71f"  \
    "4tbLuFlJ5fHRj3vInf."

/* The slots of every center of this file. */
static const struct fixture_slot slots[] = {
    {1, "Mon", "10am", "doc1", 41001},
    {2, "Tue", "11am", "doc2", 41002},
};

static int fds[MAXFDS]; /* the attacker's sockets still open, -1 when closed */
static size_t nfds;

/* Close the attacker's sockets, then the fixture's teardown. */
static int
flood_teardown(void **state)
{
    size_t i;

    for (i = 0; i < nfds; i++)
        if (fds[i] != -1)
            close(fds[i]);
    nfds = 0;
    return fixture_teardown(state);
}

/* Room for the sockets of a test: raise the soft open-file limit towards the hard one. */
static void
raise_nofile(rlim_t want)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* A TCP connection from address src (port chosen by the kernel) to 127.0.0.1:port; -1 on error. */
static int
connect_from(const char *src, unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET}, b = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, src, &a.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
    b.sin_port = htons((uint16_t)port);
    if (fd == -1)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == -1 ||
        connect(fd, (struct sockaddr *)&b, sizeof b) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

/* An attacker's connection kept until the test ends (closed by the teardown). */
static int
attacker(const char *src, unsigned port)
{
    int fd = connect_from(src, port);

    if (fd == -1)
        h_fail("connect from %s: %s", src, strerror(errno));
    assert_true(nfds < MAXFDS);
    fds[nfds++] = fd;
    return fd;
}

/* Send a whole string on a blocking socket. */
static void
send_str(int fd, const char *s)
{
    size_t len = strlen(s);

    if (send(fd, s, len, MSG_NOSIGNAL) != (ssize_t)len)
        h_fail("send: %s", strerror(errno));
}

/* The next line from fd within ms (the harness's processes pumped meanwhile), or NULL. */
static const char *
line_from(int fd, int ms)
{
    static char buf[256];
    long long end = h_now_ms() + ms;
    size_t len = 0;
    char ch;

    while (h_now_ms() < end) {
        struct pollfd p = {fd, POLLIN, 0};

        h_pump(0);
        if (poll(&p, 1, 10) <= 0)
            continue;
        if (read(fd, &ch, 1) != 1)
            return NULL;
        if (ch == '\n') {
            buf[len] = '\0';
            return buf;
        }
        if (len < sizeof buf - 1)
            buf[len++] = ch;
    }
    return NULL;
}

/*
 * Wait until want of the attacker's connections got "error busy" and were
 * closed (or 5 s passed); returns how many did. The others must stay open, silent.
 */
static int
count_busy(int want)
{
    static struct pollfd pf[MAXFDS];
    long long t0 = h_now_ms();
    const char *line;
    int busy = 0;
    size_t i;

    for (i = 0; i < nfds; i++)
        pf[i] = (struct pollfd){fds[i], POLLIN, 0};
    while (busy < want && h_now_ms() - t0 < 5000) {
        h_pump(0);
        if (poll(pf, nfds, 10) <= 0)
            continue;
        for (i = 0; i < nfds; i++) {
            if (pf[i].fd < 0 || pf[i].revents == 0)
                continue;
            line = line_from(pf[i].fd, 1000);
            if (line == NULL || strcmp(line, "error busy") != 0)
                h_fail("connection %zu: \"%s\"", i, line != NULL ? line : "(closed)");
            if (line_from(pf[i].fd, 1000) != NULL)
                h_fail("a refused connection was not closed");
            pf[i].fd = -1;
            busy++;
        }
    }
    return busy;
}

/* Start hcs (-q unless verbose) on users (users.txt text) and extra lines of center.conf. */
static struct fixture *
start_as(void **state, const char *users, const char *config, int verbose)
{
    const struct fixture_opts o = {
        .users_text = users,
        .slots = slots,
        .nslots = sizeof slots / sizeof slots[0],
        .config = config,
        .flag = verbose ? NULL : "-q",
    };

    return fixture_setup(state, &o);
}

/* Start hcs -q on users and extra lines of center.conf. */
static struct fixture *
start(void **state, const char *users, const char *config)
{
    return start_as(state, users, config, 0);
}

/* The honest patient from 127.0.0.1: log in, book slot 1, give it back; how long it took. */
static long long
honest_session(const struct fixture *f, const char *user, const char *password)
{
    long long t0 = h_now_ms(), t;
    struct tconn *c = tc_connect(f->port);

    tc_sendf(c, "authenticate %s %s\n", user, password);
    tc_expect(c, "success");
    tc_sendf(c, "selection 1\n");
    tc_expect(c, "doc1 41001");
    t = h_now_ms() - t0;
    tc_sendf(c, "cancel\n");
    tc_expect(c, "cancelled 1");
    tc_close(c);
    return t;
}

/* The burst, from a child process: n fake logins of patient1, each closed at once. */
static _Noreturn void
burst(unsigned port, int sync)
{
    char line[64];
    int i, fd, failed = 0;

    for (i = 0; i < BURST; i++) {
        if ((fd = connect_from(ATTACKER, port)) == -1) {
            failed++;
            continue;
        }
        snprintf(line, sizeof line, "authenticate patient1 x%d\n", i);
        if (send(fd, line, strlen(line), MSG_NOSIGNAL) == -1)
            failed++;
        close(fd);
        if (i + 1 == BURST_SYNC && write(sync, "s", 1) != 1)
            _exit(2);
    }
    _exit(failed > BURST / 10 ? 1 : 0);
}

/* Wait for the burst's process (started at t0) to end, the harness's processes pumped. */
static void
burst_wait(pid_t pid, int *status, long long t0)
{
    while (waitpid(pid, status, WNOHANG) == 0) {
        h_pump(10);
        if (h_now_ms() - t0 > 4 * h_timeout_ms) {
            kill(pid, SIGKILL);
            h_fail("the burst did not end");
        }
    }
}

/*
 * After a burst: the attacker's next logins must soon be refused for its
 * failed and abandoned logins ("error busy" without a check). A login
 * the center still checks (its burst not all counted yet, as when the
 * burst filled the accept queue and most of it was refused at connect)
 * fails and counts, so at most max_login_failures (30) tries are needed.
 */
static void
expect_refused_for_failures(unsigned port)
{
    const char *line = NULL;
    int fd, i;

    for (i = 0; i <= 30; i++) {
        if ((fd = connect_from(ATTACKER, port)) == -1)
            h_fail("connect from %s: %s", ATTACKER, strerror(errno));
        send_str(fd, "authenticate patient1 not-the-password\n");
        line = line_from(fd, (int)h_timeout_ms);
        close(fd);
        if (line == NULL)
            h_fail("the attacker's login %d after the burst got no answer", i + 1);
        if (strcmp(line, "error busy") == 0)
            return;
        if (strcmp(line, "failure") != 0)
            h_fail("the attacker's login after the burst: \"%s\"", line);
    }
    h_fail("the attacker was still checked after %d failed logins: \"%s\"", i, line);
}

/*
 * A burst of 2,000 fake logins from one address against a hashed
 * users.txt, with config added to center.conf; an honest patient from
 * another address logs in and books within 2 s meanwhile. refused: the
 * burst's source must have been refused for its failed logins. stopped:
 * hcs is stopped (SIGSTOP) for the whole burst, which waits in the accept
 * queue and reaches it at once when it goes on, as on a loaded machine.
 */
static void
burst_case(void **state, const char *config, int refused, int stopped)
{
    struct fixture *f = start(state, "patient1 " PATIENT_HASH "\nhonest " HONEST_HASH "\n", config);
    long long t, t0;
    int sync[2], status = -1;
    const char *err, *p;
    char ch;
    pid_t pid;
    int lines = 0;

    assert_int_equal(pipe(sync), 0);
    if (stopped)
        assert_int_equal(kill(f->hcs->pid, SIGSTOP), 0);
    t0 = h_now_ms();
    if ((pid = fork()) == 0) {
        close(sync[0]);
        burst(f->port, sync[1]);
    }
    assert_true(pid > 0);
    close(sync[1]);
    /* Wait until the burst is well under way, keeping hcs's pipes read. */
    for (;;) {
        struct pollfd pf = {sync[0], POLLIN, 0};

        h_pump(0);
        if (poll(&pf, 1, 10) == 1)
            break;
        if (h_now_ms() - t0 > h_timeout_ms) {
            kill(pid, SIGKILL);
            h_fail("the burst did not get going");
        }
    }
    assert_int_equal(read(sync[0], &ch, 1), 1);
    close(sync[0]);
    if (stopped) { /* the whole burst waits in the accept queue */
        burst_wait(pid, &status, t0);
        assert_int_equal(kill(f->hcs->pid, SIGCONT), 0);
    }
    t = honest_session(f, "honest", HONEST_PW);
    print_message("honest login and booking took %lld ms during a burst of %d fake logins\n", t,
                  BURST);
    if (!stopped)
        burst_wait(pid, &status, t0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        h_fail("the burst's connections failed (status %d)", status);
    if (t > TARGET_MS)
        h_fail("the honest patient took %lld ms to log in and book during the burst", t);
    /* Right after the burst, the honest patient is served at once again. */
    t = honest_session(f, "honest", HONEST_PW);
    if (t > TARGET_MS)
        h_fail("the honest patient took %lld ms after the burst", t);
    if (refused)
        expect_refused_for_failures(f->port);
    fixture_stop(f);
    err = h_stderr(f->hcs);
    for (p = err; (p = strstr(p, "since the last such message")) != NULL; p++)
        lines++;
    /* At most one line a second for each of the three kinds (connections
     * refused, failed logins refused, checks backed up), and the seconds
     * at either end. */
    if (lines > ((h_now_ms() - t0) / 1000 + 2) * 3)
        h_fail("%d refusal warnings in %lld ms", lines, h_now_ms() - t0);
    if (refused && strstr(err, "too many failed logins from this address") == NULL)
        h_fail("the burst's source was never refused: \"%s\"", err);
}

/*
 * 1. The burst with the default limits: the source's share of the checks
 * is bounded and, past its failed or abandoned logins of the minute, it is
 * refused without a hash. The warnings come at most once a second.
 */
static void
test_login_burst(void **state)
{
    burst_case(state, NULL, 1, 0);
}

/*
 * 1a. The same burst all at once (hcs stopped while it is sent): a
 * thousand logins read in one pass are all waiting before any has failed,
 * the rest is refused at connect; the source is refused for its failures
 * right after. CI's loaded machine once ran test_login_burst this way.
 */
static void
test_login_burst_queued(void **state)
{
    FILE *fp = fopen("/proc/sys/net/core/somaxconn", "r");
    int max = 0;

    /* The kernel's accept queue must hold the whole burst (Debian 12's default: 4096). */
    if (fp == NULL || fscanf(fp, "%d", &max) != 1)
        max = 0;
    if (fp != NULL)
        fclose(fp);
    if (max < BURST + 64) {
        print_message("net.core.somaxconn is %d: the accept queue cannot hold %d connections; "
                      "skipped\n",
                      max, BURST);
        skip();
    }
    burst_case(state, NULL, 1, 1);
}

/*
 * 1b. The burst with no per-address limits: the checks of clients that
 * closed are dropped before they run, so the honest login is not queued
 * behind them.
 */
static void
test_login_burst_gone_clients(void **state)
{
    burst_case(state, "max_checks_per_address = 4096\nmax_login_failures = 1000000\n", 0, 0);
}

/* 2. auth_timeout holds while a password check runs: the client is told at once. */
static void
test_auth_timeout_during_check(void **state)
{
    struct fixture *f = start(state, "slow " SLOW_HASH "\n", "auth_timeout = 1\n");
    struct tconn *c = tc_connect(f->port);
    long long t0 = h_now_ms(), t;

    tc_sendf(c, "authenticate slow pw\n");
    tc_expect(c, "error auth-timeout");
    t = h_now_ms() - t0;
    tc_expect_eof(c);
    if (t > 2500)
        h_fail("auth-timeout came after %lld ms, past the 1 s limit", t);
    /* No clean stop here: hcs would first let its worker finish the check, which takes
     * seconds on a loaded machine; the teardown kills it. */
}

/*
 * 2b. idle_timeout shorter than auth_timeout ends a login whose check still
 * runs: the client gets "error idle-timeout" and the close, and the check's
 * late result brings nothing more (it once made the closing connection
 * ready again, counted a login and wrote its answer after the error).
 */
static void
test_idle_timeout_during_check(void **state)
{
    const struct fixture_opts o = {
        .users_text = "slow " IDLE_HASH "\n",
        .slots = slots,
        .nslots = sizeof slots / sizeof slots[0],
        .config = "auth_timeout = 30\nidle_timeout = 1\n",
        .flag = "-v", /* the connection's states on stderr */
    };
    struct fixture *f = fixture_setup(state, &o);
    struct tconn *c = tc_connect(f->port);

    tc_sendf(c, "authenticate slow pw\n");
    tc_expect(c, "error idle-timeout");
    tc_expect_eof(c);
    /* The socket stays open on this side: the center closes it when its linger (2 s) ends,
     * after the check's 2 s. */
    h_wait_stderr(f->hcs, 0, h_str(":%u: closed", c->lport));
    if (strstr(h_stderr(f->hcs), "linger -> ready") != NULL ||
        strstr(h_stdout(f->hcs), "sends the response") != NULL)
        h_fail("the check's result was answered after the idle timeout");
}

/*
 * 3. One source holds at most max_clients_per_address connections: the next
 * ones get "error busy" and the close, and an honest patient from another
 * address still gets in, although the flood is larger than max_clients.
 */
static void
test_slots_per_address(void **state)
{
    struct fixture *f =
        start(state, "honest " HONEST_PW "\n", "max_clients = 600\nmax_clients_per_address = 50\n");
    long long t;
    int i, busy;

    for (i = 0; i < HOLD; i++)
        attacker(ATTACKER, f->port);
    busy = count_busy(HOLD - 50);
    if (busy != HOLD - 50)
        h_fail("%d of %d connections from one address refused, expected %d", busy, HOLD, HOLD - 50);
    t = honest_session(f, "honest", HONEST_PW);
    if (t > TARGET_MS)
        h_fail("the honest patient took %lld ms", t);
    fixture_stop(f);
}

/*
 * 4b. Connections that never log in fill max_clients: the oldest of them
 * makes room ("error busy") for a newcomer, so the honest patient logs in
 * and books at once; the other silent connections stay.
 */
static void
test_room_for_newcomers(void **state)
{
    enum { N = 40 };
    struct fixture *f = start(state, "honest " HONEST_PW "\n", "max_clients = 40\n");
    long long t;
    int i;

    for (i = 0; i < N; i++)
        attacker(ATTACKER, f->port);
    t = honest_session(f, "honest", HONEST_PW);
    if (t > TARGET_MS)
        h_fail("the honest patient took %lld ms", t);
    if (count_busy(1) != 1)
        h_fail("no silent connection made room for the patient");
    fixture_stop(f);
}

/*
 * 4. Past max_login_failures failed logins of a source within a minute, its
 * logins get "error busy" at once, without a check; another address is
 * served as usual.
 */
static void
test_failures_per_address(void **state)
{
    enum { N = 10 };
    struct fixture *f = start(state, "honest " HONEST_PW "\nalice Alice-pw-1\n",
                              "max_login_failures = 10\nmax_user_failures = 100\n");
    const char *line;
    long long t0;
    int c[N], d, i;

    for (i = 0; i < N; i++) {
        c[i] = attacker(ATTACKER, f->port);
        send_str(c[i], "authenticate alice wrong\n");
    }
    for (i = 0; i < N; i++)
        if ((line = line_from(c[i], h_timeout_ms)) == NULL || strcmp(line, "failure") != 0)
            h_fail("guess %d: \"%s\"", i, line != NULL ? line : "(nothing)");
    d = attacker(ATTACKER, f->port);
    t0 = h_now_ms();
    send_str(d, "authenticate alice Alice-pw-1\n");
    if ((line = line_from(d, h_timeout_ms)) == NULL || strcmp(line, "error busy") != 0)
        h_fail("the guess past the limit: \"%s\"", line != NULL ? line : "(nothing)");
    if (h_now_ms() - t0 > 500)
        h_fail("the refusal took %lld ms", h_now_ms() - t0);
    if (line_from(d, 1000) != NULL)
        h_fail("the refused connection was not closed");
    if (honest_session(f, "alice", "Alice-pw-1") > TARGET_MS)
        h_fail("alice from another address was held up");
    fixture_stop(f);
}

/*
 * 5. Failures of one user from many addresses: past max_user_failures, that
 * user's logins wait THROTTLE_DELAY (1 s), whoever asks, and still succeed;
 * other users are served at once.
 */
static void
test_failures_per_user(void **state)
{
    enum { N = 10 };
    struct fixture *f =
        start(state, "victim Victim-pw-1\nother Other-pw-1\n", "max_user_failures = 10\n");
    const char *line;
    long long t;
    char src[32];
    int i, fd;

    for (i = 0; i < N; i++) {
        snprintf(src, sizeof src, "127.0.1.%d", i + 1);
        fd = attacker(src, f->port);
        send_str(fd, "authenticate victim wrong\n");
        if ((line = line_from(fd, h_timeout_ms)) == NULL || strcmp(line, "failure") != 0)
            h_fail("guess %d: \"%s\"", i, line != NULL ? line : "(nothing)");
    }
    t = honest_session(f, "other", "Other-pw-1");
    if (t > 500)
        h_fail("another user waited %lld ms", t);
    t = honest_session(f, "victim", "Victim-pw-1");
    if (t < 900 || t > TARGET_MS)
        h_fail("the guessed user's login took %lld ms, expected about 1000", t);
    fixture_stop(f);
}

/*
 * 6. A source has at most max_checks_per_address password checks queued or
 * running; its other logins wait their turn without a hash, so another
 * address's login is checked before them.
 */
static void
test_check_share(void **state)
{
    enum { N = 6 };
    struct fixture *f = start_as(state, "honest " SHARE_HASH "\nmass " SHARE_HASH "\n",
                                 "max_checks_per_address = 2\n", 1);
    struct pollfd pf[N];
    struct tconn *h;
    const char *line;
    long long t0 = h_now_ms();
    int c[N], i, done = 0, after = 0, honest = 0;

    for (i = 0; i < N; i++) {
        c[i] = attacker(ATTACKER, f->port);
        send_str(c[i], "authenticate mass " SHARE_PW "\n");
    }
    /* The attacker's logins reach hcs before the honest one. */
    for (i = 0; i < N; i++)
        h_wait_prefix(f->hcs, "Phase 1: The Health Center Server has received request from a "
                              "patient with username mass ");
    h = tc_connect(f->port);
    tc_sendf(h, "authenticate honest %s\n", SHARE_PW);
    while (done < N && h_now_ms() - t0 < h_timeout_ms) {
        for (i = 0; i < N; i++)
            pf[i] = (struct pollfd){c[i], POLLIN, 0};
        if (!honest && tc_ready(h)) {
            assert_string_equal(tc_line(h, 0), "success");
            honest = 1;
        }
        h_pump(0);
        if (poll(pf, N, 10) <= 0)
            continue;
        for (i = 0; i < N; i++)
            if (pf[i].revents != 0 && c[i] != -1) {
                if ((line = line_from(c[i], 1000)) == NULL || strcmp(line, "success") != 0)
                    h_fail("login %d: \"%s\"", i, line != NULL ? line : "(nothing)");
                after += honest;
                done++;
                c[i] = -1;
            }
    }
    if (done < N)
        h_fail("%d of %d logins from one address answered", done, N);
    if (after < N - 3)
        h_fail("only %d of %d logins of the busy address were answered after the other one", after,
               N);
    tc_close(h);
    fixture_stop(f);
}

/* Whether the n bytes at p hold the len bytes of s. */
static int
holds(const char *p, size_t n, const char *s, size_t len)
{
    const char *q, *end = p + n;

    for (; n >= len && (q = memchr(p, s[0], n - len + 1)) != NULL; n = (size_t)(end - p)) {
        if (memcmp(q, s, len) == 0)
            return 1;
        p = q + 1;
    }
    return 0;
}

/* Whether the process's writable memory holds the string s (read through /proc/pid/mem). */
static int
memory_holds(pid_t pid, const char *s)
{
    enum { CHUNK = 1 << 20, MAXREGION = 1 << 28 };
    size_t len = strlen(s), off;
    unsigned long lo, hi;
    char perms[8], line[512];
    static char buf[CHUNK];
    FILE *maps = fopen(h_str("/proc/%d/maps", (int)pid), "r");
    FILE *mem = fopen(h_str("/proc/%d/mem", (int)pid), "rb");
    int found = 0;
    size_t n;

    if (maps == NULL || mem == NULL)
        h_fail("cannot read the memory of hcs: %s", strerror(errno));
    while (!found && fgets(line, sizeof line, maps) != NULL) {
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
            perms[1] != 'w' || hi - lo > MAXREGION)
            continue;
        for (off = 0; !found && lo + off < hi; off += CHUNK - len) {
            if (fseeko(mem, (off_t)(lo + off), SEEK_SET) != 0)
                break;
            n = fread(buf, 1, hi - lo - off < CHUNK ? hi - lo - off : CHUNK, mem);
            found = holds(buf, n, s, len);
            if (n < CHUNK)
                break;
        }
    }
    fclose(maps);
    fclose(mem);
    return found;
}

/*
 * 7. Once a login line is handled, its password is in no buffer of hcs: not
 * in the shared read buffer, nor in the input it kept of a connection.
 */
static void
test_password_wiped(void **state)
{
    struct fixture *f = start(state, "honest " WIPE_HASH "\n", NULL);
    struct tconn *c = tc_connect(f->port), *d;

    tc_sendf(c, "authenticate honest %s\nappointment\n", WIPE_PW);
    tc_expect(c, "success");
    tc_expect(c, "appointment none");
    /* A wrong guess of it, split over two reads, and a short line after. */
    d = tc_connect(f->port);
    tc_sendf(d, "authenticate honest %.6s", WIPE_PW);
    tc_sendf(c, "available\n");
    tc_expect(c, "slots 2");
    tc_expect(c, "1 Mon 10am");
    tc_expect(c, "2 Tue 11am");
    tc_sendf(d, "%sx\n", WIPE_PW + 6);
    tc_expect(d, "failure");
    tc_sendf(c, "appointment\n");
    tc_expect(c, "appointment none");
    if (memory_holds(f->hcs->pid, WIPE_PW))
        h_fail("the password is still in the memory of hcs after the login");
    /* The scan does find what is there: the hash of users.txt. */
    if (!memory_holds(f->hcs->pid, WIPE_HASH + 30))
        h_fail("the memory scan finds nothing");
    tc_close(c);
    fixture_stop(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_login_burst, flood_teardown),
        cmocka_unit_test_teardown(test_login_burst_queued, flood_teardown),
        cmocka_unit_test_teardown(test_login_burst_gone_clients, flood_teardown),
        cmocka_unit_test_teardown(test_auth_timeout_during_check, flood_teardown),
        cmocka_unit_test_teardown(test_idle_timeout_during_check, flood_teardown),
        cmocka_unit_test_teardown(test_slots_per_address, flood_teardown),
        cmocka_unit_test_teardown(test_room_for_newcomers, flood_teardown),
        cmocka_unit_test_teardown(test_failures_per_address, flood_teardown),
        cmocka_unit_test_teardown(test_failures_per_user, flood_teardown),
        cmocka_unit_test_teardown(test_check_share, flood_teardown),
        cmocka_unit_test_teardown(test_password_wiped, flood_teardown),
    };

    raise_nofile(MAXFDS * 3);
    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
