#!/bin/bash
# make bench: a private SoftHSM token with one key per algorithm, then each
# benchmark program. Never part of make check; results vary with the machine.
# BENCH_ONLY="scale derive" runs only those parts (messages sign cold tpm card
# derive memory secsfd scale).
set -eu
wanted() { [ -z "${BENCH_ONLY:-}" ] || case " $BENCH_ONLY " in *" $1 "*) true ;; *) false ;; esac; }
build=$(cd "${1:?usage: run-bench.sh BUILD_DIR}" && pwd)
work="$build/bench/work"
rm -rf "$work"
mkdir -p "$work"
export BENCH_WORK="$work"
export SOFTHSM_MODULE="${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
export SECSF_MODULE="$build/provider/.libs/secsf.so"
. "$(dirname "$0")/../tests/lib/softhsm.sh"
softhsm_init "$work"
softhsm_token bench 1234
printf '1234\n' >"$work/pin"
chmod 600 "$work/pin"
secsf_conf "$work/openssl.cnf" bench "$work/pin"
export OPENSSL_CONF="$work/openssl.cnf"
for spec in "ec256 EC group:P-256" "ec384 EC group:P-384" "rsa RSA bits:2048"; do
    set -- $spec
    openssl genpkey -propquery provider=secsf -algorithm "$2" -pkeyopt "$3" -pkeyopt "secsf.label:bench-$1" -out "$work/$1.pem"
    openssl pkey -in "$work/$1.pem" -pubout -outform DER -out "$work/$1.pub.der"
    OPENSSL_CONF=/dev/null openssl genpkey -algorithm "$2" -pkeyopt "$3" -out "$work/$1.soft.pem"
done
cp "$work/rsa.pub.der" "$work/rsa-pss.pub.der"
if wanted messages; then "$build/bench/bench_messages"; fi
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(openssl version | cut -d' ' -f1-2), SoftHSM $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null)"
echo
if wanted sign; then "$build/bench/bench_sign"; fi
if wanted cold; then "$build/bench/bench_sign" --cold; fi
if wanted derive; then "$build/bench/bench_derive"; fi
if wanted memory; then "$build/bench/bench_memory"; fi
if wanted secsfd; then
    # secsfd on a private socket, this user mapped, the key made through it.
    sock=$(mktemp -d /tmp/bench-secsfd.XXXXXX)/secsfd.sock
    cp "$OPENSSL_CONF" "$work/secsfd.cnf"
    printf 'secsfd-socket = %s\nsecsfd-callers = uid:%s=CAE-bench\nsecsfd-state-dir = %s\nsecsfd-max-connections = 1100\n' \
        "$sock" "$(id -u)" "$work" >>"$work/secsfd.cnf"
    "$build/daemon/secsfd" --config "$work/secsfd.cnf" 2>"$work/secsfd.log" &
    secsfd_pid=$!
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
    uri=$(curl -sS --unix-socket "$sock" -X PUT -d '{"type": "ec"}' http://secsfd/keys/CAE-bench/ec256 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["uri"])')
    echo
    # (libtool's wrapper execs secsfd: the pid is the daemon's)
    BENCH_SECSFD_SOCK=$sock BENCH_SECSFD_PID=$secsfd_pid BENCH_SECSFD_KEY_URI=$uri "$build/bench/bench_secsfd" || true
    kill "$secsfd_pid"
    wait "$secsfd_pid" 2>/dev/null || true
    rm -rf "$(dirname "$sock")"
fi

# The TPM paths: a private swtpm, one EC key wrapped and the same kind persistent.
. "$(dirname "$0")/../tests/lib/swtpm.sh"
swtpm_start "$work/tpm"
trap 'swtpm_stop "$work/tpm"' EXIT
echo "tpm2-tcti = $(swtpm_tcti "$work/tpm")" >>"$OPENSSL_CONF"
export TPM2OPENSSL_TCTI="$(swtpm_tcti "$work/tpm")"
openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt "secsf.uri:tpm2:file=$work/tpm-ec256.tpm2" -out "$work/tpm-file.pem"
openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt "secsf.uri:tpm2:handle=0x81000020" -out "$work/tpm-handle.pem"
openssl pkey -in 'tpm2:handle=0x81000020' -pubout -outform DER -out "$work/tpm-ec256.pub.der"
openssl pkey -in "$work/tpm-file.pem" -pubout -outform DER -out "$work/tpm-file-ec256.pub.der"
if wanted tpm; then "$build/bench/bench_sign" --tpm; fi
# The card path: a private pcscd with the test PIV card, keys in 9a and 9d.
export PIV_CARD="$build/tests/card/piv-card"
. "$(dirname "$0")/../tests/lib/pcsc.sh"
pcsc_start "$work/card"
trap 'swtpm_stop "$work/tpm"; pcsc_stop "$work/card"' EXIT
card_insert "$work/card" --trace "$work/card/trace"
printf '123456\n' >"$work/card.pin"
printf '010203040506070801020304050607080102030405060708\n' >"$work/card.mgmt"
chmod 600 "$work/card.pin" "$work/card.mgmt"
printf 'pcsc-reader = Virtual PCD 00 00\npcsc-pin-source = file:%s\npcsc-management-key-source = file:%s\n' \
    "$work/card.pin" "$work/card.mgmt" >>"$OPENSSL_CONF"
openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.uri:piv:slot=9a -out "$work/card-ec.pem"
openssl genpkey -propquery provider=secsf -algorithm RSA -pkeyopt bits:2048 -pkeyopt secsf.uri:piv:slot=9d -out "$work/card-rsa.pem"
echo
if wanted card; then "$build/bench/bench_card" "$work/card/trace"; fi
echo

# Last: it leaves 10,000 objects on the benchmark token.
if wanted scale; then "$build/bench/bench_sign" --scale; fi
