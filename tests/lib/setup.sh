# Common start of every shell check: a fresh work dir, a token 'node1' with PIN
# 1234, and OPENSSL_CONF pointing at secsf.
set -u
TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/softhsm.sh"
: "${SECSF_MODULE:?run through make check, which sets SECSF_MODULE}"
WORK="${TEST_WORKDIR:-$PWD/work}/$(basename "$0" .sh).$$"
rm -rf "$WORK"
mkdir -p "$WORK"
softhsm_init "$WORK"
softhsm_token node1 1234
printf '1234\n' >"$WORK/node1.pin"
chmod 600 "$WORK/node1.pin"
secsf_conf "$WORK/openssl.cnf" node1 "$WORK/node1.pin"
export OPENSSL_CONF="$WORK/openssl.cnf"
cd "$WORK"
# A sanitizer build: the programs that load secsf (openssl) need the ASan runtime
# first. Only they get it, through a wrapper early in PATH: coreutils such as dd
# abort under a preloaded ASan. Leak checking is off: libcrypto and SoftHSM keep
# memory until exit.
if [ -n "${SECSF_ASAN_RUNTIME:-}" ]; then
    mkdir -p "$WORK/.asan-bin"
    for prog in openssl; do
        real=$(command -v "$prog")
        printf '#!/bin/sh\nLD_PRELOAD="%s" exec %s "$@"\n' "$SECSF_ASAN_RUNTIME" "$real" >"$WORK/.asan-bin/$prog"
        chmod +x "$WORK/.asan-bin/$prog"
    done
    export PATH="$WORK/.asan-bin:$PATH"
    export ASAN_OPTIONS="detect_leaks=0:exitcode=99"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
fi

# stop_server NAME PID SIGNAL: stops a server this check started (by its PID) and
# checks that it exits 0 within 30 s.
stop_server() {
    local rc
    kill -"$3" "$2"
    timeout 30 tail --pid="$2" -f /dev/null
    wait "$2"
    rc=$?
    check "$1 stops cleanly (exit $rc)" test "$rc" -eq 0
}

# flip_byte FILE OFFSET: changes one bit of one byte, so the file is always altered.
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
