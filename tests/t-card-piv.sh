#!/bin/bash
# The PIV card plug-in against the test card in vsmartcard's reader, through the
# real openssl CLI: keys generated in the card's slots, signatures, ECDH and RSA
# decryption cross-checked with the default provider, OpenSC reading what secsf
# wrote, TLS 1.3 with the server key on the card (surviving the card being pulled
# and put back), the PIN rules, a card and a reader that vanish, and a card that
# answers nonsense.
. "$(dirname "$0")/lib/setup.sh"
. "$TESTS_DIR/lib/pcsc.sh"
CARD="$WORK/card"
pcsc_start "$CARD" || { not_ok "pcscd with the virtual reader starts"; exit 0; }
at_exit "pcsc_stop '$CARD'"
card_insert "$CARD" --trace "$CARD/trace" || { not_ok "the test card is seen in the reader"; exit 0; }
printf '123456\n' >card.pin
printf '010203040506070801020304050607080102030405060708\n' >mgmt.key
chmod 600 card.pin mgmt.key
cat >>openssl.cnf <<CONF
pcsc-reader = Virtual PCD*00
pcsc-pin-source = file:$WORK/card.pin
pcsc-management-key-source = file:$WORK/mgmt.key
CONF
soft() { OPENSSL_CONF=/dev/null openssl "$@"; }
echo "signed on a PIV card" >data

gen() {  # ALG OPT SLOT
    openssl genpkey -propquery provider=secsf -algorithm "$1" -pkeyopt "$2" -pkeyopt "secsf.uri:piv:slot=$3" \
        -pkeyopt "secsf.label:secsf test $3" -out "k$3.pem"
}
check_fails "an empty slot says how to fill it" "holds no certificate" openssl pkey -in 'piv:slot=9a' -pubout
check "EC P-256 key generated in slot 9a" gen EC group:P-256 9a
check "EC P-384 key generated in slot 9c" gen EC group:P-384 9c
check "RSA 2048 key generated in slot 9d" gen RSA bits:2048 9d
check "EC P-256 key generated in slot 9e (no PIN)" gen EC group:P-256 9e
check_fails "a slot with a key is not overwritten" "does not overwrite" \
    openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.uri:piv:slot=9a -out x.pem
check_fails "Ed25519 is refused with the reason" "no Ed25519" \
    openssl genpkey -propquery provider=secsf -algorithm ED25519 -pkeyopt secsf.uri:piv:slot=9a -out x.pem
for s in 9a 9c 9d 9e; do
    check "$s: public key through secsf" openssl pkey -in "k$s.pem" -pubout -out "k$s.pub"
done
check "the key by URI is the generated one" sh -c "openssl pkey -in 'piv:slot=9c' -pubout | cmp - k9c.pub"
check "the slot's certificate carries the key, signed by the card" sh -c \
    "openssl storeutl -certs 'piv:slot=9a' | openssl x509 -noout -pubkey | cmp - k9a.pub"

# Signatures verify under the default provider only.
check "ECDSA P-256 / SHA-256 on the card" openssl dgst -sha256 -sign k9a.pem -out 9a.sig data
check "  verifies under default" soft dgst -sha256 -verify k9a.pub -signature 9a.sig data
check "ECDSA P-384 / SHA-384 on the card (9c, PIN each time)" openssl dgst -sha384 -sign k9c.pem -out 9c.sig data
check "  verifies under default" soft dgst -sha384 -verify k9c.pub -signature 9c.sig data
check "ECDSA P-384 / SHA-256 (a shorter hash)" openssl dgst -sha256 -sign k9c.pem -out 9c.256.sig data
check "  verifies under default" soft dgst -sha256 -verify k9c.pub -signature 9c.256.sig data
check "RSA PKCS#1 v1.5 on the card" openssl dgst -sha256 -sign k9d.pem -out 9d.sig data
check "  verifies under default" soft dgst -sha256 -verify k9d.pub -signature 9d.sig data
pss=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest)
check "RSA-PSS on the card (padding on the host)" openssl dgst -sha256 -sign k9d.pem "${pss[@]}" -out 9d.pss data
check "  verifies under default" soft dgst -sha256 -verify k9d.pub "${pss[@]}" -signature 9d.pss data
check "ECDSA with the card-authentication key 9e" openssl dgst -sha256 -sign k9e.pem -out 9e.sig data
check "  verifies under default" soft dgst -sha256 -verify k9e.pub -signature 9e.sig data
echo "altered" >>data
check "  and no signature verifies over altered data" sh -c \
    "! OPENSSL_CONF=/dev/null openssl dgst -sha256 -verify k9a.pub -signature 9a.sig data"

# ECDH: both ends compute the same secret.
soft genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out peer.key
soft pkey -in peer.key -pubout -out peer.pub
check "ECDH on the card equals the peer's" sh -c \
    "openssl pkeyutl -derive -inkey k9a.pem -peerkey peer.pub >z1 && OPENSSL_CONF=/dev/null openssl pkeyutl -derive -inkey peer.key -peerkey k9a.pub | cmp - z1"
check "ECDH into the X9.63 KDF" sh -c \
    "openssl pkeyutl -derive -inkey k9a.pem -peerkey peer.pub -pkeyopt kdf-type:X963KDF -pkeyopt kdf-digest:SHA256 -pkeyopt kdf-outlen:32 >k1 && OPENSSL_CONF=/dev/null openssl pkeyutl -derive -inkey peer.key -peerkey k9a.pub -pkeyopt kdf-type:X963KDF -pkeyopt kdf-digest:SHA256 -pkeyopt kdf-outlen:32 | cmp - k1"

# RSA decryption: encrypted under default to the card key, decrypted on the card.
head -c 32 /dev/urandom >km
for pad in oaep pkcs1; do
    soft pkeyutl -encrypt -pubin -inkey k9d.pub -pkeyopt "rsa_padding_mode:$pad" -in km -out "km.$pad"
    check "RSA $pad decryption on the card" sh -c \
        "openssl pkeyutl -decrypt -inkey k9d.pem -pkeyopt rsa_padding_mode:$pad -in km.$pad | cmp - km"
done
cp km.oaep km.bad
flip_byte km.bad 100
check_fails "a tampered ciphertext is rejected" "ciphertext was rejected" \
    openssl pkeyutl -decrypt -inkey k9d.pem -pkeyopt rsa_padding_mode:oaep -in km.bad
check "long commands are chained (RSA input of 256 bytes, short APDUs only)" grep -q '^10 87 07 9D' "$CARD/trace"
check "long answers are fetched with GET RESPONSE" grep -q '^00 C0 ' "$CARD/trace"
check "no login is left behind (VERIFY with P1=FF after each use)" grep -q '^00 20 FF 80 0 9000' "$CARD/trace"

# OpenSC reads what secsf wrote: its PIV driver sees the certificate, and its own
# PKCS#11 module signs with the card key secsf generated.
OPENSC_P11=${OPENSC_PKCS11:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}
osc() { OPENSSL_CONF=/dev/null pkcs11-tool --module "$OPENSC_P11" "$@"; }
soft dgst -sha256 -binary data >data.sha256
check "OpenSC signs with the key secsf made in 9a" \
    osc --login --pin 123456 --sign --id 01 -m ECDSA --input-file data.sha256 --output-file osc.sig --signature-format openssl
check "  verifies under default" soft dgst -sha256 -verify k9a.pub -signature osc.sig data

# A key replaced behind secsf's back (issue 17 items 7, 8): OpenSC's piv-tool makes a
# new key in 9c and leaves the old certificate. secsf refuses to sign with a key its
# certificate does not state, and replaces both only when asked.
printf '010203040506070801020304050607080102030405060708' >mgmt.raw
chmod 600 mgmt.raw
# (piv-tool 0.23 on OpenSSL 3 fails after the card answers: its APDU trace is the proof.)
pivgen() { PIV_EXT_AUTH_KEY="$WORK/mgmt.raw" piv-tool -v -v -v -A M:9B:03 -G "9C:$1" >pivtool.log 2>&1; grep -q 'CLA:0, INS:47, P1:0, P2:9C' pivtool.log; }
if pivgen 14; then  # another P-384 key: the certificate's type, not its key
    check_fails "a slot key that does not match its certificate is refused" "does not match the slot's certificate" \
        openssl dgst -sha256 -sign 'piv:slot=9c' -out mismatch.sig data
    check "  and nothing was signed" test ! -s mismatch.sig
    pivgen 11  # a P-256 key under the P-384 certificate
    check_fails "  the same for a key of another type" "does not match the slot's certificate" \
        openssl dgst -sha256 -sign 'piv:slot=9c' -out mismatch.sig data
    check_fails "generation into a slot with a certificate says how to replace it" "secsf.replace-certificate:1" \
        openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.uri:piv:slot=9c -out x.pem
    check "asked to, secsf replaces the key and the certificate" \
        openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.uri:piv:slot=9c \
        -pkeyopt secsf.replace-certificate:1 -out k9c.pem
    soft_pub() { openssl pkey -in k9c.pem -pubout -out k9c.pub; }
    check "  and the new key signs" sh -c "$(declare -f soft_pub); soft_pub && openssl dgst -sha256 -sign k9c.pem -out new9c.sig data"
    check "  verifying with its certificate's key" soft dgst -sha256 -verify k9c.pub -signature new9c.sig data
else
    not_ok "piv-tool generates a key in 9c"; sed 's/^/# /' pivtool.log | tail -5
fi
check "secsf key gen knows --replace-certificate" sh -c "'${SECSF_TOOL:-false}' key --help | grep -q replace-certificate"

# TLS 1.3 with the server key on the card. The same server keeps running while the
# card is pulled (handshake fails cleanly) and put back (handshake works again).
check "self-signed certificate by the card key" openssl req -new -x509 -days 2 -subj /CN=localhost -key k9a.pem -out tls.crt
port=$(free_port)
openssl s_server -accept "127.0.0.1:$port" -key k9a.pem -cert tls.crt -tls1_3 -naccept 4 -www >srv.out 2>srv.err &
spid=$!
at_exit "kill $spid 2>/dev/null"
for _ in $(seq 100); do grep -q ACCEPT srv.out && break; sleep 0.05; done
handshake() {
    (printf 'GET / HTTP/1.0\r\n\r\n'; sleep 0.5) | timeout 30 openssl s_client -connect "127.0.0.1:$port" \
        -CAfile tls.crt -verify_return_error -tls1_3 -ign_eof >cli.out 2>cli.err && grep -q "HTTP/1.0 200 ok" cli.out
}
check "TLS 1.3 handshake with the server key on the card" handshake
card_remove "$CARD"
check "without the card the handshake fails" sh -c \
    "! timeout 30 openssl s_client -connect 127.0.0.1:$port -CAfile tls.crt -verify_return_error -tls1_3 </dev/null"
check "  and the server lives on" kill -0 "$spid"
check "  and the server says the card was removed" grep -q "card was removed\|no card" srv.err
card_insert "$CARD" --trace "$CARD/trace"
check "card back: the same server handshakes again" handshake
pcsc_stop "$CARD"
pcsc_start "$CARD" && card_insert "$CARD" --trace "$CARD/trace"
check "pcscd restarted: the same server handshakes again" handshake
wait $spid 2>/dev/null

# The PIN rules: a wrong PIN costs one try and says how many are left; secsf never
# spends the last one; a blocked PIN is named as such.
ask() { openssl dgst -sha256 -sign "piv:slot=9a?pin-value=$1" -out /dev/null data; }
check_fails "wrong PIN: refused, 2 tries left" "wrong card PIN.*2 tries left" ask 000000
check_fails "wrong PIN again: 1 try left" "1 tries left" ask 000000
check_fails "with one try left secsf will not spend it, even for the right PIN" "one try left" ask 123456
# Raw APDUs through OpenSC, as the card holder's own tool would send them.
raw() { OPENSSL_CONF=/dev/null opensc-tool -r 0 -s 00A4040009A00000030800001000 "$@" 2>&1; }
raw_ok() { raw "$@" | tail -2 | grep -q 'SW1=0x90, SW2=0x00'; }
PIN_OK=0020008008313233343536FFFF PIN_BAD=0020008008303030303030FFFF
check "the holder verifies by hand (OpenSC), the counter is back" raw_ok -s $PIN_OK
check "and secsf signs again" ask 123456
raw -s $PIN_BAD -s $PIN_BAD -s $PIN_BAD >/dev/null
check_fails "a blocked PIN is reported as blocked" "PIN is blocked" ask 123456
check "unblocked with the PUK (OpenSC)" raw_ok -s 002C0080103132333435363738313233343536FFFF
check "and secsf signs again after the unblock" ask 123456
grep -v pcsc-pin-source openssl.cnf >nopin.cnf
check_fails "no PIN anywhere: a clear request for one" "needs the card PIN" \
    env OPENSSL_CONF="$WORK/nopin.cnf" openssl dgst -sha256 -sign 'piv:slot=9a' -out /dev/null data
check "the card-authentication key needs no PIN" \
    env OPENSSL_CONF="$WORK/nopin.cnf" openssl dgst -sha256 -sign 'piv:slot=9e' -out /dev/null data

# A card that answers nonsense, or vanishes mid-command: clean errors, no crash.
fault() { echo "$1" >"$CARD/card.state.fault"; }
fault truncate
check_fails "truncated answer" "not well-formed\|holds no result" openssl dgst -sha256 -sign k9a.pem -out /dev/null data
fault badsw
check_fails "wrong status word" "card failed.*6F00" openssl dgst -sha256 -sign k9a.pem -out /dev/null data
fault oversize
check_fails "oversized answer" "not DER\|does not fit" openssl dgst -sha256 -sign k9a.pem -out /dev/null data
fault garbage
check_fails "garbage answer" "not well-formed\|holds no result" openssl dgst -sha256 -sign k9a.pem -out /dev/null data
fault die
check_fails "the card vanishes mid-command" "card was removed\|card reader.*failed" openssl dgst -sha256 -sign k9a.pem -out /dev/null data
rm -f "$CARD/card.state.fault"
card_remove "$CARD"
check_fails "no card in the reader" "card was removed\|no card\|removed" openssl pkey -in 'piv:slot=9a' -pubout
card_insert "$CARD" --trace "$CARD/trace"
check "the card is back: signing works" openssl dgst -sha256 -sign k9a.pem -out /dev/null data

# pcscd stops; it comes back with other readers; then with ours again.
pcsc_stop "$CARD"
check_fails "pcscd is gone: said so" "PC/SC service" openssl pkey -in 'piv:slot=9a' -pubout
pcsc_start "$CARD" "Other Reader"
check_fails "our reader is gone: said so, with the readers seen" "no card reader matches.*Other Reader" \
    openssl pkey -in 'piv:slot=9a' -pubout
pcsc_stop "$CARD"
pcsc_start "$CARD" && card_insert "$CARD" --trace "$CARD/trace"
check "reader and card are back: signing works" openssl dgst -sha256 -sign k9a.pem -out /dev/null data

# Bad URIs and the transport knobs.
check_fails "unknown slot" "not a PIV key slot" openssl pkey -in 'piv:slot=9b' -pubout
check_fails "slot missing" "needs slot=" openssl pkey -in 'piv:reader=Virtual' -pubout
check_fails "unknown attribute" "attribute 'object' is unknown" openssl pkey -in 'piv:slot=9a;object=x' -pubout
