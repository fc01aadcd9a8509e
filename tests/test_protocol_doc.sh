#!/usr/bin/env bash
# test_protocol_doc.sh [SRC]: docs/PROTOCOL.md says what the code does.
#
# - the CONN_* states named anywhere in the document are exactly enum conn_state's
#   (server/conn.h);
# - the commands of its "Commands" table are exactly the center's command table
#   (server/command.c), and every message a patient sends in its sequence diagram
#   starts with one of them;
# - the literal words of its "Replies and pushes" table are exactly the words the
#   patient's reply parser compares (common/proto.c);
# - the reasons of its "Error reasons" table are exactly PROTO_ERRORS (common/proto.h).
set -euo pipefail
set -f # the words hold "*"

SRC=${1:-$(cd "$(dirname "$0")/.." && pwd)}
DOC=$SRC/docs/PROTOCOL.md
status=0

# same WHAT DOC_WORDS CODE_WORDS: the two sorted lists must be equal.
same() {
    local d c
    d=$(printf '%s\n' $2 | sort -u)
    c=$(printf '%s\n' $3 | sort -u)
    if [ -z "$c" ]; then
        echo "FAIL: $1: nothing found in the code (has it moved?)" >&2
        status=1
    elif [ "$d" != "$c" ]; then
        echo "FAIL: $1 differ (< docs/PROTOCOL.md, > code):" >&2
        diff <(echo "$d") <(echo "$c") | grep '^[<>]' >&2 || true
        status=1
    else
        echo "ok: $1: $(echo $c)"
    fi
}

# The first column's code spans of the table under the heading "### $1".
table() {
    awk -v h="### $1" '
        $0 == h { on = 1; next }
        /^#/ { on = 0 }
        on && /^\| `/ { split($0, col, "|"); print col[2] }' "$DOC" |
        grep -o '`[^`]*`' | tr -d '`'
}

same "connection states" \
    "$(grep -o 'CONN_[A-Z]*' "$DOC")" \
    "$(sed -n '/^enum conn_state {/,/^};/p' "$SRC/server/conn.h" | grep -o 'CONN_[A-Z]*')"

commands=$(sed -n '/command_table\[\] = {/,/^};/p' "$SRC/server/command.c" |
    grep -o '{"[a-z]*"' | tr -d '{"')
same "commands" "$(table 'Commands (patient to center)' | awk '{print $1}')" "$commands"

# The patients' messages in the sequence diagram ("P1->>C: selection 3").
bad=$(sed -n '/^sequenceDiagram/,/^```/p' "$DOC" | sed -n 's/^ *P[0-9]*->>C: *//p' |
    awk '{print $1}' | grep -vxF -f <(echo "$commands") || true)
if [ -n "$bad" ]; then
    echo "FAIL: the sequence diagram sends words the center does not know: $bad" >&2
    status=1
fi
[ "$(sed -n '/^sequenceDiagram/,/^```/p' "$DOC" | grep -c -- '->>C:')" -gt 0 ] || {
    echo "FAIL: no patient message found in the sequence diagram" >&2
    status=1
}

same "reply words" \
    "$(table 'Replies and pushes (center to patient)' | tr ' ' '\n' | grep -v '^<' | grep .)" \
    "$(grep -o 'proto_field_is(&\?pf, [0-9], "[^"]*")' "$SRC/common/proto.c" | sed 's/.*"\(.*\)")/\1/')"

same "error reasons" \
    "$(table 'Error reasons' | awk '{print $1}')" \
    "$(grep -o '^ *X([A-Z_]*, "[a-z-]*"' "$SRC/common/proto.h" | sed 's/.*"\(.*\)"/\1/')"

[ $status -eq 0 ] && echo PASS
exit $status
