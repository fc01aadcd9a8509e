#!/usr/bin/env bash
# Fuzz smoke run: build the libFuzzer targets of tests/fuzz (clang, with
# AddressSanitizer and UBSan) in build-fuzz/, then run each one for
# FUZZ_SECONDS (default 20) on a copy of its seed corpus. Any crash, leak,
# sanitizer report or hang fails the run; the input that caused it is kept
# in build-fuzz/fuzz-artifacts/. Inputs found along the way go to a
# temporary folder, never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
case $seconds in
'' | *[!0-9]*)
    echo "FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
    exit 1
    ;;
esac

# The base packages (cmake, libevent, ...), the compiler and its fuzzer runtime.
bash scripts/deps.sh clang libclang-rt-14-dev

jobs=$(nproc 2>/dev/null || echo 2)
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
echo "== build fuzz targets (build-fuzz/)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHCS_FUZZ=ON -DBUILD_TESTING=OFF -DHCS_WERROR=OFF "-DCMAKE_C_FLAGS=$flags" >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hcs-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
artifacts=build-fuzz/fuzz-artifacts
mkdir -p "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "== run each target for ${seconds}s"
failed=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    bin=build-fuzz/fuzz/$name
    log=$tmp/$name.log
    if [ ! -x "$bin" ]; then
        echo "$name: FAILED, not built" >&2
        failed=1
        continue
    fi
    mkdir -p "$tmp/$name"
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp -R "tests/fuzz/corpus/$name/." "$tmp/$name/"
    fi
    status=ok
    # TMPDIR: a target's own temporary files go where the trap removes them.
    if ! TMPDIR=$tmp "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name-" "$tmp/$name" >"$log" 2>&1; then
        status=FAILED
        failed=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")
    echo "$name: $status, ${runs:-?} runs, coverage ${cov:-?} edges, ${ft:-?} features," \
        "corpus ${corp:-?} inputs"
    if [ "$status" != ok ]; then
        echo "---- $name: last lines of its log" >&2
        tail -n 60 "$log" >&2
        echo "---- the failing input, if any, is in $artifacts/" >&2
    fi
done
exit $failed
