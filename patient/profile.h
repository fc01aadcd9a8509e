/* profile.h: the patient's own data files: its credentials and its insurance plan. */
#ifndef HCS_PROFILE_H
#define HCS_PROFILE_H

#include <stddef.h>

#define PROFILE_TOKENMAX 64 /* bytes in the username or the password (as users.txt allows) */
#define PROFILE_PLANMAX 63  /* bytes in the insurance plan name (as a doctor accepts) */

/* What the patient knows about itself. Every field is a token of visible bytes. */
struct profile {
    char user[PROFILE_TOKENMAX + 1];
    char password[PROFILE_TOKENMAX + 1];
    char plan[PROFILE_PLANMAX + 1];
};

/*
 * Load the credentials file: exactly one row "username password". On error
 * return -1 with "file:line: message" in err (never the password itself);
 * p->user and p->password are then empty. Other fields of p are kept.
 */
int profile_load_credentials(struct profile *p, const char *path, char *err, size_t errlen);

/* Same as profile_load_credentials for len bytes in memory; name is shown in messages. */
int profile_load_credentials_mem(struct profile *p, const char *name, const void *data, size_t len,
                                 char *err, size_t errlen);

/* Load the insurance file: exactly one row of one field, the plan. Errors as above. */
int profile_load_insurance(struct profile *p, const char *path, char *err, size_t errlen);

/* Same as profile_load_insurance for len bytes in memory. */
int profile_load_insurance_mem(struct profile *p, const char *name, const void *data, size_t len,
                               char *err, size_t errlen);

/* Wipe the whole profile, the password included. */
void profile_clear(struct profile *p);

#endif
