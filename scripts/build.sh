#!/bin/sh
# Configures and builds secsf out of tree in ./build (or $SECSF_BUILD), with
# $SECSF_CONFIGURE_FLAGS (e.g. --enable-sanitizers) when it configures.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SECSF_BUILD:-$top/build}
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p "$build"
cd "$build"
# shellcheck disable=SC2086
[ -f Makefile ] || "$top/configure" --quiet ${SECSF_CONFIGURE_FLAGS:-}
make -j"$(nproc)" >make.log 2>&1 || { tail -n 40 make.log; exit 1; }
echo "secsf: built $build/provider/.libs/secsf.so"
