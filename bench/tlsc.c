/* tlsc.c: the client side of TLS for hcs-bench's TCP engine (--tls): OpenSSL on the
 * engine's non-blocking sockets; each connection keeps its last session to resume. */
#include "tlsc.h"
#include "tcp.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static SSL_CTX *tlsc_ctx;
static int tlsc_resume;

/*
 * A new session (TLS 1.3: a ticket after the handshake): the connection keeps
 * the newest for its next handshake (a TLS 1.3 ticket is used once).
 */
static int
tlsc_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct tcp_conn *c = SSL_get_app_data(ssl);

    if (c == NULL || !SSL_SESSION_is_resumable(sess))
        return 0;
    SSL_SESSION_free(c->tls_sess);
    c->tls_sess = sess;
    c->tls_newsess = 1;
    return 1; /* the connection keeps the reference */
}

/* Make the client context. */
int
tlsc_init(const struct bench_opts *o)
{
    tlsc_resume = o->tls_resume;
    if ((tlsc_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
        SSL_CTX_set_min_proto_version(tlsc_ctx, TLS1_2_VERSION) != 1) {
        fprintf(stderr, "hcs-bench: TLS: %s\n", tlsc_error());
        return -1;
    }
    SSL_CTX_set_verify(tlsc_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(tlsc_ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                   SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_session_cache_mode(tlsc_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(tlsc_ctx, tlsc_new_session_cb);
    return 0;
}

/* Free the context. */
void
tlsc_free(void)
{
    SSL_CTX_free(tlsc_ctx);
    tlsc_ctx = NULL;
}

/* Forget c's saved session. */
void
tlsc_forget(struct tcp_conn *c)
{
    SSL_SESSION_free(c->tls_sess);
    c->tls_sess = NULL;
}

/* Start the handshake. */
int
tlsc_start(struct tcp_conn *c)
{
    SSL *ssl;

    ERR_clear_error();
    if ((ssl = SSL_new(tlsc_ctx)) == NULL || SSL_set_fd(ssl, c->fd) != 1 ||
        SSL_set_tlsext_host_name(ssl, "localhost") != 1) {
        SSL_free(ssl);
        return -1;
    }
    SSL_set_app_data(ssl, c);
    if (tlsc_resume && c->tls_sess != NULL)
        SSL_set_session(ssl, c->tls_sess);
    c->tls_newsess = 0;
    SSL_set_connect_state(ssl);
    c->ssl = ssl;
    return 0;
}

/* The meaning of a call's rc <= 0: -1 with errno EAGAIN (and *wants_write) to wait. */
static int
tlsc_result(SSL *ssl, int rc, int *wants_write)
{
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        *wants_write = 0;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *wants_write = 1;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == EAGAIN)
            errno = ECONNRESET;
        return -1;
    default:
        errno = EPROTO;
        return -1;
    }
}

/* Go on with the handshake. */
int
tlsc_handshake(struct tcp_conn *c, int *wants_write)
{
    int rc;

    ERR_clear_error();
    if ((rc = SSL_do_handshake(c->ssl)) == 1)
        return 1;
    if (tlsc_result(c->ssl, rc, wants_write) == -1 && errno == EAGAIN)
        return 0;
    return -1;
}

/* Whether the handshake resumed a session. */
int
tlsc_resumed(const struct tcp_conn *c)
{
    return c->ssl != NULL && SSL_session_reused(c->ssl);
}

/* Read decrypted bytes. */
ssize_t
tlsc_read(struct tcp_conn *c, void *buf, size_t len)
{
    int rc, ww;

    ERR_clear_error();
    if ((rc = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len)) > 0)
        return rc;
    return tlsc_result(c->ssl, rc, &ww);
}

/* Write bytes. */
ssize_t
tlsc_write(struct tcp_conn *c, const void *buf, size_t len)
{
    int rc, ww;

    ERR_clear_error();
    if ((rc = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len)) > 0)
        return rc;
    if (tlsc_result(c->ssl, rc, &ww) == 0)
        errno = EPIPE;
    return -1;
}

/*
 * Free the SSL. It counts as shut down (no close_notify is sent: the socket
 * closes next), so OpenSSL keeps the session it came from resumable.
 */
void
tlsc_close(struct tcp_conn *c)
{
    SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c->ssl);
    c->ssl = NULL;
}

/* OpenSSL's reason for the last error. */
const char *
tlsc_error(void)
{
    static char buf[256];
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        return "no reason given";
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}
