/* config.c: the INI configuration of hcs, doctor and patient (read with inih). */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

/* What the inih callbacks need: the file, the section, its keys, and the first error. */
struct config_ctx {
    const char *path;
    const char *section;
    const struct config_key *keys;
    void *dst;
    FILE *fp;
    int line;    /* line last handed to inih (one whole line per read) */
    int errline; /* line of the first error found here */
    int readerr; /* errno of a read error, or 0 */
    char err[256];
    int failed;
};

#define CFG_STR(s, f)                                                                              \
    {                                                                                              \
#f, CONFIG_STR, offsetof(struct s, f), 0, 0, NULL                                          \
    }
#define CFG_PATH(s, f)                                                                             \
    {                                                                                              \
#f, CONFIG_PATH, offsetof(struct s, f), 0, 0, NULL                                         \
    }
#define CFG_OPTPATH(s, f)                                                                          \
    {                                                                                              \
#f, CONFIG_OPTPATH, offsetof(struct s, f), 0, 0, NULL                                      \
    }
#define CFG_UINT(s, f, lo, hi)                                                                     \
    {                                                                                              \
#f, CONFIG_UINT, offsetof(struct s, f), lo, hi, NULL                                       \
    }
#define CFG_CHOICE(s, f, words)                                                                    \
    {                                                                                              \
#f, CONFIG_CHOICE, offsetof(struct s, f), 0, 0, words                                      \
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
    CFG_CHOICE(center_config, store, "memory sqlite"),
    CFG_OPTPATH(center_config, state),
    CFG_CHOICE(center_config, durability, "normal full"),
    {NULL, CONFIG_STR, 0, 0, 0, NULL},
};

static const struct config_key config_doctor_keys[] = {
    CFG_UINT(doctor_config, id, 1, 1000000), CFG_STR(doctor_config, name),
    CFG_STR(doctor_config, listen),          CFG_UINT(doctor_config, port, 0, 65535),
    CFG_PATH(doctor_config, prices),         {NULL, CONFIG_STR, 0, 0, 0, NULL},
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
    {NULL, CONFIG_STR, 0, 0, 0, NULL},
};

/* Record the first error and the line it is on. */
static int
config_fail(struct config_ctx *ctx, const char *fmt, const char *a, const char *b)
{
    if (!ctx->failed) {
        snprintf(ctx->err, sizeof ctx->err, fmt, a, b);
        ctx->errline = ctx->line;
        ctx->failed = 1;
    }
    return 0;
}

/*
 * inih reader: hand over one whole line per call, so ctx->line is the line
 * inih is on, and stop at the first error. inih would cut a line longer than
 * its buffer and parse the rest as a line of its own; refuse it instead.
 */
static char *
config_read(char *str, int num, void *stream)
{
    struct config_ctx *ctx = stream;
    int c = EOF, n = 0;

    if (ctx->failed || num < 2)
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
        config_fail(ctx, "NUL byte in line%s%s", "", "");
        return NULL;
    }
    if (str[n - 1] != '\n' && n == num - 1 && (c = getc(ctx->fp)) != EOF) {
        char limit[16];
        snprintf(limit, sizeof limit, "%d", num - 2);
        config_fail(ctx, "line too long (over %s bytes)%s", limit, "");
        return NULL;
    }
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

/* inih callback: store one key of the expected section. */
static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
    struct config_ctx *ctx = user;
    const struct config_key *k;
    char safe[128], **sp;
    uint64_t v;

    if (strcmp(section, ctx->section) != 0)
        return config_fail(ctx, "unknown section [%s] (expected [%s])",
                           util_escape(safe, sizeof safe, section, strlen(section)), ctx->section);
    for (k = ctx->keys; k->name != NULL; k++)
        if (strcmp(k->name, name) == 0)
            break;
    if (k->name == NULL)
        return config_fail(ctx, "unknown key '%s' in [%s]",
                           util_escape(safe, sizeof safe, name, strlen(name)), section);
    switch (k->type) {
    case CONFIG_UINT:
        if (util_parse_uint_str(value, k->min, k->max, &v) == -1) {
            char range[64];
            snprintf(range, sizeof range, "%u to %u", k->min, k->max);
            return config_fail(ctx, "%s must be a whole number from %s", name, range);
        }
        *(unsigned *)((char *)ctx->dst + k->offset) = (unsigned)v;
        break;
    case CONFIG_CHOICE:
        if ((v = config_choice(k->choices, value)) == 0)
            return config_fail(ctx, "%s must be one of: %s", name, k->choices);
        *(unsigned *)((char *)ctx->dst + k->offset) = (unsigned)v - 1;
        break;
    case CONFIG_STR:
    case CONFIG_PATH:
    case CONFIG_OPTPATH:
        if (*value == '\0')
            return config_fail(ctx, "%s is empty%s", name, "");
        sp = (char **)((char *)ctx->dst + k->offset);
        free(*sp);
        *sp = NULL;
        if (k->type == CONFIG_OPTPATH && strcmp(value, "none") == 0)
            break;
        *sp = k->type == CONFIG_STR ? strdup(value) : util_path_relative(ctx->path, value);
        if (*sp == NULL)
            return config_fail(ctx, "out of memory reading %s%s", name, "");
        break;
    }
    return 1;
}

/* Parse path (or text, when not NULL) into dst with the given section and keys. */
static int
config_parse(const char *path, const char *text, const char *section, const struct config_key *keys,
             void *dst, char *err, size_t errlen)
{
    struct config_ctx ctx = {path, section, keys, dst, NULL, 0, 0, 0, "", 0};
    int line;

    if (text != NULL)
        ctx.fp = fmemopen((void *)text, strlen(text), "r");
    else
        ctx.fp = fopen(path, "r");
    if (ctx.fp == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    /* inih returns the first line it found wrong, 0, or below 0 without memory. */
    line = ini_parse_stream(config_read, &ctx, config_handler, &ctx);
    fclose(ctx.fp);
    if (ctx.readerr != 0)
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(ctx.readerr));
    else if (line > 0 && (!ctx.failed || line < ctx.errline))
        snprintf(err, errlen, "%s:%d: malformed line (expected key = value or [section])", path,
                 line);
    else if (ctx.failed)
        snprintf(err, errlen, "%s:%d: %s", path, ctx.errline, ctx.err);
    else if (line < 0)
        snprintf(err, errlen, "%s: out of memory", path);
    else
        return 0;
    return -1;
}

/* Check that a required string key was given. */
static int
config_require(const char *path, const char *section, const char *name, const char *value,
               char *err, size_t errlen)
{
    if (value != NULL)
        return 0;
    snprintf(err, errlen, "%s: missing key '%s' in [%s]", path, name, section);
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
    memset(c, 0, sizeof *c);
    c->store = CONFIG_STORE_UNSET;
    c->port = 21000;
    c->max_clients = 10000;
    c->max_line = 512;
    c->idle_timeout = 300;
    c->auth_timeout = 30;
    c->max_output = 1u << 20;
    if ((c->path = strdup(path)) == NULL ||
        config_parse(path, text, "center", config_center_keys, c, err, errlen) == -1)
        return -1;
    if (config_default(&c->listen, "127.0.0.1") == -1)
        return -1;
    if (config_require(path, "center", "users", c->users, err, errlen) == -1 ||
        config_require(path, "center", "availabilities", c->availabilities, err, errlen) == -1)
        return -1;
    if (c->store == CONFIG_STORE_UNSET)
        c->store = c->state != NULL ? CONFIG_STORE_SQLITE : CONFIG_STORE_MEMORY;
    if (c->store == CONFIG_STORE_SQLITE && c->state == NULL) {
        snprintf(err, errlen, "%s: store = sqlite needs a state file (state = <file>)", path);
        return -1;
    }
    if (c->store == CONFIG_STORE_MEMORY && c->state != NULL) {
        snprintf(err, errlen, "%s: state names a file, but store = memory keeps none", path);
        return -1;
    }
    return 0;
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
    memset(c, 0, sizeof *c);
    if ((c->path = strdup(path)) == NULL ||
        config_parse(path, NULL, "doctor", config_doctor_keys, c, err, errlen) == -1)
        return -1;
    if (config_default(&c->listen, "127.0.0.1") == -1)
        return -1;
    if (config_require(path, "doctor", "name", c->name, err, errlen) == -1 ||
        config_require(path, "doctor", "prices", c->prices, err, errlen) == -1)
        return -1;
    if (c->id == 0) {
        snprintf(err, errlen, "%s: missing key 'id' in [doctor]", path);
        return -1;
    }
    return 0;
}

/* Load patientN.conf. */
int
config_load_patient(struct patient_config *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->center_port = 21000;
    c->timeout_ms = 2000;
    c->udp_retries = 3;
    if ((c->path = strdup(path)) == NULL ||
        config_parse(path, NULL, "patient", config_patient_keys, c, err, errlen) == -1)
        return -1;
    if (config_default(&c->center_host, "localhost") == -1 ||
        config_default(&c->doctor_host, c->center_host) == -1)
        return -1;
    if (config_require(path, "patient", "credentials", c->credentials, err, errlen) == -1 ||
        config_require(path, "patient", "insurance", c->insurance, err, errlen) == -1)
        return -1;
    if (c->id == 0) {
        snprintf(err, errlen, "%s: missing key 'id' in [patient]", path);
        return -1;
    }
    return 0;
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
