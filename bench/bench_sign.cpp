// Signing throughput with one token key, measured against the device limit in the
// same run: raw PKCS#11 on the token object and on a session copy of it (SoftHSM
// decrypts token objects on every use, so the copy is its true ceiling), secsf
// through EVP_PKEY_sign and EVP_DigestSign, libp11's engine, and a software key in
// the default provider. Every path runs in its own process (re-executing this
// program), paths are interleaved and repeated, and the median is reported. Every
// signature made in a timed run is verified afterwards under the default provider.
#define OPENSSL_SUPPRESS_DEPRECATED 1  // libp11 is an ENGINE
#include <dlfcn.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"

using namespace bench;

namespace {

struct Opts {
    std::string mode, alg, work, module;
    int threads = 1;
    int ms = 600;
};

Bytes digestOf(const char *msg, const char *md) {
    Bytes d(EVP_MAX_MD_SIZE);
    unsigned int n = 0;
    EVP_Digest(msg, strlen(msg), d.data(), &n, EVP_get_digestbyname(md), nullptr);
    d.resize(n);
    return d;
}

const char *kMsg = "oneM2M request primitive to be signed by the node key";

// The public key of the benchmarked key, as a default-provider key (for checking).
EVP_PKEY *publicKey(const Opts &o) {
    std::string prefix = o.mode == "secsf-tpm-file" ? "tpm-file-" : o.mode.find("tpm") != std::string::npos ? "tpm-" : "";
    return readPublicDer(o.work + "/" + prefix + o.alg + ".pub.der");
}

bool isEc(const std::string &alg) { return alg.compare(0, 2, "ec") == 0; }
bool isPss(const std::string &alg) { return alg == "rsa-pss"; }

// Runs `op` in N threads for o.ms milliseconds; returns signatures per second and
// keeps every signature for verification after the clock has stopped.
template <class Op> double timed(const Opts &o, Op op, std::vector<Bytes> &sigs) {
    if (o.ms == 0) {  // cold start: exactly one signature
        Bytes s = op(0);
        if (s.empty()) {
            ERR_print_errors_fp(stderr);
            exit(3);
        }
        sigs.push_back(std::move(s));
        return 1;
    }
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<std::thread> ts;
    std::atomic<long> count{0};
    auto start = Clock::now();
    for (int t = 0; t < o.threads; t++)
        ts.emplace_back([&, t] {
            std::vector<Bytes> mine;
            while (!stop.load(std::memory_order_relaxed)) {
                Bytes s = op(t);
                if (s.empty()) {
                    fprintf(stderr, "signing failed in %s\n", o.mode.c_str());
                    ERR_print_errors_fp(stderr);
                    exit(3);
                }
                mine.push_back(std::move(s));
                count++;
            }
            std::lock_guard<std::mutex> lk(mu);
            for (auto &s : mine) sigs.push_back(std::move(s));
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(o.ms));
    stop = true;
    for (auto &t : ts) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    return count / secs;
}

bool verifyAll(const Opts &o, const std::vector<Bytes> &sigs, bool overDigest) {
    EVP_PKEY *pub = publicKey(o);
    const char *md = o.alg == "ec384" ? "SHA384" : "SHA256";
    Bytes dg = digestOf(kMsg, md);
    bool ok = pub != nullptr;
    for (const Bytes &s : sigs) {
        if (!ok) break;
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, pub, "provider=default");
        ok = EVP_PKEY_verify_init(c) > 0 && EVP_PKEY_CTX_set_signature_md(c, EVP_get_digestbyname(md)) > 0;
        if (ok && isPss(o.alg))
            ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) > 0 &&
                 EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_DIGEST) > 0;
        // Raw PKCS#11 ECDSA gives r||s: turn it into DER for OpenSSL.
        Bytes der = s;
        if (ok && isEc(o.alg) && !overDigest) {
            ECDSA_SIG *es = ECDSA_SIG_new();
            size_t h = s.size() / 2;
            ECDSA_SIG_set0(es, BN_bin2bn(s.data(), (int)h, nullptr), BN_bin2bn(s.data() + h, (int)h, nullptr));
            unsigned char *p = nullptr;
            int n = i2d_ECDSA_SIG(es, &p);
            der.assign(p, p + n);
            OPENSSL_free(p);
            ECDSA_SIG_free(es);
        }
        ok = ok && EVP_PKEY_verify(c, der.data(), der.size(), dg.data(), dg.size()) == 1;
        EVP_PKEY_CTX_free(c);
    }
    EVP_PKEY_free(pub);
    return ok;
}

// --- raw PKCS#11, no provider in the process --------------------------------------

double runRaw(const Opts &o, bool sessionCopy, std::vector<Bytes> &sigs) {
    RawToken rt = openRaw(o.module);
    CK_FUNCTION_LIST *f = rt.f;
    CK_OBJECT_HANDLE key = rawFind(rt, CKO_PRIVATE_KEY, o.alg == "rsa-pss" ? "bench-rsa" : "bench-" + o.alg);
    if (sessionCopy) key = rawSessionCopy(rt, key);
    const char *md = o.alg == "ec384" ? "SHA384" : "SHA256";
    Bytes dg = digestOf(kMsg, md);
    // What the PKCS#11 mechanism signs: the digest (ECDSA, PSS) or its DigestInfo.
    Bytes input = dg;
    if (o.alg == "rsa") {
        static const unsigned char prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
                                               0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
        input.assign(prefix, prefix + sizeof prefix);
        input.insert(input.end(), dg.begin(), dg.end());
    }
    std::vector<CK_SESSION_HANDLE> sess(o.threads);
    for (auto &s : sess) f->C_OpenSession(rt.slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s);
    CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech{isEc(o.alg) ? CKM_ECDSA : isPss(o.alg) ? CKM_RSA_PKCS_PSS : CKM_RSA_PKCS,
                      isPss(o.alg) ? &pss : nullptr, isPss(o.alg) ? sizeof pss : 0};
    return timed(o, [&](int th) {
        Bytes sig(512);
        CK_ULONG len = sig.size();
        if (f->C_SignInit(sess[th], &mech, key) != CKR_OK ||
            f->C_Sign(sess[th], input.data(), input.size(), sig.data(), &len) != CKR_OK)
            return Bytes();
        sig.resize(len);
        return sig;
    }, sigs);
}

// --- through OpenSSL: secsf, libp11, software -----------------------------------

Bytes pkeySign(EVP_PKEY *k, const Opts &o, const Bytes &dg) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(nullptr, k, nullptr);
    const char *md = o.alg == "ec384" ? "SHA384" : "SHA256";
    Bytes sig(512);
    size_t len = sig.size();
    bool ok = EVP_PKEY_sign_init(c) > 0 && EVP_PKEY_CTX_set_signature_md(c, EVP_get_digestbyname(md)) > 0;
    if (ok && isPss(o.alg))
        ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_DIGEST) > 0;
    ok = ok && EVP_PKEY_sign(c, sig.data(), &len, dg.data(), dg.size()) > 0;
    EVP_PKEY_CTX_free(c);
    if (!ok) return {};
    sig.resize(len);
    return sig;
}

Bytes digestSign(EVP_PKEY *k, const Opts &o) {
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = nullptr;
    Bytes sig(512);
    size_t len = sig.size();
    bool ok = EVP_DigestSignInit_ex(m, &pc, o.alg == "ec384" ? "SHA384" : "SHA256", nullptr, nullptr, k, nullptr) > 0;
    if (ok && isPss(o.alg))
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) > 0;
    ok = ok && EVP_DigestSign(m, sig.data(), &len, (const unsigned char *)kMsg, strlen(kMsg)) > 0;
    EVP_MD_CTX_free(m);
    if (!ok) return {};
    sig.resize(len);
    return sig;
}

double runOpenSSL(const Opts &o, std::vector<Bytes> &sigs) {
    std::string label = (o.alg == "rsa-pss") ? "bench-rsa" : "bench-" + o.alg;
    std::string uri = "pkcs11:token=bench;object=" + label + ";type=private";
    EVP_PKEY *k = nullptr;
    if (o.mode == "secsf-tpm-file") uri = "tpm2:file=" + o.work + "/tpm-ec256.tpm2";
    if (o.mode == "secsf-tpm-handle") uri = "tpm2:handle=0x81000020";
    if (o.mode == "tpm2-openssl") {
        // The peer provider, alone in its process, on the same swtpm and key.
        if (!OSSL_PROVIDER_load(nullptr, "tpm2") || !OSSL_PROVIDER_load(nullptr, "default")) exit(9);
        k = loadStore("handle:0x81000020");
    } else if (o.mode == "libp11") {
        ENGINE_load_builtin_engines();
        ENGINE *e = ENGINE_by_id("pkcs11");
        if (!e || !ENGINE_ctrl_cmd_string(e, "MODULE_PATH", o.module.c_str(), 0) ||
            !ENGINE_ctrl_cmd_string(e, "PIN", "1234", 0) || !ENGINE_init(e))
            exit(7);
        k = ENGINE_load_private_key(e, uri.c_str(), nullptr, nullptr);
    } else if (o.mode == "software") {
        std::string path = o.work + "/" + o.alg.substr(0, o.alg == "rsa-pss" ? 3 : o.alg.size()) + ".soft.pem";
        k = loadStore(path);
    } else if (!k) {
        k = loadStore(uri);
    }
    if (!k) {
        ERR_print_errors_fp(stderr);
        exit(8);
    }
    const char *md = o.alg == "ec384" ? "SHA384" : "SHA256";
    Bytes dg = digestOf(kMsg, md);
    if (o.mode == "secsf-digestsign" || o.mode == "tpm2-openssl")
        return timed(o, [&](int) { return digestSign(k, o); }, sigs);
    return timed(o, [&](int) { return pkeySign(k, o, dg); }, sigs);
}

int child(const Opts &o) {
    std::vector<Bytes> sigs;
    double rate;
    if (o.mode == "raw-token" || o.mode == "raw-copy") rate = runRaw(o, o.mode == "raw-copy", sigs);
    else rate = runOpenSSL(o, sigs);
    bool ok = o.mode == "software" ? true : verifyAll(o, sigs, o.mode != "raw-token" && o.mode != "raw-copy");
    printf("%.1f %zu %d\n", rate, sigs.size(), ok ? 1 : 0);
    fflush(stdout);
    _exit(ok ? 0 : 2);
}

}  // namespace

// Wall time of one whole command, in milliseconds.
double wallMs(const std::string &cmd) {
    auto t0 = Clock::now();
    int st = std::system((cmd + " >/dev/null").c_str());
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    return st == 0 ? ms : -1;
}

// A whole process from start to its first verified signature, each path in turn.
int coldStart(const char *self, const Opts &o) {
    int reps = atoi(env("BENCH_COLD_REPS", "15").c_str());
    std::string w = o.work;
    std::string dg = w + "/digest.bin";
    std::system(("printf '%s' '" + std::string(kMsg) + "' | OPENSSL_CONF=/dev/null openssl dgst -sha256 -binary >" + dg).c_str());
    std::string uri = "'pkcs11:token=bench;object=bench-ec256;type=private'";
    std::vector<std::pair<std::string, std::string>> paths = {
        {"raw PKCS#11", "OPENSSL_CONF=/dev/null '" + std::string(self) + "' --child raw-copy ec256 1 0"},
        {"secsf (EVP_PKEY_sign)", "'" + std::string(self) + "' --child secsf-sign ec256 1 0"},
        {"libp11 engine", "OPENSSL_CONF=/dev/null '" + std::string(self) + "' --child libp11 ec256 1 0"},
        {"PEM key, default provider", "OPENSSL_CONF=/dev/null '" + std::string(self) + "' --child software ec256 1 0"},
        {"openssl pkeyutl -inkey pkcs11:... (secsf)", "openssl pkeyutl -sign -inkey " + uri + " -in " + dg},
        {"openssl pkeyutl -inkey key.pem (default)",
         "OPENSSL_CONF=/dev/null openssl pkeyutl -sign -inkey " + w + "/ec256.soft.pem -in " + dg},
    };
    std::map<std::string, std::vector<double>> t;
    bool ok = true;
    for (int r = 0; r < reps; r++)
        for (auto &[name, cmd] : paths) {
            double ms = wallMs(cmd);
            if (ms < 0) ok = false;
            t[name].push_back(ms);
        }
    printf("\nCold start: one whole process to its first signature (ms, median of %d, EC P-256)\n\n", reps);
    double raw = median(t["raw PKCS#11"]);
    for (auto &[name, cmd] : paths) {
        double m = median(t[name]);
        printf("  %-44s %8.2f ms   %+7.2f ms vs raw PKCS#11\n", name.c_str(), m, m - raw);
    }
    printf("\ntarget: secsf within 1 ms of the raw PKCS#11 process; all runs succeeded: %s\n", ok ? "yes" : "NO");
    return ok ? 0 : 1;
}

// The TPM paths on one swtpm: secsf (wrapped and persistent key) and tpm2-openssl.
int tpmBench(const char *self, const Opts &o) {
    int reps = atoi(env("BENCH_REPS", "5").c_str());
    std::string ms = env("BENCH_MS", "600");
    std::vector<std::string> modes = {"secsf-tpm-file", "secsf-tpm-handle", "tpm2-openssl"};
    printf("\nTPM signing, EC P-256 on swtpm (signatures/s, median of %d; every signature verified)\n\n", reps);
    printf("%-4s %16s %18s %14s | %s\n", "thr", "secsf (wrapped)", "secsf (persistent)", "tpm2-openssl",
           "secsf persistent / tpm2-openssl");
    bool allOk = true;
    for (int threads : {1, 2}) {
        std::map<std::string, std::vector<double>> rates;
        for (int r = 0; r < reps; r++)
            for (const std::string &m : modes) {
                std::string cmd = std::string("'") + self + "' --child " + m + " ec256 " + std::to_string(threads) + " " + ms;
                if (m == "tpm2-openssl") cmd = "OPENSSL_CONF=/dev/null " + cmd;
                FILE *p = popen(cmd.c_str(), "r");
                double rate = 0;
                size_t n = 0;
                int ok = 0;
                if (!p || fscanf(p, "%lf %zu %d", &rate, &n, &ok) != 3) ok = 0;
                bool good = (p ? pclose(p) : -1) == 0 && ok;
                // The peer failing is a result to report; only secsf's paths must pass.
                if (!good && m != "tpm2-openssl") allOk = false;
                rates[m].push_back(good ? rate : 0);
            }
        double peer = median(rates["tpm2-openssl"]);
        char peerText[32];
        snprintf(peerText, sizeof peerText, peer > 0 ? "%.0f" : "fails", peer);
        printf("%-4d %16.0f %18.0f %14s | ", threads, median(rates["secsf-tpm-file"]),
               median(rates["secsf-tpm-handle"]), peerText);
        if (peer > 0) printf("%.2f\n", median(rates["secsf-tpm-handle"]) / peer);
        else printf("-\n");
    }
    printf("\nall signatures verified: %s\n", allOk ? "yes" : "NO");
    return allOk ? 0 : 1;
}

// Key lookup by URI as the token fills up: first lookup in a process and repeated
// lookups, with 10, 1,000 and 10,000 other objects on the token (data objects,
// created with raw PKCS#11 in a process of their own).
void addObjects(const Opts &o, int total) {
    RawToken rt = openRaw(o.module);
    CK_FUNCTION_LIST *f = rt.f;
    CK_SESSION_HANDLE s = rt.login;
    CK_ULONG n = 0;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    std::vector<CK_OBJECT_HANDLE> have(20000);
    CK_ATTRIBUTE q[] = {{CKA_CLASS, &cls, sizeof cls}};
    f->C_FindObjectsInit(s, q, 1);
    f->C_FindObjects(s, have.data(), have.size(), &n);
    f->C_FindObjectsFinal(s);
    for (int i = (int)n; i < total; i++) {
        std::string label = "filler-" + std::to_string(i);
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_TOKEN, &yes, sizeof yes},
                            {CKA_LABEL, (void *)label.data(), label.size()},
                            {CKA_VALUE, (void *)label.data(), label.size()}};
        CK_OBJECT_HANDLE h;
        if (f->C_CreateObject(s, t, 4, &h) != CKR_OK) exit(5);
    }
    _exit(0);
}

int lookupChild(const Opts &o, int repeats) {
    std::string uri = "pkcs11:token=bench;object=bench-ec256;type=private";
    auto t0 = Clock::now();
    EVP_PKEY *k = loadStore(uri);
    double first = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (!k) exit(6);
    EVP_PKEY_free(k);
    t0 = Clock::now();
    for (int i = 0; i < repeats; i++) {
        k = loadStore(uri);
        if (!k) exit(7);
        EVP_PKEY_free(k);
    }
    double again = std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / repeats;
    printf("%.3f %.3f\n", first, again);
    return 0;
}

int scaleBench(const char *self, const Opts &o) {
    printf("\nKey lookup by URI with other objects on the token (ms; median of 5 processes)\n\n");
    printf("%8s %14s %16s\n", "objects", "first lookup", "repeated lookup");
    for (int total : {10, 1000, 10000}) {
        std::string fill = "OPENSSL_CONF=/dev/null '" + std::string(self) + "' --fill " + std::to_string(total);
        if (std::system(fill.c_str()) != 0) return 1;
        std::vector<double> first, again;
        for (int r = 0; r < 5; r++) {
            FILE *p = popen((std::string("'") + self + "' --lookup 20").c_str(), "r");
            double a = 0, b = 0;
            if (!p || fscanf(p, "%lf %lf", &a, &b) != 2) return 1;
            pclose(p);
            first.push_back(a);
            again.push_back(b);
        }
        printf("%8d %14.2f %16.2f\n", total, median(first), median(again));
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv) {
    Opts o;
    o.work = env("BENCH_WORK", "bench-work");
    o.module = env("SOFTHSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so");
    if (argc >= 5 && std::string(argv[1]) == "--child") {
        o.mode = argv[2];
        o.alg = argv[3];
        o.threads = atoi(argv[4]);
        if (argc >= 6) o.ms = atoi(argv[5]);
        return child(o);
    }
    if (argc >= 2 && std::string(argv[1]) == "--cold") return coldStart(argv[0], o);
    if (argc >= 2 && std::string(argv[1]) == "--tpm") return tpmBench(argv[0], o);
    if (argc >= 3 && std::string(argv[1]) == "--fill") addObjects(o, atoi(argv[2]));
    if (argc >= 3 && std::string(argv[1]) == "--lookup") return lookupChild(o, atoi(argv[2]));
    if (argc >= 2 && std::string(argv[1]) == "--scale") return scaleBench(argv[0], o);
    int reps = atoi(env("BENCH_REPS", "5").c_str());
    std::string ms = env("BENCH_MS", "600");
    std::vector<std::string> modes = {"raw-token", "raw-copy", "secsf-sign", "secsf-digestsign", "libp11", "software"};
    std::vector<std::string> algs = {"ec256", "ec384", "rsa", "rsa-pss"};
    printf("Signing throughput (signatures/s, median of %d interleaved runs of %s ms; every signature verified)\n\n", reps, ms.c_str());
    printf("%-8s %3s %10s %10s %10s %12s %10s %10s | %9s %9s\n", "key", "thr", "raw-token", "raw-copy",
           "secsf", "secsf-dsign", "libp11", "software", "secsf/copy", "libp11/copy");
    bool allVerified = true;
    for (const std::string &alg : algs)
        for (int threads : {1, 2}) {
            std::map<std::string, std::vector<double>> rates;
            for (int r = 0; r < reps; r++)
                for (const std::string &m : modes) {
                    std::string cmd = std::string("'") + argv[0] + "' --child " + m + " " + alg + " " +
                                      std::to_string(threads) + " " + ms;
                    // raw paths run without any provider configuration in the process
                    if (m == "raw-token" || m == "raw-copy" || m == "libp11" || m == "software")
                        cmd = "OPENSSL_CONF=/dev/null " + cmd;
                    FILE *p = popen(cmd.c_str(), "r");
                    double rate = 0;
                    size_t n = 0;
                    int ok = 0;
                    if (!p || fscanf(p, "%lf %zu %d", &rate, &n, &ok) != 3) ok = 0;
                    int st = p ? pclose(p) : -1;
                    if (!ok || st != 0) {
                        allVerified = false;
                        fprintf(stderr, "%s %s x%d: failed or unverified\n", m.c_str(), alg.c_str(), threads);
                    }
                    rates[m].push_back(rate);
                }
            double copy = median(rates["raw-copy"]);
            printf("%-8s %3d %10.0f %10.0f %10.0f %12.0f %10.0f %10.0f | %9.2f %9.2f\n", alg.c_str(), threads,
                   median(rates["raw-token"]), copy, median(rates["secsf-sign"]),
                   median(rates["secsf-digestsign"]), median(rates["libp11"]), median(rates["software"]),
                   copy > 0 ? median(rates["secsf-sign"]) / copy : 0,
                   copy > 0 ? median(rates["libp11"]) / copy : 0);
            fflush(stdout);
        }
    printf("\ntarget: secsf >= 0.95 x raw-copy on 1 and 2 threads; all signatures verified: %s\n",
           allVerified ? "yes" : "NO");
    return allVerified ? 0 : 1;
}
