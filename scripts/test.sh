#!/usr/bin/env bash
# Build hcs and run every test (ctest: unit tests and system tests): in a
# normal build; again with every program of the system test under valgrind
# memcheck; and in a build with AddressSanitizer and UBSan. Then a short run
# of every libFuzzer target (scripts/fuzz.sh). Any finding (memory error,
# leak, undefined behaviour, crash) fails the run. Last, the packaging check
# (scripts/package-check.sh: the .deb, lintian, the units, the man pages).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build and test (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHCS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== system tests (the session, --trace) under valgrind memcheck"
HCS_TEST_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
    ctest --test-dir build --output-on-failure -R '^(system|trace)$'

echo "== build and test with sanitizers (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHCS_WERROR=ON -DHCS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "== fuzz smoke run (build-fuzz/)"
bash scripts/fuzz.sh

echo "== packaging check"
bash scripts/package-check.sh
