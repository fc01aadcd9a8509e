#!/usr/bin/env bash
# Build hcs and play the three phases once: the center, two doctors and two
# patients, with the sample data of config/. Each program's screen is shown.
# scripts/demo.sh --trace: every program also shows each message it sends and receives.
set -euo pipefail
cd "$(dirname "$0")/.."

trace=()
case ${1:-} in
'') ;;
--trace) trace=(--trace) ;;
*)
    echo "usage: scripts/demo.sh [--trace]" >&2
    exit 1
    ;;
esac

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

logs=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$logs"
}
trap cleanup EXIT

# Start a server in the background and wait for its start-up line.
start() {
    local name=$1 pattern=$2; shift 2
    "$@" >"$logs/$name" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q "$pattern" "$logs/$name" && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    echo "demo: $name did not start:" >&2
    cat "$logs/$name" >&2
    exit 1
}

chmod 600 config/users.txt
start hcs "has port number" build/hcs "${trace[@]}" --config config/center.conf
start doctor1 "static UDP port" build/doctor "${trace[@]}" --id 1
start doctor2 "static UDP port" build/doctor "${trace[@]}" --id 2

# Bookings are kept in config/state.db: give back what an earlier run booked.
for id in 1 2; do
    build/patient --id "$id" --cancel >/dev/null || true
done

echo "=== patient 1 (types 2 at the prompt)"
echo 2 | build/patient "${trace[@]}" --id 1 || echo "(patient 1 exit status $?)"
echo
echo "=== patient 2 (chooses slot 4 with --slot)"
build/patient "${trace[@]}" --id 2 --slot 4 || echo "(patient 2 exit status $?)"
for name in hcs doctor1 doctor2; do
    echo
    echo "=== $name"
    cat "$logs/$name"
done
