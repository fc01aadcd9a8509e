/* test_firstweek.c: the tests a mutation run found missing (issue 9): bookings seen before a
 * SIGTERM survive it, durability = full syncs every commit, a client that speaks outlives
 * idle_timeout, nothing follows a closing error, and a push comes within 100 ms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#ifndef HCS_BIN_DIR
#define HCS_BIN_DIR "."
#endif

#define NUSERS 120
#define NSLOTS 120
#define STORM 60           /* patients booking at once when SIGTERM comes */
#define NSYNC 20           /* bookings made one after another under strace */
#define IDLE_SECS 2        /* idle_timeout of the idle test */
#define PUSH_ROUNDS 20     /* changes whose push is timed */
#define PUSH_BOUND_MS 100  /* the bound on a push's delay (pushes wait 5 ms by design) */
#define QUEUED_CHANGES 100 /* bookings and cancels while the closing error waits */

/* The doctor names of the slots. */
static const char *const doctors[] = {"doc0", "doc1", "doc2"};

/* The users and slots of most tests: u<i>/pw<i>; slot i on Mon 10am with doc<i % 3>. */
static struct fixture_user fw_users[NUSERS];
static struct fixture_slot fw_slots[NSLOTS];

/* Write a center of the test users and slots (fw_slots if NULL); start it unless files_only. */
static struct fixture *
fw_setup(void **state, const struct fixture_slot *slots, size_t nslots, const char *config,
         const char *flag, int files_only)
{
    struct fixture_opts o = {
        .users = fw_users,
        .nusers = NUSERS,
        .slots = slots != NULL ? slots : fw_slots,
        .nslots = slots != NULL ? nslots : NSLOTS,
        .config = config,
        .flag = flag,
        .files_only = files_only,
    };
    int i;

    for (i = 0; i < NUSERS; i++)
        fw_users[i] = (struct fixture_user){h_str("u%d", i), h_str("pw%d", i)};
    for (i = 1; i <= NSLOTS; i++)
        fw_slots[i - 1] = (struct fixture_slot){(unsigned)i, "Mon", "10am", doctors[i % 3],
                                                (unsigned)(41000 + i % 3)};
    return fixture_setup(state, &o);
}

/* A new connection logged in as u<i>. */
static struct tconn *
fw_login(const struct fixture *f, int i)
{
    return fixture_login(f, h_str("u%d", i), h_str("pw%d", i));
}

/* The answer "appointment" gets when slot index of fw_slots is held. */
static const char *
fw_appointment(unsigned index)
{
    return h_str("appointment %u Mon 10am doc%u %u", index, index % 3, 41000 + index % 3);
}

/* The slot an answer to "appointment" names: 0 for "appointment none". */
static unsigned
fw_held(const char *line, int user)
{
    unsigned index;

    if (strcmp(line, "appointment none") == 0)
        return 0;
    if (sscanf(line, "appointment %u ", &index) != 1 || strcmp(line, fw_appointment(index)) != 0)
        h_fail("u%d: unexpected answer \"%s\"", user, line);
    return index;
}

/*
 * 1. SIGTERM while bookings are still being committed. The test holds the
 * store's write lock, so the first batch waits in the writer thread and the
 * storm behind it is staged. Nothing is shown before it is stored: a second
 * connection of the same user sees no booking through "appointment" while
 * the lock is held; every booking seen before SIGTERM must be in the store
 * after the restart, and no user holds a slot it did not ask for.
 */
static void
test_sigterm_keeps_seen(void **state)
{
    struct tconn *booker[STORM], *watcher[STORM];
    unsigned seen[STORM];
    const char *line;
    struct fixture *f;
    sqlite3 *db;
    int i, nseen = 0;

    f = fw_setup(state, NULL, 0, "state = state.db\n", "-q", 0);
    for (i = 0; i < STORM; i++) {
        booker[i] = fw_login(f, i);
        watcher[i] = fw_login(f, i);
        seen[i] = 0;
    }
    assert_int_equal(sqlite3_open(h_path(f->dir, "state.db"), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    /* Waves 1 and 2: half the storm; the answers wait for the store, and so does what the
     * watchers are shown. */
    for (i = 0; i <= STORM / 2; i++)
        tc_sendf(booker[i], "selection %d\n", i + 1);
    for (i = 0; i <= STORM / 2; i++) {
        tc_sendf(watcher[i], "appointment\n");
        if ((line = tc_line(watcher[i], h_timeout_ms)) == NULL)
            h_fail("u%d: no answer to appointment", i);
        if (strcmp(line, "appointment none") != 0)
            h_fail("u%d: shown \"%s\" while its booking cannot have been stored", i, line);
    }
    /* Wave 3: the rest of the storm and its watchers' questions, with SIGTERM right behind. */
    for (i = STORM / 2 + 1; i < STORM; i++) {
        tc_sendf(booker[i], "selection %d\n", i + 1);
        tc_sendf(watcher[i], "appointment\n");
    }
    kill(f->hcs->pid, SIGTERM);
    /* Whatever a watcher is told before the end counts as seen. Every connection ends
     * before hcs writes what is staged, which waits for the lock the test still holds. */
    for (i = 0; i < STORM; i++) {
        while ((line = tc_line(watcher[i], h_timeout_ms)) != NULL)
            if (seen[i] == 0)
                seen[i] = fw_held(line, i);
        if (watcher[i]->end == TC_OPEN)
            h_fail("u%d: the watcher is still open after SIGTERM", i);
        if (tc_drain(booker[i], h_timeout_ms, NULL) == TC_OPEN)
            h_fail("u%d: the booker is still open after SIGTERM", i);
    }
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    if (h_wait(f->hcs) != 0)
        h_fail("hcs did not exit 0 after SIGTERM");

    fixture_start(f);
    for (i = 0; i < STORM; i++) {
        struct tconn *c = fw_login(f, i);
        unsigned held;

        tc_sendf(c, "appointment\n");
        if ((line = tc_line(c, h_timeout_ms)) == NULL)
            h_fail("u%d: no answer to appointment after the restart", i);
        held = fw_held(line, i);
        if (seen[i] != 0 && held != seen[i])
            h_fail("u%d was seen holding slot %u before SIGTERM; after the restart: \"%s\"", i,
                   seen[i], line);
        if (held != 0 && held != (unsigned)i + 1)
            h_fail("u%d holds slot %u, which it never asked for", i, held);
        nseen += seen[i] != 0;
        tc_close(c);
    }
    print_message("%d of %d bookings were seen before SIGTERM, all kept\n", nseen, STORM);
    fixture_stop(f);
}

/* The first program named prog on $PATH, or NULL. */
static const char *
fw_which(const char *prog)
{
    const char *path = getenv("PATH"), *p, *end;

    for (p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0'; p = *end ? end + 1 : end) {
        const char *cand;

        end = strchr(p, ':');
        if (end == NULL)
            end = p + strlen(p);
        cand = h_str("%.*s/%s", (int)(end - p), p, prog);
        if (end > p && access(cand, X_OK) == 0)
            return cand;
    }
    return NULL;
}

/* The process whose parent is parent (the program strace started), or -1. */
static pid_t
fw_child_of(pid_t parent)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = -1;

    if (d == NULL)
        return -1;
    while (found == -1 && (e = readdir(d)) != NULL) {
        char path[300], buf[512], *p;
        int ppid;
        size_t n;
        FILE *fp;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        if ((fp = fopen(path, "r")) == NULL)
            continue;
        n = fread(buf, 1, sizeof buf - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        /* The parent's pid is the second field after the command name, which ends at the last ')'.
         */
        if ((p = strrchr(buf, ')')) != NULL && sscanf(p + 1, " %*c %d", &ppid) == 1 &&
            ppid == (int)parent)
            found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

/*
 * Run hcs with a state file and the given durability under strace, make
 * NSYNC bookings one after another (each waits for its answer, so each is a
 * commit of its own), stop it, and return how many fsync/fdatasync calls
 * named the WAL file.
 */
static int
fw_wal_syncs(void **state, const char *durability)
{
    const char *strace = fw_which("strace"), *trace, *asan = getenv("ASAN_OPTIONS");
    const char *env[2] = {NULL, NULL};
    struct fixture *f;
    char text[512];
    int i, wal = 0, all = 0;
    pid_t pid;
    FILE *fp;

    if (strace == NULL)
        h_fail("strace is not installed (scripts/deps.sh installs it)");
    f = fw_setup(state, NULL, 0, h_str("state = state.db\ndurability = %s\n", durability), NULL, 1);
    trace = h_path(f->dir, "syncs.txt");
    /* LeakSanitizer cannot run under ptrace: the sanitizer build checks leaks elsewhere. */
    env[0] = h_str("ASAN_OPTIONS=%s%sdetect_leaks=0", asan != NULL ? asan : "",
                   asan != NULL && *asan != '\0' ? ":" : "");
    f->hcs = h_start("hcs", env, strace, "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-e",
                     "signal=none", "-o", trace, h_str("%s/hcs", HCS_BIN_DIR), "-q", "--config",
                     f->conf, NULL);
    f->port = h_expect_port(f->hcs, "Phase 1: The Health Center Server has port number ",
                            " and IP address 127.0.0.1.");
    for (i = 0; i < NSYNC; i++) {
        struct tconn *c = fw_login(f, i);

        tc_sendf(c, "selection %d\n", i + 1);
        tc_expectf(c, "doc%d %d", (i + 1) % 3, 41000 + (i + 1) % 3);
        tc_close(c);
    }
    /* strace keeps fatal signals from itself while it runs a program: stop hcs itself. */
    if ((pid = fw_child_of(f->hcs->pid)) == -1)
        h_fail("cannot find the hcs that strace runs");
    kill(pid, SIGTERM);
    if (h_wait(f->hcs) != 0)
        h_fail("hcs under strace did not exit 0 after SIGTERM");
    if ((fp = fopen(trace, "r")) == NULL)
        h_fail("strace wrote no %s", trace);
    while (fgets(text, sizeof text, fp) != NULL) {
        if (strstr(text, "fsync(") == NULL && strstr(text, "fdatasync(") == NULL)
            continue;
        all++;
        wal += strstr(text, "state.db-wal>") != NULL;
    }
    fclose(fp);
    print_message("durability = %s: %d syncs of the WAL, %d in all, for %d commits\n", durability,
                  wal, all, NSYNC);
    return wal;
}

/* 2. durability = full syncs the WAL at every confirmed commit; normal does not. */
static void
test_durability_full_syncs(void **state)
{
    int full = fw_wal_syncs(state, "full");
    int normal = fw_wal_syncs(state, "normal");

    if (full < NSYNC)
        h_fail("durability = full: %d syncs of the WAL for %d confirmed commits", full, NSYNC);
    if (normal > NSYNC / 4)
        h_fail("durability = normal: %d syncs of the WAL for %d commits, expected a few at most",
               normal, NSYNC);
}

/*
 * 3. idle_timeout counts from the last complete line: a client that sends one
 * every 500 ms stays for four timeouts, while a silent one is closed. (The
 * center's idle clock counts whole seconds, so a silence of just over
 * idle_timeout - 1 s can already end a client: 500 ms stays clear of that.)
 */
static void
test_idle_speaker_stays(void **state)
{
    struct tconn *talker, *silent;
    long long t0, silent_ms = -1;
    struct fixture *f;
    int k;

    f = fw_setup(state, NULL, 0, h_str("idle_timeout = %d\n", IDLE_SECS), "-q", 0);
    talker = fw_login(f, 0);
    silent = fw_login(f, 1);
    t0 = h_now_ms();
    for (k = 1; k <= 8 * IDLE_SECS; k++) {
        long long until = t0 + k * 500, left;

        /* The pause waits on the silent one: its error and its close may come meanwhile. */
        while ((left = until - h_now_ms()) > 0) {
            if (silent_ms < 0 && tc_ready(silent)) {
                silent_ms = h_now_ms() - t0;
                tc_expect(silent, "error idle-timeout");
                tc_expect_eof(silent);
            }
            tc_recv(silent_ms < 0 ? silent : talker, (int)left);
        }
        tc_sendf(talker, "appointment\n");
        tc_expect(talker, "appointment none");
    }
    if (silent_ms < 0)
        h_fail("the silent client was not closed within %d s", 4 * IDLE_SECS);
    if (silent_ms < (IDLE_SECS - 1) * 1000 - 100 || silent_ms > (IDLE_SECS + 2) * 1000)
        h_fail("the silent client was closed after %lld ms, idle_timeout is %d s", silent_ms,
               IDLE_SECS);
    tc_sendf(talker, "selection 5\n");
    tc_expect(talker, "doc2 41002");
    tc_close(talker);
    fixture_stop(f);
}

/* Book slot index on b and give it back, pairs times, each answer awaited. */
static void
fw_book_cancel(struct tconn *b, unsigned index, int pairs)
{
    int k;

    for (k = 0; k < pairs; k++) {
        tc_sendf(b, "selection %u\n", index);
        tc_expectf(b, "doc%u %u", index % 3, 41000 + index % 3);
        tc_sendf(b, "cancel\n");
        tc_expectf(b, "cancelled %u", index);
    }
}

/* Take n's bytes up to expect_len: they must go on with expect from *off (the rest stays). */
static void
fw_take(struct tconn *n, const char *expect, size_t expect_len, size_t *off)
{
    size_t k = n->len < expect_len - *off ? n->len : expect_len - *off;

    if (memcmp(n->buf, expect + *off, k) != 0)
        h_fail("subscriber: the bytes from %zu on are not the list and the error line (%.60s)",
               *off, n->buf);
    *off += k;
    n->len -= k;
    memmove(n->buf, n->buf + k, n->len);
}

/* The most a TCP socket's send buffer may grow to (tcp_wmem's maximum). */
static size_t
fw_wmem_max(void)
{
    unsigned long lo, def, max = 4194304;
    FILE *fp = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");

    if (fp != NULL) {
        if (fscanf(fp, "%lu %lu %lu", &lo, &def, &max) != 3)
            max = 4194304;
        fclose(fp);
    }
    return (size_t)max;
}

/*
 * 4. Nothing follows a closing error line, even when the schedule changes
 * while that line still waits to be written. The schedule's list is longer
 * than the most a socket's send buffer holds; a subscriber that reads
 * through a small window sends "available" and, in the same packet, a
 * partial line over max_line. The center queues the list, then the error
 * line behind it (a partial line over the limit is refused however much
 * output waits): the error waits. The center logs (-v) the move to "closing"
 * when it queues the error and to "linger" once it is written; in between,
 * another patient books and cancels. The subscriber must then read exactly
 * the list, the error line and the end: no push after the error.
 */
static void
test_queued_error_then_eof(void **state)
{
    size_t wmem = fw_wmem_max(), nslots = wmem / 12 + 10000, len = 0, off = 0, i;
    struct fixture_slot *many = h_alloc(nslots * sizeof *many);
    char *expect = h_alloc(nslots * 24 + 64);
    const char *closing, *linger;
    long long t0;
    struct tconn *n, *b;
    struct fixture *f;

    len = (size_t)sprintf(expect, "slots %zu\n", nslots);
    for (i = 0; i < nslots; i++) {
        many[i] = (struct fixture_slot){(unsigned)i + 1, "Mon", "10am", doctors[(i + 1) % 3],
                                        (unsigned)(41000 + (i + 1) % 3)};
        len += (size_t)sprintf(expect + len, "%zu Mon 10am\n", i + 1);
    }
    assert_true(len > wmem + 65536);
    len += (size_t)sprintf(expect + len, "error line-too-long\n");
    /* max_output well above the list, so that nothing but the error ends the subscriber. */
    f = fw_setup(state, many, nslots, h_str("max_line = 64\nmax_output = %zu\n", 4 * len), "-qv",
                 0);
    b = fw_login(f, 1);
    n = tc_connect_rcvbuf(f->port, 4096);
    fixture_auth(n, "u0", "pw0");
    closing = h_str("127.0.0.1:%u: ready -> closing", n->lport);
    linger = h_str("127.0.0.1:%u: closing -> linger", n->lport);
    tc_sendf(n, "available\n%0100d", 0);
    h_wait_stderr(f->hcs, 0, closing);
    t0 = h_now_ms();
    if (strstr(h_stderr(f->hcs), linger) != NULL)
        h_fail("the error line did not wait behind a list of %zu bytes", len);
    /* The error line waits behind the list: the schedule changes meanwhile. */
    fw_book_cancel(b, 7, QUEUED_CHANGES);
    while (off < len) {
        if (!tc_recv(n, h_timeout_ms))
            h_fail("the subscriber's connection ended (%s) after %zu of %zu bytes",
                   tc_end_name(n->end), off, len);
        fw_take(n, expect, len, &off);
    }
    tc_expect_eof(n);
    print_message("%zu bytes read in %lld ms after the error was queued\n", len, h_now_ms() - t0);
    tc_close(n);
    tc_sendf(b, "appointment\n");
    tc_expect(b, "appointment none");
    tc_close(b);
    fixture_stop(f);
}

/*
 * 5. A push reaches a waiting patient within 100 ms of the change, measured
 * from the booking patient's answer to the watcher's line. Pushes are sent
 * within 5 ms by design (changes that close share one write), so 100 ms on
 * loopback leaves a margin of twenty times for a busy machine.
 */
static void
test_push_latency(void **state)
{
    struct tconn *w, *b;
    struct fixture *f;
    long long worst = 0, sum = 0;
    int k, i;

    f = fw_setup(state, NULL, 0, NULL, "-q", 0);
    w = fw_login(f, 0);
    tc_sendf(w, "available\n");
    tc_expectf(w, "slots %d", NSLOTS);
    for (i = 1; i <= NSLOTS; i++)
        tc_expectf(w, "%d Mon 10am", i);
    b = fw_login(f, 1);
    for (k = 0; k < PUSH_ROUNDS; k++) {
        long long answered, lat;
        const char *line;

        if (k % 2 == 0) {
            tc_sendf(b, "selection 7\n");
            tc_expect(b, "doc1 41001");
        } else {
            tc_sendf(b, "cancel\n");
            tc_expect(b, "cancelled 7");
        }
        answered = h_now_ms();
        if ((line = tc_line(w, h_timeout_ms)) == NULL)
            h_fail("round %d: no push within %d ms", k, h_timeout_ms);
        lat = h_now_ms() - answered;
        if (strcmp(line, k % 2 == 0 ? "* reserved 7" : "* released 7 Mon 10am") != 0)
            h_fail("round %d: unexpected push \"%s\"", k, line);
        sum += lat;
        if (lat > worst)
            worst = lat;
    }
    print_message("push delay after the answer: worst %lld ms, mean %lld ms\n", worst,
                  sum / PUSH_ROUNDS);
    if (worst >= PUSH_BOUND_MS)
        h_fail("a push came %lld ms after the change, the bound is %d ms", worst, PUSH_BOUND_MS);
    tc_close(b);
    tc_close(w);
    fixture_stop(f);
}

/* Run the tests, each with the fixture's teardown. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sigterm_keeps_seen, fixture_teardown),
        cmocka_unit_test_teardown(test_durability_full_syncs, fixture_teardown),
        cmocka_unit_test_teardown(test_idle_speaker_stays, fixture_teardown),
        cmocka_unit_test_teardown(test_queued_error_then_eof, fixture_teardown),
        cmocka_unit_test_teardown(test_push_latency, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
