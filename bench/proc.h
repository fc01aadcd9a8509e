/* proc.h: what /proc and getrusage tell about a server process and about us. */
#ifndef HCS_BENCH_PROC_H
#define HCS_BENCH_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* CPU a process has used: user+system clock ticks (/proc/PID/stat) and, more
 * finely, the nanoseconds its threads ran (/proc/PID/task/x/schedstat). */
struct proc_cpu {
    int ok;
    uint64_t ticks;
    uint64_t ns; /* 0 when schedstat is not available */
};

/* Read the CPU used by pid so far. Returns 0 or -1. */
int proc_cpu(pid_t pid, struct proc_cpu *out);
/* Microseconds of CPU between two readings, from the ticks. */
double proc_cpu_us(const struct proc_cpu *a, const struct proc_cpu *b);
/* A "Field:  N kB" line of /proc/PID/status in KiB ("VmRSS", "VmHWM"), or -1. */
long proc_status_kib(pid_t pid, const char *field);
/* Seconds of CPU (user + system) this process has used. */
double proc_self_cpu(void);
/* Raise the open-file limit to the hard limit; returns the soft limit now. */
long proc_raise_nofile(void);

#endif
