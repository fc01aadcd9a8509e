/* transport_tls.c: a connection's bytes through TLS (OpenSSL) on its socket, memcached-shaped. */
#include "center.h"
#include "conn.h"
#include "log.h"
#include "tls.h"
#include "transport.h"

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define TLS_WRITE_MAX 16384 /* bytes of one SSL_write: one full record */

/* Refused handshakes and TLS errors: one info line a second at most, with a count. */
static int64_t transport_tls_logsec;
static unsigned long transport_tls_unlogged;

/* Log why a connection's TLS failed, without flooding the log. */
static void
transport_tls_log(struct conn *c, const char *what)
{
    int64_t now = center_now(c->center);
    const char *why = tls_last_error();

    if (now == transport_tls_logsec) {
        log_debug("%s:%u: TLS %s: %s", conn_host(c), c->port, what, why);
        transport_tls_unlogged++;
        return;
    }
    if (transport_tls_unlogged > 0)
        log_info("%s:%u: TLS %s: %s (and %lu more TLS errors in the second before)", conn_host(c),
                 c->port, what, why, transport_tls_unlogged);
    else
        log_info("%s:%u: TLS %s: %s", conn_host(c), c->port, what, why);
    transport_tls_logsec = now;
    transport_tls_unlogged = 0;
}

/*
 * What a call that returned rc <= 0 means: -1 with errno EAGAIN and *want
 * set when it must wait, 0 at a clean end, -1 with another errno on an error.
 */
static int
transport_tls_result(struct conn *c, SSL *ssl, int rc, short *want, const char *what)
{
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        *want = EV_READ;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *want = EV_WRITE;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == EAGAIN)
            errno = ECONNRESET;
        return -1;
    default:
        transport_tls_log(c, what);
        errno = EPROTO;
        return -1;
    }
}

/* The connection's SSL, made from the center's current context on first use. */
static SSL *
transport_tls_ssl(struct conn *c)
{
    SSL *ssl = c->xprtdata;

    if (ssl != NULL || c->center->tls == NULL)
        return ssl;
    ERR_clear_error();
    if ((ssl = SSL_new(c->center->tls)) == NULL || SSL_set_fd(ssl, c->fd) != 1) {
        transport_tls_log(c, "setup");
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    c->xprtdata = ssl;
    return ssl;
}

/* Go on with the server's handshake. */
static int
transport_tls_handshake(struct conn *c, short *want)
{
    SSL *ssl = transport_tls_ssl(c);
    int rc;

    if (ssl == NULL)
        return -1;
    ERR_clear_error();
    errno = 0; /* SSL_ERROR_SYSCALL reads errno: none may be left from before */
    if ((rc = SSL_do_handshake(ssl)) == 1) {
        log_debug("%s:%u: TLS %s %s%s", conn_host(c), c->port, SSL_get_version(ssl),
                  SSL_get_cipher_name(ssl), SSL_session_reused(ssl) ? ", resumed" : "");
        return 1;
    }
    if (transport_tls_result(c, ssl, rc, want, "handshake refused") == -1 && errno == EAGAIN)
        return 0;
    return -1;
}

/* Read decrypted bytes. */
static ssize_t
transport_tls_read(struct conn *c, void *buf, size_t len, short *want)
{
    SSL *ssl = transport_tls_ssl(c);
    int rc;

    if (ssl == NULL) {
        errno = EPROTO;
        return -1;
    }
    if (len > INT32_MAX)
        len = INT32_MAX;
    ERR_clear_error();
    errno = 0;
    if ((rc = SSL_read(ssl, buf, (int)len)) > 0)
        return rc;
    return transport_tls_result(c, ssl, rc, want, "read");
}

/*
 * Write queued output as records of up to TLS_WRITE_MAX bytes, draining what
 * was written. A write that must wait is repeated with at least the same
 * bytes at the buffer's front, wherever they are now (moving buffer mode).
 */
static ssize_t
transport_tls_write(struct conn *c, struct evbuffer *out, short *want)
{
    SSL *ssl = transport_tls_ssl(c);
    ssize_t total = 0;
    size_t len;
    int rc;

    if (ssl == NULL) {
        errno = EPROTO;
        return -1;
    }
    while ((len = evbuffer_get_length(out)) > 0) {
        unsigned char *p;

        if (len > TLS_WRITE_MAX)
            len = TLS_WRITE_MAX;
        if ((p = evbuffer_pullup(out, (ssize_t)len)) == NULL) {
            errno = ENOMEM;
            return -1;
        }
        ERR_clear_error();
        errno = 0;
        if ((rc = SSL_write(ssl, p, (int)len)) <= 0) {
            if (transport_tls_result(c, ssl, rc, want, "write") == 0)
                errno = EPIPE;
            return total > 0 && errno == EAGAIN ? total : -1;
        }
        evbuffer_drain(out, (size_t)rc);
        total += rc;
    }
    return total;
}

/*
 * Bytes OpenSSL holds, to read before waiting on the socket: decrypted ones
 * (SSL_pending), or at least one when it has read bytes ahead that it has
 * not decrypted yet (SSL_has_pending: a next record, or part of one, when
 * the read then waits).
 */
static size_t
transport_tls_pending(struct conn *c)
{
    SSL *ssl = c->xprtdata;
    int n;

    if (ssl == NULL)
        return 0;
    if ((n = SSL_pending(ssl)) > 0)
        return (size_t)n;
    return SSL_has_pending(ssl) ? 1 : 0;
}

/* Send close_notify (once, not waiting for the peer's), then shut our side. */
static void
transport_tls_shutdown(struct conn *c)
{
    SSL *ssl = c->xprtdata;

    if (ssl != NULL && SSL_is_init_finished(ssl)) {
        ERR_clear_error();
        SSL_shutdown(ssl);
        ERR_clear_error();
    }
    shutdown(c->fd, SHUT_WR);
}

/* Free the SSL (its context reference with it) and close the socket. */
static void
transport_tls_close(struct conn *c)
{
    SSL_free(c->xprtdata);
    c->xprtdata = NULL;
    close(c->fd);
}

const struct transport_ops transport_tls_ops = {
    .name = "tls",
    .handshake = transport_tls_handshake,
    .read = transport_tls_read,
    .write = transport_tls_write,
    .pending = transport_tls_pending,
    .shutdown = transport_tls_shutdown,
    .close = transport_tls_close,
};
