#!/bin/bash
# The secsf command against a token (SoftHSM), a TPM (swtpm) and a PIV card (the test
# card in vpcd): SEs, keys, secure storage with access control, the function
# registry, and `secsf check` on a good and on broken configurations.
. "$(dirname "$0")/lib/setup.sh"
. "$TESTS_DIR/lib/swtpm.sh"
. "$TESTS_DIR/lib/pcsc.sh"
: "${SECSF_TOOL:?run through make check, which sets SECSF_TOOL}"
secsf() { "$SECSF_TOOL" "$@"; }
TPM="$WORK/tpm"
CARD="$WORK/card"
swtpm_start "$TPM" || { not_ok "swtpm starts"; exit 0; }
at_exit "swtpm_stop '$TPM'"
card_up "$CARD" || { not_ok "pcscd and the test card start"; exit 0; }
cp openssl.cnf token-only.cnf
cat >>openssl.cnf <<CONF
tpm2-tcti = $(swtpm_tcti "$TPM")
pcsc-reader = Virtual PCD 00 00
pcsc-pin-source = file:$WORK/card.pin
pcsc-management-key-source = file:$WORK/card.mgmt
CONF
py() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

check "--help describes the tool" sh -c "'$SECSF_TOOL' --help | grep -q 'usage: secsf'"
for cmd in se key storage functions check; do
    check "$cmd --help" sh -c "'$SECSF_TOOL' $cmd --help | grep -q 'usage: secsf'"
done
"$SECSF_TOOL" frobnicate >/dev/null 2>&1
check "an unknown command is a usage error (exit 2)" test $? -eq 2

check "se list: the three SEs" sh -c "'$SECSF_TOOL' se list | grep -c 'security level' | grep -qx 3"
check "se list: the token is logged in" sh -c "'$SECSF_TOOL' se list | grep -A2 '^pkcs11' | grep -q 'logged in'"
check "se list --json" sh -c "'$SECSF_TOOL' --json se list | /usr/bin/python3 -c \"import json,sys; d=json.load(sys.stdin); assert [s['plugin'] for s in d]==['pkcs11','tpm2','pcsc-piv'], d; assert all(s['state'] in ('logged in','present') for s in d), d\""

# Keys: by SE name, by security level (the card is level 3), by place.
uri=$(secsf key gen --se pkcs11 --type ec --curve P-384 --label cli-ec)
check "key gen prints a pkcs11 URI" sh -c "echo '$uri' | grep -q '^pkcs11:.*object=cli-ec'"
check "key gen --level 3 goes to the card" sh -c "'$SECSF_TOOL' key gen --level 3 --where piv:slot=9c | grep -q '^piv:slot=9c'"
check "key gen --where a TPM handle" sh -c "'$SECSF_TOOL' key gen --where tpm2:handle=0x81000020 --type rsa --bits 2048 | grep -q '^tpm2:handle=0x81000020'"
echo "signed with a key made by secsf" >data
check "the key signs through the provider" openssl dgst -sha384 -sign "$uri" -out sig data
check "key show gives its public key" sh -c "'$SECSF_TOOL' key show '$uri' | sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' >shown.pub && test -s shown.pub"
check "  which verifies that signature under default" env OPENSSL_CONF=/dev/null openssl dgst -sha384 -verify shown.pub -signature sig data
check "key list --json has all three keys" sh -c "'$SECSF_TOOL' --json key list | /usr/bin/python3 -c \"import json,sys; d=json.load(sys.stdin); ses=sorted(k['se'] for k in d); assert ses==['card','pkcs11','tpm2'], ses\""
check "key show --json" sh -c "'$SECSF_TOOL' --json key show piv:slot=9c | /usr/bin/python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['type']=='EC P-256' and d['certificate'], d\""
check "an error under --json is one JSON object on stdout, exit 1" sh -c "'$SECSF_TOOL' --json key show 'pkcs11:token=node1;object=nosuch;type=private' >err.json; test \$? -eq 1 && /usr/bin/python3 -c \"import json; d=json.load(open('err.json')); assert d['kind']=='failed' and 'no private key matches' in d['error'] and d['command']=='key', d\""
check_fails "key delete without --yes and no terminal: refused" "add --yes" secsf key delete "$uri" </dev/null
check "key delete --yes" secsf key delete --yes "$uri"
check "  and it is gone" sh -c "! '$SECSF_TOOL' key list | grep -q cli-ec"
check "key delete a TPM handle" secsf key delete --yes tpm2:handle=0x81000020
check_fails "a malformed URI: the parser's sentence" "does not define" secsf key show 'pkcs11:token=node1;bogus=1'

# Secure storage, owner-checked.
check "storage put" secsf storage put --owner CAE-meter credential --value s3cr3t
check "storage get by the owner" sh -c "'$SECSF_TOOL' --as CAE-meter storage get --owner CAE-meter credential | grep -qx s3cr3t"
check "storage list" sh -c "'$SECSF_TOOL' storage list --owner CAE-meter | grep -qx credential"
"$SECSF_TOOL" --as CAE-other storage get --owner CAE-meter credential >out 2>err
rc=$?
check "another entity is refused (exit 3)" test $rc -eq 3
check "  and the refusal names the rule" grep -q "refused by default: owner-only" err
check "  and gets nothing" test ! -s out
cat >policy.json <<'P'
{"rules": [
  {"id": "ops-may-read", "entity": "CAE-ops", "function": "storage.get", "object": "*", "effect": "allow"},
  {"id": "nobody-deletes-credentials", "entity": "*", "function": "storage.delete", "object": "*/credential", "effect": "deny"}
]}
P
cp openssl.cnf policy.cnf
echo "access-policy = $WORK/policy.json" >>policy.cnf
check "a policy rule allows the operator to read" sh -c "OPENSSL_CONF=policy.cnf '$SECSF_TOOL' --as CAE-ops storage get --owner CAE-meter credential | grep -qx s3cr3t"
check_fails "a deny rule stops even the owner, by name" "nobody-deletes-credentials" \
    env OPENSSL_CONF=policy.cnf "$SECSF_TOOL" --as CAE-meter storage delete --owner CAE-meter credential
# A signed policy: accepted when the signature verifies, refused when altered.
OPENSSL_CONF=/dev/null openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out signer.key 2>/dev/null
OPENSSL_CONF=/dev/null openssl pkey -in signer.key -pubout -out signer.pub
OPENSSL_CONF=/dev/null /usr/bin/python3 "$TESTS_DIR/jose_peer.py" sign signer.key ES256 "$(cat policy.json)" >policy.jws
cp policy.cnf signed.cnf
sed -i "s|^access-policy = .*|access-policy = $WORK/policy.jws|" signed.cnf
echo "access-policy-signer = $WORK/signer.pub" >>signed.cnf
check "a signed policy is used" sh -c "OPENSSL_CONF=signed.cnf '$SECSF_TOOL' --as CAE-ops storage get --owner CAE-meter credential | grep -qx s3cr3t"
sed 's/\(.\{40\}\)./\1A/' policy.jws >tampered.jws
sed "s|policy.jws|tampered.jws|" signed.cnf >tampered.cnf
check_fails "an altered signed policy is refused" "not signed by the configured signer" \
    env OPENSSL_CONF=tampered.cnf "$SECSF_TOOL" storage list --owner CAE-meter
# An entity's id is a name, never a wildcard (issue 16 item 5): with a rule that gives
# every entity its own objects, no name reaches CAE-meter's, nor a prefix another owner's.
cat >own.json <<'P'
{"rules": [{"id": "own-objects", "entity": "*", "function": "storage.*", "object": "${entity}/*", "effect": "allow"}]}
P
cp openssl.cnf own.cnf
echo "access-policy = $WORK/own.json" >>own.cnf
check "\${entity}: the owner reads its own object" sh -c "OPENSSL_CONF=own.cnf '$SECSF_TOOL' --as CAE-meter storage get --owner CAE-meter credential | grep -qx s3cr3t"
for who in 'CAE-*' '*' 'CAE-?eter' '[C]AE-meter' 'CAE-mete\r'; do
    OPENSSL_CONF=own.cnf "$SECSF_TOOL" --as "$who" storage get --owner CAE-meter credential >out 2>err
    rc=$?
    check "\${entity}: an entity named '$who' does not read CAE-meter's object (exit 3)" sh -c "test $rc -eq 3 && test ! -s out"
done
OPENSSL_CONF=own.cnf "$SECSF_TOOL" --as '*' storage delete --owner CAE-meter credential >/dev/null 2>&1
check "\${entity}: an entity named '*' does not delete it" sh -c "'$SECSF_TOOL' storage get --owner CAE-meter credential | grep -qx s3cr3t"
check "an owner id with a '/' stores" secsf storage put --owner CAE-m/x secret --value theirs
check_fails "\${entity}: CAE-m does not read the objects of CAE-m/x" "refused" \
    env OPENSSL_CONF=own.cnf "$SECSF_TOOL" --as CAE-m storage get --owner CAE-m/x secret
secsf storage delete --owner CAE-m/x secret >/dev/null 2>&1
# Names are printable: a newline would make one stored object two in a listing.
check_fails "a stored name with a newline is refused" "control character" secsf storage put --owner CAE-meter $'one\ntwo' --value x
check "  and nothing was stored" sh -c "! '$SECSF_TOOL' storage list --owner CAE-meter | grep -qx two"
check_fails "a stored name with a '/' is refused" "may not contain '/'" secsf storage put --owner CAE-meter a/b --value x
check_fails "an owner id with a control character is refused" "control character" secsf storage put --owner $'CAE-\x1b[2J' n --value x
check_fails "an entity id with a newline is refused" "control character" secsf --as $'CAE-meter\nCAE-ops' storage get --owner CAE-meter credential
# A policy is a regular file of bounded size (item 6): not a device, not a FIFO.
for special in /dev/zero fifo; do
    [ "$special" = fifo ] && { mkfifo policy.fifo; special=$WORK/policy.fifo; }
    cp openssl.cnf special.cnf
    echo "access-policy = $special" >>special.cnf
    check_fails "access-policy = ${special##*/}: refused at once, not read for ever" "regular file" \
        timeout 20 env OPENSSL_CONF=special.cnf "$SECSF_TOOL" storage list --owner CAE-meter
done
head -c 1100000 /dev/zero | tr '\0' ' ' >huge.json
sed "s|^access-policy = .*|access-policy = $WORK/huge.json|" special.cnf >huge.cnf
check_fails "a policy file over 1 MiB is refused" "at most 1048576 bytes" env OPENSSL_CONF=huge.cnf "$SECSF_TOOL" storage list --owner CAE-meter
check "storage delete by the owner" secsf storage delete --owner CAE-meter credential
check_fails "  and it is gone" "no stored object" secsf storage get --owner CAE-meter credential

# The sensitive-function registry, with a level requirement.
check "functions: every function is served" sh -c "'$SECSF_TOOL' --json functions | /usr/bin/python3 -c \"import json,sys; d=json.load(sys.stdin); assert all(f['servedBy'] for f in d), d\""
cp openssl.cnf levels.cnf
echo "function-levels = signature=3" >>levels.cnf
check "functions: signature at level 3 only on the card" sh -c "OPENSSL_CONF=levels.cnf '$SECSF_TOOL' --json functions | /usr/bin/python3 -c \"import json,sys; d={f['id']:f for f in json.load(sys.stdin)}; assert d['signature']['servedBy']=='card', d['signature']\""

# secsf check: a good configuration, then each way of breaking it.
check "check: a good configuration passes" sh -c "'$SECSF_TOOL' check | tail -1 | grep -qx '0 problems found'"
broken() {  # NAME SED-EXPRESSION
    sed "$2" token-only.cnf >"$1.cnf"
}
broken badmodule "s|^pkcs11-module-path = .*|pkcs11-module-path = /nonexistent/libnothing.so|"
broken nosuchtoken "s|^pkcs11-token = .*|pkcs11-token = nosuch|"
printf '9999\n' >wrong.pin && chmod 600 wrong.pin
broken wrongpin "s|^pkcs11-pin-source = .*|pkcs11-pin-source = file:$WORK/wrong.pin|"
mkdir -p notafile.pin
broken unreadable "s|^pkcs11-pin-source = .*|pkcs11-pin-source = file:$WORK/notafile.pin|"
broken typo "s|^pkcs11-token = |pkcs11-tokn = |"
for case in "badmodule:pkcs11-module-path" "nosuchtoken:set pkcs11-token to one of them" "wrongpin:put the token's user PIN" \
    "unreadable:readable by this service's user" "typo:fix the spelling"; do
    name=${case%%:*} want=${case#*:}
    OPENSSL_CONF=$name.cnf "$SECSF_TOOL" check >"$name.out" 2>&1
    rc=$?
    if [ $rc -eq 1 ] && grep -q PROBLEM "$name.out" && grep -q "fix:.*$want" "$name.out"; then ok "check finds $name and says how to fix it"
    else not_ok "check on $name (exit $rc)"; sed 's/^/# /' "$name.out" | tail -6; fi
done
OPENSSL_CONF=/dev/null "$SECSF_TOOL" check >none.out 2>&1
check "check without a secsf section says where to add it" sh -c "test $? -eq 1 && grep -q 'loads no secsf provider' none.out"
check "check --json" sh -c "OPENSSL_CONF=wrongpin.cnf '$SECSF_TOOL' --json check | /usr/bin/python3 -c \"import json,sys; d=json.load(sys.stdin); assert any(not f['ok'] and f['fix'] for f in d)\""

# The demo, as the README's first command ends with it.
check "secsf demo: every step as stated" sh -c \
    "'$SECSF_TOOL' demo --module '$SECSF_MODULE' --pkcs11-module '$SOFTHSM_MODULE' --dir '$WORK/demo' >demo.out 2>&1; rc=\$?; tail -1 demo.out | grep -q '0 unexpected' && test \$rc -eq 0"
check "... its PIN file, token and state files are readable by their owner only" sh -c \
    "test -s '$WORK/demo/demo.pin' && test -z \"\$(find '$WORK/demo' -type f -perm /077)\""
check_fails "secsf demo without the provider says how to give it" "--module" \
    secsf demo --module /nonexistent/secsf.so --pkcs11-module "$SOFTHSM_MODULE" --dir "$WORK/demo2"
