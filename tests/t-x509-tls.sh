#!/bin/bash
# Certificates and TLS with keys in the token: self-signed certificates and a CSR
# made with `-key pkcs11:...`, then TLS 1.3 and 1.2 handshakes on 127.0.0.1 with
# the server key in the token, and mutual TLS with the client key in the token too.
. "$(dirname "$0")/lib/setup.sh"

for spec in "EC group:P-256 srv-ec" "RSA bits:2048 srv-rsa" "EC group:P-256 cli-ec" \
            "ED25519 - srv-ed"; do
    set -- $spec
    opt=(-pkeyopt "$2")
    [ "$2" = - ] && opt=()
    check "genpkey $3" openssl genpkey -propquery provider=secsf -algorithm "$1" "${opt[@]}" \
        -pkeyopt "secsf.label:$3" -out "$3.pem"
    check "self-signed certificate for $3 by URI" openssl req -new -x509 -days 2 -subj "/CN=$3" \
        -key "pkcs11:token=node1;object=$3;type=private" -out "$3.crt"
    check "$3 certificate verifies under default" \
        env OPENSSL_CONF=/dev/null openssl verify -CAfile "$3.crt" "$3.crt"
done
check "CSR signed with a token key verifies" sh -c \
    "openssl req -new -subj /CN=csr -key srv-ec.pem -out srv.csr && OPENSSL_CONF=/dev/null openssl req -verify -noout -in srv.csr"
check "RSA-PSS certificate (-sigopt rsa_padding_mode:pss)" openssl req -new -x509 -days 2 \
    -subj /CN=pss -key srv-rsa.pem -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -out pss.crt
check "RSA-PSS certificate verifies under default" \
    env OPENSSL_CONF=/dev/null openssl verify -CAfile pss.crt pss.crt

# handshake NAME SERVER_KEY SERVER_CERT PROTO [CLIENT_KEY CLIENT_CERT]
handshake() {
    local name=$1 key=$2 crt=$3 proto=$4 ckey=${5:-} ccrt=${6:-}
    local port srvargs=() cliargs=()
    port=$(free_port) || { not_ok "$name: no free port"; return; }
    if [ -n "$ckey" ]; then
        srvargs=(-Verify 1 -verify_return_error -CAfile "$ccrt")
        cliargs=(-key "$ckey" -cert "$ccrt")
    fi
    openssl s_server -accept "127.0.0.1:$port" -key "$key" -cert "$crt" "$proto" -naccept 1 \
        -www "${srvargs[@]}" >"$name.srv.out" 2>"$name.srv.err" &
    local spid=$!
    at_exit "kill $spid 2>/dev/null"
    # Ready when it says ACCEPT (a probe connection would use up -naccept 1).
    for _ in $(seq 100); do grep -q ACCEPT "$name.srv.out" 2>/dev/null && break; sleep 0.05; done
    # -www answers a GET with a status page (s_server's -rev hangs under TLS 1.3
    # client authentication, with software keys too).
    (printf 'GET /secsf-%s HTTP/1.0\r\n\r\n' "$name"; sleep 1) | timeout 20 openssl s_client \
        -connect "127.0.0.1:$port" -CAfile "$crt" -verify_return_error \
        -verify_hostname "${crt%.crt}" "$proto" -ign_eof \
        "${cliargs[@]}" >"$name.cli.out" 2>"$name.cli.err"
    local crc=$?
    local src=0
    wait $spid || src=$?
    local crossed=1
    grep -q "HTTP/1.0 200 ok" "$name.cli.out" || crossed=0
    # In mutual TLS the server's page names the client certificate it verified.
    if [ -n "$ckey" ] && ! grep -q "Subject: CN *= *${ccrt%.crt}" "$name.cli.out"; then crossed=0; fi
    if [ $crc -eq 0 ] && [ $src -eq 0 ] && [ $crossed -eq 1 ]; then
        ok "$name: handshake, data crossed, both exit 0"
    else
        not_ok "$name: client $crc server $src"
        tail -n 5 "$name.cli.err" "$name.srv.err" | sed 's/^/# /'
    fi
}

handshake tls13-ec srv-ec.pem srv-ec.crt -tls1_3
handshake tls12-ec srv-ec.pem srv-ec.crt -tls1_2
handshake tls13-rsa srv-rsa.pem srv-rsa.crt -tls1_3
handshake tls12-rsa srv-rsa.pem srv-rsa.crt -tls1_2
handshake tls13-ed25519 srv-ed.pem srv-ed.crt -tls1_3
handshake mtls13 srv-ec.pem srv-ec.crt -tls1_3 "pkcs11:token=node1;object=cli-ec;type=private" cli-ec.crt
handshake mtls12 srv-rsa.pem srv-rsa.crt -tls1_2 cli-ec.pem cli-ec.crt
