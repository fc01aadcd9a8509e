/* desk_json.c: the reception desk's JSON: the schedule written out, a new slot read in. */
#include "desk_json.h"
#include "center.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

/* Append a JSON string. */
int
desk_json_str(struct evbuffer *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run, n;
    int rc = evbuffer_add(out, "\"", 1);

    while (i < len && rc == 0) {
        /* A run of bytes that need nothing. */
        for (run = i;
             run < len && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\'; run++)
            continue;
        if (run > i) {
            rc = evbuffer_add(out, s + i, run - i);
            i = run;
            continue;
        }
        if (s[i] == '"' || s[i] == '\\') {
            rc = evbuffer_add_printf(out, "\\%c", s[i]) < 0 ? -1 : 0;
            i++;
        } else if (s[i] >= 0x80 && (n = util_utf8_len(str + i, len - i, NULL)) != 0) {
            rc = evbuffer_add(out, s + i, n);
            i += n;
        } else {
            rc = evbuffer_add_printf(out, "\\u%04x", s[i]) < 0 ? -1 : 0;
            i++;
        }
    }
    return rc == 0 ? evbuffer_add(out, "\"", 1) : -1;
}

/* Append one slot object. */
int
desk_json_slot(struct evbuffer *out, const struct center *c, const struct slot *slot)
{
    const struct sched_doctor *doc = schedule_doctor(&c->sched, slot);
    const struct user *u = slot->holder != SCHEDULE_FREE ? &c->users.v[slot->holder] : NULL;

    if (evbuffer_add_printf(out, "{\"index\":%u,\"day\":", slot->index) < 0 ||
        desk_json_str(out, slot->day, strlen(slot->day)) == -1 ||
        evbuffer_add(out, ",\"time\":", 8) == -1 ||
        desk_json_str(out, slot->time, strlen(slot->time)) == -1 ||
        evbuffer_add(out, ",\"doctor\":", 10) == -1 ||
        desk_json_str(out, doc->name, strlen(doc->name)) == -1 ||
        evbuffer_add_printf(out, ",\"port\":%u,\"retired\":%s,\"user\":", doc->port,
                            slot->retired ? "true" : "false") < 0)
        return -1;
    if (u == NULL)
        return evbuffer_add(out, "null}", 5);
    if (desk_json_str(out, u->name, u->namelen) == -1)
        return -1;
    return evbuffer_add(out, "}", 1);
}

/* Append the whole schedule. */
int
desk_json_schedule(struct evbuffer *out, const struct center *c)
{
    size_t i;
    int first = 1;

    if (evbuffer_add(out, "{\"slots\":[", 10) == -1)
        return -1;
    for (i = 0; i < c->sched.n; i++) {
        const struct slot *sl = &c->sched.slots[i];

        if (sl->retired && sl->holder == SCHEDULE_FREE)
            continue; /* a retired booking that ended: gone */
        if ((first == 0 && evbuffer_add(out, ",", 1) == -1) || desk_json_slot(out, c, sl) == -1)
            return -1;
        first = 0;
    }
    return evbuffer_add(out, "]}\n", 3);
}

/* A reader of one JSON text. */
struct desk_json_in {
    const char *p, *end;
};

/* Skip JSON whitespace. */
static void
desk_json_ws(struct desk_json_in *in)
{
    while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
        in->p++;
}

/* Take one byte if it is ch. */
static int
desk_json_take(struct desk_json_in *in, char ch)
{
    desk_json_ws(in);
    if (in->p < in->end && *in->p == ch) {
        in->p++;
        return 1;
    }
    return 0;
}

/* The value of one hex digit, or -1. */
static int
desk_json_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Read a string into dst (size cap, NUL-terminated) as UTF-8. 0, or -1 if malformed or long. */
static int
desk_json_string(struct desk_json_in *in, char *dst, size_t cap)
{
    size_t n = 0;

    if (!desk_json_take(in, '"'))
        return -1;
    while (in->p < in->end && *in->p != '"') {
        unsigned char ch = (unsigned char)*in->p++;
        char enc[4];
        size_t k, elen = 1;

        enc[0] = (char)ch;
        if (ch < 0x20)
            return -1;
        if (ch == '\\') {
            unsigned cp = 0;
            int i, d;

            if (in->p >= in->end)
                return -1;
            switch (*in->p++) {
            case '"':
                enc[0] = '"';
                break;
            case '\\':
                enc[0] = '\\';
                break;
            case '/':
                enc[0] = '/';
                break;
            case 'b':
                enc[0] = '\b';
                break;
            case 'f':
                enc[0] = '\f';
                break;
            case 'n':
                enc[0] = '\n';
                break;
            case 'r':
                enc[0] = '\r';
                break;
            case 't':
                enc[0] = '\t';
                break;
            case 'u':
                if (in->end - in->p < 4)
                    return -1;
                for (i = 0; i < 4; i++) {
                    if ((d = desk_json_hex(*in->p++)) == -1)
                        return -1;
                    cp = cp << 4 | (unsigned)d;
                }
                if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
                    return -1; /* no surrogate pairs (nothing here needs them), no NUL */
                if (cp < 0x80) {
                    enc[0] = (char)cp;
                } else if (cp < 0x800) {
                    enc[0] = (char)(0xc0 | cp >> 6);
                    enc[1] = (char)(0x80 | (cp & 0x3f));
                    elen = 2;
                } else {
                    enc[0] = (char)(0xe0 | cp >> 12);
                    enc[1] = (char)(0x80 | (cp >> 6 & 0x3f));
                    enc[2] = (char)(0x80 | (cp & 0x3f));
                    elen = 3;
                }
                break;
            default:
                return -1;
            }
        }
        if (n + elen >= cap)
            return -1;
        for (k = 0; k < elen; k++)
            dst[n++] = enc[k];
    }
    if (in->p >= in->end)
        return -1;
    in->p++;
    dst[n] = '\0';
    return util_utf8_ok(dst, n) ? 0 : -1;
}

/* Read a whole number in [min, max]. 0, or -1. */
static int
desk_json_uint(struct desk_json_in *in, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *start;

    desk_json_ws(in);
    start = in->p;
    while (in->p < in->end && *in->p >= '0' && *in->p <= '9')
        in->p++;
    if (in->p == start || (in->p - start > 1 && *start == '0'))
        return -1;
    return util_parse_uint(start, (size_t)(in->p - start), min, max, out);
}

/* Read the body of POST /api/slots. */
int
desk_json_parse_slot(const char *body, size_t len, struct desk_slot *out, char *err, size_t errlen)
{
    static const char *const keys[] = {"index", "day", "time", "doctor", "port"};
    struct desk_json_in in = {body, body + len};
    unsigned seen = 0;
    char key[16];
    uint64_t v;
    size_t k;
    char *field;
    size_t cap;

    memset(out, 0, sizeof *out);
    if (!desk_json_take(&in, '{')) {
        snprintf(err, errlen, "expected a JSON object");
        return -1;
    }
    if (!desk_json_take(&in, '}')) {
        do {
            if (desk_json_string(&in, key, sizeof key) == -1 || !desk_json_take(&in, ':')) {
                snprintf(err, errlen, "expected \"key\": value");
                return -1;
            }
            for (k = 0; k < 5 && strcmp(key, keys[k]) != 0; k++)
                continue;
            if (k == 5) {
                snprintf(err, errlen, "unknown key (expected index, day, time, doctor, port)");
                return -1;
            }
            if (seen & 1u << k) {
                snprintf(err, errlen, "%s given twice", keys[k]);
                return -1;
            }
            seen |= 1u << k;
            if (k == 0 || k == 4) {
                if (desk_json_uint(&in, 1, k == 0 ? PROTO_MAXINDEX : 65535, &v) == -1) {
                    snprintf(err, errlen, "%s must be a whole number from 1 to %u", keys[k],
                             k == 0 ? PROTO_MAXINDEX : 65535u);
                    return -1;
                }
                if (k == 0)
                    out->index = (uint32_t)v;
                else
                    out->port = (unsigned)v;
                continue;
            }
            field = k == 1 ? out->day : k == 2 ? out->time : out->doctor;
            cap = k == 3 ? sizeof out->doctor : sizeof out->day;
            if (desk_json_string(&in, field, cap) == -1 || !util_token_ok(field, strlen(field))) {
                snprintf(err, errlen,
                         "%s must be one word of at most %zu bytes of UTF-8, no "
                         "spaces or control characters",
                         keys[k], cap - 1);
                return -1;
            }
        } while (desk_json_take(&in, ','));
        if (!desk_json_take(&in, '}')) {
            snprintf(err, errlen, "expected , or } in the object");
            return -1;
        }
    }
    desk_json_ws(&in);
    if (in.p != in.end) {
        snprintf(err, errlen, "bytes after the object");
        return -1;
    }
    for (k = 0; k < 5; k++)
        if (!(seen & 1u << k)) {
            snprintf(err, errlen, "%s is missing", keys[k]);
            return -1;
        }
    return 0;
}

/* The index at the end of a path. */
int
desk_path_index(const char *path, const char *prefix, uint32_t *index)
{
    size_t n = strlen(prefix);
    uint64_t v;

    if (strncmp(path, prefix, n) != 0 ||
        util_parse_uint(path + n, strlen(path + n), 1, PROTO_MAXINDEX, &v) == -1)
        return -1;
    *index = (uint32_t)v;
    return 0;
}
