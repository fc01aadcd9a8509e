#!/usr/bin/env bash
# test_bench.sh: smoke test of hcs-bench against a real hcs started on port 0. Asserts
# correctness, not speed: race gives exactly min(N, M) winners and no slot twice; session,
# list and fanout see no errors and every push. Then a doctor (beside hcs, port 0): udp sees
# no errors, amplify finds no reply longer than its request; and, when memcached is
# installed, udp --memcached-udp against its UDP port. Over TLS, list sees no errors and
# resumed handshakes resume.
# usage: test_bench.sh HCS HCS_BENCH
set -euo pipefail
HCS=${1:?usage: test_bench.sh HCS HCS_BENCH}
BENCH=${2:?usage: test_bench.sh HCS HCS_BENCH}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/test_bench.XXXXXX")
HPID="" DPID="" MPID=""
passed=0
failed=0

cleanup() {
    local p
    for p in "$HPID" "$DPID" "$MPID"; do
        if [ -n "$p" ]; then
            kill -TERM "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    rm -rf "$DIR"
}
trap cleanup EXIT

# The value of key in a RESULT line.
value() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# check NAME COMMAND...: run a test command; count and print the outcome.
check() {
    local name=$1
    shift
    if "$@"; then
        echo "ok: $name"
        passed=$((passed + 1))
    else
        echo "FAILED: $name"
        failed=$((failed + 1))
    fi
}

# bench NAME ARGS...: run hcs-bench (bounded); its RESULT line goes to $RESULT.
bench() {
    local name=$1 out rc=0
    shift
    out=$(timeout -k 5 120 "$BENCH" "$@" 2>"$DIR/$name.err") || rc=$?
    RESULT=$(grep '^RESULT' <<<"$out" || true)
    echo "$name: exit $rc: $RESULT"
    [ -s "$DIR/$name.err" ] && sed "s/^/$name: /" "$DIR/$name.err"
    return "$rc"
}

# 2,000 users, 1,000 slots; the kernel picks the port.
"$BENCH" --mode gen --dir "$DIR" --users 2000 --slots 1000 >/dev/null
mkfifo "$DIR/hcs.out"
"$HCS" -q --config "$DIR/center.conf" >"$DIR/hcs.out" 2>"$DIR/hcs.err" &
HPID=$!
exec {fd}<"$DIR/hcs.out"
if ! read -r -t 30 -u "$fd" line; then
    echo "FAILED: hcs did not start"
    cat "$DIR/hcs.err"
    exit 1
fi
exec {fd}<&-
PORT=${line#*port number }
PORT=${PORT%% *}
echo "hcs pid $HPID on port $PORT"

# Race: 500 patients (users 1..500), 100 slots (1..100).
rc=0
bench race --mode race -p "$PORT" -c 500 -s 100 -d 30 || rc=$?
check "race exits 0" [ "$rc" = 0 ]
check "race: exactly 100 winners" [ "$(value "$RESULT" winners)" = 100 ]
check "race: all 500 answered" [ "$(value "$RESULT" answered)" = 500 ]
check "race: no slot twice" [ "$(value "$RESULT" slot_twice)" = 0 ]
check "race: server agrees" [ "$(value "$RESULT" race)" = ok ]

# Race with more slots than patients: 50 patients (users 501..550), slots 201..300.
rc=0
bench race2 --mode race -p "$PORT" -c 50 -s 100 --user-offset 501 --slot-offset 200 -d 30 || rc=$?
check "race, N < M: exactly 50 winners" [ "$rc:$(value "$RESULT" winners)" = 0:50 ]

# Sessions: 300 (users 1001..1300), 20 at a time; each books a free slot.
rc=0
bench session --mode session -p "$PORT" -c 20 -n 300 -d 30 -u 2000 --user-offset 1001 || rc=$?
check "session exits 0" [ "$rc" = 0 ]
check "session: 300 sessions, zero errors" \
    [ "$(value "$RESULT" requests):$(value "$RESULT" errors)" = 300:0 ]

# List: users 1..10 (logged in again; their bookings do not matter to available).
rc=0
bench list --mode list -p "$PORT" -c 10 -n 2000 -d 30 -u 2000 || rc=$?
check "list: 2000 requests, zero errors" [ "$rc:$(value "$RESULT" requests)" = 0:2000 ]

# Fanout: 50 waiting patients (users 1501..1550), booker user 1551, 5 cycles.
rc=0
bench fanout --mode fanout -p "$PORT" -c 50 --user-offset 1501 --cycles 5 -d 30 || rc=$?
check "fanout: every push delivered" [ "$rc:$(value "$RESULT" push_lines)" = 0:500 ]

# The tool refuses a non-loopback target.
rc=0
"$BENCH" --mode list -H 192.0.2.1 -p "$PORT" -c 1 -n 1 -d 1 >/dev/null 2>&1 || rc=$?
check "refuses a non-loopback target" [ "$rc" = 1 ]

kill -TERM "$HPID"
rc=0
wait "$HPID" || rc=$?
HPID=""
check "hcs stops cleanly" [ "$rc" = 0 ]

# The doctor (built beside hcs): 50 outstanding datagrams, then the amplify probes.
DOCTOR=$(dirname "$HCS")/doctor
mkfifo "$DIR/doctor.out"
"$DOCTOR" --config "$DIR/doctor1.conf" >"$DIR/doctor.out" 2>"$DIR/doctor.err" &
DPID=$!
exec {fd}<"$DIR/doctor.out"
if ! read -r -t 30 -u "$fd" line; then
    echo "FAILED: the doctor did not start"
    cat "$DIR/doctor.err"
    exit 1
fi
DPORT=${line#*UDP port }
DPORT=${DPORT%% *}
cat <&"$fd" >/dev/null & # its screen lines, read so that it never waits
exec {fd}<&-
rc=0
bench udp --mode udp -p "$DPORT" -c 50 -n 3000 -d 30 || rc=$?
check "udp: 3000 answers, zero errors" [ "$rc:$(value "$RESULT" requests)" = 0:3000 ]
check "udp: every answer matched (none late, none resent)" \
    [ "$(value "$RESULT" late):$(value "$RESULT" resent)" = 0:0 ]
# Batched reads: a recvmmsg that reads less than a full batch (64) ends the wake-up, so
# the reads are at most the wake-ups and one more per 64 answers (none that finds nothing).
check "udp: no recvmmsg that finds nothing" awk -v r="$(value "$RESULT" client_recvmmsg)" \
    -v w="$(value "$RESULT" client_wakeups)" 'BEGIN { exit !(r != "" && r + 0 <= w + 3000 / 64 + 1) }'
check "udp: sends batched (fewer sendmmsg than requests)" awk \
    -v s="$(value "$RESULT" client_sendmmsg)" 'BEGIN { exit !(s != "" && s + 0 < 3000) }'
# Nobody listening: every request refused, resent after 200 ms, unanswered at the deadline.
rc=0
bench udp-refused --mode udp -p "$("$BENCH" --mode freeport)" -c 2 -n 4 -d 1 || rc=$?
check "udp to a closed port: refused, resent, errors at the deadline" awk -v rc="$rc" \
    -v f="$(value "$RESULT" refused)" -v r="$(value "$RESULT" resent)" \
    'BEGIN { exit !(rc == 2 && f + 0 > 0 && r + 0 > 0) }'
rc=0
bench amplify --mode amplify -p "$DPORT" --line insurance1 || rc=$?
check "amplify: no reply longer than its request" \
    awk -v r="$(value "$RESULT" amp_max_ratio)" 'BEGIN { exit !(r != "" && r + 0 <= 1) }'
check "amplify: the long probes answered" [ "$(value "$RESULT" answered)" -ge 3 ]
kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
DPID=""
check "the doctor stops cleanly" [ "$rc" = 0 ]

# memcached's UDP port, when memcached is installed: the frame header both ways.
if command -v memcached >/dev/null; then
    MUPORT=$("$BENCH" --mode freeport)
    mcuser=()
    [ "$(id -u)" -eq 0 ] && mcuser=(-u root)
    memcached "${mcuser[@]}" -l 127.0.0.1 -p 0 -U "$MUPORT" -t 1 -m 8 2>"$DIR/mc.err" &
    MPID=$!
    rc=0
    bench mcudp --mode udp --memcached-udp --line version --expect VERSION -p "$MUPORT" -c 10 \
        -n 1000 -d 30 || rc=$?
    check "udp --memcached-udp: 1000 answers, zero errors" \
        [ "$rc:$(value "$RESULT" requests)" = 0:1000 ]
    check "udp --memcached-udp: a late answer only for a request resent (ids matched)" awk \
        -v l="$(value "$RESULT" late)" -v r="$(value "$RESULT" resent)" \
        'BEGIN { exit !(l != "" && l + 0 <= r + 0) }'
    kill -TERM "$MPID"
    wait "$MPID" 2>/dev/null || true
    MPID=""
fi

# TLS (--tls): the same center with a throwaway certificate made now, on a new port.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
    -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
chmod 600 "$DIR/key.pem"
{
    cat "$DIR/center.conf"
    printf 'tls_cert = cert.pem\ntls_key = key.pem\n'
} >"$DIR/center-tls.conf"
rm -f "$DIR/hcs.out"
mkfifo "$DIR/hcs.out"
"$HCS" -q --config "$DIR/center-tls.conf" >"$DIR/hcs.out" 2>"$DIR/hcs-tls.err" &
HPID=$!
exec {fd}<"$DIR/hcs.out"
if ! read -r -t 30 -u "$fd" line; then
    echo "FAILED: hcs with TLS did not start"
    cat "$DIR/hcs-tls.err"
    exit 1
fi
exec {fd}<&-
PORT=${line#*port number }
PORT=${PORT%% *}
rc=0
bench tls-list --mode list --tls -p "$PORT" -c 10 -n 2000 -d 30 -u 2000 || rc=$?
check "list over TLS: 2000 requests, zero errors" \
    [ "$rc:$(value "$RESULT" requests):$(value "$RESULT" errors)" = 0:2000:0 ]
rc=0
bench tls-full --mode handshake --tls -p "$PORT" -c 4 -n 100 -d 30 || rc=$?
check "full handshakes: 100, none resumed" \
    [ "$rc:$(value "$RESULT" requests):$(value "$RESULT" resumed)" = 0:100:0 ]
rc=0
bench tls-resumed --mode handshake --tls-resume -p "$PORT" -c 4 -n 100 -w 0.3 -d 30 || rc=$?
check "resumed handshakes: every measured one resumed" \
    [ "$rc:$(value "$RESULT" requests):$(value "$RESULT" resumed)" = 0:100:100 ]
rc=0
"$BENCH" --mode handshake -p "$PORT" -c 1 -n 1 -d 1 >/dev/null 2>&1 || rc=$?
check "handshake mode needs --tls" [ "$rc" = 1 ]
kill -TERM "$HPID"
rc=0
wait "$HPID" || rc=$?
HPID=""
check "hcs with TLS stops cleanly" [ "$rc" = 0 ]

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
