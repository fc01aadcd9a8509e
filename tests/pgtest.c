/* pgtest.c: a throwaway PostgreSQL server of the test program's own, in a temporary folder,
 * reached through a unix socket there; databases made on it, queries run as text.
 *
 * The folder and every string handed out are the library's own, not the harness's: h_cleanup
 * runs after every test and would remove them while the server still runs. A watchdog
 * process, started with the server and detached from the test program, stops the server and
 * removes the folder when the program lets go of it: at exit, or when it is killed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgtest.h"

#ifndef PGTEST_BINDIR
#define PGTEST_BINDIR "/usr/lib/postgresql/15/bin" /* where Debian's postgresql-15 puts it */
#endif
#define PGTEST_SHOW_LOG 4000 /* bytes of the server log shown when it does not start */
#define PGTEST_MAXARGS 24

/* The server of this test program. */
static struct {
    const char *dir;    /* its folder; NULL when none */
    const char *data;   /* <dir>/data */
    const char *log;    /* <dir>/log, the server's */
    const char *cmdlog; /* <dir>/cmd.log, what the last program run printed */
    const char *opts;   /* the server's options (pg_ctl -o) */
    const char *initdb; /* the programs, by full path */
    const char *pg_ctl;
    const char *runuser; /* as root: runuser, to run them as postgres; NULL otherwise */
    int port;
    int running;
    pid_t owner;    /* the process that started it (a forked child leaves it alone) */
    int life;       /* write end of the watchdog's pipe: closing it ends the server */
    int done;       /* read end of the pipe the watchdog holds until it is done */
    unsigned ndb;   /* databases made so far */
    int registered; /* pgtest_atexit registered */
} pg = {.life = -1, .done = -1};

static char **pgtest_kept; /* strings kept until exit */
static size_t pgtest_nkept, pgtest_ckept;

/* Abort the test program when memory runs out (nothing sensible is left to do). */
static void *
pgtest_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        fprintf(stderr, "pgtest: out of memory\n");
        abort();
    }
    return q;
}

/* A new string from a format (caller frees). */
static char *__attribute__((format(printf, 1, 2))) pgtest_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    s = pgtest_xrealloc(NULL, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Keep a malloc'd string until exit; return it. */
static const char *
pgtest_keep(char *s)
{
    if (pgtest_nkept == pgtest_ckept) {
        pgtest_ckept = pgtest_ckept ? pgtest_ckept * 2 : 32;
        pgtest_kept = pgtest_xrealloc(pgtest_kept, pgtest_ckept * sizeof *pgtest_kept);
    }
    pgtest_kept[pgtest_nkept++] = s;
    return s;
}

/* Milliseconds of a monotonic clock. */
static long long
pgtest_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Close every descriptor from first on (in a child about to exec). */
static void
pgtest_close_from(int first)
{
    long fd, max = sysconf(_SC_OPEN_MAX);

    if (max < 0 || max > 65536)
        max = 65536;
    for (fd = first; fd < max; fd++)
        close((int)fd);
}

/*
 * Start argv (argv[0] a path or a name on $PATH) in the folder, stdout and stderr into out.
 * Its stdin is the write end of the watchdog's pipe once there is one (see pgtest_watchdog),
 * else /dev/null. Returns its pid, or -1 after printing the reason.
 */
static pid_t
pgtest_spawn(const char *const *argv, int out)
{
    pid_t pid;
    int in;

    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) == -1) {
        fprintf(stderr, "pgtest: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid > 0)
        return pid;
    if ((in = pg.life) == -1)
        in = open("/dev/null", O_RDONLY);
    if ((pg.dir != NULL && chdir(pg.dir) == -1) || in == -1 || dup2(in, 0) == -1 ||
        dup2(out, 1) == -1 || dup2(out, 2) == -1)
        _exit(127);
    pgtest_close_from(3);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], (char *const *)argv);
    fprintf(stderr, "pgtest: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Wait for a child; its exit code, 128 + the signal that ended it, or -1. */
static int
pgtest_reap(pid_t pid)
{
    int st;
    pid_t r;

    do
        r = waitpid(pid, &st, 0);
    while (r == -1 && errno == EINTR);
    if (r == -1)
        return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

/* Print the last max bytes of a file to stderr, under a title. */
static void
pgtest_show_file(const char *title, const char *path, long max)
{
    char buf[4096];
    size_t n;
    FILE *fp = fopen(path, "r");

    if (fp == NULL)
        return;
    fprintf(stderr, "---- %s (%s):\n", title, path);
    if (fseek(fp, 0, SEEK_END) == 0 && ftell(fp) > max)
        fseek(fp, -max, SEEK_END);
    else
        rewind(fp);
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        fwrite(buf, 1, n, stderr);
    fclose(fp);
    fprintf(stderr, "----\n");
}

/*
 * Run a PostgreSQL program of the server's (as postgres when root) with the NULL-terminated
 * arguments after prog, its output into <dir>/cmd.log, and wait for it. Returns 0, or -1
 * after printing what it said.
 */
static int
pgtest_run(const char *prog, ...)
{
    const char *argv[PGTEST_MAXARGS];
    const char *a;
    va_list ap;
    int n = 0, fd, st;
    pid_t pid;

    if (pg.runuser != NULL) {
        argv[n++] = pg.runuser;
        argv[n++] = "-u";
        argv[n++] = "postgres";
        argv[n++] = "--";
    }
    argv[n++] = prog;
    va_start(ap, prog);
    while ((a = va_arg(ap, const char *)) != NULL && n < PGTEST_MAXARGS - 1)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    if ((fd = open(pg.cmdlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1) {
        fprintf(stderr, "pgtest: cannot create %s: %s\n", pg.cmdlog, strerror(errno));
        return -1;
    }
    pid = pgtest_spawn(argv, fd);
    close(fd);
    if (pid == -1)
        return -1;
    if ((st = pgtest_reap(pid)) == 0)
        return 0;
    fprintf(stderr, "pgtest: %s failed with status %d\n", prog, st);
    pgtest_show_file("what it printed", pg.cmdlog, PGTEST_SHOW_LOG);
    return -1;
}

/* The first line pg_config --bindir prints, in buf; 0, or -1 if there is no pg_config. */
static int
pgtest_pg_config(char *buf, size_t cap)
{
    const char *const argv[] = {"pg_config", "--bindir", NULL};
    size_t len = 0;
    int p[2];
    pid_t pid;

    if (pipe(p) == -1)
        return -1;
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    pid = pgtest_spawn(argv, p[1]);
    close(p[1]);
    for (;;) {
        ssize_t n = len + 1 < cap ? read(p[0], buf + len, cap - 1 - len) : 0;

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(p[0]);
    buf[len] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (pid == -1 || pgtest_reap(pid) != 0 || buf[0] != '/')
        return -1;
    return 0;
}

/* Whether bindir holds the server's programs. */
static int
pgtest_has_server(const char *bindir)
{
    static const char *const progs[] = {"initdb", "pg_ctl", "postgres"};
    size_t i;
    int ok = 1;

    for (i = 0; ok && i < sizeof progs / sizeof progs[0]; i++) {
        char *path = pgtest_fmt("%s/%s", bindir, progs[i]);

        ok = access(path, X_OK) == 0;
        free(path);
    }
    return ok;
}

/* Find initdb and pg_ctl: where pg_config says, else in PGTEST_BINDIR. 0 or -1. */
static int
pgtest_find_server(void)
{
    char bindir[PATH_MAX];

    if (pgtest_pg_config(bindir, sizeof bindir) == -1 || !pgtest_has_server(bindir))
        snprintf(bindir, sizeof bindir, "%s", PGTEST_BINDIR);
    if (!pgtest_has_server(bindir)) {
        fprintf(stderr, "pgtest: PostgreSQL 15 server binaries not found: install postgresql-15 "
                        "(scripts/deps.sh does)\n");
        return -1;
    }
    pg.initdb = pgtest_keep(pgtest_fmt("%s/initdb", bindir));
    pg.pg_ctl = pgtest_keep(pgtest_fmt("%s/pg_ctl", bindir));
    return 0;
}

/* As root: use runuser to run the server as postgres (PostgreSQL refuses root). 0 or -1. */
static int
pgtest_find_runuser(void)
{
    static const char *const paths[] = {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"};
    size_t i;

    pg.runuser = NULL;
    if (geteuid() != 0)
        return 0;
    for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0) {
            pg.runuser = paths[i];
            return 0;
        }
    fprintf(stderr, "pgtest: running as root, PostgreSQL must run as postgres, but runuser is "
                    "not found: install util-linux\n");
    return -1;
}

/* A free TCP port of 127.0.0.1 (it only names the socket file: the server opens no TCP). */
static int
pgtest_free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof sin;
    int fd, port = -1;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
        fprintf(stderr, "pgtest: socket: %s\n", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    else
        fprintf(stderr, "pgtest: cannot bind a port of 127.0.0.1: %s\n", strerror(errno));
    close(fd);
    return port;
}

/* Whether every folder above path (not path itself) lets user pw through. */
static int
pgtest_reachable(const char *path, const struct passwd *pw)
{
    char *p = pgtest_fmt("%s", path), *slash;
    struct stat st;
    int ok = 1;

    while (ok && (slash = strrchr(p, '/')) != NULL) {
        *slash = '\0';
        if (stat(*p ? p : "/", &st) == -1)
            ok = 0;
        else if (st.st_uid == pw->pw_uid)
            ok = (st.st_mode & S_IXUSR) != 0;
        else if (st.st_gid == pw->pw_gid)
            ok = (st.st_mode & S_IXGRP) != 0;
        else
            ok = (st.st_mode & S_IXOTH) != 0;
        if (!ok)
            fprintf(stderr,
                    "pgtest: the postgres user cannot reach %s: %s is not traversable "
                    "(chmod o+x it, or set TMPDIR to a folder it can reach)\n",
                    path, *p ? p : "/");
    }
    free(p);
    return ok;
}

/*
 * Start the watchdog: a shell, detached from the test program (its own session, not its
 * child, so a killer of the program's process tree spares it), that waits until its stdin,
 * a pipe from the program, ends, then stops the server at once and removes the folder.
 * initdb and pg_ctl get the pipe's write end as their stdin, so it ends only once they have
 * ended too (the server itself has /dev/null: pg_ctl -l starts it so). The watchdog keeps
 * the program's stdout and stderr open until done, and a pipe the program reads to wait for
 * it. 0 or -1.
 */
static int
pgtest_watchdog(void)
{
    static const char script[] =
        "trap '' HUP INT TERM QUIT PIPE\n"
        "cat >/dev/null\n" /* until the program and the commands it runs let go */
        "d=$1; shift\n"
        "if [ -f \"$d/data/postmaster.pid\" ]; then\n"
        "    \"$@\" -D \"$d/data\" -m immediate -w stop >/dev/null\n"
        "fi\n"
        "rm -rf -- \"$d\"\n";
    const char *argv[12] = {"/bin/sh", "-c", script, "pgtest-watchdog", pg.dir};
    int life[2], done[2], n = 5;
    pid_t pid;

    if (pg.runuser != NULL) {
        argv[n++] = pg.runuser;
        argv[n++] = "-u";
        argv[n++] = "postgres";
        argv[n++] = "--";
    }
    argv[n] = pg.pg_ctl;
    if (pipe(life) == -1) {
        fprintf(stderr, "pgtest: pipe: %s\n", strerror(errno));
        return -1;
    }
    if (pipe(done) == -1) {
        fprintf(stderr, "pgtest: pipe: %s\n", strerror(errno));
        close(life[0]);
        close(life[1]);
        return -1;
    }
    /* The program's ends must not leak into what it runs later, nor into the watchdog. */
    fcntl(life[1], F_SETFD, FD_CLOEXEC);
    fcntl(done[0], F_SETFD, FD_CLOEXEC);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        /* The go-between: a new session, the watchdog in it, and gone. */
        int in, out;

        if (setsid() == -1 || (pid = fork()) == -1)
            _exit(1);
        if (pid > 0)
            _exit(0);
        if ((in = fcntl(life[0], F_DUPFD, 10)) == -1 || (out = fcntl(done[1], F_DUPFD, 10)) == -1 ||
            dup2(in, 0) == -1 || dup2(out, 3) == -1 || chdir("/") == -1)
            _exit(127);
        pgtest_close_from(4);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(life[0]);
    close(done[1]);
    pg.life = life[1];
    pg.done = done[0];
    if (pid == -1 || pgtest_reap(pid) != 0) {
        fprintf(stderr, "pgtest: cannot start the watchdog\n");
        return -1;
    }
    return 0;
}

/* pg_ctl start the server in the folder and wait until it accepts connections. 0 or -1. */
static int
pgtest_pg_ctl_start(void)
{
    if (pgtest_run(pg.pg_ctl, "-D", pg.data, "-w", "-l", pg.log, "-o", pg.opts, "start", NULL) ==
        -1) {
        pgtest_show_file("the end of the server log", pg.log, PGTEST_SHOW_LOG);
        return -1;
    }
    pg.running = 1;
    return 0;
}

/* Stop the server and remove its folder at exit (in the process that started it). */
static void
pgtest_atexit(void)
{
    size_t i;

    pgtest_stop_all();
    for (i = 0; i < pgtest_nkept; i++)
        free(pgtest_kept[i]);
    free(pgtest_kept);
    pgtest_kept = NULL;
    pgtest_nkept = pgtest_ckept = 0;
}

/* Start the server of this test program once (see pgtest.h). */
int
pgtest_start(void)
{
    const char *base = getenv("TMPDIR");
    struct passwd *pw = NULL;
    struct sockaddr_un sa;
    long long t0 = pgtest_now_ms();
    char *dir;

    if (pg.dir != NULL)
        return pg.running ? 0 : pgtest_restart();
    if (base == NULL || *base == '\0')
        base = "/tmp";
    if (pgtest_find_server() == -1 || pgtest_find_runuser() == -1)
        return -1;
    if (pg.runuser != NULL && (pw = getpwnam("postgres")) == NULL) {
        fprintf(stderr, "pgtest: running as root, but there is no postgres user to run "
                        "PostgreSQL as: install postgresql-15 (it makes one)\n");
        return -1;
    }
    /* The folder goes into pg_ctl's -o words (run by a shell) and into connection strings
     * unquoted, and its socket path must fit a sockaddr_un. */
    if (base[strspn(base, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-")] !=
            '\0' ||
        strlen(base) + sizeof "/hcs-pg-XXXXXX/.s.PGSQL.65535" > sizeof sa.sun_path) {
        fprintf(stderr,
                "pgtest: TMPDIR \"%s\" does not suit a PostgreSQL socket folder: it must "
                "be short and of letters, digits and /._- only\n",
                base);
        return -1;
    }
    dir = pgtest_fmt("%s/hcs-pg-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "pgtest: mkdtemp %s: %s\n", dir, strerror(errno));
        free(dir);
        return -1;
    }
    pg.dir = pgtest_keep(dir);
    pg.data = pgtest_keep(pgtest_fmt("%s/data", dir));
    pg.log = pgtest_keep(pgtest_fmt("%s/log", dir));
    pg.cmdlog = pgtest_keep(pgtest_fmt("%s/cmd.log", dir));
    pg.owner = getpid();
    pg.running = 0;
    if (!pg.registered) {
        atexit(pgtest_atexit);
        pg.registered = 1;
    }
    /* From here on the watchdog removes the folder, whatever happens. */
    if (pgtest_watchdog() == -1) {
        pgtest_stop_all();
        rmdir(dir);
        return -1;
    }
    if (chmod(dir, 0755) == -1 || (pw != NULL && chown(dir, pw->pw_uid, pw->pw_gid) == -1)) {
        fprintf(stderr, "pgtest: cannot hand %s to postgres: %s\n", dir, strerror(errno));
        goto fail;
    }
    if ((pw != NULL && !pgtest_reachable(dir, pw)) || (pg.port = pgtest_free_port()) == -1)
        goto fail;
    pg.opts = pgtest_keep(pgtest_fmt("-k %s -p %d -c listen_addresses='' -c fsync=off "
                                     "-c max_connections=200",
                                     dir, pg.port));
    if (pgtest_run(pg.initdb, "-D", pg.data, "--auth=trust", "-U", "postgres", "--no-sync",
                   "--encoding=UTF8", "--locale=C", NULL) == -1 ||
        pgtest_pg_ctl_start() == -1)
        goto fail;
    if (getenv("HCS_TEST_VERBOSE") != NULL)
        fprintf(stderr, "pgtest: server in %s, port %d, started in %lld ms\n", pg.dir, pg.port,
                pgtest_now_ms() - t0);
    return 0;
fail:
    fprintf(stderr, "pgtest: the PostgreSQL test server did not start\n");
    pgtest_stop_all();
    return -1;
}

/* Stop the server (fast) and wait until it is gone; the folder stays. */
int
pgtest_stop(void)
{
    if (pg.dir == NULL) {
        fprintf(stderr, "pgtest: pgtest_stop: no server was started\n");
        return -1;
    }
    if (!pg.running)
        return 0;
    if (pgtest_run(pg.pg_ctl, "-D", pg.data, "-m", "fast", "-w", "stop", NULL) == -1)
        return -1;
    pg.running = 0;
    return 0;
}

/* Start the server again on the same folder and port (stopping it first if it runs). */
int
pgtest_restart(void)
{
    if (pg.dir == NULL) {
        fprintf(stderr, "pgtest: pgtest_restart: no server was started\n");
        return -1;
    }
    if (pg.running && pgtest_stop() == -1)
        return -1;
    return pgtest_pg_ctl_start();
}

/* Let the watchdog stop the server and remove the folder; wait until it is done. */
void
pgtest_stop_all(void)
{
    char c;

    if (pg.life != -1)
        close(pg.life);
    /* End of file once the watchdog has exited (a forked copy of the program does not wait). */
    while (pg.done != -1 && pg.owner == getpid()) {
        ssize_t n = read(pg.done, &c, 1);

        if (n == 0 || (n == -1 && errno != EINTR))
            break;
    }
    if (pg.done != -1)
        close(pg.done);
    pg.life = pg.done = -1;
    pg.dir = pg.data = pg.log = pg.cmdlog = pg.opts = NULL;
    pg.running = 0;
    pg.port = 0;
}

/* The server's folder, or NULL when none. */
const char *
pgtest_dir(void)
{
    return pg.dir;
}

/* The port that names its socket, or 0 when none. */
int
pgtest_port(void)
{
    return pg.port;
}

/* s as a connection-string value: bare when safe, else quoted (caller frees). */
static char *
pgtest_dsn_value(const char *s)
{
    char *q, *w;

    if (*s != '\0' && s[strcspn(s, " \t\n\r\f\v'\\=")] == '\0')
        return pgtest_fmt("%s", s);
    w = q = pgtest_xrealloc(NULL, 2 * strlen(s) + 3);
    *w++ = '\'';
    for (; *s != '\0'; s++) {
        if (*s == '\'' || *s == '\\')
            *w++ = '\\';
        *w++ = *s;
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

/* The connection string of database dbname on the server (kept until exit). */
const char *
pgtest_dsn(const char *dbname)
{
    char *host, *db;
    const char *dsn;

    if (pg.dir == NULL) {
        fprintf(stderr, "pgtest: pgtest_dsn: no server was started (pgtest_start)\n");
        return NULL;
    }
    host = pgtest_dsn_value(pg.dir);
    db = pgtest_dsn_value(dbname);
    dsn = pgtest_keep(pgtest_fmt("host=%s port=%d user=postgres dbname=%s", host, pg.port, db));
    free(host);
    free(db);
    return dsn;
}

/* Create a new empty database hcs_test_<pid>_<n>; its connection string, or NULL. */
const char *
pgtest_newdb(void)
{
    char *name, *sql;
    const char *dsn = NULL;

    if (pgtest_start() == -1)
        return NULL;
    name = pgtest_fmt("hcs_test_%ld_%u", (long)getpid(), ++pg.ndb);
    sql = pgtest_fmt("CREATE DATABASE %s", name);
    if (pgtest_exec(pgtest_dsn("postgres"), sql) == 0)
        dsn = pgtest_dsn(name);
    free(sql);
    free(name);
    return dsn;
}

/* Run sql on dsn: the result of its last statement, or NULL after printing the error. */
static PGresult *
pgtest_result(const char *dsn, const char *sql)
{
    PGconn *conn;
    PGresult *res;

    if (dsn == NULL) {
        fprintf(stderr, "pgtest: no connection string for: %s\n", sql);
        return NULL;
    }
    conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "pgtest: cannot connect to %s: %s", dsn, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    res = PQexec(conn, sql);
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
        break;
    default:
        fprintf(stderr, "pgtest: %s\n  on %s: %s", sql, dsn,
                res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
        res = NULL;
    }
    PQfinish(conn);
    return res;
}

/* The rows of sql as text (see pgtest.h); malloc'd, or NULL after printing the error. */
char *
pgtest_query(const char *dsn, const char *sql)
{
    PGresult *res = pgtest_result(dsn, sql);
    int rows, cols, r, c;
    size_t len = 1;
    char *text, *w;

    if (res == NULL)
        return NULL;
    rows = PQntuples(res);
    cols = PQnfields(res);
    for (r = 0; r < rows; r++) {
        len += cols == 0; /* a row of no columns is an empty line */
        for (c = 0; c < cols; c++)
            len += (PQgetisnull(res, r, c) ? 4 : (size_t)PQgetlength(res, r, c)) + 1;
    }
    w = text = pgtest_xrealloc(NULL, len);
    for (r = 0; r < rows; r++) {
        for (c = 0; c < cols; c++) {
            const char *v = PQgetisnull(res, r, c) ? "NULL" : PQgetvalue(res, r, c);
            size_t n = strlen(v);

            memcpy(w, v, n);
            w += n;
            *w++ = c + 1 < cols ? ' ' : '\n';
        }
        if (cols == 0)
            *w++ = '\n';
    }
    *w = '\0';
    PQclear(res);
    return text;
}

/* The first column of the first row of sql as a number, or -1. */
long long
pgtest_count(const char *dsn, const char *sql)
{
    PGresult *res = pgtest_result(dsn, sql);
    long long v = -1;
    char *end;

    if (res == NULL)
        return -1;
    if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
        fprintf(stderr, "pgtest: %s\n  gave no number (no row, or NULL)\n", sql);
    } else {
        const char *s = PQgetvalue(res, 0, 0);

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0') {
            fprintf(stderr, "pgtest: %s\n  gave \"%s\", not a number\n", sql, s);
            v = -1;
        }
    }
    PQclear(res);
    return v;
}

/* Run sql; 0 or -1. */
int
pgtest_exec(const char *dsn, const char *sql)
{
    PGresult *res = pgtest_result(dsn, sql);

    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}
