#!/bin/bash
# The main job: everything a CSE maintainer does with secsf, with stock openssl.
#   1. a private SoftHSM token under the build tree (never /etc, never ~)
#   2. openssl.cnf = conf/openssl-secsf.cnf with this build's module and token
#   3. openssl genpkey: an EC P-256 key generated inside the token
#   4. openssl req -x509: a self-signed certificate signed by the token
#   5. openssl s_server + s_client: a TLS 1.3 handshake on 127.0.0.1 with that key
set -euo pipefail
build=$(cd "${1:?usage: demo-tls.sh BUILD_DIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
module="$build/provider/.libs/secsf.so"
[ -f "$module" ] || { echo "demo: $module not built" >&2; exit 1; }
work="$build/demo-work"
rm -rf "$work"
mkdir -p "$work/tokens"
cd "$work"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; true; }
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "1. private SoftHSM token 'node1' in $work/tokens"
cat >softhsm2.conf <<CONF
directories.tokendir = $work/tokens
objectstore.backend = file
log.level = ERROR
CONF
export SOFTHSM2_CONF="$work/softhsm2.conf"
OPENSSL_CONF=/dev/null softhsm2-util --init-token --free --label node1 \
    --so-pin 87654321 --pin 1234 | sed 's/^/   /'
printf '1234\n' >node1.pin
chmod 600 node1.pin

step "2. openssl.cnf with the secsf provider"
sed -e "s|^# module = .*|module = $module|" \
    -e "s|^pkcs11-pin-source = .*|pkcs11-pin-source = file:$work/node1.pin|" \
    "$top/conf/openssl-secsf.cnf" >openssl.cnf
export OPENSSL_CONF="$work/openssl.cnf"
sed -n '/^\[secsf_sect\]/,$p' openssl.cnf | grep -v '^#' | sed 's/^/   /'
openssl list -providers | sed 's/^/   /'

step "3. EC P-256 key generated inside the token"
openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt secsf.label:node1-tls -out node1-tls.pem
echo "   node1-tls.pem holds only the key's URI:"
sed 's/^/   /' node1-tls.pem
uri='pkcs11:token=node1;object=node1-tls;type=private'

step "4. self-signed certificate, signed in the token ($uri)"
openssl req -new -x509 -days 30 -subj /CN=localhost -key "$uri" -out node1-tls.crt
OPENSSL_CONF=/dev/null openssl verify -CAfile node1-tls.crt node1-tls.crt | sed 's/^/   /'

step "5. TLS 1.3 handshake on 127.0.0.1, server key in the token"
for _ in $(seq 50); do
    port=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done
openssl s_server -accept "127.0.0.1:$port" -key node1-tls.pem -cert node1-tls.crt \
    -tls1_3 -naccept 1 -www >server.log 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q ACCEPT server.log && break; sleep 0.05; done
(printf 'GET / HTTP/1.0\r\n\r\n'; sleep 1) | timeout 30 openssl s_client \
    -connect "127.0.0.1:$port" -CAfile node1-tls.crt -verify_return_error \
    -verify_hostname localhost -tls1_3 -ign_eof >client.log 2>&1
wait "$server_pid"
server_pid=""
grep -E '^(Protocol|Server public key|Verification|Peer signature type|Verify return code)' client.log |
    sort -u | sed 's/^/   /'
grep -q 'HTTP/1.0 200 ok' client.log
echo
echo "demo: OK — TLS 1.3 with a private key that never left the token"
