/* profile.c: the patient's own data files: its credentials and its insurance plan. */
#include "profile.h"
#include "datafile.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Which of the two one-row files is being read. */
enum profile_kind { PROFILE_CREDENTIALS, PROFILE_INSURANCE };

/* Empty the fields that a failed load of this kind was meant to fill. */
static int
profile_fail(struct profile *p, enum profile_kind kind)
{
    if (kind == PROFILE_CREDENTIALS) {
        util_wipe(p->user, sizeof p->user);
        util_wipe(p->password, sizeof p->password);
    } else {
        util_wipe(p->plan, sizeof p->plan);
    }
    return -1;
}

/* Check the one row of df and copy its fields into p. Returns 0 or -1 with err set. */
static int
profile_take(struct profile *p, enum profile_kind kind, const struct datafile *df, char *err,
             size_t errlen)
{
    if (kind == PROFILE_CREDENTIALS) {
        if (df->nfields != 2)
            return datafile_error(df, err, errlen,
                                  "expected 2 fields (username password), found %d", df->nfields);
        if (df->len[0] > PROFILE_TOKENMAX)
            return datafile_error(df, err, errlen, "username is %zu bytes (at most %d)", df->len[0],
                                  PROFILE_TOKENMAX);
        if (df->len[1] > PROFILE_TOKENMAX)
            return datafile_error(df, err, errlen, "password is %zu bytes (at most %d)", df->len[1],
                                  PROFILE_TOKENMAX);
        memcpy(p->user, df->field[0], df->len[0] + 1);
        memcpy(p->password, df->field[1], df->len[1] + 1);
        return 0;
    }
    if (df->nfields != 1)
        return datafile_error(df, err, errlen, "expected 1 field (the insurance plan), found %d",
                              df->nfields);
    if (df->len[0] > PROFILE_PLANMAX)
        return datafile_error(df, err, errlen, "insurance plan is %zu bytes (at most %d)",
                              df->len[0], PROFILE_PLANMAX);
    memcpy(p->plan, df->field[0], df->len[0] + 1);
    return 0;
}

/* Read the single row of an open data file into p, then close the file. */
static int
profile_read(struct profile *p, enum profile_kind kind, struct datafile *df, char *err,
             size_t errlen)
{
    unsigned first;
    int rc;

    if ((rc = datafile_next(df, err, errlen)) == 0) {
        snprintf(err, errlen, "%s:1: empty file (expected one row: %s)", df->name,
                 kind == PROFILE_CREDENTIALS ? "username password" : "the insurance plan");
        rc = -1;
    } else if (rc == 1) {
        rc = profile_take(p, kind, df, err, errlen);
        first = df->line;
        if (rc == 0 && (rc = datafile_next(df, err, errlen)) == 1)
            rc = datafile_error(df, err, errlen, "more than one row (the first is on line %u)",
                                first);
    }
    if (df->buf != NULL)
        util_wipe(df->buf, df->cap);
    datafile_close(df);
    return rc == -1 ? profile_fail(p, kind) : 0;
}

/* Load the credentials file from disk. */
int
profile_load_credentials(struct profile *p, const char *path, char *err, size_t errlen)
{
    struct datafile df;

    if (datafile_open(&df, path, err, errlen) == -1)
        return profile_fail(p, PROFILE_CREDENTIALS);
    return profile_read(p, PROFILE_CREDENTIALS, &df, err, errlen);
}

/* Load the credentials from memory. */
int
profile_load_credentials_mem(struct profile *p, const char *name, const void *data, size_t len,
                             char *err, size_t errlen)
{
    struct datafile df;

    if (datafile_open_mem(&df, name, data, len, err, errlen) == -1)
        return profile_fail(p, PROFILE_CREDENTIALS);
    return profile_read(p, PROFILE_CREDENTIALS, &df, err, errlen);
}

/* Load the insurance file from disk. */
int
profile_load_insurance(struct profile *p, const char *path, char *err, size_t errlen)
{
    struct datafile df;

    if (datafile_open(&df, path, err, errlen) == -1)
        return profile_fail(p, PROFILE_INSURANCE);
    return profile_read(p, PROFILE_INSURANCE, &df, err, errlen);
}

/* Load the insurance plan from memory. */
int
profile_load_insurance_mem(struct profile *p, const char *name, const void *data, size_t len,
                           char *err, size_t errlen)
{
    struct datafile df;

    if (datafile_open_mem(&df, name, data, len, err, errlen) == -1)
        return profile_fail(p, PROFILE_INSURANCE);
    return profile_read(p, PROFILE_INSURANCE, &df, err, errlen);
}

/* Wipe every field of the profile. */
void
profile_clear(struct profile *p)
{
    util_wipe(p, sizeof *p);
}
