/* gen.c: write a benchmark data set: users (user<i> pw<i>), slots, and the config files of
 * a center and a doctor on ports the caller chooses (0: the kernel picks). */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Open dir/name for writing. */
static FILE *
gen_open(const char *dir, const char *name, char *path, size_t len)
{
    FILE *fp;

    snprintf(path, len, "%s/%s", dir, name);
    if ((fp = fopen(path, "w")) == NULL)
        fprintf(stderr, "hcs-bench: %s: %s\n", path, strerror(errno));
    return fp;
}

/* Close a written file, reporting a write error. Returns 0 or -1. */
static int
gen_close(FILE *fp, const char *path)
{
    if (ferror(fp) | fclose(fp)) {
        fprintf(stderr, "hcs-bench: %s: write error\n", path);
        return -1;
    }
    return 0;
}

/* Write the data set into o->dir. */
int
gen_run(const struct bench_opts *o)
{
    static const char *days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *times[] = {"09am", "10am", "11am", "12pm", "01pm", "02pm", "03pm", "04pm"};
    char path[4096];
    uint32_t i;
    FILE *fp;

    if (o->dir == NULL) {
        fprintf(stderr, "hcs-bench: gen needs --dir\n");
        return 1;
    }
    if (mkdir(o->dir, 0755) == -1 && errno != EEXIST) {
        fprintf(stderr, "hcs-bench: %s: %s\n", o->dir, strerror(errno));
        return 1;
    }
    if ((fp = gen_open(o->dir, "users.txt", path, sizeof path)) == NULL)
        return 1;
    chmod(path, 0600);
    for (i = 1; i <= o->users; i++)
        fprintf(fp, "user%u pw%u\n", i, i);
    if (gen_close(fp, path) == -1)
        return 1;
    if (o->slots > 0) {
        if ((fp = gen_open(o->dir, "availabilities.txt", path, sizeof path)) == NULL)
            return 1;
        for (i = 1; i <= o->slots; i++)
            fprintf(fp, "%u %s %s doc%u %u\n", i, days[i % 7], times[(i / 7) % 8], 1 + i % 2,
                    41000 + i % 2 * 1000);
        if (gen_close(fp, path) == -1)
            return 1;
    }
    if ((fp = gen_open(o->dir, "center.conf", path, sizeof path)) == NULL)
        return 1;
    fprintf(fp,
            "; hcs-bench data set: %u users, %s\n"
            "[center]\nlisten = 127.0.0.1\nport = 0\nusers = users.txt\n"
            "availabilities = availabilities.txt\nmax_clients = 19000\n"
            "max_clients_per_address = 19000\nmax_line = 512\n"
            "idle_timeout = 300\nauth_timeout = 30\nmax_output = 1048576\n",
            o->users, o->slots > 0 ? "generated slots" : "slots supplied");
    if (gen_close(fp, path) == -1)
        return 1;
    if ((fp = gen_open(o->dir, "doc1.txt", path, sizeof path)) == NULL)
        return 1;
    fprintf(fp, "insurance1 30\ninsurance2 20\ninsurance3 50\n");
    if (gen_close(fp, path) == -1)
        return 1;
    if ((fp = gen_open(o->dir, "doctor1.conf", path, sizeof path)) == NULL)
        return 1;
    fprintf(fp, "[doctor]\nid = 1\nname = doc1\nlisten = 127.0.0.1\nport = %u\nprices = doc1.txt\n",
            o->port);
    return gen_close(fp, path) == -1 ? 1 : 0;
}
