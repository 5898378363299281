# A private SoftHSM2 token store and an openssl.cnf that loads the freshly built
# secsf provider, all under one work directory of the build tree.
#   softhsm_init DIR         token store + softhsm2.conf in DIR, exports SOFTHSM2_CONF
#   softhsm_token LABEL PIN  initialise one more token
#   secsf_conf FILE TOKEN PINFILE [extra lines]  write an openssl.cnf for secsf
: "${SOFTHSM_MODULE:=/usr/lib/softhsm/libsofthsm2.so}"
SO_PIN=87654321

softhsm_init() {
    mkdir -p "$1/tokens"
    cat >"$1/softhsm2.conf" <<CONF
directories.tokendir = $1/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
    export SOFTHSM2_CONF="$1/softhsm2.conf"
}

softhsm_token() {
    # Never with an OPENSSL_CONF that loads secsf: the tool would load it too.
    OPENSSL_CONF=/dev/null softhsm2-util --init-token --free --label "$1" \
        --so-pin "$SO_PIN" --pin "$2" >/dev/null
}

secsf_conf() {
    local file=$1 token=$2 pinfile=$3
    shift 3
    cat >"$file" <<CONF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
secsf = secsf_sect
[default_sect]
activate = 1
[secsf_sect]
module = $SECSF_MODULE
activate = 1
pkcs11-module-path = $SOFTHSM_MODULE
pkcs11-token = $token
pkcs11-pin-source = file:$pinfile
CONF
    for line in "$@"; do echo "$line" >>"$file"; done
}

# p11tool ARGS: pkcs11-tool on the SoftHSM module, outside secsf's configuration.
p11tool() { OPENSSL_CONF=/dev/null pkcs11-tool --module "$SOFTHSM_MODULE" "$@"; }

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 30000))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo $p; return 0; fi
    done
    return 1
}
