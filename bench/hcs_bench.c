/* hcs_bench.c: hcs-bench's main(): options, limits, and the choice of mode. */
#include "addr.h"
#include "bench.h"
#include "proc.h"
#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HCS_VERSION
#define HCS_VERSION "unknown"
#endif

/* The modes by name. */
static const struct {
    const char *name;
    enum bench_mode mode;
} hcs_bench_modes[] = {
    {"session", MODE_SESSION},   {"list", MODE_LIST}, {"line", MODE_LINE},
    {"idle", MODE_IDLE},         {"race", MODE_RACE}, {"fanout", MODE_FANOUT},
    {"events", MODE_EVENTS},     {"udp", MODE_UDP},   {"startup", MODE_STARTUP},
    {"amplify", MODE_AMPLIFY},   {"gen", MODE_GEN},   {"ping", MODE_PING},
    {"freeport", MODE_FREEPORT}, {"spin", MODE_SPIN}, {"handshake", MODE_TLS_HS},
};

/* The name of a mode. */
static const char *
hcs_bench_mode_name(enum bench_mode mode)
{
    size_t i;

    for (i = 0; i < sizeof hcs_bench_modes / sizeof hcs_bench_modes[0]; i++)
        if (hcs_bench_modes[i].mode == mode)
            return hcs_bench_modes[i].name;
    return "?";
}

/* Print how to run the program, with the defaults. */
static void
hcs_bench_usage(FILE *fp)
{
    fprintf(fp,
            "usage: hcs-bench --mode MODE [options] [-- COMMAND...]\n"
            "modes (one outstanding request per connection, closed loop):\n"
            "  session  connect, authenticate, available, selection (cancel), close; repeat\n"
            "  list     authenticate once per connection, then loop available\n"
            "  line     send --line, read one reply line (e.g. memcached's version)\n"
            "  idle     hold --conns logged-in connections --hold seconds; server RSS growth\n"
            "  race     --conns patients book --slots slots at once; check min(N,M) winners\n"
            "  fanout   --conns patients wait after available while one books and cancels\n"
            "  events   --conns desk event streams (--desk-port, --desk-auth user:pass) while\n"
            "           patient user<--user-offset> books and cancels slot --slot-offset+1\n"
            "           --cycles times; each booking's event timed on every stream\n"
            "           (--hold S: only hold the streams S seconds or until SIGTERM)\n"
            "  udp      closed-loop --line datagrams (insurance plans) to a doctor\n"
            "  amplify  the worst reply/request byte ratio of a UDP server: empty, short,\n"
            "           unknown and garbage datagrams, then --line\n"
            "  startup  run COMMAND, time it until it listens, read its RSS, stop it\n"
            "  gen      write a data set into --dir: --users users, --slots slots, configs\n"
            "  ping     wait (up to --duration) until the port accepts\n"
            "  freeport print a free loopback port\n"
            "  spin     time --requests million rounds of a CPU-bound loop\n"
            "  handshake --tls: connect, TLS handshake, close; repeat (--tls-resume: each\n"
            "           resumes the connection's last session and waits for its new ticket;\n"
            "           the first of each connection is full: give --warmup)\n"
            "options:\n"
            "  -H, --host ADDR        server address (127.0.0.1); loopback only unless\n"
            "      --allow-remote\n"
            "  -p, --port N[,N...]    server port; several: connection i uses the port\n"
            "                         i mod count (fanout: the booker the first, the\n"
            "                         watchers the others), TCP modes only\n"
            "  -c, --conns N          connections (50); udp: requests outstanding on one socket\n"
            "  -n, --requests N       count bound of the measured phase (100000)\n"
            "  -d, --duration S       time bound of the measured phase (10)\n"
            "  -w, --warmup S         unrecorded load first (0)\n"
            "      --setup-timeout S  bound on connecting and logging in (60)\n"
            "  -u, --users N          users in the users file, user1..userN (100000)\n"
            "      --user-offset K    first user number to use (1)\n"
            "  -s, --slots M          race: slots fought for; gen: slots written (1000)\n"
            "      --slot-offset K    race: slots K+1..K+M (0)\n"
            "      --cancel           session: cancel the booking before closing\n"
            "      --direct           session: no available; book slot K+i for user i\n"
            "                         (K: --slot-offset), so every booking wins\n"
            "      --cycles B         fanout: book/cancel cycles (100)\n"
            "      --wait-pushes      fanout: the booker's next request waits until every\n"
            "                         watcher has the push of its last (delay, not rate)\n"
            "      --hold S           idle: seconds to hold the connections (2)\n"
            "      --no-auth          idle: do not log in (peers such as memcached)\n"
            "      --auth             line: log in first\n"
            "  -l, --line TEXT        request of line and idle (sent with CRLF), udp\n"
            "                         (default insurance1)\n"
            "      --expect PREFIX    a good reply starts with PREFIX\n"
            "      --memcached-udp    udp, amplify: memcached's UDP frame header (and CRLF)\n"
            "      --connect-burst N  connects in flight at once (256)\n"
            "      --server-pid PID   read the server's CPU and RSS from /proc/PID\n"
            "      --perf-ctl FIFO --perf-ack FIFO\n"
            "                         enable perf stat --control only while measuring\n"
            "      --dir DIR          gen: output folder\n"
            "      --tls              TCP modes: TLS 1.2/1.3 on every connection, the\n"
            "                         handshake before the measured requests\n"
            "      --tls-resume       --tls, resuming each connection's last session\n"
            "  -h, --help, -V, --version\n"
            "Prints one \"key value\" line per result, then RESULT key=value ... on one line.\n"
            "Exit status: 0 ok, 1 could not run, 2 errors or a failed check.\n");
}

/* Time n million rounds of a CPU-bound loop. */
static int
hcs_bench_spin(uint64_t n)
{
    volatile uint64_t x = 0;
    uint64_t t0 = bench_now(), i;
    double cpu0 = proc_self_cpu();

    for (i = 0; i < n * 1000000u; i++)
        x += i;
    report_kv("spin_ms", "%.1f", (double)(bench_now() - t0) / 1e6);
    report_kv("spin_cpu_ms", "%.1f", (proc_self_cpu() - cpu0) * 1e3);
    report_flush();
    return x == 0 && n > 1 ? 1 : 0;
}

/* Parse a whole number in [min, max]. Returns 0 or -1. */
static int
hcs_bench_uint(const char *s, unsigned long long min, unsigned long long max,
               unsigned long long *out)
{
    char *end;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' && *out >= min && *out <= max ? 0 : -1;
}

/* Parse a comma-separated list of ports into o. Returns 0 or -1. */
static int
hcs_bench_ports(const char *s, struct bench_opts *o)
{
    unsigned long long v;
    char buf[16];
    size_t len;

    o->nports = 0;
    for (;;) {
        len = strcspn(s, ",");
        if (len == 0 || len >= sizeof buf || o->nports == BENCH_MAXPORTS)
            return -1;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (hcs_bench_uint(buf, 0, 65535, &v) == -1)
            return -1;
        o->ports[o->nports++] = (unsigned)v;
        if (s[len] == '\0')
            break;
        s += len + 1;
    }
    o->port = o->ports[0];
    return 0;
}

/* Parse a number of seconds in [0, 3600]. Returns 0 or -1. */
static int
hcs_bench_secs(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && *out >= 0 && *out <= 3600 ? 0 : -1;
}

/* Parse the command line into o. Returns 0, or the exit status. */
static int
hcs_bench_args(int argc, char **argv, struct bench_opts *o)
{
    enum {
        OPT_SETUP = 256,
        OPT_USER_OFF,
        OPT_SLOT_OFF,
        OPT_CANCEL,
        OPT_DIRECT,
        OPT_CYCLES,
        OPT_WAITP,
        OPT_HOLD,
        OPT_NOAUTH,
        OPT_AUTH,
        OPT_EXPECT,
        OPT_MCUDP,
        OPT_BURST,
        OPT_PID,
        OPT_PCTL,
        OPT_PACK,
        OPT_DIR,
        OPT_REMOTE,
        OPT_DPORT,
        OPT_DAUTH,
        OPT_TLS,
        OPT_TLS_RESUME,
    };
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, 'm'},
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"conns", required_argument, NULL, 'c'},
        {"requests", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"setup-timeout", required_argument, NULL, OPT_SETUP},
        {"users", required_argument, NULL, 'u'},
        {"user-offset", required_argument, NULL, OPT_USER_OFF},
        {"slots", required_argument, NULL, 's'},
        {"slot-offset", required_argument, NULL, OPT_SLOT_OFF},
        {"cancel", no_argument, NULL, OPT_CANCEL},
        {"direct", no_argument, NULL, OPT_DIRECT},
        {"cycles", required_argument, NULL, OPT_CYCLES},
        {"wait-pushes", no_argument, NULL, OPT_WAITP},
        {"hold", required_argument, NULL, OPT_HOLD},
        {"no-auth", no_argument, NULL, OPT_NOAUTH},
        {"auth", no_argument, NULL, OPT_AUTH},
        {"line", required_argument, NULL, 'l'},
        {"expect", required_argument, NULL, OPT_EXPECT},
        {"memcached-udp", no_argument, NULL, OPT_MCUDP},
        {"connect-burst", required_argument, NULL, OPT_BURST},
        {"server-pid", required_argument, NULL, OPT_PID},
        {"perf-ctl", required_argument, NULL, OPT_PCTL},
        {"perf-ack", required_argument, NULL, OPT_PACK},
        {"dir", required_argument, NULL, OPT_DIR},
        {"allow-remote", no_argument, NULL, OPT_REMOTE},
        {"desk-port", required_argument, NULL, OPT_DPORT},
        {"desk-auth", required_argument, NULL, OPT_DAUTH},
        {"tls", no_argument, NULL, OPT_TLS},
        {"tls-resume", no_argument, NULL, OPT_TLS_RESUME},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    unsigned long long v;
    int ch, have_mode = 0;
    size_t i;

    while ((ch = getopt_long(argc, argv, "+m:H:p:c:n:d:w:u:s:l:hV", longopts, NULL)) != -1) {
        int bad = 0;

        switch (ch) {
        case 'm':
            for (i = 0; i < sizeof hcs_bench_modes / sizeof hcs_bench_modes[0]; i++)
                if (strcmp(optarg, hcs_bench_modes[i].name) == 0)
                    break;
            if (i == sizeof hcs_bench_modes / sizeof hcs_bench_modes[0]) {
                fprintf(stderr, "hcs-bench: unknown mode '%s'\n", optarg);
                return 1;
            }
            o->mode = hcs_bench_modes[i].mode;
            have_mode = 1;
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            bad = hcs_bench_ports(optarg, o);
            break;
        case 'c':
            bad = hcs_bench_uint(optarg, 1, 100000, &v);
            o->conns = (unsigned)v;
            break;
        case 'n':
            bad = hcs_bench_uint(optarg, 1, 1000000000ull, &v);
            o->requests = v;
            break;
        case 'd':
            bad = hcs_bench_secs(optarg, &o->duration);
            break;
        case 'w':
            bad = hcs_bench_secs(optarg, &o->warmup);
            break;
        case OPT_SETUP:
            bad = hcs_bench_secs(optarg, &o->setup_timeout);
            break;
        case 'u':
            bad = hcs_bench_uint(optarg, 0, 100000000, &v);
            o->users = (uint32_t)v;
            break;
        case OPT_USER_OFF:
            bad = hcs_bench_uint(optarg, 1, 100000000, &v);
            o->user_offset = (uint32_t)v;
            break;
        case 's':
            bad = hcs_bench_uint(optarg, 0, 100000000, &v);
            o->slots = (uint32_t)v;
            break;
        case OPT_SLOT_OFF:
            bad = hcs_bench_uint(optarg, 0, 100000000, &v);
            o->slot_offset = (uint32_t)v;
            break;
        case OPT_CANCEL:
            o->cancel = 1;
            break;
        case OPT_DIRECT:
            o->direct = 1;
            break;
        case OPT_CYCLES:
            bad = hcs_bench_uint(optarg, 1, 10000000, &v);
            o->cycles = (uint32_t)v;
            break;
        case OPT_WAITP:
            o->wait_pushes = 1;
            break;
        case OPT_HOLD:
            bad = hcs_bench_secs(optarg, &o->hold);
            o->hold_set = 1;
            break;
        case OPT_DPORT:
            bad = hcs_bench_uint(optarg, 1, 65535, &v);
            o->desk_port = (unsigned)v;
            break;
        case OPT_DAUTH:
            o->desk_auth = optarg;
            break;
        case OPT_TLS:
            o->tls = 1;
            break;
        case OPT_TLS_RESUME:
            o->tls = o->tls_resume = 1;
            break;
        case OPT_NOAUTH:
            o->auth = 0;
            break;
        case OPT_AUTH:
            o->auth = 1;
            break;
        case 'l':
            o->line = optarg;
            break;
        case OPT_EXPECT:
            o->expect = optarg;
            break;
        case OPT_MCUDP:
            o->mc_udp = 1;
            break;
        case OPT_BURST:
            bad = hcs_bench_uint(optarg, 1, 100000, &v);
            o->connect_burst = (unsigned)v;
            break;
        case OPT_PID:
            bad = hcs_bench_uint(optarg, 1, 4194304, &v);
            o->server_pid = (pid_t)v;
            break;
        case OPT_PCTL:
            o->perf_ctl = optarg;
            break;
        case OPT_PACK:
            o->perf_ack = optarg;
            break;
        case OPT_DIR:
            o->dir = optarg;
            break;
        case OPT_REMOTE:
            o->allow_remote = 1;
            break;
        case 'h':
            hcs_bench_usage(stdout);
            return -1;
        case 'V':
            printf("hcs-bench %s\n", HCS_VERSION);
            return -1;
        default:
            hcs_bench_usage(stderr);
            return 1;
        }
        if (bad) {
            fprintf(stderr, "hcs-bench: bad value '%s' for option -%c\n", optarg,
                    ch < 256 ? ch : '-');
            return 1;
        }
    }
    if (!have_mode) {
        hcs_bench_usage(stderr);
        return 1;
    }
    if (o->mode == MODE_STARTUP)
        o->cmd = argv + optind;
    else if (optind != argc) {
        fprintf(stderr, "hcs-bench: unexpected argument '%s'\n", argv[optind]);
        return 1;
    }
    if ((o->perf_ctl == NULL) != (o->perf_ack == NULL)) {
        fprintf(stderr, "hcs-bench: --perf-ctl and --perf-ack go together\n");
        return 1;
    }
    return 0;
}

/* Fill in what depends on the mode and check the combination. Returns 0 or 1. */
static int
hcs_bench_settle(struct bench_opts *o)
{
    int needs_port = o->mode != MODE_STARTUP && o->mode != MODE_GEN && o->mode != MODE_FREEPORT &&
                     o->mode != MODE_SPIN;
    int tcp = o->mode == MODE_SESSION || o->mode == MODE_LIST || o->mode == MODE_LINE ||
              o->mode == MODE_IDLE || o->mode == MODE_RACE || o->mode == MODE_FANOUT ||
              o->mode == MODE_TLS_HS;
    unsigned i;

    if (o->nports == 0) {
        o->ports[0] = o->port;
        o->nports = 1;
    }
    for (i = 0; needs_port && i < o->nports; i++) {
        if (o->ports[i] == 0) {
            fprintf(stderr, "hcs-bench: --port is required (and not 0)\n");
            return 1;
        }
    }
    if (o->nports > 1 && !tcp) {
        fprintf(stderr, "hcs-bench: several ports are for the TCP modes\n");
        return 1;
    }
    if (o->nports > 1 && o->server_pid > 0) {
        fprintf(stderr, "hcs-bench: --server-pid reads one server: give one port\n");
        return 1;
    }
    if ((o->tls && !tcp) || (o->mode == MODE_TLS_HS && !o->tls)) {
        fprintf(stderr, "hcs-bench: --tls is for the TCP modes, and handshake needs it\n");
        return 1;
    }
    if (o->mode == MODE_TLS_HS)
        o->auth = 0;
    if (o->direct && o->mode != MODE_SESSION) {
        fprintf(stderr, "hcs-bench: --direct is for session\n");
        return 1;
    }
    if (o->auth == -1)
        o->auth = o->mode != MODE_LINE && o->mode != MODE_UDP && o->mode != MODE_AMPLIFY;
    if (o->mode == MODE_LINE && o->line == NULL) {
        fprintf(stderr, "hcs-bench: line mode needs --line\n");
        return 1;
    }
    if (o->mode == MODE_UDP && o->line == NULL)
        o->line = "insurance1";
    if (o->mode == MODE_SESSION) {
        o->auth = 1;
        if (o->users < o->user_offset) {
            fprintf(stderr, "hcs-bench: --users must cover --user-offset\n");
            return 1;
        }
        o->users = o->users - o->user_offset + 1; /* users this run may use */
        if (!o->cancel && o->requests > o->users)
            o->requests = o->users; /* one booking per user */
    }
    if ((o->mode == MODE_RACE || o->mode == MODE_FANOUT || o->mode == MODE_LIST) && !o->auth) {
        fprintf(stderr, "hcs-bench: this mode logs in\n");
        return 1;
    }
    if (o->mode == MODE_RACE && o->slots == 0) {
        fprintf(stderr, "hcs-bench: race needs --slots\n");
        return 1;
    }
    return 0;
}

/* Parse the options, raise the open-file limit, run the mode. */
int
main(int argc, char **argv)
{
    struct bench_opts o;
    struct sockaddr_storage ss;
    socklen_t sslen;
    char err[256];
    long nofile;
    int rc;

    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.conns = 50;
    o.requests = 100000;
    o.duration = 10;
    o.setup_timeout = 60;
    o.users = 100000;
    o.user_offset = 1;
    o.slots = 1000;
    o.auth = -1;
    o.cycles = 100;
    o.hold = 2;
    o.connect_burst = 256;
    if ((rc = hcs_bench_args(argc, argv, &o)) != 0)
        return rc == -1 ? 0 : rc;
    if (hcs_bench_settle(&o) != 0)
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    nofile = proc_raise_nofile();
    if (nofile != -1 && (unsigned long)nofile < (unsigned long)o.conns + 16) {
        fprintf(stderr, "hcs-bench: open-file limit %ld is below --conns %u\n", nofile, o.conns);
        return 1;
    }
    if (o.mode != MODE_GEN && o.mode != MODE_FREEPORT && o.mode != MODE_PING)
        report_kv("mode", "%s", hcs_bench_mode_name(o.mode));
    switch (o.mode) {
    case MODE_GEN:
        return gen_run(&o);
    case MODE_FREEPORT:
        return addr_freeport();
    case MODE_SPIN:
        return hcs_bench_spin(o.requests);
    case MODE_STARTUP:
        return startup_run(&o);
    case MODE_PING:
        if (addr_resolve(o.host, o.port, o.allow_remote, &ss, &sslen, err, sizeof err) == -1) {
            fprintf(stderr, "hcs-bench: %s\n", err);
            return 1;
        }
        return addr_ping(&ss, sslen, o.duration);
    case MODE_UDP:
        return udp_run(&o);
    case MODE_AMPLIFY:
        return udp_amplify_run(&o);
    case MODE_EVENTS:
        return events_run(&o);
    default:
        return tcp_run(&o);
    }
}
