# A private swtpm on unix sockets under the work directory (no ports to collide),
# started in the background and stopped by PID. TEST-FIXTURES.md has the details.
#   swtpm_start DIR   starts (or restarts, keeping its state) and waits until ready
#   swtpm_stop DIR
#   swtpm_tcti DIR    the TCTI string for it
swtpm_tcti() { echo "swtpm:path=$1/sock"; }
swtpm_start() {
    mkdir -p "$1/state"
    swtpm socket --tpm2 --server "type=unixio,path=$1/sock" --ctrl "type=unixio,path=$1/sock.ctrl" \
        --tpmstate "dir=$1/state" --flags not-need-init,startup-clear >"$1/swtpm.log" 2>&1 &
    echo $! >"$1/swtpm.pid"
    for _ in $(seq 100); do
        swtpm_ioctl --unix "$1/sock.ctrl" -g >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "# swtpm did not start: $(cat "$1/swtpm.log")"
    return 1
}
swtpm_stop() {
    local pid
    pid=$(cat "$1/swtpm.pid" 2>/dev/null) || return 0
    swtpm_ioctl --unix "$1/sock.ctrl" -s >/dev/null 2>&1
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        [ "$(ps -o stat= -p "$pid" 2>/dev/null)" = "Z" ] && break
        sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$1/swtpm.pid"
}
