/*
 * fuzz_config.c: the INI loaders of center.conf, doctorN.conf and
 * patientN.conf on the same file. A file that loads gives every required key
 * a value in its range; one that does not says "file:..." and frees cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char fuzz_path[4096];
static int fuzz_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Remove the temporary file at exit. */
static void
fuzz_cleanup(void)
{
    if (fuzz_fd != -1) {
        close(fuzz_fd);
        unlink(fuzz_path);
    }
}

/* Make the one temporary file every run rewrites. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");

    (void)argc;
    (void)argv;
    if (tmp == NULL || *tmp != '/')
        tmp = "/tmp";
    snprintf(fuzz_path, sizeof fuzz_path, "%s/hcs-fuzz-config-XXXXXX", tmp);
    if ((fuzz_fd = mkstemp(fuzz_path)) == -1) {
        perror("fuzz_config: mkstemp");
        abort();
    }
    atexit(fuzz_cleanup);
    config_set_resolve(0);
    return 0;
}

/* A failed load names the file first on every line of its message. */
static void
fuzz_check_error(const char *err, size_t errlen)
{
    size_t pl = strlen(fuzz_path);
    const char *p = err, *nl;

    if (memchr(err, '\0', errlen) == NULL)
        abort();
    for (;;) {
        if (strncmp(p, fuzz_path, pl) != 0 || p[pl] != ':' || p[pl + 1] == '\0' ||
            p[pl + 1] == '\n')
            abort();
        if ((nl = strchr(p, '\n')) == NULL)
            break;
        p = nl + 1;
    }
}

/* Whether a loaded path was resolved against the config file's folder (which is absolute). */
static int
fuzz_path_ok(const char *p)
{
    return p != NULL && p[0] == '/';
}

/* center.conf */
static void
fuzz_center(void)
{
    struct center_config c;
    char err[512] = "";

    if (config_load_center(&c, fuzz_path, err, sizeof err) == -1) {
        fuzz_check_error(err, sizeof err);
    } else if (c.path == NULL || strcmp(c.path, fuzz_path) != 0 || c.listen == NULL ||
               c.listen[0] == '\0' || !fuzz_path_ok(c.users) || !fuzz_path_ok(c.availabilities) ||
               c.port > 65535 || c.max_clients < 1 || c.max_clients > 1000000 || c.max_line < 64 ||
               c.max_line > 65536 || c.idle_timeout < 1 || c.idle_timeout > 86400 ||
               c.auth_timeout < 1 || c.auth_timeout > 86400 || c.max_output < 4096 ||
               c.max_output > (1u << 30)) {
        abort();
    }
    config_free_center(&c);
}

/* doctorN.conf */
static void
fuzz_doctor(void)
{
    struct doctor_config c;
    char err[512] = "";

    if (config_load_doctor(&c, fuzz_path, err, sizeof err) == -1) {
        fuzz_check_error(err, sizeof err);
    } else if (c.path == NULL || c.id < 1 || c.id > 1000000 || c.name == NULL ||
               c.name[0] == '\0' || c.listen == NULL || c.listen[0] == '\0' ||
               !fuzz_path_ok(c.prices) || c.port > 65535) {
        abort();
    }
    config_free_doctor(&c);
}

/* patientN.conf */
static void
fuzz_patient(void)
{
    struct patient_config c;
    char err[512] = "";

    if (config_load_patient(&c, fuzz_path, err, sizeof err) == -1) {
        fuzz_check_error(err, sizeof err);
    } else if (c.path == NULL || c.id < 1 || c.id > 1000000 || c.center_host == NULL ||
               c.center_host[0] == '\0' || c.doctor_host == NULL || c.doctor_host[0] == '\0' ||
               c.center_port < 1 || c.center_port > 65535 || !fuzz_path_ok(c.credentials) ||
               !fuzz_path_ok(c.insurance) || c.timeout_ms < 1 || c.timeout_ms > 3600000 ||
               c.udp_retries > 100) {
        abort();
    }
    config_free_patient(&c);
}

/* One run: the input as each of the three config files. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fuzz_fd, 0) == -1 ||
        (size > 0 && pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz_config: write");
        abort();
    }
    fuzz_center();
    fuzz_doctor();
    fuzz_patient();
    return 0;
}
