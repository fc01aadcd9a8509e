#!/usr/bin/env bash
# test_tls_capture.sh BIN: on the wire, a whole session over TLS shows no password (issue 14).
#
# Captures (dumpcap on lo, filtered on the center's port) the booking session of session.sh
# twice. In clear first: each patient's password must be found in the capture's bytes, so
# the search below is one that can fail. Then over TLS, with a certificate made by
# config/tls/make-certs.sh: no password, user name or word of the protocol may be found in
# the capture; tshark must see a TLS 1.3 handshake for each of the three patient runs, the
# last one resumed from the ticket the first run of patient 1 kept (a pre_shared_key offer
# answered), only TLS records after each handshake, and the dissector no line of hcs at all
# without the keys. Last, `openssl s_client -keylogfile` logs in by hand in the same capture:
# with its key log, tshark decrypts that connection and the dissector (tools/wireshark/hcs.lua,
# on its hcs.tls_port) shows its lines, the password masked. Then a saved capture whose
# records are split over segments (tests/data/hcs-tls-split.*) is decrypted the same way.
set -euo pipefail

BIN=${1:?usage: test_tls_capture.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
LUA=$HERE/../tools/wireshark/hcs.lua

command -v tshark >/dev/null && command -v dumpcap >/dev/null && command -v openssl >/dev/null || {
    echo "FAIL: tshark, dumpcap and openssl are needed (scripts/deps.sh installs them)" >&2
    exit 1
}

# shellcheck source=tests/session.sh # it reads BIN
. "$HERE/session.sh"

if ! can_capture; then
    echo "SKIP: dumpcap cannot capture on lo here (not root, no capture capabilities)" >&2
    exit 77
fi

# expect NAME EXPECTED ACTUAL
expect() {
    [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
    echo "ok: $1"
}

# One session captured into $W/NAME.pcapng (SESSION_TLS set or not by the caller), then
# the command AFTER (if any) while the center still runs.
captured_session() {
    session_start
    capture_start "$W/$1.pcapng" "tcp port $CENTER_PORT"
    session_run
    ${AFTER:-true}
    session_stop
    capture_stop "$W/$1.pcapng"
}

# What must never cross the wire in clear: the passwords, and a few words that would show
# that any of the protocol did.
SECRETS=(password111 password222 patient1 patient2 authenticate "slots 3" selection)

captured_session plain
for s in password111 password222; do
    grep -aqF "$s" "$W/plain.pcapng" || fail "the clear capture does not hold $s: the search cannot find a password"
done
echo "ok: the clear capture holds both passwords"

# openssl s_client logs in as patient 1 and asks for the list (after the session: slots 2
# and 3 are free), its TLS keys logged to $W/keys.txt.
by_hand() {
    local line want
    local in out pid
    # exec: SCLIENT_PID is s_client itself, not a shell around it.
    coproc SCLIENT { exec openssl s_client -connect "127.0.0.1:$CENTER_PORT" \
        -CAfile "$W/certs/ca.pem" -verify_return_error -keylogfile "$W/keys.txt" -quiet \
        2>"$W/s_client.err"; }
    in=${SCLIENT[1]:-} out=${SCLIENT[0]:-} pid=$SCLIENT_PID
    [ -n "$in" ] && [ -n "$out" ] || fail "s_client ended at once"
    PIDS+=("$pid")
    printf 'authenticate patient1 password111\navailable\n' >&"$in"
    for want in success "slots 2" "1 Tue 01pm" "3 Thu 02pm"; do
        IFS= read -r -t 10 line <&"$out" && [ "$line" = "$want" ] ||
            fail "s_client: '${line:-}', not '$want'"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "ok: s_client logged in by hand over TLS"
}

sh "$HERE/../config/tls/make-certs.sh" "$W/certs" >"$W/certs.out" 2>&1 || fail "make-certs.sh failed"
SESSION_TLS=$W/certs AFTER=by_hand captured_session tls
[ -s "$W/keys.txt" ] || fail "s_client logged no keys"
grep -q '^Phase 3: Patient 1 receives' "$W/p1.out" || fail "patient 1 got no price over TLS"
for s in "${SECRETS[@]}"; do
    ! grep -aqF "$s" "$W/tls.pcapng" || fail "the TLS capture holds '$s' in clear"
done
echo "ok: no password, user name or protocol word in the TLS capture"

# tshark's fields of the TLS capture, the center's port decoded as TLS.
tls_fields() {
    local filter=$1
    shift
    local args=() e
    for e in "$@"; do
        args+=(-e "$e")
    done
    tshark -r "$W/tls.pcapng" -d "tcp.port==$CENTER_PORT,tls" -Y "$filter" -T fields \
        -E separator=' ' -E occurrence=f "${args[@]}" 2>"$W/tshark.err" || fail "tshark failed"
}

expect "client hellos (patient 2, patient 1 booking, patient 1 cancelling, s_client)" 4 \
    "$(tls_fields 'tls.handshake.type == 1' frame.number | wc -l)"
expect "server hellos, each TLS 1.3" "$(printf '0x0304\n0x0304\n0x0304\n0x0304')" \
    "$(tls_fields 'tls.handshake.type == 2' tls.handshake.extensions.supported_version)"
# A ticket offered (pre_shared_key, extension 41) by the second run of patient 1 only, and
# taken by the center: its server hello carries pre_shared_key too.
expect "tickets offered" 1 "$(tls_fields 'tls.handshake.type == 1 and tls.handshake.extension.type == 41' frame.number | wc -l)"
expect "tickets taken" 1 "$(tls_fields 'tls.handshake.type == 2 and tls.handshake.extension.type == 41' frame.number | wc -l)"
expect "segments with data that are not TLS" "" \
    "$(tls_fields "tcp.len > 0 and not tls and not tcp.reassembled_in and tcp.port == $CENTER_PORT" frame.number)"
expect "application data records" yes \
    "$([ "$(tls_fields 'tls.record.opaque_type == 23' frame.number | wc -l)" -ge 6 ] && echo yes || echo no)"
# The dissector, the center's port as its TCP port (TLS found by the records' look) or as
# its TLS port; without the keys it finds no line, with s_client's it finds that session's.
for pref in tcp_port tls_port; do
    expect "lines of hcs the dissector finds without keys ($pref)" "" \
        "$(tshark -r "$W/tls.pcapng" -X "lua_script:$LUA" -o "hcs.$pref:$CENTER_PORT" -Y hcs \
            -T fields -e frame.number 2>/dev/null)"
    decrypted() {
        tshark -r "$W/tls.pcapng" -X "lua_script:$LUA" -o "hcs.$pref:$CENTER_PORT" \
            -o "tls.keylog_file:$W/keys.txt" -Y "$1" -T fields -E separator=' ' -E aggregator=, \
            "${@:2}" 2>/dev/null
    }
    expect "s_client's login decrypted, its password masked ($pref)" "patient1 ********" \
        "$(decrypted 'hcs.command == "authenticate"' -e hcs.user -e hcs.password)"
    expect "the list s_client got, decrypted ($pref)" "2 1,3" \
        "$(decrypted hcs.slots.count -e hcs.slots.count -e hcs.slot.index)"
done
! grep -aqF password111 "$W/tls.pcapng" || fail "s_client's password is in the capture in clear"

# A saved capture whose TLS records are split over 40-byte segments (a client of the test's
# own sent them so; on loopback a live capture sees whole records), with its key log: the
# dissector must still hand every segment of the connection to TLS, which reassembles and
# decrypts them, on either preference.
SPLIT=$HERE/data/hcs-tls-split
# shellcheck disable=SC1091 # CENTER_PORT of the saved capture
. "$SPLIT.env"
for pref in tcp_port tls_port; do
    expect "split records: the login, decrypted ($pref)" "authenticate,available patient1 ********" \
        "$(tshark -r "$SPLIT.pcapng" -X "lua_script:$LUA" -o "hcs.$pref:$CENTER_PORT" \
            -o "tls.keylog_file:$SPLIT.keys" -Y 'hcs.command == "authenticate"' -T fields \
            -E separator=' ' -E aggregator=, -e hcs.command -e hcs.user -e hcs.password 2>/dev/null)"
done
echo "PASS"
