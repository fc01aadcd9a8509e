/* opts.c: the command-line options hcs, doctor and patient share (--config, --check, ...). */
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
            opts_try(prog);
            return -1;
        }
        o->id = (unsigned)v;
        return 0;
    case 'c':
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
    const char *prog = argc > 0 && argv[0] != NULL ? argv[0] : "program";

    (void)usage;
    if (strrchr(prog, '/') != NULL)
        prog = strrchr(prog, '/') + 1;
    if (optind != argc) {
        log_warnx("unexpected argument '%s'", argv[optind]);
        opts_try(prog);
        return -1;
    }
    if ((o->id == 0) == (o->config == NULL)) {
        log_warnx("give exactly one of --id N or --config FILE");
        opts_try(prog);
        return -1;
    }
    return 0;
}

/* Tell where the usage is, after a usage error. */
void
opts_try(const char *prog)
{
    fprintf(stderr, "Try '%s --help'.\n", prog);
}

/* Print the lines of the shared options (see opts.h). */
void
opts_usage(FILE *fp, const char *prog, unsigned which)
{
    char id[64];

    snprintf(id, sizeof id, "use <dir>/%sN.conf", prog);
    if (which & OPTS_USAGE_ID)
        fprintf(fp, "      %-18s%s\n", "--id N", id);
    if (which & OPTS_USAGE_CONFIG)
        fprintf(fp, "  -c, %-18s%s\n", "--config FILE", "use FILE");
    if (which & OPTS_USAGE_CONFIG_DIR)
        fprintf(fp, "      %-18s%s\n", "--config-dir DIR",
                "folder for --id (default: $HCS_CONFIG_DIR, else " HCS_DEFAULT_CONFIG_DIR ")");
    if (which & OPTS_USAGE_CHECK)
        fprintf(fp, "      %-18s%s\n", "--check",
                "validate the configuration and data files, then exit");
    if (which & OPTS_USAGE_VERBOSE)
        fprintf(fp, "  -v, %-18s%s\n", "--verbose", "debug messages on stderr");
    if (which & OPTS_USAGE_HELP)
        fprintf(fp, "  -h, %-18s%s\n", "--help", "show this help");
    if (which & OPTS_USAGE_VERSION)
        fprintf(fp, "  -V, %-18s%s\n", "--version", "show the version");
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
