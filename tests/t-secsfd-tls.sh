#!/bin/bash
# secsfd over HTTPS with mutual TLS on loopback: the server's key in the token
# (through the secsf provider), callers identified by the client certificate the
# configured CA signed (the URI in its subjectAltName is the AE-ID or CSE-ID).
. "$(dirname "$0")/lib/setup.sh"
. "$TESTS_DIR/lib/nginx.sh"
: "${SECSFD:?run through make check, which sets SECSFD}"
soft() { OPENSSL_CONF=/dev/null openssl "$@"; }
# ca NAME: a CA of its own; cert CA NAME [SAN]: a client certificate it signs.
ca() {
    soft req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" -days 2 \
        -keyout "$1.key" -out "$1.crt" 2>/dev/null
}
cert() {
    local ext=""
    [ -n "${3:-}" ] && printf 'subjectAltName=%s\n' "$3" >"$2.ext" && ext="-extfile $2.ext"
    soft req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" -keyout "$2.key" -out "$2.csr" 2>/dev/null
    # shellcheck disable=SC2086
    soft x509 -req -in "$2.csr" -CA "$1.crt" -CAkey "$1.key" -CAcreateserial -days 2 $ext -out "$2.crt" 2>/dev/null
}
ca m2m-ca
ca other-ca
cert m2m-ca meter "URI:CAE-meter"
cert m2m-ca gateway "URI:/cse-gw"
cert m2m-ca nameless "DNS:meter.example"
cert other-ca impostor "URI:CAE-meter"
check "the server's TLS key is made in the token" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:secsfd-tls -out server.pem
openssl req -new -key server.pem -subj /CN=localhost -out server.csr
printf 'subjectAltName=DNS:localhost\n' >server.ext
soft x509 -req -in server.csr -CA m2m-ca.crt -CAkey m2m-ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt 2>/dev/null
port=$(free_port)
SOCKDIR=$(mktemp -d /tmp/secsfd-tls.XXXXXX)
at_exit "rm -rf '$SOCKDIR'"
mkdir -p state
cat >>openssl.cnf <<CONF
secsfd-socket = $SOCKDIR/secsfd.sock
secsfd-callers = uid:$(id -u)=CAE-local
secsfd-state-dir = $WORK/state
secsfd-tls-listen = 127.0.0.1:$port
secsfd-tls-key = pkcs11:token=node1;object=secsfd-tls;type=private
secsfd-tls-certificate = $WORK/server.crt
secsfd-tls-client-ca = $WORK/m2m-ca.crt
CONF
"$SECSFD" >secsfd.log 2>&1 &
pid=$!
at_exit "kill $pid 2>/dev/null"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
https() {  # CLIENT PATH [curl options]: the body, then "HTTP RSC"
    local who=$1 path=$2
    shift 2
    OPENSSL_CONF=/dev/null curl -sS --max-time 20 --cacert m2m-ca.crt --resolve "localhost:$port:127.0.0.1" \
        ${who:+--cert "$who.crt" --key "$who.key"} -D h.txt "$@" "https://localhost:$port$path"
    echo
    echo "$(sed -n 's/^HTTP\/1.1 \([0-9]*\).*/\1/p' h.txt | tr -d '\r') $(sed -n 's/^X-M2M-RSC: //p' h.txt | tr -d '\r')"
}
check "HTTPS: the caller is the AE-ID in its client certificate" sh -c \
    "$(declare -f https); port=$port; https meter /health | grep -q '\"entity\":\"CAE-meter\"'"
check "  a CSE-ID too" sh -c "$(declare -f https); port=$port; https gateway /health | grep -q '\"entity\":\"/cse-gw\"'"
check "  which stores and reads its own data" sh -c "$(declare -f https); port=$port; \
    https meter /storage/CAE-meter/cred -X PUT --data-binary tls-secret | grep -q '201 2001' && \
    https meter /storage/CAE-meter/cred | grep -qx tls-secret"
check "  and is refused another's (4103)" sh -c "$(declare -f https); port=$port; \
    https gateway /storage/CAE-meter/cred | tail -1 | grep -qx '403 4103'"
check "  and cannot claim another identity in X-M2M-Origin" sh -c "$(declare -f https); port=$port; \
    https gateway /storage/CAE-meter/cred -H 'X-M2M-Origin: CAE-meter' | grep -q 'is not the caller'"
check "a certificate without a URI name is refused, saying why" sh -c "$(declare -f https); port=$port; \
    https nameless /health | grep -q 'names no AE-ID or CSE-ID'"
tls_curl() { OPENSSL_CONF=/dev/null curl -sS --max-time 20 --cacert m2m-ca.crt --resolve "localhost:$port:127.0.0.1" "$@"; }
check_fails "a certificate from another CA gets no connection" "unknown ca" \
    tls_curl --cert impostor.crt --key impostor.key "https://localhost:$port/health"
check_fails "no client certificate, no connection" "certificate required" tls_curl "https://localhost:$port/health"
check "the server signed its handshakes with the key in the token" sh -c \
    "OPENSSL_CONF=/dev/null openssl s_client -connect 127.0.0.1:$port -CAfile m2m-ca.crt -cert meter.crt -key meter.key \
        -servername localhost -verify_return_error </dev/null 2>/dev/null | grep -q 'Verify return code: 0'"
cat >client.py <<'PY'
import http.client, json, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context(cafile="m2m-ca.crt")
ctx.load_cert_chain("meter.crt", "meter.key")
c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=20)
c.request("GET", "/storage/CAE-meter/cred", headers={"X-M2M-RI": "py-tls"})
r = c.getresponse()
assert r.status == 200 and r.read() == b"tls-secret" and r.getheader("X-M2M-RI") == "py-tls"
print("ok")
PY
check "Python's ssl + http.client with a client certificate" sh -c \
    "OPENSSL_CONF=/dev/null python3 client.py $port 2>&1 | grep -qx ok"
check "the unix socket is served beside it" sh -c \
    "curl -sS --unix-socket '$SOCKDIR/secsfd.sock' http://secsfd/health | grep -q CAE-local"
stop_server "secsfd" "$pid" TERM
