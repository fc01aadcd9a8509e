/*
 * test_localhost.c: what needs a network and mount namespace of its own.
 *
 * Issue 10, item 2. In a network and mount namespace of
 * its own whose /etc/hosts is Debian's stock one ("::1 localhost" beside
 * "127.0.0.1 localhost"), hcs with listen = localhost holds both addresses,
 * so nobody else can listen on [::1] on its port and take a patient's
 * password; the patient (center_host = localhost) reaches hcs. Needs root
 * (unshare); skipped otherwise.
 */
#define _GNU_SOURCE /* unshare, CLONE_NEWNET, CLONE_NEWNS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define SKIP 77

static const struct fixture_user users[] = {{"ann", "pw-ann-1"}};
static const struct fixture_slot slots[] = {{2, "Mon", "09am", "house", 41001}};

/* Whether binding addr (IPv4 or IPv6 text) on port fails because it is taken. */
static int
taken(const char *addr, unsigned port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1, rc;

    memset(&ss, 0, sizeof ss);
    if (strchr(addr, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
        len = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
        len = sizeof *s4;
    }
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    assert_true(fd != -1);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    rc = bind(fd, (struct sockaddr *)&ss, len);
    close(fd);
    if (rc == -1 && errno != EADDRINUSE)
        fail_msg("bind %s port %u: %s", addr, port, strerror(errno));
    return rc == -1;
}

/* hcs with listen = localhost holds [::1] and 127.0.0.1; a patient of localhost logs in. */
static void
test_localhost_both_families(void **state)
{
    struct fixture_opts o = {0};
    struct fixture *f;
    const char *conf;
    struct hproc *p;

    o.users = users;
    o.nusers = 1;
    o.slots = slots;
    o.nslots = 1;
    o.files_only = 1;
    f = fixture_setup(state, &o);
    /* The fixture listens on 127.0.0.1; this center names localhost instead. */
    f->conf = h_file(f->dir, "center.conf",
                     "[center]\nlisten = localhost\nport = 0\nusers = users.txt\n"
                     "availabilities = availabilities.txt\n");
    f->hcs = h_start("hcs", NULL, "hcs", "--config", f->conf, NULL);
    f->port = h_port(h_wait_prefix(f->hcs, "Phase 1: The Health Center Server has port number "));
    assert_true(f->port != 0);
    if (!taken("::1", f->port))
        h_fail("[::1]:%u is free while hcs listens on localhost: an impostor could take it",
               f->port);
    if (!taken("127.0.0.1", f->port))
        h_fail("127.0.0.1:%u is free while hcs listens on localhost", f->port);
    fixture_patient(f->dir, 1, f->port, "ann", "pw-ann-1", "acme\n", NULL);
    /* The patient names the center as the shipped patientN.conf do: localhost. */
    conf = h_file(f->dir, "patient1.conf",
                  "[patient]\nid = 1\ncenter_host = localhost\ncenter_port = %u\n"
                  "credentials = patient1.txt\ninsurance = patient1insurance.txt\n",
                  f->port);
    p = h_start("patient1", NULL, "patient", "--config", conf, "--show", NULL);
    h_wait_prefix(p, "Phase 1: Patient 1 authentication result: success.");
    h_wait(p);
    /* hcs itself saw the login (not an impostor): its screen line says so. */
    h_wait_prefix(f->hcs, "Phase 1: The Health Center Server has received request from a patient "
                          "with username ann and password ********.");
    fixture_stop(f);
}

/*
 * The shipped configuration on Debian's stock /etc/hosts: hcs on localhost
 * (both families), a doctor on 127.0.0.1 only, a patient naming localhost
 * for both. The patient reached the center over ::1, so it tries the doctor
 * at ::1 first; refused there, it moves on to 127.0.0.1 and gets its price.
 */
static void
test_localhost_doctor_other_family(void **state)
{
    struct fixture_opts o = {0};
    struct fixture *f;
    struct hproc *d, *p;
    const char *conf, *dargs[] = {"--config", NULL, NULL};
    unsigned dport;

    o.users = users;
    o.nusers = 1;
    o.slots = slots;
    o.nslots = 1;
    o.files_only = 1;
    f = fixture_setup(state, &o);
    dargs[1] = h_path(f->dir, "doctor1.conf");
    d = fixture_doctor(f->dir, 1, "house", "acme 70\n", NULL, dargs, &dport);
    h_file(f->dir, "availabilities.txt", "1 Mon 09am house %u\n", dport);
    f->conf = h_file(f->dir, "center.conf",
                     "[center]\nlisten = localhost\nport = 0\nusers = users.txt\n"
                     "availabilities = availabilities.txt\n");
    f->hcs = h_start("hcs", NULL, "hcs", "--config", f->conf, NULL);
    f->port = h_port(h_wait_prefix(f->hcs, "Phase 1: The Health Center Server has port number "));
    fixture_patient(f->dir, 1, f->port, "ann", "pw-ann-1", "acme\n", NULL);
    conf = h_file(f->dir, "patient1.conf",
                  "[patient]\nid = 1\ncenter_host = localhost\ncenter_port = %u\n"
                  "credentials = patient1.txt\ninsurance = patient1insurance.txt\n",
                  f->port);
    p = h_start("patient1", NULL, "patient", "--config", conf, "--slot", "1", NULL);
    h_wait_prefix(p, "Phase 1: Patient 1 has TCP port number ");
    h_wait_prefix(p, "Phase 2: The requested appointment is available and reserved to Patient 1.");
    h_wait_prefix(p, "Phase 3: Patient 1 has a dynamic UDP port number ");
    h_expect(p,
             h_str("Phase 3: The cost estimation request from Patient 1 with insurance plan acme "
                   "has been sent to the doctor with port number %u and IP address ::1.",
                   dport));
    h_wait_prefix(p, "Phase 3: Patient 1 has a dynamic UDP port number ");
    h_expect(p,
             h_str("Phase 3: The cost estimation request from Patient 1 with insurance plan acme "
                   "has been sent to the doctor with port number %u and IP address 127.0.0.1.",
                   dport));
    h_expect(p,
             h_str("Phase 3: Patient 1 receives 70$ estimation cost from doctor with port number "
                   "%u and name house.",
                   dport));
    h_expect_exit(p, 0);
    h_stop(d);
    fixture_stop(f);
}

/*
 * Issue 10, item 10: a state file in a folder hcs cannot write (a read-only
 * file system: root ignores permission bits) is reported as what it is, not
 * as "not an hcs state file".
 */
static void
test_readonly_state_folder(void **state)
{
    struct fixture_opts o = {0};
    struct fixture *f;
    const char *ro;

    o.users = users;
    o.nusers = 1;
    o.slots = slots;
    o.nslots = 1;
    o.config = "state = ro/state.db\n";
    o.files_only = 1;
    f = fixture_setup(state, &o);
    ro = h_path(f->dir, "ro");
    assert_int_equal(mkdir(ro, 0700), 0);
    if (mount("tmpfs", ro, "tmpfs", MS_RDONLY, NULL) == -1)
        fail_msg("mount a read-only tmpfs: %s", strerror(errno));
    f->hcs = h_start("hcs", NULL, "hcs", "--config", f->conf, NULL);
    assert_int_equal(h_wait(f->hcs), 1);
    if (strstr(h_stderr(f->hcs), "ro/state.db: cannot create: Read-only file system") == NULL)
        h_fail("hcs did not say why it cannot create its state file");
    umount(ro);
}

/* A fresh network (loopback only) and a private /etc/hosts as Debian ships it. */
static int
enter_namespace(void)
{
    static char hosts[] = "/tmp/hcs-hosts-XXXXXX";
    static const char text[] = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n";
    int fd;

    if (geteuid() != 0)
        return -1;
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) == -1) {
        fprintf(stderr, "test_localhost: unshare: %s\n", strerror(errno));
        return -1;
    }
    if ((fd = mkstemp(hosts)) == -1 || write(fd, text, sizeof text - 1) != sizeof text - 1)
        return -1;
    close(fd);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
        mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) == -1) {
        fprintf(stderr, "test_localhost: mount: %s\n", strerror(errno));
        unlink(hosts);
        return -1;
    }
    unlink(hosts); /* the bind mount keeps it */
    if (system("ip link set lo up") != 0) {
        fprintf(stderr, "test_localhost: cannot bring up loopback\n");
        return -1;
    }
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_localhost_both_families, fixture_teardown),
        cmocka_unit_test_teardown(test_localhost_doctor_other_family, fixture_teardown),
        cmocka_unit_test_teardown(test_readonly_state_folder, fixture_teardown),
    };

    if (enter_namespace() == -1) {
        fprintf(stderr, "test_localhost: needs root and namespaces; skipped\n");
        return SKIP;
    }
    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
