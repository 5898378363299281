#!/bin/bash
# secsfd, the Security CSF as a service, on a private unix socket with the test token:
# callers identified by the kernel (SO_PEERCRED) and mapped by secsfd-callers, the
# oneM2M HTTP binding's headers, the access policy enforced on that identity (and
# read again on SIGHUP), limits on bodies and slow clients, clients in curl and
# Python's standard library, a clean stop. Parts that need a second uid run as root.
. "$(dirname "$0")/lib/setup.sh"
: "${SECSFD:?run through make check, which sets SECSFD}"
SOCKDIR=$(mktemp -d /tmp/secsfd-test.XXXXXX)
chmod 755 "$SOCKDIR"
at_exit "rm -rf '$SOCKDIR'"
SOCK="$SOCKDIR/secsfd.sock"
ME=$(id -u)
cat >>openssl.cnf <<CONF
secsfd-socket = $SOCK
secsfd-callers = uid:$ME=CAE-self, uid:65534=CAE-meter
secsfd-max-body-bytes = 65536
secsfd-request-timeout = 2
secsfd-max-connections = 20
secsfd-state-dir = $WORK/state
access-policy = $WORK/policy.json
CONF
echo '{"rules": []}' >policy.json
mkdir -p state

# api [curl options] PATH: prints the body, then a line "HTTP RSC" (status and X-M2M-RSC).
api() {
    curl -sS --max-time 20 --unix-socket "$SOCK" -D headers.txt "${@:1:$#-1}" "http://secsfd${*: -1}"
    echo
    echo "$(sed -n 's/^HTTP\/1.1 \([0-9]*\).*/\1/p' headers.txt | tr -d '\r') $(sed -n 's/^X-M2M-RSC: //p' headers.txt | tr -d '\r')"
}
expect() {  # DESCRIPTION "HTTP RSC" TEXT-IN-BODY api-args...
    local what=$1 codes=$2 text=$3 out
    shift 3
    out=$(api "$@")
    if [ "$(echo "$out" | tail -1)" = "$codes" ] && echo "$out" | grep -qF -- "$text"; then
        ok "$what"
    else
        not_ok "$what"
        echo "$out" | sed 's/^/# /' | head -5
    fi
}

check "secsfd --help names its settings" sh -c "'$SECSFD' --help | grep -q secsfd-callers"
check "secsfd --check accepts the configuration" "$SECSFD" --check
check_fails "a caller map with a bad entry is refused, naming it" "uid:abc=CAE-x" \
    sh -c "sed 's/^secsfd-callers = .*/secsfd-callers = uid:abc=CAE-x/' openssl.cnf >bad.cnf && '$SECSFD' --config bad.cnf --check"

"$SECSFD" >secsfd.log 2>&1 &
pid=$!
at_exit "kill $pid 2>/dev/null"
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
check "secsfd listens on its socket" test -S "$SOCK"

expect "health: 200, X-M2M-RSC 2000, the caller as the kernel says" "200 2000" '"entity":"CAE-self"' /health
expect "the SEs, with the token logged in" "200 2000" '"state":"logged in"' /se
expect "the sensitive functions and who serves them" "200 2000" '"id":"signature"' /functions
expect "16 random bytes from the SE" "200 2000" '"bytes":16' '/random?bytes=16'
expect "random: a count out of range is a 400 with a sentence" "400 4000" "1 to 1024" '/random?bytes=99999'
expect "secure storage: put" "201 2001" '"stored":"CAE-self/credential"' -X PUT --data-binary 'kpsa-of-self' /storage/CAE-self/credential
check "secure storage: get returns the same bytes" sh -c \
    "curl -sS --unix-socket '$SOCK' http://secsfd/storage/CAE-self/credential | grep -qx kpsa-of-self"
expect "secure storage: list" "200 2000" '"names":["credential"]' /storage/CAE-self
expect "X-M2M-RI is echoed" "200 2000" "serving" -H 'X-M2M-RI: req-42' /health
check "  in the response header" grep -q '^X-M2M-RI: req-42' headers.txt
expect "an X-M2M-Origin that is not the caller is refused (4103)" "403 4103" "is not the caller" \
    -H 'X-M2M-Origin: CAE-meter' /storage/CAE-meter/credential
expect "X-M2M-Origin given twice is refused" "400 4000" "given twice" \
    -H 'X-M2M-Origin: CAE-self' -H 'X-M2M-Origin: CAE-meter' /health
expect "X-M2M-Origin equal to the caller is fine" "200 2000" "serving" -H 'X-M2M-Origin: CAE-self' /health
expect "another entity's storage is refused, naming the rule" "403 4103" "refused by default: owner-only" \
    /storage/CAE-meter/credential
expect "a CSE-ID owner (percent-encoded '/') is another entity's too" "403 4103" "/cse-in/credential" \
    /storage/%2Fcse-in/credential
expect "a stored name with a control character is refused" "400 4000" "control" /storage/CAE-self/a%01b
expect "an unknown resource: 404, 4004" "404 4004" "no resource" /keys-and-more
expect "a method a resource does not take: 405, 4005" "405 4005" "takes GET" -X DELETE /health
head -c 100000 /dev/zero >big.bin
expect "a body over secsfd-max-body-bytes: 413" "413 4000" "larger than 65536" \
    -X PUT --data-binary @big.bin /storage/CAE-self/big
check "  and nothing was stored" sh -c "! curl -sS --unix-socket '$SOCK' http://secsfd/storage/CAE-self | grep -q big"

# Keys: made in the token for the caller, used by name, the private half never seen.
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
b64url() { basenc --base64url | tr -d '=\n'; }
printf 'message to sign' >msg.txt
msg=$(b64url <msg.txt)
expect "a key made in the token for the caller (201, 2001)" "201 2001" '"owner":"CAE-self"' \
    -X PUT -d '{"type": "ec", "curve": "P-256"}' /keys/CAE-self/tls
api /keys/CAE-self/tls | head -1 >tls.json
jget tls.json publicKey >tls.pub
check "  its URI names the token, its label the owner" sh -c "jget() { $(declare -f jget | tail -n +2); }; jget tls.json uri | grep -q 'token=node1;.*object=secsfd%2FCAE-self%2Ftls'"
expect "the same name again: 409, 4105" "409 4105" "already" -X PUT -d '{"type": "ec"}' /keys/CAE-self/tls
expect "the key list" "200 2000" '"name":"tls"' /keys/CAE-self
api -X POST -d "{\"data\": \"$msg\"}" /keys/CAE-self/tls/sign | head -1 >sig.json
jget sig.json signature | tr '_-' '/+' | sed 's/$/===/' | base64 -d >ec.sig 2>/dev/null
check "an ECDSA signature made in the token verifies under the default provider" \
    env OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify tls.pub -signature ec.sig msg.txt
expect "an RSA key" "201 2001" '"type":"RSA"' -X PUT -d '{"type": "rsa", "bits": 2048}' /keys/CAE-self/rsa
api /keys/CAE-self/rsa | head -1 >rsa.json
jget rsa.json publicKey >rsa.pub
api -X POST -d "{\"data\": \"$msg\", \"digest\": \"SHA384\", \"padding\": \"pss\"}" /keys/CAE-self/rsa/sign | head -1 >rsig.json
jget rsig.json signature | tr '_-' '/+' | sed 's/$/===/' | base64 -d >rsa.sig 2>/dev/null
check "an RSA-PSS SHA-384 signature verifies under the default provider" env OPENSSL_CONF=/dev/null openssl dgst -sha384 \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -verify rsa.pub -signature rsa.sig msg.txt
# Decryption (RSA OAEP) and ECDH + KDF inside the token, checked against the peers' side.
printf 'a session key for the node' >secret.txt
OPENSSL_CONF=/dev/null openssl pkeyutl -encrypt -pubin -inkey rsa.pub -pkeyopt rsa_padding_mode:oaep \
    -in secret.txt -out secret.enc
api -X POST -d "{\"data\": \"$(b64url <secret.enc)\", \"padding\": \"oaep\"}" \
    /keys/CAE-self/rsa/decrypt | head -1 >plain.json
check "RSA-OAEP decryption in the token gives the plaintext back" sh -c \
    "python3 -c 'import json,base64,sys; v=json.load(open(\"plain.json\"))[\"plaintext\"]; sys.stdout.buffer.write(base64.urlsafe_b64decode(v+\"==\"))' | cmp - secret.txt"
OPENSSL_CONF=/dev/null openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out peer.pem
OPENSSL_CONF=/dev/null openssl pkey -in peer.pem -pubout -out peer.pub
python3 -c 'import json; print(json.dumps({"peer": open("peer.pub").read(), "kdf": "HKDF", "salt": "c2FsdA", "info": "b25lTTJN", "length": 32}))' >derive.json
api -X POST --data-binary @derive.json /keys/CAE-self/tls/derive | head -1 >derived.json
OPENSSL_CONF=/dev/null openssl pkeyutl -derive -inkey peer.pem -peerkey tls.pub -out z.bin
z=$(od -An -tx1 -v z.bin | tr -d ' \n')
want=$(OPENSSL_CONF=/dev/null openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "hexkey:$z" \
    -kdfopt hexsalt:73616c74 -kdfopt hexinfo:6f6e654d324d HKDF | tr -d ':\n' | tr 'A-F' 'a-f')
got=$(python3 -c 'import json,base64; print(base64.urlsafe_b64decode(json.load(open("derived.json"))["derived"]+"==").hex())')
check "ECDH in the token + HKDF: the key the peer derives on its side" test -n "$want" -a "$want" = "$got"
check "  and the shared secret itself is in no answer" sh -c "! grep -q '$(b64url <z.bin)' derived.json"
expect "a peer key on another curve is refused" "400 4000" "curve" -X POST \
    -d "$(OPENSSL_CONF=/dev/null openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 2>/dev/null |
        OPENSSL_CONF=/dev/null openssl pkey -pubout | python3 -c 'import json,sys; print(json.dumps({"peer": sys.stdin.read()}))')" \
    /keys/CAE-self/tls/derive
# Secrets (symmetric keys kept in the SE) and the TS-0003 derivations, checked against
# HMAC-SHA-256 computed here with the values secsfd never gives back.
printf '0123456789abcdef0123456789abcdef' >ke.bin
hmac_hex() {  # HEXKEY: HMAC-SHA-256 of stdin, hex
    OPENSSL_CONF=/dev/null openssl dgst -sha256 -mac HMAC -macopt "hexkey:$1" -binary | od -An -tx1 -v | tr -d ' \n'
}
unb64() { python3 -c 'import base64,sys; print(base64.urlsafe_b64decode(sys.argv[1]+"==").hex())' "$1"; }
expect "a secret (Ke) put into the token (201, 2001)" "201 2001" '"name":"Ke"' -X PUT --data-binary @ke.bin /secrets/CAE-self/Ke
expect "  is never read back (405)" "405 4005" "never read back" /secrets/CAE-self/Ke
api -X POST -d "{\"data\": \"$(printf 'x' | b64url)\"}" /secrets/CAE-self/Ke/hmac | head -1 >mac.json
kehex=$(od -An -tx1 -v ke.bin | tr -d ' \n')
check "HMAC-SHA-256 with it in the token is the HMAC with its value" \
    test "$(unb64 "$(jget mac.json mac)")" = "$(printf x | hmac_hex "$kehex")"
expect "Km derived from it inside the token (TS-0003 10.3), stored, not answered" "201 2001" '"derivedFrom":"CAE-self/Ke"' \
    -X POST -d '{"mode": "Km", "id": "maf.sp.example", "into": "Km"}' /secrets/CAE-self/Ke/derive
kmhex=$(printf '%s%s' 'oneM2M Enrolment Key to Master Credential derivation' 'maf.sp.example' | hmac_hex "$kehex")
api -X POST -d "{\"data\": \"$(printf 'x' | b64url)\"}" /secrets/CAE-self/Km/hmac | head -1 >kmmac.json
check "  and it is HMAC(Ke, label || MAF-ID): its MACs are the expected Km's" \
    test "$(unb64 "$(jget kmmac.json mac)")" = "$(printf x | hmac_hex "$kmhex")"
expect "deriving into a name in use: 409" "409 4105" "already" \
    -X POST -d '{"mode": "Km", "id": "maf.sp.example", "into": "Km"}' /secrets/CAE-self/Ke/derive
expect "a secret of 3 bytes is refused" "400 4000" "16 to 64 bytes" -X PUT --data-binary abc /secrets/CAE-self/short
expect "another entity's secret is not used" "403 4103" "may not secret.hmac CAE-meter/Ke" \
    -X POST -d '{"data": "eA"}' /secrets/CAE-meter/Ke/hmac
expect "a secret is not a key pair" "400 4000" "is a secret" -X POST -d '{"data": "eA"}' /keys/CAE-self/Ke/sign
expect "a sign request with data of the wrong JSON type: 400" "400 4000" "data" -X POST -d '{"data": 5}' /keys/CAE-self/tls/sign
expect "a sign request that is not JSON: 400" "400 4000" "request" -X POST -d 'data=1' /keys/CAE-self/tls/sign
expect "an unknown key type: 400" "400 4000" "type must be" -X PUT -d '{"type": "dsa"}' /keys/CAE-self/x
expect "a key for another owner is not made" "403 4103" "may not key.gen CAE-meter/tls" \
    -X PUT -d '{"type": "ec"}' /keys/CAE-meter/tls
expect "a key made and deleted" "201 2001" "short" -X PUT -d '{"type": "ec"}' /keys/CAE-self/short
expect "  delete: 200, 2002" "200 2002" "deleted" -X DELETE /keys/CAE-self/short
expect "  then it signs no more: 404, 4004" "404 4004" "no key" -X POST -d "{\"data\": \"$msg\"}" /keys/CAE-self/short/sign
check "  and the token holds it no more" sh -c "! pkcs11-tool --module '$SOFTHSM_MODULE' --token-label node1 --login --pin 1234 -O 2>/dev/null | grep -q 'secsfd/CAE-self/short'"

# The secsf command with secsfd-socket configured: a client of secsfd.
secsf() { "$SECSF_TOOL" "$@"; }
check "secsf storage get goes through secsfd" sh -c "'$SECSF_TOOL' storage get --owner CAE-self credential | grep -qx kpsa-of-self"
check_fails "  and --as is sent as X-M2M-Origin, refused unless it is the caller" "is not the caller" \
    secsf --as CAE-meter storage get --owner CAE-meter credential
check "secsf key gen --label makes a key owned by the caller" sh -c "'$SECSF_TOOL' key gen --label cli-key | grep -q 'object=secsfd%2FCAE-self%2Fcli-key'"
check "secsf key list shows the caller's keys" sh -c "'$SECSF_TOOL' key list | grep -q '^cli-key '"
check "secsf --json se list, through secsfd" sh -c "'$SECSF_TOOL' --json se list | grep -q 'logged in'"
check "secsf --direct uses the SEs themselves" sh -c "'$SECSF_TOOL' --direct storage get --owner CAE-self credential | grep -qx kpsa-of-self"

# Node.js's http module (the runtime of Mobius), where there is a node.
NODE=$(command -v node || command -v nodejs || true)
if [ -n "$NODE" ]; then
    cat >client.js <<'JS'
const http = require('http'), crypto = require('crypto'), fs = require('fs');
const [sock, pubFile] = process.argv.slice(2);
function call(method, path, body) {
    return new Promise((resolve, reject) => {
        const req = http.request({socketPath: sock, method, path, headers: {'X-M2M-RI': 'node-1'}}, (res) => {
            let data = '';
            res.on('data', (c) => data += c);
            res.on('end', () => resolve({status: res.statusCode, rsc: res.headers['x-m2m-rsc'], ri: res.headers['x-m2m-ri'], body: data}));
        });
        req.on('error', reject);
        if (body) req.write(body);
        req.end();
    });
}
function expect(what, ok) { if (!ok) { console.log('failed: ' + what); process.exit(1); } }
(async () => {
    let r = await call('PUT', '/storage/CAE-self/from-node', 'node-value');
    expect('put', r.status === 201 && r.rsc === '2001' && r.ri === 'node-1');
    r = await call('GET', '/storage/CAE-self/from-node');
    expect('get', r.status === 200 && r.body === 'node-value');
    const msg = Buffer.from('signed for node');
    r = await call('POST', '/keys/CAE-self/tls/sign', JSON.stringify({data: msg.toString('base64url')}));
    expect('sign', r.status === 200);
    const sig = Buffer.from(JSON.parse(r.body).signature, 'base64url');
    expect('verify', crypto.verify('sha256', msg, fs.readFileSync(pubFile), sig));
    r = await call('GET', '/storage/CAE-meter/credential');
    expect('refused', r.status === 403 && r.rsc === '4103');
    console.log('ok');
})().catch((e) => { console.log('failed: ' + e); process.exit(1); });
JS
    check "Node.js http: stores, reads, signs with a token key (verified by Node's crypto), is refused another's data" \
        sh -c "'$NODE' client.js '$SOCK' tls.pub | grep -qx ok"
else
    skip "a Node.js client" "no node on this machine"
fi

# Python's standard library, one keep-alive connection; raw bytes for what curl will not send.
# An http.client connection over secsfd's unix socket, for the Python clients below.
cat >secsfd_unix.py <<'PY'
import http.client, socket
class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("secsfd", timeout=20)
        self.unix_path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)
PY
cat >client.py <<'PY'
import http.client, json, socket, sys, time
from secsfd_unix import UnixConnection
def raw(data, wait=0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(sys.argv[1])
    try:
        s.sendall(data)
    except OSError:  # closed by the server already
        return b""
    time.sleep(wait)
    out = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
    except OSError:
        pass
    return out
what = sys.argv[2]
if what == "keepalive":
    c = UnixConnection(sys.argv[1])
    for i in range(5):
        c.request("PUT", "/storage/CAE-self/py%d" % i, body=b"v%d" % i, headers={"X-M2M-RI": "py-%d" % i})
        r = c.getresponse()
        body = json.loads(r.read())
        assert r.status == 201 and r.getheader("X-M2M-RSC") == "2001" and r.getheader("X-M2M-RI") == "py-%d" % i, body
        c.request("GET", "/storage/CAE-self/py%d" % i)
        r = c.getresponse()
        assert r.read() == b"v%d" % i
    print("ok")
elif what == "sign":
    import base64
    c = UnixConnection(sys.argv[1])
    msg = open("msg.txt", "rb").read()
    c.request("POST", "/keys/CAE-self/tls/sign", body=json.dumps({"data": base64.urlsafe_b64encode(msg).decode().rstrip("=")}))
    r = c.getresponse()
    sig = json.loads(r.read())["signature"]
    open("py.sig", "wb").write(base64.urlsafe_b64decode(sig + "=="))
    c.request("GET", "/storage/CAE-meter/credential")
    r = c.getresponse()
    body = json.loads(r.read())
    assert r.status == 403 and r.getheader("X-M2M-RSC") == "4103", body
    print("ok")
elif what == "garbage":
    out = raw(b"THIS IS NOT HTTP\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out
    print("ok")
elif what == "limit":
    held = []
    for i in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sys.argv[1])
        held.append(s)
    time.sleep(0.3)
    extra = raw(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert extra == b"", extra
    for s in held:
        s.close()
    time.sleep(0.3)
    out = raw(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200"), out
    print("ok")
elif what == "slow":
    t = time.time()
    out = raw(b"GET /health HTTP/1.1\r\nHost: x\r\n", wait=0)
    assert out == b"" and time.time() - t < 15, (out, time.time() - t)
    print("ok")
PY
check "Python http.client: five puts and gets on one keep-alive connection" sh -c "python3 client.py '$SOCK' keepalive | grep -qx ok"
check "Python: signs with a token key it never sees, and is refused another's data" sh -c \
    "python3 client.py '$SOCK' sign | grep -qx ok && OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify tls.pub -signature py.sig msg.txt"
check "malformed HTTP gets a 400, not a crash" sh -c "python3 client.py '$SOCK' garbage | grep -qx ok"
check "over secsfd-max-connections a connection is closed at once; served again when others end" \
    sh -c "python3 client.py '$SOCK' limit | grep -qx ok"
check "a client that never finishes its request is dropped after secsfd-request-timeout" \
    sh -c "python3 client.py '$SOCK' slow | grep -qx ok"
check "secsfd still serves" sh -c "curl -sS --unix-socket '$SOCK' http://secsfd/health | grep -q serving"

# Identity from the kernel: other uids (root only can be them).
if [ "$ME" = 0 ] && command -v setpriv >/dev/null; then
    as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
    check "uid 65534 (CAE-meter) stores its own data" sh -c "$(declare -f as); as 65534 curl -sS --unix-socket '$SOCK' \
        -X PUT --data-binary meter-data http://secsfd/storage/CAE-meter/credential | grep -q '\"stored\"'"
    check "  and reads it back" sh -c "$(declare -f as); as 65534 curl -sS --unix-socket '$SOCK' \
        http://secsfd/storage/CAE-meter/credential | grep -qx meter-data"
    check "  but not CAE-self's" sh -c "$(declare -f as); as 65534 curl -sS --unix-socket '$SOCK' \
        http://secsfd/storage/CAE-self/credential | grep -q 'CAE-meter may not storage.get CAE-self/credential'"
    check "  nor sign with CAE-self's key" sh -c "$(declare -f as); as 65534 curl -sS --unix-socket '$SOCK' \
        -X POST -d '{\"data\": \"$msg\"}' http://secsfd/keys/CAE-self/tls/sign | grep -q 'may not key.sign CAE-self/tls'"
    check "  nor by claiming to be CAE-self in X-M2M-Origin" sh -c "$(declare -f as); as 65534 curl -sS \
        --unix-socket '$SOCK' -H 'X-M2M-Origin: CAE-self' http://secsfd/storage/CAE-self/credential | grep -q 'is not the caller'"
    as 4242 curl -sS -i --unix-socket "$SOCK" http://secsfd/health >unmapped.txt 2>&1
    if as 65534 test -x "$SECSF_TOOL" -a -r openssl.cnf; then
        check "uid 65534, who cannot read the token's PIN, uses secsf through secsfd" sh -c "$(declare -f as); \
            as 65534 '$SECSF_TOOL' storage get --owner CAE-meter credential | grep -qx meter-data"
        check_fails "  and is refused CAE-self's data by secsfd, exit 3" "may not storage.get CAE-self/credential" \
            as 65534 "$SECSF_TOOL" storage get --owner CAE-self credential
    else
        skip "secsf as uid 65534" "the build tree is not open to other users"
    fi
    check "an unmapped uid is refused (4103), and told how to be mapped" sh -c \
        "grep -q 'uid 4242 (gid 4242) is not mapped' unmapped.txt && grep -q '^X-M2M-RSC: 4103' unmapped.txt"
    # SIGHUP: a rule lets CAE-meter read CAE-self's credential.
    cat >policy.json <<'JSON'
{"rules": [{"id": "meter-reads-self", "entity": "CAE-meter", "function": "storage.get", "object": "CAE-self/credential", "effect": "allow"}]}
JSON
    kill -HUP "$pid"
    for _ in $(seq 50); do grep -q SIGHUP secsfd.log && break; sleep 0.1; done
    check "after SIGHUP the new policy decides" sh -c "$(declare -f as); as 65534 curl -sS --unix-socket '$SOCK' \
        http://secsfd/storage/CAE-self/credential | grep -qx kpsa-of-self"
else
    skip "other uids (CAE-meter, an unmapped uid) and the SIGHUP policy change" "not root"
fi
# SIGHUP with a policy that denies CAE-self random numbers, then one that does not parse.
cat >policy.json <<'JSON'
{"rules": [{"id": "no-random-for-self", "entity": "CAE-self", "function": "random", "object": "*", "effect": "deny"}]}
JSON
kill -HUP "$pid"
sleep 0.5
expect "after SIGHUP a deny rule refuses, naming it" "403 4103" "rule 'no-random-for-self'" /random
echo '{"rules": [' >policy.json
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "kept the previous" secsfd.log && break; sleep 0.1; done
check "a policy that does not parse is not taken; the log says why" grep -q "kept the previous policy" secsfd.log
expect "  and the previous policy still decides" "403 4103" "rule 'no-random-for-self'" /random

echo '{"rules": []}' >policy.json
check_fails "a second secsfd on the same state and socket is refused" \
    "already open for writing\|another server is listening" timeout 10 "$SECSFD"
check "the PIN is in no response and no log line" sh -c "! grep -rq 1234 secsfd.log headers.txt"
stop_server "secsfd (SIGTERM)" "$pid" TERM
check "  and removes its socket" test ! -e "$SOCK"

# The audit log: every request, allowed or refused, with the caller the kernel named.
cp state/secsfd-audit.log.pub audit.pub
python3 -c 'import sqlite3; print(sqlite3.connect("state/secsfd-keys.db").execute(
    "SELECT uri FROM secsfd_key WHERE owner = ?", ("secsfd",)).fetchone()[0])' >audit.uri
openssl pkey -pubout -in "$(cat audit.uri)" -out audit-from-token.pub 2>/dev/null
check "the audit log's public key beside it is the checkpoint key's, in the token" cmp audit-from-token.pub audit.pub
check "the audit log verifies with secsfd's checkpoint key" "$SECSF_TOOL" audit verify --key audit.pub state/secsfd-audit.log
log=state/secsfd-audit.log
check "  it holds the requests, with the caller and the outcome" \
    grep -q '"outcome":"2000","peer":"CAE-self".*"type":"GET /health"' "$log"
check "  and the refusals, naming the rule" grep -q '4103: CAE-self may not storage.get CAE-meter/credential' "$log"
check "  but never a body (stored data, signatures)" sh -c "! grep -q 'kpsa-of-self\|meter-data' '$log'"
if [ "$ME" = 0 ] && command -v setpriv >/dev/null; then
    check "  and unmapped callers by uid" grep -q '"peer":"uid 4242"' "$log"
fi
cp "$log" edited.log
sed -i '3s/"outcome":"[^"]*"/"outcome":"9999: forged"/' edited.log
check_fails "an edited audit log does not verify" "record 3" "$SECSF_TOOL" audit verify --key audit.pub edited.log
start_secsfd() {  # LOG: starts secsfd, sets pid, waits for its socket
    "$SECSFD" >"$1" 2>&1 &
    pid=$!
    at_exit "kill $pid 2>/dev/null"
    for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
}
start_secsfd secsfd2.log
api -X POST -d "{\"data\": \"$msg\"}" /keys/CAE-self/tls/sign | head -1 >sig2.json
jget sig2.json signature | tr '_-' '/+' | sed 's/$/===/' | base64 -d >ec2.sig 2>/dev/null
check "after a restart the caller's key is still its own and signs" \
    env OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify tls.pub -signature ec2.sig msg.txt

# kill -9 while writing: every write that was answered is there after a restart.
cat >writer.py <<'PY'
import sys
from secsfd_unix import UnixConnection
c = UnixConnection(sys.argv[1])
acked = open(sys.argv[2], "w")
for i in range(100000):
    try:
        c.request("PUT", "/storage/CAE-self/w%d" % i, body=b"value-%d" % i)
        r = c.getresponse()
        r.read()
    except Exception:
        break
    if r.status == 201:
        acked.write("w%d\n" % i)
        acked.flush()
PY
python3 writer.py "$SOCK" acked.txt &
writer=$!
sleep 2
kill -9 "$pid"
wait "$writer" 2>/dev/null
rm -f "$SOCK"  # left by the killed process; secsfd would also replace it
start_secsfd secsfd3.log
check "after kill -9 secsfd starts again (the audit log's torn end dropped)" \
    sh -c "curl -sS --unix-socket '$SOCK' http://secsfd/health | grep -q serving"
lost=0
n=0
while read -r name; do
    n=$((n + 1))
    v=$(curl -sS --unix-socket "$SOCK" "http://secsfd/storage/CAE-self/$name")
    [ "$v" = "value-${name#w}" ] || lost=$((lost + 1))
done <acked.txt
check "every one of the $n writes answered before kill -9 is there, whole" test "$n" -gt 0 -a "$lost" -eq 0
check "  and the audit log still verifies" sh -c \
    "curl -sS --unix-socket '$SOCK' http://secsfd/health >/dev/null && '$SECSF_TOOL' audit verify --key audit.pub state/secsfd-audit.log"
stop_server "secsfd (SIGINT)" "$pid" INT
: >"$SOCK.not-a-socket"
check_fails "a file that is not a socket at the socket path is not replaced" "is not a socket" \
    timeout 10 "$SECSFD" --socket "$SOCK.not-a-socket"

# systemd socket activation: the socket comes as descriptor 3 (secsfd.socket).
if command -v systemd-socket-activate >/dev/null; then
    # It passes no environment unless asked: the token directory comes with -E.
    systemd-socket-activate -E SOFTHSM2_CONF -l "$SOCKDIR/activated.sock" "$SECSFD" --config "$WORK/openssl.cnf" \
        >activated.log 2>&1 &
    pid=$!
    at_exit "kill $pid 2>/dev/null"
    for _ in $(seq 100); do [ -S "$SOCKDIR/activated.sock" ] && break; sleep 0.1; done
    check "socket-activated, secsfd serves on the socket it was given" sh -c \
        "curl -sS --max-time 20 --unix-socket '$SOCKDIR/activated.sock' http://secsfd/health | grep -q '\"entity\":\"CAE-self\"'"
    check "  and not on secsfd-socket" test ! -e "$SOCK"
    stop_server "socket-activated secsfd (SIGTERM)" "$pid" TERM
else
    skip "systemd socket activation" "no systemd-socket-activate"
fi

# A state directory lost (restored from nothing): secsfd starts again on the same
# token, with a new audit key beside the old one.
mv state state.lost
mkdir state
start_secsfd secsfd4.log
check "secsfd starts on a new state directory with the old one's keys still in the token" sh -c \
    "curl -sS --unix-socket '$SOCK' http://secsfd/health | grep -q serving"
check "  and writes a new audit log and its public key" test -s state/secsfd-audit.log.pub
stop_server "secsfd (new state)" "$pid" TERM

# Type=notify: READY=1 once it serves, STOPPING=1 when it stops.
cat >notify.py <<'PY'
import os, socket, subprocess, sys
path = os.path.join(os.getcwd(), "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(30)
p = subprocess.Popen([sys.argv[1]], env=dict(os.environ, NOTIFY_SOCKET=path), stderr=subprocess.DEVNULL)
ready = s.recv(100)
p.terminate()
stopping = s.recv(100)
assert ready == b"READY=1" and stopping == b"STOPPING=1" and p.wait() == 0, (ready, stopping)
print("ok")
PY
check "systemd readiness: READY=1 once serving, STOPPING=1 on SIGTERM" sh -c "python3 notify.py '$SECSFD' | grep -qx ok"

# A stop lets a request in progress finish: its header is in, its body still coming.
start_secsfd secsfd5.log
cat >inflight.py <<'PY'
import os, signal, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(b"PUT /storage/CAE-self/late HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nlate-")
time.sleep(0.3)
os.kill(int(sys.argv[2]), signal.SIGTERM)
time.sleep(0.5)
s.sendall(b"value")
out = s.recv(4096)
assert out.startswith(b"HTTP/1.1 201"), out
print("ok")
PY
check "SIGTERM while a request is arriving: it is finished and answered" sh -c "python3 inflight.py '$SOCK' $pid | grep -qx ok"
timeout 30 tail --pid="$pid" -f /dev/null
wait "$pid"
src=$?
check "  and then secsfd stops cleanly (exit $src)" test "$src" -eq 0 -a ! -e "$SOCK"
