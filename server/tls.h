/* tls.h: the center's TLS context: certificate, key, protocol settings, reload. */
#ifndef HCS_TLS_H
#define HCS_TLS_H

#include <stddef.h>

struct center;
struct center_config;
struct ssl_ctx_st;

/*
 * Refuse a private key that group or others may read, or that cannot be
 * looked at: -1 with err "center.conf:N: tls_key <path> ...".
 */
int tls_check_key(const struct center_config *cfg, char *err, size_t errlen);
/*
 * A server context for cfg's tls_cert and tls_key (and tls_ca: client
 * certificates are then required and verified): TLS 1.2 and 1.3 only, no
 * renegotiation, ECDHE with AEAD ciphers, session tickets, buffers
 * released while idle. NULL with err saying why (OpenSSL's reason).
 */
struct ssl_ctx_st *tls_ctx_new(const struct center_config *cfg, char *err, size_t errlen);
/* Drop a reference to a context (the connections using it keep theirs). */
void tls_ctx_free(struct ssl_ctx_st *ctx);
/* One line about ctx's certificate: its subject, serial and end of validity. */
void tls_describe(struct ssl_ctx_st *ctx, char *buf, size_t len);
/*
 * SIGHUP: load the certificate and key again into a new context for new
 * connections (the patients' port and the desk); existing connections
 * keep the context they started with. Resumption tickets stay valid. On
 * an error the old context stays and err says why. Nothing to do (0)
 * without TLS.
 */
int tls_reload(struct center *c, char *err, size_t errlen);
/* OpenSSL's reason for the last error on this thread, for one log line. */
const char *tls_last_error(void);

#endif
