/* hcs.c: the health center server's main(): options, start-up, signals, teardown. */
#include "center.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "opts.h"
#include "out.h"
#include "passwd.h"
#include "tls.h"
#include "trace.h"
#include "util.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <event2/event.h>

#define HCS_DEFAULT_CONFIG HCS_DEFAULT_CONFIG_DIR "/center.conf"

/* Print the options and the defaults they have. */
static void
hcs_usage(FILE *fp)
{
    fprintf(fp, "usage: hcs [-c FILE] [-q] [--trace] [-v] [--syslog] [--check] [-h] [-V]\n"
                "       hcs passwd USER          print a users.txt row with a hashed password\n"
                "       hcs passwd --upgrade FILE  hash every clear password of a users file\n");
    opts_usage(fp, "hcs", OPTS_USAGE_ALL & ~(OPTS_USAGE_ID | OPTS_USAGE_CONFIG_DIR));
    fprintf(fp,
            "  -q, %-18sno per-request screen lines (benchmarks)\n"
            "      %-18sprint every message sent and received on stdout, one line\n"
            "      %-18seach (direction, phase, peer; passwords masked)\n"
            "      %-18slog through syslog(3) (facility daemon), not stderr\n"
            "FILE defaults to %s. Defaults of center.conf: listen 127.0.0.1,\n"
            "port 21000, max_clients 10000, max_line 512, idle_timeout 300, auth_timeout 30,\n"
            "max_output 1048576, store sqlite if state names a file (else memory;\n"
            "store postgresql needs dsn), max_clients_per_address 1000,\n"
            "max_checks_per_address 4, max_login_failures 30, max_user_failures 10,\n"
            "tls_handshake_timeout 10 (with tls_cert and tls_key).\n",
            "--quiet", "--trace", "", "--syslog", HCS_DEFAULT_CONFIG);
}

/* A configuration or data error: "file:line: message" alone, as the other programs print it. */
static _Noreturn void
hcs_fail(const char *err)
{
    log_text(LOGP_ERR, err);
    exit(1);
}

/* SIGINT or SIGTERM: leave the loop so everything is freed in order. */
static void
hcs_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    log_info("caught signal %d, stopping", (int)sig);
    notify_tell("STOPPING=1");
    event_base_loopbreak(arg);
}

/*
 * SIGHUP: re-read the data files and the TLS certificate and key; a bad one
 * changes nothing of its own and is reported (a bad certificate keeps the
 * old one).
 */
static void
hcs_reload_cb(evutil_socket_t sig, short what, void *arg)
{
    char err[512];

    (void)sig;
    (void)what;
    notify_tell("RELOADING=1");
    if (tls_reload(arg, err, sizeof err) == -1)
        log_warnx("reload: %s; the TLS certificate stays as it was", err);
    if (center_reload(arg, err, sizeof err) == -1)
        log_warnx("reload: %s; nothing changed", err);
    notify_tell("READY=1");
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

/* The counters of -v on stderr, queued as one block like every other line. */
static void
hcs_print_stats(const struct center *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp;

    if ((fp = open_memstream(&text, &len)) == NULL) {
        log_warn("open_memstream");
        return;
    }
    center_print_stats(c, fp);
    if (fclose(fp) == 0)
        log_text(LOGP_INFO, text);
    free(text);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        OPTS_LONGOPTS_BASE,
        {"quiet", no_argument, NULL, 'q'},
        {"syslog", no_argument, NULL, OPTS_OWN},
        {"trace", no_argument, NULL, OPTS_OWN + 1},
        {NULL, 0, NULL, 0},
    };
    const char *path = HCS_DEFAULT_CONFIG;
    struct center_config cfg;
    struct center center;
    struct event_base *base;
    struct event *sigint, *sigterm, *sighup;
    char err[4096];
    struct opts o;
    int ch, rc, quiet = 0, check, verbose, use_syslog = 0;

    if (argc > 1 && strcmp(argv[1], "passwd") == 0)
        return passwd_main(argc - 1, argv + 1);
    log_init("hcs", 0);
    memset(&o, 0, sizeof o);
    while ((ch = getopt_long(argc, argv, OPTS_SHORTOPTS "q", longopts, NULL)) != -1) {
        if ((rc = opts_take(&o, ch, optarg, "hcs", hcs_usage)) == OPTS_OTHER && ch == 'q') {
            quiet = 1;
        } else if (rc == OPTS_OTHER && ch == OPTS_OWN) {
            use_syslog = 1;
        } else if (rc == OPTS_OTHER && ch == OPTS_OWN + 1) {
            trace_on = 1;
        } else if (rc == OPTS_OTHER) {
            opts_try("hcs");
            return 1;
        } else if (rc != 0) {
            return rc == 1 ? 0 : 1;
        }
    }
    if (optind != argc) {
        log_warnx("unexpected argument '%s'", argv[optind]);
        opts_try("hcs");
        return 1;
    }
    if (o.config != NULL)
        path = o.config;
    check = o.check;
    verbose = o.verbose;
    log_init("hcs", verbose);
    if (use_syslog)
        log_syslog();
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
        printf("%s: OK (%zu user%s, %zu slot%s)\n", path, center.users.n,
               center.users.n == 1 ? "" : "s", center.sched.n, center.sched.n == 1 ? "" : "s");
        if (center.tls != NULL) {
            tls_describe(center.tls, err, sizeof err);
            printf("%s: TLS certificate and key load and match: %s\n", path, err);
        }
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
    /* From here on screen and log lines are queued: a stalled reader never blocks the
     * loop. The start-up line went out directly, so that a center that prints nothing
     * more (-q) starts no writer thread. */
    if (out_start("hcs") == -1)
        log_warn("cannot start the output writers; lines are written directly");
    notify_tell("READY=1");
    event_base_dispatch(base);

    if (verbose)
        hcs_print_stats(&center);
    event_free(sighup);
    event_free(sigterm);
    event_free(sigint);
    center_free(&center);
    event_base_free(base);
    libevent_global_shutdown();
    out_stop();
    return 0;
}
