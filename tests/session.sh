# session.sh: one booking session of the real hcs, doctor and patients, for the shell
# system tests (test_trace.sh, test_wireshark.sh). Source it with BIN set to the build
# folder; every program runs on ports the kernel chose, in a folder of its own.
#
# session_start [FLAG]   start a doctor and a center (FLAG: e.g. --trace on both)
# session_run [FLAG]     patient 2 waits at its prompt, patient 1 books slot 3 (patient 2
#                        sees "* reserved 3"), patient 2 books slot 2, patient 1 cancels
# session_stop           SIGINT to the center and the doctor; both must exit 0
# capture_start F FILTER dumpcap on lo into F (pcapng) with the capture filter FILTER
# capture_stop F         every packet before it in F, then dumpcap stopped
# can_capture            whether dumpcap may capture on lo here
# Afterwards: $W/hcs.out, $W/doctor.out, $W/p1.out (booking), $W/p1c.out (cancel), $W/p2.out.
# With SESSION_TLS naming a folder of config/tls/make-certs.sh, the patients' connection
# speaks TLS (the center's tls_cert and tls_key, the patients' tls = yes and tls_ca).
# Every program runs under $HCS_TEST_WRAPPER when it is set (scripts/test.sh: valgrind).

W=$(mktemp -d)
read -r -a WRAP <<<"${HCS_TEST_WRAPPER:-}"
PIDS=()

# Kill what is still running (only the processes this test started), remove the folder.
session_cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap session_cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    local f
    for f in "$W"/*.out "$W"/*.err; do
        [ -s "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
    done
    exit 1
}

# Wait until file holds a line matching the extended regex (10 s at most).
wait_for() {
    local file=$1 re=$2 i
    for ((i = 0; i < 1000; i++)); do
        grep -Eq -- "$re" "$file" 2>/dev/null && return 0
        sleep 0.01
    done
    fail "no line matching '$re' in $file"
}

session_start() {
    local flag=${1:-}
    rm -f "$W"/*.out "$W"/*.err "$W/p2.in" # a wait must not find a line of an earlier run
    printf 'insurance1 30\ninsurance2 20\n' >"$W/doc1.txt"
    printf '[doctor]\nid = 1\nname = doc1\nlisten = 127.0.0.1\nport = 0\nprices = doc1.txt\n' \
        >"$W/doctor1.conf"
    ${WRAP[@]+"${WRAP[@]}"} "$BIN/doctor" ${flag:+"$flag"} -c "$W/doctor1.conf" >"$W/doctor.out" 2>"$W/doctor.err" &
    DOCTOR_PID=$!
    PIDS+=("$DOCTOR_PID")
    wait_for "$W/doctor.out" '^Phase 3: Doctor 1 has a static UDP port'
    DOCTOR_PORT=$(sed -n 's/^Phase 3: Doctor 1 has a static UDP port \([0-9]*\) .*/\1/p' "$W/doctor.out")
    printf 'patient1 password111\npatient2 password222\n' >"$W/users.txt"
    chmod 600 "$W/users.txt"
    printf '1 Tue 01pm doc1 %s\n2 Mon 03pm doc1 %s\n3 Thu 02pm doc1 %s\n' \
        "$DOCTOR_PORT" "$DOCTOR_PORT" "$DOCTOR_PORT" >"$W/availabilities.txt"
    printf '[center]\nlisten = 127.0.0.1\nport = 0\nusers = users.txt\navailabilities = availabilities.txt\n' \
        >"$W/center.conf"
    [ -z "${SESSION_TLS:-}" ] ||
        printf 'tls_cert = %s/center.pem\ntls_key = %s/center.key\n' "$SESSION_TLS" "$SESSION_TLS" \
            >>"$W/center.conf"
    ${WRAP[@]+"${WRAP[@]}"} "$BIN/hcs" ${flag:+"$flag"} -c "$W/center.conf" >"$W/hcs.out" 2>"$W/hcs.err" &
    HCS_PID=$!
    PIDS+=("$HCS_PID")
    wait_for "$W/hcs.out" '^Phase 1: The Health Center Server has port number'
    CENTER_PORT=$(sed -n 's/^Phase 1: The Health Center Server has port number \([0-9]*\) .*/\1/p' "$W/hcs.out")
    local i
    for i in 1 2; do
        printf 'patient%s password%s%s%s\n' $i $i $i $i >"$W/patient$i.txt"
        printf 'insurance%s\n' $i >"$W/patient${i}insurance.txt"
        printf '[patient]\nid = %s\ncenter_host = 127.0.0.1\ncenter_port = %s\ncredentials = patient%s.txt\ninsurance = patient%sinsurance.txt\n' \
            $i "$CENTER_PORT" $i $i >"$W/patient$i.conf"
        [ -z "${SESSION_TLS:-}" ] ||
            printf 'tls = yes\ntls_ca = %s/ca.pem\ntls_session = %s/session%s\n' \
                "$SESSION_TLS" "$W" $i >>"$W/patient$i.conf"
    done
}

session_run() {
    local flag=${1:-}
    mkfifo "$W/p2.in"
    exec 7<>"$W/p2.in"
    ${WRAP[@]+"${WRAP[@]}"} "$BIN/patient" ${flag:+"$flag"} -c "$W/patient2.conf" <"$W/p2.in" >"$W/p2.out" 2>"$W/p2.err" &
    local p2=$!
    PIDS+=("$p2")
    wait_for "$W/p2.out" 'Please enter the preferred appointment index'
    ${WRAP[@]+"${WRAP[@]}"} "$BIN/patient" ${flag:+"$flag"} -c "$W/patient1.conf" --slot 3 >"$W/p1.out" 2>"$W/p1.err" ||
        fail "patient 1 did not book slot 3"
    wait_for "$W/p2.out" '^Phase 2: Appointment 3 was just taken by another patient\.'
    echo 2 >&7
    wait "$p2" || fail "patient 2 did not book slot 2"
    exec 7>&-
    ${WRAP[@]+"${WRAP[@]}"} "$BIN/patient" ${flag:+"$flag"} -c "$W/patient1.conf" --cancel >"$W/p1c.out" 2>"$W/p1c.err" ||
        fail "patient 1 could not cancel"
}

session_stop() {
    kill -INT "$HCS_PID" "$DOCTOR_PID"
    wait "$HCS_PID" || fail "hcs exited $?"
    wait "$DOCTOR_PID" || fail "doctor exited $?"
}

# Whether dumpcap may capture on lo here (root, or the capabilities of wireshark-common).
can_capture() {
    [ "$(id -u)" -eq 0 ] || { command -v getcap >/dev/null &&
        getcap "$(command -v dumpcap)" | grep -q cap_net_raw; }
}

capture_start() {
    local file=$1 filter=$2
    rm -f "$W/dumpcap.err"
    # Port 9 (discard) carries capture_stop's end marker; nothing needs to listen there.
    dumpcap -q -i lo -f "$filter or udp dst port 9" -w "$file" >"$W/dumpcap.out" 2>"$W/dumpcap.err" &
    DUMPCAP_PID=$!
    PIDS+=("$DUMPCAP_PID")
    wait_for "$W/dumpcap.err" '^File: '
    echo "capturing $filter"
}

capture_stop() {
    local file=$1 i
    # The flush: packets wait in the kernel's capture ring until its block times out, and
    # SIGINT would lose them. A datagram sent last is in the file only once all before it are.
    echo "hcs-capture-end-$$-$file" >/dev/udp/127.0.0.1/9 || true
    for ((i = 0; i < 1000; i++)); do
        grep -aq "hcs-capture-end-$$-$file" "$file" && break
        sleep 0.01
    done
    grep -aq "hcs-capture-end-$$-$file" "$file" || fail "the end marker never reached $file"
    kill -INT "$DUMPCAP_PID"
    wait "$DUMPCAP_PID" || fail "dumpcap exited $?"
}
