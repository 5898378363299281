// The card path: ECDSA P-256 signatures, ECDH and RSA-2048 decryptions per second on
// the test PIV card, through secsf (EVP with piv: keys) against the raw device path
// measured in the same run (one process talking PC/SC directly, the PIN verified
// once, then GENERAL AUTHENTICATE only: the fewest APDUs PIV allows), and the APDUs
// each secsf operation costs against that minimum, counted on the card.
//
//   bench_card TRACE_FILE      (run-bench.sh starts pcscd and the card)
// Every signature is verified under the default provider; every ECDH secret and
// decryption compared with the software result.
#include <PCSC/winscard.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/store.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.h"

namespace {

using namespace bench;
const char *kReader = "Virtual PCD 00 00";

EVP_PKEY *load(const std::string &uri, int expect) {
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri.c_str(), nullptr, nullptr, nullptr, nullptr);
    if (!s) throw std::runtime_error("cannot open " + uri);
    OSSL_STORE_expect(s, expect);
    EVP_PKEY *k = nullptr;
    while (!k && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *i = OSSL_STORE_load(s);
        if (!i) break;
        k = expect == OSSL_STORE_INFO_PKEY ? OSSL_STORE_INFO_get1_PKEY(i) : nullptr;
        OSSL_STORE_INFO_free(i);
    }
    OSSL_STORE_close(s);
    if (!k) throw std::runtime_error("no key at " + uri);
    return k;
}

EVP_PKEY *softPublic(EVP_PKEY *k) {
    unsigned char *der = nullptr;
    int n = i2d_PUBKEY(k, &der);
    const unsigned char *p = der;
    EVP_PKEY *pub = d2i_PUBKEY_ex(nullptr, &p, n, nullptr, "provider=default");
    OPENSSL_free(der);
    return pub;
}

// The raw device path: PC/SC and the PIV commands by hand.
struct Raw {
    SCARDCONTEXT ctx = 0;
    SCARDHANDLE card = 0;
    DWORD proto = 0;
    Raw() {
        if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &ctx) != SCARD_S_SUCCESS ||
            SCardConnect(ctx, kReader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &card, &proto) != SCARD_S_SUCCESS)
            throw std::runtime_error("raw PC/SC connect failed");
        login();
    }
    // secsf drops the PIN status after each operation (card-wide), so the raw path
    // logs in again before each batch: one SELECT and one VERIFY per 40 operations.
    void login() {
        send({0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x00});
        send({0x00, 0x20, 0x00, 0x80, 0x08, '1', '2', '3', '4', '5', '6', 0xFF, 0xFF});
    }
    ~Raw() {
        SCardDisconnect(card, SCARD_RESET_CARD);
        SCardReleaseContext(ctx);
    }
    Bytes send(const Bytes &apdu) {
        Bytes out;
        Bytes cmd = apdu;
        for (;;) {
            unsigned char buf[600];
            DWORD len = sizeof buf;
            if (SCardTransmit(card, SCARD_PCI_T1, cmd.data(), (DWORD)cmd.size(), nullptr, buf, &len) != SCARD_S_SUCCESS ||
                len < 2)
                throw std::runtime_error("raw transmit failed");
            out.insert(out.end(), buf, buf + len - 2);
            if (buf[len - 2] != 0x61) {
                if (buf[len - 2] != 0x90) throw std::runtime_error("raw command refused");
                return out;
            }
            cmd = {0x00, 0xC0, 0x00, 0x00, buf[len - 1]};
        }
    }
    // GENERAL AUTHENTICATE with data in tag 0x81 or 0x85; chained when long.
    void authenticate(unsigned char alg, unsigned char slot, unsigned char tag, const Bytes &in) {
        Bytes inner = {0x82, 0x00, tag};
        if (in.size() > 0x7F) inner.push_back(0x82), inner.push_back((unsigned char)(in.size() >> 8));
        inner.push_back((unsigned char)in.size());
        inner.insert(inner.end(), in.begin(), in.end());
        Bytes dyn = {0x7C};
        if (inner.size() > 0x7F) dyn.push_back(0x82), dyn.push_back((unsigned char)(inner.size() >> 8));
        dyn.push_back((unsigned char)inner.size());
        dyn.insert(dyn.end(), inner.begin(), inner.end());
        for (size_t off = 0; off < dyn.size(); off += 255) {
            size_t n = std::min<size_t>(255, dyn.size() - off);
            bool last = off + n == dyn.size();
            Bytes a = {(unsigned char)(last ? 0x00 : 0x10), 0x87, alg, slot, (unsigned char)n};
            a.insert(a.end(), dyn.begin() + (long)off, dyn.begin() + (long)(off + n));
            if (last) a.push_back(0x00);
            send(a);
        }
    }
};

size_t lines(const std::string &path) {
    std::ifstream f(path);
    return (size_t)std::count(std::istreambuf_iterator<char>(f), {}, '\n');
}


}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bench_card TRACE_FILE\n");
        return 2;
    }
    std::string trace = argv[1];
    try {
        EVP_PKEY *ec = load("piv:slot=9a", OSSL_STORE_INFO_PKEY);
        EVP_PKEY *rsa = load("piv:slot=9d", OSSL_STORE_INFO_PKEY);
        EVP_PKEY *ecPub = softPublic(ec), *rsaPub = softPublic(rsa);
        EVP_PKEY *peer = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        const std::string msg = "benchmark message";
        Bytes digest(32);
        unsigned dl = 0;
        EVP_Digest(msg.data(), msg.size(), digest.data(), &dl, EVP_sha256(), nullptr);
        Bytes peerPoint(65);
        size_t pl = 0;
        EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, peerPoint.data(), peerPoint.size(), &pl);
        Bytes ct(256);
        {
            EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, rsaPub, nullptr);
            size_t cl = ct.size();
            EVP_PKEY_encrypt_init(c);
            EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING);
            EVP_PKEY_encrypt(c, ct.data(), &cl, digest.data(), digest.size());
            EVP_PKEY_CTX_free(c);
        }

        auto secsfSign = [&] {
            EVP_MD_CTX *m = EVP_MD_CTX_new();
            unsigned char sig[128];
            size_t sl = sizeof sig;
            if (EVP_DigestSignInit_ex(m, nullptr, "SHA256", nullptr, nullptr, ec, nullptr) <= 0 ||
                EVP_DigestSign(m, sig, &sl, (const unsigned char *)msg.data(), msg.size()) <= 0)
                throw std::runtime_error("secsf sign failed");
            EVP_MD_CTX_free(m);
            m = EVP_MD_CTX_new();
            bool ok = EVP_DigestVerifyInit_ex(m, nullptr, "SHA256", nullptr, "provider=default", ecPub, nullptr) > 0 &&
                      EVP_DigestVerify(m, sig, sl, (const unsigned char *)msg.data(), msg.size()) == 1;
            EVP_MD_CTX_free(m);
            if (!ok) throw std::runtime_error("a card signature does not verify");
        };
        Bytes soft(32);
        {
            EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, peer, nullptr);
            size_t zl = 32;
            EVP_PKEY_derive_init(c);
            EVP_PKEY_derive_set_peer(c, ecPub);
            EVP_PKEY_derive(c, soft.data(), &zl);
            EVP_PKEY_CTX_free(c);
        }
        auto secsfEcdh = [&] {
            EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, ec, nullptr);
            Bytes z(32);
            size_t zl = 32;
            bool ok = EVP_PKEY_derive_init(c) > 0 && EVP_PKEY_derive_set_peer(c, peer) > 0 &&
                      EVP_PKEY_derive(c, z.data(), &zl) > 0 && z == soft;
            EVP_PKEY_CTX_free(c);
            if (!ok) throw std::runtime_error("card ECDH differs from the software result");
        };
        auto secsfDecrypt = [&] {
            EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, rsa, nullptr);
            Bytes out(256);
            size_t ol = out.size();
            bool ok = EVP_PKEY_decrypt_init(c) > 0 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0 &&
                      EVP_PKEY_decrypt(c, out.data(), &ol, ct.data(), ct.size()) > 0 && ol == 32 &&
                      std::equal(digest.begin(), digest.end(), out.begin());
            EVP_PKEY_CTX_free(c);
            if (!ok) throw std::runtime_error("card decryption differs");
        };

        struct Op {
            const char *name;
            std::function<void()> fn;
        } ops[] = {{"ECDSA P-256 sign", secsfSign}, {"ECDH P-256", secsfEcdh}, {"RSA-2048 OAEP decrypt", secsfDecrypt}};
        Raw raw;
        auto rawSign = [&] { raw.authenticate(0x11, 0x9A, 0x81, digest); };
        auto rawEcdh = [&] { raw.authenticate(0x11, 0x9A, 0x85, peerPoint); };
        auto rawDecrypt = [&] { raw.authenticate(0x07, 0x9D, 0x81, ct); };
        std::function<void()> raws[] = {rawSign, rawEcdh, rawDecrypt};

        printf("%-24s %10s %10s %7s %12s %10s\n", "card operation", "raw/s", "secsf/s", "ratio", "APDUs secsf", "APDUs raw");
        for (int i = 0; i < 3; i++) {
            // APDUs per operation, counted on the card; the raw path is PIV's minimum
            // (GENERAL AUTHENTICATE with its chaining and GET RESPONSE).
            ops[i].fn();  // warm: the first use of a PIN also reads the retry counter
            size_t before = lines(trace);
            ops[i].fn();
            size_t apdus = lines(trace) - before;
            raw.login();
            before = lines(trace);
            raws[i]();
            size_t rawApdus = lines(trace) - before;
            std::vector<double> r, s;
            for (int rep = 0; rep < 5; rep++) {  // interleaved, median of 5
                raw.login();
            r.push_back(perSecond(raws[i], 40));
                s.push_back(perSecond(ops[i].fn, 40));
            }
            printf("%-24s %10.0f %10.0f %7.2f %12zu %10zu\n", ops[i].name, median(r), median(s), median(s) / median(r),
                   apdus, rawApdus);
        }
        printf("\nsecsf per operation: SELECT (another program may have selected another\n"
               "application), VERIFY (the PIN, every time), GENERAL AUTHENTICATE, VERIFY P1=FF\n"
               "(no login left behind); the raw path verifies once and keeps the login.\n");
        EVP_PKEY_free(ec);
        EVP_PKEY_free(rsa);
        EVP_PKEY_free(ecPub);
        EVP_PKEY_free(rsaPub);
        EVP_PKEY_free(peer);
    } catch (const std::exception &e) {
        fprintf(stderr, "bench_card: %s\n", e.what());
        return 1;
    }
    return 0;
}
