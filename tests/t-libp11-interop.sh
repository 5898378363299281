#!/bin/bash
# Interop with libp11's engine (libengine-pkcs11-openssl) and OpenSC's pkcs11-tool
# on the same token: keys made by either side work on the other, and signatures
# cross-verify. The engine runs without secsf's configuration, as a peer would.
. "$(dirname "$0")/lib/setup.sh"
echo "interop" >data
engine() {
    OPENSSL_CONF=/dev/null PKCS11_MODULE_PATH="$SOFTHSM_MODULE" openssl "$@"
}

check "secsf generates an EC key" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:bysecsf -out bysecsf.pem
check "secsf generates an RSA key" openssl genpkey -propquery provider=secsf -algorithm RSA \
    -pkeyopt bits:2048 -pkeyopt secsf.label:bysecsf-rsa -out bysecsf-rsa.pem
check "pkcs11-tool generates an EC key" p11tool --token-label node1 --login --pin 1234 \
    --keypairgen --key-type EC:prime256v1 --id 42 --label bytool
check "pkcs11-tool generates an RSA key" p11tool --token-label node1 --login --pin 1234 \
    --keypairgen --key-type rsa:2048 --id 43 --label bytool-rsa

for k in bysecsf bysecsf-rsa bytool bytool-rsa; do
    uri="pkcs11:token=node1;object=$k;type=private"
    check "$k: public key through secsf" openssl pkey -in "$uri" -pubout -out "$k.secsf.pub"
    check "$k: public key through the libp11 engine" \
        engine pkey -engine pkcs11 -inform engine -pubin -in "pkcs11:token=node1;object=$k;type=public" -pubout -out "$k.engine.pub"
    check "$k: both see the same public key" cmp "$k.secsf.pub" "$k.engine.pub"
    check "$k: secsf signs" openssl dgst -sha256 -sign "$uri" -out "$k.secsf.sig" data
    check "$k: libp11 engine signs" engine dgst -sha256 -engine pkcs11 -keyform engine \
        -sign "$uri;pin-value=1234" -out "$k.engine.sig" data
    check "$k: secsf's signature verifies with the engine's public key" \
        env OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify "$k.engine.pub" -signature "$k.secsf.sig" data
    check "$k: the engine's signature verifies with secsf's public key" \
        env OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify "$k.secsf.pub" -signature "$k.engine.sig" data
done
check "pkcs11-tool's key found by id through secsf" \
    openssl pkey -in 'pkcs11:token=node1;id=%42;type=private' -pubout -out byid.pub
check "and it is the same key" cmp byid.pub bytool.secsf.pub
