#!/bin/bash
# Keys generated in the token through `openssl genpkey`, used by file and by URI;
# every signature is verified with the public key under the default provider only.
. "$(dirname "$0")/lib/setup.sh"
echo "secsf signs this" >data

verify_default() {  # pubkey sig digest [sigopts...]
    local pub=$1 sig=$2 md=$3; shift 3
    OPENSSL_CONF=/dev/null openssl dgst "-$md" -verify "$pub" -signature "$sig" "$@" data
}

for spec in "EC group:P-256 ec256" "EC group:P-384 ec384" "EC group:P-521 ec521" \
            "RSA bits:2048 rsa2048" "RSA bits:4096 rsa4096"; do
    set -- $spec
    alg=$1 opt=$2 name=$3
    check "genpkey $alg $opt in the token" \
        openssl genpkey -propquery provider=secsf -algorithm "$alg" -pkeyopt "$opt" \
        -pkeyopt "secsf.label:$name" -out "$name.pem"
    check "$name.pem holds a URI, no key material" grep -q "BEGIN SECSF KEY" "$name.pem"
    check "$name public key exported by URI" \
        openssl pkey -in "pkcs11:token=node1;object=$name;type=private" -pubout -out "$name.pub"
    check "$name public key from the key file matches" \
        sh -c "openssl pkey -in $name.pem -pubout | cmp - $name.pub"
done

for md in sha256 sha384 sha512; do
    for k in ec256 ec384 ec521; do
        check "ECDSA $md with $k (file) signs" openssl dgst "-$md" -sign "$k.pem" -out "$k.$md.sig" data
        check "ECDSA $md with $k verifies under default" verify_default "$k.pub" "$k.$md.sig" "$md"
    done
done

for k in rsa2048 rsa4096; do
    check "RSA PKCS#1 v1.5 sha256 with $k signs" openssl dgst -sha256 -sign "$k.pem" -out "$k.p1.sig" data
    check "RSA PKCS#1 v1.5 with $k verifies under default" verify_default "$k.pub" "$k.p1.sig" sha256
    for salt in digest max; do
        check "RSA-PSS sha256 salt=$salt with $k signs" openssl dgst -sha256 -sign "$k.pem" \
            -sigopt rsa_padding_mode:pss -sigopt "rsa_pss_saltlen:$salt" -out "$k.pss.$salt.sig" data
        check "RSA-PSS salt=$salt with $k verifies under default" verify_default "$k.pub" \
            "$k.pss.$salt.sig" sha256 -sigopt rsa_padding_mode:pss -sigopt "rsa_pss_saltlen:$salt"
    done
done

# Ed25519, which SoftHSM offers (CKM_EDDSA): one-shot signatures over the message.
check "genpkey ED25519 in the token" openssl genpkey -propquery provider=secsf -algorithm ED25519 \
    -pkeyopt secsf.label:ed25519 -out ed25519.pem
check "ed25519 public key exported" openssl pkey -in ed25519.pem -pubout -out ed25519.pub
check "Ed25519 signs (pkeyutl -rawin)" openssl pkeyutl -sign -rawin -inkey ed25519.pem -in data -out ed.sig
check "Ed25519 signature verifies under default" env OPENSSL_CONF=/dev/null openssl pkeyutl \
    -verify -rawin -pubin -inkey ed25519.pub -in data -sigfile ed.sig
check "Ed25519 refuses a digest" sh -c "! openssl dgst -sha256 -sign ed25519.pem data"

# Signing a precomputed digest (EVP_PKEY_sign) by URI.
openssl dgst -sha256 -binary data >data.sha256
check "pkeyutl -sign by URI (ECDSA over a digest)" \
    openssl pkeyutl -sign -inkey "pkcs11:token=node1;object=ec256;type=private" -in data.sha256 -out ec.raw.sig
check "pkeyutl signature verifies under default" \
    env OPENSSL_CONF=/dev/null openssl pkeyutl -verify -pubin -inkey ec256.pub -in data.sha256 -sigfile ec.raw.sig
check "pkeyutl -sign RSA with digest:sha256" \
    openssl pkeyutl -sign -inkey rsa2048.pem -pkeyopt digest:sha256 -in data.sha256 -out rsa.raw.sig
check "pkeyutl RSA signature verifies under default" verify_default rsa2048.pub rsa.raw.sig sha256

# A key made with secsf's id and label can be found by id alone.
check "genpkey with explicit id" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:withid -pkeyopt secsf.id:c0ffee01 -out withid.pem
check "key found by id=%c0%ff%ee%01" \
    openssl pkey -in "pkcs11:token=node1;id=%c0%ff%ee%01;type=private" -pubout -out withid.pub

# The private key stays in the token: every private key is sensitive and was
# never extractable.
sealed() {
    p11tool --token-label node1 --login --pin 1234 --list-objects --type privkey >objects.txt 2>&1 || return 1
    local total sealed
    total=$(grep -c '^Private Key Object' objects.txt)
    sealed=$(grep -c 'Access:.*sensitive.*never extractable' objects.txt)
    [ "$total" -gt 0 ] && [ "$total" -eq "$sealed" ]
}
check "private keys are sensitive and never extractable" sealed
