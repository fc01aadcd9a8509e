/* authpool.h: worker threads that check passwords against crypt(3) hashes off the event loop. */
#ifndef HCS_AUTHPOOL_H
#define HCS_AUTHPOOL_H

#include <stddef.h>

struct event_base;
struct authpool;
struct authpool_job;

#define AUTHPOOL_MAX_PENDING 4096 /* jobs queued, running or not yet delivered */
#define AUTHPOOL_MAX_THREADS 64
#define AUTHPOOL_HASH_MAX 255 /* longest hash authpool_is_hash accepts, NUL excluded */

/*
 * Start nthreads workers (0: one per online processor but one, at least 1 and at most 8) whose
 * results are delivered on base. Returns NULL and explains in err on failure.
 */
struct authpool *authpool_new(struct event_base *base, unsigned nthreads, char *err, size_t errlen);

/*
 * Queue a check of password (passlen bytes; copied) against hash (copied).
 * done(arg, ok) runs later on the loop thread, exactly once, unless the job
 * is cancelled first; ok is 1 for a match, 0 for a mismatch or a hash that
 * cannot be checked. The job handle is invalid once done has been called.
 * Returns NULL when out of memory or AUTHPOOL_MAX_PENDING jobs are pending.
 */
struct authpool_job *authpool_check(struct authpool *p, const char *hash, const char *password,
                                    size_t passlen, void (*done)(void *arg, int ok), void *arg);

/*
 * Forget a job whose requester went away: done is never called. Safe while
 * the job is queued, running, or finished but not yet delivered; NULL is a
 * no-op. Never blocks on a running check. Call on the loop thread.
 */
void authpool_cancel(struct authpool_job *job);

/*
 * Stop and join the workers (waits for checks in progress), drop pending
 * jobs without calling back, and free everything. Not from a done callback.
 */
void authpool_free(struct authpool *p);

/*
 * Whether s is a complete crypt(3) hash of a method this system checks:
 * yescrypt ($y$), gost-yescrypt ($gy$), scrypt ($7$), bcrypt ($2b$, $2y$),
 * sha512crypt ($6$), sha256crypt ($5$). A clear password is not a hash.
 */
int authpool_is_hash(const char *s);

/*
 * Nanoseconds one check of hash takes here (one crypt(3) run, on the
 * caller's thread), or -1 when it cannot be checked.
 */
long long authpool_cost(const char *hash);

/*
 * The part of a hash that sets its cost: method and parameters, without
 * salt and checksum ("$6$rounds=9000$", "$2b$12$", "$y$j9T$"); its length.
 */
size_t authpool_setting_len(const char *hash);

/* Checks the workers have run (crypt calls), for tests. */
unsigned long authpool_ran(struct authpool *p);

#endif
