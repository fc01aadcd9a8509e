/* pgtest.h: a throwaway PostgreSQL server of the test program's own, in a temporary folder,
 * reached through a unix socket there; databases made on it, queries run as text. */
#ifndef HCS_PGTEST_H
#define HCS_PGTEST_H

/*
 * Once per test program: initdb a new cluster in a new folder under $TMPDIR (or /tmp) and
 * start a server on it (as the postgres user when run as root) that listens on a unix socket
 * in that folder only, with fsync off. Waits until it accepts connections. Returns 0 (also
 * when already started; after pgtest_stop it restarts it), or -1 after printing the reason
 * to stderr. At exit, and even if the program is killed, the server is stopped and the folder
 * removed.
 */
int pgtest_start(void);
/* Stop the server (fast shutdown) and wait until it is gone; the folder and data stay.
 * Returns 0, or -1 after printing the reason. */
int pgtest_stop(void);
/* Start the server again on the same folder and port (stopping it first if it runs); wait
 * until it accepts connections. Returns 0, or -1 after printing the reason. */
int pgtest_restart(void);
/* Stop the server at once (immediate shutdown), remove its folder and wait until both are
 * done; pgtest_start may then start a new one. Runs at exit by itself. */
void pgtest_stop_all(void);

/* The folder that holds the server's socket, its data ("data") and its log ("log"). */
const char *pgtest_dir(void);
/* The port number that names its socket file (<dir>/.s.PGSQL.<port>). */
int pgtest_port(void);
/* The libpq connection string of database dbname on the server, as user postgres
 * ("host=<dir> port=<port> user=postgres dbname=<dbname>"; kept until exit). */
const char *pgtest_dsn(const char *dbname);
/* Create a new empty database named hcs_test_<pid>_<n> (starting the server first if need
 * be); return its connection string, or NULL after printing the reason. */
const char *pgtest_newdb(void);

/*
 * Run sql (one or more statements) and return the rows of the last as text: one line per
 * row, each ended by "\n", its columns separated by one space, a NULL value written NULL;
 * "" when there are none (malloc'd, caller frees). On an error print it and return NULL.
 */
char *pgtest_query(const char *dsn, const char *sql);
/* The first column of the first row of sql as a number, or -1 after printing the reason
 * (an error, no row, or not a number). */
long long pgtest_count(const char *dsn, const char *sql);
/* Run sql; 0, or -1 after printing the error. */
int pgtest_exec(const char *dsn, const char *sql);

#endif
