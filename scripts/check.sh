#!/bin/sh
# README command 2: install dependencies, build, run every test against real
# SoftHSM2, openssl and pkcs11-tool, and print "check: N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SECSF_BUILD:-$top/build}
"$top/scripts/install-deps.sh" || exit 1
"$top/scripts/build.sh" || exit 1
cd "$build"
make -j2 check >check.log 2>&1
rc=$?
grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' check.log
# Each TAP line is one result in automake's .trs files: count those, not programs.
passed=$(cat tests/*.trs tests/unit/*.trs 2>/dev/null | grep -c '^:test-result: PASS')
failed=$(cat tests/*.trs tests/unit/*.trs 2>/dev/null | grep -cE '^:test-result: (FAIL|ERROR|XPASS)')
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    tail -n 30 check.log
    failed=1
fi
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
