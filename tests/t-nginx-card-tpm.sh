#!/bin/bash
# Pre-forking servers with keys in a TPM and on a card (issue 17 item 3): nginx's
# master loads "engine:secsf:tpm2:..." and "engine:secsf:piv:..." keys, then forks
# its workers, which sign every handshake. Each worker must talk to pcscd and to the
# TPM over connections of its own: under load, and across reloads (new workers,
# forked from a master that used the keys), every request gets its page.
. "$(dirname "$0")/lib/setup.sh"
. "$TESTS_DIR/lib/swtpm.sh"
. "$TESTS_DIR/lib/pcsc.sh"
. "$TESTS_DIR/lib/nginx.sh"
export OPENSSL_ENGINES="${SECSF_ENGINE_DIR:?run through make check, which sets SECSF_ENGINE_DIR}"
if [ -n "${SECSF_ASAN_RUNTIME:-}" ]; then
    echo "ok 1 - nginx with TPM and card keys # SKIP not under a sanitizer build"; TAP_N=1; exit 0
fi
TPM="$WORK/tpm"
CARD="$WORK/card"
swtpm_start "$TPM" || { not_ok "swtpm starts"; exit 0; }
at_exit "swtpm_stop '$TPM'"
card_up "$CARD" || { not_ok "pcscd and the test card start"; exit 0; }
cat >>openssl.cnf <<CONF
tpm2-tcti = $(swtpm_tcti "$TPM")
pcsc-reader = Virtual PCD*00
pcsc-pin-source = file:$WORK/card.pin
pcsc-management-key-source = file:$WORK/card.mgmt
CONF
engine_conf openssl.cnf

TPMKEY='tpm2:handle=0x81000040'
CARDKEY='piv:slot=9a'
check "server key in the TPM" openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt "secsf.uri:$TPMKEY" -out tpm.pem
check "server key on the card" openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt "secsf.uri:$CARDKEY" -out card.pem
for k in tpm card; do
    key=$TPMKEY
    [ $k = card ] && key=$CARDKEY
    check "$k: certificate for localhost" openssl req -new -x509 -days 2 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost -key "$key" -out "$k.crt"
done

# Two nginx instances (one per key), four workers each.
start_nginx() {  # NAME KEY PORT
    local dir="$WORK/nginx-$1"
    mkdir -p "$dir"
    nginx_conf "$dir/nginx.conf" "$3" "$2" 4 "ssl_certificate $WORK/$1.crt;" 'location / { return 200 "secsf $ssl_protocol\n"; }'
    sed -i "s|$WORK/nginx/|$dir/|g" "$dir/nginx.conf"
    mkdir -p "$dir/tmp"
    "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" >"$dir/stdout" 2>&1 &
    echo $! >"$dir/master.pid"
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$3") 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
fetch() {  # NAME PORT: one HTTPS request, verified against the instance's certificate
    timeout 30 curl -sS --max-time 20 --cacert "$WORK/$1.crt" --resolve "localhost:$2:127.0.0.1" \
        "https://localhost:$2/" 2>>"$WORK/curl-$1.err" | grep -q '^secsf TLS'
}
# LOAD NAME PORT N: N requests in 4 parallel streams; the failures counted in a file.
load() {
    local name=$1 port=$2 n=$3 s i streams=()
    : >"$WORK/fails-$name"
    for s in 1 2 3 4; do
        (for i in $(seq "$n"); do fetch "$name" "$port" || echo x >>"$WORK/fails-$name"; done) &
        streams+=($!)
    done
    wait "${streams[@]}"  # not nginx, a job of this shell too
}

for k in tpm card; do
    port=$(free_port)
    if ! start_nginx "$k" "$([ $k = tpm ] && echo "$TPMKEY" || echo "$CARDKEY")" "$port"; then
        not_ok "$k: nginx starts"; tail -5 "$WORK/nginx-$k/error.log" | sed 's/^/# /'; continue
    fi
    pid=$(cat "$WORK/nginx-$k/master.pid")
    at_exit "kill $pid 2>/dev/null"
    load "$k" "$port" 5
    check "$k: 20 requests to 4 fresh workers, every one answered" test ! -s "$WORK/fails-$k"
    # Reloads under load: the master (which used the key) forks new workers.
    load "$k" "$port" 15 &
    loader=$!
    for r in 1 2; do
        sleep 1
        kill -HUP "$pid"
    done
    wait "$loader"
    check "$k: 60 requests across two reloads, every one answered" test ! -s "$WORK/fails-$k"
    check "$k: no worker saw another process's answer or lost its connection" sh -c \
        "! grep -E 'status 0000|status 2127|Access denied|RPC transport|transport error' '$WORK/nginx-$k/error.log'"
    check "$k: no worker crashed" sh -c "! grep -q 'exited on signal' '$WORK/nginx-$k/error.log'"
    kill -QUIT "$pid"
    timeout 30 tail --pid="$pid" -f /dev/null
    wait "$pid"
    nrc=$?
    check "$k: nginx stops cleanly (exit $nrc)" test $nrc -eq 0
done
check "no transient objects left in the TPM" sh -c \
    "TPM2TOOLS_TCTI='$(swtpm_tcti "$TPM")' tpm2_getcap handles-transient | grep -c 0x80 | grep -q '^0$'"
