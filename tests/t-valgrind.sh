#!/bin/bash
# Valgrind memcheck on the openssl CLI with token keys through secsf: key generation,
# signing, a self-signed certificate, decryption. Any invalid read/write, use of
# uninitialised memory in a decision, or definitely lost block makes a check fail
# (exit 99). Skipped under the sanitizer build (ASan and valgrind do not mix).
. "$(dirname "$0")/lib/setup.sh"
if [ -n "${SECSF_ASAN_RUNTIME:-}" ]; then
    echo "ok $((TAP_N + 1)) - valgrind memcheck # SKIP not under a sanitizer build"
    TAP_N=$((TAP_N + 1))
    exit 0
fi
echo "signed under valgrind" >data
# Definite leaks only: libcrypto, p11-kit and SoftHSM keep reachable memory until exit.
vg() {
    valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --log-file="vg.%p.log" "$@"
}
vg_clean() {  # a check: the command succeeds under memcheck and its logs are empty
    vg "$@" && ! grep -q . vg.*.log 2>/dev/null
}

check "genpkey EC P-256 in the token, under memcheck" \
    vg_clean openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt secsf.label:vg-ec -out ec.pem
check "genpkey RSA-2048 in the token, under memcheck" \
    vg_clean openssl genpkey -propquery provider=secsf -algorithm RSA -pkeyopt bits:2048 \
    -pkeyopt secsf.label:vg-rsa -out rsa.pem
openssl pkey -in ec.pem -pubout -out ec.pub
openssl pkey -in rsa.pem -pubout -out rsa.pub
check "openssl dgst -sign with the token EC key (by URI), under memcheck" \
    vg_clean openssl dgst -sha256 -sign "pkcs11:token=node1;object=vg-ec;type=private" -out ec.sig data
check "that signature verifies under the default provider" \
    env OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify ec.pub -signature ec.sig data
check "openssl dgst -sign RSA-PSS with the key file, under memcheck" \
    vg_clean openssl dgst -sha256 -sign rsa.pem -sigopt rsa_padding_mode:pss -out rsa.sig data
check "that signature verifies under the default provider" \
    env OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify rsa.pub -sigopt rsa_padding_mode:pss -signature rsa.sig data
check "openssl req -x509 with the token key, under memcheck" \
    vg_clean openssl req -x509 -new -key ec.pem -subj /CN=vg -days 1 -out cert.pem
check "the certificate verifies with its own public key under default" \
    env OPENSSL_CONF=/dev/null openssl verify -CAfile cert.pem cert.pem
OPENSSL_CONF=/dev/null openssl pkeyutl -encrypt -pubin -inkey rsa.pub -pkeyopt rsa_padding_mode:oaep -in data -out data.enc
check "openssl pkeyutl -decrypt OAEP in the token, under memcheck" \
    vg_clean openssl pkeyutl -decrypt -inkey rsa.pem -pkeyopt rsa_padding_mode:oaep -in data.enc -out data.dec
check "the plaintext came back" cmp data data.dec
check "a wrong PIN is refused cleanly under memcheck" \
    sh -c '! valgrind -q --error-exitcode=99 --log-file=vg.pin.%p.log openssl dgst -sha256 \
        -sign "pkcs11:token=node1;object=vg-ec;type=private?pin-value=9999" -out x.sig data 2>err.txt \
        && grep -q "PIN" err.txt && ! grep -q . vg.pin.*.log'

# secsfd under memcheck: requests on the socket, a key made and used, storage, a stop.
SOCKDIR=$(mktemp -d /tmp/secsfd-vg.XXXXXX)
at_exit "rm -rf '$SOCKDIR'"
mkdir -p state
printf 'secsfd-socket = %s/s.sock\nsecsfd-callers = uid:%s=CAE-vg\nsecsfd-state-dir = %s/state\n' \
    "$SOCKDIR" "$(id -u)" "$WORK" >>openssl.cnf
real_secsfd=$(dirname "${SECSFD:?}")/.libs/secsfd
[ -x "$real_secsfd" ] || real_secsfd=$SECSFD
LD_LIBRARY_PATH="$(dirname "$SECSFD")/../services/.libs:${LD_LIBRARY_PATH:-}" valgrind -q --error-exitcode=99 \
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --log-file=vg.secsfd.log \
    "$real_secsfd" >secsfd.out 2>&1 &
vpid=$!
at_exit "kill $vpid 2>/dev/null"
for _ in $(seq 300); do [ -S "$SOCKDIR/s.sock" ] && break; sleep 0.1; done
sd() { curl -sS --max-time 60 --unix-socket "$SOCKDIR/s.sock" "$@"; }
check "secsfd under memcheck: health" sh -c "$(declare -f sd); SOCKDIR='$SOCKDIR'; sd http://s/health | grep -q CAE-vg"
check "  a key made and a signature" sh -c "$(declare -f sd); SOCKDIR='$SOCKDIR'; \
    sd -X PUT -d '{\"type\": \"ec\"}' http://s/keys/CAE-vg/k | grep -q uri && \
    sd -X POST -d '{\"data\": \"aGVsbG8\"}' http://s/keys/CAE-vg/k/sign | grep -q signature"
check "  storage and a refusal" sh -c "$(declare -f sd); SOCKDIR='$SOCKDIR'; \
    sd -X PUT --data-binary v http://s/storage/CAE-vg/o | grep -q stored && \
    sd http://s/storage/CAE-other/o | grep -q 4103"
kill -TERM "$vpid"
timeout 120 tail --pid="$vpid" -f /dev/null
wait "$vpid"
vrc=$?
check "  stops cleanly (exit $vrc) with nothing in memcheck's log" sh -c "[ $vrc -eq 0 ] && ! grep -q . vg.secsfd.log"
