/* proc.c: CPU and memory of a process from /proc, our own CPU from getrusage. */
#include "proc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Sum the run time of every thread of pid, in nanoseconds (0 if unknown). */
static uint64_t
proc_sched_ns(pid_t pid)
{
    char path[64];
    struct dirent *de;
    uint64_t sum = 0;
    DIR *d;

    snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
    if ((d = opendir(path)) == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char file[400];
        unsigned long long ns;
        FILE *fp;

        if (de->d_name[0] == '.')
            continue;
        snprintf(file, sizeof file, "%s/%s/schedstat", path, de->d_name);
        if ((fp = fopen(file, "r")) == NULL)
            continue;
        if (fscanf(fp, "%llu", &ns) == 1)
            sum += ns;
        fclose(fp);
    }
    closedir(d);
    return sum;
}

/* Read utime + stime of pid (fields 14 and 15 of /proc/PID/stat) and its run time. */
int
proc_cpu(pid_t pid, struct proc_cpu *out)
{
    char path[64], buf[1024], *p;
    unsigned long long utime, stime;
    size_t n;
    FILE *fp;

    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if ((fp = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: start after the last ')'. */
    if ((p = strrchr(buf, ')')) == NULL)
        return -1;
    /* After ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt(13) utime(14) stime(15). */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return -1;
    out->ticks = utime + stime;
    out->ns = proc_sched_ns(pid);
    out->ok = 1;
    return 0;
}

/* Microseconds of CPU between two readings, from the ticks. */
double
proc_cpu_us(const struct proc_cpu *a, const struct proc_cpu *b)
{
    long hz = sysconf(_SC_CLK_TCK);

    if (!a->ok || !b->ok || hz <= 0)
        return -1.0;
    return (double)(b->ticks - a->ticks) * 1e6 / (double)hz;
}

/* A "Field: N kB" line of /proc/PID/status, in KiB. */
long
proc_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    long kib = -1;
    FILE *fp;

    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    if ((fp = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof line, fp) != NULL) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
            kib = strtol(line + flen + 1, NULL, 10);
            break;
        }
    }
    fclose(fp);
    return kib;
}

/* Seconds of CPU this process has used. */
double
proc_self_cpu(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) == -1)
        return 0.0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Raise the open-file limit to the hard limit. */
long
proc_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
}
