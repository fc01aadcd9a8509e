/* passwd.c: `hcs passwd`: hash a password for users.txt, or hash every clear password of a file. */
#include "passwd.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "authpool.h"
#include "datafile.h"
#include "htab.h"
#include "users.h"
#include "util.h"

/* One row of the users file being upgraded. */
struct passwd_row {
    char *name;
    char *secret; /* a hash, or a clear password until it is hashed */
    size_t secretlen;
    unsigned line;
};

/* The rows of a users file, with an index by name to catch duplicates. */
struct passwd_rows {
    struct passwd_row *v;
    size_t n;
    size_t cap;
    struct htab idx;
};

/* The signal that interrupted a password prompt, or 0. */
static volatile sig_atomic_t passwd_signo;

/* Check the rules for a new password (see passwd.h). */
int
passwd_check(const char *password, size_t len, char *err, size_t errlen)
{
    size_t i;

    if (len == 0) {
        snprintf(err, errlen, "empty password");
        return -1;
    }
    if (len > PASSWD_MAX) {
        snprintf(err, errlen, "password longer than %d bytes", PASSWD_MAX);
        return -1;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)password[i];
        if (c <= 0x20 || c == 0x7f) {
            snprintf(err, errlen, "password holds a space or a control character");
            return -1;
        }
    }
    return 0;
}

/* Count the characters of a new password (see passwd.h). */
int
passwd_check_length(const char *password, size_t len, char *err, size_t errlen)
{
    size_t i, chars = 0;

    for (i = 0; i < len; i++)
        if (((unsigned char)password[i] & 0xc0) != 0x80)
            chars++;
    if (chars < PASSWD_MIN) {
        snprintf(err, errlen,
                 "password shorter than %d characters (give --force to use it all the same)",
                 PASSWD_MIN);
        return -1;
    }
    return 0;
}

/* Hash a password with a fresh yescrypt setting of the default cost. */
int
passwd_hash(const char *password, char *out, size_t outlen, char *err, size_t errlen)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd;
    const char *h;
    int rc = -1;

    if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, (int)sizeof setting) == NULL) {
        snprintf(err, errlen, "cannot make a yescrypt salt: %s", strerror(errno));
        return -1;
    }
    if ((cd = calloc(1, sizeof *cd)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if ((h = crypt_rn(password, setting, cd, (int)sizeof *cd)) == NULL)
        snprintf(err, errlen, "cannot hash the password: %s", strerror(errno));
    else if (strlen(h) >= outlen)
        snprintf(err, errlen, "hash too long");
    else {
        memcpy(out, h, strlen(h) + 1);
        rc = 0;
    }
    util_wipe(cd, sizeof *cd);
    free(cd);
    return rc;
}

/* Record the signal that interrupts a prompt; read() then fails with EINTR. */
static void
passwd_on_signal(int sig)
{
    passwd_signo = sig;
}

/*
 * Read one line from fd into buf (at most max bytes, then NUL), byte by byte
 * so nothing past the line is consumed. "\r\n" and a missing final newline
 * are accepted. Returns the length, -1 on error or end of input before any
 * byte (errno 0), or -2 for a line longer than max.
 */
static ssize_t
passwd_read_line(int fd, char *buf, size_t max)
{
    size_t len = 0;
    ssize_t n;
    char c;

    errno = 0;
    for (;;) {
        if ((n = read(fd, &c, 1)) == -1) {
            if (errno == EINTR && passwd_signo == 0)
                continue;
            return -1;
        }
        if (n == 0 || c == '\n')
            break;
        if (len == max)
            return -2;
        buf[len++] = c;
    }
    if (n == 0 && len == 0)
        return -1;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Write a prompt to the terminal. */
static void
passwd_prompt(int fd, const char *text)
{
    size_t len = strlen(text);
    ssize_t n;

    while (len > 0 && ((n = write(fd, text, len)) > 0 || errno == EINTR))
        if (n > 0) {
            text += n;
            len -= (size_t)n;
        }
}

/*
 * Read a password from the terminal tty with echo off. Signals that would
 * stop or end the program are caught so echo is back on first; the signal
 * is then raised again. Returns as passwd_read_line.
 */
static ssize_t
passwd_read_tty(int tty, const char *prompt, char *buf, size_t max)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};
    struct sigaction sa, old[sizeof sigs / sizeof sigs[0]];
    struct termios saved, noecho;
    ssize_t len;
    size_t i;
    int saved_errno;

    if (tcgetattr(tty, &saved) == -1)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = passwd_on_signal;
    sigemptyset(&sa.sa_mask);
    passwd_signo = 0;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, &old[i]);
    noecho = saved;
    noecho.c_lflag &= (tcflag_t)~ECHO;
    passwd_prompt(tty, prompt);
    if (tcsetattr(tty, TCSAFLUSH, &noecho) == -1)
        len = -1;
    else
        len = passwd_read_line(tty, buf, max);
    saved_errno = errno;
    while (tcsetattr(tty, TCSAFLUSH, &saved) == -1 && errno == EINTR)
        continue;
    passwd_prompt(tty, "\n");
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &old[i], NULL);
    if (passwd_signo != 0) {
        raise(passwd_signo);
        len = -1;
        saved_errno = EINTR;
    }
    errno = saved_errno;
    return len;
}

/* Explain why reading a password failed. */
static void
passwd_read_error(ssize_t len, char *err, size_t errlen)
{
    if (len == -2)
        snprintf(err, errlen, "password longer than %d bytes", PASSWD_MAX);
    else if (errno == EINTR)
        snprintf(err, errlen, "interrupted");
    else if (errno != 0)
        snprintf(err, errlen, "cannot read the password: %s", strerror(errno));
    else
        snprintf(err, errlen, "no password given");
}

/*
 * Whether a new password may be used: the rules of passwd_check, and at
 * least PASSWD_MIN characters unless force. Returns 0 or -1 with err set.
 */
static int
passwd_acceptable(const char *password, size_t len, int force, char *err, size_t errlen)
{
    if (passwd_check(password, len, err, errlen) == -1)
        return -1;
    if (!force && passwd_check_length(password, len, err, errlen) == -1)
        return -1;
    return 0;
}

/*
 * Read a new password into buf (PASSWD_MAX + 1 bytes): twice with echo off
 * on a terminal (a password refused by passwd_acceptable is not asked
 * again), else one line of standard input. Returns its length or -1.
 */
static ssize_t
passwd_read(const char *user, int force, char *buf, char *err, size_t errlen)
{
    char again[PASSWD_MAX + 1], prompt[128];
    ssize_t len, len2;
    int tty;

    if (!isatty(STDIN_FILENO)) {
        if ((len = passwd_read_line(STDIN_FILENO, buf, PASSWD_MAX)) < 0)
            passwd_read_error(len, err, errlen);
        return len < 0 ? -1 : len;
    }
    if ((tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
        snprintf(err, errlen, "/dev/tty: %s", strerror(errno));
        return -1;
    }
    snprintf(prompt, sizeof prompt, "New password for %s: ", user);
    if ((len = passwd_read_tty(tty, prompt, buf, PASSWD_MAX)) < 0) {
        passwd_read_error(len, err, errlen);
    } else if (passwd_acceptable(buf, (size_t)len, force, err, errlen) == -1) {
        len = -1;
    } else if ((len2 = passwd_read_tty(tty, "Retype the password: ", again, PASSWD_MAX)) < 0) {
        passwd_read_error(len2, err, errlen);
        len = -1;
    } else if (!util_secret_equal(buf, (size_t)len, again, (size_t)len2)) {
        snprintf(err, errlen, "the passwords do not match");
        len = -1;
    }
    util_wipe(again, sizeof again);
    close(tty);
    return len < 0 ? -1 : len;
}

/* hcs passwd USER: print "USER <hash>" for a password read from the user. */
static int
passwd_one(const char *user, int force)
{
    char pw[PASSWD_MAX + 1], hash[CRYPT_OUTPUT_SIZE], err[256], name[160];
    ssize_t len;
    int rc = 1;

    if (!util_token_ok(user, strlen(user)) || strlen(user) > USERS_MAXNAME) {
        util_escape(name, sizeof name, user, strlen(user));
        fprintf(stderr,
                "hcs passwd: bad username \"%s\": 1 to %d bytes, no space or control "
                "character\n",
                name, USERS_MAXNAME);
        return 1;
    }
    if ((len = passwd_read(user, force, pw, err, sizeof err)) < 0 ||
        passwd_acceptable(pw, (size_t)len, force, err, sizeof err) == -1 ||
        passwd_hash(pw, hash, sizeof hash, err, sizeof err) == -1) {
        fprintf(stderr, "hcs passwd: %s\n", err);
    } else if (printf("%s %s\n", user, hash) < 0 || fflush(stdout) == EOF) {
        fprintf(stderr, "hcs passwd: standard output: %s\n", strerror(errno));
    } else {
        rc = 0;
    }
    util_wipe(pw, sizeof pw);
    return rc;
}

/* Compare a name with row number item (for htab_find). */
static int
passwd_row_eq(const void *ctx, uint32_t item, const void *key, size_t keylen)
{
    const struct passwd_row *row = &((const struct passwd_rows *)ctx)->v[item];

    return strlen(row->name) == keylen && memcmp(row->name, key, keylen) == 0;
}

/* Free the rows, wiping clear passwords. */
static void
passwd_rows_free(struct passwd_rows *rows)
{
    size_t i;

    for (i = 0; i < rows->n; i++) {
        util_wipe(rows->v[i].secret, rows->v[i].secretlen);
        free(rows->v[i].secret);
        free(rows->v[i].name);
    }
    free(rows->v);
    htab_free(&rows->idx);
    memset(rows, 0, sizeof *rows);
}

/* Add the current row of df, with the rules of users.c (plus longer hashes). */
static int
passwd_row_add(struct passwd_rows *rows, struct datafile *df, char *err, size_t errlen)
{
    struct passwd_row *row;
    uint64_t h;
    int64_t prev;

    if (df->nfields != 2)
        return datafile_error(df, err, errlen, "expected 2 fields (username password), found %d",
                              df->nfields);
    if (df->len[0] > USERS_MAXNAME)
        return datafile_error(df, err, errlen, "username longer than %d bytes", USERS_MAXNAME);
    if (!authpool_is_hash(df->field[1])) {
        if (df->len[1] > PASSWD_MAX)
            return datafile_error(df, err, errlen, "password longer than %d bytes", PASSWD_MAX);
        /* Hashing a hash hcs cannot check would lock its user out for good. */
        if (df->field[1][0] == '$' && crypt_checksalt(df->field[1]) != CRYPT_SALT_INVALID)
            return datafile_error(df, err, errlen,
                                  "password looks like a crypt(3) hash of a method hcs does not "
                                  "check, or an incomplete one");
    }
    h = htab_hash(df->field[0], df->len[0]);
    if ((prev = htab_find(&rows->idx, h, passwd_row_eq, rows, df->field[0], df->len[0])) != -1)
        return datafile_error(df, err, errlen, "duplicate username (first on line %u)",
                              rows->v[prev].line);
    if (rows->n == rows->cap) {
        size_t cap = rows->cap ? rows->cap * 2 : 64;
        struct passwd_row *v = realloc(rows->v, cap * sizeof *v);
        if (v == NULL)
            return datafile_error(df, err, errlen, "out of memory");
        rows->v = v;
        rows->cap = cap;
    }
    row = &rows->v[rows->n];
    row->line = df->line;
    row->secretlen = df->len[1];
    row->name = strdup(df->field[0]);
    row->secret = strdup(df->field[1]);
    if (row->name == NULL || row->secret == NULL || rows->n >= UINT32_MAX ||
        htab_insert(&rows->idx, h, (uint32_t)rows->n) == -1) {
        if (row->secret != NULL)
            util_wipe(row->secret, row->secretlen);
        free(row->secret);
        free(row->name);
        return datafile_error(df, err, errlen, "out of memory");
    }
    rows->n++;
    util_wipe(df->field[1], df->len[1]);
    return 0;
}

/* Read and check every row of the users file, and stat it. */
static int
passwd_rows_read(struct passwd_rows *rows, const char *path, struct stat *st, char *err,
                 size_t errlen)
{
    struct datafile df;
    int rc;

    memset(rows, 0, sizeof *rows);
    if (lstat(path, st) == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISLNK(st->st_mode)) {
        snprintf(err, errlen, "%s: a symbolic link: give the path of the file it points to", path);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (htab_init(&rows->idx, 64) == -1) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (datafile_open(&df, path, err, errlen) == -1)
        return -1;
    while ((rc = datafile_next(&df, err, errlen)) == 1)
        if ((rc = passwd_row_add(rows, &df, err, errlen)) == -1)
            break;
    if (rc == 0 && rows->n == 0) {
        snprintf(err, errlen, "%s:1: no users in file", path);
        rc = -1;
    }
    if (df.buf != NULL)
        util_wipe(df.buf, df.cap);
    datafile_close(&df);
    return rc;
}

/* fsync the folder that holds path, so a rename in it is durable. */
static int
passwd_sync_dir(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd, rc = 0;

    if (slash == NULL)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 || fsync(fd) == -1) {
        snprintf(err, errlen, "%s: replaced, but cannot sync its folder %s: %s", path, dir,
                 strerror(errno));
        rc = -1;
    }
    if (fd != -1)
        close(fd);
    free(dir);
    return rc;
}

/* Write the rows to a new file next to path and rename it over path. */
static int
passwd_replace(const struct passwd_rows *rows, const char *path, const struct stat *st, char *err,
               size_t errlen)
{
    static const char suffix[] = ".tmpXXXXXX";
    struct stat tst;
    char *tmp;
    FILE *fp = NULL;
    size_t i;
    int fd;

    if ((tmp = malloc(strlen(path) + sizeof suffix)) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    memcpy(tmp, path, strlen(path));
    memcpy(tmp + strlen(path), suffix, sizeof suffix);
    if ((fd = mkstemp(tmp)) == -1) {
        snprintf(err, errlen, "%s: cannot create a temporary file: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    if (fstat(fd, &tst) == -1 || ((tst.st_uid != st->st_uid || tst.st_gid != st->st_gid) &&
                                  fchown(fd, st->st_uid, st->st_gid) == -1)) {
        snprintf(err, errlen, "%s: cannot keep the file's owner and group: %s", path,
                 strerror(errno));
        goto fail;
    }
    if (fchmod(fd, st->st_mode & 07777) == -1) {
        snprintf(err, errlen, "%s: cannot keep the file's mode: %s", path, strerror(errno));
        goto fail;
    }
    if ((fp = fdopen(fd, "w")) == NULL) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    for (i = 0; i < rows->n; i++)
        fprintf(fp, "%s %s\n", rows->v[i].name, rows->v[i].secret);
    if (fflush(fp) == EOF || ferror(fp) || fsync(fileno(fp)) == -1) {
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fclose(fp) == EOF) {
        fp = NULL;
        snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        goto fail;
    }
    fp = NULL;
    if (rename(tmp, path) == -1) {
        snprintf(err, errlen, "%s: cannot replace with %s: %s", path, tmp, strerror(errno));
        goto fail;
    }
    free(tmp);
    return passwd_sync_dir(path, err, errlen);

fail:
    if (fp != NULL)
        fclose(fp);
    if (fd != -1)
        close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

/* Hash every clear password of a users file in place (see passwd.h). */
int
passwd_upgrade(const char *path, char *err, size_t errlen, unsigned *hashed, unsigned *kept)
{
    char hash[CRYPT_OUTPUT_SIZE], msg[256];
    struct passwd_rows rows;
    struct stat st;
    size_t i;
    int rc = -1;

    *hashed = *kept = 0;
    if (passwd_rows_read(&rows, path, &st, err, errlen) == -1)
        goto out;
    for (i = 0; i < rows.n; i++) {
        struct passwd_row *row = &rows.v[i];
        char *copy;

        if (authpool_is_hash(row->secret)) {
            ++*kept;
            continue;
        }
        if (passwd_hash(row->secret, hash, sizeof hash, msg, sizeof msg) == -1) {
            snprintf(err, errlen, "%s:%u: %s", path, row->line, msg);
            goto out;
        }
        if ((copy = strdup(hash)) == NULL) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto out;
        }
        util_wipe(row->secret, row->secretlen);
        free(row->secret);
        row->secret = copy;
        row->secretlen = strlen(copy);
        ++*hashed;
    }
    rc = *hashed == 0 ? 0 : passwd_replace(&rows, path, &st, err, errlen);
out:
    passwd_rows_free(&rows);
    if (rc == -1)
        *hashed = *kept = 0;
    return rc;
}

/* Print the subcommand's usage. */
static void
passwd_usage(FILE *fp)
{
    fprintf(fp,
            "usage: hcs passwd [-f] USER\n"
            "       hcs passwd --upgrade FILE\n"
            "  USER               read a new password (twice, without echo, on a terminal;\n"
            "                     else one line of standard input) and print the row\n"
            "                     \"USER <yescrypt hash>\" for users.txt\n"
            "  -f, --force        take a password shorter than %d characters\n"
            "  -u, --upgrade FILE replace every clear password of a users file by its hash,\n"
            "                     atomically, keeping the file's mode; hashed rows are kept\n"
            "  -h, --help         show this help\n"
            "New passwords: %d characters to %d bytes, no space or control character.\n",
            PASSWD_MIN, PASSWD_MIN, PASSWD_MAX);
}

/* A usage error: the reason (getopt said it already when NULL), where the help is; status 1. */
static int
passwd_usage_error(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "hcs passwd: %s\n", why);
    fprintf(stderr, "Try 'hcs passwd --help'.\n");
    return 1;
}

/* hcs passwd: parse the options and run one of the two modes. */
int
passwd_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"upgrade", required_argument, NULL, 'u'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *upgrade = NULL;
    char err[1024];
    unsigned hashed, kept;
    int ch, force = 0;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "u:fh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            upgrade = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'h':
            passwd_usage(stdout);
            return 0;
        default:
            return passwd_usage_error(NULL);
        }
    }
    if (upgrade == NULL) {
        if (argc - optind != 1)
            return passwd_usage_error(argc == optind ? "give the USER to make a row for"
                                                     : "give one USER only");
        return passwd_one(argv[optind], force);
    }
    if (optind != argc)
        return passwd_usage_error("--upgrade FILE takes no other argument");
    if (force)
        return passwd_usage_error("--force is for a new password, not for --upgrade");
    if (passwd_upgrade(upgrade, err, sizeof err, &hashed, &kept) == -1) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    fprintf(stderr, "%s: %u password%s hashed, %u already hashed%s\n", upgrade, hashed,
            hashed == 1 ? "" : "s", kept, hashed == 0 ? " (file unchanged)" : "");
    return 0;
}
