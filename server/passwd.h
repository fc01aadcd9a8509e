/* passwd.h: `hcs passwd`: hash a password for users.txt, or hash every clear password of a file. */
#ifndef HCS_PASSWD_H
#define HCS_PASSWD_H

#include <stddef.h>

#define PASSWD_MAX 64 /* bytes in a password (USERS_MAXNAME) */
#define PASSWD_MIN 8  /* characters in a new password, unless --force */

/*
 * The subcommand, argv[0] == "passwd":
 *   hcs passwd [--force] USER  read a password, print "USER <yescrypt hash>";
 *                              --force takes one shorter than PASSWD_MIN
 *   hcs passwd --upgrade FILE  hash every clear password of a users file in place
 * Returns the exit status: 0 ok, 1 error.
 */
int passwd_main(int argc, char **argv);

/*
 * Rewrite the users file at path with every clear password replaced by a
 * yescrypt hash; rows holding a hash keep it as it is. Rows follow the rules
 * of users.txt (2 fields, a username and a clear password of at most 64
 * bytes, unique usernames). The new file replaces the old atomically (same
 * folder, same mode and owner, synced before and after the rename); a file
 * with nothing to hash is not rewritten. On error the original is untouched,
 * no temporary file remains, and err holds "file:line: message" or
 * "file: message". Counts go to *hashed and *kept.
 */
int passwd_upgrade(const char *path, char *err, size_t errlen, unsigned *hashed, unsigned *kept);

/*
 * Whether len bytes make an acceptable new password: 1 to PASSWD_MAX bytes,
 * no space or control byte. Returns 0, or -1 with the reason in err.
 */
int passwd_check(const char *password, size_t len, char *err, size_t errlen);

/*
 * Whether len bytes hold at least PASSWD_MIN characters (UTF-8: a character
 * is a byte that does not continue another). Returns 0, or -1 with the
 * reason in err.
 */
int passwd_check_length(const char *password, size_t len, char *err, size_t errlen);

/* Hash a NUL-terminated password with a fresh yescrypt salt into out. Returns 0 or -1. */
int passwd_hash(const char *password, char *out, size_t outlen, char *err, size_t errlen);

#endif
