#!/usr/bin/env bash
# test_wireshark.sh BIN: the Wireshark dissector (tools/wireshark/hcs.lua) on a real capture.
#
# Captures one session on loopback (dumpcap, filtered on the test's own ports): the
# booking session of session.sh, then a raw client whose authenticate line is split over
# two TCP segments and who sends an unknown command. tshark with the dissector must then
# show the fields of what the session did: users with masked passwords, the slots counts
# and indices, the selections, the push, the doctor's port, the cancel, the errors, the
# UDP plans and prices, the split line reassembled, the unknown command flagged. Where
# dumpcap may not capture (not root, no capture capabilities) only
# tests/data/hcs-session.pcapng is checked: a capture this script made (SAVE=1 writes it
# again), with what its session did beside it; it is checked after a live capture too.
# Last, made-up segments: a slots block cut short must be flagged, and logins the center
# refuses for their case or spacing must be masked too.
set -euo pipefail

BIN=${1:?usage: test_wireshark.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
LUA=$HERE/../tools/wireshark/hcs.lua

command -v tshark >/dev/null && command -v dumpcap >/dev/null || {
    echo "FAIL: tshark and dumpcap are needed (scripts/deps.sh installs the tshark package)" >&2
    exit 1
}
tshark -v 2>/dev/null | grep -q 'with Lua' || {
    echo "FAIL: this tshark is built without Lua: it cannot run tools/wireshark/hcs.lua" >&2
    exit 1
}

# shellcheck source=tests/session.sh # it reads BIN
. "$HERE/session.sh"
SAVED=$HERE/data/hcs-session.pcapng # the fallback: a capture made by this script (SAVE=1)

# Capture the session (see the top) into $W/cap.pcapng and note what it did in $W/cap.env.
capture() {
    session_start
    capture_start "$W/cap.pcapng" "tcp port $CENTER_PORT or udp port $DOCTOR_PORT"

    session_run

    # A raw client: "appointment" (refused: not yet authenticated) with the start of the
    # login in one segment; the rest of the login goes only once the refusal came back, so
    # the line is split over two segments for certain.
    exec 3<>"/dev/tcp/127.0.0.1/$CENTER_PORT"
    printf 'appointment\nauthenti' >"$W/part1"
    cat "$W/part1" >&3 # one write: bash's printf may write at each newline
    IFS= read -r -t 10 line <&3 && [ "$line" = "error not-authenticated" ] || fail "raw client: '$line'"
    printf 'cate patient1 password111\navailable\n' >&3
    for want in success "slots 2" "1 Tue 01pm" "3 Thu 02pm"; do
        IFS= read -r -t 10 line <&3 && [ "$line" = "$want" ] || fail "raw client: '$line', not '$want'"
    done
    printf 'hello\n' >&3
    IFS= read -r -t 10 line <&3 && [ "$line" = "error unknown-command" ] || fail "raw client: '$line'"
    exec 3>&-

    session_stop
    capture_stop "$W/cap.pcapng"

    {
        echo "CENTER_PORT=$CENTER_PORT DOCTOR_PORT=$DOCTOR_PORT"
        echo "P2_PORT=$(sed -n 's/^Phase 1: Patient 2 has TCP port number \([0-9]*\) .*/\1/p' "$W/p2.out")"
        echo "DOC_PORT=$(sed -n 's/.*The assigned doctor port number is \([0-9]*\)\./\1/p' "$W/p1.out")"
        echo "PRICE1=$(sed -n 's/^Phase 3: Patient 1 receives \([0-9]*\)\$ .*/\1/p' "$W/p1.out")"
        echo "PRICE2=$(sed -n 's/^Phase 3: Patient 2 receives \([0-9]*\)\$ .*/\1/p' "$W/p2.out")"
    } >"$W/cap.env"
}

# The fields of the frames that hold filter, one frame a line.
fields() {
    local filter=$1
    shift
    local args=() e
    for e in "$@"; do
        args+=(-e "$e")
    done
    tshark -r "$CAP" -X "lua_script:$LUA" -o "hcs.tcp_port:$CENTER_PORT" \
        -o "hcs.udp_ports:$DOCTOR_PORT" ${SHOW:+-o hcs.show_password:TRUE} -Y "$filter" \
        -T fields -E separator=' ' "${args[@]}" 2>"$W/tshark.err" || fail "tshark failed"
}

# expect NAME EXPECTED ACTUAL
expect() {
    [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
    echo "ok: $1"
}

# check CAP ENV: the fields of capture CAP against what its session did (ENV).
check() {
    CAP=$1
    # shellcheck disable=SC1090 # the env file of the capture checked
    . "$2"
    [ -n "$DOC_PORT" ] && [ -n "$PRICE1" ] && [ -n "$PRICE2" ] && [ -n "$P2_PORT" ] ||
        fail "the session did not finish"
    echo "== $CAP"
    expect "logins: users, passwords masked" "$(printf 'patient2 ********\npatient1 ********\npatient1 ********\npatient1 ********')" \
        "$(fields 'hcs.command == "authenticate"' hcs.user hcs.password)"
    expect "show_password preference" "patient2 password222" \
        "$(SHOW=1 fields 'hcs.command == "authenticate"' hcs.user hcs.password | head -1)"
    expect "commands of patient 2" "authenticate appointment available selection" \
        "$(fields "hcs.command and tcp.srcport == $P2_PORT" hcs.command | tr '\n' ' ' | sed 's/ $//')"
    expect "slots counts" "$(printf '3\n3\n2')" "$(fields 'hcs.slots.count' hcs.slots.count)"
    expect "slot indices of the last list" "1,3" "$(fields 'hcs.slots.count == 2' hcs.slot.index)"
    expect "selections" "$(printf '3\n2')" "$(fields 'hcs.command == "selection"' hcs.index)"
    expect "push" "reserved 3" "$(fields 'hcs.push' hcs.push hcs.slot.index)"
    expect "booked replies" "$(printf 'doc1 %s\ndoc1 %s' "$DOC_PORT" "$DOC_PORT")" \
        "$(fields 'hcs.reply == "booked"' hcs.doctor hcs.doctor.port)"
    expect "cancel" "3" "$(fields 'hcs.reply == "cancelled"' hcs.index)"
    expect "errors" "$(printf 'not-authenticated\nunknown-command')" "$(fields 'hcs.error' hcs.error)"
    expect "unknown command flagged" "hello" \
        "$(fields '_ws.expert.message contains "Unknown command"' hcs.command)"
    expect "UDP plans" "$(printf 'insurance1\ninsurance2')" "$(fields 'hcs.insurance' hcs.insurance)"
    expect "UDP prices" "$(printf '%s\n%s' "$PRICE1" "$PRICE2")" "$(fields 'hcs.price' hcs.price)"
    expect "split line reassembled" "2 patient1" \
        "$(fields 'tcp.segment.count and hcs.user' tcp.segment.count hcs.user)"
    expect "nothing malformed" "" "$(fields '_ws.expert.message contains "Not a line"' frame.number)"
    expect "every hcs frame has a line" "" "$(fields '(tcp.len > 0 or udp) and not hcs and not tcp.reassembled_in and not udp.port == 9' frame.number)"
    if grep -q password111 <(tshark -r "$CAP" -X "lua_script:$LUA" -o "hcs.tcp_port:$CENTER_PORT" -V 2>/dev/null | grep -v '^[0-9a-f]\{4\}  '); then
        fail "a password is shown in the packet tree"
    fi
    echo "ok: no password in the packet tree"
    ! grep -v '^Running as user "root"' "$W/tshark.err" | grep -q . || fail "tshark said: $(cat "$W/tshark.err")"
}

if can_capture; then
    capture
    check "$W/cap.pcapng" "$W/cap.env"
    if [ -n "${SAVE:-}" ]; then
        mkdir -p "$(dirname "$SAVED")"
        cp "$W/cap.pcapng" "$SAVED"
        cp "$W/cap.env" "${SAVED%.pcapng}.env"
        chmod 644 "$SAVED" "${SAVED%.pcapng}.env"
        echo "saved $SAVED"
    fi
else
    echo "note: dumpcap cannot capture on lo here (not root, no capture capabilities):" \
        "only the capture saved from a real session is checked" >&2
fi
# The saved capture too, so that it keeps matching the dissector.
check "$SAVED" "${SAVED%.pcapng}.env"

# A made-up segment from the center's default port (text2pcap, beside tshark): a slots
# block cut short by another reply is flagged, and the preferences' default port is 21000.
printf 'slots 3\n1 Tue 01pm\nsuccess\n' | od -An -tx1 -v |
    awk '{ printf "%06x", o; for (i = 1; i <= NF; i++) printf " %s", $i; print ""; o += NF }' \
        >"$W/short.hex"
text2pcap -q -T 21000,40000 "$W/short.hex" "$W/short.pcap" || fail "text2pcap failed"
expect "short slots block flagged" "2 slot lines missing|slots,slot,success" \
    "$(tshark -r "$W/short.pcap" -X "lua_script:$LUA" -Y hcs -T fields -E separator='|' \
        -e _ws.expert.message -e hcs.reply 2>/dev/null)"
# Logins of the wrong case or spacing (the center refuses them) are masked too.
printf 'AUTHENTICATE bob secret1\nauthenticate  bob secret2\nauthenticate bob  secret3\n' |
    od -An -tx1 -v |
    awk '{ printf "%06x", o; for (i = 1; i <= NF; i++) printf " %s", $i; print ""; o += NF }' \
        >"$W/logins.hex"
text2pcap -q -T 40000,21000 "$W/logins.hex" "$W/logins.pcap" || fail "text2pcap failed"
tshark -r "$W/logins.pcap" -X "lua_script:$LUA" -V 2>/dev/null | grep -v '^[0-9a-f]\{4\}  ' \
    >"$W/logins.txt"
! grep -q secret "$W/logins.txt" || fail "a password of a bad login is shown: $(grep secret "$W/logins.txt")"
expect "bad logins masked" 3 "$(grep -c '^Patient: .*\*\*\*\*\*\*\*\*$' "$W/logins.txt")"
echo "PASS"
