#!/bin/bash
# The CLI faces of issue "SA key derivation": ECDH with `openssl pkeyutl -derive`,
# decryption with `pkeyutl -decrypt`, and SECSF-RNG selected in openssl.cnf. Every
# result is compared with what the default provider computes.
. "$(dirname "$0")/lib/setup.sh"
soft() { OPENSSL_CONF=/dev/null openssl "$@"; }

for curve in P-256 P-384; do
    n=${curve#P-}
    check "genpkey EC $curve for ECDH" openssl genpkey -propquery provider=secsf -algorithm EC \
        -pkeyopt "group:$curve" -pkeyopt "secsf.label:dh$n" -out "dh$n.pem"
    check "public half of dh$n" openssl pkey -in "dh$n.pem" -pubout -out "dh$n.pub"
    soft genpkey -algorithm EC -pkeyopt "group:$curve" -out "peer$n.key"
    soft pkey -in "peer$n.key" -pubout -out "peer$n.pub"
    check "ECDH $curve in the token" openssl pkeyutl -derive -inkey "dh$n.pem" -peerkey "peer$n.pub" -out "z$n.secsf"
    check "the peer computes Z with the default provider" \
        soft pkeyutl -derive -inkey "peer$n.key" -peerkey "dh$n.pub" -out "z$n.default"
    check "ECDH $curve: both sides have the same Z" cmp "z$n.secsf" "z$n.default"
done
check "ECDH by URI" openssl pkeyutl -derive -inkey 'pkcs11:token=node1;object=dh256;type=private' \
    -peerkey peer256.pub -out z.uri
check "  and it is the same Z" cmp z.uri z256.default
kdfopts=(-pkeyopt kdf-type:X963KDF -pkeyopt kdf-digest:SHA256 -pkeyopt kdf-outlen:48 -pkeyopt hexkdf-ukm:53412d31)
check "SA keys in one call: ECDH in the token + X9.63 KDF" \
    openssl pkeyutl -derive -inkey dh256.pem -peerkey peer256.pub "${kdfopts[@]}" -out sa.secsf
check "the peer derives with OpenSSL's ECDH + X9.63" \
    soft pkeyutl -derive -inkey peer256.key -peerkey dh256.pub "${kdfopts[@]}" -out sa.default
check "  the SA keys are equal" cmp sa.secsf sa.default
check "  and 48 bytes long" test "$(wc -c <sa.secsf)" -eq 48
check_fails "ECDH with peers on different curves is refused" "P-384\|secp384r1" \
    openssl pkeyutl -derive -inkey dh256.pem -peerkey peer384.pub

check "genpkey RSA 2048 for decryption" openssl genpkey -propquery provider=secsf -algorithm RSA \
    -pkeyopt bits:2048 -pkeyopt secsf.label:dec -out dec.pem
check "public half of dec" openssl pkey -in dec.pem -pubout -out dec.pub
head -c 32 /dev/urandom >km.bin
for mode in "oaep" "oaep-sha1" "pkcs1"; do
    case $mode in
        oaep) opts=(-pkeyopt rsa_padding_mode:oaep) ;;
        oaep-sha1) opts=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1) ;;
        pkcs1) opts=() ;;
    esac
    soft pkeyutl -encrypt -pubin -inkey dec.pub "${opts[@]}" -in km.bin -out "km.$mode"
    check "decrypt $mode in the token" openssl pkeyutl -decrypt -inkey dec.pem "${opts[@]}" \
        -in "km.$mode" -out "km.$mode.out"
    check "  gives back the keying material" cmp km.bin "km.$mode.out"
done
soft pkeyutl -encrypt -pubin -inkey dec.pub -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -in km.bin -out km.sha256
check_fails "OAEP with SHA-256 (SoftHSM lacks it): refused naming the digest" "OAEP with SHA256" \
    openssl pkeyutl -decrypt -inkey dec.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -in km.sha256
cp km.oaep km.tampered
flip_byte km.tampered 40
check_fails "a tampered ciphertext fails cleanly" "ciphertext was rejected" \
    openssl pkeyutl -decrypt -inkey dec.pem -pkeyopt rsa_padding_mode:oaep -in km.tampered

# SECSF-RNG as OpenSSL's generator: everything keeps working, also the token's own
# use of libcrypto inside its calls (served from the kernel, not by re-entry).
sed 's/^providers = provider_sect/providers = provider_sect\nrandom = random_sect/' openssl.cnf >rng.cnf
printf '[random_sect]\nrandom = SECSF-RNG\nproperties = provider=secsf\n' >>rng.cnf
check "openssl rand from the token's generator" sh -c \
    "OPENSSL_CONF=rng.cnf timeout 30 openssl rand -out r.bin 4096 && [ \$(wc -c <r.bin) -eq 4096 ]"
check "two draws differ" sh -c "OPENSSL_CONF=rng.cnf timeout 30 openssl rand -out r2.bin 4096 && ! cmp -s r.bin r2.bin"
check "signing in the token with SECSF-RNG as the generator" \
    env OPENSSL_CONF=rng.cnf timeout 30 openssl dgst -sha256 -sign dh256.pem -out rng.sig z.uri
check "  verifies under default" soft dgst -sha256 -verify dh256.pub -signature rng.sig z.uri
check "a software key with SECSF-RNG as the generator" sh -c \
    "OPENSSL_CONF=rng.cnf timeout 30 openssl genpkey -algorithm EC -pkeyopt group:P-256 -out sw.pem"
