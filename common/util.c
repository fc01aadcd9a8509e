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

/* Make untrusted bytes safe to print (see util.h). */
char *
util_escape(char *dst, size_t dstlen, const char *src, size_t len)
{
    size_t i, o = 0, total = 0, reserve;

    if (dstlen == 0)
        return dst;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        total += (c < 0x20 || c == 0x7f || c == '\\') ? 4 : 1;
    }
    /* Keep room for "..." and the NUL only when the whole text cannot fit. */
    reserve = total < dstlen ? 1 : 4;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        size_t need = (c < 0x20 || c == 0x7f || c == '\\') ? 4 : 1;

        if (o + need + reserve > dstlen) {
            if (o + 4 <= dstlen) {
                memcpy(dst + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (need == 4)
            o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
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
    return "config";
}
