/* test_passwd.c: `hcs passwd`: hashing one password, and upgrading users files on disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authpool.h"
#include "passwd.h"

/* A temporary folder holding the users file under test. */
struct fixture {
    char dir[64];
    char path[128];
};

/* A bcrypt hash of "pw2" and a yescrypt hash of "pw4", made by group_setup. */
static char bob_hash[CRYPT_OUTPUT_SIZE];
static char dave_hash[CRYPT_OUTPUT_SIZE];

/* Whether password matches hash, checked by libcrypt itself. */
static int
verifies(const char *hash, const char *password)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *out;
    int ok;

    assert_non_null(cd);
    out = crypt_rn(password, hash, cd, (int)sizeof *cd);
    ok = out != NULL && strcmp(out, hash) == 0;
    free(cd);
    return ok;
}

/* Create path with content and mode. */
static void
write_file(const char *path, const char *content, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

/* The whole of a file, NUL-terminated, in a static buffer. */
static const char *
read_file(const char *path)
{
    static char buf[8192];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof buf - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
    return buf;
}

/* The permission bits of path. */
static unsigned
file_mode(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

/* How many files of the folder are not the users file (temporary files left behind). */
static int
count_others(const struct fixture *f)
{
    DIR *d = opendir(f->dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, "users.txt") != 0)
            n++;
    closedir(d);
    return n;
}

/* Hash password with a cheap setting of prefix into out. */
static void
make_hash(const char *prefix, unsigned long count, const char *password, char *out)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *h;

    assert_non_null(cd);
    assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, setting, (int)sizeof setting));
    h = crypt_rn(password, setting, cd, (int)sizeof *cd);
    assert_non_null(h);
    assert_true(strlen(h) < CRYPT_OUTPUT_SIZE);
    strcpy(out, h);
    free(cd);
}

static int
group_setup(void **state)
{
    (void)state;
    make_hash("$2b$", 4, "pw2", bob_hash);
    make_hash("$y$", 1, "pw4", dave_hash);
    assert_true(verifies(bob_hash, "pw2"));
    return 0;
}

static int
setup(void **state)
{
    static struct fixture f;

    strcpy(f.dir, "/tmp/test_passwd.XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.path, sizeof f.path, "%s/users.txt", f.dir);
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    char path[512];
    struct dirent *e;
    DIR *d;

    chmod(f->dir, 0700);
    if ((d = opendir(f->dir)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(f->dir);
    return 0;
}

static void
test_upgrade_hashes_clear_rows(void **state)
{
    struct fixture *f = *state;
    char in[1024], want[2048], h[5][CRYPT_OUTPUT_SIZE], err[512], before[8192], extra;
    const char *out;
    struct stat st1, st2;
    unsigned hashed, kept;

    snprintf(in, sizeof in, "alice pw1\r\n\n  bob\t%s\r\ncarol   pw3\n\ndave %s\nerin pw5",
             bob_hash, dave_hash);
    write_file(f->path, in, 0600);
    assert_int_equal(passwd_upgrade(f->path, err, sizeof err, &hashed, &kept), 0);
    assert_int_equal(hashed, 3);
    assert_int_equal(kept, 2);
    assert_int_equal(file_mode(f->path), 0600);
    assert_int_equal(count_others(f), 0);

    out = read_file(f->path);
    assert_int_equal(sscanf(out, "alice %383s bob %383s carol %383s dave %383s erin %383s %c", h[0],
                            h[1], h[2], h[3], h[4], &extra),
                     5);
    /* One row per line, single-spaced, "\n" only, in order; hashes kept byte for byte. */
    snprintf(want, sizeof want, "alice %s\nbob %s\ncarol %s\ndave %s\nerin %s\n", h[0], bob_hash,
             h[2], dave_hash, h[4]);
    assert_string_equal(out, want);
    assert_memory_equal(h[0], "$y$", 3);
    assert_true(authpool_is_hash(h[0]));
    assert_true(verifies(h[0], "pw1"));
    assert_false(verifies(h[0], "pw3"));
    assert_true(verifies(h[2], "pw3"));
    assert_true(verifies(h[4], "pw5"));
    assert_string_not_equal(h[0], h[2]); /* fresh salt per row */

    /* A second run finds nothing to do and leaves the file alone. */
    strcpy(before, out);
    assert_int_equal(stat(f->path, &st1), 0);
    assert_int_equal(passwd_upgrade(f->path, err, sizeof err, &hashed, &kept), 0);
    assert_int_equal(hashed, 0);
    assert_int_equal(kept, 5);
    assert_int_equal(stat(f->path, &st2), 0);
    assert_int_equal(st1.st_ino, st2.st_ino);
    assert_string_equal(read_file(f->path), before);
}

static void
test_upgrade_keeps_mode(void **state)
{
    static const unsigned modes[] = {0600, 0640, 0400, 0644};
    struct fixture *f = *state;
    char err[512];
    unsigned hashed, kept;
    size_t i;

    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        write_file(f->path, "alice pw1\n", modes[i]);
        assert_int_equal(passwd_upgrade(f->path, err, sizeof err, &hashed, &kept), 0);
        assert_int_equal(hashed, 1);
        assert_int_equal(file_mode(f->path), modes[i]);
        assert_int_equal(count_others(f), 0);
        unlink(f->path);
    }
}

static void
test_upgrade_bad_rows_leave_file_untouched(void **state)
{
    static const struct {
        const char *content;
        const char *message; /* after "<path>:" */
    } cases[] = {
        {"alice pw1\nbob pw2 extra\n", "2: expected 2 fields (username password), found 3"},
        {"alice pw1\n\nbob\n", "3: expected 2 fields (username password), found 1"},
        {"alice pw1\nalice pw2\n", "2: duplicate username (first on line 1)"},
        {"alice 12345678901234567890123456789012345678901234567890123456789012345\n",
         "1: password longer than 64 bytes"},
        {"b12345678901234567890123456789012345678901234567890123456789012345 pw\n",
         "1: username longer than 64 bytes"},
        {"alice pw\001\n", "1: control character (byte 0x01) in row"},
        {"alice pw1\nbob $1$2nYDkcne$IFG5E4xeVPpogg5ApnEKI0\n",
         "2: password looks like a crypt(3) hash of a method hcs does not check, or an "
         "incomplete one"},
        {"alice $6$abc\n", "1: password looks like a crypt(3) hash of a method hcs does not "
                           "check, or an incomplete one"},
        {"", "1: no users in file"},
        {"\r\n\n", "1: no users in file"},
    };
    struct fixture *f = *state;
    char err[512], want[512];
    unsigned hashed = 9, kept = 9;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(f->path, cases[i].content, 0600);
        assert_int_equal(passwd_upgrade(f->path, err, sizeof err, &hashed, &kept), -1);
        snprintf(want, sizeof want, "%s:%s", f->path, cases[i].message);
        assert_string_equal(err, want);
        assert_string_equal(read_file(f->path), cases[i].content);
        assert_int_equal(file_mode(f->path), 0600);
        assert_int_equal(count_others(f), 0);
        assert_int_equal(hashed, 0);
        assert_int_equal(kept, 0);
    }
}

static void
test_upgrade_refuses_missing_and_links(void **state)
{
    struct fixture *f = *state;
    char err[512], link[256];
    unsigned hashed, kept;

    assert_int_equal(passwd_upgrade(f->path, err, sizeof err, &hashed, &kept), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(passwd_upgrade(f->dir, err, sizeof err, &hashed, &kept), -1);
    assert_non_null(strstr(err, "not a regular file"));

    write_file(f->path, "alice pw1\n", 0600);
    snprintf(link, sizeof link, "%s/link.txt", f->dir);
    assert_int_equal(symlink("users.txt", link), 0);
    assert_int_equal(passwd_upgrade(link, err, sizeof err, &hashed, &kept), -1);
    assert_non_null(strstr(err, "symbolic link"));
    assert_string_equal(read_file(f->path), "alice pw1\n");
    unlink(link);
}

static void
test_upgrade_unwritable_folder(void **state)
{
    struct fixture *f = *state;
    char err[512];
    unsigned hashed, kept;

    if (geteuid() == 0)
        skip(); /* root writes anywhere */
    write_file(f->path, "alice pw1\n", 0600);
    assert_int_equal(chmod(f->dir, 0500), 0);
    assert_int_equal(passwd_upgrade(f->path, err, sizeof err, &hashed, &kept), -1);
    assert_non_null(strstr(err, "cannot create a temporary file"));
    assert_int_equal(chmod(f->dir, 0700), 0);
    assert_string_equal(read_file(f->path), "alice pw1\n");
    assert_int_equal(count_others(f), 0);
}

static void
test_check_and_hash(void **state)
{
    char err[256], hash[CRYPT_OUTPUT_SIZE];

    (void)state;
    assert_int_equal(passwd_check("hunter2", 7, err, sizeof err), 0);
    assert_int_equal(passwd_check("pässwörd", strlen("pässwörd"), err, sizeof err), 0);
    assert_int_equal(passwd_check("", 0, err, sizeof err), -1);
    assert_string_equal(err, "empty password");
    assert_int_equal(passwd_check("a b", 3, err, sizeof err), -1);
    assert_int_equal(passwd_check("a\tb", 3, err, sizeof err), -1);
    assert_int_equal(passwd_check("a\177", 2, err, sizeof err), -1);
    assert_int_equal(passwd_check("a\0b", 3, err, sizeof err), -1);
    assert_int_equal(
        passwd_check("1234567890123456789012345678901234567890123456789012345678901234", 64, err,
                     sizeof err),
        0);
    assert_int_equal(
        passwd_check("12345678901234567890123456789012345678901234567890123456789012345", 65, err,
                     sizeof err),
        -1);
    assert_string_equal(err, "password longer than 64 bytes");

    /* At least 8 characters, counted as UTF-8: "pässwör" is 9 bytes but 7 characters. */
    assert_int_equal(passwd_check_length("hunter22", 8, err, sizeof err), 0);
    assert_int_equal(passwd_check_length("pässwört", strlen("pässwört"), err, sizeof err), 0);
    assert_int_equal(passwd_check_length("hunter2", 7, err, sizeof err), -1);
    assert_string_equal(err,
                        "password shorter than 8 characters (give --force to use it all the same)");
    assert_int_equal(passwd_check_length("pässwör", strlen("pässwör"), err, sizeof err), -1);
    assert_int_equal(passwd_check_length("", 0, err, sizeof err), -1);

    assert_int_equal(passwd_hash("hunter2", hash, sizeof hash, err, sizeof err), 0);
    assert_memory_equal(hash, "$y$", 3);
    assert_true(authpool_is_hash(hash));
    assert_true(verifies(hash, "hunter2"));
    assert_int_equal(passwd_hash("hunter2", hash, 10, err, sizeof err), -1);
}

/* Output of one passwd_main run with stdin from a file. */
struct run {
    int rc;
    char out[4096];
    char err[4096];
};

/* Read what fd holds from its start into buf. */
static void
slurp(int fd, char *buf, size_t len)
{
    ssize_t n;

    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    n = read(fd, buf, len - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
}

/* Run passwd_main(argv) with input as standard input, capturing stdout and stderr. */
static void
run_main(const struct fixture *f, char **argv, const char *input, struct run *r)
{
    char in[256], out[256], errp[256];
    int argc = 0, fin, fout, ferr, save[3], i;

    while (argv[argc] != NULL)
        argc++;
    snprintf(in, sizeof in, "%s/stdin", f->dir);
    snprintf(out, sizeof out, "%s/stdout", f->dir);
    snprintf(errp, sizeof errp, "%s/stderr", f->dir);
    write_file(in, input, 0600);
    fin = open(in, O_RDONLY);
    fout = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ferr = open(errp, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fin >= 0 && fout >= 0 && ferr >= 0);
    fflush(stdout);
    fflush(stderr);
    for (i = 0; i < 3; i++)
        save[i] = dup(i);
    dup2(fin, 0);
    dup2(fout, 1);
    dup2(ferr, 2);
    r->rc = passwd_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    for (i = 0; i < 3; i++) {
        dup2(save[i], i);
        close(save[i]);
    }
    slurp(fout, r->out, sizeof r->out);
    slurp(ferr, r->err, sizeof r->err);
    close(fin);
    close(fout);
    close(ferr);
    unlink(in);
    unlink(out);
    unlink(errp);
}

/* Run passwd_main(argv) on input: it must print the row of alice with a hash of password. */
static void
expect_row(const struct fixture *f, char **argv, const char *input, const char *password)
{
    char hash[CRYPT_OUTPUT_SIZE];
    struct run r;

    run_main(f, argv, input, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.err, "");
    assert_int_equal(sscanf(r.out, "alice %383s", hash), 1);
    assert_true(verifies(hash, password));
}

/* Run passwd_main(argv) on input: it must exit 1 with exactly err on stderr and no row. */
static void
expect_refused(const struct fixture *f, char **argv, const char *input, const char *err)
{
    struct run r;

    run_main(f, argv, input, &r);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, err);
}

static void
test_main_prints_row(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"passwd", "alice", NULL};
    char hash[CRYPT_OUTPUT_SIZE];
    struct run r;

    run_main(f, argv, "hunter22\n", &r);
    assert_int_equal(r.rc, 0);
    assert_memory_equal(r.out, "alice $y$", 9);
    assert_int_equal(sscanf(r.out, "alice %383s", hash), 1);
    assert_int_equal(strlen(r.out), 6 + strlen(hash) + 1);
    assert_true(verifies(hash, "hunter22"));
    assert_null(strstr(r.out, "hunter22"));
    assert_null(strstr(r.err, "hunter22"));

    /* "\r\n" and a missing final newline; only the first line counts */
    expect_row(f, argv, "hunter22\r\nsecond\n", "hunter22");
    expect_row(f, argv, "hunter22", "hunter22");
    /* Eight characters of UTF-8 are enough, however many bytes they take. */
    expect_row(f, argv, "pässwört\n", "pässwört");
}

/* A password shorter than 8 characters is refused, unless --force (or -f) says to take it. */
static void
test_main_short_password(void **state)
{
    static const char refused[] =
        "hcs passwd: password shorter than 8 characters (give --force to use it all the same)\n";
    struct fixture *f = *state;
    char *plain[] = {"passwd", "alice", NULL};
    char *force[] = {"passwd", "--force", "alice", NULL};
    char *force_short[] = {"passwd", "-f", "alice", NULL};
    char *force_after[] = {"passwd", "alice", "--force", NULL};

    expect_refused(f, plain, "hunter2\n", refused);
    expect_refused(f, plain, "pässwör\n", refused);
    expect_refused(f, plain, "x\n", refused);

    expect_row(f, force, "hunter2\n", "hunter2");
    expect_row(f, force_short, "x\n", "x");
    expect_row(f, force_after, "hunter2\n", "hunter2");
    /* --force does not lift the other rules. */
    expect_refused(f, force, "\n", "hcs passwd: empty password\n");
    expect_refused(f, force, "a b\n",
                   "hcs passwd: password holds a space or a control character\n");
}

static void
test_main_refuses_bad_input(void **state)
{
    static const struct {
        const char *input;
        const char *message;
    } cases[] = {
        {"", "hcs passwd: no password given\n"},
        {"\n", "hcs passwd: empty password\n"},
        {"two words\n", "hcs passwd: password holds a space or a control character\n"},
        {"tab\there\n", "hcs passwd: password holds a space or a control character\n"},
        {"12345678901234567890123456789012345678901234567890123456789012345\n",
         "hcs passwd: password longer than 64 bytes\n"},
    };
    struct fixture *f = *state;
    char *argv[] = {"passwd", "alice", NULL};
    char *badname[] = {"passwd", "al ice", NULL};
    struct run r;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_main(f, argv, cases[i].input, &r);
        assert_int_equal(r.rc, 1);
        assert_string_equal(r.out, "");
        assert_string_equal(r.err, cases[i].message);
    }
    run_main(f, badname, "hunter22\n", &r);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "bad username"));
}

static void
test_main_options(void **state)
{
    struct fixture *f = *state;
    char *help[] = {"passwd", "--help", NULL};
    char *none[] = {"passwd", NULL};
    char *two[] = {"passwd", "alice", "bob", NULL};
    char *bad[] = {"passwd", "--nope", NULL};
    char *upgrade[] = {"passwd", "--upgrade", f->path, NULL};
    char *upgrade_extra[] = {"passwd", "--upgrade", f->path, "alice", NULL};
    char *upgrade_force[] = {"passwd", "--force", "--upgrade", f->path, NULL};
    char want[512];
    struct run r;

    run_main(f, help, "", &r);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "usage: hcs passwd [-f] USER"));
    assert_non_null(strstr(r.out, "-f, --force"));
    /* A usage error is one line of reason and where the help is, not the whole text. */
    expect_refused(f, none, "",
                   "hcs passwd: give the USER to make a row for\nTry 'hcs passwd --help'.\n");
    expect_refused(f, two, "", "hcs passwd: give one USER only\nTry 'hcs passwd --help'.\n");
    expect_refused(f, bad, "", "passwd: unrecognized option '--nope'\nTry 'hcs passwd --help'.\n");
    expect_refused(
        f, upgrade_force, "",
        "hcs passwd: --force is for a new password, not for --upgrade\nTry 'hcs passwd --help'.\n");

    write_file(f->path, "alice pw1\nbob pw2\n", 0600);
    run_main(f, upgrade_extra, "", &r);
    assert_int_equal(r.rc, 1);
    assert_string_equal(read_file(f->path), "alice pw1\nbob pw2\n");
    run_main(f, upgrade, "", &r);
    assert_int_equal(r.rc, 0);
    snprintf(want, sizeof want, "%s: 2 passwords hashed, 0 already hashed\n", f->path);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    run_main(f, upgrade, "", &r);
    assert_int_equal(r.rc, 0);
    snprintf(want, sizeof want, "%s: 0 passwords hashed, 2 already hashed (file unchanged)\n",
             f->path);
    assert_string_equal(r.err, want);

    write_file(f->path, "alice pw1\nbob\n", 0600);
    run_main(f, upgrade, "", &r);
    assert_int_equal(r.rc, 1);
    snprintf(want, sizeof want, "%s:2: expected 2 fields (username password), found 1\n", f->path);
    assert_string_equal(r.err, want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upgrade_hashes_clear_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_keeps_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_bad_rows_leave_file_untouched, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_refuses_missing_and_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_unwritable_folder, setup, teardown),
        cmocka_unit_test(test_check_and_hash),
        cmocka_unit_test_setup_teardown(test_main_prints_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_refuses_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_short_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_options, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
