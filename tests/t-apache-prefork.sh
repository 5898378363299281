#!/bin/bash
# Apache 2.4 with the prefork MPM (issue 15 item 6): the parent (root) reads the
# SECSF KEY file, children run as nobody and are spawned under load (each serves a
# few connections only), so every child re-initialises the module and logs in while
# its siblings do the same and SoftHSM rewrites its token file. Every request must be
# answered. Bounded in time; loopback only.
. "$(dirname "$0")/lib/setup.sh"
APACHE=${APACHE_BIN:-$(command -v apache2 || echo /usr/sbin/apache2)}
MODS=/usr/lib/apache2/modules
if [ ! -x "$APACHE" ] || [ ! -e "$MODS/mod_mpm_prefork.so" ] || ! id nobody >/dev/null 2>&1; then
    echo "ok 1 - Apache prefork # SKIP apache2 (apache2-bin) or the user nobody is missing"
    TAP_N=1
    exit 0
fi
if [ -n "${SECSF_ASAN_RUNTIME:-}" ]; then
    echo "ok 1 - Apache prefork # SKIP not under a sanitizer build"
    TAP_N=1
    exit 0
fi
check "server key in the token" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:apache -out apache.pem
check "server certificate" openssl req -new -x509 -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -key apache.pem -out apache.crt
# The children (nobody) read the token, its configuration and their PIN file.
chown -R nobody "$WORK/tokens" "$WORK/node1.pin"
chmod 755 "$WORK"
chmod 644 "$WORK/softhsm2.conf" "$WORK/openssl.cnf" apache.pem apache.crt
port=$(free_port)
A="$WORK/apache"
mkdir -p "$A/htdocs" "$A/run" "$A/logs"
echo "secsf" >"$A/htdocs/index.html"
cat >"$A/httpd.conf" <<CONF
ServerRoot $A
ServerName localhost
Listen 127.0.0.1:$port
PidFile $A/run/httpd.pid
DefaultRuntimeDir $A/run
ErrorLog $A/logs/error.log
LogLevel info
LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule ssl_module $MODS/mod_ssl.so
User nobody
Group nogroup
StartServers 2
MinSpareServers 2
MaxSpareServers 4
MaxRequestWorkers 16
MaxConnectionsPerChild 10
KeepAlive Off
DocumentRoot $A/htdocs
<Directory $A/htdocs>
    Require all granted
</Directory>
SSLEngine on
SSLCertificateFile $WORK/apache.crt
SSLCertificateKeyFile $WORK/apache.pem
SSLProtocol -all +TLSv1.2 +TLSv1.3
CONF
check "apache2 -t accepts the SECSF KEY file" timeout 60 "$APACHE" -t -f "$A/httpd.conf"
# A session of its own: at shutdown the prefork parent signals its whole process group.
setsid "$APACHE" -f "$A/httpd.conf" -DFOREGROUND >"$A/logs/stdout" 2>&1 &
APACHE_PID=$!
at_exit "kill -TERM $APACHE_PID 2>/dev/null"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
REQUESTS=${SECSF_APACHE_REQUESTS:-250}
client() {
    timeout 240 curl -s --max-time 20 --cacert apache.crt --resolve "localhost:$port:127.0.0.1" \
        -o /dev/null -w '%{http_code}\n' "https://localhost:$port/index.html?[1-$REQUESTS]" >"codes.$1" 2>/dev/null
}
clients=""
for n in 1 2 3 4 5 6 7 8; do client $n & clients="$clients $!"; done
wait $clients
total=$(cat codes.* | wc -l)
good=$(cat codes.* | grep -c '^200$')
if [ "$good" -eq $((8 * REQUESTS)) ]; then ok "Apache prefork answered all $good requests, children spawned under load"
else not_ok "Apache prefork answered $good of $((8 * REQUESTS)) requests ($total attempts)"
    grep -h 'secsf::\|SSL Library Error\|emerg' "$A/logs/error.log" | sort | uniq -c | sort -rn | head -5 | sed 's/^/# /'; fi
check "no child refused its key" sh -c "! grep -q 'secsf::' '$A/logs/error.log'"
stop_server Apache "$APACHE_PID" TERM
