/* opts.h: the command-line options doctor and patient share (--id, --config, ...). */
#ifndef HCS_OPTS_H
#define HCS_OPTS_H

#include <getopt.h>
#include <stdio.h>

/* Values getopt_long returns for the shared long options; a program numbers its own after. */
enum { OPTS_ID = 256, OPTS_CONFIG, OPTS_CONFIG_DIR, OPTS_CHECK, OPTS_OWN };

/* The shared entries of a longopts array. */
#define OPTS_LONGOPTS                                                                              \
    {"id", required_argument, NULL, OPTS_ID}, {"config", required_argument, NULL, OPTS_CONFIG},    \
        {"config-dir", required_argument, NULL, OPTS_CONFIG_DIR},                                  \
        {"check", no_argument, NULL, OPTS_CHECK}, {"verbose", no_argument, NULL, 'v'},             \
        {"help", no_argument, NULL, 'h'},                                                          \
    {                                                                                              \
        "version", no_argument, NULL, 'V'                                                          \
    }

/* The shared options' values. */
struct opts {
    unsigned id;            /* --id N; 0: not given */
    const char *config;     /* --config FILE */
    const char *config_dir; /* --config-dir DIR; NULL: $HCS_CONFIG_DIR, else "config" */
    int check;              /* --check */
    int verbose;            /* -v */
};

#define OPTS_OTHER 2 /* opts_take: not a shared option */

/*
 * Take one option returned by getopt_long. Returns 0 when taken, 1 to exit
 * with status 0 (--help, --version), -1 to exit with 1, or OPTS_OTHER for an
 * option of the program's own. prog names the program ("doctor").
 */
int opts_take(struct opts *o, int ch, const char *arg, const char *prog, void (*usage)(FILE *));
/* After the options: no operands, and exactly one of --id and --config. 0 or -1. */
int opts_finish(const struct opts *o, int argc, char **argv, void (*usage)(FILE *));
/* The config file: --config FILE, or <dir>/<prog>N.conf. Caller frees; NULL: no memory. */
char *opts_config_path(const struct opts *o, const char *prog);
/* Warn when the config file's id is not the one --id named. */
void opts_check_id(const struct opts *o, const char *file, unsigned id);

#endif
