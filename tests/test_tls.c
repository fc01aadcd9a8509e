/* test_tls.c: the real hcs with tls_cert and tls_key, driven by the real `openssl s_client`:
 * handshakes, old protocols and clear text refused, the handshake's timeout, SIGHUP with a
 * new certificate, --check of the key, resumption, and the desk over HTTPS. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/ssl.h>

#include "fixture.h"
#include "harness.h"
#include "tcpclient.h"

#define OPENSSL "/usr/bin/openssl"
#define HANDSHAKE_SECS 1 /* tls_handshake_timeout of these centers */

static const struct fixture_user users[] = {
    {"ann", "pw-ann-1"},
    {"ben", "pw-ben-2"},
};

static const struct fixture_slot slots[] = {
    {2, "Mon", "09am", "house", 41001},
    {3, "Tue", "10am", "grey", 41002},
};

/* The demo staff row (reception / reception-demo), for a desk. */
static const char staff[] =
    "reception $y$j9T$ahSPF3sbuv.f5XomygrN3/$MQ7ZYSi5gYYJ2jus0g5207yPzYYhdDuvUkq4pH/Dzg2\n";

/*
 * A self-signed P-256 certificate for localhost and 127.0.0.1 with common
 * name cn, in dir/<name>.pem with its key in dir/<name>.key (mode 0600),
 * made now by the openssl binary.
 */
static void
make_cert(const char *dir, const char *name, const char *cn)
{
    const char *key = h_path(dir, h_str("%s.key", name));
    struct hproc *p;

    p = h_start("openssl req", NULL, OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", h_str("/CN=%s", cn),
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out",
                h_path(dir, h_str("%s.pem", name)), NULL);
    h_expect_exit(p, 0);
    assert_int_equal(chmod(key, 0600), 0);
}

/* Put certificate name in the place center.conf names (cert.pem, key.pem). */
static void
install_cert(const char *dir, const char *name)
{
    assert_int_equal(rename(h_path(dir, h_str("%s.pem", name)), h_path(dir, "cert.pem")), 0);
    assert_int_equal(rename(h_path(dir, h_str("%s.key", name)), h_path(dir, "key.pem")), 0);
}

/* The center's files in a new folder with a TLS certificate (CN hcs-one); started unless
 * files_only. A desk too when desk is set; extra: more lines of [center]. */
static struct fixture *
start_with(void **state, int desk, int files_only, const char *extra)
{
    struct fixture_opts o = {0};
    const char *dir = h_tmpdir();

    make_cert(dir, "one", "hcs-one");
    install_cert(dir, "one");
    h_file(dir, "staff.txt", "%s", staff);
    assert_int_equal(chmod(h_path(dir, "staff.txt"), 0600), 0);
    o.dir = dir;
    o.users = users;
    o.nusers = sizeof users / sizeof users[0];
    o.slots = slots;
    o.nslots = sizeof slots / sizeof slots[0];
    o.files_only = files_only;
    o.config = h_str("tls_cert = cert.pem\ntls_key = key.pem\ntls_handshake_timeout = %d\n%s%s",
                     HANDSHAKE_SECS, extra,
                     desk ? "[desk]\nlisten = 127.0.0.1\nport = 0\nstaff = staff.txt\n" : "");
    return fixture_setup(state, &o);
}

/* start_with and no more lines. */
static struct fixture *
start(void **state, int desk, int files_only)
{
    return start_with(state, desk, files_only, "");
}

/*
 * openssl s_client to 127.0.0.1:port, its stdin a pipe the test writes:
 * -quiet (only the application's bytes on stdout) unless verbose, the
 * certificate verified against cafile (a failure ends it), and any more
 * arguments after (NULL-terminated, at most 6).
 */
static struct hproc *
s_client(unsigned port, const char *cafile, int verbose, ...)
{
    const char *argv[24];
    size_t n = 0;
    const char *a;
    va_list ap;

    argv[n++] = OPENSSL;
    argv[n++] = "s_client";
    argv[n++] = "-connect";
    argv[n++] = h_str("127.0.0.1:%u", port);
    argv[n++] = "-servername";
    argv[n++] = "localhost";
    argv[n++] = "-verify_return_error";
    argv[n++] = "-CAfile";
    argv[n++] = cafile;
    if (!verbose)
        argv[n++] = "-quiet";
    else
        argv[n++] = "-ign_eof";
    va_start(ap, verbose);
    while ((a = va_arg(ap, const char *)) != NULL && n < sizeof argv / sizeof argv[0] - 1)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return h_startv("s_client", NULL, argv);
}

/* The desk's port, from hcs's line "desk: https://127.0.0.1:PORT/". */
static unsigned
desk_port(struct fixture *f)
{
    const char *line = h_stderr(f->hcs) + h_wait_stderr(f->hcs, 0, "desk: https://127.0.0.1:");

    return (unsigned)strtoul(line + strlen("desk: https://127.0.0.1:"), NULL, 10);
}

/* Ask for the list (both slots free) by hand over s_client. */
static void
available(struct hproc *p)
{
    h_send(p, "available\n");
    h_expect(p, "slots 2");
    h_expect(p, "2 Mon 09am");
    h_expect(p, "3 Tue 10am");
}

/* Log in and ask for the list by hand over s_client; the replies are the protocol's. */
static void
session(struct hproc *p, const char *user, const char *password)
{
    h_send(p, "authenticate %s %s\n", user, password);
    h_expect(p, "success");
    available(p);
}

/* Send SIGHUP and wait until hcs has written a line containing what on stderr. */
static void
reload(struct fixture *f, const char *what)
{
    size_t before = strlen(h_stderr(f->hcs));

    assert_int_equal(kill(f->hcs->pid, SIGHUP), 0);
    h_wait_stderr(f->hcs, before, what);
}

/* No password ever reaches hcs's screen or log. */
static void
no_password_printed(struct fixture *f)
{
    size_t i;

    for (i = 0; i < sizeof users / sizeof users[0]; i++)
        if (strstr(h_stdout(f->hcs), users[i].password) != NULL ||
            strstr(h_stderr(f->hcs), users[i].password) != NULL)
            h_fail("hcs printed %s's password", users[i].name);
}

/* A client nobody here wrote completes a handshake and runs the protocol by hand. */
static void
test_s_client_session(void **state)
{
    struct fixture *f = start(state, 0, 0);
    struct hproc *p = s_client(f->port, h_path(f->dir, "cert.pem"), 0, NULL);

    session(p, "ann", "pw-ann-1");
    h_send(p, "selection 3\n");
    h_expect(p, "grey 41002");
    h_send(p, "authenticate ben pw-ben-2\n");
    h_expect(p, "error already-authenticated");
    h_kill(p);
    h_wait_prefix(f->hcs, "Phase 1: The Health Center Server has received request from a patient "
                          "with username ann and password ********.");
    no_password_printed(f);
    fixture_stop(f);
}

/*
 * A TLS client of the test's own on 127.0.0.1:port (no certificate check):
 * it reads the first line, then stays silent and ignores the close_notify
 * that follows, as a careless or hostile client may. Returns the socket
 * (its SSL freed without a word) and the line in line.
 */
static int
silent_tls_client(unsigned port, char *line, size_t size)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl;
    size_t len = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    struct timeval limit = {h_timeout_ms / 1000, 0}; /* a center that never answers fails */

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd != -1 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == -1 ||
                     setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) == -1))
        h_fail("setsockopt: %s", strerror(errno));
    if (ctx == NULL || fd == -1 || connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
        (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1)
        h_fail("a TLS client of the test's own could not connect");
    while (len < size - 1 && SSL_read(ssl, line + len, 1) == 1 && line[len] != '\n')
        len++;
    line[len] = '\0';
    SSL_set_quiet_shutdown(ssl, 1); /* no close_notify of ours */
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return fd;
}

/*
 * A connection over its address's limit is refused ("error busy") and
 * closed within its 2 s linger even when the client ignores the
 * close_notify and stays silent: refused connections take no slot, so one
 * address must not hold descriptors for idle_timeout (300 s). test_conn's
 * test_refused_keeps_linger covers a refusal written before the handshake ends.
 */
static void
test_refused_closes(void **state)
{
    struct fixture *f = start_with(state, 0, 0, "max_clients_per_address = 1\n");
    struct hproc *a = s_client(f->port, h_path(f->dir, "cert.pem"), 0, NULL);
    long long t0, dt;
    char line[64], buf[256];
    int fd;

    session(a, "ann", "pw-ann-1");
    t0 = h_now_ms();
    fd = silent_tls_client(f->port, line, sizeof line);
    assert_string_equal(line, "error busy");
    for (;;) { /* the rest (close_notify) is read raw, until the center's end of file */
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;

        if (h_now_ms() - t0 > 5000)
            h_fail("the refused connection was still open after %lld ms (linger: 2 s)",
                   h_now_ms() - t0);
        h_pump(0);
        if (poll(&pfd, 1, 50) == 1 && ((n = read(fd, buf, sizeof buf)) == 0 || n == -1))
            break;
    }
    dt = h_now_ms() - t0;
    close(fd);
    print_message("the refused connection was closed after %lld ms\n", dt);
    available(a); /* the first goes on */
    h_kill(a);
    fixture_stop(f);
}

/*
 * Requests sent on while the password check runs (a hashed users.txt) are
 * kept, in records OpenSSL has read ahead, and every one is answered after
 * the login: none waits for a socket event that will not come.
 */
static void
test_pipelined_during_check(void **state)
{
    /* About 20 KB after the login: s_client sends records of 8 KiB, so the last one ends
     * up read ahead into OpenSSL while the check runs, with nothing left on the socket. */
    enum { N = 2036 };
    struct fixture *f = start(state, 0, 1);
    struct hproc *pw = h_start("hcs passwd", NULL, "hcs", "passwd", "ann", NULL);
    char *burst = h_alloc(N * 10 + 1);
    struct hproc *p;
    const char *row;
    int i;

    h_send(pw, "pw-ann-1\n");
    h_close_in(pw);
    row = h_str("%s", h_line(pw));
    h_expect_exit(pw, 0);
    h_file(f->dir, "users.txt", "%s\nben pw-ben-2\n", row);
    fixture_start(f);
    for (i = 0; i < N; i++)
        memcpy(burst + i * 10, "available\n", 10);
    p = s_client(f->port, h_path(f->dir, "cert.pem"), 0, NULL);
    h_send(p, "authenticate ann pw-ann-1\n%s", burst);
    h_expect(p, "success");
    for (i = 0; i < N; i++) {
        h_expect(p, "slots 2");
        h_expect(p, "2 Mon 09am");
        h_expect(p, "3 Tue 10am");
    }
    h_kill(p);
    fixture_stop(f);
}

/* TLS 1.0 and 1.1 are refused by the server (its alert says so), which goes on serving. */
static void
test_old_protocols_refused(void **state)
{
    static const char *const flags[] = {"-tls1", "-tls1_1"};
    struct fixture *f = start(state, 0, 0);
    struct hproc *p;
    size_t i;

    for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        /* The client's own floor lowered, so that only the server can refuse. */
        p = s_client(f->port, h_path(f->dir, "cert.pem"), 0, flags[i], "-cipher",
                     "DEFAULT@SECLEVEL=0", NULL);
        h_close_in(p);
        if (h_wait(p) == 0)
            h_fail("s_client %s got through", flags[i]);
        if (strstr(h_stderr(p), "alert protocol version") == NULL)
            h_fail("s_client %s was not refused by the server's alert", flags[i]);
    }
    /* Logged once a second at most: the first refusal is on the log, with its reason. */
    h_wait_stderr(f->hcs, 0,
                  "TLS handshake refused: error:0A000102:SSL routines::unsupported "
                  "protocol");
    p = s_client(f->port, h_path(f->dir, "cert.pem"), 0, "-tls1_2", NULL);
    session(p, "ann", "pw-ann-1");
    h_kill(p);
    p = s_client(f->port, h_path(f->dir, "cert.pem"), 0, "-tls1_3", NULL);
    session(p, "ben", "pw-ben-2");
    h_kill(p);
    fixture_stop(f);
}

/* A client speaking the protocol in clear on the TLS port is closed unanswered and logged. */
static void
test_plaintext_refused(void **state)
{
    struct fixture *f = start(state, 0, 0);
    struct tconn *c = tc_connect(f->port);
    enum tc_end end;
    struct hproc *p;

    tc_sendf(c, "authenticate ann pw-ann-1\n");
    end = tc_drain(c, h_timeout_ms, NULL);
    if (end == TC_OPEN)
        h_fail("hcs kept a clear-text client open");
    if (memmem(c->buf, c->len, "success", 7) != NULL)
        h_fail("hcs answered a clear-text login");
    h_wait_stderr(f->hcs, 0, "TLS handshake refused");
    if (strstr(h_stdout(f->hcs), "received request") != NULL)
        h_fail("hcs handled a clear-text line");
    tc_close(c);
    p = s_client(f->port, h_path(f->dir, "cert.pem"), 0, NULL);
    session(p, "ann", "pw-ann-1");
    h_kill(p);
    no_password_printed(f);
    fixture_stop(f);
}

/*
 * A client that says nothing, or stops in the middle of its ClientHello,
 * is closed after tls_handshake_timeout (not auth_timeout's 30 s).
 */
static void
test_handshake_timeout(void **state)
{
    /* A record header promising 512 bytes of handshake, and the first few of them. */
    static const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc};
    struct fixture *f = start(state, 0, 0);
    struct tconn *silent = tc_connect(f->port), *half = tc_connect(f->port);
    long long t0 = h_now_ms(), dt;

    tc_send(half, partial, sizeof partial);
    if (tc_drain(silent, 5000, NULL) == TC_OPEN)
        h_fail("a silent client was not closed within 5 s");
    if (tc_drain(half, 5000, NULL) == TC_OPEN)
        h_fail("a half handshake was not closed within 5 s");
    dt = h_now_ms() - t0;
    if (dt < HANDSHAKE_SECS * 1000 - 100)
        h_fail("closed after %lld ms, before the handshake's timeout", dt);
    h_wait_stderr(f->hcs, 0, h_str("TLS handshake not finished in %d s", HANDSHAKE_SECS));
    tc_close(silent);
    tc_close(half);
    fixture_stop(f);
}

/* DELETE /api/bookings/2 on the desk as the demo staff, from a page of origin
 * SCHEME://localhost:desk; the first line of the answer must be want. */
static void
desk_delete(struct fixture *f, unsigned desk, const char *scheme, const char *want)
{
    struct hproc *p = s_client(desk, h_path(f->dir, "cert.pem"), 0, NULL);

    h_send(p,
           "DELETE /api/bookings/2 HTTP/1.0\r\nHost: localhost:%u\r\nOrigin: %s://localhost:%u\r\n"
           "Authorization: Basic cmVjZXB0aW9uOnJlY2VwdGlvbi1kZW1v\r\n"
           "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n",
           desk, scheme, desk);
    h_expect(p, want);
    h_kill(p);
}

/*
 * SIGHUP with a new certificate: a connection made before goes on with the
 * old one, a new connection gets the new one (its subject), a session saved
 * before resumes; a certificate that fails to load keeps the one in use.
 */
static void
test_reload_certificate(void **state)
{
    struct fixture *f = start(state, 1, 0);
    const char *bundle, *sess = h_path(f->dir, "session.pem");
    struct hproc *old, *p;
    unsigned desk;

    desk = desk_port(f);
    make_cert(f->dir, "two", "hcs-two");
    /* The bundle holds both certificates: read them back with cat. */
    p = h_start("cat", NULL, "/bin/cat", h_path(f->dir, "cert.pem"), h_path(f->dir, "two.pem"),
                NULL);
    h_expect_exit(p, 0);
    bundle = h_file(f->dir, "bundle.pem", "%s", h_stdout(p));

    old = s_client(f->port, bundle, 0, "-sess_out", sess, NULL);
    session(old, "ann", "pw-ann-1");
    h_wait_stderr(old, 0, "CN = hcs-one");
    install_cert(f->dir, "two");
    reload(f, "reload: TLS certificate /CN=hcs-two");
    /* The connection of before is served on. */
    available(old);
    /* A new one sees the new certificate, and so does the desk's next one. */
    p = s_client(f->port, bundle, 0, NULL);
    session(p, "ben", "pw-ben-2");
    h_wait_stderr(p, 0, "CN = hcs-two");
    h_kill(p);
    p = s_client(desk, bundle, 0, NULL);
    h_send(p, "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n");
    h_expect(p, "HTTP/1.0 200 OK\r");
    h_wait_stderr(p, 0, "CN = hcs-two");
    h_kill(p);
    /* The session of before resumes (the ticket keys stayed). */
    p = s_client(f->port, bundle, 1, "-sess_in", sess, NULL);
    h_wait_prefix(p, "Reused, TLSv1.3");
    h_kill(p);
    /* A broken certificate: the one in use stays, and hcs says why. */
    h_file(f->dir, "cert.pem", "not a certificate\n");
    reload(f, "the TLS certificate stays as it was");
    p = s_client(f->port, bundle, 0, NULL);
    session(p, "ben", "pw-ben-2");
    h_wait_stderr(p, 0, "CN = hcs-two");
    h_kill(p);
    h_kill(old);
    no_password_printed(f);
    fixture_stop(f);
}

/* The desk answers over HTTPS with the center's certificate, and not in clear. */
static void
test_desk_https(void **state)
{
    struct fixture *f = start(state, 1, 0);
    struct tconn *c;
    struct hproc *p;
    unsigned desk;

    desk = desk_port(f);
    p = s_client(desk, h_path(f->dir, "cert.pem"), 0, NULL);
    h_send(p, "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n");
    h_expect(p, "HTTP/1.0 200 OK\r");
    h_wait_stderr(p, 0, "CN = hcs-one");
    h_kill(p);
    c = tc_connect(desk);
    tc_sendf(c, "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n");
    tc_drain(c, h_timeout_ms, NULL);
    if (memmem(c->buf, c->len, "200 OK", 6) != NULL)
        h_fail("the desk answered in clear");
    tc_close(c);
    /* A change from the desk's own page (its origin https://HOST) passes the cross-site
     * check (404: slot 2 holds no booking); one from the page's http twin does not. */
    desk_delete(f, desk, "https", "HTTP/1.0 404 Not Found\r");
    desk_delete(f, desk, "http", "HTTP/1.0 403 Forbidden\r");
    fixture_stop(f);
}

/* With tls_ca (client certificates asked of the patients), staff reach the desk without one. */
static void
test_desk_https_tls_ca(void **state)
{
    struct fixture *f = start_with(state, 1, 0, "tls_ca = cert.pem\n");
    struct hproc *p;
    unsigned desk;

    desk = desk_port(f);
    p = s_client(desk, h_path(f->dir, "cert.pem"), 0, NULL);
    h_send(p, "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n");
    h_expect(p, "HTTP/1.0 200 OK\r");
    h_kill(p);
    /* The patients' port still asks for a certificate: s_client without one is refused. */
    p = s_client(f->port, h_path(f->dir, "cert.pem"), 0, NULL);
    h_send(p, "available\n");
    h_expect_eof(p);
    fixture_stop(f);
}

/* Run hcs --check on the fixture's files; returns the process, exited. */
static struct hproc *
check(struct fixture *f, int status)
{
    struct hproc *p = h_start("hcs --check", NULL, "hcs", "--check", "-c", f->conf, NULL);

    h_expect_exit(p, status);
    return p;
}

/* --check refuses a key others can read and one of another certificate, and names the
 * certificate of a good pair. */
static void
test_check_key(void **state)
{
    struct fixture *f = start(state, 0, 1);
    struct hproc *p;

    p = check(f, 0);
    if (strstr(h_stdout(p), "TLS certificate and key load and match: /CN=hcs-one") == NULL)
        h_fail("--check did not describe the certificate: %s", h_stdout(p));
    assert_int_equal(chmod(h_path(f->dir, "key.pem"), 0644), 0);
    p = check(f, 1);
    if (strstr(h_stderr(p), "center.conf:7: tls_key ") == NULL ||
        strstr(h_stderr(p), "key.pem is readable by others (mode 644): chmod 600 it") == NULL)
        h_fail("--check took a world-readable key: %s", h_stderr(p));
    assert_int_equal(chmod(h_path(f->dir, "key.pem"), 0640), 0);
    check(f, 1);
    assert_int_equal(chmod(h_path(f->dir, "key.pem"), 0600), 0);
    make_cert(f->dir, "two", "hcs-two");
    assert_int_equal(rename(h_path(f->dir, "two.key"), h_path(f->dir, "key.pem")), 0);
    p = check(f, 1);
    if (strstr(h_stderr(p), "does not match tls_cert") == NULL)
        h_fail("--check took a key of another certificate: %s", h_stderr(p));
    /* hcs itself refuses to start on it. */
    p = h_start("hcs", NULL, "hcs", "-c", f->conf, NULL);
    h_expect_exit(p, 1);
    if (strstr(h_stderr(p), "does not match tls_cert") == NULL)
        h_fail("hcs started with a key of another certificate: %s", h_stderr(p));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_s_client_session, fixture_teardown),
        cmocka_unit_test_teardown(test_pipelined_during_check, fixture_teardown),
        cmocka_unit_test_teardown(test_refused_closes, fixture_teardown),
        cmocka_unit_test_teardown(test_old_protocols_refused, fixture_teardown),
        cmocka_unit_test_teardown(test_plaintext_refused, fixture_teardown),
        cmocka_unit_test_teardown(test_handshake_timeout, fixture_teardown),
        cmocka_unit_test_teardown(test_reload_certificate, fixture_teardown),
        cmocka_unit_test_teardown(test_desk_https, fixture_teardown),
        cmocka_unit_test_teardown(test_desk_https_tls_ca, fixture_teardown),
        cmocka_unit_test_teardown(test_check_key, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
