# Minimal TAP for shell checks: every assertion is one test line, and the plan is
# printed at exit, so automake's tap-driver counts real results.
TAP_N=0
TAP_FAILED=0
ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $*"; }
not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $*"; }
# skip "description" "why": a check that cannot run here.
skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1 # SKIP $2"; }
# check "description" command...: passes when the command exits 0.
check() {
    local what=$1; shift
    if "$@" >"$WORK/last.out" 2>"$WORK/last.err"; then ok "$what"; else
        not_ok "$what (exit $?)"; sed 's/^/# /' "$WORK/last.err" | tail -n 8; fi
}
# check_fails "description" "expected error text" command...: passes when the command
# exits non-zero (not by a signal) and stderr holds the expected text.
check_fails() {
    local what=$1 want=$2; shift 2
    "$@" >"$WORK/last.out" 2>"$WORK/last.err"
    local rc=$?
    if [ $rc -eq 0 ]; then not_ok "$what (exited 0)"
    elif [ $rc -gt 128 ]; then not_ok "$what (killed by signal $((rc - 128)))"
    elif ! grep -qi -- "$want" "$WORK/last.err"; then
        not_ok "$what (no '$want' in the error)"; sed 's/^/# /' "$WORK/last.err" | tail -n 8
    else ok "$what"; fi
}
# Commands run at exit (stopping servers by PID), before the plan is printed.
TAP_CLEANUP=""
at_exit() { TAP_CLEANUP="$TAP_CLEANUP
$*"; }
tap_done() {
    eval "$TAP_CLEANUP"
    echo "1..$TAP_N"
    # Keep the evidence of a failure; tidy up after success.
    if [ "$TAP_FAILED" -eq 0 ] && [ -n "${WORK:-}" ] && [ -z "${KEEP_WORK:-}" ]; then
        rm -rf "$WORK"
    fi
}
trap tap_done EXIT
