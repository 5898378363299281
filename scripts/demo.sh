#!/bin/sh
# README command 1: install dependencies, build, and run the main job — a key made
# inside a private SoftHSM token through the provider, a self-signed certificate,
# and a TLS handshake between openssl s_server and s_client with that key.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
exec "$top/scripts/demo-tls.sh" "${SECSF_BUILD:-$top/build}"
