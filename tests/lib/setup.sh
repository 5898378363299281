# Common start of every shell check: a fresh work dir, a token 'node1' with PIN
# 1234, and OPENSSL_CONF pointing at secsf.
set -u
TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/softhsm.sh"
: "${SECSF_MODULE:?run through make check, which sets SECSF_MODULE}"
WORK="${TEST_WORKDIR:-$PWD/work}/$(basename "$0" .sh).$$"
rm -rf "$WORK"
mkdir -p "$WORK"
softhsm_init "$WORK"
softhsm_token node1 1234
printf '1234\n' >"$WORK/node1.pin"
chmod 600 "$WORK/node1.pin"
secsf_conf "$WORK/openssl.cnf" node1 "$WORK/node1.pin"
export OPENSSL_CONF="$WORK/openssl.cnf"
cd "$WORK"
