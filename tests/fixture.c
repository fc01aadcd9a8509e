/* fixture.c: one way for system tests to set up a center: its files written from options,
 * hcs started (and restarted) on them, a doctor or a patient beside it, logins, one teardown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#ifndef HCS_BIN_DIR
#define HCS_BIN_DIR "."
#endif

#define FIXTURE_MAXARGS 16 /* arguments of one doctor */

/* The text of n users.txt rows, "name password\n" each (kept until h_cleanup). */
static const char *
fixture_users_text(const struct fixture_user *u, size_t n)
{
    size_t i, len = 1, off = 0;
    char *text;

    for (i = 0; i < n; i++)
        len += strlen(u[i].name) + strlen(u[i].password) + 2;
    text = h_alloc(len);
    for (i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, len - off, "%s %s\n", u[i].name, u[i].password);
    return text;
}

/* The text of n availabilities.txt rows, "index day time doctor port\n" each. */
static const char *
fixture_slots_text(const struct fixture_slot *s, size_t n)
{
    size_t i, len = 1, off = 0;
    char *text;

    for (i = 0; i < n; i++)
        len += strlen(s[i].day) + strlen(s[i].time) + strlen(s[i].doctor) + 3 * 11 + 5;
    text = h_alloc(len);
    for (i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, len - off, "%u %s %s %s %u\n", s[i].index, s[i].day,
                                s[i].time, s[i].doctor, s[i].port);
    return text;
}

/* Write the center's files and start hcs unless the options say files only. */
struct fixture *
fixture_setup_at(const char *file, int line, void **state, const struct fixture_opts *o)
{
    struct fixture *f = h_alloc(sizeof *f);
    const char *users = o->users_text, *slots = o->slots_text;

    f->opts = *o;
    f->dir = o->dir != NULL ? o->dir : h_tmpdir();
    if (users == NULL && o->users != NULL)
        users = fixture_users_text(o->users, o->nusers);
    if (slots == NULL && o->slots != NULL)
        slots = fixture_slots_text(o->slots, o->nslots);
    if (users == NULL || slots == NULL)
        h_fail_at(file, line, "fixture: no users or no slots in the options");
    /* The center warns about a users file other users can read. */
    chmod(h_file(f->dir, "users.txt", "%s", users), 0600);
    h_file(f->dir, "availabilities.txt", "%s", slots);
    f->conf = h_file(f->dir, "center.conf",
                     "[center]\nlisten = 127.0.0.1\nport = 0\nusers = users.txt\n"
                     "availabilities = availabilities.txt\n%s",
                     o->config != NULL ? o->config : "");
    *state = f;
    if (!o->files_only)
        fixture_start_at(file, line, f);
    return f;
}

/* Start hcs on the fixture's files (the last one must have exited) and read its port. */
void
fixture_start_at(const char *file, int line, struct fixture *f)
{
    const char *flag = f->opts.flag;

    if (f->hcs != NULL && !f->hcs->reaped)
        h_fail_at(file, line, "fixture: hcs is still running");
    if (f->opts.shell != NULL)
        f->hcs = h_start_at(file, line, "hcs", NULL, "/bin/sh", "-c",
                            h_str("%s && exec \"$0\" %s%s--config \"$1\"", f->opts.shell,
                                  flag != NULL ? flag : "", flag != NULL ? " " : ""),
                            h_str("%s/hcs", HCS_BIN_DIR), f->conf, NULL);
    else if (flag != NULL)
        f->hcs = h_start_at(file, line, "hcs", NULL, "hcs", flag, "--config", f->conf, NULL);
    else
        f->hcs = h_start_at(file, line, "hcs", NULL, "hcs", "--config", f->conf, NULL);
    f->port =
        h_expect_port_at(file, line, f->hcs, "Phase 1: The Health Center Server has port number ",
                         " and IP address 127.0.0.1.");
}

/* SIGTERM to hcs; it must exit 0. */
void
fixture_stop_at(const char *file, int line, struct fixture *f)
{
    int st = h_stop_at(file, line, f->hcs);

    if (st != 0)
        h_fail_at(file, line, "hcs: exit status %d after SIGTERM, expected 0", st);
}

/* cmocka teardown: close the test's sockets, kill what runs, remove the folders. */
int
fixture_teardown(void **state)
{
    *state = NULL;
    tc_cleanup();
    h_cleanup();
    return 0;
}

/* Authenticate on c as user: "success" must come. */
void
fixture_auth_at(const char *file, int line, struct tconn *c, const char *user, const char *password)
{
    tc_sendf_at(file, line, c, "authenticate %s %s\n", user, password);
    tc_expect_at(file, line, c, "success");
}

/* A new connection to f's center, logged in as user. */
struct tconn *
fixture_login_at(const char *file, int line, const struct fixture *f, const char *user,
                 const char *password)
{
    struct tconn *c = tc_connect_at(file, line, f->port, 0);

    fixture_auth_at(file, line, c, user, password);
    return c;
}

/* Log in, ask for the list and read it: a patient waiting for pushes. */
struct tconn *
fixture_waiter_at(const char *file, int line, const struct fixture *f, const char *user,
                  const char *password, const char *list)
{
    struct tconn *c = fixture_login_at(file, line, f, user, password);
    const char *p = list, *nl;
    char want[64];

    tc_sendf_at(file, line, c, "available\n");
    while ((nl = strchr(p, '\n')) != NULL) {
        snprintf(want, sizeof want, "%.*s", (int)(nl - p), p);
        tc_expect_at(file, line, c, want);
        p = nl + 1;
    }
    return c;
}

/* Write NAME.txt and doctorID.conf into dir; return the conf's path. */
const char *
fixture_doctor_files(const char *dir, unsigned id, const char *name, const char *prices)
{
    h_file(dir, h_str("%s.txt", name), "%s", prices);
    return h_file(dir, h_str("doctor%u.conf", id),
                  "[doctor]\nid = %u\nname = %s\nlisten = 127.0.0.1\nport = 0\nprices = %s.txt\n",
                  id, name, name);
}

/* Write doctor id's files, start it with args and env, read its UDP port. */
struct hproc *
fixture_doctor_at(const char *file, int line, const char *dir, unsigned id, const char *name,
                  const char *prices, const char *const *env, const char *const *args,
                  unsigned *port)
{
    const char *argv[FIXTURE_MAXARGS + 2];
    struct hproc *d;
    size_t n = 0;

    fixture_doctor_files(dir, id, name, prices);
    argv[n++] = "doctor";
    for (; args != NULL && *args != NULL; args++) {
        if (n > FIXTURE_MAXARGS)
            h_fail_at(file, line, "fixture: too many arguments for doctor %u", id);
        argv[n++] = *args;
    }
    argv[n] = NULL;
    d = h_startv_at(file, line, h_str("doctor%u", id), env, argv);
    *port = h_expect_port_at(file, line, d, h_str("Phase 3: Doctor %u has a static UDP port ", id),
                             " and IP address 127.0.0.1.");
    return d;
}

/* Write patientID.txt, patientIDinsurance.txt and patientID.conf into dir. */
const char *
fixture_patient(const char *dir, unsigned id, unsigned port, const char *user, const char *password,
                const char *insurance, const char *extra)
{
    h_file(dir, h_str("patient%u.txt", id), "%s %s\n", user, password);
    h_file(dir, h_str("patient%uinsurance.txt", id), "%s", insurance);
    return h_file(dir, h_str("patient%u.conf", id),
                  "[patient]\nid = %u\ncenter_host = 127.0.0.1\ncenter_port = %u\n"
                  "credentials = patient%u.txt\ninsurance = patient%uinsurance.txt\n%s",
                  id, port, id, id, extra != NULL ? extra : "");
}

/* Run prog on a usage error: exit 1, exactly err on stderr, nothing on stdout. */
void
fixture_expect_usage_at(const char *file, int line, const char *prog, const char *const *args,
                        const char *err)
{
    const char *argv[8];
    struct hproc *p;
    size_t n = 0;

    argv[n++] = prog;
    while (*args != NULL && n < 7)
        argv[n++] = *args++;
    argv[n] = NULL;
    p = h_startv_at(file, line, h_str("%s %s", prog, argv[1] != NULL ? argv[1] : ""), NULL, argv);
    h_close_in(p);
    if (h_wait_at(file, line, p) != 1)
        h_fail_at(file, line, "%s: exit status %d after a usage error, expected 1", p->name,
                  p->status);
    if (strcmp(h_stderr(p), err) != 0)
        h_fail_at(file, line, "%s: stderr \"%s\", expected \"%s\"", p->name, h_stderr(p), err);
    if (h_stdout(p)[0] != '\0')
        h_fail_at(file, line, "%s: printed \"%s\" on stdout", p->name, h_stdout(p));
}
