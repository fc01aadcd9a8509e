/* harness.h: run the real binaries in system tests: temporary folders, processes on pipes,
 * exact screen lines read with deadlines. */
#ifndef HCS_HARNESS_H
#define HCS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#define H_TIMEOUT_MS 10000 /* default deadline of every wait */
#define H_MAXPROCS 32      /* processes one test may start */

/*
 * One process the harness started. Its stdin is a pipe the test writes to;
 * its stdout and stderr are pipes the harness reads into buffers. Reading
 * consumes stdout from pos; everything read stays in obuf for failure
 * messages.
 */
struct hproc {
    char name[32];
    pid_t pid;
    int in;  /* write end of its stdin, -1 once closed */
    int out; /* read end of its stdout, -1 at end of file */
    int err; /* read end of its stderr, -1 at end of file */
    char *obuf;
    size_t olen, ocap, pos;
    char *ebuf;
    size_t elen, ecap;
    int reaped;
    int status; /* once reaped: exit code, or 128 + signal */
    char *line; /* the line h_line returned last */
    size_t linecap;
    int held; /* h_hold: its stdout and stderr are left unread (a reader that stopped) */
};

/* Deadline of every wait, in milliseconds (H_TIMEOUT_MS unless changed). */
extern int h_timeout_ms;

/* Once per test program: ignore SIGPIPE, register the exit-time clean-up. */
void h_init(void);
/* Kill every process still running, remove the temporary folders, free everything.
 * Call it from a cmocka teardown so it runs even after a failed assertion. */
void h_cleanup(void);

/* A new empty folder under $TMPDIR (or /tmp), removed by h_cleanup. */
const char *h_tmpdir(void);
/* n bytes of zeroed memory (kept until h_cleanup). */
void *h_alloc(size_t n);
/* A formatted string (kept until h_cleanup). */
const char *h_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "dir/name" (kept until h_cleanup). */
const char *h_path(const char *dir, const char *name);
/* Write a file dir/name from a format; return its path (kept until h_cleanup). */
const char *h_file(const char *dir, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The whole of a file, which must exist, as a string (kept until h_cleanup). */
const char *h_slurp(const char *path);

/*
 * Start prog (a bare name means HCS_BIN_DIR/prog) with the NULL-terminated
 * arguments after it. env: NULL or a NULL-terminated list of "NAME=value"
 * added to the environment. name labels it in failure messages.
 */
#define h_start(...) h_start_at(__FILE__, __LINE__, __VA_ARGS__)
struct hproc *h_start_at(const char *file, int line, const char *name, const char *const *env,
                         const char *prog, ...);
/* Same with an argument vector (argv[0] is the program). */
#define h_startv(...) h_startv_at(__FILE__, __LINE__, __VA_ARGS__)
struct hproc *h_startv_at(const char *file, int line, const char *name, const char *const *env,
                          const char *const *argv);

/* Write text to its stdin. */
#define h_send(p, ...) h_send_at(__FILE__, __LINE__, (p), __VA_ARGS__)
void h_send_at(const char *file, int line, struct hproc *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Close its stdin (end of input). */
void h_close_in(struct hproc *p);

/* The next complete line of stdout, without its "\n" (valid until the next call). */
#define h_line(p) h_line_at(__FILE__, __LINE__, (p))
const char *h_line_at(const char *file, int line, struct hproc *p);
/* The next line must be exactly s. */
#define h_expect(p, s) h_expect_at(__FILE__, __LINE__, (p), (s))
void h_expect_at(const char *file, int line, struct hproc *p, const char *s);
/* The next line must be exactly the formatted text. */
#define h_expectf(p, ...) h_expectf_at(__FILE__, __LINE__, (p), __VA_ARGS__)
void h_expectf_at(const char *file, int line, struct hproc *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The next line must start with prefix; returns the whole line. */
#define h_expect_prefix(p, s) h_expect_prefix_at(__FILE__, __LINE__, (p), (s))
const char *h_expect_prefix_at(const char *file, int line, struct hproc *p, const char *prefix);
/* Skip lines until one starts with prefix; returns it. */
#define h_wait_prefix(p, s) h_wait_prefix_at(__FILE__, __LINE__, (p), (s))
const char *h_wait_prefix_at(const char *file, int line, struct hproc *p, const char *prefix);
/* The unread output must start with text (no newline needed: a prompt); consume it. */
#define h_expect_text(p, s) h_expect_text_at(__FILE__, __LINE__, (p), (s))
void h_expect_text_at(const char *file, int line, struct hproc *p, const char *text);
/* Wait for the process to end and its stdout to close; everything it printed must
 * have been consumed. */
#define h_expect_eof(p) h_expect_eof_at(__FILE__, __LINE__, (p))
void h_expect_eof_at(const char *file, int line, struct hproc *p);

/* Wait for it to exit; return the exit code, or 128 + the signal that ended it. */
#define h_wait(p) h_wait_at(__FILE__, __LINE__, (p))
int h_wait_at(const char *file, int line, struct hproc *p);
/* Wait for it to exit; the status must be status. */
#define h_expect_exit(p, st) h_expect_exit_at(__FILE__, __LINE__, (p), (st))
void h_expect_exit_at(const char *file, int line, struct hproc *p, int status);
/* Send SIGTERM and wait for it to exit; return its status as h_wait does. */
#define h_stop(p) h_stop_at(__FILE__, __LINE__, (p))
int h_stop_at(const char *file, int line, struct hproc *p);
/* Kill it now (SIGTERM, then SIGKILL after a grace period) and reap it. */
void h_kill(struct hproc *p);

/* held 1: stop reading its stdout and stderr, so its pipes fill as for a reader that stopped;
 * 0: read them again. Waiting for it to exit (h_wait, h_stop, h_kill) reads them again too. */
void h_hold(struct hproc *p, int held);

/* Wait up to ms for output of any started process and read it into its buffer. Call it
 * from a test's own poll loop so that no process blocks on a full pipe. */
void h_pump(int ms);

/* Everything it printed on stdout / stderr so far (NUL-terminated). */
const char *h_stdout(struct hproc *p);
const char *h_stderr(struct hproc *p);
/*
 * Wait until stderr, from offset from on, holds text in a line already
 * ended (the log is written by a thread: a line may come after the event
 * that caused it). Returns the offset of text in h_stderr(p).
 */
#define h_wait_stderr(p, from, text) h_wait_stderr_at(__FILE__, __LINE__, (p), (from), (text))
size_t h_wait_stderr_at(const char *file, int line, struct hproc *p, size_t from, const char *text);

/*
 * The port in a start-up line: the number after "port number " or "UDP port "
 * ("... has port number 34567 and IP address 127.0.0.1."). 0 if none.
 */
unsigned h_port(const char *line);

/*
 * The next line must be prefix, a port number (1 to 65535), then suffix; return the port.
 * Everything but the port is compared exactly.
 */
#define h_expect_port(p, prefix, suffix)                                                           \
    h_expect_port_at(__FILE__, __LINE__, (p), (prefix), (suffix))
unsigned h_expect_port_at(const char *file, int line, struct hproc *p, const char *prefix,
                          const char *suffix);

/* Fail the test with a message, the place, and what every process printed. */
#define h_fail(...) h_fail_at(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void h_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Milliseconds of a monotonic clock. */
long long h_now_ms(void);

#endif
