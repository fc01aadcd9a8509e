/* opts.c: the command-line options doctor and patient share (--id, --config, ...). */
#include "opts.h"
#include "config.h"
#include "log.h"
#include "util.h"

#include <stdint.h>
#include <string.h>

/* Take one shared option (see opts.h). */
int
opts_take(struct opts *o, int ch, const char *arg, const char *prog, void (*usage)(FILE *))
{
    uint64_t v;

    switch (ch) {
    case OPTS_ID:
        if (util_parse_uint_str(arg, 1, 1000000, &v) == -1) {
            log_warnx("--id must be a whole number from 1 to 1000000");
            return -1;
        }
        o->id = (unsigned)v;
        return 0;
    case OPTS_CONFIG:
        o->config = arg;
        return 0;
    case OPTS_CONFIG_DIR:
        o->config_dir = arg;
        return 0;
    case OPTS_CHECK:
        o->check = 1;
        return 0;
    case 'v':
        o->verbose = 1;
        return 0;
    case 'h':
        usage(stdout);
        return 1;
    case 'V':
        printf("%s %s\n", prog, HCS_VERSION);
        return 1;
    default:
        return OPTS_OTHER;
    }
}

/* Check what is left after the options. */
int
opts_finish(const struct opts *o, int argc, char **argv, void (*usage)(FILE *))
{
    if (optind != argc) {
        log_warnx("unexpected argument '%s'", argv[optind]);
        usage(stderr);
        return -1;
    }
    if ((o->id == 0) == (o->config == NULL)) {
        log_warnx("give exactly one of --id N or --config FILE");
        usage(stderr);
        return -1;
    }
    return 0;
}

/* The config file the options name. */
char *
opts_config_path(const struct opts *o, const char *prog)
{
    if (o->config != NULL)
        return strdup(o->config);
    return config_id_path(util_config_dir(o->config_dir), prog, o->id);
}

/* Warn on an id that differs from --id. */
void
opts_check_id(const struct opts *o, const char *file, unsigned id)
{
    if (o->id != 0 && id != o->id)
        log_warnx("%s: id is %u, not %u as --id says", file, id, o->id);
}
