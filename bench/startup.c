/* startup.c: start a server, time it until it prints its listening line, read its memory,
 * and stop it with SIGTERM. */
#include "bench.h"
#include "proc.h"
#include "report.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define STARTUP_READY "port number" /* the start-up line of hcs and doctor says this */
#define STARTUP_STOP_NS 10000000000ull

/* Wait (bounded) for the child to exit; kill it after the bound. Returns its status. */
static int
startup_reap(pid_t pid, uint64_t *stopped)
{
    uint64_t end = bench_now() + STARTUP_STOP_NS;
    int status;

    while (bench_now() < end) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            *stopped = bench_now();
            return status;
        }
        if (r == -1 && errno != EINTR) {
            *stopped = bench_now();
            return -1;
        }
        poll(NULL, 0, 5);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    *stopped = bench_now();
    return -1;
}

/* Run the startup mode: o->cmd is the server's command line. */
int
startup_run(const struct bench_opts *o)
{
    char buf[4096];
    size_t have = 0;
    uint64_t t0, t1 = 0, t2, t3 = 0, end;
    struct proc_cpu cpu;
    long rss, hwm;
    int fds[2], status, ready = 0;
    pid_t pid;

    if (o->cmd == NULL || o->cmd[0] == NULL) {
        fprintf(stderr, "hcs-bench: startup needs the server command after --\n");
        return 1;
    }
    if (pipe(fds) == -1)
        return 1;
    t0 = bench_now();
    if ((pid = fork()) == -1) {
        close(fds[0]);
        close(fds[1]);
        return 1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(o->cmd[0], o->cmd);
        fprintf(stderr, "hcs-bench: %s: %s\n", o->cmd[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    end = t0 + (uint64_t)(o->duration * 1e9);
    while (!ready && bench_now() < end) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        ssize_t n;

        if (poll(&pfd, 1, 100) <= 0)
            continue;
        if ((n = read(fds[0], buf + have, sizeof buf - 1 - have)) <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        if (strstr(buf, STARTUP_READY) != NULL && strchr(buf, '\n') != NULL) {
            t1 = bench_now();
            ready = 1;
        }
        if (have == sizeof buf - 1)
            have = 0;
    }
    rss = proc_status_kib(pid, "VmRSS");
    hwm = proc_status_kib(pid, "VmHWM");
    proc_cpu(pid, &cpu);
    t2 = bench_now();
    kill(pid, SIGTERM);
    status = startup_reap(pid, &t3);
    close(fds[0]);
    report_kv("ready", "%s", ready ? "yes" : "no");
    report_kv("startup_ms", "%.1f", ready ? (double)(t1 - t0) / 1e6 : -1.0);
    report_kv("rss_kib", "%ld", rss);
    report_kv("hwm_kib", "%ld", hwm);
    report_kv("startup_cpu_ms", "%.0f",
              cpu.ok ? (double)cpu.ticks * 1e3 / (double)sysconf(_SC_CLK_TCK) : -1.0);
    report_kv("stop_ms", "%.1f", (double)(t3 - t2) / 1e6);
    report_kv("exit_status", "%d", status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    report_flush();
    return ready && status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 2;
}
