#!/usr/bin/env bash
# The constant-time compare takes the same number of instructions wherever the
# first differing byte is: run ct_secret (tests/ct_secret.c) under callgrind
# once per comparing function, counting only inside it, and require equal counts.
# Usage: test_ct.sh path/to/ct_secret
set -euo pipefail

bin=$1
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind is missing (scripts/deps.sh installs it)" >&2
    exit 1
fi
# valgrind cannot run a program built with AddressSanitizer: ctest counts this as skipped.
if grep -q __asan_init "$bin"; then
    echo "skipped: $bin is a sanitizer build, which valgrind cannot run"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$bin"

# The instructions executed inside function $1 (and what it calls).
count() {
    if ! valgrind --tool=callgrind --callgrind-out-file="$dir/$1.out" --collect-atstart=no \
        --toggle-collect="$1" "$bin" >/dev/null 2>"$dir/$1.log"; then
        cat "$dir/$1.log" >&2
        exit 1
    fi
    sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$dir/$1.out"
}

ref=
for fn in ct_compare_same ct_compare_at0 ct_compare_at31 ct_compare_at63; do
    n=$(count "$fn")
    echo "$fn: ${n:-none} instructions"
    if [ -z "$n" ]; then
        echo "callgrind counted no instructions in $fn" >&2
        exit 1
    fi
    if [ -z "$ref" ]; then
        # Comparing equal secrets walks all 64 bytes: fewer instructions means the
        # function was not counted.
        if [ "$n" -lt 64 ]; then
            echo "callgrind counted only $n instructions in $fn" >&2
            exit 1
        fi
        ref=$n
    elif [ "$n" -ne "$ref" ]; then
        echo "util_secret_equal is not constant-time: $fn took $n instructions, ct_compare_same $ref" >&2
        exit 1
    fi
done
