/* datafile.c: rows of whitespace-separated fields from the classic text files. */
#include "datafile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Open a data file by path; a missing or unreadable file is an error. */
int
datafile_open(struct datafile *df, const char *path, char *err, size_t errlen)
{
    memset(df, 0, sizeof *df);
    df->name = path;
    if ((df->fp = fopen(path, "r")) == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Open a data file held in memory. */
int
datafile_open_mem(struct datafile *df, const char *name, const void *data, size_t len, char *err,
                  size_t errlen)
{
    memset(df, 0, sizeof *df);
    df->name = name;
    if (len == 0) /* fmemopen refuses a size of 0 */
        df->fp = fopen("/dev/null", "r");
    else
        df->fp = fmemopen((void *)(uintptr_t)data, len, "r");
    if (df->fp == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

/* Open a data file from disk or memory, hand it to read, and close it. */
int
datafile_load(const char *name, const void *data, size_t len, datafile_read_fn read, void *ctx,
              char *err, size_t errlen)
{
    struct datafile df;
    int rc;

    rc = data != NULL ? datafile_open_mem(&df, name, data, len, err, errlen)
                      : datafile_open(&df, name, err, errlen);
    if (rc == -1)
        return -1;
    rc = read(ctx, &df, err, errlen);
    datafile_close(&df);
    return rc;
}

/* Format an error message that names the file and the current line. */
int
datafile_error(const struct datafile *df, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s:%u: %s", df->name, df->line, msg);
    return -1;
}

/*
 * Read one line into df->buf, at most DATAFILE_MAXLINE bytes: its length
 * with the "\n", 0 at end of file, -1 on a read error or a longer line
 * (a file such as /dev/zero must not grow the buffer without end).
 */
static ssize_t
datafile_getline(struct datafile *df, char *err, size_t errlen)
{
    size_t n = 0, len;
    int c = 0;

    if (df->buf == NULL) {
        if ((df->buf = malloc(DATAFILE_MAXLINE + 3)) == NULL) {
            snprintf(err, errlen, "%s: out of memory", df->name);
            return -1;
        }
        df->cap = DATAFILE_MAXLINE + 3;
    }
    errno = 0;
    /* Room for the longest line and its "\r\n". */
    while (n < DATAFILE_MAXLINE + 2 && (c = getc_unlocked(df->fp)) != EOF) {
        df->buf[n++] = (char)c;
        if (c == '\n')
            break;
    }
    df->buf[n] = '\0';
    if (c == EOF && ferror(df->fp)) {
        snprintf(err, errlen, "%s:%u: read error: %s", df->name, df->line + 1, strerror(errno));
        return -1;
    }
    len = n;
    if (len > 0 && df->buf[len - 1] == '\n')
        len--;
    if (len > 0 && df->buf[len - 1] == '\r')
        len--;
    if (len > DATAFILE_MAXLINE || (n == DATAFILE_MAXLINE + 2 && c != '\n')) {
        snprintf(err, errlen, "%s:%u: line longer than %d bytes", df->name, df->line + 1,
                 DATAFILE_MAXLINE);
        return -1;
    }
    return (ssize_t)n;
}

/* Read lines until one has fields, and split it. */
int
datafile_next(struct datafile *df, char *err, size_t errlen)
{
    ssize_t n;

    for (;;) {
        char *p, *end;

        if ((n = datafile_getline(df, err, errlen)) <= 0)
            return (int)n;
        df->line++;
        end = df->buf + n;
        if (end > df->buf && end[-1] == '\n')
            *--end = '\0';
        if (end > df->buf && end[-1] == '\r')
            *--end = '\0';
        df->nfields = 0;
        for (p = df->buf; p < end; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == ' ' || c == '\t') {
                *p = '\0';
                continue;
            }
            if (c < 0x20 || c == 0x7f)
                return datafile_error(df, err, errlen, "control character (byte 0x%02x) in row", c);
            if (p == df->buf || p[-1] == '\0') {
                if (df->nfields == DATAFILE_MAXFIELDS)
                    return datafile_error(df, err, errlen, "too many fields");
                df->field[df->nfields++] = p;
            }
        }
        if (df->nfields > 0) {
            int i;
            for (i = 0; i < df->nfields; i++)
                df->len[i] = strlen(df->field[i]);
            return 1;
        }
    }
}

/* Close the file and free the line buffer. */
void
datafile_close(struct datafile *df)
{
    if (df->fp != NULL)
        fclose(df->fp);
    free(df->buf);
    df->fp = NULL;
    df->buf = NULL;
}
