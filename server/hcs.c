/* hcs.c: the health center server's main(): options, start-up, signals, teardown. */
#include "center.h"
#include "config.h"
#include "log.h"
#include "passwd.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <event2/event.h>

#define HCS_DEFAULT_CONFIG "config/center.conf"

/* Print the options and the defaults they have. */
static void
hcs_usage(FILE *fp)
{
    fprintf(fp,
            "usage: hcs [--config FILE] [-q] [-v] [--check]\n"
            "       hcs passwd USER          print a users.txt row with a hashed password\n"
            "       hcs passwd --upgrade FILE  hash every clear password of a users file\n"
            "  -c, --config FILE  center configuration (default %s)\n"
            "  -q, --quiet        no per-request screen lines (benchmarks)\n"
            "  -v, --verbose      debug messages on stderr\n"
            "      --check        load and validate the configuration and data, then exit\n"
            "  -h, --help         this text\n"
            "  -V, --version      the version\n"
            "Defaults of center.conf: listen 127.0.0.1, port 21000, max_clients 10000,\n"
            "max_line 512, idle_timeout 300, auth_timeout 30, max_output 1048576.\n",
            HCS_DEFAULT_CONFIG);
}

/* A configuration or data error: "file:line: message" alone, as the other programs print it. */
static _Noreturn void
hcs_fail(const char *err)
{
    fprintf(stderr, "%s\n", err);
    exit(1);
}

/* SIGINT or SIGTERM: leave the loop so everything is freed in order. */
static void
hcs_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    log_info("caught signal %d, stopping", (int)sig);
    event_base_loopbreak(arg);
}

/* SIGHUP: re-read the data files; a bad one changes nothing and is reported. */
static void
hcs_reload_cb(evutil_socket_t sig, short what, void *arg)
{
    char err[512];

    (void)sig;
    (void)what;
    if (center_reload(arg, err, sizeof err) == -1)
        log_warnx("reload: %s; nothing changed", err);
}

/* Warn when users.txt can be read by other users. */
static void
hcs_check_users_mode(const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
        log_warnx("%s is readable by other users (mode %03o): chmod 600 it", path,
                  (unsigned)(st.st_mode & 0777));
}

/* Raise the open-file limit to the hard limit; warn if max_clients cannot fit. */
static void
hcs_raise_nofile(unsigned max_clients)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
            log_warn("setrlimit");
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max_clients + 32)
        log_warnx("open-file limit %llu is below max_clients %u (+32): new patients will wait "
                  "when descriptors run out",
                  (unsigned long long)rl.rlim_cur, max_clients);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"check", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *path = HCS_DEFAULT_CONFIG;
    struct center_config cfg;
    struct center center;
    struct event_base *base;
    struct event *sigint, *sigterm, *sighup;
    char err[512];
    int ch, quiet = 0, check = 0, verbose = 0;

    if (argc > 1 && strcmp(argv[1], "passwd") == 0)
        return passwd_main(argc - 1, argv + 1);
    while ((ch = getopt_long(argc, argv, "c:qvhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'C':
            check = 1;
            break;
        case 'h':
            hcs_usage(stdout);
            return 0;
        case 'V':
            printf("hcs %s\n", HCS_VERSION);
            return 0;
        default:
            hcs_usage(stderr);
            return 1;
        }
    }
    if (optind != argc) {
        hcs_usage(stderr);
        return 1;
    }
    log_init("hcs", verbose);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (config_load_center(&cfg, path, err, sizeof err) == -1) {
        config_free_center(&cfg);
        hcs_fail(err);
    }
    hcs_check_users_mode(cfg.users);
    if (center_init(&center, &cfg, (quiet ? CENTER_QUIET : 0) | (check ? CENTER_CHECK : 0), err,
                    sizeof err) == -1) {
        center_free(&center);
        hcs_fail(err);
    }
    if (check) {
        printf("%s: OK (%zu users, %zu slots)\n", path, center.users.n, center.sched.n);
        center_free(&center);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    hcs_raise_nofile(center.cfg.max_clients);
    if ((base = event_base_new()) == NULL)
        fatalx("cannot create the event loop");
    /* Signals first: once the start-up line is out, a SIGTERM must stop cleanly. */
    sigint = evsignal_new(base, SIGINT, hcs_signal_cb, base);
    sigterm = evsignal_new(base, SIGTERM, hcs_signal_cb, base);
    sighup = evsignal_new(base, SIGHUP, hcs_reload_cb, &center);
    if (sigint == NULL || sigterm == NULL || sighup == NULL || event_add(sigint, NULL) == -1 ||
        event_add(sigterm, NULL) == -1 || event_add(sighup, NULL) == -1)
        fatalx("cannot watch signals");
    if (center_listen(&center, base, err, sizeof err) == -1) {
        event_free(sighup);
        event_free(sigterm);
        event_free(sigint);
        center_free(&center);
        event_base_free(base);
        fatalx("%s", err);
    }
    event_base_dispatch(base);

    if (verbose)
        center_print_stats(&center, stderr);
    event_free(sighup);
    event_free(sigterm);
    event_free(sigint);
    center_free(&center);
    event_base_free(base);
    libevent_global_shutdown();
    return 0;
}
