/* test_prompt.c: the real patient at a real terminal (a pty) against a real hcs: news that
 * comes while the person is typing is printed above the prompt, the typed text is drawn again,
 * and Enter books what the screen shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define PROMPT "Please enter the preferred appointment index and press enter: "
#define TERM_ROWS 60
#define TERM_COLS 200
#define TERM_RAWMAX 65536 /* bytes of the patient's output kept for failure messages */

/*
 * What the terminal shows: a grid of cells written by a small VT100 model,
 * enough for what libedit sends to an xterm (cursor moves, erasing, the
 * pending wrap at the right margin).
 */
struct term {
    char cell[TERM_ROWS][TERM_COLS + 1];
    int row, col;
    int wrap;     /* the last column was written: the next character goes on the next row */
    int esc;      /* in an escape sequence: 1 after ESC, 2 in "ESC [", 3 after "ESC (" */
    char par[32]; /* the parameters of "ESC [" */
    size_t npar;
    char raw[TERM_RAWMAX]; /* everything the patient wrote, as it came */
    size_t nraw;
};

/* The patient on the pty. */
struct ptyproc {
    pid_t pid;  /* -1 once reaped */
    int fd;     /* the pty's master side, -1 at its end */
    int status; /* once reaped: exit code, or 128 + signal */
    struct term t;
};

/* The one patient of the running test, killed by the teardown if a check failed. */
static struct ptyproc *prompt_child;
/* Whether the next patient started runs with --trace. */
static int pty_trace;

/* Clear the terminal. */
static void
term_init(struct term *t)
{
    memset(t, 0, sizeof *t);
    memset(t->cell, ' ', sizeof t->cell);
    for (int r = 0; r < TERM_ROWS; r++)
        t->cell[r][TERM_COLS] = '\0';
}

/* Blank the cells of row r from column a up to, not including, column b. */
static void
term_blank(struct term *t, int r, int a, int b)
{
    if (a < b)
        memset(&t->cell[r][a], ' ', (size_t)(b - a));
}

/* Move down one row, scrolling at the bottom. */
static void
term_newline(struct term *t)
{
    if (t->row + 1 < TERM_ROWS) {
        t->row++;
        return;
    }
    memmove(t->cell[0], t->cell[1], sizeof t->cell[0] * (TERM_ROWS - 1));
    term_blank(t, TERM_ROWS - 1, 0, TERM_COLS);
}

/* The n-th number of the "ESC [" parameters, or def when it is missing or 0. */
static int
term_param(const struct term *t, int n, int def)
{
    const char *p = t->par;
    long v;

    if (*p == '?')
        p++;
    for (; n > 0 && (p = strchr(p, ';')) != NULL; n--)
        p++;
    if (p == NULL)
        return def;
    v = strtol(p, NULL, 10);
    return v <= 0 ? def : (int)v;
}

/* Keep c within [lo, hi]. */
static int
term_clamp(int c, int lo, int hi)
{
    return c < lo ? lo : c > hi ? hi : c;
}

/* Carry out "ESC [ <par> <final>". */
static void
term_csi(struct term *t, char final)
{
    int n = term_param(t, 0, 1), r;

    t->wrap = 0;
    switch (final) {
    case 'A':
        t->row = term_clamp(t->row - n, 0, TERM_ROWS - 1);
        break;
    case 'B':
        t->row = term_clamp(t->row + n, 0, TERM_ROWS - 1);
        break;
    case 'C':
        t->col = term_clamp(t->col + n, 0, TERM_COLS - 1);
        break;
    case 'D':
        t->col = term_clamp(t->col - n, 0, TERM_COLS - 1);
        break;
    case 'G':
        t->col = term_clamp(n - 1, 0, TERM_COLS - 1);
        break;
    case 'd':
        t->row = term_clamp(n - 1, 0, TERM_ROWS - 1);
        break;
    case 'H':
    case 'f':
        t->row = term_clamp(n - 1, 0, TERM_ROWS - 1);
        t->col = term_clamp(term_param(t, 1, 1) - 1, 0, TERM_COLS - 1);
        break;
    case 'J': /* 0: from the cursor down; 2: all */
        if (term_param(t, 0, 0) == 2) {
            for (r = 0; r < TERM_ROWS; r++)
                term_blank(t, r, 0, TERM_COLS);
            break;
        }
        term_blank(t, t->row, t->col, TERM_COLS);
        for (r = t->row + 1; r < TERM_ROWS; r++)
            term_blank(t, r, 0, TERM_COLS);
        break;
    case 'K': /* 0: to the end of the row; 1: to its start; 2: all of it */
        n = term_param(t, 0, 0);
        if (n == 0)
            term_blank(t, t->row, t->col, TERM_COLS);
        else if (n == 1)
            term_blank(t, t->row, 0, t->col + 1);
        else
            term_blank(t, t->row, 0, TERM_COLS);
        break;
    case 'P': /* delete n characters */
        n = term_clamp(n, 0, TERM_COLS - t->col);
        memmove(&t->cell[t->row][t->col], &t->cell[t->row][t->col + n],
                (size_t)(TERM_COLS - t->col - n));
        term_blank(t, t->row, TERM_COLS - n, TERM_COLS);
        break;
    case '@': /* insert n blanks */
        n = term_clamp(n, 0, TERM_COLS - t->col);
        memmove(&t->cell[t->row][t->col + n], &t->cell[t->row][t->col],
                (size_t)(TERM_COLS - t->col - n));
        term_blank(t, t->row, t->col, t->col + n);
        break;
    case 'X': /* erase n characters */
        term_blank(t, t->row, t->col, term_clamp(t->col + n, 0, TERM_COLS));
        break;
    default: /* colours, modes, margins: nothing that moves text */
        break;
    }
}

/* Write one byte of the patient's output onto the terminal. */
static void
term_put(struct term *t, unsigned char c)
{
    if (t->nraw < sizeof t->raw)
        t->raw[t->nraw++] = (char)c;
    if (t->esc == 1) {
        t->esc = c == '[' ? 2 : (c == '(' || c == ')') ? 3 : 0;
        t->npar = 0;
        t->par[0] = '\0';
        return;
    }
    if (t->esc == 3) {
        t->esc = 0;
        return;
    }
    if (t->esc == 2) {
        if (c >= 0x40 && c <= 0x7e) {
            t->esc = 0;
            term_csi(t, (char)c);
        } else if (t->npar + 1 < sizeof t->par) {
            t->par[t->npar++] = (char)c;
            t->par[t->npar] = '\0';
        }
        return;
    }
    switch (c) {
    case 0x1b:
        t->esc = 1;
        return;
    case '\r':
        t->col = 0;
        t->wrap = 0;
        return;
    case '\n':
        term_newline(t);
        t->wrap = 0;
        return;
    case '\b':
        if (t->col > 0)
            t->col--;
        t->wrap = 0;
        return;
    case '\t':
        t->col = term_clamp((t->col / 8 + 1) * 8, 0, TERM_COLS - 1);
        return;
    default:
        if (c < 0x20 || c == 0x7f)
            return; /* the bell, and anything else that prints nothing */
        break;
    }
    if (t->wrap) {
        t->col = 0;
        term_newline(t);
        t->wrap = 0;
    }
    t->cell[t->row][t->col] = (char)c;
    if (t->col + 1 < TERM_COLS)
        t->col++;
    else
        t->wrap = 1;
}

/* Row r as text, without its trailing blanks (valid until the next call). */
static const char *
term_row(const struct term *t, int r)
{
    static char buf[TERM_COLS + 1];
    size_t n = TERM_COLS;

    memcpy(buf, t->cell[r], TERM_COLS);
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
    return buf;
}

/* Whether row r reads s; blanks at the end of either do not count (a prompt ends in one). */
static int
term_is(const struct term *t, int r, const char *s)
{
    const char *row = term_row(t, r);
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == ' ')
        n--;
    return strlen(row) == n && memcmp(row, s, n) == 0;
}

/* The row that reads s, from the top; -1 if none does. */
static int
term_find(const struct term *t, const char *s)
{
    for (int r = 0; r < TERM_ROWS; r++)
        if (term_is(t, r, s))
            return r;
    return -1;
}

/* How many rows start with prefix. */
static int
term_count(const struct term *t, const char *prefix)
{
    int n = 0;

    for (int r = 0; r < TERM_ROWS; r++)
        n += strncmp(term_row(t, r), prefix, strlen(prefix)) == 0;
    return n;
}

/* Fail with the terminal's rows and what the patient wrote. */
static _Noreturn void
term_fail(const struct ptyproc *p, const char *what)
{
    int r, last = 0;

    for (r = 0; r < TERM_ROWS; r++)
        if (term_row(&p->t, r)[0] != '\0')
            last = r;
    fprintf(stderr, "---- the patient's terminal (cursor at row %d, column %d):\n", p->t.row,
            p->t.col);
    for (r = 0; r <= last || r <= p->t.row; r++)
        fprintf(stderr, "%2d|%s\n", r, term_row(&p->t, r));
    fprintf(stderr, "---- the bytes it wrote:\n");
    for (size_t i = 0; i < p->t.nraw; i++) {
        unsigned char c = (unsigned char)p->t.raw[i];
        if (c == '\n')
            fputs("\\n\n", stderr);
        else if (c < 0x20 || c == 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputc('\n', stderr);
    h_fail("patient on the pty: %s", what);
}

/* Start the patient with the config file conf on a new pty (TERM=xterm), under
 * $HCS_TEST_WRAPPER like the harness's processes. */
static struct ptyproc *
pty_start(const char *conf)
{
    struct winsize ws = {.ws_row = TERM_ROWS, .ws_col = TERM_COLS};
    struct ptyproc *p = h_alloc(sizeof *p);
    const char *wrapper = getenv("HCS_TEST_WRAPPER");
    char *argv[40], *words, *w, *save = NULL;
    int n = 0;

    term_init(&p->t);
    if (wrapper != NULL && *wrapper != '\0') {
        words = (char *)h_str("%s", wrapper);
        for (w = strtok_r(words, " ", &save); w != NULL && n < 32; w = strtok_r(NULL, " ", &save))
            argv[n++] = w;
    }
    argv[n++] = (char *)h_str("%s/patient", HCS_BIN_DIR);
    argv[n++] = (char *)"--config";
    argv[n++] = (char *)conf;
    if (pty_trace)
        argv[n++] = (char *)"--trace";
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    if ((p->pid = forkpty(&p->fd, NULL, NULL, &ws)) == -1)
        h_fail("forkpty: %s", strerror(errno));
    if (p->pid == 0) {
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        signal(SIGPIPE, SIG_DFL);
        setenv("TERM", "xterm", 1);
        unsetenv("EDITRC"); /* the person's own libedit settings stay out of the test */
        setenv("HOME", "/nonexistent", 1);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    p->status = -1;
    prompt_child = p;
    return p;
}

/* Read what the patient wrote for up to ms milliseconds, keeping the harness's pipes drained.
 * Returns 0 once the pty has ended. */
static int
pty_read(struct ptyproc *p, int ms)
{
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    unsigned char buf[4096];
    ssize_t n;

    h_pump(0);
    if (p->fd == -1)
        return 0;
    if (poll(&pfd, 1, ms) <= 0)
        return 1;
    n = read(p->fd, buf, sizeof buf);
    if (n <= 0) { /* EIO: the patient and everything it started closed the terminal */
        close(p->fd);
        p->fd = -1;
        return 0;
    }
    for (ssize_t i = 0; i < n; i++)
        term_put(&p->t, buf[i]);
    return 1;
}

/* Wait until the cursor's row reads exactly s. */
static void
pty_wait_cursor_row(struct ptyproc *p, const char *s)
{
    long long deadline = h_now_ms() + h_timeout_ms;

    while (!term_is(&p->t, p->t.row, s)) {
        if (h_now_ms() > deadline || !pty_read(p, 20))
            term_fail(p, h_str("the cursor's row never read \"%s\"", s));
    }
}

/* Wait until some row reads exactly s; returns that row. */
static int
pty_wait_row(struct ptyproc *p, const char *s)
{
    long long deadline = h_now_ms() + h_timeout_ms;
    int r;

    while ((r = term_find(&p->t, s)) == -1) {
        if (h_now_ms() > deadline || !pty_read(p, 20))
            term_fail(p, h_str("no row ever read \"%s\"", s));
    }
    return r;
}

/* Type s on the patient's keyboard. */
static void
pty_type(struct ptyproc *p, const char *s)
{
    size_t len = strlen(s);

    if (write(p->fd, s, len) != (ssize_t)len)
        h_fail("typing on the pty: %s", strerror(errno));
}

/* The editor has given the terminal back: lines and echo as the kernel does them. */
static void
pty_expect_cooked(struct ptyproc *p)
{
    struct termios tio;

    if (tcgetattr(p->fd, &tio) == -1)
        h_fail("tcgetattr on the pty: %s", strerror(errno));
    if ((tio.c_lflag & (ICANON | ECHO)) != (ICANON | ECHO))
        term_fail(p, "the terminal was left without line editing or echo");
}

/* Read to the end of the pty and reap the patient; returns its exit status. */
static int
pty_wait_exit(struct ptyproc *p)
{
    long long deadline = h_now_ms() + h_timeout_ms;
    int st;

    while (pty_read(p, 20))
        if (h_now_ms() > deadline)
            term_fail(p, "the patient did not end");
    if (waitpid(p->pid, &st, 0) == -1)
        h_fail("waitpid: %s", strerror(errno));
    p->pid = -1;
    prompt_child = NULL;
    p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return p->status;
}

/* The teardown: kill a patient a failed check left running, then the fixture's. */
static int
prompt_teardown(void **state)
{
    if (prompt_child != NULL && prompt_child->pid > 0) {
        kill(prompt_child->pid, SIGKILL);
        waitpid(prompt_child->pid, NULL, 0);
        if (prompt_child->fd != -1)
            close(prompt_child->fd);
    }
    prompt_child = NULL;
    pty_trace = 0;
    return fixture_teardown(state);
}

/* A center with nslots slots 1..nslots of doctor house (started here), two users; the
 * patient's files for alice. Returns the patient's config; *docport gets the doctor's port. */
static const char *
world_start(void **state, struct fixture **f, unsigned nslots, unsigned *docport)
{
    static const struct fixture_user users[] = {{"alice", "pw-alice.1"}, {"bob", "pw-bob.2"}};
    static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri"};
    const char *dir = h_tmpdir();
    const char *args[] = {"--id", "1", "--config-dir", dir, NULL};
    struct fixture_opts o = {.dir = dir, .users = users, .nusers = 2};
    const char *slots = "";
    unsigned i;

    fixture_doctor(dir, 1, "house", "acme-gold 135\n", NULL, args, docport);
    for (i = 1; i <= nslots; i++)
        slots = h_str("%s%u %s %02uam house %u\n", slots, i, days[i % 5], i % 12 + 1, *docport);
    o.slots_text = slots;
    *f = fixture_setup(state, &o);
    return fixture_patient(dir, 1, (*f)->port, "alice", "pw-alice.1", "acme-gold\n", NULL);
}

/* A center with nslots slots and the patient on a pty, at its prompt below the row last. */
static struct ptyproc *
prompt_start(void **state, unsigned nslots, const char *last, struct fixture **f, unsigned *docport)
{
    struct ptyproc *p = pty_start(world_start(state, f, nslots, docport));

    pty_wait_row(p, last);
    pty_wait_cursor_row(p, PROMPT);
    return p;
}

/* Another patient, bob, books index over a socket of the test: a push goes to the waiting one. */
static void
other_books(struct fixture *f, unsigned index, unsigned docport)
{
    struct tconn *c = fixture_login(f, "bob", "pw-bob.2");

    tc_sendf(c, "selection %u\n", index);
    tc_expectf(c, "house %u", docport);
    tc_close(c);
}

/*
 * Enter at the prompt, whose row must read PROMPT and shown: the center must
 * confirm exactly that index, and the patient says it is booked.
 */
static void
enter_books_shown(struct fixture *f, struct ptyproc *p, const char *shown, unsigned docport)
{
    if (!term_is(&p->t, p->t.row, h_str(PROMPT "%s", shown)))
        term_fail(p, h_str("the prompt should show \"%s\" before Enter", shown));
    pty_type(p, "\r");
    h_wait_prefix(f->hcs, h_str("Phase 2: The Health Center Server confirms the following "
                                "appointment %s to patient with username alice.",
                                shown));
    pty_wait_row(p, h_str("Phase 2: The requested appointment is available and reserved to "
                          "Patient 1. The assigned doctor port number is %u.",
                          docport));
    pty_expect_cooked(p);
}

/*
 * A short list: the person has typed "10" when slot 2 is taken. The news
 * and the list without 2 are printed where the prompt was, the prompt and
 * "10" are drawn again below them, and Enter books 10.
 */
static void
test_redraw_short_list(void **state)
{
    struct fixture *f;
    struct ptyproc *p;
    unsigned docport;
    int news, header;

    p = prompt_start(state, 10, "10 Mon 11am", &f, &docport);
    pty_type(p, "10");
    pty_wait_cursor_row(p, PROMPT "10");
    other_books(f, 2, docport);
    news = pty_wait_row(p, "Phase 2: Appointment 2 was just taken by another patient.");
    pty_wait_cursor_row(p, PROMPT "10");
    /* The news replaced the old prompt; the list again below it, then the prompt: one on screen. */
    header = term_find(&p->t, "Phase 2: The following appointments are available for Patient 1:");
    if (term_count(&p->t, PROMPT) != 1 || p->t.row <= news)
        term_fail(p, "the prompt should be shown once, below the news");
    if (!term_is(&p->t, news + 1,
                 "Phase 2: The following appointments are available for Patient 1:") ||
        !term_is(&p->t, news + 2, "1 Tue 02am") || !term_is(&p->t, news + 3, "3 Thu 04am") ||
        p->t.row != news + 2 + 9 || header >= news)
        term_fail(p, "the list without 2 should follow the news, then the prompt");
    enter_books_shown(f, p, "10", docport);
    (void)pty_wait_exit(p);
    if (p->status != 0)
        term_fail(p, h_str("exit status %d, expected 0", p->status));
    fixture_stop(f);
}

/*
 * A long list: one line of news and the prompt again, not the whole list;
 * the typed "1" is drawn again and the person goes on typing "1": Enter
 * books 11, which the screen shows.
 */
static void
test_redraw_long_list(void **state)
{
    struct fixture *f;
    struct ptyproc *p;
    unsigned docport;
    int news;

    p = prompt_start(state, 30, "30 Mon 07am", &f, &docport);
    pty_type(p, "1");
    pty_wait_cursor_row(p, PROMPT "1");
    other_books(f, 7, docport);
    news = pty_wait_row(p, "Phase 2: Appointment 7 was just taken by another patient.");
    pty_wait_cursor_row(p, PROMPT "1");
    if (p->t.row != news + 1 || term_count(&p->t, PROMPT) != 1 ||
        term_count(&p->t, "Phase 2: The following appointments") != 1)
        term_fail(p, "one line of news, then the prompt with the typed text, and no list again");
    pty_type(p, "1");
    pty_wait_cursor_row(p, PROMPT "11");
    enter_books_shown(f, p, "11", docport);
    if (pty_wait_exit(p) != 0)
        term_fail(p, h_str("exit status %d, expected 0", p->status));
    fixture_stop(f);
}

/* The end of input (Ctrl-D) on an empty answer: said below the prompt, exit 3, terminal back. */
static void
test_end_of_input(void **state)
{
    struct fixture *f;
    struct ptyproc *p;
    unsigned docport;
    int row;

    p = prompt_start(state, 3, "3 Thu 04am", &f, &docport);
    row = p->t.row;
    pty_type(p, "\x04");
    pty_wait_row(p, "Phase 2: No appointment index was entered for Patient 1. Exiting...");
    if (strncmp(term_row(&p->t, row), PROMPT, strlen(PROMPT)) != 0 || /* libedit adds "^D" */
        !term_is(&p->t, row + 1,
                 "Phase 2: No appointment index was entered for Patient 1. Exiting..."))
        term_fail(p, "the end of input should be told on the row below the prompt");
    pty_expect_cooked(p);
    if (pty_wait_exit(p) != 3)
        term_fail(p, h_str("exit status %d, expected 3", p->status));
    fixture_stop(f);
}

/*
 * --trace at a terminal: the push's trace line and the news it causes are
 * printed where the prompt was, in that order; the prompt and the typed "3"
 * are drawn again below, once; Enter sends the selection, traced too.
 */
static void
test_trace_at_prompt(void **state)
{
    struct fixture *f;
    struct ptyproc *p;
    unsigned docport;
    int push;

    pty_trace = 1;
    p = prompt_start(state, 3, "3 Thu 04am", &f, &docport);
    pty_type(p, "3");
    pty_wait_cursor_row(p, PROMPT "3");
    other_books(f, 2, docport);
    push = pty_wait_row(p, h_str("trace: phase 2 < 127.0.0.1:%u * reserved 2", f->port));
    pty_wait_cursor_row(p, PROMPT "3");
    if (!term_is(&p->t, push + 1, "Phase 2: Appointment 2 was just taken by another patient.") ||
        term_count(&p->t, PROMPT) != 1 || p->t.row <= push)
        term_fail(p, "the traced push, then the news, then the prompt again, once");
    pty_type(p, "\r");
    pty_wait_row(p, h_str("trace: phase 2 > 127.0.0.1:%u selection 3", f->port));
    pty_wait_row(p, h_str("trace: phase 3 < 127.0.0.1:%u 135", docport));
    if (pty_wait_exit(p) != 0)
        term_fail(p, h_str("exit status %d, expected 0", p->status));
    fixture_stop(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_redraw_short_list, prompt_teardown),
        cmocka_unit_test_teardown(test_redraw_long_list, prompt_teardown),
        cmocka_unit_test_teardown(test_end_of_input, prompt_teardown),
        cmocka_unit_test_teardown(test_trace_at_prompt, prompt_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
