/* config.c: the INI configuration of hcs, doctor and patient (read with inih). */
#include "config.h"
#include "net.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include <ini.h>

/* STR: text; PATH: relative to the config file; OPTPATH: a PATH, or "none"
 * for no file; UINT: a number in [min, max]; CHOICE: one of the words of
 * choices, stored as its position. */
enum config_type { CONFIG_STR, CONFIG_PATH, CONFIG_OPTPATH, CONFIG_UINT, CONFIG_CHOICE };

/* One key a section accepts, where it goes, and its range. */
struct config_key {
    const char *name;
    enum config_type type;
    size_t offset;
    unsigned min, max;
    const char *choices; /* CONFIG_CHOICE: words separated by single spaces */
    const char *section; /* the section it is in; NULL: the file's own ([center], ...) */
};

#define CONFIG_MAXERRS 32 /* errors kept per file; more are only counted */
#define CONFIG_MAXKEYS 32 /* keys in one file's table */

/* One error found in a file: its line (0: the file as a whole) and what is wrong. */
struct config_err {
    int line;
    char msg[240];
};

/* What the inih callbacks need: the file, the section, its keys, and every error found. */
struct config_ctx {
    const char *path;
    const char *section;
    const struct config_key *keys;
    void *dst;
    FILE *fp;
    int line;         /* line last handed to inih (one whole line per read) */
    int pending;      /* a key line inih has not yet handed to the handler, or 0 */
    int readerr;      /* errno of a read error, or 0 */
    int lastline;     /* line of the last error recorded, or 0 */
    int badsect;      /* a section other than ours was reported (name in sectname) */
    char cursect[64]; /* the section the lines read are in (as config_classify saw it) */
    char sectname[64];
    int keyline[CONFIG_MAXKEYS];          /* line where each key was first given, 0: not given */
    unsigned char keybad[CONFIG_MAXKEYS]; /* the key's value was refused */
    struct config_err errs[CONFIG_MAXERRS];
    size_t nerrs; /* errors kept in errs */
    size_t nmore; /* errors found past CONFIG_MAXERRS */
};

#define CFG_STR(s, f)                                                                              \
    {                                                                                              \
#f, CONFIG_STR, offsetof(struct s, f), 0, 0, NULL, NULL                                    \
    }
#define CFG_PATH(s, f)                                                                             \
    {                                                                                              \
#f, CONFIG_PATH, offsetof(struct s, f), 0, 0, NULL, NULL                                   \
    }
#define CFG_OPTPATH(s, f)                                                                          \
    {                                                                                              \
#f, CONFIG_OPTPATH, offsetof(struct s, f), 0, 0, NULL, NULL                                \
    }
#define CFG_UINT(s, f, lo, hi)                                                                     \
    {                                                                                              \
#f, CONFIG_UINT, offsetof(struct s, f), lo, hi, NULL, NULL                                 \
    }
#define CFG_CHOICE(s, f, words)                                                                    \
    {                                                                                              \
#f, CONFIG_CHOICE, offsetof(struct s, f), 0, 0, words, NULL                                \
    }

/* A key of another section of the file: [section] name, into field f. */
#define CFG_IN(sect, name, type, s, f, lo, hi)                                                     \
    {                                                                                              \
        name, type, offsetof(struct s, f), lo, hi, NULL, sect                                      \
    }

static const struct config_key config_center_keys[] = {
    CFG_STR(center_config, listen),
    CFG_UINT(center_config, port, 0, 65535),
    CFG_PATH(center_config, users),
    CFG_PATH(center_config, availabilities),
    CFG_UINT(center_config, max_clients, 1, 1000000),
    CFG_UINT(center_config, max_line, 64, 65536),
    CFG_UINT(center_config, idle_timeout, 1, 86400),
    CFG_UINT(center_config, auth_timeout, 1, 86400),
    CFG_UINT(center_config, max_output, 4096, 1u << 30),
    CFG_CHOICE(center_config, store, "memory sqlite postgresql"),
    CFG_STR(center_config, dsn),
    CFG_OPTPATH(center_config, state),
    CFG_CHOICE(center_config, durability, "normal full"),
    CFG_UINT(center_config, ipv6_prefix, 1, 128),
    CFG_UINT(center_config, max_clients_per_address, 1, 1000000),
    CFG_UINT(center_config, max_checks_per_address, 1, 4096),
    CFG_UINT(center_config, max_login_failures, 1, 1000000),
    CFG_UINT(center_config, max_user_failures, 1, 1000000),
    CFG_IN("desk", "listen", CONFIG_STR, center_config, desk_listen, 0, 0),
    CFG_IN("desk", "port", CONFIG_UINT, center_config, desk_port, 0, 65535),
    CFG_IN("desk", "staff", CONFIG_PATH, center_config, desk_staff, 0, 0),
    CFG_IN("desk", "max_streams", CONFIG_UINT, center_config, desk_max_streams, 1, 100000),
    CFG_PATH(center_config, tls_cert),
    CFG_PATH(center_config, tls_key),
    CFG_PATH(center_config, tls_ca),
    CFG_UINT(center_config, tls_handshake_timeout, 1, 86400),
    {NULL, CONFIG_STR, 0, 0, 0, NULL, NULL},
};

static const struct config_key config_doctor_keys[] = {
    CFG_UINT(doctor_config, id, 1, 1000000), CFG_STR(doctor_config, name),
    CFG_STR(doctor_config, listen),          CFG_UINT(doctor_config, port, 0, 65535),
    CFG_PATH(doctor_config, prices),         {NULL, CONFIG_STR, 0, 0, 0, NULL, NULL},
};

static const struct config_key config_patient_keys[] = {
    CFG_UINT(patient_config, id, 1, 1000000),
    CFG_STR(patient_config, center_host),
    CFG_UINT(patient_config, center_port, 1, 65535),
    CFG_STR(patient_config, doctor_host),
    CFG_PATH(patient_config, credentials),
    CFG_PATH(patient_config, insurance),
    CFG_UINT(patient_config, timeout_ms, 1, 3600000),
    CFG_UINT(patient_config, udp_retries, 0, 100),
    CFG_CHOICE(patient_config, tls, "no yes"),
    CFG_PATH(patient_config, tls_ca),
    CFG_STR(patient_config, tls_name),
    CFG_PATH(patient_config, tls_session),
    {NULL, CONFIG_STR, 0, 0, 0, NULL, NULL},
};

#define CONFIG_NKEYS(t) (sizeof(t) / sizeof(t)[0] - 1)
_Static_assert(CONFIG_NKEYS(config_center_keys) <= CONFIG_MAXKEYS, "raise CONFIG_MAXKEYS");
_Static_assert(CONFIG_NKEYS(config_doctor_keys) <= CONFIG_MAXKEYS, "raise CONFIG_MAXKEYS");
_Static_assert(CONFIG_NKEYS(config_patient_keys) <= CONFIG_MAXKEYS, "raise CONFIG_MAXKEYS");

/* Whether the loaders look up listen names (config_set_resolve). */
static int config_resolve = 1;

/* Record an error on a line (0: the whole file). */
static void __attribute__((format(printf, 3, 4)))
config_error(struct config_ctx *ctx, int line, const char *fmt, ...)
{
    struct config_err *e;
    va_list ap;

    /* One error per line: the first found there says what is wrong. */
    if (line > 0 && line == ctx->lastline)
        return;
    if (line > 0)
        ctx->lastline = line;
    if (ctx->nerrs == CONFIG_MAXERRS) {
        ctx->nmore++;
        return;
    }
    e = &ctx->errs[ctx->nerrs++];
    e->line = line;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

/* Whether an error is already recorded on line. */
static int
config_has_error(const struct config_ctx *ctx, int line)
{
    size_t i;

    for (i = 0; i < ctx->nerrs; i++)
        if (ctx->errs[i].line == line)
            return 1;
    return 0;
}

/* A key line inih never handed to the handler was malformed (no '=' or ':'). */
static void
config_check_pending(struct config_ctx *ctx)
{
    if (ctx->pending != 0)
        config_error(ctx, ctx->pending, "malformed line (expected key = value or [section])");
    ctx->pending = 0;
}

/*
 * Sort out one whole line before inih sees it, the way inih will read it:
 * blank or comment, "[section]", or a key line that must reach the handler.
 * A line that starts with whitespace would continue the value above in
 * inih's multi-line mode (compiled into Debian's libinih): refuse it, and
 * hand over the line without its indent so that the rest of the file reads
 * as meant. Returns 0 to hand the line over, or -1 when it was refused.
 */
static int
config_classify(struct config_ctx *ctx, char *str)
{
    char *base = str, *p;
    int space = 0;

    if (ctx->line == 1 && memcmp(base, "\xEF\xBB\xBF", 3) == 0)
        base += 3; /* inih skips a UTF-8 byte order mark */
    for (p = base; isspace((unsigned char)*p); p++)
        continue;
    if (*p == '\0' || *p == ';' || *p == '#')
        return 0;
    if (p != base) {
        config_error(ctx, ctx->line,
                     "indented line: a value cannot go on over several lines (remove the "
                     "leading whitespace)");
        memmove(str, p, strlen(p) + 1);
        p = str;
    }
    if (*p != '[') {
        ctx->pending = ctx->line;
        return 0;
    }
    /* As inih: the section ends at ']', unless an inline comment (" ;") comes first. */
    for (p++; *p != '\0' && *p != ']' && !(*p == ';' && space); p++)
        space = isspace((unsigned char)*p);
    if (*p != ']') {
        config_error(ctx, ctx->line, "malformed line (expected key = value or [section])");
        return -1;
    }
    {
        const char *name = strchr(str, '[') + 1;
        size_t n = (size_t)(p - name);

        while (n > 0 && isspace((unsigned char)*name))
            name++, n--;
        while (n > 0 && isspace((unsigned char)name[n - 1]))
            n--;
        snprintf(ctx->cursect, sizeof ctx->cursect, "%.*s", (int)n, name);
    }
    return 0;
}

/* A line refused whole (too long, a NUL byte) still gives its key, if it names one. */
static void
config_note_key(struct config_ctx *ctx, const char *str)
{
    const struct config_key *k;
    size_t start, len;

    start = strspn(str, " \t\v\f\r\n");
    len = strcspn(str + start, "=:");
    if (str[start + len] == '\0')
        return;
    while (len > 0 && isspace((unsigned char)str[start + len - 1]))
        len--;
    for (k = ctx->keys; k->name != NULL; k++)
        if (strlen(k->name) == len && memcmp(k->name, str + start, len) == 0 &&
            strcmp(k->section != NULL ? k->section : ctx->section, ctx->cursect) == 0) {
            size_t i = (size_t)(k - ctx->keys);
            if (ctx->keyline[i] == 0)
                ctx->keyline[i] = ctx->line;
            ctx->keybad[i] = 1;
        }
}

/*
 * inih reader: hand over one whole line per call, so ctx->line is the line
 * inih is on. A line refused here (too long for inih's buffer, a NUL byte,
 * a broken section) is recorded and handed over as an empty line, an
 * indented one without its indent, so inih reads on and every error of the
 * file is found. inih would cut a line longer than its buffer and parse the
 * rest as a line of its own.
 */
static char *
config_read(char *str, int num, void *stream)
{
    struct config_ctx *ctx = stream;
    int c = EOF, n = 0, refused = 0;

    config_check_pending(ctx);
    if (num < 2)
        return NULL;
    while (n < num - 1 && (c = getc(ctx->fp)) != EOF) {
        str[n++] = (char)c;
        if (c == '\n')
            break;
    }
    str[n] = '\0';
    if (c == EOF && ferror(ctx->fp)) {
        ctx->readerr = errno;
        return NULL;
    }
    if (n == 0)
        return NULL;
    ctx->line++;
    if (memchr(str, '\0', (size_t)n) != NULL) {
        config_error(ctx, ctx->line, "NUL byte in line");
        refused = 1;
    }
    if (str[n - 1] != '\n' && n == num - 1 && (c = getc(ctx->fp)) != EOF) {
        while (c != '\n' && c != EOF)
            c = getc(ctx->fp);
        if (ferror(ctx->fp)) {
            ctx->readerr = errno;
            return NULL;
        }
        config_error(ctx, ctx->line, "line too long (over %d bytes)", num - 2);
        refused = 1;
    }
    if (refused)
        config_note_key(ctx, str);
    if (!refused && config_classify(ctx, str) == -1)
        refused = 1;
    if (refused)
        strcpy(str, "\n");
    return str;
}

/* The position (from 1) of value among the words of choices, or 0. */
static unsigned
config_choice(const char *choices, const char *value)
{
    size_t vl = strlen(value);
    const char *p = choices;
    unsigned i;

    for (i = 1; *p != '\0'; i++) {
        size_t wl = strcspn(p, " ");
        if (wl == vl && memcmp(p, value, vl) == 0)
            return i;
        p += wl;
        if (*p == ' ')
            p++;
    }
    return 0;
}

/* Whether the file may have a section of this name: its own, or one its keys name. */
static int
config_section_known(const struct config_ctx *ctx, const char *section)
{
    const struct config_key *k;

    if (strcmp(section, ctx->section) == 0)
        return 1;
    for (k = ctx->keys; k->name != NULL; k++)
        if (k->section != NULL && strcmp(k->section, section) == 0)
            return 1;
    return 0;
}

/* inih callback: store one key of the expected section, once. */
static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
    struct config_ctx *ctx = user;
    const struct config_key *k;
    char safe[128], **sp;
    uint64_t v;
    size_t i;

    ctx->pending = 0;
    if (!config_section_known(ctx, section)) {
        /* Once per section, on its first key, not on every key in it. */
        if (!ctx->badsect || strcmp(section, ctx->sectname) != 0)
            config_error(ctx, ctx->line, "unknown section [%s] (expected [%s])",
                         util_escape(safe, sizeof safe, section, strlen(section)), ctx->section);
        ctx->badsect = 1;
        snprintf(ctx->sectname, sizeof ctx->sectname, "%s", section);
        return 1;
    }
    for (k = ctx->keys; k->name != NULL; k++)
        if (strcmp(k->name, name) == 0 &&
            strcmp(k->section != NULL ? k->section : ctx->section, section) == 0)
            break;
    if (k->name == NULL) {
        config_error(ctx, ctx->line, "unknown key '%s' in [%s]",
                     util_escape(safe, sizeof safe, name, strlen(name)), section);
        return 1;
    }
    i = (size_t)(k - ctx->keys);
    if (ctx->keyline[i] != 0) {
        config_error(ctx, ctx->line, "duplicate key '%s' in [%s] (first on line %d)", name, section,
                     ctx->keyline[i]);
        return 1;
    }
    ctx->keyline[i] = ctx->line;
    ctx->keybad[i] = 1;
    switch (k->type) {
    case CONFIG_UINT:
        if (util_parse_uint_str(value, k->min, k->max, &v) == -1) {
            config_error(ctx, ctx->line, "%s must be a whole number from %u to %u", name, k->min,
                         k->max);
            return 1;
        }
        *(unsigned *)((char *)ctx->dst + k->offset) = (unsigned)v;
        break;
    case CONFIG_CHOICE:
        if ((v = config_choice(k->choices, value)) == 0) {
            config_error(ctx, ctx->line, "%s must be one of: %s", name, k->choices);
            return 1;
        }
        *(unsigned *)((char *)ctx->dst + k->offset) = (unsigned)v - 1;
        break;
    case CONFIG_STR:
    case CONFIG_PATH:
    case CONFIG_OPTPATH:
        if (*value == '\0') {
            config_error(ctx, ctx->line, "%s is empty", name);
            return 1;
        }
        sp = (char **)((char *)ctx->dst + k->offset);
        free(*sp);
        *sp = NULL;
        if (k->type == CONFIG_OPTPATH && strcmp(value, "none") == 0)
            break;
        *sp = k->type == CONFIG_STR ? strdup(value) : util_path_relative(ctx->path, value);
        if (*sp == NULL) {
            config_error(ctx, ctx->line, "out of memory reading %s", name);
            return 1;
        }
        break;
    }
    ctx->keybad[i] = 0;
    return 1;
}

/* The index of key name in the table, which must have it. */
static size_t
config_key_index(const struct config_ctx *ctx, const char *name)
{
    size_t i;

    for (i = 0; strcmp(ctx->keys[i].name, name) != 0 || ctx->keys[i].section != NULL; i++)
        continue;
    return i;
}

/* The index of key name of [section] in the table, which must have it. */
static size_t
config_key_index_in(const struct config_ctx *ctx, const char *section, const char *name)
{
    size_t i;

    for (i = 0; strcmp(ctx->keys[i].name, name) != 0 || ctx->keys[i].section == NULL ||
                strcmp(ctx->keys[i].section, section) != 0;
         i++)
        continue;
    return i;
}

/* Whether key name was given with a value that was refused. */
static int
config_key_bad(const struct config_ctx *ctx, const char *name)
{
    return ctx->keybad[config_key_index(ctx, name)];
}

/* Report a required key that the file never gives (a bad value is reported already). */
static void
config_require(struct config_ctx *ctx, const char *name)
{
    if (ctx->keyline[config_key_index(ctx, name)] == 0)
        config_error(ctx, 0, "missing key '%s' in [%s]", name, ctx->section);
}

/*
 * Give listen its default (127.0.0.1) unless the file gave one, and report a
 * given address that does not parse or resolve, on its line.
 */
static void
config_listen(struct config_ctx *ctx, char **listen, int socktype)
{
    int line = ctx->keyline[config_key_index(ctx, "listen")];
    char why[256];

    if (*listen == NULL && (*listen = strdup("127.0.0.1")) == NULL)
        config_error(ctx, 0, "out of memory");
    else if (line != 0 && !config_key_bad(ctx, "listen") &&
             net_check_host(*listen, socktype, config_resolve, why, sizeof why) == -1)
        config_error(ctx, line, "listen: %s", why);
}

/*
 * Parse path (or text, when not NULL) into dst with the given section and
 * keys, recording every error in ctx; *copy gets a copy of path. Returns -1
 * when the file could not be read at all (one error, nothing more to
 * check), else 0.
 */
static int
config_parse(struct config_ctx *ctx, char **copy, const char *path, const char *text,
             const char *section, const struct config_key *keys, void *dst)
{
    int line;

    memset(ctx, 0, sizeof *ctx);
    ctx->path = path;
    ctx->section = section;
    ctx->keys = keys;
    ctx->dst = dst;
    if ((*copy = strdup(path)) == NULL) {
        config_error(ctx, 0, "out of memory");
        return -1;
    }
    if (text != NULL)
        ctx->fp = fmemopen((void *)text, strlen(text), "r");
    else
        ctx->fp = fopen(path, "r");
    if (ctx->fp == NULL) {
        config_error(ctx, 0, "cannot open: %s", strerror(errno));
        return -1;
    }
    /* inih returns the first line it found wrong, 0, or below 0 without memory. */
    line = ini_parse_stream(config_read, ctx, config_handler, ctx);
    config_check_pending(ctx);
    fclose(ctx->fp);
    ctx->fp = NULL;
    if (ctx->readerr != 0 || line < 0) {
        ctx->nerrs = ctx->nmore = 0;
        if (ctx->readerr != 0)
            config_error(ctx, 0, "cannot read: %s", strerror(ctx->readerr));
        else
            config_error(ctx, 0, "out of memory");
        return -1;
    }
    /* A line inih refused that the checks above let through (none known). */
    if (line > 0 && ctx->nmore == 0 && !config_has_error(ctx, line))
        config_error(ctx, line, "malformed line (expected key = value or [section])");
    return 0;
}

/* Format one error as "file:line: message" (or "file: message"). */
static void
config_format(const struct config_ctx *ctx, const struct config_err *e, char *buf, size_t len)
{
    if (e->line > 0)
        snprintf(buf, len, "%s:%d: %s", ctx->path, e->line, e->msg);
    else
        snprintf(buf, len, "%s: %s", ctx->path, e->msg);
}

/*
 * Put every error into err, one per line in line order (errors of the whole
 * file last), as many whole lines as fit, then "file: N more errors" for the
 * rest. Returns 0 when there is none, else -1.
 */
static int
config_finish(struct config_ctx *ctx, char *err, size_t errlen)
{
    char one[sizeof ctx->errs[0].msg + 512], tail[64];
    size_t i, j, used, shown, more;
    struct config_err e;

    if (ctx->nerrs == 0)
        return 0;
    /* Insertion sort, stable: errors are found nearly in order. */
    for (i = 1; i < ctx->nerrs; i++) {
        e = ctx->errs[i];
        for (j = i; j > 0 && (e.line == 0 ? INT_MAX : e.line) <
                                 (ctx->errs[j - 1].line == 0 ? INT_MAX : ctx->errs[j - 1].line);
             j--)
            ctx->errs[j] = ctx->errs[j - 1];
        ctx->errs[j] = e;
    }
    config_format(ctx, &ctx->errs[0], err, errlen);
    used = strlen(err);
    for (shown = 1; shown < ctx->nerrs; shown++) {
        size_t need;
        config_format(ctx, &ctx->errs[shown], one, sizeof one);
        /* Room for this line, and for the "more" line if others follow it. */
        need = used + 1 + strlen(one) + 1;
        if (shown + 1 < ctx->nerrs || ctx->nmore > 0)
            need += strlen(ctx->path) + 1 + sizeof tail;
        if (need > errlen)
            break;
        err[used++] = '\n';
        memcpy(err + used, one, strlen(one) + 1);
        used += strlen(one);
    }
    more = ctx->nerrs - shown + ctx->nmore;
    if (more > 0) {
        snprintf(tail, sizeof tail, "%zu more error%s", more, more == 1 ? "" : "s");
        if (used + 1 + strlen(ctx->path) + 2 + strlen(tail) + 1 <= errlen)
            snprintf(err + used, errlen - used, "\n%s: %s", ctx->path, tail);
    }
    return -1;
}

/* Set a string default unless the file gave one. */
static int
config_default(char **sp, const char *value)
{
    if (*sp == NULL && (*sp = strdup(value)) == NULL)
        return -1;
    return 0;
}

/* Load center.conf from path, or from text when it is not NULL. */
static int
config_load_center_from(struct center_config *c, const char *path, const char *text, char *err,
                        size_t errlen)
{
    struct config_ctx ctx;

    memset(c, 0, sizeof *c);
    c->store = CONFIG_STORE_UNSET;
    c->port = 21000;
    c->max_clients = 10000;
    c->max_line = 512;
    c->idle_timeout = 300;
    c->auth_timeout = 30;
    c->max_output = 1u << 20;
    c->ipv6_prefix = 64;
    c->max_clients_per_address = 1000;
    c->max_checks_per_address = 4;
    c->max_login_failures = 30;
    c->max_user_failures = 10;
    c->desk_max_streams = 100;
    c->tls_handshake_timeout = 10;
    if (config_parse(&ctx, &c->path, path, text, "center", config_center_keys, c) == -1)
        return config_finish(&ctx, err, errlen);
    config_listen(&ctx, &c->listen, SOCK_STREAM);
    c->desk = ctx.keyline[config_key_index_in(&ctx, "desk", "port")] != 0;
    if (c->desk && c->desk_staff == NULL && !ctx.keybad[config_key_index_in(&ctx, "desk", "staff")])
        config_error(&ctx, 0,
                     "[desk] needs a staff file (staff = <file>, rows made with hcs "
                     "passwd)");
    if (c->desk_listen == NULL && config_default(&c->desk_listen, "127.0.0.1") == -1)
        config_error(&ctx, 0, "out of memory");
    config_require(&ctx, "users");
    config_require(&ctx, "availabilities");
    if (!config_key_bad(&ctx, "tls_cert") && !config_key_bad(&ctx, "tls_key") &&
        (c->tls_cert == NULL) != (c->tls_key == NULL))
        config_error(&ctx, 0,
                     c->tls_cert != NULL ? "tls_cert needs a private key (tls_key = <file>)"
                                         : "tls_key needs a certificate (tls_cert = <file>)");
    if (c->tls_ca != NULL && c->tls_cert == NULL && !config_key_bad(&ctx, "tls_ca"))
        config_error(&ctx, ctx.keyline[config_key_index(&ctx, "tls_ca")],
                     "tls_ca is for TLS (tls_cert and tls_key)");
    if (ctx.keyline[config_key_index(&ctx, "tls_handshake_timeout")] != 0 && c->tls_cert == NULL &&
        !config_key_bad(&ctx, "tls_cert"))
        config_error(&ctx, ctx.keyline[config_key_index(&ctx, "tls_handshake_timeout")],
                     "tls_handshake_timeout is for TLS (tls_cert and tls_key)");
    c->tls_key_line = ctx.keyline[config_key_index(&ctx, "tls_key")];
    /* store and state are checked together only when each was read without error. */
    if (!config_key_bad(&ctx, "store") && !config_key_bad(&ctx, "state")) {
        if (c->store == CONFIG_STORE_UNSET)
            c->store = c->state != NULL ? CONFIG_STORE_SQLITE : CONFIG_STORE_MEMORY;
        if (c->store == CONFIG_STORE_SQLITE && c->state == NULL)
            config_error(&ctx, 0, "store = sqlite needs a state file (state = <file>)");
        if (c->store == CONFIG_STORE_MEMORY && c->state != NULL)
            config_error(&ctx, 0, "state names a file, but store = memory keeps none");
        if (c->store == CONFIG_STORE_POSTGRESQL && c->state != NULL)
            config_error(&ctx, 0,
                         "state names a file, but store = postgresql keeps the bookings "
                         "in the database named by dsn");
    }
    if (!config_key_bad(&ctx, "store") && !config_key_bad(&ctx, "dsn")) {
        if (c->store == CONFIG_STORE_POSTGRESQL && c->dsn == NULL)
            config_error(&ctx, 0,
                         "store = postgresql needs a connection string (dsn = host=... "
                         "dbname=... user=...)");
        if (c->store != CONFIG_STORE_POSTGRESQL && c->dsn != NULL)
            config_error(&ctx, ctx.keyline[config_key_index(&ctx, "dsn")],
                         "dsn is for store = postgresql");
    }
    return config_finish(&ctx, err, errlen);
}

/* Load center.conf. */
int
config_load_center(struct center_config *c, const char *path, char *err, size_t errlen)
{
    return config_load_center_from(c, path, NULL, err, errlen);
}

/* Load a center configuration from text. */
int
config_load_center_text(struct center_config *c, const char *name, const char *text, char *err,
                        size_t errlen)
{
    return config_load_center_from(c, name, text, err, errlen);
}

/* Load doctorN.conf. */
int
config_load_doctor(struct doctor_config *c, const char *path, char *err, size_t errlen)
{
    struct config_ctx ctx;

    memset(c, 0, sizeof *c);
    if (config_parse(&ctx, &c->path, path, NULL, "doctor", config_doctor_keys, c) == -1)
        return config_finish(&ctx, err, errlen);
    config_listen(&ctx, &c->listen, SOCK_DGRAM);
    config_require(&ctx, "name");
    config_require(&ctx, "prices");
    config_require(&ctx, "id");
    return config_finish(&ctx, err, errlen);
}

/* Load patientN.conf. */
int
config_load_patient(struct patient_config *c, const char *path, char *err, size_t errlen)
{
    struct config_ctx ctx;

    memset(c, 0, sizeof *c);
    c->center_port = 21000;
    c->timeout_ms = 2000;
    c->udp_retries = 3;
    if (config_parse(&ctx, &c->path, path, NULL, "patient", config_patient_keys, c) == -1)
        return config_finish(&ctx, err, errlen);
    if (config_default(&c->center_host, "localhost") == -1 ||
        config_default(&c->doctor_host, c->center_host) == -1 ||
        config_default(&c->tls_name, c->center_host) == -1)
        config_error(&ctx, 0, "out of memory");
    if (!c->tls && !config_key_bad(&ctx, "tls") &&
        (c->tls_ca != NULL || c->tls_session != NULL ||
         ctx.keyline[config_key_index(&ctx, "tls_name")] != 0))
        config_error(&ctx, 0, "tls_ca, tls_name and tls_session are for tls = yes");
    config_require(&ctx, "credentials");
    config_require(&ctx, "insurance");
    config_require(&ctx, "id");
    return config_finish(&ctx, err, errlen);
}

/* Whether the loaders look up listen names (0: only literal addresses are checked). */
void
config_set_resolve(int on)
{
    config_resolve = on;
}

/* Free the strings of a center config. */
void
config_free_center(struct center_config *c)
{
    free(c->path);
    free(c->listen);
    free(c->users);
    free(c->availabilities);
    free(c->state);
    free(c->dsn);
    free(c->desk_listen);
    free(c->desk_staff);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_ca);
    memset(c, 0, sizeof *c);
}

/* Free the strings of a doctor config. */
void
config_free_doctor(struct doctor_config *c)
{
    free(c->path);
    free(c->name);
    free(c->listen);
    free(c->prices);
    memset(c, 0, sizeof *c);
}

/* Free the strings of a patient config. */
void
config_free_patient(struct patient_config *c)
{
    free(c->path);
    free(c->center_host);
    free(c->doctor_host);
    free(c->credentials);
    free(c->insurance);
    free(c->tls_ca);
    free(c->tls_name);
    free(c->tls_session);
    memset(c, 0, sizeof *c);
}

/* Build "<dir>/<kind>N.conf". */
char *
config_id_path(const char *dir, const char *kind, unsigned id)
{
    size_t len = strlen(dir) + strlen(kind) + 32;
    char *p = malloc(len);

    if (p != NULL)
        snprintf(p, len, "%s/%s%u.conf", dir, kind, id);
    return p;
}
