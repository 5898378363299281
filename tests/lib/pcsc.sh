# A private pcscd with vsmartcard's virtual reader (vpcd) and the test PIV card,
# all under one directory, started in the background and stopped by PID.
# TEST-FIXTURES.md has the measurements behind the choices.
#   pcsc_start DIR [NAME]  pcscd in its own mount namespace (its socket is hard-wired to
#                       /run/pcscd, so a bind mount gives each test its own), a free
#                       vpcd port pair; exports PCSCLITE_CSOCK_NAME
#   card_insert DIR [piv-card options]   starts the card, waits until PC/SC sees it
#   card_remove DIR     stops the card (the reader stays)
#   pcsc_stop DIR       card and pcscd
#   PIV_CARD            the emulator program (set by make check)
: "${PIV_CARD:?run through make check, which sets PIV_CARD}"
: "${VPCD_DRIVER:=/usr/lib/pcsc/drivers/serial/libifdvpcd.so}"

pcsc_start() {
    local dir=$1 name=${2:-Virtual PCD} try port
    mkdir -p "$dir/reader.conf.d" "$dir/run"
    export PCSCLITE_CSOCK_NAME="$dir/run/pcscd.comm"
    for try in 1 2 3 4 5 6 7 8; do
        # vpcd listens on port P and P+1 (two slots) on every interface; its choice.
        port=$((20000 + ($$ * 7 + try * 977 + $(date +%N | sed 's/^0*//;s/^$/0/') % 9973) % 40000))
        cat >"$dir/reader.conf.d/vpcd" <<CONF
FRIENDLYNAME "$name"
DEVICENAME /dev/null:$port
LIBPATH $VPCD_DRIVER
CHANNELID $port
CONF
        if _pcsc_private_ns; then
            unshare -m --propagation private sh -c \
                "mkdir -p /run/pcscd && mount --bind '$dir/run' /run/pcscd && exec pcscd --foreground --info --config '$dir/reader.conf.d'" \
                >"$dir/pcscd.log" 2>&1 &
        else
            # No mount namespaces here: the one real /run/pcscd, one test at a time.
            # pcscd inherits the lock and holds it until it exits.
            mkdir -p /run/pcscd
            ln -sf /run/pcscd/pcscd.comm "$dir/run/pcscd.comm"
            (exec 9>/tmp/secsf-pcscd.lock && flock 9 && exec pcscd --foreground --info --config "$dir/reader.conf.d") \
                >"$dir/pcscd.log" 2>&1 &
        fi
        echo $! >"$dir/pcscd.pid"
        for _ in $(seq 100); do
            grep -q "init failed\|Could not initialize" "$dir/pcscd.log" && break
            [ -S "$dir/run/pcscd.comm" ] && grep -q "ifdvpcd\|$name" "$dir/pcscd.log" && {
                echo "$port" >"$dir/vpcd.port"
                return 0
            }
            sleep 0.05
        done
        _pcsc_kill "$dir/pcscd.pid"
    done
    echo "# pcscd did not start: $(tail -5 "$dir/pcscd.log")"
    return 1
}

card_insert() {
    local dir=$1
    shift
    "$PIV_CARD" --port "$(cat "$dir/vpcd.port")" --state "$dir/card.state" "$@" >>"$dir/card.log" 2>&1 &
    echo $! >"$dir/card.pid"
    for _ in $(seq 100); do
        OPENSSL_CONF=/dev/null opensc-tool -r 0 -a >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "# the card did not appear: $(tail -3 "$dir/card.log") $(tail -3 "$dir/pcscd.log")"
    return 1
}

card_remove() {
    _pcsc_kill "$1/card.pid"
    # Until the reader notices, the card still looks present.
    for _ in $(seq 100); do
        OPENSSL_CONF=/dev/null opensc-tool -r 0 -a >/dev/null 2>&1 || return 0
        sleep 0.05
    done
}

pcsc_stop() {
    _pcsc_kill "$1/card.pid"
    _pcsc_kill "$1/pcscd.pid"
}

# Whether pcscd can get a private /run/pcscd (root with mount namespaces).
_pcsc_private_ns() {
    [ -z "${SECSF_PCSC_SHARED:-}" ] && unshare -m --propagation private true 2>/dev/null
}

_pcsc_kill() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    # "|| true": callers may run under set -e (run-bench.sh), and the process may be gone.
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        [ "$(ps -o stat= -p "$pid" 2>/dev/null)" = "Z" ] && break
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$1"
}

# card_up DIR: pcscd with the test card inserted, stopped when the test exits; the
# card's PIN and management key in $WORK/card.pin and $WORK/card.mgmt (mode 600).
card_up() {
    pcsc_start "$1" && card_insert "$1" || return 1
    at_exit "pcsc_stop '$1'"
    printf '123456\n' >"$WORK/card.pin"
    printf '010203040506070801020304050607080102030405060708\n' >"$WORK/card.mgmt"
    chmod 600 "$WORK/card.pin" "$WORK/card.mgmt"
}
