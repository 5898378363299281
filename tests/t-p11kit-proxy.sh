#!/bin/bash
# p11-kit's proxy module (issue 15 item 7): one module that gathers every module
# p11-kit registers (SoftHSM among them on Debian), as the README suggests for
# hosts with several tokens. secsf loads it as a plain module.
. "$(dirname "$0")/lib/setup.sh"
PROXY=$(pkg-config --variable=proxy_module p11-kit-1 2>/dev/null)
[ -n "$PROXY" ] || PROXY=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so
if [ ! -e "$PROXY" ] || [ ! -e /usr/share/p11-kit/modules/softhsm2.module ]; then
    echo "ok 1 - p11-kit proxy # SKIP no proxy module or no registered SoftHSM"
    TAP_N=1
    exit 0
fi
echo data >data
secsf_conf proxy.cnf node1 "$WORK/node1.pin"
sed -i "s|^pkcs11-module-path = .*|pkcs11-module-path = $PROXY|" proxy.cnf
export OPENSSL_CONF="$WORK/proxy.cnf"
check "a key generated through the proxy" openssl genpkey -propquery provider=secsf -algorithm EC \
    -pkeyopt group:P-256 -pkeyopt secsf.label:via-proxy -out proxy.pem
check "signing through the proxy" openssl dgst -sha256 -sign proxy.pem -out proxy.sig data
check "the key is SoftHSM's: the same key without the proxy gives the public half" \
    env OPENSSL_CONF="$WORK/openssl.cnf" openssl pkey -in 'pkcs11:token=node1;object=via-proxy;type=private' -pubout -out proxy.pub
check "... and the signature verifies with it" \
    env OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify proxy.pub -signature proxy.sig data
check "secsf check accepts the proxy module" sh -c "'${SECSF_TOOL:?}' check | grep -q 'the PIN is accepted'"
