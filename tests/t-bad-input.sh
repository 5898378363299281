#!/bin/bash
# Bad input gets a clear OpenSSL error and a non-zero exit, never a crash or a hang,
# and never the PIN in the output.
. "$(dirname "$0")/lib/setup.sh"
K='pkcs11:token=node1;object=good;type=private'
check "a good key to start from" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:good -out good.pem
echo data >data
load() { timeout 30 openssl pkey -in "$1" -pubout -out /dev/null; }

# PINs
printf '9999\n' >wrong.pin && chmod 600 wrong.pin
secsf_conf wrong.cnf node1 "$WORK/wrong.pin"
check_fails "wrong PIN in the configuration" "rejected the PIN" \
    env OPENSSL_CONF=wrong.cnf timeout 30 openssl pkey -in "$K" -pubout
check_fails "wrong pin-value in the URI" "CKR_PIN_INCORRECT" load "$K?pin-value=S3cr3tPin"
check "the PIN never appears in the error" sh -c "! grep -q S3cr3tPin last.err"
check_fails "unreadable pin-source" "cannot read pin file" load "$K?pin-source=file:$WORK/nonexistent.pin"
check_fails "pin-source in an unknown form" "not understood" load "$K?pin-source=ldap://x"
secsf_conf nopin.cnf node1 "$WORK/node1.pin"
sed -i '/pkcs11-pin-source/d' nopin.cnf
check_fails "private key with no PIN anywhere" "requires a PIN" \
    env OPENSSL_CONF=nopin.cnf timeout 30 openssl pkey -in "$K" -pubout
check "public key needs no PIN" env OPENSSL_CONF=nopin.cnf \
    openssl pkey -pubin -in 'pkcs11:token=node1;object=good;type=public' -pubout -out good.pub

# A token whose user PIN was never set (SoftHSM has no retry counter to lock), in a
# token store of its own so that pkcs11-tool cannot pick another token's slot.
blank_env() { env SOFTHSM2_CONF="$WORK/blank/softhsm2.conf" "$@"; }
(softhsm_init "$WORK/blank" && OPENSSL_CONF=/dev/null pkcs11-tool --module "$SOFTHSM_MODULE" \
    --init-token --label blank --so-pin "$SO_PIN" >/dev/null 2>&1)
check_fails "token whose user PIN is not initialised" "PIN is not initialised" \
    blank_env timeout 30 openssl pkey -in "pkcs11:token=blank;object=x;type=private?pin-value=1234" -pubout

# Objects and tokens
check_fails "missing object" "no private key matches" load 'pkcs11:token=node1;object=nosuchkey;type=private'
check_fails "missing token" "no token matches" load 'pkcs11:token=nosuchtoken;object=good'
check "a second key with the same label" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:good -pkeyopt secsf.allow-duplicate-label:1 -out good2.pem
check_fails "ambiguous URI is refused, not 'the first one'" "refusing to pick one" load "$K"
softhsm_token node2 5678
check "key on a second token" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:twin \
    -pkeyopt "secsf.uri:pkcs11:token=node2?pin-value=5678" -out twin2.pem
check_fails "URI matching two tokens does not log in" "add token=" \
    load 'pkcs11:object=twin;type=private'

# Malformed URIs
check_fails "bad percent-encoding" "malformed PKCS#11 URI" load 'pkcs11:object=%zz'
check_fails "unknown attribute" "RFC 7512" load 'pkcs11:colour=blue;object=good'
check_fails "a misspelled attribute is named" "('objet')" load 'pkcs11:token=node1;objet=good'
check_fails "huge value" "longer than" load "pkcs11:object=$(head -c 20000 /dev/zero | tr '\0' a)"
check_fails "empty URI matches everything: refused" "refusing to pick one" load 'pkcs11:'
check_fails "signing with a public key object" "private key" \
    openssl dgst -sha256 -sign 'pkcs11:token=node1;object=good;type=public' data

# A key file whose key is gone, and one read under a broken configuration: the
# sentence reaches the user (OpenSSL's store would otherwise say "unsupported").
check "a key to delete" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:doomed -pkeyopt secsf.id:d00d -out doomed.pem
p11tool --token-label node1 --login --pin 1234 --delete-object --type privkey --id d00d >/dev/null 2>&1
check_fails "a key file whose key was deleted" "no key or certificate matches\|no private key matches\|gone" \
    openssl dgst -sha256 -sign doomed.pem data
secsf_conf badpin.cnf node1 "$WORK/node1.pin"
sed -i "s|^pkcs11-pin-source = .*|pkcs11-pin-source = ldap://pins|" badpin.cnf
check_fails "a key file under a broken configuration names the setting" "pin-source 'ldap://pins' is not understood" \
    env OPENSSL_CONF=badpin.cnf openssl dgst -sha256 -sign good.pem data

# Configuration
secsf_conf badmod.cnf node1 "$WORK/node1.pin"
sed -i "s|^pkcs11-module-path = .*|pkcs11-module-path = $WORK/no-such-module.so|" badmod.cnf
check_fails "module that does not exist" "cannot load PKCS#11 module" \
    env OPENSSL_CONF=badmod.cnf timeout 30 openssl pkey -in "$K" -pubout
check "software keys still work with a broken secsf configuration" sh -c \
    "OPENSSL_CONF=badmod.cnf openssl genpkey -algorithm EC -pkeyopt group:P-256 -out sw.pem && OPENSSL_CONF=badmod.cnf openssl dgst -sha256 -sign sw.pem -out sw.sig data"
secsf_conf badtok.cnf nosuchtoken "$WORK/node1.pin"
check_fails "keygen on a token that is not there" "not present" \
    env OPENSSL_CONF=badtok.cnf timeout 30 openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256
cp last.err badtok.err
check "... the message names the tokens this process sees" grep -q "sees .*'node1'" badtok.err
check_fails "a token without a PIN in the configuration: the message names the setting for it" \
    "pkcs11-token-pin-sources = node2=file" \
    timeout 30 openssl pkey -in 'pkcs11:token=node2;object=twin;type=private' -pubout
