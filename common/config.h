/* config.h: the INI configuration of hcs, doctor and patient (read with inih). */
#ifndef HCS_CONFIG_H
#define HCS_CONFIG_H

#include <stddef.h>

/* [center] of center.conf. Paths are already relative to the config's folder. */
struct center_config {
    char *path;
    char *listen;
    unsigned port;
    char *users;
    char *availabilities;
    unsigned max_clients;
    unsigned max_line;                /* bytes in one request line, "\n" excluded */
    unsigned idle_timeout;            /* seconds without a complete line */
    unsigned auth_timeout;            /* seconds to authenticate */
    unsigned max_output;              /* bytes queued to one client */
    unsigned store;                   /* CONFIG_STORE_*: the backend that keeps the bookings */
    char *state;                      /* store = sqlite: its file (NULL: "none") */
    char *dsn;                        /* store = postgresql: the libpq connection string */
    unsigned durability;              /* CONFIG_DURABILITY_* */
    unsigned ipv6_prefix;             /* leading bits of an IPv6 address that make one source */
    unsigned max_clients_per_address; /* connections from one source at once */
    unsigned max_checks_per_address;  /* password checks queued or running per source */
    unsigned max_login_failures;      /* failed or abandoned logins per source per minute */
    unsigned max_user_failures;       /* failures per user per minute before answers wait */
    /* [desk]: the reception desk's HTTP server, when port is given. */
    int desk;                  /* [desk] port was given */
    char *desk_listen;         /* address (127.0.0.1) */
    unsigned desk_port;        /* TCP port (0: the kernel chooses) */
    char *desk_staff;          /* file of "name hash" rows */
    unsigned desk_max_streams; /* event streams open at once */
    /* TLS on the patient port and the desk, when tls_cert and tls_key are given. */
    char *tls_cert;                 /* PEM certificate chain (NULL: no TLS) */
    char *tls_key;                  /* PEM private key, not readable by others */
    char *tls_ca;                   /* PEM CA file for client certificates (NULL: none asked) */
    int tls_key_line;               /* line of tls_key in the file (for --check's message) */
    unsigned tls_handshake_timeout; /* seconds a patient has to finish the TLS handshake */
};

#define CONFIG_STORE_MEMORY 0     /* bookings in memory only: lost when hcs stops */
#define CONFIG_STORE_SQLITE 1     /* bookings in the SQLite file named by state */
#define CONFIG_STORE_POSTGRESQL 2 /* bookings and slots in the database named by dsn */
#define CONFIG_STORE_UNSET 99     /* not in the file: sqlite if state names a file, else memory */

#define CONFIG_DURABILITY_NORMAL 0 /* survives a crash of the process */
#define CONFIG_DURABILITY_FULL 1   /* survives a power cut: commits are synced */

/* [doctor] of doctorN.conf. */
struct doctor_config {
    char *path;
    unsigned id;
    char *name;
    char *listen;
    unsigned port;
    char *prices;
};

/* [patient] of patientN.conf. */
struct patient_config {
    char *path;
    unsigned id;
    char *center_host;
    unsigned center_port;
    char *doctor_host; /* NULL: use center_host */
    char *credentials;
    char *insurance;
    unsigned timeout_ms;  /* wait for one center or doctor reply */
    unsigned udp_retries; /* resends of the phase 3 request */
    unsigned tls;         /* tls = yes: the center's port speaks TLS */
    char *tls_ca;         /* PEM CA file to verify the center (NULL: the system's store) */
    char *tls_name;       /* the name the certificate must carry (default: center_host) */
    char *tls_session;    /* file keeping the TLS session ticket (NULL: the default place) */
};

/*
 * Load a file; on error return -1 with every error found in err, one per
 * line ("file:line: message", or "file: message" for the file as a whole),
 * as many as fit, then "file: N more errors". A key given twice, an unknown
 * key or section, an indented line (inih would read it as the value above
 * going on) and a bad value are errors on their line; center and doctor
 * also refuse a listen address that does not parse or resolve. Call
 * config_free_* afterwards either way: a failed load may hold some strings.
 */
int config_load_center(struct center_config *c, const char *path, char *err, size_t errlen);
/* The same from text in memory; name stands for the file in messages and paths. */
int config_load_center_text(struct center_config *c, const char *name, const char *text, char *err,
                            size_t errlen);
int config_load_doctor(struct doctor_config *c, const char *path, char *err, size_t errlen);
int config_load_patient(struct patient_config *c, const char *path, char *err, size_t errlen);
void config_free_center(struct center_config *c);
void config_free_doctor(struct doctor_config *c);
void config_free_patient(struct patient_config *c);

/* Whether the loaders look up listen names (default 1; fuzzers turn it off: no DNS). */
void config_set_resolve(int on);

/* The conventional file for --id N: "<dir>/<kind>N.conf". Caller frees. */
char *config_id_path(const char *dir, const char *kind, unsigned id);

#endif
