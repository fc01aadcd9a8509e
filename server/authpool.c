/* authpool.c: worker threads that check passwords against crypt(3) hashes off the event loop. */
#include "authpool.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"

#define AUTHPOOL_NICE 10 /* workers' nice value: below the event loop */

/*
 * A job moves QUEUED -> RUNNING -> DONE under the pool's mutex. The loop
 * thread owns a job only once it has taken it off the finished list; a
 * worker owns the RUNNING job's strings, so a cancel then only marks it and
 * the worker frees it when the check ends.
 */
enum authpool_state { AUTHPOOL_QUEUED, AUTHPOOL_RUNNING, AUTHPOOL_DONE };

struct authpool_job {
    TAILQ_ENTRY(authpool_job) entry;
    struct authpool *pool;
    void (*done)(void *arg, int ok);
    void *arg;
    enum authpool_state state;
    int cancelled;
    int ok;
    int badpass; /* the password holds a NUL byte: never a match */
    char *hash;
    char *password;
    size_t passlen;
    size_t size; /* bytes allocated, wiped on free */
    char data[]; /* hash NUL password NUL */
};

TAILQ_HEAD(authpool_list, authpool_job);

/* One worker and its crypt(3) scratch space (about 32 KiB, too big for some stacks). */
struct authpool_thread {
    struct authpool *pool;
    pthread_t tid;
    struct crypt_data cd;
};

struct authpool {
    struct event_base *base;
    struct event *ev; /* read end of the wake-up pipe */
    int wake[2];      /* a byte written when the finished list becomes non-empty */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct authpool_list queue;    /* waiting for a worker */
    struct authpool_list finished; /* checked, waiting for the loop */
    unsigned njobs;                /* queued + running + finished */
    int signalled;                 /* a wake-up byte is in the pipe */
    int stop;
    struct authpool_thread *threads;
    unsigned nthreads; /* started */
    unsigned long ran; /* checks run by the workers */
};

/* Wipe and free a job. */
static void
authpool_job_free(struct authpool_job *job)
{
    util_wipe(job, job->size);
    free(job);
}

/* Free every job of a list without calling back. */
static void
authpool_list_free(struct authpool_list *list)
{
    struct authpool_job *job;

    while ((job = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, job, entry);
        authpool_job_free(job);
    }
}

/* Hash password with the setting held in hash and compare in constant time. */
static int
authpool_verify(const struct authpool_job *job, struct crypt_data *cd)
{
    const char *out = crypt_rn(job->password, job->hash, cd, (int)sizeof *cd);
    int ok = 0;

    if (out != NULL)
        ok = util_secret_equal(out, strlen(out), job->hash, strlen(job->hash));
    util_wipe(cd, sizeof *cd);
    return ok && !job->badpass;
}

/* Queue a finished job for the loop and wake it (mutex held). */
static void
authpool_finish(struct authpool *p, struct authpool_job *job)
{
    static const char byte = 1;

    job->state = AUTHPOOL_DONE;
    TAILQ_INSERT_TAIL(&p->finished, job, entry);
    if (!p->signalled) {
        /* The pipe holds at most one byte, so a non-blocking write cannot fail on a full pipe. */
        if (write(p->wake[1], &byte, 1) == 1)
            p->signalled = 1;
    }
}

/* A worker: take queued jobs and check them until the pool stops. */
static void *
authpool_worker(void *arg)
{
    struct authpool_thread *t = arg;
    struct authpool *p = t->pool;
    struct authpool_job *job;
    int ok;

    /* Yield the CPU to the event loop: a burst of logins must not slow the
     * patients who are booking. On Linux the nice value is per thread, so
     * this lowers only the worker. */
    if (setpriority(PRIO_PROCESS, 0, AUTHPOOL_NICE) == -1)
        log_debug("authpool: cannot lower the workers' priority");
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && TAILQ_EMPTY(&p->queue))
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop)
            break;
        job = TAILQ_FIRST(&p->queue);
        TAILQ_REMOVE(&p->queue, job, entry);
        job->state = AUTHPOOL_RUNNING;
        pthread_mutex_unlock(&p->mu);

        ok = authpool_verify(job, &t->cd);

        pthread_mutex_lock(&p->mu);
        p->ran++;
        if (job->cancelled) {
            p->njobs--;
            authpool_job_free(job);
        } else {
            job->ok = ok;
            authpool_finish(p, job);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/*
 * The wake-up pipe is readable: deliver the jobs finished so far. Jobs are
 * taken one at a time, so a done callback may cancel any other job, and at
 * most the count seen on entry, so workers cannot keep the loop here.
 */
static void
authpool_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
    struct authpool *p = arg;
    struct authpool_job *job;
    void (*done)(void *, int);
    void *donearg;
    char buf[64];
    unsigned n;
    int ok;

    (void)what;
    while (read(fd, buf, sizeof buf) > 0)
        continue;
    pthread_mutex_lock(&p->mu);
    p->signalled = 0;
    n = p->njobs;
    pthread_mutex_unlock(&p->mu);
    while (n-- > 0) {
        pthread_mutex_lock(&p->mu);
        if ((job = TAILQ_FIRST(&p->finished)) != NULL) {
            TAILQ_REMOVE(&p->finished, job, entry);
            p->njobs--;
        }
        pthread_mutex_unlock(&p->mu);
        if (job == NULL)
            break;
        done = job->done;
        donearg = job->arg;
        ok = job->ok;
        authpool_job_free(job);
        done(donearg, ok);
    }
}

/* Make a descriptor non-blocking and close-on-exec. */
static int
authpool_fd_setup(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Stop the workers, join them, and free the pool (also undoes a partial authpool_new). */
void
authpool_free(struct authpool *p)
{
    unsigned i;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i].tid, NULL);
    /* Workers finish or free their running job before they exit. */
    authpool_list_free(&p->queue);
    authpool_list_free(&p->finished);
    if (p->ev != NULL)
        event_free(p->ev);
    if (p->wake[0] != -1)
        close(p->wake[0]);
    if (p->wake[1] != -1)
        close(p->wake[1]);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

/* Start the wake-up pipe and the workers (see authpool.h). */
struct authpool *
authpool_new(struct event_base *base, unsigned nthreads, char *err, size_t errlen)
{
    struct authpool *p;
    sigset_t all, old;
    unsigned i;
    int rc = 0;

    if (nthreads == 0) {
        /* Leave a processor to the event loop. */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = ncpu <= 2 ? 1 : ncpu > 9 ? 8 : (unsigned)(ncpu - 1);
    }
    if (nthreads > AUTHPOOL_MAX_THREADS) {
        snprintf(err, errlen, "password checks: at most %d threads", AUTHPOOL_MAX_THREADS);
        return NULL;
    }
    if ((p = calloc(1, sizeof *p)) == NULL) {
        snprintf(err, errlen, "password checks: out of memory");
        return NULL;
    }
    p->base = base;
    p->wake[0] = p->wake[1] = -1;
    TAILQ_INIT(&p->queue);
    TAILQ_INIT(&p->finished);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        snprintf(err, errlen, "password checks: cannot create a mutex");
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        snprintf(err, errlen, "password checks: cannot create a condition variable");
        return NULL;
    }
    if (pipe(p->wake) == -1) {
        p->wake[0] = p->wake[1] = -1;
        snprintf(err, errlen, "password checks: pipe: %s", strerror(errno));
        authpool_free(p);
        return NULL;
    }
    if (authpool_fd_setup(p->wake[0]) == -1 || authpool_fd_setup(p->wake[1]) == -1) {
        snprintf(err, errlen, "password checks: fcntl: %s", strerror(errno));
        authpool_free(p);
        return NULL;
    }
    p->ev = event_new(base, p->wake[0], EV_READ | EV_PERSIST, authpool_deliver_cb, p);
    if (p->ev == NULL || event_add(p->ev, NULL) == -1 ||
        (p->threads = calloc(nthreads, sizeof *p->threads)) == NULL) {
        snprintf(err, errlen, "password checks: out of memory or cannot watch the wake-up pipe");
        authpool_free(p);
        return NULL;
    }
    /* Workers block every signal, so SIGINT and SIGTERM reach the loop thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 0; i < nthreads; i++) {
        p->threads[i].pool = p;
        if ((rc = pthread_create(&p->threads[i].tid, NULL, authpool_worker, &p->threads[i])) != 0)
            break;
        p->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->nthreads < nthreads) {
        snprintf(err, errlen, "password checks: cannot start thread: %s", strerror(rc));
        authpool_free(p);
        return NULL;
    }
    return p;
}

/* Copy a check into a new job and queue it (see authpool.h). */
struct authpool_job *
authpool_check(struct authpool *p, const char *hash, const char *password, size_t passlen,
               void (*done)(void *arg, int ok), void *arg)
{
    struct authpool_job *job;
    size_t hashlen = strlen(hash);

    if (passlen > (size_t)-1 / 2 || hashlen > (size_t)-1 / 2 - passlen - sizeof *job - 2)
        return NULL;
    if ((job = calloc(1, sizeof *job + hashlen + passlen + 2)) == NULL)
        return NULL;
    job->size = sizeof *job + hashlen + passlen + 2;
    job->pool = p;
    job->done = done;
    job->arg = arg;
    job->hash = job->data;
    memcpy(job->hash, hash, hashlen);
    job->password = job->data + hashlen + 1;
    memcpy(job->password, password, passlen);
    job->passlen = passlen;
    job->badpass = memchr(password, '\0', passlen) != NULL;

    pthread_mutex_lock(&p->mu);
    if (p->njobs >= AUTHPOOL_MAX_PENDING) {
        pthread_mutex_unlock(&p->mu);
        authpool_job_free(job);
        return NULL;
    }
    p->njobs++;
    job->state = AUTHPOOL_QUEUED;
    TAILQ_INSERT_TAIL(&p->queue, job, entry);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return job;
}

/* Forget a job; a running one is freed by its worker (see authpool.h). */
void
authpool_cancel(struct authpool_job *job)
{
    struct authpool *p;

    if (job == NULL)
        return;
    p = job->pool;
    pthread_mutex_lock(&p->mu);
    switch (job->state) {
    case AUTHPOOL_QUEUED:
        TAILQ_REMOVE(&p->queue, job, entry);
        p->njobs--;
        authpool_job_free(job);
        break;
    case AUTHPOOL_RUNNING:
        job->cancelled = 1;
        break;
    case AUTHPOOL_DONE:
        TAILQ_REMOVE(&p->finished, job, entry);
        p->njobs--;
        authpool_job_free(job);
        break;
    }
    pthread_mutex_unlock(&p->mu);
}

/* Whether s holds only bytes of crypt's base64 alphabet and '$'. */
static int
authpool_hash_chars(const char *s)
{
    for (; *s != '\0'; s++)
        if (!(*s == '.' || *s == '/' || *s == '$' || *s == ',' || *s == '=' ||
              (*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
            return 0;
    return 1;
}

/* Recognize a complete hash by its prefix and the length of its checksum. */
int
authpool_is_hash(const char *s)
{
    static const struct {
        const char *prefix;
        size_t sumlen; /* characters after the last '$' */
    } methods[] = {
        {"$y$", 43}, {"$gy$", 43}, {"$7$", 43}, {"$6$", 86}, {"$5$", 43},
    };
    size_t len = strlen(s), i;
    const char *sum;
    int rc;

    if (len > AUTHPOOL_HASH_MAX || !authpool_hash_chars(s))
        return 0;
    if (strncmp(s, "$2b$", 4) == 0 || strncmp(s, "$2y$", 4) == 0) {
        /* $2b$NN$ then 22 salt and 31 checksum characters */
        if (len != 60 || s[6] != '$' || strchr(s + 7, '$') != NULL)
            return 0;
    } else {
        for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
            if (strncmp(s, methods[i].prefix, strlen(methods[i].prefix)) == 0)
                break;
        if (i == sizeof methods / sizeof methods[0])
            return 0;
        sum = strrchr(s, '$') + 1;
        if ((size_t)(sum - s) <= strlen(methods[i].prefix) || strlen(sum) != methods[i].sumlen)
            return 0;
    }
#ifdef CRYPT_CHECKSALT_AVAILABLE
    /* sha256crypt is "legacy" to libxcrypt but still checked. */
    rc = crypt_checksalt(s);
    return rc == CRYPT_SALT_OK || rc == CRYPT_SALT_METHOD_LEGACY;
#else
    (void)rc;
    return 1;
#endif
}

/* Time one crypt(3) run of hash with a fixed password. */
long long
authpool_cost(const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    struct timespec a, b;
    const char *out;
    int ok;

    if (cd == NULL)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    out = crypt_rn("not-the-password", hash, cd, (int)sizeof *cd);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ok = out != NULL && out[0] != '*'; /* out points into cd */
    util_wipe(cd, sizeof *cd);
    free(cd);
    if (!ok)
        return -1;
    return (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
}

/* Method and parameters of a hash: bcrypt and scrypt have a fixed layout, the others end
 * before the salt, the second-to-last field. */
size_t
authpool_setting_len(const char *hash)
{
    const char *last = strrchr(hash, '$'), *p;

    if (strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$2y$", 4) == 0)
        return strlen(hash) < 7 ? strlen(hash) : 7;
    if (strncmp(hash, "$7$", 3) == 0)
        return strlen(hash) < 14 ? strlen(hash) : 14;
    if (last == NULL || last == hash)
        return 0;
    for (p = last - 1; p > hash && *p != '$'; p--)
        continue;
    return (size_t)(p - hash) + 1;
}

/* Checks run so far. */
unsigned long
authpool_ran(struct authpool *p)
{
    unsigned long n;

    pthread_mutex_lock(&p->mu);
    n = p->ran;
    pthread_mutex_unlock(&p->mu);
    return n;
}
