#!/bin/bash
# The TPM 2.0 plug-in against a private swtpm: keys generated wrapped on disk and
# persistent at a handle, signing, decryption and ECDH cross-checked with the
# default provider, TLS 1.3 with the server key in the TPM, survival of a TPM
# restart, interop with the tpm2-openssl provider, and the clean errors.
. "$(dirname "$0")/lib/setup.sh"
. "$TESTS_DIR/lib/swtpm.sh"
TPM="$WORK/tpm"
swtpm_start "$TPM" || { not_ok "swtpm starts"; exit 0; }
at_exit "swtpm_stop '$TPM'"
echo "tpm2-tcti = $(swtpm_tcti "$TPM")" >>openssl.cnf
# The authorization source that key files (rsa.pem below) may name.
echo "tpm2-auth-sources = file:$WORK/key.auth" >>openssl.cnf
soft() { OPENSSL_CONF=/dev/null openssl "$@"; }
echo "signed in the TPM" >data
printf 'tpm-key-auth\n' >key.auth
chmod 600 key.auth

gen() {  # ALG OPT LABEL URI
    openssl genpkey -propquery provider=secsf -algorithm "$1" -pkeyopt "$2" -pkeyopt "secsf.label:$3" \
        -pkeyopt "secsf.uri:$4" -out "$3.pem"
}
check "EC P-256 key wrapped on disk" gen EC group:P-256 ec256 "tpm2:file=$WORK/ec256.tpm2"
check "EC P-384 key persistent at 0x81000010" gen EC group:P-384 ec384 "tpm2:handle=0x81000010"
check "RSA 2048 key with an authorization value" gen RSA bits:2048 rsa "tpm2:file=$WORK/rsa.tpm2?pin-source=file:$WORK/key.auth"
cp openssl.cnf undeclared.cnf
sed -i '/tpm2-auth-sources/d' undeclared.cnf
check_fails "a TPM key file naming an undeclared authorization source is refused" "tpm2-auth-sources" \
    env OPENSSL_CONF=undeclared.cnf openssl dgst -sha256 -sign rsa.pem -out /dev/null data
check "the wrapped key file is not a private key in the clear" sh -c "! grep -q 'PRIVATE KEY' ec256.tpm2"
for k in ec256 ec384 rsa; do
    check "$k: public key through secsf" openssl pkey -in "$k.pem" -pubout -out "$k.pub"
done
check "the persistent key by URI" sh -c \
    "openssl pkey -in 'tpm2:handle=0x81000010' -pubout | cmp - ec384.pub"

for md in sha256 sha384; do
    check "ECDSA $md in the TPM" openssl dgst "-$md" -sign ec256.pem -out "ec.$md.sig" data
    check "  verifies under default" soft dgst "-$md" -verify ec256.pub -signature "ec.$md.sig" data
done
check "ECDSA with the persistent P-384 key" openssl dgst -sha384 -sign 'tpm2:handle=0x81000010' -out ec384.sig data
check "  verifies under default" soft dgst -sha384 -verify ec384.pub -signature ec384.sig data
check "RSA PKCS#1 v1.5 in the TPM" openssl dgst -sha256 -sign rsa.pem -out rsa.p1.sig data
check "  verifies under default" soft dgst -sha256 -verify rsa.pub -signature rsa.p1.sig data
pss=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest)
check "RSA-PSS in the TPM" openssl dgst -sha256 -sign rsa.pem "${pss[@]}" -out rsa.pss.sig data
check "  verifies under default" soft dgst -sha256 -verify rsa.pub "${pss[@]}" -signature rsa.pss.sig data
check_fails "RSA-PSS with another salt length: refused with the reason" "salt as long as the digest" \
    openssl dgst -sha256 -sign rsa.pem -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:max data

head -c 32 /dev/urandom >km
for mode in oaep oaep-sha256 pkcs1; do
    case $mode in
        oaep) o=(-pkeyopt rsa_padding_mode:oaep) ;;
        oaep-sha256) o=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256) ;;
        pkcs1) o=() ;;
    esac
    soft pkeyutl -encrypt -pubin -inkey rsa.pub "${o[@]}" -in km -out "km.$mode"
    check "decrypt $mode in the TPM" openssl pkeyutl -decrypt -inkey rsa.pem "${o[@]}" -in "km.$mode" -out "km.$mode.out"
    check "  gives the keying material back" cmp km "km.$mode.out"
done
cp km.oaep km.bad
flip_byte km.bad 20
check_fails "a tampered ciphertext fails cleanly" "ciphertext was rejected" \
    openssl pkeyutl -decrypt -inkey rsa.pem -pkeyopt rsa_padding_mode:oaep -in km.bad

soft genpkey -algorithm EC -pkeyopt group:P-256 -out peer.key
soft pkey -in peer.key -pubout -out peer.pub
check "ECDH (TPM2_ECDH_ZGen)" openssl pkeyutl -derive -inkey ec256.pem -peerkey peer.pub -out z.tpm
check "the peer computes the same Z under default" sh -c \
    "OPENSSL_CONF=/dev/null openssl pkeyutl -derive -inkey peer.key -peerkey ec256.pub | cmp - z.tpm"
check "SA keys: ECDH in the TPM + X9.63 equal OpenSSL's" sh -c \
    "openssl pkeyutl -derive -inkey ec256.pem -peerkey peer.pub -pkeyopt kdf-type:X963KDF -pkeyopt kdf-digest:SHA256 -pkeyopt kdf-outlen:32 >sa1 && OPENSSL_CONF=/dev/null openssl pkeyutl -derive -inkey peer.key -peerkey ec256.pub -pkeyopt kdf-type:X963KDF -pkeyopt kdf-digest:SHA256 -pkeyopt kdf-outlen:32 | cmp - sa1"
check "random numbers from the TPM" sh -c \
    "sed 's/^providers = provider_sect/providers = provider_sect\\nrandom = rs/' openssl.cnf >rng.cnf && printf '[rs]\\nrandom = SECSF-RNG\\nproperties = provider=secsf\\n' >>rng.cnf && OPENSSL_CONF=rng.cnf openssl rand -hex 16 | grep -qE '^[0-9a-f]{32}\$'"

# TLS 1.3 with the server key in the TPM; a certificate signed in the TPM.
check "self-signed certificate by the TPM key" openssl req -new -x509 -days 2 -subj /CN=localhost \
    -key ec256.pem -out ec256.crt
port=$(free_port)
openssl s_server -accept "127.0.0.1:$port" -key ec256.pem -cert ec256.crt -tls1_3 -naccept 1 -www \
    >srv.out 2>srv.err &
spid=$!
at_exit "kill $spid 2>/dev/null"
for _ in $(seq 100); do grep -q ACCEPT srv.out && break; sleep 0.05; done
(printf 'GET / HTTP/1.0\r\n\r\n'; sleep 1) | timeout 30 openssl s_client -connect "127.0.0.1:$port" \
    -CAfile ec256.crt -verify_return_error -tls1_3 -ign_eof >cli.out 2>cli.err
crc=$?
wait $spid
src=$?
if [ $crc -eq 0 ] && [ $src -eq 0 ] && grep -q "HTTP/1.0 200 ok" cli.out; then
    ok "TLS 1.3 handshake with the server key in the TPM, both exit 0"
else not_ok "TLS 1.3 with the TPM key: client $crc server $src"; tail -3 cli.err srv.err | sed 's/^/# /'; fi

# Interop with tpm2-openssl on the same TPM: public keys agree, signatures cross-verify.
peer() { OPENSSL_CONF=/dev/null TPM2OPENSSL_TCTI="$(swtpm_tcti "$TPM")" openssl "$1" -provider tpm2 -provider default "${@:2}"; }
check "tpm2-openssl exports the persistent key" peer pkey -in handle:0x81000010 -pubout -out ec384.peer.pub
check "  the same public key as secsf's" cmp ec384.pub ec384.peer.pub
check "tpm2-openssl signs with it" peer dgst -sha384 -propquery '?provider=tpm2' -sign handle:0x81000010 -out peer.sig data
check "  its signature verifies with secsf's public key" soft dgst -sha384 -verify ec384.pub -signature peer.sig data
check "  secsf's signature verifies with tpm2-openssl's public key" soft dgst -sha384 -verify ec384.peer.pub -signature ec384.sig data

# Restart: the persistent and the wrapped key work after the TPM comes back.
swtpm_stop "$TPM"
check_fails "TPM gone: a clean error" "cannot reach the TPM\|cannot talk to the TPM" \
    timeout 30 openssl dgst -sha256 -sign ec256.pem data
swtpm_start "$TPM"
check "after a TPM restart the wrapped key signs" openssl dgst -sha256 -sign ec256.pem -out after.sig data
check "  and verifies" soft dgst -sha256 -verify ec256.pub -signature after.sig data
check "after a TPM restart the persistent key signs" openssl dgst -sha384 -sign 'tpm2:handle=0x81000010' -out after384.sig data
check "  and verifies" soft dgst -sha384 -verify ec384.pub -signature after384.sig data

# Bad input and faults. The wrong authorization value comes last: the TPM's
# dictionary-attack protection then locks the keys that have an authorization value.
printf 'wrong\n' >wrong.auth && chmod 600 wrong.auth
check_fails "missing handle" "no key at TPM handle 0x81000099" openssl pkey -in 'tpm2:handle=0x81000099' -pubout
check_fails "missing key file" "cannot be read" openssl pkey -in "tpm2:file=$WORK/none.tpm2" -pubout
check_fails "not a persistent handle" "not a persistent handle" openssl pkey -in 'tpm2:handle=0x80000001' -pubout
# The lock file (issue 17 item 5): never followed through a symlink, never another
# user's, waited on for a bounded time, by default in a directory only we can write.
ln -s "$WORK/victim" planted.lock
cp openssl.cnf lock.cnf
echo "tpm2-lock-file = $WORK/planted.lock" >>lock.cnf
check_fails "a symlink planted as the TPM lock file is not followed" "symbolic link" \
    env OPENSSL_CONF=lock.cnf openssl pkey -in 'tpm2:handle=0x81000010' -pubout
check "  and its target was not created" test ! -e victim
: >others.lock
if chown nobody others.lock 2>/dev/null; then
    sed "s|planted.lock|others.lock|" lock.cnf >others.cnf
    check_fails "a TPM lock file of another user is refused" "another user could hold it" \
        env OPENSSL_CONF=others.cnf openssl pkey -in 'tpm2:handle=0x81000010' -pubout
fi
: >held.lock
sed "s|planted.lock|held.lock|" lock.cnf >held.cnf
echo "tpm2-lock-timeout = 2" >>held.cnf
/usr/bin/python3 -c 'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(60)' held.lock &
holder=$!
sleep 1
check_fails "a TPM lock held by another process: a clear error after tpm2-lock-timeout" "TPM is busy" \
    timeout 20 env OPENSSL_CONF=held.cnf openssl pkey -in 'tpm2:handle=0x81000010' -pubout
kill "$holder"; wait "$holder" 2>/dev/null
lockdir=/tmp/secsf-$(id -u)
[ "$(id -u)" = 0 ] && lockdir=/run/secsf
check "the default TPM lock is in $lockdir, not in /tmp itself" sh -c \
    "env -u XDG_RUNTIME_DIR openssl pkey -in 'tpm2:handle=0x81000010' -pubout >/dev/null && ls '$lockdir'/secsf-tpm2-*.lock >/dev/null"
# Two provider instances (issue 17 item 9): with different settings OpenSSL would
# hand the keys meant for one TPM to the other's instance; refused with a sentence.
# The same settings in two sections (or two library contexts) still work.
twoinstances() {  # FILE TCTI-OF-THE-SECOND
    sed 's/^secsf = secsf_sect$/secsf = secsf_sect\nsecsf_b = secsf_b_sect/' openssl.cnf >"$1"
    sed -n '/^\[secsf_sect\]/,$p' openssl.cnf | sed "s/^\[secsf_sect\]/[secsf_b_sect]/; s|^tpm2-tcti = .*|tpm2-tcti = $2|" >>"$1"
}
twoinstances two.cnf "swtpm:path=$WORK/other-tpm/sock"
check_fails "two secsf instances with different TPM settings: refused, not mixed up" "two secsf provider instances" \
    env OPENSSL_CONF=two.cnf openssl pkey -in 'tpm2:handle=0x81000010' -pubout
twoinstances same.cnf "$(sed -n 's/^tpm2-tcti = //p' openssl.cnf)"
check "two secsf instances with the same settings work" env OPENSSL_CONF=same.cnf openssl pkey -in 'tpm2:handle=0x81000010' -pubout
# A key file is a regular file of bounded size (issue 17 item 6): not a device, not a FIFO.
mkfifo key.fifo
head -c 70000 /dev/zero >huge.tpm2
for f in /dev/zero "$WORK/key.fifo" "$WORK/huge.tpm2"; do
    check_fails "tpm2:file=${f##*/} is refused at once, not read for ever" "regular file of at most" \
        timeout 20 openssl pkey -in "tpm2:file=$f" -pubout
done
check_fails "unknown URI attribute" "is unknown" openssl pkey -in 'tpm2:colour=blue' -pubout
check_fails "bad percent-encoding" "percent-encoding" openssl pkey -in 'tpm2:file=%zz' -pubout
check_fails "no place for a new key" "say where the TPM key goes" \
    openssl genpkey -propquery provider=secsf -algorithm EC -pkeyopt group:P-256 -pkeyopt secsf.se:tpm2
check_fails "an existing key file is not overwritten" "does not overwrite" \
    gen EC group:P-256 again "tpm2:file=$WORK/ec256.tpm2"
check "no transient objects left in the TPM" sh -c \
    "TPM2TOOLS_TCTI='$(swtpm_tcti "$TPM")' tpm2_getcap handles-transient | grep -c 0x80 | grep -q '^0$'"
# Dictionary-attack protection (issue 17 item 4). Known parameters first: 3 tries.
tpm() { TPM2TOOLS_TCTI="$(swtpm_tcti "$TPM")" "$@"; }
# A key another tool bound to a policy (issue 17 item 13): a sentence, not a code.
if tpm tpm2_startauthsession -S trial.ctx >/dev/null 2>&1 &&
    tpm tpm2_policycommandcode -S trial.ctx -L policy.dat TPM2_CC_Sign >/dev/null 2>&1 &&
    tpm tpm2_flushcontext trial.ctx >/dev/null 2>&1 &&
    tpm tpm2_create -C 0x81000001 -G ecc256 -L policy.dat -a 'fixedtpm|fixedparent|sensitivedataorigin|sign|noda' \
        -u policy.pub -r policy.priv >/dev/null 2>&1 &&
    tpm tpm2_load -C 0x81000001 -u policy.pub -r policy.priv -c policy.ctx >/dev/null 2>&1 &&
    tpm tpm2_evictcontrol -C o -c policy.ctx 0x81000030 >/dev/null 2>&1; then
    tpm tpm2_flushcontext -t >/dev/null 2>&1  # without a resource manager the tools leave it loaded
    check_fails "a policy-bound key: a sentence that says what to do" "authorization policy, which secsf does not satisfy" \
        openssl dgst -sha256 -sign 'tpm2:handle=0x81000030' data
    tpm tpm2_evictcontrol -C o -c 0x81000030 >/dev/null 2>&1
else
    not_ok "making a policy-bound key with tpm2-tools"
    tpm tpm2_flushcontext -t >/dev/null 2>&1
fi
tpm tpm2_dictionarylockout --clear-lockout >/dev/null 2>&1 || not_ok "resetting the TPM's dictionary-attack counter"
tpm tpm2_dictionarylockout --setup-parameters --max-tries=3 --recovery-time=1000 --lockout-recovery-time=1000 \
    >/dev/null 2>&1 || not_ok "setting the TPM's dictionary-attack parameters"
check "a key made without an authorization value is outside DA protection (noDA)" sh -c \
    "TPM2TOOLS_TCTI='$(swtpm_tcti "$TPM")' tpm2_readpublic -c 0x81000010 | grep -q noda"
check_fails "wrong authorization value: named as such" "authorization value is wrong" \
    openssl dgst -sha256 -sign "tpm2:file=$WORK/rsa.tpm2?pin-source=file:$WORK/wrong.auth" data
check_fails "a second wrong one: still tried" "authorization value is wrong" \
    openssl dgst -sha256 -sign "tpm2:file=$WORK/rsa.tpm2?pin-source=file:$WORK/wrong.auth" data
check_fails "the last try is not spent on a value that has not worked" "will not try an authorization value" \
    openssl dgst -sha256 -sign "tpm2:file=$WORK/rsa.tpm2?pin-source=file:$WORK/wrong.auth" data
check "  so the TPM is not in lockout" sh -c \
    "TPM2TOOLS_TCTI='$(swtpm_tcti "$TPM")' tpm2_getcap properties-variable | grep -A1 -i 'TPM2_PT_LOCKOUT_COUNTER' | grep -q 0x2"
# A lockout (made here by lowering the TPM's limit below its count) stops the keys
# with an authorization value, and no other.
tpm tpm2_dictionarylockout --setup-parameters --max-tries=1 --recovery-time=1000 --lockout-recovery-time=1000 \
    >/dev/null 2>&1 || not_ok "lowering the TPM's dictionary-attack limit"
check "in lockout, a key without an authorization value still signs (file)" \
    openssl dgst -sha256 -sign "tpm2:file=$WORK/ec256.tpm2" -out lockout256.sig data
check "in lockout, a key without an authorization value still signs (handle)" \
    openssl dgst -sha384 -sign 'tpm2:handle=0x81000010' -out lockout384.sig data
check_fails "in lockout, a key with one is refused, the lockout named" "dictionary-attack lockout" \
    openssl dgst -sha256 -sign "tpm2:file=$WORK/rsa.tpm2?pin-source=file:$WORK/key.auth" data
tpm tpm2_dictionarylockout --clear-lockout >/dev/null 2>&1
tpm tpm2_dictionarylockout --setup-parameters --max-tries=3 --recovery-time=1000 --lockout-recovery-time=1000 >/dev/null 2>&1
check "after the lockout is cleared, the right value works again" \
    openssl dgst -sha256 -sign "tpm2:file=$WORK/rsa.tpm2?pin-source=file:$WORK/key.auth" -out rsa-after.sig data
