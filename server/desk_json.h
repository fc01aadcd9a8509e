/* desk_json.h: the reception desk's JSON: the schedule written out, a new slot read in. */
#ifndef HCS_DESK_JSON_H
#define HCS_DESK_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct evbuffer;
struct center;
struct slot;

/* A slot as the desk's POST /api/slots gives it. */
struct desk_slot {
    uint32_t index;
    char day[PROTO_DAYLEN];
    char time[PROTO_DAYLEN];
    char doctor[PROTO_NAMELEN];
    unsigned port;
};

/*
 * Append s[0..len) to out as a JSON string, quoted: well-formed UTF-8 as
 * it is; '"', '\\' and control bytes escaped; each byte of malformed UTF-8
 * as \u00XX (the Latin-1 character of that byte), so the output is always
 * valid JSON whatever the bytes. Returns -1 out of memory.
 */
int desk_json_str(struct evbuffer *out, const char *s, size_t len);
/* Append one slot: {"index":..,"day":..,"time":..,"doctor":..,"port":..,"user":..|null}. */
int desk_json_slot(struct evbuffer *out, const struct center *c, const struct slot *slot);
/* Append {"slots":[...]}: every slot of the schedule in file order, retired bookings too. */
int desk_json_schedule(struct evbuffer *out, const struct center *c);
/*
 * Read the body of POST /api/slots: one JSON object with exactly the keys
 * index, day, time, doctor and port, each once; day, time and doctor are
 * single tokens that fit a row of availabilities.txt. 0, or -1 with a
 * message for the client in err.
 */
int desk_json_parse_slot(const char *body, size_t len, struct desk_slot *out, char *err,
                         size_t errlen);
/* The index at the end of path after prefix ("/api/slots/7"): 0, or -1 if it is not one. */
int desk_path_index(const char *path, const char *prefix, uint32_t *index);

#endif
