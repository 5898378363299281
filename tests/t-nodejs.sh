#!/bin/bash
# Node.js, the runtime of CSEs such as Mobius (issue 15 item 10), with keys in the
# token through secsf: SECSF KEY files read by crypto.createPrivateKey, the key
# details Node asks for (it aborted on them before), signing, and an HTTPS server
# whose key never leaves the token, fetched by curl. Skipped where there is no node.
. "$(dirname "$0")/lib/setup.sh"
NODE=$(command -v node || command -v nodejs || true)
if [ -z "$NODE" ]; then
    echo "ok 1 - Node.js # SKIP no node on this machine"; TAP_N=1; exit 0
fi
if [ -n "${SECSF_ASAN_RUNTIME:-}" ]; then
    echo "ok 1 - Node.js # SKIP not under a sanitizer build"; TAP_N=1; exit 0
fi
node_secsf() { timeout 60 "$NODE" --openssl-shared-config "$@"; }
check "an EC key in the token" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:node-ec -out ec.pem
check "an RSA key in the token" openssl genpkey -propquery provider=secsf -algorithm RSA \
    -pkeyopt bits:2048 -pkeyopt secsf.label:node-rsa -out rsa.pem
openssl pkey -in ec.pem -pubout -out ec.pub
cat >details.js <<'JS'
const crypto = require('crypto'), fs = require('fs');
const k = crypto.createPrivateKey(fs.readFileSync(process.argv[2]));
const d = k.asymmetricKeyDetails;
const sig = crypto.sign('sha256', Buffer.from('oneM2M'), k);
fs.writeFileSync(process.argv[3], sig);
// publicExponent is a BigInt, which JSON cannot hold as such.
console.log(JSON.stringify({type: k.asymmetricKeyType, details: d}, (n, v) => typeof v === 'bigint' ? v.toString() : v));
JS
check "Node reads an EC key's details (it aborted on them before) and signs" sh -c \
    "$(declare -f node_secsf); NODE='$NODE'; node_secsf details.js ec.pem ec.sig >ec.json && grep -q '\"namedCurve\":\"prime256v1\"' ec.json"
printf 'oneM2M' >msg
check "... the signature verifies under the default provider" \
    env OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify ec.pub -signature ec.sig msg
check "Node reads an RSA key's details" sh -c \
    "$(declare -f node_secsf); NODE='$NODE'; node_secsf details.js rsa.pem rsa.sig >rsa.json && grep -q '\"modulusLength\":2048' rsa.json"
# Node shows only the first error's reason string, never secsf's sentence: the
# reason itself says where to look.
cp openssl.cnf nopin.cnf
sed -i '/pkcs11-pin-source/d' nopin.cnf
cat >fails.js <<'JS'
const crypto = require('crypto'), fs = require('fs');
try { crypto.createPrivateKey(fs.readFileSync(process.argv[2])); console.log('loaded'); }
catch (e) { console.log(e.message); process.exit(1); }
JS
check_fails "what Node shows for a key without a configured PIN names the settings" "pkcs11-token-pin-sources" \
    sh -c "OPENSSL_CONF='$WORK/nopin.cnf' timeout 60 '$NODE' --openssl-shared-config fails.js ec.pem >&2"
check "server certificate" openssl req -new -x509 -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -key ec.pem -out ec.crt
port=$(free_port)
cat >server.js <<'JS'
const https = require('https'), fs = require('fs');
const s = https.createServer({key: fs.readFileSync('ec.pem'), cert: fs.readFileSync('ec.crt')},
    (req, res) => { res.end('secsf ' + req.socket.getProtocol() + '\n'); });
s.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));
JS
# Started directly (not through a shell function) so that $! is timeout's PID, which
# passes the stop signal on to node.
timeout 120 "$NODE" --openssl-shared-config server.js "$port" >server.out 2>&1 &
SERVER=$!
at_exit "kill $SERVER 2>/dev/null"
for _ in $(seq 100); do grep -q listening server.out 2>/dev/null && break; sleep 0.1; done
check "curl fetches from a Node HTTPS server whose key is in the token" sh -c \
    "timeout 30 curl -sS --cacert ec.crt --resolve localhost:$port:127.0.0.1 https://localhost:$port/ >page.txt && grep -q '^secsf TLSv1.3' page.txt"
kill "$SERVER"
wait "$SERVER" 2>/dev/null
check "the Node server stopped" sh -c "! pgrep -f '[s]erver.js $port' >/dev/null"
