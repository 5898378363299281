#!/bin/sh
# make fuzz: builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 60) on its seed corpus, in BUILD_DIR/fuzz-out (not "fuzz": a
# build-tree directory of that name would shadow the sources in `make dist`). A crash
# stops with its input saved there; add it to the corpus once fixed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: run-fuzz.sh BUILD_DIR}" && pwd)
out="$build/fuzz-out"
mkdir -p "$out/artifacts" "$out/corpus-uri" "$out/corpus-card"
CXX=${CLANGXX:-clang++}
flags="-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
flags="$flags -I$top/include -I$build $(pkg-config --cflags p11-kit-1 libcrypto tss2-esys libpcsclite)"
# shellcheck disable=SC2086
$CXX $flags -include config.h -o "$out/fuzz_uri" "$top/fuzz/fuzz_uri.cpp" \
    "$top/pkcs11/uri.cpp" "$top/se-plugins/attr_uri.cpp" "$top/se-plugins/tpm2/tpm2_uri.cpp" \
    "$top/se-plugins/pcsc/piv_uri.cpp" "$top/provider/uri_pem.cpp" \
    $(pkg-config --libs p11-kit-1 libcrypto)
# shellcheck disable=SC2086
$CXX $flags -include config.h -o "$out/fuzz_card" "$top/fuzz/fuzz_card.cpp" \
    "$top/se-plugins/pcsc/tlv.cpp" "$top/se-plugins/pcsc/transport.cpp" $(pkg-config --libs libpcsclite)
cp "$top"/fuzz/corpus/uri/* "$out/corpus-uri/" 2>/dev/null || true
"$out/fuzz_uri" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=8192 -timeout=5 \
    -artifact_prefix="$out/artifacts/" "$out/corpus-uri" 2>&1 | tail -n 4
echo "fuzz_uri: no crash in ${FUZZ_SECONDS:-60} s"
cp "$top"/fuzz/corpus/card/* "$out/corpus-card/" 2>/dev/null || true
"$out/fuzz_card" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=4096 -timeout=5 \
    -artifact_prefix="$out/artifacts/" "$out/corpus-card" 2>&1 | tail -n 4
echo "fuzz_card: no crash in ${FUZZ_SECONDS:-60} s"
