#!/bin/sh
# README command 1: install dependencies, build, and run the main job — a key made
# inside a private SoftHSM token through the provider, a self-signed certificate and
# a TLS handshake between openssl s_server and s_client with that key; then
# `secsf demo`, the oneM2M security services end to end with every key in a token.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${SECSF_BUILD:-$top/build}
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
"$top/scripts/demo-tls.sh" "$build"
echo
exec "$build/tools/secsf" demo --module "$build/provider/.libs/secsf.so"
