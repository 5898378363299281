#!/bin/bash
# The ENGINE face with the real programs from Debian: nginx serving HTTPS with its
# key in the token through engine:secsf:pkcs11:..., curl fetching and verifying it,
# curl doing mutual TLS with its client key in the token through the engine, and the
# openssl CLI signing through -engine secsf. Bounded in time, loopback only.
. "$(dirname "$0")/lib/setup.sh"
. "$TESTS_DIR/lib/nginx.sh"
# Only here: other checks load libp11's engine from the system directory.
export OPENSSL_ENGINES="${SECSF_ENGINE_DIR:?run through make check, which sets SECSF_ENGINE_DIR}"
NGINX=$NGINX_BIN
SRV='pkcs11:token=node1;object=web;type=private'
CLI='pkcs11:token=node1;object=curl-client;type=private'

check "server key in the token" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:web -out web.pem
check "server certificate for localhost" openssl req -new -x509 -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -key "$SRV" -out web.crt
check "client key in the token" openssl genpkey -propquery provider=secsf -algorithm RSA \
    -pkeyopt bits:2048 -pkeyopt secsf.label:curl-client -out client.pem
check "client certificate" openssl req -new -x509 -days 2 -subj /CN=curl-client -key "$CLI" -out client.crt

# openssl CLI through the engine
openssl dgst -sha256 -binary web.crt >digest.bin
check "pkeyutl -engine secsf -keyform engine signs" openssl pkeyutl -engine secsf -keyform engine \
    -sign -inkey "$SRV" -in digest.bin -out engine.sig
openssl pkey -in web.pem -pubout -out web.pub
check "  the signature verifies under the default provider" env OPENSSL_CONF=/dev/null \
    openssl pkeyutl -verify -pubin -inkey web.pub -in digest.bin -sigfile engine.sig
check_fails "a bad key id through the engine: clear error" "no private key at" \
    openssl pkeyutl -engine secsf -keyform engine -sign -inkey 'pkcs11:token=node1;object=nope;type=private' -in digest.bin
# The engine answers for SE keys only, and never repeats a PIN (issue 17 items 10, 11).
OPENSSL_CONF=/dev/null openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out soft.pem 2>/dev/null
check_fails "a software key file through the engine is refused, not used" "not a key in a Secure Environment" \
    openssl pkeyutl -engine secsf -keyform engine -sign -inkey "$WORK/soft.pem" -in digest.bin -out soft.sig
check "  and nothing was signed with it" test ! -s soft.sig
openssl pkeyutl -engine secsf -keyform engine -sign -in digest.bin \
    -inkey 'pkcs11:token=nosuch;object=nope;type=private?pin-value=Secret-4711' >pin.out 2>pin.err
# (The openssl CLI itself echoes the argument it was given; secsf's lines must not.)
check "an engine error does not repeat the URI's pin-value" sh -c \
    "grep -q 'secsf engine' pin.err && ! grep 'error:.*secsf' pin.err | grep -q 'Secret-4711' && ! grep -q 'Secret-4711' pin.out"

# nginx loads `engine:` keys without initialising the engine: openssl.cnf does it
# (init = 1), as for any engine a server uses.
cp openssl.cnf provider-only.cnf
engine_conf openssl.cnf

# The certificate through the engine, as stunnel asks for it (libp11's LOAD_CERT_CTRL).
openssl x509 -in web.crt -outform DER -out web.der
check "the server certificate stored in the token beside its key" \
    p11tool --token-label node1 --login --pin 1234 --write-object web.der --type cert --label web --id 0303
cat >loadcert.c <<'C'
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/engine.h>
#include <openssl/pem.h>
#include <stdio.h>
int main(int argc, char **argv) {
    struct { const char *id; X509 *cert; } p = {argv[1], NULL};
    ENGINE *e = ENGINE_by_id("secsf");
    if (!e || !ENGINE_init(e)) return 2;
    if (!ENGINE_ctrl_cmd(e, "LOAD_CERT_CTRL", 0, &p, NULL, 0) || !p.cert) { ERR_print_errors_fp(stderr); return 1; }
    PEM_write_X509(stdout, p.cert);
    return 0;
}
C
if cc -o loadcert loadcert.c -lcrypto 2>cc.err; then
    check "LOAD_CERT_CTRL returns the certificate a URI names" sh -c \
        "LD_PRELOAD='${SECSF_ASAN_RUNTIME:-}' ./loadcert 'pkcs11:token=node1;object=web;type=cert' >engine.crt && cmp engine.crt web.crt"
    check_fails "LOAD_CERT_CTRL for a URI without a certificate: a clear error" "no certificate at" \
        env LD_PRELOAD="${SECSF_ASAN_RUNTIME:-}" ./loadcert 'pkcs11:token=node1;object=nothing-here;type=cert'
else
    not_ok "a client of LOAD_CERT_CTRL builds"; sed 's/^/# /' cc.err
fi

# nginx does not run with the ASan runtime preloaded (a sanitizer build): its part
# is reported as skipped there, and runs in every normal build.
if [ -n "${SECSF_ASAN_RUNTIME:-}" ]; then
    echo "ok $((TAP_N + 1)) - nginx and curl # SKIP not under a sanitizer build"
    TAP_N=$((TAP_N + 1))
    exit 0
fi

port=$(free_port)
write_nginx_conf() {  # KEY-ID FILE
    nginx_conf "$2" "$port" "$1" 1 "ssl_certificate $WORK/web.crt;" "ssl_verify_client optional;" \
        "ssl_client_certificate $WORK/client.crt;" \
        'location / { return 200 "secsf $ssl_protocol client=$ssl_client_verify $ssl_client_s_dn\n"; }'
}
write_nginx_conf "$SRV" nginx/nginx.conf
check "nginx -t accepts the engine key" timeout 60 "$NGINX" -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
write_nginx_conf 'pkcs11:token=node1;object=missing;type=private' nginx/bad.conf
check_fails "nginx -t with a key id that names nothing: clear error" "no private key" \
    timeout 60 "$NGINX" -t -p "$WORK/nginx" -c "$WORK/nginx/bad.conf"

"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >nginx/stdout 2>&1 &
NGINX_PID=$!
at_exit "kill $NGINX_PID 2>/dev/null"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
curl_https() { timeout 30 curl -sS --max-time 20 \
    --cacert web.crt --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/" "$@"; }

check "curl fetches from nginx, server key in the token" sh -c \
    "$(declare -f curl_https); port=$port; curl_https >page1.txt"
check "  the page came over TLS 1.3, no client certificate" grep -q "^secsf TLSv1.3 client=NONE" page1.txt
check "curl mutual TLS 1.3 with its key in the token through the engine" sh -c \
    "$(declare -f curl_https); port=$port; curl_https --engine secsf --key-type ENG --key '$CLI' --cert client.crt >page2.txt"
check "  nginx verified the client certificate" grep -q "^secsf TLSv1.3 client=SUCCESS CN=curl-client" page2.txt
check "curl mutual TLS over TLS 1.2" sh -c \
    "$(declare -f curl_https); port=$port; curl_https --tls-max 1.2 --engine secsf --key-type ENG --key '$CLI' --cert client.crt >page3.txt"
check "  TLS 1.2, client verified" grep -q "^secsf TLSv1.2 client=SUCCESS" page3.txt
check_fails "curl with a bad engine key id: clear error, no crash" "could not load\|unable to\|engine" \
    curl_https --engine secsf --key-type ENG --key 'pkcs11:token=node1;object=nope;type=private' --cert client.crt

kill -QUIT "$NGINX_PID"
rc=0
timeout 30 tail --pid="$NGINX_PID" -f /dev/null || rc=$?
wait "$NGINX_PID"
nrc=$?
if [ $rc -eq 0 ] && [ $nrc -eq 0 ]; then ok "nginx stops cleanly (exit 0)"; else not_ok "nginx exit $nrc"; tail -5 nginx/error.log | sed 's/^/# /'; fi
check "nginx logged no worker crash" sh -c "! grep -q 'exited on signal' nginx/error.log"
