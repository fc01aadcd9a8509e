/* fixture.h: one way for system tests to set up a center: its files written from options,
 * hcs started (and restarted) on them, a doctor or a patient beside it, logins, one teardown. */
#ifndef HCS_FIXTURE_H
#define HCS_FIXTURE_H

#include <stddef.h>

#include "harness.h"
#include "tcpclient.h"

/* One row of users.txt; password is what the file holds: a clear password or a crypt(3) hash. */
struct fixture_user {
    const char *name;
    const char *password;
};

/* One row of availabilities.txt. */
struct fixture_slot {
    unsigned index;
    const char *day;
    const char *time;
    const char *doctor;
    unsigned port;
};

/*
 * What a test's center is made of. users.txt is users_text as is, else the
 * nusers rows of users; availabilities.txt likewise. center.conf is
 *
 *     [center]
 *     listen = 127.0.0.1
 *     port = 0
 *     users = users.txt
 *     availabilities = availabilities.txt
 *
 * then config (more lines of the section, e.g. "state = state.db\n").
 */
struct fixture_opts {
    const char *dir; /* the folder to write into; NULL: a new h_tmpdir() */
    const struct fixture_user *users;
    size_t nusers;
    const char *users_text;
    const struct fixture_slot *slots;
    size_t nslots;
    const char *slots_text;
    const char *config; /* NULL: nothing more */
    const char *flag;   /* one option of hcs before --config ("-q", "-v"); NULL: none */
    const char *shell;  /* run hcs as /bin/sh -c "<shell> && exec hcs ...", e.g. "ulimit -n 48" */
    int files_only;     /* write the files; the test starts hcs itself (fixture_start) */
};

/* A center of one test: its folder and, once started, the hcs process and its TCP port. */
struct fixture {
    struct fixture_opts opts;
    const char *dir;
    const char *conf; /* center.conf */
    struct hproc *hcs;
    unsigned port;
};

/*
 * Write the center's files and start hcs (unless o->files_only); *state is the
 * fixture, which lives until h_cleanup. Pair with fixture_teardown.
 */
#define fixture_setup(state, o) fixture_setup_at(__FILE__, __LINE__, (state), (o))
struct fixture *fixture_setup_at(const char *file, int line, void **state,
                                 const struct fixture_opts *o);
/* Start hcs on the fixture's files and read its port; also a restart once the last one
 * exited (stopped, killed), on the same files and state file. */
#define fixture_start(f) fixture_start_at(__FILE__, __LINE__, (f))
void fixture_start_at(const char *file, int line, struct fixture *f);
/* SIGTERM to hcs: it must exit 0 (in the sanitizer and valgrind runs: nothing leaked). */
#define fixture_stop(f) fixture_stop_at(__FILE__, __LINE__, (f))
void fixture_stop_at(const char *file, int line, struct fixture *f);
/* cmocka teardown of every system test: close the test's sockets, kill what runs, remove
 * the folders, pass or fail. */
int fixture_teardown(void **state);

/* Authenticate on an open connection: "success" must come. */
#define fixture_auth(c, user, password) fixture_auth_at(__FILE__, __LINE__, (c), (user), (password))
void fixture_auth_at(const char *file, int line, struct tconn *c, const char *user,
                     const char *password);
/* A new connection to the center, logged in as user. */
#define fixture_login(f, user, password)                                                           \
    fixture_login_at(__FILE__, __LINE__, (f), (user), (password))
struct tconn *fixture_login_at(const char *file, int line, const struct fixture *f,
                               const char *user, const char *password);
/*
 * Log in as user, send "available" and expect the reply list line by line
 * ("slots N\n..." with every line ending in "\n"): the patient now waits for pushes.
 */
#define fixture_waiter(f, user, password, list)                                                    \
    fixture_waiter_at(__FILE__, __LINE__, (f), (user), (password), (list))
struct tconn *fixture_waiter_at(const char *file, int line, const struct fixture *f,
                                const char *user, const char *password, const char *list);

/*
 * Write doctor id's files into dir (NAME.txt holding prices, doctorID.conf on
 * 127.0.0.1 port 0), start `doctor` with the NULL-terminated args and env
 * (NULL or "NAME=value" strings), and read its start-up line; *port gets its UDP port.
 */
#define fixture_doctor(...) fixture_doctor_at(__FILE__, __LINE__, __VA_ARGS__)
struct hproc *fixture_doctor_at(const char *file, int line, const char *dir, unsigned id,
                                const char *name, const char *prices, const char *const *env,
                                const char *const *args, unsigned *port);
/* Write doctor id's two files into dir without starting it; returns doctorID.conf. */
const char *fixture_doctor_files(const char *dir, unsigned id, const char *name,
                                 const char *prices);
/*
 * Run prog (hcs, doctor, patient) with args (NULL-terminated, at most 6): it
 * must exit 1 with exactly err on stderr and nothing on stdout (a usage error).
 */
#define fixture_expect_usage(...) fixture_expect_usage_at(__FILE__, __LINE__, __VA_ARGS__)
void fixture_expect_usage_at(const char *file, int line, const char *prog, const char *const *args,
                             const char *err);
/*
 * Write patient id's files into dir: patientID.txt ("user password"),
 * patientIDinsurance.txt (insurance as is) and patientID.conf for a center on
 * 127.0.0.1 at port, with extra lines appended. Returns patientID.conf.
 */
const char *fixture_patient(const char *dir, unsigned id, unsigned port, const char *user,
                            const char *password, const char *insurance, const char *extra);

#endif
