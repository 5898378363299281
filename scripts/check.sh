#!/bin/sh
# README command 2: installs dependencies, builds, and runs every test against real
# SoftHSM2, swtpm, pcscd and the openssl CLI, three ways:
#   1. the test suite on the normal build (./build, or $SECSF_BUILD);
#   2. the same suite built with AddressSanitizer + UBSan (./build-asan, or
#      $SECSF_ASAN_BUILD): any report fails the test that caused it;
#   3. each libFuzzer target for $SECSF_FUZZ_SECONDS (default 20) on its corpus.
# SECSF_CHECK=quick runs only the first. Ends "check: N passed, N failed", counted
# from the test results themselves (automake's .trs files, one line per fuzz target).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SECSF_BUILD:-$top/build}
asan_build=${SECSF_ASAN_BUILD:-$top/build-asan}
"$top/scripts/install-deps.sh" || exit 1
"$top/scripts/build.sh" || exit 1

total_passed=0
total_failed=0

# tally NAME PASSED FAILED RC LOG: a run that failed without a failed result (a
# build error, a crash of the runner) still counts as one failure.
tally() {
    failed=$3
    if [ "$4" -ne 0 ] && [ "$failed" -eq 0 ]; then
        tail -n 30 "$5"
        failed=1
    fi
    echo "check ($1): $2 passed, $failed failed"
    total_passed=$((total_passed + $2))
    total_failed=$((total_failed + failed))
}

# suite NAME DIR: make check in DIR, adds its results to the totals.
suite() {
    cd "$2" || exit 1
    make -j2 check >check.log 2>&1
    rc=$?
    grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.log | sed "s/^/[$1] /"
    # Each TAP line is one result in automake's .trs files: count those, not programs.
    tally "$1" "$(cat tests/*.trs tests/unit/*.trs 2>/dev/null | grep -c '^:test-result: PASS')" \
        "$(cat tests/*.trs tests/unit/*.trs 2>/dev/null | grep -cE '^:test-result: (FAIL|ERROR|XPASS)')" \
        "$rc" check.log
}

suite plain "$build"

if [ "${SECSF_CHECK:-full}" != quick ]; then
    SECSF_BUILD=$asan_build SECSF_CONFIGURE_FLAGS=--enable-sanitizers "$top/scripts/build.sh" || exit 1
    # The load test does a quarter of its 8 x 10,000 operations here: ASan makes
    # each one several times slower, and the plain run has done them all.
    SECSF_LOAD_OPS=2500 suite "asan+ubsan" "$asan_build"

    cd "$build" || exit 1
    make fuzz FUZZ_SECONDS="${SECSF_FUZZ_SECONDS:-20}" >fuzz.log 2>&1
    rc=$?
    grep '^fuzz: ' fuzz.log
    tally fuzz "$(grep -c '^fuzz: .* passed' fuzz.log)" "$(grep -c '^fuzz: .* failed' fuzz.log)" "$rc" fuzz.log
fi

echo "check: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
