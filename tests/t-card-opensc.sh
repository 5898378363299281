#!/bin/bash
# The test PIV card checked by an implementation nobody here wrote: OpenSC's PIV
# driver lists the card, piv-tool authenticates with the management key and
# generates a key on it, and OpenSC's PKCS#11 module signs with that key; the
# signature verifies under the default provider.
. "$(dirname "$0")/lib/setup.sh"
. "$TESTS_DIR/lib/pcsc.sh"
CARD="$WORK/card"
pcsc_start "$CARD" || { not_ok "pcscd with the virtual reader starts"; exit 0; }
at_exit "pcsc_stop '$CARD'"
card_insert "$CARD" || { not_ok "the test card is seen in the reader"; exit 0; }
# OpenSC must not load secsf (one user of the card per process is what we test).
export OPENSSL_CONF=/dev/null
OPENSC_P11=${OPENSC_PKCS11:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}
[ -f "$OPENSC_P11" ] || OPENSC_P11=$(dpkg -L opensc-pkcs11 2>/dev/null | grep '/opensc-pkcs11.so$' | head -1)
p11() { pkcs11-tool --module "$OPENSC_P11" "$@"; }

check "opensc-tool lists the virtual reader with a card" sh -c "opensc-tool -l | grep -q 'Virtual PCD 00 00'"
check "OpenSC's PIV driver takes the card" sh -c "opensc-tool -r 0 -n | grep -q 'Personal Identity Verification Card'"
check "OpenSC's PKCS#11 module shows a PIV token" sh -c "pkcs11-tool --module '$OPENSC_P11' -L | grep -q 'PIV_II'"

# The default 3DES management key of PIV test cards, as piv-tool reads it.
printf '010203040506070801020304050607080102030405060708' >mgmt.key
chmod 600 mgmt.key
export PIV_EXT_AUTH_KEY="$WORK/mgmt.key"
# piv-tool 0.23 on OpenSSL 3 cannot write the public key it receives (-o), so the
# key is taken from its own APDU trace: the GENERATE response (7F49 86 point).
check "piv-tool: mutual authentication with 9B and EC P-256 generation in 9A" \
    sh -c "piv-tool -v -v -v -A M:9B:03 -G 9A:11 >gen.log 2>&1; grep -q 'CLA:0, INS:47, P1:0, P2:9A' gen.log"
hex=$(sed -n '/INS:47, P1:0, P2:9A/,$p' gen.log | awk '/Incoming APDU/{f=1;next}
    f && /^[0-9A-F][0-9A-F] /{for(i=1;i<=16&&i<=NF;i++) if($i ~ /^[0-9A-F][0-9A-F]$/) printf "%s",$i; next}
    f && seen {exit} f {seen=1}')
point=${hex:10:130}
echo "3059301306072a8648ce3d020106082a8648ce3d030107034200$point" | perl -ne 'chomp; print pack("H*", $_)' >pub9a.der
check "the card answered GENERATE with a P-256 public key" openssl pkey -pubin -inform DER -in pub9a.der -out pub9a.pem
export PIV_9A_KEY="$WORK/pub9a.der"
echo "signed by a card that OpenSC drives" >data
openssl dgst -sha256 -binary data >data.sha256
check "OpenSC signs with the card key (PIN 123456)" \
    p11 --login --pin 123456 --sign --id 01 -m ECDSA --input-file data.sha256 --output-file sig --signature-format openssl
check "  the signature verifies under the default provider" openssl dgst -sha256 -verify pub9a.pem -signature sig data
echo "changed" >>data
check "  and not over other data" sh -c "! openssl dgst -sha256 -verify pub9a.pem -signature sig data"
check_fails "OpenSC: a wrong PIN is refused" "CKR_PIN_INCORRECT" p11 --login --pin 999999 --sign --id 01 -m ECDSA --input-file data.sha256
check "OpenSC: the right PIN still works (retry counter reset)" \
    p11 --login --pin 123456 --sign --id 01 -m ECDSA --input-file data.sha256 --output-file sig2
