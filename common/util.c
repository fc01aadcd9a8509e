/* util.c: small helpers shared by every program: numbers, secrets, paths, text. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse a plain decimal number in [min, max] (see util.h). */
int
util_parse_uint(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 20)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return -1;
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parse a NUL-terminated plain decimal number in [min, max]. */
int
util_parse_uint_str(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    return util_parse_uint(s, strlen(s), min, max, out);
}

/* Compare two secrets without an early exit on the first difference. */
int
util_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    volatile unsigned char diff = (unsigned char)(alen != blen);
    size_t i;

    /* Walk the whole of a whatever b holds, so time depends on alen only. */
    for (i = 0; i < alen; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)(blen ? b[i % blen] : 0);
    return diff == 0;
}

/* memset through a volatile pointer, so wiping a dead buffer is not optimized away. */
static void *(*const volatile util_memset)(void *, int, size_t) = memset;

/* Overwrite a secret with zeros. */
void
util_wipe(void *p, size_t len)
{
    util_memset(p, 0, len);
}

/* Join path onto the folder of base unless path is absolute. */
char *
util_path_relative(const char *base, const char *path)
{
    const char *slash = strrchr(base, '/');
    size_t dirlen, plen = strlen(path);
    char *out;

    if (path[0] == '/' || slash == NULL)
        return strdup(path);
    dirlen = (size_t)(slash - base) + 1;
    if ((out = malloc(dirlen + plen + 1)) == NULL)
        return NULL;
    memcpy(out, base, dirlen);
    memcpy(out + dirlen, path, plen + 1);
    return out;
}

/* The well-formed UTF-8 sequence at s[0..len) (see util.h). */
size_t
util_utf8_len(const char *src, size_t len, uint32_t *cp_out)
{
    const unsigned char *s = (const unsigned char *)src;
    uint32_t cp;
    size_t n, k;

    if (len == 0)
        return 0;
    if (s[0] < 0x80)
        n = 1, cp = s[0];
    else if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n > len)
        return 0;
    for (k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if (cp_out != NULL)
        *cp_out = cp;
    return n;
}

/*
 * Whether cp is an invisible character that changes how text around it
 * reads: zero-width ones and direction marks (U+200B to U+200F), line and
 * paragraph separators and bidi embeddings (U+2028 to U+202E), invisible
 * operators and bidi isolates (U+2060 to U+206F), the byte order mark, and
 * interlinear annotations (U+FFF9 to U+FFFB). A line showing one could be
 * split, or read in another order, than its bytes say.
 */
static int
util_invisible(uint32_t cp)
{
    return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
}

/*
 * How many bytes at s[0..len) form one character that may be shown as it
 * is: printable ASCII but the backslash, or a well-formed UTF-8 sequence
 * of a character from U+00A0 up (U+0080 to U+009F are the C1 controls: a
 * terminal obeys them) that is not invisible (util_invisible). 0: the byte
 * at s[0] must be escaped.
 */
static size_t
util_char_len(const unsigned char *s, size_t len)
{
    uint32_t cp;
    size_t n;

    if (s[0] < 0x80)
        return s[0] >= 0x20 && s[0] != 0x7f && s[0] != '\\' ? 1 : 0;
    n = util_utf8_len((const char *)s, len, &cp);
    return n != 0 && cp >= 0xa0 && !util_invisible(cp) ? n : 0;
}

/* Whether s[0..len) is well-formed UTF-8 (see util.h). */
int
util_utf8_ok(const char *s, size_t len)
{
    size_t i = 0, n;

    while (i < len) {
        if ((n = util_utf8_len(s + i, len - i, NULL)) == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* Copy untrusted bytes as printable text (see util.h). */
char *
util_escape(char *dst, size_t dstlen, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i, o = 0, total = 0, reserve, n;

    if (dstlen == 0)
        return dst;
    for (i = 0; i<len; i += n> 0 ? n : 1) {
        n = util_char_len(s + i, len - i);
        total += n > 0 ? n : 4;
    }
    /* Keep room for "..." and the NUL only when the whole text cannot fit. */
    reserve = total < dstlen ? 1 : 4;
    for (i = 0; i<len; i += n> 0 ? n : 1) {
        size_t need;

        n = util_char_len(s + i, len - i);
        need = n > 0 ? n : 4;
        if (o + need + reserve > dstlen) {
            if (o + 4 <= dstlen) {
                memcpy(dst + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (n == 0) {
            o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", s[i]);
        } else {
            memcpy(dst + o, s + i, n);
            o += n;
        }
    }
    dst[o] = '\0';
    return dst;
}

/* Whether every byte of the token is a visible character. */
int
util_token_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

/* Choose the folder that holds doctorN.conf and patientN.conf. */
const char *
util_config_dir(const char *opt)
{
    const char *env = getenv("HCS_CONFIG_DIR");

    if (opt != NULL)
        return opt;
    if (env != NULL && *env != '\0')
        return env;
    return HCS_DEFAULT_CONFIG_DIR;
}
