#!/bin/sh
# Installs every Debian package secsf needs to build, test and run its demo.
# The only place the project installs anything; README and .ci/run call it.
set -eu
PACKAGES="
  g++ make autoconf automake libtool pkg-config
  libssl-dev openssl
  libp11-kit-dev p11-kit
  softhsm2 opensc libengine-pkcs11-openssl
  libcppunit-dev libunistring-dev
  nginx curl apache2-bin
  libtss2-dev swtpm swtpm-tools tpm2-openssl tpm2-tools
  libpcsclite-dev pcscd vsmartcard-vpcd opensc-pkcs11 perl
  nlohmann-json3-dev libsqlite3-dev python3-jwcrypto
  libboost-dev
  clang libclang-rt-14-dev valgrind
"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "secsf: installing:$missing"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
