/* harness.c: run the real binaries in system tests: temporary folders, processes on pipes,
 * exact screen lines read with deadlines. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cmocka.h>

#include "harness.h"

#ifndef HCS_BIN_DIR
#define HCS_BIN_DIR "."
#endif

#define H_KILL_GRACE_MS 3000 /* SIGTERM to SIGKILL */
#define H_SHOW_OUT 6000      /* bytes of a process's stdout shown in a failure */
#define H_SHOW_ERR 3000      /* bytes of its stderr shown */

int h_timeout_ms = H_TIMEOUT_MS;

static struct hproc *h_procs[H_MAXPROCS];
static int h_nprocs;
static char **h_arena; /* strings and folders kept until h_cleanup */
static size_t h_narena, h_carena;
static char *h_dirs[16];
static int h_ndirs;

/* Milliseconds of a monotonic clock. */
long long
h_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Abort the test program when memory runs out (nothing sensible is left to do). */
static void *
h_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    return q;
}

/* Keep a malloc'd string until h_cleanup; return it. */
static char *
h_keep(char *s)
{
    if (h_narena == h_carena) {
        h_carena = h_carena ? h_carena * 2 : 32;
        h_arena = h_xrealloc(h_arena, h_carena * sizeof *h_arena);
    }
    h_arena[h_narena++] = s;
    return s;
}

/* A new string from a format and a va_list (caller frees). */
static char *
h_vfmt(const char *fmt, va_list ap)
{
    va_list aq;
    char *s;
    int n;

    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        n = 0;
    s = h_xrealloc(NULL, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

/* A new string from a format (caller frees). */
static char *__attribute__((format(printf, 1, 2))) h_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = h_vfmt(fmt, ap);
    va_end(ap);
    return s;
}

/* Print len bytes to stderr with control bytes shown as \xNN (newlines kept). */
static void
h_show(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\n' || (c >= 0x20 && c < 0x7f) || c >= 0x80)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
}

/* Print a short text quoted on one line, control bytes (also newlines) as \xNN. */
static void
h_show_quoted(const char *s, size_t len)
{
    size_t i;

    fputc('"', stderr);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c >= 0x20 && c < 0x7f) || c >= 0x80)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputc('"', stderr);
}

/* Show what every process printed, with a mark where reading stopped. */
static void
h_dump_all(void)
{
    int i;

    for (i = 0; i < h_nprocs; i++) {
        struct hproc *p = h_procs[i];
        size_t from;

        if (p->reaped)
            fprintf(stderr, "---- %s (pid %ld, exited with status %d) stdout:\n", p->name,
                    (long)p->pid, p->status);
        else
            fprintf(stderr, "---- %s (pid %ld, running) stdout:\n", p->name, (long)p->pid);
        from = p->pos > H_SHOW_OUT ? p->pos - H_SHOW_OUT : 0;
        if (from > 0)
            fprintf(stderr, "[... %zu bytes before]\n", from);
        h_show(p->obuf + from, p->pos - from);
        fprintf(stderr, "<<<< read up to here >>>>\n");
        if (p->olen - p->pos > H_SHOW_OUT) {
            h_show(p->obuf + p->pos, H_SHOW_OUT);
            fprintf(stderr, "[... %zu bytes more]\n", p->olen - p->pos - H_SHOW_OUT);
        } else {
            h_show(p->obuf + p->pos, p->olen - p->pos);
        }
        fprintf(stderr, "\n---- %s stderr:\n", p->name);
        from = p->elen > H_SHOW_ERR ? p->elen - H_SHOW_ERR : 0;
        h_show(p->ebuf + from, p->elen - from);
        fprintf(stderr, "\n");
    }
}

/* Fail the test with a message, the place, and what every process printed. */
_Noreturn void
h_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = h_vfmt(fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "%s:%d: %s\n", file, line, msg);
    free(msg);
    h_dump_all();
    fflush(stderr);
    _fail(file, line);
    abort(); /* _fail jumps back into cmocka; never here */
}

/* Append n bytes to a growing buffer, keeping it NUL-terminated. */
static void
h_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;

        while (*len + n + 1 > c)
            c *= 2;
        *buf = h_xrealloc(*buf, c);
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Read what is ready on one of p's output pipes; close it at end of file. */
static void
h_read_fd(struct hproc *p, int is_err)
{
    char buf[65536];
    int *fd = is_err ? &p->err : &p->out;
    int i;

    for (i = 0; i < 64 && *fd != -1; i++) {
        ssize_t n = read(*fd, buf, sizeof buf);

        if (n > 0) {
            if (is_err)
                h_append(&p->ebuf, &p->elen, &p->ecap, buf, (size_t)n);
            else
                h_append(&p->obuf, &p->olen, &p->ocap, buf, (size_t)n);
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close(*fd);
        *fd = -1;
    }
}

/*
 * Wait up to ms for output from any process the harness started and read it
 * all into their buffers, so that no process ever blocks on a full pipe.
 */
void
h_pump(int ms)
{
    struct pollfd pfd[H_MAXPROCS * 2];
    struct hproc *who[H_MAXPROCS * 2];
    int isr[H_MAXPROCS * 2];
    int i, n = 0, rc;

    for (i = 0; i < h_nprocs; i++) {
        struct hproc *p = h_procs[i];

        if (p->held)
            continue;
        if (p->out != -1) {
            pfd[n] = (struct pollfd){.fd = p->out, .events = POLLIN};
            who[n] = p;
            isr[n++] = 0;
        }
        if (p->err != -1) {
            pfd[n] = (struct pollfd){.fd = p->err, .events = POLLIN};
            who[n] = p;
            isr[n++] = 1;
        }
    }
    if (ms < 0)
        ms = 0;
    rc = poll(pfd, (nfds_t)n, ms);
    if (rc <= 0)
        return;
    for (i = 0; i < n; i++)
        if (pfd[i].revents != 0)
            h_read_fd(who[i], isr[i]);
}

/* Stop (held 1) or resume (0) reading p's stdout and stderr. */
void
h_hold(struct hproc *p, int held)
{
    p->held = held;
}

/* Reap p if it has exited. Returns 1 once reaped. */
static int
h_reap(struct hproc *p, int block)
{
    int st;
    pid_t r;

    if (p->reaped)
        return 1;
    do
        r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
    while (r == -1 && errno == EINTR);
    if (r == 0)
        return 0;
    p->reaped = 1;
    if (r == -1)
        p->status = -1;
    else if (WIFEXITED(st))
        p->status = WEXITSTATUS(st);
    else if (WIFSIGNALED(st))
        p->status = 128 + WTERMSIG(st);
    else
        p->status = -1;
    return 1;
}

/* Set FD_CLOEXEC (and O_NONBLOCK if asked) on fd. */
static void
h_fdflags(int fd, int nonblock)
{
    int fl;

    fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (nonblock && (fl = fcntl(fd, F_GETFL)) != -1)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Remove a folder and everything in it. */
static void
h_rmtree(const char *path)
{
    struct dirent *de;
    struct stat st;
    DIR *d;

    if ((d = opendir(path)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char *sub;

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            sub = h_fmt("%s/%s", path, de->d_name);
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                h_rmtree(sub);
            else
                unlink(sub);
            free(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Once per test program: ignore SIGPIPE, register the exit-time clean-up. */
void
h_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    atexit(h_cleanup);
}

/* Kill every process still running, remove the temporary folders, free everything.
 * With $HCS_TEST_VERBOSE set, show what every process printed first. */
void
h_cleanup(void)
{
    int i;
    size_t j;

    for (i = 0; i < h_nprocs; i++)
        h_kill(h_procs[i]);
    if (getenv("HCS_TEST_VERBOSE") != NULL && h_nprocs > 0) {
        fprintf(stderr, "==== what the processes printed:\n");
        h_dump_all();
    }
    for (i = 0; i < h_nprocs; i++) {
        struct hproc *p = h_procs[i];

        if (p->in != -1)
            close(p->in);
        if (p->out != -1)
            close(p->out);
        if (p->err != -1)
            close(p->err);
        free(p->obuf);
        free(p->ebuf);
        free(p->line);
        free(p);
    }
    h_nprocs = 0;
    for (i = 0; i < h_ndirs; i++)
        h_rmtree(h_dirs[i]);
    h_ndirs = 0;
    for (j = 0; j < h_narena; j++)
        free(h_arena[j]);
    free(h_arena);
    h_arena = NULL;
    h_narena = h_carena = 0;
}

/* A new empty folder under $TMPDIR (or /tmp), removed by h_cleanup. */
const char *
h_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *t;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    if (h_ndirs == (int)(sizeof h_dirs / sizeof h_dirs[0]))
        h_fail("harness: too many temporary folders");
    t = h_keep(h_fmt("%s/hcs-test-XXXXXX", base));
    if (mkdtemp(t) == NULL)
        h_fail("harness: mkdtemp %s: %s", t, strerror(errno));
    h_dirs[h_ndirs++] = t;
    return t;
}

/* n bytes of zeroed memory kept until h_cleanup. */
void *
h_alloc(size_t n)
{
    char *p = h_xrealloc(NULL, n > 0 ? n : 1);

    memset(p, 0, n);
    return h_keep(p);
}

/* The whole of a file (kept until h_cleanup). */
const char *
h_slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *text;
    long n;

    if (fp == NULL)
        h_fail("cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    text = h_alloc((size_t)n + 1);
    if (n > 0 && fread(text, 1, (size_t)n, fp) != (size_t)n)
        h_fail("cannot read %s", path);
    fclose(fp);
    return text;
}

/* A formatted string kept until h_cleanup. */
const char *
h_str(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = h_vfmt(fmt, ap);
    va_end(ap);
    return h_keep(s);
}

/* "dir/name" (kept until h_cleanup). */
const char *
h_path(const char *dir, const char *name)
{
    return h_keep(h_fmt("%s/%s", dir, name));
}

/* Write a file dir/name from a format; return its path (kept until h_cleanup). */
const char *
h_file(const char *dir, const char *name, const char *fmt, ...)
{
    const char *path = h_path(dir, name);
    va_list ap;
    char *text;
    FILE *fp;
    size_t n;

    va_start(ap, fmt);
    text = h_vfmt(fmt, ap);
    va_end(ap);
    n = strlen(text);
    if ((fp = fopen(path, "w")) == NULL)
        h_fail("harness: cannot create %s: %s", path, strerror(errno));
    if (fwrite(text, 1, n, fp) != n || fclose(fp) != 0)
        h_fail("harness: cannot write %s", path);
    free(text);
    return path;
}

/* In the child: set up stdio and the environment, then exec (never returns). */
static _Noreturn void
h_child(const char *path, const char *const *argv, const char *const *env, int in, int out, int err,
        pid_t parent)
{
    long fd, max;
    size_t i;

#ifdef __linux__
    /* Die with the test program even if it is killed before its clean-up runs. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (getppid() != parent)
        _exit(127);
    if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
        _exit(127);
    max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (fd = 3; fd < max; fd++)
        close((int)fd);
    signal(SIGPIPE, SIG_DFL);
    for (i = 0; env != NULL && env[i] != NULL; i++) {
        const char *eq = strchr(env[i], '=');
        char name[256];

        if (eq == NULL || (size_t)(eq - env[i]) >= sizeof name)
            continue;
        memcpy(name, env[i], (size_t)(eq - env[i]));
        name[eq - env[i]] = '\0';
        setenv(name, eq + 1, 1);
    }
    execvp(argv[0], (char *const *)argv);
    fprintf(stderr, "harness: cannot run %s: %s\n", path, strerror(errno));
    _exit(127);
}

/*
 * The argument vector to exec: path and argv's arguments, run under the
 * words of $HCS_TEST_WRAPPER (e.g. "valgrind -q --error-exitcode=99") when
 * set and ours is one of the project's binaries. Kept until h_cleanup.
 */
static const char *const *
h_wrap(const char *path, const char *const *argv, int ours)
{
    const char *wrapper = getenv("HCS_TEST_WRAPPER");
    const char **v;
    char *words, *w, *save = NULL;
    size_t n = 0, i, max = 64;

    for (i = 1; argv[i] != NULL; i++)
        max++;
    v = (const char **)(void *)h_keep(h_xrealloc(NULL, (max + 2) * sizeof *v));
    if (ours && wrapper != NULL && *wrapper != '\0') {
        words = h_keep(h_fmt("%s", wrapper));
        for (w = strtok_r(words, " ", &save); w != NULL && n < 63; w = strtok_r(NULL, " ", &save))
            v[n++] = w;
    }
    v[n++] = path;
    for (i = 1; argv[i] != NULL; i++)
        v[n++] = argv[i];
    v[n] = NULL;
    return v;
}

/* Start argv[0] with argv; a bare name means HCS_BIN_DIR/name. */
struct hproc *
h_startv_at(const char *file, int line, const char *name, const char *const *env,
            const char *const *argv)
{
    int pin[2], pout[2], perr[2];
    struct hproc *p;
    char *path;
    pid_t parent = getpid();

    if (h_nprocs == H_MAXPROCS)
        h_fail_at(file, line, "harness: more than %d processes", H_MAXPROCS);
    if (strchr(argv[0], '/') != NULL)
        path = h_keep(h_fmt("%s", argv[0]));
    else
        path = h_keep(h_fmt("%s/%s", HCS_BIN_DIR, argv[0]));
    if (access(path, X_OK) == -1)
        h_fail_at(file, line, "harness: cannot run %s: %s", path, strerror(errno));
    argv = h_wrap(path, argv, strchr(argv[0], '/') == NULL);
    if (pipe(pin) == -1 || pipe(pout) == -1 || pipe(perr) == -1)
        h_fail_at(file, line, "harness: pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    p = h_xrealloc(NULL, sizeof *p);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    if ((p->pid = fork()) == -1)
        h_fail_at(file, line, "harness: fork: %s", strerror(errno));
    if (p->pid == 0)
        h_child(path, argv, env, pin[0], pout[1], perr[1], parent);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    p->in = pin[1];
    p->out = pout[0];
    p->err = perr[0];
    h_fdflags(p->in, 0);
    h_fdflags(p->out, 1);
    h_fdflags(p->err, 1);
    h_append(&p->obuf, &p->olen, &p->ocap, "", 0);
    h_append(&p->ebuf, &p->elen, &p->ecap, "", 0);
    h_procs[h_nprocs++] = p;
    return p;
}

/* Start prog with the NULL-terminated arguments after it. */
struct hproc *
h_start_at(const char *file, int line, const char *name, const char *const *env, const char *prog,
           ...)
{
    const char *argv[64];
    const char *a;
    va_list ap;
    int n = 0;

    argv[n++] = prog;
    va_start(ap, prog);
    while ((a = va_arg(ap, const char *)) != NULL) {
        if (n == 63) {
            va_end(ap);
            h_fail_at(file, line, "harness: too many arguments for %s", prog);
        }
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    return h_startv_at(file, line, name, env, argv);
}

/* Write text to its stdin. */
void
h_send_at(const char *file, int line, struct hproc *p, const char *fmt, ...)
{
    va_list ap;
    char *text;
    size_t off = 0, n;

    if (p->in == -1)
        h_fail_at(file, line, "%s: stdin is already closed", p->name);
    va_start(ap, fmt);
    text = h_vfmt(fmt, ap);
    va_end(ap);
    n = strlen(text);
    while (off < n) {
        ssize_t w = write(p->in, text + off, n - off);

        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1) {
            int e = errno;

            free(text);
            h_fail_at(file, line, "%s: cannot write to stdin: %s", p->name, strerror(e));
        }
        off += (size_t)w;
    }
    free(text);
}

/* Close its stdin (end of input). */
void
h_close_in(struct hproc *p)
{
    if (p->in != -1) {
        close(p->in);
        p->in = -1;
    }
}

/* The next complete line of stdout, without its "\n". */
const char *
h_line_at(const char *file, int line, struct hproc *p)
{
    long long deadline = h_now_ms() + h_timeout_ms;

    for (;;) {
        char *nl = memchr(p->obuf + p->pos, '\n', p->olen - p->pos);

        if (nl != NULL) {
            size_t n = (size_t)(nl - (p->obuf + p->pos));

            if (n + 1 > p->linecap) {
                p->linecap = n + 1;
                p->line = h_xrealloc(p->line, p->linecap);
            }
            memcpy(p->line, p->obuf + p->pos, n);
            p->line[n] = '\0';
            p->pos += n + 1;
            return p->line;
        }
        if (p->out == -1)
            h_fail_at(file, line, "%s: stdout ended without another complete line", p->name);
        if (h_now_ms() >= deadline)
            h_fail_at(file, line, "%s: no complete line within %d ms", p->name, h_timeout_ms);
        h_pump((int)(deadline - h_now_ms()));
    }
}

/* Report a line that differs from the one expected. */
static _Noreturn void
h_mismatch(const char *file, int line, struct hproc *p, const char *what, const char *want,
           const char *got)
{
    fprintf(stderr, "%s:%d: %s: expected %s\n    ", file, line, p->name, what);
    h_show_quoted(want, strlen(want));
    fprintf(stderr, "\n  got\n    ");
    h_show_quoted(got, strlen(got));
    fprintf(stderr, "\n");
    h_fail_at(file, line, "%s: unexpected output", p->name);
}

/* The next line must be exactly s. */
void
h_expect_at(const char *file, int line, struct hproc *p, const char *s)
{
    const char *got = h_line_at(file, line, p);

    if (strcmp(got, s) != 0)
        h_mismatch(file, line, p, "the line", s, got);
}

/* The next line must be exactly the formatted text. */
void
h_expectf_at(const char *file, int line, struct hproc *p, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = h_keep(h_vfmt(fmt, ap));
    va_end(ap);
    h_expect_at(file, line, p, s);
}

/* The next line must start with prefix; returns the whole line. */
const char *
h_expect_prefix_at(const char *file, int line, struct hproc *p, const char *prefix)
{
    const char *got = h_line_at(file, line, p);

    if (strncmp(got, prefix, strlen(prefix)) != 0)
        h_mismatch(file, line, p, "a line starting with", prefix, got);
    return got;
}

/* Skip lines until one starts with prefix; returns it. */
const char *
h_wait_prefix_at(const char *file, int line, struct hproc *p, const char *prefix)
{
    for (;;) {
        const char *got = h_line_at(file, line, p);

        if (strncmp(got, prefix, strlen(prefix)) == 0)
            return got;
    }
}

/* The unread output must start with text (no newline needed); consume it. */
void
h_expect_text_at(const char *file, int line, struct hproc *p, const char *text)
{
    long long deadline = h_now_ms() + h_timeout_ms;
    size_t n = strlen(text);

    for (;;) {
        size_t avail = p->olen - p->pos;
        size_t m = avail < n ? avail : n;

        if (m > 0 && memcmp(p->obuf + p->pos, text, m) != 0) {
            size_t show = avail < n + 40 ? avail : n + 40;
            char *got = h_xrealloc(NULL, show + 1);

            memcpy(got, p->obuf + p->pos, show);
            got[show] = '\0';
            h_keep(got);
            h_mismatch(file, line, p, "the text", text, got);
        }
        if (avail >= n) {
            p->pos += n;
            return;
        }
        if (p->out == -1)
            h_fail_at(file, line, "%s: stdout ended before the expected text", p->name);
        if (h_now_ms() >= deadline)
            h_fail_at(file, line, "%s: the expected text did not come within %d ms", p->name,
                      h_timeout_ms);
        h_pump((int)(deadline - h_now_ms()));
    }
}

/* Wait for p to exit and its pipes to close, until deadline. Returns 1 when done. */
static int
h_wait_until(struct hproc *p, long long deadline)
{
    p->held = 0;
    for (;;) {
        long long left;

        if (h_reap(p, 0) && p->out == -1 && p->err == -1)
            return 1;
        left = deadline - h_now_ms();
        if (left <= 0)
            return 0;
        /* The pipes close when it exits; a short poll also notices an exit that
         * leaves them held open by something else. */
        h_pump(left < 20 ? (int)left : 20);
    }
}

/* Wait for it to exit; return the exit code, or 128 + the signal that ended it. */
int
h_wait_at(const char *file, int line, struct hproc *p)
{
    if (!h_wait_until(p, h_now_ms() + h_timeout_ms)) {
        if (p->reaped)
            h_fail_at(file, line, "%s: exited but its output stayed open for %d ms", p->name,
                      h_timeout_ms);
        h_fail_at(file, line, "%s: did not exit within %d ms", p->name, h_timeout_ms);
    }
    return p->status;
}

/* Wait for it to exit; the status must be status. */
void
h_expect_exit_at(const char *file, int line, struct hproc *p, int status)
{
    int st = h_wait_at(file, line, p);

    if (st != status)
        h_fail_at(file, line, "%s: exit status %d, expected %d", p->name, st, status);
}

/* Wait for the process to end; everything it printed must have been consumed. */
void
h_expect_eof_at(const char *file, int line, struct hproc *p)
{
    h_wait_at(file, line, p);
    if (p->pos != p->olen) {
        fprintf(stderr, "%s:%d: %s: more output than expected:\n", file, line, p->name);
        h_show(p->obuf + p->pos, p->olen - p->pos);
        fprintf(stderr, "\n");
        h_fail_at(file, line, "%s: unexpected output at the end", p->name);
    }
}

/* Send SIGTERM and wait for it to exit; return its status as h_wait does. */
int
h_stop_at(const char *file, int line, struct hproc *p)
{
    if (!p->reaped)
        kill(p->pid, SIGTERM);
    return h_wait_at(file, line, p);
}

/* Kill it now (SIGTERM, then SIGKILL after a grace period) and reap it. */
void
h_kill(struct hproc *p)
{
    if (p->reaped)
        return;
    kill(p->pid, SIGTERM);
    if (!h_wait_until(p, h_now_ms() + H_KILL_GRACE_MS) && !p->reaped) {
        kill(p->pid, SIGKILL);
        h_reap(p, 1);
    }
}

/* Everything it printed on stdout so far. */
const char *
h_stdout(struct hproc *p)
{
    h_pump(0);
    return p->obuf;
}

/* Everything it printed on stderr so far. */
const char *
h_stderr(struct hproc *p)
{
    h_pump(0);
    return p->ebuf;
}

/* Wait for text on stderr past from, in a whole line (see harness.h). */
size_t
h_wait_stderr_at(const char *file, int line, struct hproc *p, size_t from, const char *text)
{
    long long end = h_now_ms() + h_timeout_ms;
    const char *err, *hit;

    for (;;) {
        err = h_stderr(p);
        if ((hit = strstr(err + from, text)) != NULL && strchr(hit, '\n') != NULL)
            return (size_t)(hit - err);
        if (h_now_ms() > end)
            h_fail_at(file, line, "%s: stderr never said \"%s\"", p->name, text);
        h_pump(20);
    }
}

/* The port after "port number " or "UDP port " in a start-up line; 0 if none. */
unsigned
h_port(const char *line)
{
    static const char *const keys[] = {"port number ", "UDP port "};
    size_t k;

    for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *s = strstr(line, keys[k]);
        unsigned long v = 0;
        int digits = 0;

        if (s == NULL)
            continue;
        for (s += strlen(keys[k]); *s >= '0' && *s <= '9' && digits < 6; s++, digits++)
            v = v * 10 + (unsigned long)(*s - '0');
        if (digits > 0 && digits < 6 && v <= 65535 && (*s == ' ' || *s == '.' || *s == '\0'))
            return (unsigned)v;
    }
    return 0;
}

/* The next line must be prefix, a port number, then suffix; return the port. */
unsigned
h_expect_port_at(const char *file, int line, struct hproc *p, const char *prefix,
                 const char *suffix)
{
    const char *got = h_expect_prefix_at(file, line, p, prefix);
    const char *s = got + strlen(prefix);
    unsigned long v = 0;
    int digits = 0;

    for (; *s >= '0' && *s <= '9' && digits < 6; s++, digits++)
        v = v * 10 + (unsigned long)(*s - '0');
    if (digits == 0 || digits > 5 || v == 0 || v > 65535 || strcmp(s, suffix) != 0)
        h_fail_at(file, line, "%s: \"%s\" is not \"%s<port>%s\"", p->name, got, prefix, suffix);
    return (unsigned)v;
}
