/* util.h: small helpers shared by every program: numbers, secrets, paths, text. */
#ifndef HCS_UTIL_H
#define HCS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a plain decimal number of len bytes: digits only (no sign, space or
 * junk), no overflow, value within [min, max]. Returns 0 or -1.
 */
int util_parse_uint(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out);

/* Same as util_parse_uint for a NUL-terminated string. */
int util_parse_uint_str(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Compare two secrets in time that depends only on their lengths. 1 if equal. */
int util_secret_equal(const char *a, size_t alen, const char *b, size_t blen);

/* Overwrite a secret with zeros in a way the compiler may not drop. */
void util_wipe(void *p, size_t len);

/*
 * Resolve path relative to the folder of base (a config file). Absolute paths
 * are kept. Returns a new string, or NULL on allocation failure.
 */
char *util_path_relative(const char *base, const char *path);

/*
 * Copy len untrusted bytes into dst (size dstlen) as text a terminal shows
 * and does not obey: printable ASCII and well-formed UTF-8 characters from
 * U+00A0 up are kept whole; every other byte (controls, DEL, backslash, C1
 * controls, bytes of malformed UTF-8, and of invisible characters that
 * change how a line reads: separators, bidi controls, zero-width ones)
 * becomes \xNN. The result is cut with
 * "..." (never inside a character) if it does not fit. Returns dst.
 */
char *util_escape(char *dst, size_t dstlen, const char *src, size_t len);

/*
 * The length (1 to 4) of the well-formed UTF-8 sequence at s[0..len) (no
 * overlong form, no surrogate, at most U+10FFFF), its code point in *cp
 * (if not NULL); 0 when s[0] does not start one.
 */
size_t util_utf8_len(const char *s, size_t len, uint32_t *cp);
/* Whether s[0..len) is well-formed UTF-8 (no overlong form, no surrogate, at most U+10FFFF). */
int util_utf8_ok(const char *s, size_t len);

/* Whether a token contains only bytes above 0x20 other than DEL. */
int util_token_ok(const char *s, size_t len);

/* The folder of the configuration files when nothing names one: "config" (under the current
 * folder) in a build for development, /etc/hcs in a build for the system prefix (CMake's
 * HCS_DEFAULT_CONFIG_DIR). */
#ifndef HCS_DEFAULT_CONFIG_DIR
#define HCS_DEFAULT_CONFIG_DIR "config"
#endif

/* Default folder for --id: --config-dir, else $HCS_CONFIG_DIR, else HCS_DEFAULT_CONFIG_DIR. */
const char *util_config_dir(const char *opt);

#endif
