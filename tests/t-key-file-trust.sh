#!/bin/bash
# Trust boundaries of key references (issue 15 items 1, 5, 8): a key file or a URI
# never chooses code to load, a key file never chooses a file to read as a PIN,
# secret files open to others are refused, and each token's PIN comes from the
# configuration so that key files need none.
. "$(dirname "$0")/lib/setup.sh"
: "${SECSF_TOOL:?run through make check, which sets SECSF_TOOL}"
echo data >data

# key_file OUT TYPE URI: a SECSF KEY file holding any URI, written the way an
# attacker would (the body is DER: SEQUENCE { magic, key type, URI }).
key_file() {
    printf 'asn1=SEQUENCE:k\n[k]\nm=UTF8:secsf-key-uri-v1\nt=UTF8:%s\nu=UTF8:%s\n' "$2" "$3" >"$1.asn1"
    OPENSSL_CONF=/dev/null openssl asn1parse -genconf "$1.asn1" -noout -out "$1.der" >/dev/null &&
        { echo '-----BEGIN SECSF KEY-----'; base64 -w 64 "$1.der"; echo '-----END SECSF KEY-----'; } >"$1"
}

check "a key to refer to" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:k1 -pkeyopt secsf.id:0101 -out k1.pem
K='pkcs11:token=node1;object=k1;type=private'

# 1. Code. A shared object that leaves a mark when anything loads it.
cat >evil.c <<'C'
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void mark(void) {
    const char *m = getenv("EVIL_MARK");
    FILE *f = fopen(m ? m : "/tmp/secsf-evil-loaded", "w");
    if (f) fclose(f);
}
C
export EVIL_MARK="$WORK/evil-was-loaded"
check "a shared object that marks its loading" cc -shared -fPIC -o evil.so evil.c
not_loaded() { test ! -e "$EVIL_MARK"; }
key_file evil.pem EC "pkcs11:token=node1;object=k1;type=private?module-path=$WORK/evil.so"
check_fails "a key file's module-path is refused, naming the setting" "pkcs11-allowed-modules" \
    openssl dgst -sha256 -sign evil.pem -out sig data
check "... and the module was never loaded" not_loaded
check_fails "reading only the public key from that file loads nothing either" "pkcs11-allowed-modules" \
    openssl pkey -in evil.pem -pubout
check "... still not loaded" not_loaded
check_fails "a URI on the command line with module-path is refused too" "pkcs11-allowed-modules" \
    openssl pkey -in "$K?module-path=$WORK/evil.so" -pubout
check "... not loaded" not_loaded
check_fails "module-name of a module the configuration does not declare" "module-name 'evil'" \
    openssl pkey -in "$K?module-name=evil" -pubout
check "... not loaded" not_loaded
check "module-path naming the configured module is fine" \
    openssl pkey -in "$K?module-path=$SOFTHSM_MODULE" -pubout -out k1.pub
check "module-name of the configured module is fine" \
    openssl pkey -in "$K?module-name=softhsm2" -pubout -out k1b.pub
# A second path to the same token module, declared by the administrator.
ln -s "$SOFTHSM_MODULE" "$WORK/allowed-softhsm.so"
secsf_conf allowed.cnf node1 "$WORK/node1.pin" "pkcs11-allowed-modules = $WORK/allowed-softhsm.so"
key_file allowed.pem EC "$K?module-path=$WORK/allowed-softhsm.so"
check "a module listed in pkcs11-allowed-modules may be named by a key file" \
    env OPENSSL_CONF=allowed.cnf openssl dgst -sha256 -sign allowed.pem -out sig2 data
check "... and the signature verifies with the key's public half" \
    openssl dgst -sha256 -verify k1.pub -signature sig2 data
check_fails "an unlisted module stays refused under that configuration" "not a\|pkcs11-allowed-modules" \
    env OPENSSL_CONF=allowed.cnf openssl pkey -in evil.pem -pubout
check "... not loaded" not_loaded
secsf_conf relmod.cnf node1 "$WORK/node1.pin" "pkcs11-allowed-modules = evil.so"
check_fails "pkcs11-allowed-modules takes absolute paths only" "not an absolute path" \
    env OPENSSL_CONF=relmod.cnf openssl pkey -in "$K" -pubout

# 1. Files. The token's right PIN in a file the key file names: honouring it would
# work, so only the refusal makes this pass.
printf '1234\n' >stolen.pin && chmod 600 stolen.pin
secsf_conf nopin.cnf node1 "$WORK/node1.pin"
sed -i '/pkcs11-pin-source/d' nopin.cnf
key_file pinsrc.pem EC "$K?pin-source=file:$WORK/stolen.pin"
check_fails "a key file's pin-source is not read" "may only name a pin-source the configuration declares" \
    env OPENSSL_CONF=nopin.cnf openssl dgst -sha256 -sign pinsrc.pem -out sig data
key_file shadow.pem EC "$K?pin-source=file:/etc/shadow"
check_fails "pin-source=file:/etc/shadow in a key file is refused" "configuration declares" \
    openssl dgst -sha256 -sign shadow.pem -out sig data
key_file pinval.pem EC "$K?pin-value=1234"
check_fails "a key file may not carry pin-value" "may not carry 'pin-value'" \
    env OPENSSL_CONF=nopin.cnf openssl dgst -sha256 -sign pinval.pem -out sig data
key_file declared.pem EC "$K?pin-source=file:$WORK/node1.pin"
check "a key file naming the source the configuration declares works" \
    openssl dgst -sha256 -sign declared.pem -out sig3 data
check "... a valid signature" openssl dgst -sha256 -verify k1.pub -signature sig3 data
check "a URI the application passes itself may still carry pin-source" \
    env OPENSSL_CONF=nopin.cnf openssl dgst -sha256 -sign "$K?pin-source=file:$WORK/stolen.pin" -out sig4 data

# 5. Secret files open to others.
printf '1234\n' >open.pin && chmod 644 open.pin
secsf_conf open.cnf node1 "$WORK/open.pin"
check_fails "a PIN file readable by others is refused" "chmod 600" \
    env OPENSSL_CONF=open.cnf openssl dgst -sha256 -sign k1.pem -out sig data
chmod 640 open.pin
check_fails "... and one readable by the group" "mode 0640" \
    env OPENSSL_CONF=open.cnf openssl dgst -sha256 -sign k1.pem -out sig data
check_fails "secsf check reports it as a PROBLEM" "PROBLEM" \
    sh -c "'$SECSF_TOOL' --config open.cnf check >&2"
mkfifo fifo.pin
secsf_conf fifo.cnf node1 "$WORK/fifo.pin"
check_fails "a FIFO as PIN file fails at once instead of hanging" "not a regular file" \
    env OPENSSL_CONF=fifo.cnf timeout 20 openssl dgst -sha256 -sign k1.pem -out sig data

# 8. A second token's PIN from the configuration: its key file carries none.
softhsm_token node2 5678
printf '5678\n' >node2.pin && chmod 600 node2.pin
check "a key on a second token" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:n2 -pkeyopt "secsf.uri:pkcs11:token=node2?pin-value=5678" -out n2.pem
check "... its key file names no PIN" sh -c "! openssl asn1parse -in n2.pem | grep -q pin"
check_fails "without a PIN source for node2 it cannot be used" "requires a PIN" \
    openssl dgst -sha256 -sign n2.pem -out sig data
secsf_conf two.cnf node1 "$WORK/node1.pin" "pkcs11-token-pin-sources = node2=file:$WORK/node2.pin"
check "pkcs11-token-pin-sources gives node2's PIN" \
    env OPENSSL_CONF=two.cnf openssl dgst -sha256 -sign n2.pem -out sig5 data
check "... node1's keys keep working beside it" \
    env OPENSSL_CONF=two.cnf openssl dgst -sha256 -sign k1.pem -out sig6 data
check "... both signatures verify" sh -c "openssl pkey -in n2.pem -pubout -out n2.pub 2>/dev/null || OPENSSL_CONF=two.cnf openssl pkey -in n2.pem -pubout -out n2.pub; openssl dgst -sha256 -verify n2.pub -signature sig5 data && openssl dgst -sha256 -verify k1.pub -signature sig6 data"
printf '5678\n' >node2-open.pin && chmod 644 node2-open.pin
secsf_conf twoopen.cnf node1 "$WORK/node1.pin" "pkcs11-token-pin-sources = node2=file:$WORK/node2-open.pin"
check_fails "secsf check reports a per-token PIN file open to others" "pkcs11-token-pin-sources (node2).*open to group" \
    sh -c "'$SECSF_TOOL' --config twoopen.cnf check >&2"
secsf_conf twobad.cnf node1 "$WORK/node1.pin" "pkcs11-token-pin-sources = node2"
check_fails "a malformed pkcs11-token-pin-sources names the form" "token-label=pin-source" \
    env OPENSSL_CONF=twobad.cnf openssl dgst -sha256 -sign k1.pem -out sig data

# 2. A public half is the private key's own. Whoever can write the token replaces
# the key's public object by another key's, under the same id and label.
check "a key pair whose public object will be swapped" openssl genpkey -propquery provider=secsf \
    -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.label:pair -pkeyopt secsf.id:0202 -out pair.pem
check "its genuine public half" openssl pkey -in pair.pem -pubout -out pair.pub
OPENSSL_CONF=/dev/null openssl genpkey -algorithm EC -pkeyopt group:P-256 -out other.key
OPENSSL_CONF=/dev/null openssl pkey -in other.key -pubout -outform DER -out other.der
check "the attacker removes the public object" \
    p11tool --token-label node1 --login --pin 1234 --delete-object --type pubkey --id 0202
check "... and writes another key's point under the same id and label" \
    p11tool --token-label node1 --login --pin 1234 --write-object other.der --type pubkey --id 0202 --label pair
check_fails "the foreign public half is refused with a sentence" "not the public half" \
    openssl pkey -in pair.pem -pubout -out swapped.pub
check "... nothing was exported as the key's public half" sh -c "! test -s swapped.pub"
check_fails "a CSR with that key is refused as well" "not the public half" \
    openssl req -new -subj /CN=pair -key pair.pem -out pair.csr
check "the genuine public object back: the key works again" sh -c \
    "OPENSSL_CONF=/dev/null openssl pkey -pubin -in pair.pub -outform DER -out pair.der &&
     OPENSSL_CONF=/dev/null pkcs11-tool --module '$SOFTHSM_MODULE' --token-label node1 --login --pin 1234 --delete-object --type pubkey --id 0202 >/dev/null 2>&1 &&
     OPENSSL_CONF=/dev/null pkcs11-tool --module '$SOFTHSM_MODULE' --token-label node1 --login --pin 1234 --write-object pair.der --type pubkey --id 0202 --label pair >/dev/null 2>&1 &&
     openssl pkey -in pair.pem -pubout | cmp - pair.pub"

# 4. Key generation names what it makes.
gen_uri() { openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt "secsf.uri:$1" "${@:2}"; }
check "object= and id= in secsf.uri name the new key" gen_uri 'pkcs11:token=node1;object=named;id=%0a%0b' -out named.pem
check "... it is found by that label" openssl pkey -in 'pkcs11:token=node1;object=named;type=private' -pubout -out named.pub
check "... and by that id" sh -c "openssl pkey -in 'pkcs11:token=node1;id=%0a%0b;type=private' -pubout | cmp - named.pub"
check "... its key file says so" sh -c "openssl asn1parse -in named.pem | grep -q 'id=%0A%0B;object=named'"
check_fails "a second private key under a label in use is refused, naming the first" "object=named" \
    gen_uri 'pkcs11:token=node1;object=named' -out dup.pem
check_fails "... the same through secsf.label" "secsf.allow-duplicate-label" \
    openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.label:named -out dup.pem
check_fails "a second private key under an id in use is refused" "already holds a private key with this id" \
    openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.id:0a0b -out dup.pem
check "secsf.allow-duplicate-label:1 makes it anyway" \
    openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.label:named \
    -pkeyopt secsf.allow-duplicate-label:1 -out dup.pem
check_fails "secsf.label and object= that disagree are refused" "differently" \
    gen_uri 'pkcs11:token=node1;object=one' -pkeyopt secsf.label:two -out x.pem
check_fails "secsf.uri with type=public is refused" "type=private" \
    gen_uri 'pkcs11:token=node1;object=pubonly;type=public' -out x.pem
check "a key file whose id holds a NUL byte is read as before" sh -c \
    "openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.label:nul -pkeyopt secsf.id:00ff -out nul.pem && openssl dgst -sha256 -sign nul.pem -out nul.sig data"
