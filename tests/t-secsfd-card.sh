#!/bin/bash
# secsfd with a card SE (the test PIV card in a private pcscd): a key made on the card
# for the caller signs through secsfd; the card pulled out mid-service gives a clear
# error, not a crash or a hang, and secsfd recovers when the card is back.
. "$(dirname "$0")/lib/setup.sh"
. "$TESTS_DIR/lib/pcsc.sh"
: "${SECSFD:?run through make check, which sets SECSFD}"
CARD="$WORK/card"
card_up "$CARD" || { not_ok "pcscd and the test card start"; exit 0; }
SOCKDIR=$(mktemp -d /tmp/secsfd-card.XXXXXX)
at_exit "rm -rf '$SOCKDIR'"
SOCK="$SOCKDIR/secsfd.sock"
mkdir -p state
cat >>openssl.cnf <<CONF
pcsc-reader = Virtual PCD*00
pcsc-pin-source = file:$WORK/card.pin
pcsc-management-key-source = file:$WORK/card.mgmt
secsfd-socket = $SOCK
secsfd-callers = uid:$(id -u)=CAE-self
secsfd-state-dir = $WORK/state
CONF
"$SECSFD" >secsfd.log 2>&1 &
pid=$!
at_exit "kill $pid 2>/dev/null"
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
api() { curl -sS --max-time 30 --unix-socket "$SOCK" "$@"; }
msg=$(printf 'signed on the card' | basenc --base64url | tr -d '=')
sign() { api -X POST -d "{\"data\": \"$msg\"}" http://secsfd/keys/CAE-self/card-key/sign >"$1"; }

api -X PUT -d '{"type": "ec", "where": "piv:slot=9c"}' http://secsfd/keys/CAE-self/card-key >made.json
check "a key made on the card for the caller" grep -q '"se":"card"' made.json
api http://secsfd/keys/CAE-self/card-key >shown.json
check "  shown with the certificate the card holds for it" grep -q 'BEGIN CERTIFICATE' shown.json
sign signed.json
check "  signs through secsfd" grep -q signature signed.json
api -X PUT -d '{"type": "ec", "where": "piv:slot=9c"}' http://secsfd/keys/CAE-self/other-key >taken.json
check "the same slot again is refused: it holds the first key" grep -q '"rsc":4' taken.json
check "  which still signs" sh -c "$(declare -f api sign); SOCK='$SOCK' msg='$msg'; sign again0.json; grep -q signature again0.json"
card_remove "$CARD"
sign removed.json
check "the card pulled out: a clear error, not a crash" sh -c \
    "grep -q '\"rsc\":5000' removed.json && grep -qi 'card was removed\|no card\|removed' removed.json"
check "  and secsfd lives on" kill -0 "$pid"
card_insert "$CARD"
sign again.json
check "the card back: the same key signs again" grep -q signature again.json
stop_server "secsfd" "$pid" TERM
