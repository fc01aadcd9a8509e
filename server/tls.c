/* tls.c: the center's TLS context: certificate, key, protocol settings, reload. */
#include "tls.h"
#include "center.h"
#include "config.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only. TLS 1.3's are all AEAD. */
#define TLS_CIPHERS_12                                                                             \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* TLS 1.3: AES-128-GCM first (the cheapest with AES-NI), all AEAD. */
#define TLS_CIPHERS_13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_SESSION_CONTEXT "hcs" /* ties resumed sessions (and client certificates) to hcs */
#define TLS_TICKET_KEYS 80        /* OpenSSL 3: name, HMAC and AES keys of the session tickets */

/* OpenSSL's reason for the last error on this thread. */
const char *
tls_last_error(void)
{
    static char buf[256];
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        return "no reason given";
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

/* Refuse a key file others may read. */
int
tls_check_key(const struct center_config *cfg, char *err, size_t errlen)
{
    struct stat st;

    if (cfg->tls_key == NULL)
        return 0;
    if (stat(cfg->tls_key, &st) == -1) {
        snprintf(err, errlen, "%s:%d: tls_key %s: %s", cfg->path, cfg->tls_key_line, cfg->tls_key,
                 strerror(errno));
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errlen, "%s:%d: tls_key %s is readable by others (mode %03o): chmod 600 it",
                 cfg->path, cfg->tls_key_line, cfg->tls_key, (unsigned)(st.st_mode & 0777));
        return -1;
    }
    return 0;
}

/* Build the server context. */
struct ssl_ctx_st *
tls_ctx_new(const struct center_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx;
    STACK_OF(X509_NAME) * names;

    ERR_clear_error();
    if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
        snprintf(err, errlen, "TLS: cannot create a context: %s", tls_last_error());
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, TLS_CIPHERS_13) != 1 ||
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)TLS_SESSION_CONTEXT,
                                       sizeof TLS_SESSION_CONTEXT - 1) != 1 ||
        SSL_CTX_set_num_tickets(ctx, 1) != 1) {
        snprintf(err, errlen, "TLS: cannot set the protocol: %s", tls_last_error());
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_ENABLE_PARTIAL_WRITE);
    /* One read() per request, not one for the record's header and one for its body. */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* Tickets resume sessions: the server keeps no session cache of its own. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        snprintf(err, errlen, "%s: tls_cert %s: %s", cfg->path, cfg->tls_cert, tls_last_error());
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        snprintf(err, errlen, "%s: tls_key %s: %s", cfg->path, cfg->tls_key, tls_last_error());
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "%s: tls_key %s does not match tls_cert %s", cfg->path, cfg->tls_key,
                 cfg->tls_cert);
        goto fail;
    }
    if (cfg->tls_ca != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1 ||
            (names = SSL_load_client_CA_file(cfg->tls_ca)) == NULL) {
            snprintf(err, errlen, "%s: tls_ca %s: %s", cfg->path, cfg->tls_ca, tls_last_error());
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    ERR_clear_error();
    return ctx;
fail:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return NULL;
}

/* Drop a reference. */
void
tls_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

/* Subject, serial and end of validity of the context's certificate. */
void
tls_describe(struct ssl_ctx_st *ctx, char *buf, size_t len)
{
    X509 *x = ctx != NULL ? SSL_CTX_get0_certificate(ctx) : NULL;
    char subject[256], serial[128] = "?", until[64] = "?";
    ASN1_INTEGER *sn;
    BIGNUM *bn;
    char *hex;
    BIO *b;
    int n;

    if (x == NULL) {
        snprintf(buf, len, "no certificate");
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
    if ((sn = X509_get_serialNumber(x)) != NULL && (bn = ASN1_INTEGER_to_BN(sn, NULL)) != NULL) {
        if ((hex = BN_bn2hex(bn)) != NULL) {
            snprintf(serial, sizeof serial, "%s", hex);
            OPENSSL_free(hex);
        }
        BN_free(bn);
    }
    if ((b = BIO_new(BIO_s_mem())) != NULL) {
        if (ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1 &&
            (n = BIO_read(b, until, sizeof until - 1)) > 0)
            until[n] = '\0';
        BIO_free(b);
    }
    snprintf(buf, len, "%s, serial %s, valid until %s", subject, serial, until);
    ERR_clear_error();
}

/* Load the certificate again for new connections. */
int
tls_reload(struct center *c, char *err, size_t errlen)
{
    unsigned char keys[TLS_TICKET_KEYS];
    SSL_CTX *ctx;
    char what[512];

    if (c->tls == NULL)
        return 0;
    if (tls_check_key(&c->cfg, err, errlen) == -1 ||
        (ctx = tls_ctx_new(&c->cfg, err, errlen)) == NULL)
        return -1;
    /* The same ticket keys: a patient's saved session still resumes. */
    if (SSL_CTX_get_tlsext_ticket_keys(c->tls, keys, sizeof keys) == 1)
        SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof keys);
    OPENSSL_cleanse(keys, sizeof keys);
    ERR_clear_error();
    SSL_CTX_free(c->tls);
    c->tls = ctx;
    tls_describe(ctx, what, sizeof what);
    log_info("reload: TLS certificate %s", what);
    return 0;
}
