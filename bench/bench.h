/* bench.h: hcs-bench, the load generator: its options and its modes. */
#ifndef HCS_BENCH_H
#define HCS_BENCH_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define BENCH_MAXPORTS 16 /* servers one run spreads its connections over (-p P1,P2,...) */

enum bench_mode {
    MODE_SESSION,  /* connect, authenticate, available, selection, close */
    MODE_LIST,     /* authenticate once, then loop available */
    MODE_LINE,     /* one fixed request line, one reply line */
    MODE_IDLE,     /* hold N authenticated connections; server RSS per connection */
    MODE_RACE,     /* N patients book M slots at the same instant */
    MODE_FANOUT,   /* W waiting patients receive pushes while one books and cancels */
    MODE_UDP,      /* closed-loop insurance queries against a doctor */
    MODE_STARTUP,  /* start a server, time it until it listens, read its RSS */
    MODE_GEN,      /* write a data set: users, slots, config files */
    MODE_PING,     /* wait until a TCP port accepts */
    MODE_FREEPORT, /* print a free loopback port */
    MODE_SPIN,     /* a fixed CPU-bound loop: does a CPU run as fast with the other busy? */
    MODE_EVENTS,   /* desk event streams time each booking's event */
    MODE_AMPLIFY,  /* the worst reply/request byte ratio of a UDP server */
    MODE_TLS_HS,   /* --tls: connect, handshake, close; repeat (handshakes per second) */
};

/* The command line, with its defaults set by main. */
struct bench_opts {
    enum bench_mode mode;
    const char *host;       /* -H: numeric address, loopback unless allow_remote */
    unsigned port;          /* -p: the first (or only) port */
    int allow_remote;       /* --allow-remote */
    unsigned conns;         /* -c: connections (race: patients, fanout: watchers) */
    uint64_t requests;      /* -n: count bound of the measured phase */
    double duration;        /* -d: time bound of the measured phase, seconds */
    double warmup;          /* -w: seconds of unrecorded load before measuring */
    double setup_timeout;   /* --setup-timeout: seconds to connect and log in */
    uint32_t users;         /* -u: users in the file (user1 .. userN) */
    uint32_t user_offset;   /* --user-offset: first user number used */
    uint32_t slots;         /* -s: race: slots fought for; gen: slots written */
    uint32_t slot_offset;   /* --slot-offset: race: the first slot is this + 1 */
    int cancel;             /* --cancel: session cancels its booking before closing */
    int direct;             /* --direct: session books slot <user number>, no available */
    int auth;               /* 1: log in first; 0: not (--no-auth); -1: mode default */
    const char *line;       /* -l: the request of line, idle and udp */
    const char *expect;     /* --expect: a good reply starts with this */
    int mc_udp;             /* --memcached-udp: udp, amplify: memcached's 8-byte frame header */
    uint32_t cycles;        /* --cycles: fanout book/cancel cycles */
    int wait_pushes;        /* --wait-pushes: fanout: each change waits for the last's pushes */
    double hold;            /* --hold: idle seconds to hold the connections */
    int hold_set;           /* --hold given (events: only hold the streams) */
    unsigned desk_port;     /* --desk-port: the reception desk's HTTP port (events) */
    const char *desk_auth;  /* --desk-auth user:password: HTTP Basic for the desk */
    unsigned connect_burst; /* --connect-burst: connects in flight at once */
    pid_t server_pid;       /* --server-pid: read CPU and memory of this process */
    const char *perf_ctl;   /* --perf-ctl: perf stat --control FIFO to enable/disable */
    const char *perf_ack;   /* --perf-ack: its acknowledgement FIFO */
    const char *dir;        /* --dir: gen output folder */
    char **cmd;             /* startup: the server's command line (after --) */
    /* -p P1,P2,...: every port; connection i uses ports[i % nports] (fanout: tcp_port_of) */
    unsigned ports[BENCH_MAXPORTS];
    unsigned nports;
    int tls;        /* --tls: every TCP connection speaks TLS (tlsc.c) */
    int tls_resume; /* --tls-resume: resume the first session a server gave */
};

/* Nanoseconds on the monotonic clock. */
static inline uint64_t
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The modes; each returns the exit status (0 ok, 1 could not run, 2 errors seen). */
int tcp_run(const struct bench_opts *o);
int udp_run(const struct bench_opts *o);
int udp_amplify_run(const struct bench_opts *o);
int startup_run(const struct bench_opts *o);
int gen_run(const struct bench_opts *o);
int events_run(const struct bench_opts *o);

#endif
