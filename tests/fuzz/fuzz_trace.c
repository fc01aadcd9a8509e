/*
 * fuzz_trace.c: the --trace formatter. Any message becomes one line of
 * printable text within the buffer; a login line keeps its word and its
 * user, escaped, and shows nothing of the password but the mask; a buffer
 * of lines is one trace line per line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"
#include "util.h"

#define FUZZ_MAXMSG 400 /* bytes of a message tried: escaped, it always fits a line */
#define FUZZ_PREFIX "trace: phase 1 < p:1 "

/* Whether s holds only printable bytes (controls and DEL are escaped). */
static int
fuzz_printable(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return 0;
    return 1;
}

/* The first blank of data (where the mask begins after a user), or NULL. */
static const char *
fuzz_blank(const char *data, size_t size)
{
    size_t i;

    for (i = 0; i < size; i++)
        if (data[i] == ' ' || data[i] == '\t' || data[i] == '\v' || data[i] == '\f' ||
            data[i] == '\r')
            return data + i;
    return NULL;
}

/* Count the lines trace_lines hands on. */
static void
fuzz_count(const char *line, size_t len, void *arg)
{
    if (strlen(line) != len || !fuzz_printable(line))
        abort();
    (*(size_t *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char msg[13 + FUZZ_MAXMSG], line[TRACE_LINEMAX], want[TRACE_LINEMAX],
        user[4 * FUZZ_MAXMSG + 4];
    const char *sp;
    size_t n, lines = 0, want_lines = 0, i;

    if (size > FUZZ_MAXMSG)
        size = FUZZ_MAXMSG;
    n = trace_format(line, sizeof line, TRACE_IN, "p:1", 2, (const char *)data, size);
    if (n != strlen(line) || n >= sizeof line || !fuzz_printable(line))
        abort();

    /* The same bytes after "authenticate ": the user up to the first blank (a space, a tab,
     * \v, \f or \r), then the mask. */
    memcpy(msg, "authenticate ", 13);
    memcpy(msg + 13, data, size);
    n = trace_format(line, sizeof line, TRACE_IN, "p:1", 1, msg, 13 + size);
    sp = fuzz_blank((const char *)data, size);
    util_escape(user, sizeof user, (const char *)data,
                sp != NULL ? (size_t)(sp - (const char *)data) : size);
    strcpy(want, FUZZ_PREFIX "authenticate ");
    strcat(want, user);
    if (sp != NULL)
        strcat(want, " ********");
    if (n != strlen(line) || strcmp(line, want) != 0)
        abort();

    /* One trace line per line of a buffer, a last one without "\n" included. */
    trace_lines(TRACE_OUT, "p:1", 2, (const char *)data, size, fuzz_count, &lines);
    for (i = 0; i < size; i++)
        want_lines += data[i] == '\n';
    if (size > 0 && data[size - 1] != '\n')
        want_lines++;
    if (lines != want_lines)
        abort();
    return 0;
}
