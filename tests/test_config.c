/* test_config.c: center, doctor and patient INI files written to a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <ini.h>

#include "config.h"

/* The temporary folder of one test, and the last path and message built. */
struct tmp {
    char dir[64];
    char path[256];
    char want[1024];
    char err[4096];
};

/* Make a fresh folder for the test's files. */
static int
setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);

    if (t == NULL)
        return -1;
    strcpy(t->dir, "/tmp/hcs-test-config-XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

/* Remove the folder, its files and any empty folder in it. */
static int
teardown(void **state)
{
    struct tmp *t = *state;
    struct dirent *de;
    DIR *d = opendir(t->dir);
    char path[512];

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", t->dir, de->d_name);
            if (unlink(path) == -1)
                rmdir(path);
        }
        closedir(d);
    }
    rmdir(t->dir);
    free(t);
    return 0;
}

/* The path of name inside the test's folder (kept in t->path). */
static const char *
tpath(struct tmp *t, const char *name)
{
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
    return t->path;
}

/* Write text to name in the test's folder; returns its path. */
static const char *
twrite(struct tmp *t, const char *name, const char *text)
{
    FILE *fp = fopen(tpath(t, name), "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    return t->path;
}

/* "<dir>/<rest>": an expected message or path (kept in t->want). */
static const char *
twant(struct tmp *t, const char *rest)
{
    snprintf(t->want, sizeof t->want, "%s/%s", t->dir, rest);
    return t->want;
}

/* Load text as center.conf; the config is freed whatever happened. */
static int
center_text(struct tmp *t, const char *text)
{
    struct center_config c;
    int rc;

    t->err[0] = '\0';
    rc = config_load_center(&c, twrite(t, "center.conf", text), t->err, sizeof t->err);
    config_free_center(&c);
    return rc;
}

/* Check that text as center.conf fails with "<dir>/center.conf<rest>". */
static void
center_fails(struct tmp *t, const char *text, const char *rest)
{
    char want[512];

    snprintf(want, sizeof want, "center.conf%s", rest);
    assert_int_equal(center_text(t, text), -1);
    assert_string_equal(t->err, twant(t, want));
}

/*
 * Check that text as center.conf fails with these errors, one per line, each
 * "<dir>/center.conf<rest>" (the NULL-terminated rests, in order).
 */
static void
center_fails_all(struct tmp *t, const char *text, ...)
{
    char want[4096], one[512];
    const char *rest;
    va_list ap;

    want[0] = '\0';
    va_start(ap, text);
    while ((rest = va_arg(ap, const char *)) != NULL) {
        snprintf(one, sizeof one, "%s%s/center.conf%s", want[0] != '\0' ? "\n" : "", t->dir, rest);
        strcat(want, one);
    }
    va_end(ap);
    assert_int_equal(center_text(t, text), -1);
    assert_string_equal(t->err, want);
}

#define CENTER_MIN "[center]\nusers = users.txt\navailabilities = availabilities.txt\n"

/* Only the two files given: every other key has its default. */
static void
test_center_defaults(void **state)
{
    struct tmp *t = *state;
    struct center_config c;

    assert_int_equal(
        config_load_center(&c, twrite(t, "center.conf", CENTER_MIN), t->err, sizeof t->err), 0);
    assert_string_equal(c.path, twant(t, "center.conf"));
    assert_string_equal(c.listen, "127.0.0.1");
    assert_int_equal(c.port, 21000);
    assert_string_equal(c.users, twant(t, "users.txt"));
    assert_string_equal(c.availabilities, twant(t, "availabilities.txt"));
    assert_int_equal(c.max_clients, 10000);
    assert_int_equal(c.max_line, 512);
    assert_int_equal(c.idle_timeout, 300);
    assert_int_equal(c.auth_timeout, 30);
    assert_int_equal(c.max_output, 1048576);
    config_free_center(&c);
    assert_null(c.path);
    assert_null(c.users);
}

/* Every key is read; absolute paths are kept; comments and CRLF are fine. */
static void
test_center_every_key(void **state)
{
    struct tmp *t = *state;
    struct center_config c;

    twrite(t, "center.conf",
           "; the center\r\n"
           "# another comment\r\n"
           "[center]\r\n"
           "listen = ::1\r\n"
           "port=0\r\n"
           "users   =   data/users.txt   \r\n"
           "availabilities = /srv/hcs/availabilities.txt ; inline comment\r\n"
           "max_clients = 1\r\n"
           "max_line = 65536\r\n"
           "idle_timeout = 86400\r\n"
           "auth_timeout = 1\r\n"
           "max_output = 1073741824\r\n");
    assert_int_equal(config_load_center(&c, tpath(t, "center.conf"), t->err, sizeof t->err), 0);
    assert_string_equal(c.listen, "::1");
    assert_int_equal(c.port, 0);
    assert_string_equal(c.users, twant(t, "data/users.txt"));
    assert_string_equal(c.availabilities, "/srv/hcs/availabilities.txt");
    assert_int_equal(c.max_clients, 1);
    assert_int_equal(c.max_line, 65536);
    assert_int_equal(c.idle_timeout, 86400);
    assert_int_equal(c.auth_timeout, 1);
    assert_int_equal(c.max_output, 1073741824);
    config_free_center(&c);
}

/* state is a path relative to the config, or none; durability is a word. */
static void
test_center_state(void **state)
{
    struct tmp *t = *state;
    struct center_config c;

    twrite(t, "center.conf", CENTER_MIN);
    assert_int_equal(config_load_center(&c, tpath(t, "center.conf"), t->err, sizeof t->err), 0);
    assert_null(c.state);
    assert_int_equal(c.durability, CONFIG_DURABILITY_NORMAL);
    config_free_center(&c);

    twrite(t, "center.conf", CENTER_MIN "state = db/state.db\ndurability = full\n");
    assert_int_equal(config_load_center(&c, tpath(t, "center.conf"), t->err, sizeof t->err), 0);
    assert_string_equal(c.state, twant(t, "db/state.db"));
    assert_int_equal(c.durability, CONFIG_DURABILITY_FULL);
    config_free_center(&c);

    twrite(t, "center.conf", CENTER_MIN "state = none\ndurability = normal\n");
    assert_int_equal(config_load_center(&c, tpath(t, "center.conf"), t->err, sizeof t->err), 0);
    assert_null(c.state);
    assert_int_equal(c.durability, CONFIG_DURABILITY_NORMAL);
    config_free_center(&c);

    center_fails(t, CENTER_MIN "durability = fsync\n",
                 ":4: durability must be one of: normal full");
    center_fails(t, CENTER_MIN "durability = Full\n", ":4: durability must be one of: normal full");
    center_fails(t, CENTER_MIN "state =\n", ":4: state is empty");
}

/* store chooses the backend: sqlite when a state file is named, else memory, unless said. */
static void
test_center_store(void **state)
{
    struct tmp *t = *state;
    struct center_config c;

    twrite(t, "center.conf", CENTER_MIN);
    assert_int_equal(config_load_center(&c, tpath(t, "center.conf"), t->err, sizeof t->err), 0);
    assert_int_equal(c.store, CONFIG_STORE_MEMORY);
    config_free_center(&c);

    twrite(t, "center.conf", CENTER_MIN "state = s.db\n");
    assert_int_equal(config_load_center(&c, tpath(t, "center.conf"), t->err, sizeof t->err), 0);
    assert_int_equal(c.store, CONFIG_STORE_SQLITE);
    config_free_center(&c);

    twrite(t, "center.conf", CENTER_MIN "store = sqlite\nstate = s.db\n");
    assert_int_equal(config_load_center(&c, tpath(t, "center.conf"), t->err, sizeof t->err), 0);
    assert_int_equal(c.store, CONFIG_STORE_SQLITE);
    config_free_center(&c);

    twrite(t, "center.conf", CENTER_MIN "store = memory\n");
    assert_int_equal(config_load_center(&c, tpath(t, "center.conf"), t->err, sizeof t->err), 0);
    assert_int_equal(c.store, CONFIG_STORE_MEMORY);
    config_free_center(&c);

    center_fails(t, CENTER_MIN "store = sqlite\n",
                 ": store = sqlite needs a state file (state = <file>)");
    center_fails(t, CENTER_MIN "store = memory\nstate = s.db\n",
                 ": state names a file, but store = memory keeps none");
    center_fails(t, CENTER_MIN "store = postgres\n",
                 ":4: store must be one of: memory sqlite postgresql");
}

/* A center.conf given as text loads like the same file. */
static void
test_center_text(void **state)
{
    struct center_config c;
    char err[256];

    (void)state;
    assert_int_equal(config_load_center_text(&c, "/etc/hcs/center.conf",
                                             CENTER_MIN "port = 0\nstate = s.db\n", err,
                                             sizeof err),
                     0);
    assert_int_equal(c.port, 0);
    assert_string_equal(c.users, "/etc/hcs/users.txt");
    assert_string_equal(c.state, "/etc/hcs/s.db");
    config_free_center(&c);
    assert_int_equal(
        config_load_center_text(&c, "mem.conf", CENTER_MIN "port = x\n", err, sizeof err), -1);
    assert_string_equal(err, "mem.conf:4: port must be a whole number from 0 to 65535");
    config_free_center(&c);
}

/* A key given twice is an error on its second line: no value silently overrides another. */
static void
test_center_repeated_key(void **state)
{
    struct tmp *t = *state;

    center_fails_all(t, CENTER_MIN "port = 1\nusers = other.txt\nport = 2\n",
                     ":5: duplicate key 'users' in [center] (first on line 2)",
                     ":6: duplicate key 'port' in [center] (first on line 4)", NULL);
    center_fails(t, CENTER_MIN "state = x.db\nstate = none\n",
                 ":5: duplicate key 'state' in [center] (first on line 4)");
    /* Even with the same value, and across two [center] headers. */
    center_fails(t, CENTER_MIN "port = 1\n[center]\nport = 1\n",
                 ":6: duplicate key 'port' in [center] (first on line 4)");
    /* A bad first value still counts as given. */
    center_fails_all(t, CENTER_MIN "port = x\nport = 1\n",
                     ":4: port must be a whole number from 0 to 65535",
                     ":5: duplicate key 'port' in [center] (first on line 4)", NULL);
}

/*
 * An indented line is refused: inih's multi-line mode would make it go on
 * with the value above ("state = s.db" then "    durability = full" named a
 * state file "durability = full" and left durability normal).
 */
static void
test_center_indented_line(void **state)
{
    static const char *const msg =
        "indented line: a value cannot go on over several lines (remove the leading whitespace)";
    struct tmp *t = *state;
    struct center_config c;
    char want[256];

    snprintf(want, sizeof want, ":5: %s", msg);
    center_fails(t, CENTER_MIN "state = s.db\n    durability = full\n", want);
    center_fails(t, CENTER_MIN "state = s.db\n\tdurability = full\n", want);
    center_fails(t, CENTER_MIN "port = 1\n 2\n", want);
    snprintf(want, sizeof want, ":1: %s", msg);
    center_fails(t, " [center]\nusers = u\navailabilities = a\n", want);
    snprintf(want, sizeof want, ":2: %s", msg);
    /* The line is still read (without its indent), so what follows is judged as meant. */
    center_fails_all(t, "[center]\n  users = u\navailabilities = a\nusers = v\n", want,
                     ":4: duplicate key 'users' in [center] (first on line 2)", NULL);
    /* Indented blank lines and comments are fine, and so is a byte order mark. */
    twrite(t, "center.conf",
           "\xEF\xBB\xBF[center]\nstate = s.db\n   \n\t; durability = full\n  # note\n\r\n"
           "users = u\navailabilities = a\n");
    assert_int_equal(config_load_center(&c, t->path, t->err, sizeof t->err), 0);
    assert_string_equal(c.state, twant(t, "s.db"));
    assert_int_equal(c.durability, CONFIG_DURABILITY_NORMAL);
    config_free_center(&c);
}

/* listen must be an address that parses, or a name that resolves. */
static void
test_center_listen(void **state)
{
    struct tmp *t = *state;
    struct center_config c;

    center_fails(t, CENTER_MIN "listen = 999.1.1.1\n",
                 ":4: listen: 999.1.1.1 is not an IPv4 address");
    center_fails(t, CENTER_MIN "listen = 127.1\n", ":4: listen: 127.1 is not an IPv4 address");
    center_fails(t, CENTER_MIN "listen = 1.2.3.4.\n",
                 ":4: listen: 1.2.3.4. is not an IPv4 address");
    center_fails(t, CENTER_MIN "listen = ::g\n", ":4: listen: ::g is not an IPv6 address");
    center_fails(t, CENTER_MIN "listen = 127.0.0.1:80\n",
                 ":4: listen: 127.0.0.1:80 is not an IPv6 address");
    assert_int_equal(center_text(t, CENTER_MIN "listen = nosuchhost.invalid\n"), -1);
    snprintf(t->want, sizeof t->want,
             "%s/center.conf:4: listen: cannot resolve nosuchhost.invalid: ", t->dir);
    assert_memory_equal(t->err, t->want, strlen(t->want));
    assert_null(strchr(t->err, '\n'));
    /* The error keeps its line among the others. */
    center_fails_all(t, "[center]\nport = x\nlisten = 999.1.1.1\nfoo = 1\n",
                     ":2: port must be a whole number from 0 to 65535",
                     ":3: listen: 999.1.1.1 is not an IPv4 address",
                     ":4: unknown key 'foo' in [center]", ": missing key 'users' in [center]",
                     ": missing key 'availabilities' in [center]", NULL);
    /* Names that resolve, and addresses that parse. */
    assert_int_equal(center_text(t, CENTER_MIN "listen = localhost\n"), 0);
    assert_int_equal(center_text(t, CENTER_MIN "listen = 0.0.0.0\n"), 0);
    assert_int_equal(center_text(t, CENTER_MIN "listen = ::\n"), 0);
    assert_int_equal(center_text(t, CENTER_MIN "listen = ::ffff:127.0.0.1\n"), 0);
    /* Without look-ups (the fuzzers) a name passes, a bad address still does not. */
    config_set_resolve(0);
    assert_int_equal(center_text(t, CENTER_MIN "listen = nosuchhost.invalid\n"), 0);
    center_fails(t, CENTER_MIN "listen = 999.1.1.1\n",
                 ":4: listen: 999.1.1.1 is not an IPv4 address");
    config_set_resolve(1);
    assert_int_equal(config_load_center(&c,
                                        twrite(t, "center.conf", CENTER_MIN "listen = localhost\n"),
                                        t->err, sizeof t->err),
                     0);
    assert_string_equal(c.listen, "localhost");
    config_free_center(&c);
}

/* Load text as center.conf with an err of errlen bytes; the message goes to err. */
static int
center_text_err(struct tmp *t, const char *text, char *err, size_t errlen)
{
    struct center_config c;
    int rc;

    rc = config_load_center(&c, twrite(t, "center.conf", text), err, errlen);
    config_free_center(&c);
    return rc;
}

/* How many lines of err are "<dir>/center.conf:<first + i>: malformed ..."; *rest is the next. */
static int
count_malformed(struct tmp *t, const char *err, int first, const char **rest)
{
    char want[256];
    const char *p, *nl;
    int n = 0;

    for (p = err; (nl = strchr(p, '\n')) != NULL; p = nl + 1, n++) {
        snprintf(want, sizeof want,
                 "%s/center.conf:%d: malformed line (expected key = value or [section])", t->dir,
                 first + n);
        assert_int_equal(nl - p, (long)strlen(want));
        assert_memory_equal(p, want, strlen(want));
    }
    *rest = p;
    return n;
}

/* Many errors: as many whole lines as fit in err, then how many more there were. */
static void
test_center_many_errors(void **state)
{
    struct tmp *t = *state;
    char text[4096], err[8192], want[256];
    const char *rest;
    unsigned more = 0;
    int i, shown;

    strcpy(text, CENTER_MIN);
    for (i = 0; i < 100; i++)
        strcat(text, "junk\n");
    /* 600 bytes: a few whole lines, then the count of the others. */
    assert_int_equal(center_text_err(t, text, err, 600), -1);
    assert_true(strlen(err) < 600);
    shown = count_malformed(t, err, 4, &rest);
    assert_true(shown >= 2);
    snprintf(want, sizeof want, "%s/center.conf: %%u more errors%%n", t->dir);
    i = 0;
    assert_int_equal(sscanf(rest, want, &more, &i), 1);
    assert_int_equal(rest[i], '\0');
    assert_int_equal(shown + (int)more, 100);
    /* A big buffer: the errors kept (32), then the count of the rest. */
    assert_int_equal(center_text_err(t, text, err, sizeof err), -1);
    assert_int_equal(count_malformed(t, err, 4, &rest), 32);
    snprintf(want, sizeof want, "%s/center.conf: 68 more errors", t->dir);
    assert_string_equal(rest, want);
    /* 33 errors: "1 more error", singular. */
    text[strlen(CENTER_MIN) + 5 * 33] = '\0';
    assert_int_equal(center_text_err(t, text, err, sizeof err), -1);
    assert_int_equal(count_malformed(t, err, 4, &rest), 32);
    snprintf(want, sizeof want, "%s/center.conf: 1 more error", t->dir);
    assert_string_equal(rest, want);
    /* A tiny buffer still gets the start of the first error. */
    assert_int_equal(center_text_err(t, text, err, 20), -1);
    assert_int_equal(strlen(err), 19);
    assert_memory_equal(err, t->dir, 19);
}

/* Unknown keys and sections are errors on their line. */
static void
test_center_unknown(void **state)
{
    struct tmp *t = *state;

    center_fails(t, CENTER_MIN "foo = 1\n", ":4: unknown key 'foo' in [center]");
    center_fails(t, CENTER_MIN "Port = 1\n", ":4: unknown key 'Port' in [center]");
    center_fails(t, CENTER_MIN "\n[doctor]\nid = 1\n",
                 ":6: unknown section [doctor] (expected [center])");
    center_fails(t, "port = 1\n" CENTER_MIN, ":1: unknown section [] (expected [center])");
}

/* Numbers must be plain decimals inside their range. */
static void
test_center_bad_numbers(void **state)
{
    struct tmp *t = *state;

    center_fails(t, CENTER_MIN "port = 21x\n", ":4: port must be a whole number from 0 to 65535");
    center_fails(t, CENTER_MIN "port = -1\n", ":4: port must be a whole number from 0 to 65535");
    center_fails(t, CENTER_MIN "port = +1\n", ":4: port must be a whole number from 0 to 65535");
    center_fails(t, CENTER_MIN "port = 0x10\n", ":4: port must be a whole number from 0 to 65535");
    center_fails(t, CENTER_MIN "port =\n", ":4: port must be a whole number from 0 to 65535");
    center_fails(t, CENTER_MIN "port = 1 2\n", ":4: port must be a whole number from 0 to 65535");
    center_fails(t, CENTER_MIN "port = 65536\n", ":4: port must be a whole number from 0 to 65535");
    center_fails(t, CENTER_MIN "port = 99999999999999999999999\n",
                 ":4: port must be a whole number from 0 to 65535");
    center_fails(t, CENTER_MIN "max_clients = 0\n",
                 ":4: max_clients must be a whole number from 1 to 1000000");
    center_fails(t, CENTER_MIN "max_line = 63\n",
                 ":4: max_line must be a whole number from 64 to 65536");
    center_fails(t, CENTER_MIN "max_line = 65537\n",
                 ":4: max_line must be a whole number from 64 to 65536");
    center_fails(t, CENTER_MIN "idle_timeout = 86401\n",
                 ":4: idle_timeout must be a whole number from 1 to 86400");
    center_fails(t, CENTER_MIN "auth_timeout = 0\n",
                 ":4: auth_timeout must be a whole number from 1 to 86400");
    center_fails(t, CENTER_MIN "max_output = 4095\n",
                 ":4: max_output must be a whole number from 4096 to 1073741824");
    center_fails(t, CENTER_MIN "max_output = 1073741825\n",
                 ":4: max_output must be a whole number from 4096 to 1073741824");
}

/* users and availabilities are required; strings may not be empty. */
static void
test_center_missing_and_empty(void **state)
{
    struct tmp *t = *state;

    center_fails(t, "[center]\navailabilities = a.txt\n", ": missing key 'users' in [center]");
    center_fails(t, "[center]\nusers = u.txt\n", ": missing key 'availabilities' in [center]");
    center_fails_all(t, "", ": missing key 'users' in [center]",
                     ": missing key 'availabilities' in [center]", NULL);
    center_fails(t, CENTER_MIN "listen =\n", ":4: listen is empty");
    center_fails_all(t, "[center]\nusers = \n", ":2: users is empty",
                     ": missing key 'availabilities' in [center]", NULL);
    center_fails_all(t, "[center]\n", ": missing key 'users' in [center]",
                     ": missing key 'availabilities' in [center]", NULL);
}

/* Lines that are neither a key nor a section are errors on their line. */
static void
test_center_malformed(void **state)
{
    struct tmp *t = *state;

    center_fails(t, CENTER_MIN "junk\n", ":4: malformed line (expected key = value or [section])");
    center_fails(t, "[center\n" CENTER_MIN,
                 ":1: malformed line (expected key = value or [section])");
}

/* Every wrong line is reported, in order, then what the file as a whole lacks. */
static void
test_center_every_error(void **state)
{
    struct tmp *t = *state;

    center_fails_all(t, "[center]\ngarbage\nport = x\n",
                     ":2: malformed line (expected key = value or [section])",
                     ":3: port must be a whole number from 0 to 65535",
                     ": missing key 'users' in [center]",
                     ": missing key 'availabilities' in [center]", NULL);
    center_fails_all(t,
                     CENTER_MIN "port = x\ngarbage\nfoo = 1\n  durability = full\nport = 2\n"
                                "[x\nmax_line = 1\n[doctor]\nid = 1\nname = d\n",
                     ":4: port must be a whole number from 0 to 65535",
                     ":5: malformed line (expected key = value or [section])",
                     ":6: unknown key 'foo' in [center]",
                     ":7: indented line: a value cannot go on over several lines (remove the "
                     "leading whitespace)",
                     ":8: duplicate key 'port' in [center] (first on line 4)",
                     ":9: malformed line (expected key = value or [section])",
                     ":10: max_line must be a whole number from 64 to 65536",
                     ":12: unknown section [doctor] (expected [center])", NULL);
    /* A bad store or state value is not also reported as a store/state mismatch. */
    center_fails(t, CENTER_MIN "store = sql\nstate = s.db\n",
                 ":4: store must be one of: memory sqlite postgresql");
    center_fails(t, CENTER_MIN "store = sqlite\nstate =\n", ":5: state is empty");
    center_fails_all(t, "[center]\nstore = sqlite\nusers = \n", ":3: users is empty",
                     ": missing key 'availabilities' in [center]",
                     ": store = sqlite needs a state file (state = <file>)", NULL);
}

/* A line longer than inih's buffer is refused on its own line, not cut. */
static void
test_center_long_line(void **state)
{
    struct tmp *t = *state;
    char text[1024], want[128];
    int fit = INI_MAX_LINE - 2; /* bytes in a line, "\n" excluded */
    int pre = (int)strlen("[center]\navailabilities = a.txt\nusers = ");
    struct center_config c;

    /* The longest line that fits: "users = " and a name, then "\n". */
    snprintf(text, sizeof text, "[center]\navailabilities = a.txt\nusers = %0*d\n",
             fit - (int)strlen("users = "), 7);
    assert_int_equal((int)strlen(text), pre + fit - (int)strlen("users = ") + 1);
    assert_int_equal(config_load_center(&c, twrite(t, "center.conf", text), t->err, sizeof t->err),
                     0);
    assert_int_equal(strlen(c.users), strlen(t->dir) + 1 + (size_t)fit - strlen("users = "));
    config_free_center(&c);
    /* Without a final newline the last line may use that byte too. */
    snprintf(text, sizeof text, "[center]\navailabilities = a.txt\nusers = %0*d",
             fit + 1 - (int)strlen("users = "), 7);
    assert_int_equal(center_text(t, text), 0);
    /* One byte more is refused, here and in the middle of the file. */
    snprintf(text, sizeof text, "[center]\navailabilities = a.txt\nusers = %0*d\n",
             fit + 1 - (int)strlen("users = "), 7);
    snprintf(want, sizeof want, ":3: line too long (over %d bytes)", fit);
    center_fails(t, text, want);
    snprintf(text, sizeof text,
             "[center]\nlisten = %0500d\nport = x\nusers = u\navailabilities = a\n", 1);
    snprintf(want, sizeof want, ":2: line too long (over %d bytes)", fit);
    center_fails_all(t, text, want, ":3: port must be a whole number from 0 to 65535", NULL);
    /* The rest of a long line is skipped, not read as a line of its own. */
    snprintf(text, sizeof text, CENTER_MIN "listen = %0*d\n", fit, 1);
    snprintf(want, sizeof want, ":4: line too long (over %d bytes)", fit);
    center_fails(t, text, want);
}

/* A NUL byte in the file is an error on its line, not the end of the value. */
static void
test_center_nul_byte(void **state)
{
    static const char text[] = "[center]\nusers = u\nport = 1\0junk\navailabilities = a\n";
    struct tmp *t = *state;
    struct center_config c;
    FILE *fp = fopen(tpath(t, "center.conf"), "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, sizeof text - 1, fp), sizeof text - 1);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(config_load_center(&c, t->path, t->err, sizeof t->err), -1);
    assert_string_equal(t->err, twant(t, "center.conf:3: NUL byte in line"));
    config_free_center(&c);
}

/* A missing file and a folder are reported with the reason. */
static void
test_center_cannot_open(void **state)
{
    struct tmp *t = *state;
    struct center_config c;

    assert_int_equal(config_load_center(&c, tpath(t, "nope.conf"), t->err, sizeof t->err), -1);
    assert_string_equal(t->err, twant(t, "nope.conf: cannot open: No such file or directory"));
    config_free_center(&c);
    assert_int_equal(mkdir(tpath(t, "sub.conf"), 0700), 0);
    assert_int_equal(config_load_center(&c, t->path, t->err, sizeof t->err), -1);
    assert_string_equal(t->err, twant(t, "sub.conf: cannot read: Is a directory"));
    config_free_center(&c);
}

/* A doctor file with every key. */
static void
test_doctor_every_key(void **state)
{
    struct tmp *t = *state;
    struct doctor_config c;

    twrite(t, "doctor1.conf",
           "; Doctor 1\n[doctor]\nid = 1\nname = doc1\nlisten = 127.0.0.2\nport = 41000\n"
           "prices = doc1.txt\n");
    assert_int_equal(config_load_doctor(&c, t->path, t->err, sizeof t->err), 0);
    assert_string_equal(c.path, twant(t, "doctor1.conf"));
    assert_int_equal(c.id, 1);
    assert_string_equal(c.name, "doc1");
    assert_string_equal(c.listen, "127.0.0.2");
    assert_int_equal(c.port, 41000);
    assert_string_equal(c.prices, twant(t, "doc1.txt"));
    config_free_doctor(&c);
}

/* A doctor listens on loopback and a kernel-chosen port unless told otherwise. */
static void
test_doctor_defaults(void **state)
{
    struct tmp *t = *state;
    struct doctor_config c;

    twrite(t, "doctor2.conf", "[doctor]\nid = 1000000\nname = doc2\nprices = /p/doc2.txt\n");
    assert_int_equal(config_load_doctor(&c, t->path, t->err, sizeof t->err), 0);
    assert_int_equal(c.id, 1000000);
    assert_string_equal(c.listen, "127.0.0.1");
    assert_int_equal(c.port, 0);
    assert_string_equal(c.prices, "/p/doc2.txt");
    config_free_doctor(&c);
}

/* Load text as doctor1.conf and expect the message "<dir>/doctor1.conf<rest>". */
static void
doctor_fails(struct tmp *t, const char *text, const char *rest)
{
    struct doctor_config c;

    char full[2048], *p;
    const char *r;

    /* Every DOCTOR_PATH in rest stands for the file's path. */
    snprintf(full, sizeof full, "%s/doctor1.conf", t->dir);
    for (p = full + strlen(full), r = rest; *r != '\0'; r++) {
        if (*r == '\001')
            p += sprintf(p, "%s/doctor1.conf", t->dir);
        else
            *p++ = *r;
    }
    *p = '\0';
    assert_int_equal(config_load_doctor(&c, twrite(t, "doctor1.conf", text), t->err, sizeof t->err),
                     -1);
    assert_string_equal(t->err, full);
    config_free_doctor(&c);
}

#define DOCTOR_MIN "[doctor]\nid = 1\nname = d\nprices = p\n"
#define DOCTOR_PATH "\001" /* stands for "<dir>/doctor1.conf" in doctor_fails */

/* Doctor errors: required keys, ranges, other sections, and every error at once. */
static void
test_doctor_errors(void **state)
{
    struct tmp *t = *state;

    doctor_fails(t, "[doctor]\nname = d\nprices = p\n", ": missing key 'id' in [doctor]");
    doctor_fails(t, "[doctor]\nid = 1\nprices = p\n", ": missing key 'name' in [doctor]");
    doctor_fails(t, "[doctor]\nid = 1\nname = d\n", ": missing key 'prices' in [doctor]");
    doctor_fails(t, "[doctor]\nid = 0\nname = d\nprices = p\n",
                 ":2: id must be a whole number from 1 to 1000000");
    doctor_fails(t, "[doctor]\nid = 1000001\nname = d\nprices = p\n",
                 ":2: id must be a whole number from 1 to 1000000");
    doctor_fails(t, DOCTOR_MIN "port = 65536\n", ":5: port must be a whole number from 0 to 65535");
    doctor_fails(t, "[center]\nid = 1\n[doctor]\nid = 1\nname = d\nprices = p\n",
                 ":2: unknown section [center] (expected [doctor])");
    doctor_fails(t, DOCTOR_MIN "users = u\n", ":5: unknown key 'users' in [doctor]");
    doctor_fails(t, DOCTOR_MIN "listen = 300.0.0.1\n",
                 ":5: listen: 300.0.0.1 is not an IPv4 address");
    doctor_fails(t, DOCTOR_MIN "name = e\n",
                 ":5: duplicate key 'name' in [doctor] (first on line 3)");
    doctor_fails(t, "[doctor]\nid = 1\nname = d\nprices = p\n  q.txt\n",
                 ":5: indented line: a value cannot go on over several lines (remove the leading "
                 "whitespace)");
    /* Every error, one per line. */
    doctor_fails(t, "[doctor]\nid = 1000001\nport = x\n",
                 ":2: id must be a whole number from 1 to 1000000\n" DOCTOR_PATH
                 ":3: port must be a whole number from 0 to 65535\n" DOCTOR_PATH
                 ": missing key 'name' in [doctor]\n" DOCTOR_PATH
                 ": missing key 'prices' in [doctor]");
}

/* A patient file with only the required keys gets the defaults. */
static void
test_patient_defaults(void **state)
{
    struct tmp *t = *state;
    struct patient_config c;

    twrite(t, "patient1.conf",
           "[patient]\nid = 1\ncredentials = patient1.txt\ninsurance = patient1insurance.txt\n");
    assert_int_equal(config_load_patient(&c, t->path, t->err, sizeof t->err), 0);
    assert_string_equal(c.path, twant(t, "patient1.conf"));
    assert_int_equal(c.id, 1);
    assert_string_equal(c.center_host, "localhost");
    assert_int_equal(c.center_port, 21000);
    assert_string_equal(c.doctor_host, "localhost");
    assert_string_equal(c.credentials, twant(t, "patient1.txt"));
    assert_string_equal(c.insurance, twant(t, "patient1insurance.txt"));
    assert_int_equal(c.timeout_ms, 2000);
    assert_int_equal(c.udp_retries, 3);
    assert_int_equal(c.tls, 0);
    assert_null(c.tls_ca);
    assert_string_equal(c.tls_name, "localhost"); /* center_host */
    assert_null(c.tls_session);
    config_free_patient(&c);
}

/* doctor_host follows center_host when it is not given. */
static void
test_patient_doctor_host(void **state)
{
    struct tmp *t = *state;
    struct patient_config c;

    twrite(t, "patient2.conf",
           "[patient]\nid = 2\ncenter_host = 127.0.0.1\ncredentials = c\ninsurance = i\n");
    assert_int_equal(config_load_patient(&c, t->path, t->err, sizeof t->err), 0);
    assert_string_equal(c.center_host, "127.0.0.1");
    assert_string_equal(c.doctor_host, "127.0.0.1");
    assert_ptr_not_equal(c.doctor_host, c.center_host);
    config_free_patient(&c);
}

/* A patient file with every key. */
static void
test_patient_every_key(void **state)
{
    struct tmp *t = *state;
    struct patient_config c;

    twrite(t, "patient3.conf",
           "[patient]\nid = 3\ncenter_host = ::1\ncenter_port = 65535\ndoctor_host = 127.0.0.3\n"
           "credentials = ../c.txt\ninsurance = /abs/i.txt\ntimeout_ms = 3600000\n"
           "udp_retries = 0\n");
    assert_int_equal(config_load_patient(&c, t->path, t->err, sizeof t->err), 0);
    assert_int_equal(c.id, 3);
    assert_string_equal(c.center_host, "::1");
    assert_int_equal(c.center_port, 65535);
    assert_string_equal(c.doctor_host, "127.0.0.3");
    assert_string_equal(c.credentials, twant(t, "../c.txt"));
    assert_string_equal(c.insurance, "/abs/i.txt");
    assert_int_equal(c.timeout_ms, 3600000);
    assert_int_equal(c.udp_retries, 0);
    config_free_patient(&c);
}

/* Load text as patient1.conf and expect the message "<dir>/patient1.conf<rest>". */
static void
patient_fails(struct tmp *t, const char *text, const char *rest)
{
    struct patient_config c;
    char want[512];

    snprintf(want, sizeof want, "patient1.conf%s", rest);
    assert_int_equal(
        config_load_patient(&c, twrite(t, "patient1.conf", text), t->err, sizeof t->err), -1);
    assert_string_equal(t->err, twant(t, want));
    config_free_patient(&c);
}

#define PATIENT_MIN "[patient]\nid = 1\ncredentials = c\ninsurance = i\n"

/* Patient errors: required keys and ranges. */
static void
test_patient_errors(void **state)
{
    struct tmp *t = *state;

    patient_fails(t, "[patient]\nid = 1\ninsurance = i\n",
                  ": missing key 'credentials' in [patient]");
    patient_fails(t, "[patient]\nid = 1\ncredentials = c\n",
                  ": missing key 'insurance' in [patient]");
    patient_fails(t, "[patient]\ncredentials = c\ninsurance = i\n",
                  ": missing key 'id' in [patient]");
    patient_fails(t, PATIENT_MIN "center_port = 0\n",
                  ":5: center_port must be a whole number from 1 to 65535");
    patient_fails(t, PATIENT_MIN "timeout_ms = 0\n",
                  ":5: timeout_ms must be a whole number from 1 to 3600000");
    patient_fails(t, PATIENT_MIN "udp_retries = 101\n",
                  ":5: udp_retries must be a whole number from 0 to 100");
    patient_fails(t, PATIENT_MIN "doctor_host =\n", ":5: doctor_host is empty");
    patient_fails(t, PATIENT_MIN "[doctor]\nid = 1\n",
                  ":6: unknown section [doctor] (expected [patient])");
}

/* Check one config_id_path result and free it. */
static void
check_id_path(const char *dir, const char *kind, unsigned id, const char *want)
{
    char *p = config_id_path(dir, kind, id);

    assert_non_null(p);
    assert_string_equal(p, want);
    free(p);
}

/* [desk]: off without a port; with one, its keys and defaults; staff required; its own keys. */
static void
test_center_desk(void **state)
{
    struct tmp *t = *state;
    struct center_config c;

    assert_int_equal(
        config_load_center(&c, twrite(t, "center.conf", CENTER_MIN), t->err, sizeof t->err), 0);
    assert_false(c.desk);
    config_free_center(&c);
    assert_int_equal(config_load_center(&c,
                                        twrite(t, "center.conf",
                                               CENTER_MIN "port = 21000\n[desk]\nport = 0\n"
                                                          "staff = staff.txt\n"),
                                        t->err, sizeof t->err),
                     0);
    assert_true(c.desk);
    assert_int_equal(c.port, 21000); /* the desk's port is its own */
    assert_int_equal(c.desk_port, 0);
    assert_string_equal(c.desk_listen, "127.0.0.1");
    assert_string_equal(c.desk_staff, twant(t, "staff.txt"));
    assert_int_equal(c.desk_max_streams, 100);
    config_free_center(&c);
    center_fails(t, CENTER_MIN "[desk]\nport = 8080\n",
                 ": [desk] needs a staff file (staff = "
                 "<file>, rows made with hcs passwd)");
    center_fails(t, CENTER_MIN "[desk]\nport = 8080\nstaff = s\nusers = u\n",
                 ":7: unknown key 'users' in [desk]");
    center_fails(t, CENTER_MIN "[desk]\nport = 8080\nport = 8081\nstaff = s\n",
                 ":6: duplicate key 'port' in [desk] (first on line 5)");
    center_fails(t, CENTER_MIN "[desks]\nport = 1\n",
                 ":5: unknown section [desks] (expected [center])");
}

/* tls_cert and tls_key come together; tls_ca and tls_handshake_timeout need them. */
static void
test_center_tls(void **state)
{
    struct tmp *t = *state;
    struct center_config c;

    assert_int_equal(
        config_load_center(&c, twrite(t, "center.conf", CENTER_MIN), t->err, sizeof t->err), 0);
    assert_null(c.tls_cert);
    assert_null(c.tls_key);
    assert_null(c.tls_ca);
    config_free_center(&c);
    assert_int_equal(config_load_center(&c,
                                        twrite(t, "center.conf",
                                               CENTER_MIN "tls_cert = c.pem\ntls_key = k.pem\n"
                                                          "tls_ca = ca.pem\n"),
                                        t->err, sizeof t->err),
                     0);
    assert_string_equal(c.tls_cert, twant(t, "c.pem"));
    assert_string_equal(c.tls_key, twant(t, "k.pem"));
    assert_string_equal(c.tls_ca, twant(t, "ca.pem"));
    assert_int_equal(c.tls_key_line, 5);
    assert_int_equal(c.tls_handshake_timeout, 10);
    config_free_center(&c);
    assert_int_equal(config_load_center(&c,
                                        twrite(t, "center.conf",
                                               CENTER_MIN "tls_cert = c.pem\ntls_key = k.pem\n"
                                                          "tls_handshake_timeout = 3\n"),
                                        t->err, sizeof t->err),
                     0);
    assert_int_equal(c.tls_handshake_timeout, 3);
    config_free_center(&c);
    center_fails(t, CENTER_MIN "tls_handshake_timeout = 3\n",
                 ":4: tls_handshake_timeout is for TLS (tls_cert and tls_key)");
    center_fails(t, CENTER_MIN "tls_cert = c.pem\ntls_key = k.pem\ntls_handshake_timeout = 0\n",
                 ":6: tls_handshake_timeout must be a whole number from 1 to 86400");
    center_fails(t, CENTER_MIN "tls_cert = c.pem\n",
                 ": tls_cert needs a private key (tls_key = <file>)");
    center_fails(t, CENTER_MIN "tls_key = k.pem\n",
                 ": tls_key needs a certificate (tls_cert = <file>)");
    center_fails(t, CENTER_MIN "tls_ca = ca.pem\n", ":4: tls_ca is for TLS (tls_cert and tls_key)");
}

/* store = postgresql needs a dsn; a dsn needs store = postgresql; no state beside it. */
static void
test_center_dsn(void **state)
{
    struct tmp *t = *state;
    struct center_config c;

    assert_int_equal(config_load_center(&c,
                                        twrite(t, "center.conf",
                                               CENTER_MIN "store = postgresql\ndsn = host=/run "
                                                          "dbname=hcs\n"),
                                        t->err, sizeof t->err),
                     0);
    assert_int_equal(c.store, CONFIG_STORE_POSTGRESQL);
    assert_string_equal(c.dsn, "host=/run dbname=hcs");
    config_free_center(&c);
    center_fails(t, CENTER_MIN "store = postgresql\n",
                 ": store = postgresql needs a connection string (dsn = host=... dbname=... "
                 "user=...)");
    center_fails(t, CENTER_MIN "dsn = dbname=x\n", ":4: dsn is for store = postgresql");
    center_fails(t, CENTER_MIN "store = postgresql\ndsn = x\nstate = s.db\n",
                 ": state names a file, but store = postgresql keeps the bookings in the "
                 "database named by dsn");
}

/* --id N names "<dir>/<kind>N.conf". */
static void
test_id_path(void **state)
{
    (void)state;
    check_id_path("config", "doctor", 1, "config/doctor1.conf");
    check_id_path("config", "patient", 2, "config/patient2.conf");
    check_id_path("/etc/hcs", "patient", 4294967295u, "/etc/hcs/patient4294967295.conf");
    check_id_path(".", "doctor", 10, "./doctor10.conf");
}

/* tls = yes with its keys; the keys without it are refused. */
static void
test_patient_tls(void **state)
{
    struct tmp *t = *state;
    struct patient_config c;

    twrite(t, "patient1.conf",
           PATIENT_MIN "center_host = center.example\ntls = yes\ntls_ca = ca.pem\n"
                       "tls_session = s.bin\n");
    assert_int_equal(config_load_patient(&c, t->path, t->err, sizeof t->err), 0);
    assert_int_equal(c.tls, 1);
    assert_string_equal(c.tls_ca, twant(t, "ca.pem"));
    assert_string_equal(c.tls_name, "center.example");
    assert_string_equal(c.tls_session, twant(t, "s.bin"));
    config_free_patient(&c);
    twrite(t, "patient1.conf", PATIENT_MIN "tls = yes\ntls_name = other.example\n");
    assert_int_equal(config_load_patient(&c, t->path, t->err, sizeof t->err), 0);
    assert_string_equal(c.tls_name, "other.example");
    config_free_patient(&c);
    patient_fails(t, PATIENT_MIN "tls = maybe\n", ":5: tls must be one of: no yes");
    patient_fails(t, PATIENT_MIN "tls_ca = ca.pem\n",
                  ": tls_ca, tls_name and tls_session are for tls = yes");
    patient_fails(t, PATIENT_MIN "tls = no\ntls_name = x\n",
                  ": tls_ca, tls_name and tls_session are for tls = yes");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_center_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_desk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_dsn, setup, teardown),
        cmocka_unit_test(test_center_text),
        cmocka_unit_test_setup_teardown(test_center_repeated_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_bad_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_missing_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_every_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_indented_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_listen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_many_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_nul_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_cannot_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doctor_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doctor_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doctor_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_center_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patient_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patient_doctor_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patient_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patient_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patient_tls, setup, teardown),
        cmocka_unit_test(test_id_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
