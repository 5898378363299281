#!/bin/sh
# make fuzz: builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 60) on its seed corpus, in BUILD_DIR/fuzz-out (not "fuzz": a
# build-tree directory of that name would shadow the sources in `make dist`). A crash
# is reported with its input saved in fuzz-out/artifacts; add it to the corpus once
# fixed. Prints one "fuzz: NAME passed|failed" line per target; exits 1 if any failed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: run-fuzz.sh BUILD_DIR}" && pwd)
out="$build/fuzz-out"
seconds=${FUZZ_SECONDS:-60}
mkdir -p "$out/artifacts"
CXX=${CLANGXX:-clang++}
if ! command -v "$CXX" >/dev/null; then
    echo "fuzz: $CXX not found (scripts/install-deps.sh installs clang)" >&2
    exit 1
fi
flags="-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
flags="$flags -I$top/include -I$build $(pkg-config --cflags p11-kit-1 libcrypto tss2-esys libpcsclite nlohmann_json)"

# build NAME SOURCES... -- LIBS... (the targets build side by side; see the wait below)
build_target() {
    name=$1; shift
    srcs=""
    while [ "$1" != "--" ]; do srcs="$srcs $top/$1"; shift; done
    shift
    # shellcheck disable=SC2086
    $CXX $flags -include config.h -o "$out/$name" "$top/fuzz/$name.cpp" $srcs "$@" \
        >"$out/$name.build.log" 2>&1 || { cat "$out/$name.build.log"; return 1; }
}

failed=0
# run NAME MAX_LEN
run_target() {
    name=$1
    mkdir -p "$out/corpus-$name"
    cp "$top"/fuzz/corpus/"$name"/* "$out/corpus-$name/" 2>/dev/null || true
    if "$out/$name" -max_total_time="$seconds" -max_len="$2" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/artifacts/$name-" "$out/corpus-$name" >"$out/$name.log" 2>&1; then
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$out/$name.log")
        echo "fuzz: $name passed (${runs:-?} runs in $seconds s, no crash)"
    else
        tail -n 40 "$out/$name.log"
        echo "fuzz: $name failed (input saved under $out/artifacts/)"
        failed=1
    fi
}

build_target fuzz_uri pkcs11/uri.cpp se-plugins/attr_uri.cpp se-plugins/tpm2/tpm2_uri.cpp \
    se-plugins/pcsc/piv_uri.cpp provider/uri_pem.cpp -- $(pkg-config --libs p11-kit-1 libcrypto) &
builds="${builds:-} $!"
build_target fuzz_card se-plugins/pcsc/tlv.cpp se-plugins/pcsc/transport.cpp -- $(pkg-config --libs libpcsclite libcrypto) &
builds="${builds:-} $!"
build_target fuzz_config se-plugins/config_values.cpp pkcs11/pin.cpp -- $(pkg-config --libs libcrypto) &
builds="${builds:-} $!"
build_target fuzz_jose services/json_text.cpp services/jose_key.cpp services/jws.cpp services/jwe.cpp services/jwt.cpp \
    services/base64url.cpp services/openssl_error.cpp services/access_policy.cpp -- $(pkg-config --libs libcrypto) &
builds="${builds:-} $!"

build_target fuzz_services services/json_text.cpp services/jose_key.cpp services/jws.cpp services/jwe.cpp services/jwt.cpp \
    services/base64url.cpp services/openssl_error.cpp services/messages.cpp services/credentials.cpp \
    services/access_tokens.cpp services/sqlite_repository.cpp services/security_association.cpp services/replay.cpp \
    services/single_message.cpp services/integrity.cpp services/misbehaviour.cpp services/transmission_control.cpp \
    services/audit_log.cpp services/access_policy.cpp -- $(pkg-config --libs libcrypto sqlite3) &
builds="${builds:-} $!"

# secsfd's request path: the daemon's API with every SE plug-in and the services it uses.
srcs_of() {  # the .cpp files a Makefile.am lists
    sed -n '/_SOURCES *=/,/^[^\t].*[^\\]$/p' "$top/$1/Makefile.am" | tr ' \t\\' '\n\n\n' | grep '\.cpp$' | sed "s|^|$1/|"
}
# shellcheck disable=SC2046
# (every daemon source but its main and its HTTP server: what a request goes through)
build_target fuzz_secsfd $(srcs_of pkcs11) $(srcs_of se-plugins) \
    $(srcs_of daemon | grep -v -e '/secsfd\.cpp$' -e '/http_server\.cpp$') services/json_text.cpp services/jose_key.cpp services/jws.cpp \
    services/base64url.cpp services/openssl_error.cpp services/messages.cpp services/audit_log.cpp \
    services/access_policy.cpp -- $(pkg-config --libs p11-kit-1 libcrypto tss2-esys tss2-tctildr tss2-mu tss2-rc libpcsclite sqlite3) &
builds="${builds:-} $!"

for pid in $builds; do wait "$pid" || exit 1; done

run_target fuzz_uri 8192
run_target fuzz_card 4096
run_target fuzz_config 1024
run_target fuzz_jose 16384
run_target fuzz_services 16384
run_target fuzz_secsfd 8192
exit $failed
