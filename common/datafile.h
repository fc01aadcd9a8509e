/* datafile.h: rows of whitespace-separated fields from the classic text files. */
#ifndef HCS_DATAFILE_H
#define HCS_DATAFILE_H

#include <stddef.h>
#include <stdio.h>

#define DATAFILE_MAXFIELDS 8
#define DATAFILE_MAXLINE 4096 /* bytes in one line, its line ending excluded */

/*
 * One open data file. Rows are split on spaces and tabs; "\r\n" and "\n"
 * both end a line, the last line needs no newline, and blank lines are
 * skipped. A row holding a NUL or another control byte is an error, and so
 * is a line longer than DATAFILE_MAXLINE bytes.
 */
struct datafile {
    FILE *fp;
    const char *name; /* shown in messages: "name:line: ..." */
    unsigned line;
    char *buf;
    size_t cap;
    int nfields;
    char *field[DATAFILE_MAXFIELDS];
    size_t len[DATAFILE_MAXFIELDS];
};

int datafile_open(struct datafile *df, const char *path, char *err, size_t errlen);
/* Read from memory instead of a file (tests and fuzzers). */
int datafile_open_mem(struct datafile *df, const char *name, const void *data, size_t len,
                      char *err, size_t errlen);
/* What a loader does with an open data file: read its rows into ctx. */
typedef int (*datafile_read_fn)(void *ctx, struct datafile *df, char *err, size_t errlen);
/*
 * Open name (a path, or, when data is not NULL, a name for len bytes of
 * data), call read on it, and close it. Returns what read returned, or -1
 * when the file cannot be opened.
 */
int datafile_load(const char *name, const void *data, size_t len, datafile_read_fn read, void *ctx,
                  char *err, size_t errlen);
/* Next non-blank row: 1 a row, 0 end of file, -1 error (in err). */
int datafile_next(struct datafile *df, char *err, size_t errlen);
/* Format "name:line: message" for the current row into err. Returns -1. */
int datafile_error(const struct datafile *df, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void datafile_close(struct datafile *df);

#endif
