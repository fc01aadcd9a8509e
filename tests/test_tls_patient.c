/* test_tls_patient.c: the patient over TLS: certificates that must not verify end it with
 * status 5 before a byte of the session is sent, the session ticket is kept and resumed,
 * a whole session runs against the real hcs. Certificates are made here, at test time. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "harness.h"

#define OPENSSL "/usr/bin/openssl"
#define USER "ana.k"
#define PASSWORD "Tr0ub4dor&3"
#define EXIT_TLS 5 /* the README's exit status: the center's certificate did not verify */

/* A test's folder: certs/ (make-certs.sh) beside the patient's files. */
struct tw {
    const char *dir;
    const char *certs; /* its ca.pem, center.pem, center.key */
};

/* config/tls/make-certs.sh of this source tree (CMake compiles this file by its full path). */
static const char *
make_certs_script(void)
{
    const char *here = __FILE__, *slash = strrchr(here, '/');

    if (here[0] != '/' || slash == NULL)
        h_fail("cannot find the source tree from %s", here);
    return h_str("%.*s/../config/tls/make-certs.sh", (int)(slash - here), here);
}

/* Run a shell script; it must exit 0. */
static void
sh(const char *script)
{
    struct hproc *p = h_start("sh", NULL, "/bin/sh", "-c", script, NULL);

    h_close_in(p);
    if (h_wait(p) != 0)
        h_fail("sh -c '%s' exited %d", script, p->status);
}

/* make-certs.sh into dir/name; returns that folder. */
static const char *
certs_make(const char *dir, const char *name)
{
    const char *out = h_path(dir, name);

    sh(h_str("'%s' '%s' >/dev/null", make_certs_script(), out));
    return out;
}

/* A new folder with a CA and a center certificate in it. */
static struct tw *
tw_new(void)
{
    struct tw *w = h_alloc(sizeof *w);

    w->dir = h_tmpdir();
    w->certs = certs_make(w->dir, "certs");
    return w;
}

/*
 * openssl s_server on 127.0.0.1, a port of its own, ending after naccept
 * connections; *port gets the port. It prints what clients send on stdout,
 * and passes lines written to its stdin to the client. With sni it also
 * prints the name a client sends ("Hostname in TLS extension"). chain: NULL,
 * or the intermediate certificates it sends after cert.
 */
static struct hproc *
sserver_chain(const char *cert, const char *chain, const char *key, unsigned naccept, int sni,
              unsigned *port)
{
    const char *argv[20];
    const char *line, *colon;
    struct hproc *p;
    size_t n = 0;

    argv[n++] = OPENSSL;
    argv[n++] = "s_server";
    argv[n++] = "-accept";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "-cert";
    argv[n++] = cert;
    argv[n++] = "-key";
    argv[n++] = key;
    argv[n++] = "-naccept";
    argv[n++] = h_str("%u", naccept);
    if (chain != NULL) {
        argv[n++] = "-cert_chain";
        argv[n++] = chain;
    }
    if (sni) {
        argv[n++] = "-servername";
        argv[n++] = "localhost";
        argv[n++] = "-cert2";
        argv[n++] = cert;
        argv[n++] = "-key2";
        argv[n++] = key;
    }
    argv[n] = NULL;
    p = h_startv("s_server", NULL, argv);
    line = h_wait_prefix(p, "ACCEPT ");
    if ((colon = strrchr(line, ':')) == NULL || (*port = (unsigned)atoi(colon + 1)) == 0)
        h_fail("no port in s_server's line '%s'", line);
    return p;
}

/* openssl s_server with a certificate of its own and no chain (see sserver_chain). */
static struct hproc *
sserver(const char *cert, const char *key, unsigned naccept, int sni, unsigned *port)
{
    return sserver_chain(cert, NULL, key, naccept, sni, port);
}

/* How many times needle is in hay. */
static unsigned
count(const char *hay, const char *needle)
{
    unsigned n = 0;

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += strlen(needle);
    }
    return n;
}

/* Mode bits of a file, which must exist. */
static unsigned
mode_of(const char *path)
{
    struct stat st;

    if (stat(path, &st) == -1)
        h_fail("stat %s: %s", path, strerror(errno));
    return (unsigned)(st.st_mode & 07777);
}

/*
 * The patient with conf against s: s_server must see "authenticate" with the
 * password, answered "failure": the patient exits 2 after its phase 1 lines.
 * env: NULL or "NAME=value" strings; -v shows the TLS lines on stderr.
 */
static struct hproc *
run_auth(struct hproc *s, const char *conf, const char *const *env)
{
    struct hproc *p = h_start("patient", env, "patient", "-v", "-c", conf, "--show", NULL);

    h_close_in(p);
    h_expect_port(p, "Phase 1: Patient 1 has TCP port number ", " and IP address 127.0.0.1.");
    h_expect(p, "Phase 1: Authentication request from Patient 1 with username " USER
                " and password ******** has been sent to the Health Center Server.");
    h_wait_prefix(s, "authenticate " USER " " PASSWORD);
    h_send(s, "failure\n");
    h_expect(p, "Phase 1: Patient 1 authentication result: failure.");
    h_expect_exit(p, 2);
    h_expect_eof(p);
    return p;
}

/*
 * The patient with the extra config lines against a center showing cert:
 * exit 6, nothing on stdout, exactly the line why on stderr, and s_server
 * saw a handshake that never finished and no byte of the session.
 */
static void
expect_refused(struct tw *w, const char *cert, const char *key, const char *extra, const char *why)
{
    unsigned port;
    struct hproc *s = sserver(cert, key, 1, 0, &port), *p;
    const char *conf = fixture_patient(w->dir, 1, port, USER, PASSWORD, "blueshield\n", extra);

    p = h_start("patient", NULL, "patient", "-c", conf, NULL);
    h_close_in(p);
    h_expect_exit(p, EXIT_TLS);
    h_expect_eof(p);
    if (strcmp(h_stderr(p), h_str("patient: phase 1: %s\n", why)) != 0)
        h_fail("patient's stderr '%s', expected 'patient: phase 1: %s'", h_stderr(p), why);
    h_wait(s);
    if (strstr(h_stdout(s), "authenticate") != NULL || strstr(h_stdout(s), PASSWORD) != NULL ||
        strstr(h_stdout(s), " 0 server accepts that finished") == NULL ||
        strstr(h_stdout(s), " 1 server accepts (SSL_accept())") == NULL)
        h_fail("s_server saw more than a failed handshake");
    if (access(h_path(w->dir, "sess"), F_OK) == 0)
        h_fail("a session of an unverified center was kept");
}

/* make-certs.sh: the key 0600 in a 0700 folder, a chain that verifies for the three names,
 * no CA key left behind, and no overwrite without -f. */
static void
test_make_certs(void **state)
{
    struct tw *w = tw_new();
    const char *pem = h_path(w->certs, "center.pem");
    struct hproc *p;
    struct stat before, after;

    (void)state;
    assert_int_equal(mode_of(w->certs), 0700);
    assert_int_equal(mode_of(h_path(w->certs, "center.key")), 0600);
    assert_int_equal(access(h_path(w->certs, "ca.key"), F_OK), -1);
    sh(h_str("cd '%s' && for n in localhost 127.0.0.1 ::1; do case $n in *[!a-z]*) o=-verify_ip;; "
             "*) o=-verify_hostname;; esac; openssl verify -purpose sslserver $o $n -CAfile "
             "ca.pem center.pem >/dev/null || exit 1; done; ! openssl verify -verify_hostname "
             "elsewhere.example -CAfile ca.pem center.pem >/dev/null 2>&1",
             w->certs));
    assert_int_equal(stat(pem, &before), 0);
    p = h_start("make-certs.sh", NULL, make_certs_script(), w->certs, NULL);
    h_close_in(p);
    h_expect_exit(p, 1);
    h_expect_eof(p);
    assert_string_equal(h_stderr(p), h_str("%s: %s/ca.pem exists; -f replaces it\n",
                                           make_certs_script(), w->certs));
    assert_int_equal(stat(pem, &after), 0);
    assert_true(before.st_ino == after.st_ino && before.st_mtime == after.st_mtime);
    sh(h_str("cp '%s' '%s/old.pem' && '%s' -f '%s' >/dev/null && ! cmp -s '%s/old.pem' '%s'", pem,
             w->dir, make_certs_script(), w->certs, w->dir, pem));
}

/* The control for the tests below: a verified center gets authenticate; an IP name sends no
 * SNI; with XDG_STATE_HOME empty the ticket goes under $HOME, folder 0700, file 0600. */
static void
test_verified(void **state)
{
    struct tw *w = tw_new();
    unsigned port;
    struct hproc *s =
        sserver(h_path(w->certs, "center.pem"), h_path(w->certs, "center.key"), 1, 1, &port);
    const char *conf = fixture_patient(w->dir, 1, port, USER, PASSWORD, "blueshield\n",
                                       "tls = yes\ntls_ca = certs/ca.pem\n");
    const char *home = h_path(w->dir, "home");
    const char *env[] = {h_str("HOME=%s", home), "XDG_STATE_HOME=", NULL};
    const char *folder = h_str("%s/.local/state/hcs", home);
    struct hproc *p;

    (void)state;
    p = run_auth(s, conf, env);
    h_wait_stderr(p, 0, "patient: new TLS session: TLSv1.3");
    h_wait(s);
    if (strstr(h_stdout(s), "Hostname in TLS extension") != NULL)
        h_fail("an IP address was sent as SNI");
    if (strstr(h_stdout(s), "\nDONE\n") == NULL) /* s_server's word for a close_notify */
        h_fail("the patient closed without close_notify");
    assert_int_equal(mode_of(folder), 0700);
    assert_int_equal(mode_of(h_str("%s/session-127.0.0.1-%u", folder, port)), 0600);
}

/* center_host = localhost: the certificate's DNS name is checked and sent as SNI. */
static void
test_name_and_sni(void **state)
{
    struct tw *w = tw_new();
    unsigned port;
    struct hproc *s =
        sserver(h_path(w->certs, "center.pem"), h_path(w->certs, "center.key"), 1, 1, &port);
    const char *conf;
    struct hproc *p;

    (void)state;
    fixture_patient(w->dir, 1, port, USER, PASSWORD, "blueshield\n", "");
    conf = h_file(w->dir, "patient1.conf",
                  "[patient]\nid = 1\ncenter_host = localhost\ncenter_port = %u\n"
                  "credentials = patient1.txt\ninsurance = patient1insurance.txt\n"
                  "tls = yes\ntls_ca = certs/ca.pem\ntls_session = sess\n",
                  port);
    p = h_start("patient", NULL, "patient", "-c", conf, "--show", NULL);
    h_close_in(p);
    h_wait_prefix(p, "Phase 1: Authentication request from Patient 1");
    h_wait_prefix(s, "authenticate " USER " " PASSWORD);
    h_send(s, "failure\n");
    h_wait_prefix(p, "Phase 1: Patient 1 authentication result: failure.");
    h_expect_exit(p, 2);
    h_wait(s);
    if (strstr(h_stdout(s), "Hostname in TLS extension: \"localhost\"") == NULL)
        h_fail("no SNI localhost");
    assert_int_equal(mode_of(h_path(w->dir, "sess")), 0600);
}

/* A certificate of another CA: status 5, nothing sent. */
static void
test_wrong_ca(void **state)
{
    struct tw *w = tw_new();
    const char *other = certs_make(w->dir, "other");

    (void)state;
    expect_refused(w, h_path(other, "center.pem"), h_path(other, "center.key"),
                   "tls = yes\ntls_ca = certs/ca.pem\ntls_session = sess\n",
                   "the center's certificate did not verify for 127.0.0.1: unable to get local "
                   "issuer certificate");
}

/* An expired certificate of the trusted CA (openssl ca can date one in the past). */
static void
test_expired(void **state)
{
    struct tw *w = tw_new();
    const char *x = h_path(w->dir, "x");

    (void)state;
    sh(h_str("set -e; mkdir '%s'; cd '%s'; umask 077\n"
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 "
             "-keyout ca.key -out ca.pem -subj /CN=xca -addext basicConstraints=critical,CA:TRUE "
             "2>/dev/null\n"
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout old.key "
             "-out old.csr -subj /CN=localhost 2>/dev/null\n"
             "printf '[ca]\\ndefault_ca = d\\n[d]\\ndatabase = index.txt\\nnew_certs_dir = .\\n"
             "serial = serial\\ncertificate = ca.pem\\nprivate_key = ca.key\\n"
             "default_md = sha256\\npolicy = p\\nx509_extensions = e\\n[p]\\n"
             "commonName = supplied\\n[e]\\nbasicConstraints = CA:FALSE\\n"
             "subjectAltName = DNS:localhost,IP:127.0.0.1\\n' > ca.cnf\n"
             ": > index.txt; echo 01 > serial\n"
             "openssl ca -batch -config ca.cnf -in old.csr -out old.pem "
             "-startdate 20200101000000Z -enddate 20200201000000Z 2>/dev/null\n",
             x, x));
    expect_refused(
        w, h_path(x, "old.pem"), h_path(x, "old.key"),
        "tls = yes\ntls_ca = x/ca.pem\ntls_session = sess\n",
        "the center's certificate did not verify for 127.0.0.1: certificate has expired");
}

/* A name the certificate does not carry, as a DNS name and as an address. */
static void
test_wrong_name(void **state)
{
    struct tw *w = tw_new();
    const char *cert = h_path(w->certs, "center.pem"), *key = h_path(w->certs, "center.key");

    (void)state;
    expect_refused(w, cert, key,
                   "tls = yes\ntls_ca = certs/ca.pem\ntls_name = elsewhere.example\n"
                   "tls_session = sess\n",
                   "the center's certificate did not verify for elsewhere.example: hostname "
                   "mismatch");
    expect_refused(w, cert, key,
                   "tls = yes\ntls_ca = certs/ca.pem\ntls_name = 127.0.0.2\ntls_session = sess\n",
                   "the center's certificate did not verify for 127.0.0.2: IP address mismatch");
}

/*
 * The ticket: kept under $XDG_STATE_HOME/hcs (0700, 0600), resumed on the
 * next run; a file others may read or write is ignored (and replaced); a
 * kept session never stands in for verification: with another tls_ca the
 * resumption is not offered and the patient stops with status 5.
 */
static void
test_resumed(void **state)
{
    struct tw *w = tw_new();
    const char *other = certs_make(w->dir, "other"), *ca2 = h_path(other, "ca.pem");
    const char *xdg = h_path(w->dir, "state");
    const char *env[] = {h_str("XDG_STATE_HOME=%s", xdg), NULL};
    unsigned port;
    struct hproc *s =
        sserver(h_path(w->certs, "center.pem"), h_path(w->certs, "center.key"), 4, 0, &port);
    const char *conf = fixture_patient(w->dir, 1, port, USER, PASSWORD, "blueshield\n",
                                       "tls = yes\ntls_ca = certs/ca.pem\n");
    const char *file = h_str("%s/hcs/session-127.0.0.1-%u", xdg, port);
    struct hproc *p;

    (void)state;
    p = run_auth(s, conf, env);
    h_wait_stderr(p, 0, "patient: no TLS session kept in");
    h_wait_stderr(p, 0, "patient: new TLS session: TLSv1.3");
    assert_int_equal(mode_of(h_path(xdg, "hcs")), 0700);
    assert_int_equal(mode_of(file), 0600);

    p = run_auth(s, conf, env);
    h_wait_stderr(p, 0, "patient: resumed TLS session: TLSv1.3");
    assert_int_equal(count(h_stdout(s), "Reused session-id"), 1);

    assert_int_equal(chmod(file, 0644), 0);
    p = run_auth(s, conf, env);
    h_wait_stderr(p, 0, "TLS session ignored");
    h_wait_stderr(p, 0, "patient: new TLS session: TLSv1.3");
    assert_int_equal(count(h_stdout(s), "Reused session-id"), 1);
    assert_int_equal(mode_of(file), 0600);

    conf = fixture_patient(w->dir, 1, port, USER, PASSWORD, "blueshield\n",
                           h_str("tls = yes\ntls_ca = %s\n", ca2));
    p = h_start("patient", env, "patient", "-v", "-c", conf, "--show", NULL);
    h_close_in(p);
    h_expect_exit(p, EXIT_TLS);
    h_expect_eof(p);
    h_wait_stderr(p, 0,
                  "patient: phase 1: the center's certificate did not verify for "
                  "127.0.0.1: unable to get local issuer certificate");
    h_wait(s);
    assert_int_equal(count(h_stdout(s), "authenticate " USER), 3);
    assert_int_equal(count(h_stdout(s), "Reused session-id"), 1);
}

/*
 * A center whose certificate comes from an intermediate CA that only it
 * sends (tls_ca holds the root): the ticket is kept with the intermediate
 * and resumed on the next run. Then a FIFO where the session file was: it
 * is ignored at once (opening it must not wait for a writer), a full
 * handshake follows and a private regular file takes its place.
 */
static void
test_resumed_intermediate(void **state)
{
    struct tw *w = tw_new();
    const char *x = h_path(w->dir, "x"), *file = h_path(w->dir, "sess");
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    unsigned port;
    struct hproc *s, *p;
    const char *conf;

    (void)state;
    sh(h_str("set -e; mkdir '%s'; cd '%s'; umask 077\n"
             "openssl req -x509 %s -days 30 -keyout root.key -out root.pem -subj /CN=xroot "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
             "2>/dev/null\n"
             "openssl req %s -keyout int.key -out int.csr -subj /CN=xint 2>/dev/null\n"
             "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign\\n' "
             "> int.ext\n"
             "openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial "
             "-days 30 -extfile int.ext -out int.pem 2>/dev/null\n"
             "openssl req %s -keyout leaf.key -out leaf.csr -subj /CN=localhost 2>/dev/null\n"
             "printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n"
             "subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > leaf.ext\n"
             "openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial "
             "-days 30 -extfile leaf.ext -out leaf.pem 2>/dev/null\n",
             x, x, ec, ec, ec));
    s = sserver_chain(h_path(x, "leaf.pem"), h_path(x, "int.pem"), h_path(x, "leaf.key"), 3, 0,
                      &port);
    conf = fixture_patient(w->dir, 1, port, USER, PASSWORD, "blueshield\n",
                           "tls = yes\ntls_ca = x/root.pem\ntls_session = sess\n");
    p = run_auth(s, conf, NULL);
    h_wait_stderr(p, 0, "patient: new TLS session: TLSv1.3");
    /* The session, then the intermediate only (the center's own is in the session). */
    assert_int_equal(count(h_slurp(file), "-----BEGIN CERTIFICATE-----"), 1);
    assert_non_null(strstr(h_slurp(file), "-----BEGIN SSL SESSION PARAMETERS-----"));

    p = run_auth(s, conf, NULL);
    h_wait_stderr(p, 0, "patient: resumed TLS session: TLSv1.3");
    assert_int_equal(count(h_stdout(s), "Reused session-id"), 1);
    /* The ticket of the resumed session is kept with the same intermediate. */
    assert_int_equal(count(h_slurp(file), "-----BEGIN CERTIFICATE-----"), 1);

    assert_int_equal(unlink(file), 0);
    assert_int_equal(mkfifo(file, 0600), 0);
    p = run_auth(s, conf, NULL);
    h_wait_stderr(p, 0, "TLS session ignored");
    h_wait_stderr(p, 0, "patient: new TLS session: TLSv1.3");
    assert_int_equal(mode_of(file), 0600);
    h_wait(s);
    assert_int_equal(count(h_stdout(s), "Reused session-id"), 1);
}

/* A listening socket on 127.0.0.1 of the test's own; *port gets its port. */
static int
listener(unsigned *port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 || listen(fd, 4) == -1 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
        h_fail("listener: %s", strerror(errno));
    *port = ntohs(sin.sin_port);
    return fd;
}

/* Accept on lfd within the harness's deadline, reading the processes' output meanwhile. */
static int
accept_one(int lfd)
{
    struct pollfd pfd = {lfd, POLLIN, 0};
    long long end = h_now_ms() + h_timeout_ms;
    int fd;

    while (poll(&pfd, 1, 20) == 0) {
        h_pump(0);
        if (h_now_ms() > end)
            h_fail("nobody connected");
    }
    if ((fd = accept(lfd, NULL, NULL)) == -1)
        h_fail("accept: %s", strerror(errno));
    return fd;
}

/* A center that accepts and never answers the handshake: the patient gives up after
 * timeout_ms with status 5; what it sent first is a TLS handshake record, not a request. */
static void
test_handshake_timeout(void **state)
{
    struct tw *w = tw_new();
    unsigned port;
    int lfd = listener(&port), fd;
    const char *conf = fixture_patient(w->dir, 1, port, USER, PASSWORD, "blueshield\n",
                                       "tls = yes\ntls_ca = certs/ca.pem\ntimeout_ms = 300\n");
    struct hproc *p = h_start("patient", NULL, "patient", "-c", conf, NULL);
    unsigned char b;

    (void)state;
    h_close_in(p);
    fd = accept_one(lfd);
    h_expect_exit(p, 5);
    h_expect_eof(p);
    assert_string_equal(h_stderr(p), "patient: phase 1: the TLS handshake with the center did "
                                     "not finish within 300 ms\n");
    assert_int_equal(recv(fd, &b, 1, 0), 1);
    assert_int_equal(b, 0x16); /* TLS record type handshake: the ClientHello */
    close(fd);
    close(lfd);
}

/* A center that answers in plain text: status 5 with OpenSSL's reason, nothing sent. */
static void
test_plain_center(void **state)
{
    struct tw *w = tw_new();
    unsigned port;
    int lfd = listener(&port), fd;
    const char *conf = fixture_patient(w->dir, 1, port, USER, PASSWORD, "blueshield\n",
                                       "tls = yes\ntls_ca = certs/ca.pem\n");
    struct hproc *p = h_start("patient", NULL, "patient", "-c", conf, NULL);
    char buf[4096];
    ssize_t n, total = 0;

    (void)state;
    h_close_in(p);
    fd = accept_one(lfd);
    assert_int_equal(send(fd, "error unknown command\n", 22, 0), 22);
    h_expect_exit(p, 5);
    h_expect_eof(p);
    assert_string_equal(h_stderr(p), "patient: phase 1: the TLS handshake with the center failed: "
                                     "wrong version number\n");
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        total += n;
    assert_true(total > 0 && total < (ssize_t)sizeof buf);
    assert_null(memmem(buf, (size_t)total, PASSWORD, strlen(PASSWORD)));
    close(fd);
    close(lfd);
}

/* A center gone without close_notify (killed): "closed the connection", status 5. */
static void
test_center_vanishes(void **state)
{
    struct tw *w = tw_new();
    unsigned port;
    struct hproc *s =
        sserver(h_path(w->certs, "center.pem"), h_path(w->certs, "center.key"), 1, 0, &port);
    const char *conf = fixture_patient(w->dir, 1, port, USER, PASSWORD, "blueshield\n",
                                       "tls = yes\ntls_ca = certs/ca.pem\ntimeout_ms = 5000\n");
    struct hproc *p = h_start("patient", NULL, "patient", "-c", conf, "--show", NULL);

    (void)state;
    h_close_in(p);
    h_wait_prefix(s, "authenticate " USER " " PASSWORD);
    h_wait_prefix(p, "Phase 1: Authentication request from Patient 1");
    h_kill(s);
    h_expect_exit(p, 5);
    h_expect_eof(p);
    assert_string_equal(h_stderr(p), "patient: phase 1: the center closed the connection\n");
}

/* A tls_ca that holds no certificate is a configuration error, for --check too: status 1,
 * one line, nothing sent; a good one passes --check, which names the session file. */
static void
test_bad_ca_file(void **state)
{
    struct tw *w = tw_new();
    const char *conf = fixture_patient(w->dir, 1, 1, USER, PASSWORD, "blueshield\n",
                                       "tls = yes\ntls_ca = patient1insurance.txt\n");
    const char *want = h_str("%s: tls_ca: cannot load %s/patient1insurance.txt: ", conf, w->dir);
    struct hproc *p;
    int check;

    (void)state;
    for (check = 0; check <= 1; check++) {
        p = h_start("patient", NULL, "patient", "-c", conf, check ? "--check" : NULL, NULL);
        h_close_in(p);
        h_expect_exit(p, 1);
        h_expect_eof(p);
        if (strncmp(h_stderr(p), want, strlen(want)) != 0 || count(h_stderr(p), "\n") != 1)
            h_fail("stderr '%s', expected '%s...'", h_stderr(p), want);
    }
    conf = fixture_patient(w->dir, 1, 1, USER, PASSWORD, "blueshield\n",
                           "tls = yes\ntls_ca = certs/ca.pem\ntls_session = s\n");
    p = h_start("patient", NULL, "patient", "-c", conf, "--check", NULL);
    h_close_in(p);
    h_expectf(p,
              "%s: ok (patient 1, username " USER ", insurance blueshield, TLS name 127.0.0.1, "
              "session file %s/s)",
              conf, w->dir);
    h_expect_exit(p, 0);
    h_expect_eof(p);
}

/*
 * The three phases against the real hcs with tls_cert and tls_key: the
 * spec's screen lines, the price from the doctor, and a second run (--show)
 * that resumes the session the first one kept.
 */
static void
test_session_hcs(void **state)
{
    static const struct fixture_user users[] = {{USER, PASSWORD}};
    struct tw *w = tw_new();
    const char *args[] = {"--id", "1", "--config-dir", w->dir, NULL};
    const char *env[] = {h_str("XDG_STATE_HOME=%s", h_path(w->dir, "state")), NULL};
    struct fixture_opts o;
    struct fixture *f;
    struct hproc *d, *p;
    const char *conf;
    unsigned docport;

    memset(&o, 0, sizeof o);
    d = fixture_doctor(w->dir, 1, "house", "blueshield 80\n", NULL, args, &docport);
    o.dir = w->dir;
    o.users = users;
    o.nusers = 1;
    o.slots_text = h_str("4 Wed 10am house %u\n7 Fri 02pm house %u\n", docport, docport);
    o.config = "tls_cert = certs/center.pem\ntls_key = certs/center.key\n";
    f = fixture_setup(state, &o);
    conf = fixture_patient(w->dir, 1, f->port, USER, PASSWORD, "blueshield\n",
                           "tls = yes\ntls_ca = certs/ca.pem\n");

    p = h_start("patient", env, "patient", "-v", "-c", conf, "--slot", "7", NULL);
    h_close_in(p);
    h_expect_port(p, "Phase 1: Patient 1 has TCP port number ", " and IP address 127.0.0.1.");
    h_expect(p, "Phase 1: Authentication request from Patient 1 with username " USER
                " and password ******** has been sent to the Health Center Server.");
    h_expect(p, "Phase 1: Patient 1 authentication result: success.");
    h_expect(p, "Phase 1: End of Phase 1 for Patient 1.");
    h_expect(p, "Phase 2: The following appointments are available for Patient 1:");
    h_expect(p, "4 Wed 10am");
    h_expect(p, "7 Fri 02pm");
    h_expect(p, "Please enter the preferred appointment index and press enter: 7");
    h_expectf(p,
              "Phase 2: The requested appointment is available and reserved to Patient 1. The "
              "assigned doctor port number is %u.",
              docport);
    h_expect_prefix(p, "Phase 3: Patient 1 has a dynamic UDP port number ");
    h_expectf(p,
              "Phase 3: The cost estimation request from Patient 1 with insurance plan "
              "blueshield has been sent to the doctor with port number %u and IP address "
              "127.0.0.1.",
              docport);
    h_expectf(p,
              "Phase 3: Patient 1 receives 80$ estimation cost from doctor with port number %u "
              "and name house.",
              docport);
    h_expect(p, "Phase 3: End of Phase 3 for Patient 1.");
    h_expect_exit(p, 0);
    h_expect_eof(p);
    h_wait_stderr(p, 0, "patient: new TLS session: TLSv1.3");
    h_wait_prefix(f->hcs, "Phase 2: The Health Center Server confirms the following appointment 7 "
                          "to patient with username " USER ".");

    p = h_start("patient", env, "patient", "-v", "-c", conf, "--show", NULL);
    h_close_in(p);
    h_wait_prefix(p, "Phase 1: End of Phase 1 for Patient 1.");
    h_expectf(p, "Patient 1 has appointment 7 Fri 02pm with house (port %u).", docport);
    h_expect_exit(p, 0);
    h_expect_eof(p);
    h_wait_stderr(p, 0, "patient: resumed TLS session: TLSv1.3");
    fixture_stop(f);
    assert_null(strstr(h_stdout(f->hcs), PASSWORD));
    assert_null(strstr(h_stderr(f->hcs), PASSWORD));
    assert_int_equal(h_stop(d), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_make_certs, fixture_teardown),
        cmocka_unit_test_teardown(test_verified, fixture_teardown),
        cmocka_unit_test_teardown(test_name_and_sni, fixture_teardown),
        cmocka_unit_test_teardown(test_wrong_ca, fixture_teardown),
        cmocka_unit_test_teardown(test_expired, fixture_teardown),
        cmocka_unit_test_teardown(test_wrong_name, fixture_teardown),
        cmocka_unit_test_teardown(test_resumed, fixture_teardown),
        cmocka_unit_test_teardown(test_resumed_intermediate, fixture_teardown),
        cmocka_unit_test_teardown(test_handshake_timeout, fixture_teardown),
        cmocka_unit_test_teardown(test_plain_center, fixture_teardown),
        cmocka_unit_test_teardown(test_center_vanishes, fixture_teardown),
        cmocka_unit_test_teardown(test_bad_ca_file, fixture_teardown),
        cmocka_unit_test_teardown(test_session_hcs, fixture_teardown),
    };

    h_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
