#!/bin/bash
# make bench: a private SoftHSM token with one key per algorithm, then each
# benchmark program. Never part of make check; results vary with the machine.
set -eu
build=$(cd "${1:?usage: run-bench.sh BUILD_DIR}" && pwd)
work="$build/bench/work"
rm -rf "$work"
mkdir -p "$work/tokens"
export BENCH_WORK="$work"
export SOFTHSM_MODULE="${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
cat >"$work/softhsm2.conf" <<CONF
directories.tokendir = $work/tokens
objectstore.backend = file
log.level = ERROR
CONF
export SOFTHSM2_CONF="$work/softhsm2.conf"
OPENSSL_CONF=/dev/null softhsm2-util --init-token --free --label bench --so-pin 87654321 --pin 1234 >/dev/null
printf '1234\n' >"$work/pin"
cat >"$work/openssl.cnf" <<CONF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
secsf = secsf_sect
[default_sect]
activate = 1
[secsf_sect]
module = $build/provider/.libs/secsf.so
activate = 1
pkcs11-module-path = $SOFTHSM_MODULE
pkcs11-token = bench
pkcs11-pin-source = file:$work/pin
CONF
export OPENSSL_CONF="$work/openssl.cnf"
for spec in "ec256 EC group:P-256" "ec384 EC group:P-384" "rsa RSA bits:2048"; do
    set -- $spec
    openssl genpkey -propquery provider=secsf -algorithm "$2" -pkeyopt "$3" -pkeyopt "secsf.label:bench-$1" -out "$work/$1.pem"
    openssl pkey -in "$work/$1.pem" -pubout -outform DER -out "$work/$1.pub.der"
    OPENSSL_CONF=/dev/null openssl genpkey -algorithm "$2" -pkeyopt "$3" -out "$work/$1.soft.pem"
done
cp "$work/rsa.pub.der" "$work/rsa-pss.pub.der"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(openssl version | cut -d' ' -f1-2), SoftHSM $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null)"
echo
"$build/bench/bench_sign"
