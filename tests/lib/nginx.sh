# nginx in the shell checks, its key in an SE through the secsf engine.
#   engine_conf FILE                  adds the secsf engine (init = 1) to an openssl.cnf
#   nginx_conf FILE PORT KEY WORKERS [LINE...]
#                                     an nginx.conf under $WORK/nginx serving HTTPS on
#                                     127.0.0.1:PORT with "engine:secsf:KEY"; each LINE is
#                                     added to the server block
: "${NGINX_BIN:=$(command -v nginx || echo /usr/sbin/nginx)}"

engine_conf() {
    sed -i 's/^providers = provider_sect/providers = provider_sect\nengines = engine_sect/' "$1"
    cat >>"$1" <<CONF
[engine_sect]
secsf = secsf_engine_sect
[secsf_engine_sect]
engine_id = secsf
dynamic_path = $OPENSSL_ENGINES/secsf.so
init = 1
CONF
}

nginx_conf() {
    local file=$1 port=$2 key=$3 workers=$4 line
    shift 4
    mkdir -p "$WORK/nginx/tmp"
    {
        cat <<CONF
daemon off;
master_process on;
worker_processes $workers;
user root;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log info;
env SOFTHSM2_CONF;
env OPENSSL_CONF;
env OPENSSL_ENGINES;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp;
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        ssl_certificate_key "engine:secsf:$key";
        ssl_protocols TLSv1.2 TLSv1.3;
CONF
        for line in "$@"; do echo "        $line"; done
        echo "    }"
        echo "}"
    } >"$file"
}
