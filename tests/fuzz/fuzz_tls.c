/*
 * fuzz_tls.c: the server side of TLS (server/transport_tls.c with the
 * context of server/tls.c) on a socketpair, driven through the transport's
 * own operations as conn.c calls them.
 *
 * Input: one control byte, then the client's bytes.
 *   bits 0-1  0, 3: the bytes are the client's records, raw (ClientHello
 *             parsing, alerts, garbage); 1: an in-process OpenSSL client
 *             completes a real handshake, then sends the bytes as
 *             application data, which the server must read back exactly
 *             and echo (read, pending, write); 2: a real handshake, then
 *             the bytes raw, as records (corrupt or forged records)
 *   bits 2-4  the size of the server's reads: 1, 2, 3, 7, 16, 64, 300, 4096
 *   bit 5     small socket buffers, so that writes wait (WANT_WRITE)
 *   bit 6     the client shuts its side down after its bytes
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "center.h"
#include "conn.h"
#include "transport.h"

#define FUZZ_ROUNDS 64     /* steps of a handshake or an exchange at most */
#define FUZZ_MAX 16384     /* client bytes used at most */
#define FUZZ_SMALLBUF 4096 /* SO_SNDBUF and SO_RCVBUF with bit 5 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t fuzz_reads[8] = {1, 2, 3, 7, 16, 64, 300, 4096};

static struct center fuzz_center;
static SSL_CTX *fuzz_client_ctx;
static char fuzz_dir[4096], fuzz_cert[4200], fuzz_key[4200];

/* Remove the certificate, its key and their folder at exit. */
static void
fuzz_cleanup(void)
{
    center_free(&fuzz_center);
    SSL_CTX_free(fuzz_client_ctx);
    unlink(fuzz_cert);
    unlink(fuzz_key);
    rmdir(fuzz_dir);
}

/* Fail loudly: the set-up itself went wrong. */
static _Noreturn void
fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz_tls: %s\n", what);
    ERR_print_errors_fp(stderr);
    abort();
}

/* A throwaway P-256 key and self-signed certificate, written as PEM files (key 0600). */
static void
fuzz_make_cert(void)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    FILE *fp;
    int fd;

    if (pk == NULL || x == NULL)
        fuzz_die("cannot make a key");
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pk);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, pk, EVP_sha256()) == 0)
        fuzz_die("cannot sign the certificate");
    if ((fd = open(fuzz_key, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
        (fp = fdopen(fd, "w")) == NULL ||
        PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL) != 1 || fclose(fp) != 0)
        fuzz_die("cannot write the key");
    if ((fp = fopen(fuzz_cert, "w")) == NULL || PEM_write_X509(fp, x) != 1 || fclose(fp) != 0)
        fuzz_die("cannot write the certificate");
    X509_free(x);
    EVP_PKEY_free(pk);
}

/* A center with TLS on the throwaway certificate, and a client context that trusts anything. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    char conf[9000], err[1024];

    (void)argc;
    (void)argv;
    if (tmp == NULL || *tmp != '/')
        tmp = "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/hcs-fuzz-tls-XXXXXX", tmp);
    if (mkdtemp(fuzz_dir) == NULL)
        fuzz_die("mkdtemp");
    snprintf(fuzz_cert, sizeof fuzz_cert, "%s/cert.pem", fuzz_dir);
    snprintf(fuzz_key, sizeof fuzz_key, "%s/key.pem", fuzz_dir);
    fuzz_make_cert();
    snprintf(conf, sizeof conf,
             "[center]\nusers = users.txt\navailabilities = availabilities.txt\n"
             "tls_cert = %s\ntls_key = %s\n",
             fuzz_cert, fuzz_key);
    if (center_init_text(&fuzz_center, conf, "alice Pa55-alice-7q\n", "1 Mon 09am docA 41001\n", 0,
                         err, sizeof err) == -1)
        fuzz_die(err);
    if (fuzz_center.tls == NULL)
        fuzz_die("the center has no TLS context");
    if ((fuzz_client_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
        fuzz_die("cannot make the client's context");
    SSL_CTX_set_verify(fuzz_client_ctx, SSL_VERIFY_NONE, NULL);
    atexit(fuzz_cleanup);
    return 0;
}

/* Whether an operation's -1 is a wait (EAGAIN with want set) rather than an error. */
static int
fuzz_waits(ssize_t rc, short want)
{
    if (rc != -1 || errno != EAGAIN)
        return 0;
    if (want != EV_READ && want != EV_WRITE)
        abort(); /* a wait must say what for */
    return 1;
}

/* Both sides' handshakes, in turns: 1 when both are done, 0 otherwise. */
static int
fuzz_handshake(struct conn *c, SSL *cl)
{
    int i, sdone = 0, cdone = 0, rc;
    short want;

    for (i = 0; i < FUZZ_ROUNDS && !(sdone && cdone); i++) {
        if (!cdone) {
            ERR_clear_error();
            if ((rc = SSL_do_handshake(cl)) == 1)
                cdone = 1;
            else if (SSL_get_error(cl, rc) != SSL_ERROR_WANT_READ &&
                     SSL_get_error(cl, rc) != SSL_ERROR_WANT_WRITE)
                return 0;
        }
        if (!sdone) {
            want = 0;
            rc = c->xprt->handshake(c, &want);
            if (rc == -1)
                return 0;
            if (rc == 0 && want != EV_READ && want != EV_WRITE)
                abort();
            sdone = rc == 1;
        }
    }
    return sdone && cdone;
}

/*
 * The server reads what is there into in, as conn.c does: a read, then more
 * while OpenSSL holds decrypted bytes, then again at the next readiness.
 * 1: it waits (and then holds nothing decrypted), 0: end of file, -1: error.
 * Between reads, whatever OpenSSL holds decrypted must show in pending().
 */
static int
fuzz_server_read(struct conn *c, struct evbuffer *in, size_t chunk)
{
    char buf[4096];
    ssize_t n;
    short want;

    for (;;) {
        want = 0;
        n = c->xprt->read(c, buf, chunk, &want);
        if (n <= 0)
            break;
        if ((size_t)n > chunk || (SSL_pending(c->xprtdata) > 0 && c->xprt->pending(c) == 0))
            abort();
        evbuffer_add(in, buf, (size_t)n);
    }
    if (n == 0)
        return 0;
    if (!fuzz_waits(n, want))
        return -1;
    /* Waiting on the socket with decrypted bytes held back would stall a connection.
     * (Bytes read ahead may wait: a record not complete yet.) */
    if (SSL_pending(c->xprtdata) > 0)
        abort();
    return 1;
}

/* Mode 1: the bytes as application data, read back exactly, echoed and read by the client. */
static void
fuzz_exchange(struct conn *c, SSL *cl, const uint8_t *data, size_t size, size_t chunk)
{
    struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
    size_t sent = 0, echoed = 0, got = 0;
    unsigned char back[4096];
    int i, rc;
    short want;

    if (in == NULL || out == NULL)
        abort();
    for (i = 0; i < FUZZ_ROUNDS * 4 && got < size; i++) {
        if (sent < size) {
            ERR_clear_error();
            rc = SSL_write(cl, data + sent, (int)(size - sent));
            if (rc > 0)
                sent += (size_t)rc;
            else if (SSL_get_error(cl, rc) != SSL_ERROR_WANT_WRITE &&
                     SSL_get_error(cl, rc) != SSL_ERROR_WANT_READ)
                abort();
        }
        if (fuzz_server_read(c, in, chunk) == -1)
            abort(); /* a real client's records must all be taken */
        if (evbuffer_get_length(in) > 0) {
            size_t n = evbuffer_get_length(in);
            unsigned char *p = evbuffer_pullup(in, -1);

            if (echoed + n > size || memcmp(p, data + echoed, n) != 0)
                abort(); /* the server read other bytes than the client sent */
            echoed += n;
            evbuffer_add_buffer(out, in);
        }
        if (evbuffer_get_length(out) > 0) {
            want = 0;
            if (c->xprt->write(c, out, &want) == -1 && !fuzz_waits(-1, want))
                abort();
        }
        ERR_clear_error();
        while ((rc = SSL_read(cl, back, sizeof back)) > 0) {
            if (got + (size_t)rc > size || memcmp(back, data + got, (size_t)rc) != 0)
                abort(); /* the echo came back changed */
            got += (size_t)rc;
        }
    }
    if (got != size && i == FUZZ_ROUNDS * 4 && size < FUZZ_SMALLBUF)
        abort(); /* a small echo must get through in that many rounds */
    evbuffer_free(in);
    evbuffer_free(out);
}

/* Push raw bytes at the server and let it read (or refuse) them. */
static void
fuzz_raw(struct conn *c, int peer, const uint8_t *data, size_t size, size_t chunk, int handshaken)
{
    struct evbuffer *in = evbuffer_new();
    size_t off = 0;
    ssize_t n;
    short want;
    int i;

    if (in == NULL)
        abort();
    for (i = 0; i < FUZZ_ROUNDS; i++) {
        if (off < size && (n = send(peer, data + off, size - off, MSG_NOSIGNAL)) > 0)
            off += (size_t)n;
        if (!handshaken) {
            want = 0;
            n = c->xprt->handshake(c, &want);
            if (n == -1)
                break;
            if (n == 0 && want != EV_READ && want != EV_WRITE)
                abort();
            handshaken = n == 1;
        } else if (fuzz_server_read(c, in, chunk) != 1) {
            break;
        }
        if (off == size && !handshaken && i > 2)
            break;
    }
    evbuffer_free(in);
}

/* One input: a fresh connection's TLS, as described at the top. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conn c;
    SSL *cl = NULL;
    int sv[2], mode, small, bufsz = FUZZ_SMALLBUF;
    size_t chunk;

    if (size < 1)
        return 0;
    mode = data[0] & 3;
    chunk = fuzz_reads[(data[0] >> 2) & 7];
    small = (data[0] >> 5) & 1;
    data++;
    size--;
    if (size > FUZZ_MAX)
        size = FUZZ_MAX;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
        abort();
    if (small) {
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    }
    memset(&c, 0, sizeof c);
    c.center = &fuzz_center;
    c.fd = sv[0];
    c.xprt = &transport_tls_ops;
    if (mode == 1 || mode == 2) {
        if ((cl = SSL_new(fuzz_client_ctx)) == NULL || SSL_set_fd(cl, sv[1]) != 1)
            abort();
        SSL_set_connect_state(cl);
        if (!fuzz_handshake(&c, cl))
            abort(); /* a real client always gets through */
        if (mode == 1)
            fuzz_exchange(&c, cl, data, size, chunk);
        else
            fuzz_raw(&c, sv[1], data, size, chunk, 1);
    } else {
        fuzz_raw(&c, sv[1], data, size, chunk, 0);
    }
    if ((data[-1] >> 6) & 1)
        shutdown(sv[1], SHUT_WR);
    if (c.xprtdata != NULL) {
        struct evbuffer *in = evbuffer_new();

        fuzz_server_read(&c, in, chunk); /* the end of file, or nothing new */
        evbuffer_free(in);
    }
    c.xprt->shutdown(&c);
    c.xprt->close(&c); /* closes sv[0] and frees the SSL */
    if (c.xprtdata != NULL)
        abort();
    SSL_free(cl);
    close(sv[1]);
    ERR_clear_error();
    return 0;
}
