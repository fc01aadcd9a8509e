/* opts.h: the command-line options hcs, doctor and patient share (--config, --check, ...). */
#ifndef HCS_OPTS_H
#define HCS_OPTS_H

#include <getopt.h>
#include <stdio.h>

/* Values getopt_long returns for the shared long options; a program numbers its own after.
 * --config returns 'c' (OPTS_CONFIG is taken as the same). */
enum { OPTS_ID = 256, OPTS_CONFIG, OPTS_CONFIG_DIR, OPTS_CHECK, OPTS_OWN };

/* The short options every program takes: -c FILE, -v, -h, -V. */
#define OPTS_SHORTOPTS "c:vhV"

/* The shared entries of a longopts array that hcs takes too (no --id, no --config-dir). */
#define OPTS_LONGOPTS_BASE                                                                         \
    {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, OPTS_CHECK},            \
        {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},                     \
    {                                                                                              \
        "version", no_argument, NULL, 'V'                                                          \
    }

/* The shared entries of a longopts array of doctor and patient. */
#define OPTS_LONGOPTS                                                                              \
    {"id", required_argument, NULL, OPTS_ID},                                                      \
        {"config-dir", required_argument, NULL, OPTS_CONFIG_DIR}, OPTS_LONGOPTS_BASE

/* Which shared options opts_usage describes. */
#define OPTS_USAGE_ID 0x01
#define OPTS_USAGE_CONFIG 0x02
#define OPTS_USAGE_CONFIG_DIR 0x04
#define OPTS_USAGE_CHECK 0x08
#define OPTS_USAGE_VERBOSE 0x10
#define OPTS_USAGE_HELP 0x20
#define OPTS_USAGE_VERSION 0x40
#define OPTS_USAGE_ALL 0x7f

/* The shared options' values. */
struct opts {
    unsigned id;            /* --id N; 0: not given */
    const char *config;     /* --config FILE */
    const char *config_dir; /* --config-dir DIR; NULL: $HCS_CONFIG_DIR, else the default */
    int check;              /* --check */
    int verbose;            /* -v */
};

#define OPTS_OTHER 2 /* opts_take: not a shared option */

/*
 * Take one option returned by getopt_long. Returns 0 when taken, 1 to exit
 * with status 0 (--help, --version), -1 to exit with 1 (after saying why and
 * "Try 'PROG --help'."), or OPTS_OTHER for an option of the program's own.
 * prog names the program ("doctor").
 */
int opts_take(struct opts *o, int ch, const char *arg, const char *prog, void (*usage)(FILE *));
/*
 * After the options: no operands, and exactly one of --id and --config.
 * Returns 0, or -1 after saying why and "Try 'PROG --help'." (PROG: the last
 * part of argv[0]). usage is not called: a usage error is one line, not the
 * whole text; the parameter stays for the callers written before.
 */
int opts_finish(const struct opts *o, int argc, char **argv, void (*usage)(FILE *));
/* Print "Try 'PROG --help'." on stderr: what a usage error ends with. */
void opts_try(const char *prog);
/*
 * Print the usage lines of the shared options in which (OPTS_USAGE_*), all
 * programs spelling them alike; prog names the config files of --id.
 */
void opts_usage(FILE *fp, const char *prog, unsigned which);
/* The config file: --config FILE, or <dir>/<prog>N.conf. Caller frees; NULL: no memory. */
char *opts_config_path(const struct opts *o, const char *prog);
/* Warn when the config file's id is not the one --id named. */
void opts_check_id(const struct opts *o, const char *file, unsigned id);

#endif
