#!/usr/bin/env bash
# test_trace.sh BIN: --trace on hcs, doctor and patient, on the session of session.sh.
#
# The session runs twice: without --trace (no trace line anywhere), then with --trace on
# all three programs. The second run must show every message with its direction, phase
# and peer (the login masked, the counted list line by line, the push, the cancel, the
# datagrams on both sides, each before the screen line it causes), never a password, and
# once the trace lines are taken out, the same screens as the first run.
set -euo pipefail

BIN=${1:?usage: test_trace.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/session.sh # it reads BIN
. "$HERE/session.sh"

OUTS="hcs doctor p1 p2 p1c"

# The output with its port numbers (they change from run to run) replaced by P.
normalized() {
    sed -E 's/\b[0-9]{4,5}\b/P/g' "$W/$1.out"
}

session_start
session_run
session_stop
for o in $OUTS; do
    ! grep -q '^trace:' "$W/$o.out" || fail "$o printed trace lines without --trace"
    normalized "$o" >"$W/$o.plain"
done

session_start --trace
session_run --trace
session_stop

P1=$(sed -n 's/^Phase 1: Patient 1 has TCP port number \([0-9]*\) .*/\1/p' "$W/p1.out")
P2=$(sed -n 's/^Phase 1: Patient 2 has TCP port number \([0-9]*\) .*/\1/p' "$W/p2.out")
U1=$(sed -n 's/^Phase 3: Patient 1 has a dynamic UDP port number \([0-9]*\) .*/\1/p' "$W/p1.out")
C=127.0.0.1:$CENTER_PORT
D=127.0.0.1:$DOCTOR_PORT

# The patients' price requests, padded with spaces to 24 bytes (PROTO_PRICE_PAD).
PAD1=$(printf '%-24s' insurance1)
PAD2=$(printf '%-24s' insurance2)

# has NAME LINE...: the output holds these lines in this order (others may come between).
has() {
    local name=$1 at=0 n
    shift
    for line in "$@"; do
        n=$(tail -n +$((at + 1)) "$W/$name.out" | grep -nxF -- "$line" | head -1 | cut -d: -f1 || true)
        [ -n "$n" ] || fail "$name.out lacks, after line $at: $line"
        at=$((at + n))
    done
    echo "ok: $name: $1"
}

has hcs \
    "trace: phase 1 < 127.0.0.1:$P2 authenticate patient2 ********" \
    "Phase 1: The Health Center Server has received request from a patient with username patient2 and password ********." \
    "trace: phase 1 > 127.0.0.1:$P2 success" \
    "trace: phase 2 < 127.0.0.1:$P2 available" \
    "trace: phase 2 > 127.0.0.1:$P2 slots 3" \
    "trace: phase 2 > 127.0.0.1:$P2 1 Tue 01pm" \
    "trace: phase 2 > 127.0.0.1:$P2 2 Mon 03pm" \
    "trace: phase 2 > 127.0.0.1:$P2 3 Thu 02pm" \
    "trace: phase 2 > 127.0.0.1:$P2 * reserved 3" \
    "trace: phase 2 < 127.0.0.1:$P2 selection 2" \
    "trace: phase 2 > 127.0.0.1:$P2 doc1 $DOCTOR_PORT"
has hcs "trace: phase 2 < 127.0.0.1:$P1 selection 3" "trace: phase 2 > 127.0.0.1:$P1 doc1 $DOCTOR_PORT"
has p2 \
    "trace: phase 1 > $C authenticate patient2 ********" \
    "trace: phase 1 < $C success" \
    "Phase 1: Patient 2 authentication result: success." \
    "trace: phase 2 > $C available" \
    "trace: phase 2 < $C slots 3" \
    "trace: phase 2 < $C 3 Thu 02pm" \
    "Phase 2: The following appointments are available for Patient 2:" \
    "trace: phase 2 < $C * reserved 3" \
    "Phase 2: Appointment 3 was just taken by another patient." \
    "trace: phase 2 > $C selection 2" \
    "trace: phase 2 < $C doc1 $DOCTOR_PORT" \
    "trace: phase 3 > $D $PAD2" \
    "trace: phase 3 < $D 20"
has p1 \
    "trace: phase 2 > $C selection 3" \
    "Phase 3: Patient 1 has a dynamic UDP port number $U1 and IP address 127.0.0.1." \
    "trace: phase 3 > $D $PAD1" \
    "Phase 3: The cost estimation request from Patient 1 with insurance plan insurance1 has been sent to the doctor with port number $DOCTOR_PORT and IP address 127.0.0.1." \
    "trace: phase 3 < $D 30" \
    "Phase 3: Patient 1 receives 30\$ estimation cost from doctor with port number $DOCTOR_PORT and name doc1."
has p1c "trace: phase 2 > $C cancel" "trace: phase 2 < $C cancelled 3"
# The doctor answers a batch of datagrams at once (recvmmsg, sendmmsg) and writes the
# batch's screen lines after it: its trace lines come first.
has doctor \
    "trace: phase 3 < 127.0.0.1:$U1 $PAD1" \
    "trace: phase 3 > 127.0.0.1:$U1 30" \
    "Phase 3: Doctor 1 receives the request from the patient with port number $U1 and the insurance plan insurance1." \
    "Phase 3: Doctor 1 has sent estimated price 30\$ to patient with port number $U1."

! grep -r -e password111 -e password222 "$W"/*.out "$W"/*.err || fail "a password was printed"
echo "ok: no password printed"
for o in $OUTS; do
    grep -v '^trace: ' "$W/$o.out" >"$W/$o.screen" || true
    mv "$W/$o.screen" "$W/$o.out"
    diff -u "$W/$o.plain" <(normalized "$o") >&2 || fail "$o: the screen lines changed with --trace"
done
echo "ok: the screen lines are the same with and without --trace"
echo PASS
