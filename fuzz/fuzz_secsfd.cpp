// libFuzzer target for secsfd's request path: Api::handle, behind the HTTP parser
// (Boost.Beast's, not ours), with a real SoftHSM2 token made at start in a private
// directory. An input is a peer byte (a mapped caller, another mapped caller, an
// unmapped uid, or a TLS client with one, several or no certificate names), then a
// request in text:
//   METHOD TARGET\n
//   Header-Name: value\n ...
//   \n
//   body
// The invariants: handle() returns (nothing escapes), with an HTTP status and an
// X-M2M-RSC that go together, a JSON body for JSON answers, and no PIN in any answer.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "../daemon/api.h"
#include "../services/jose.h"

namespace {

using namespace secsf::daemon;

std::unique_ptr<Api> gApi;
std::string gDir;  // removed at exit

void removeWorkDir() {
    // The token stays open (SoftHSM is not finalised at exit); its files can go.
    if (!gDir.empty()) (void)!system(("rm -rf '" + gDir + "'").c_str());
}

void must(bool ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_secsfd: cannot %s\n", what);
        abort();
    }
}

void setUp() {
    // The audit log is fsync'ed per request: keep the state on tmpfs where there is one.
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char tmpl[64];
    snprintf(tmpl, sizeof tmpl, "%s/fuzz-secsfd.XXXXXX", base.c_str());
    must(mkdtemp(tmpl) != nullptr, "make a work directory");
    std::string dir = tmpl;
    gDir = dir;
    atexit(removeWorkDir);
    mkdir((dir + "/tokens").c_str(), 0700);
    mkdir((dir + "/state").c_str(), 0700);
    std::ofstream(dir + "/softhsm2.conf") << "directories.tokendir = " << dir << "/tokens\nobjectstore.backend = file\n";
    setenv("SOFTHSM2_CONF", (dir + "/softhsm2.conf").c_str(), 1);
    must(system("softhsm2-util --init-token --free --label node1 --pin 1234 --so-pin 5678 >/dev/null 2>&1") == 0,
         "make a SoftHSM2 token (softhsm2-util)");
    std::ofstream(dir + "/node1.pin") << "1234\n";
    chmod((dir + "/node1.pin").c_str(), 0600);
    // The audit checkpoints: a software key file, so the fuzzer needs no provider.
    EVP_PKEY *k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    FILE *f = fopen((dir + "/audit.pem").c_str(), "w");
    must(k && f && PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr) == 1, "write the audit key");
    fclose(f);
    EVP_PKEY_free(k);
    std::ofstream(dir + "/policy.json")
        << R"({"rules": [{"id": "a-reads-b", "entity": "CAE-a", "function": "storage.get", "object": "CAE-b/*", "effect": "allow"}]})";
    secsf::ConfigFile cfg;
    cfg.path = dir + "/openssl.cnf";
    cfg.section = "secsf_sect";
    cfg.keys = {{"pkcs11-module-path", "/usr/lib/softhsm/libsofthsm2.so"},
                {"pkcs11-token", "node1"},
                {"pkcs11-pin-source", "file:" + dir + "/node1.pin"},
                {"secsfd-callers", "uid:1000=CAE-a, uid:1001=CAE-b, gid:2000=/cse-in"},
                {"secsfd-state-dir", dir + "/state"},
                {"secsfd-audit-key", dir + "/audit.pem"},
                {"access-policy", dir + "/policy.json"}};
    gApi = std::make_unique<Api>(cfg);
}

Peer peerFor(uint8_t b) {
    Peer p;
    p.pid = 4242;
    p.uid = (uid_t)(1000 + b % 3);  // 1002 is unmapped ...
    p.gid = (gid_t)(b & 0x80 ? 2000 : 3000);  // ... unless its group is
    if (b & 0x40) {  // over TLS: the certificate's URI names decide, not the uid
        p.tls = true;
        switch ((b >> 2) % 4) {
        case 0: p.certificateIds = {"CAE-a"}; break;
        case 1: p.certificateIds = {"/cse-in"}; break;
        case 2: p.certificateIds = {"CAE-a", "CAE-b"}; break;
        default: break;  // none
        }
    }
    return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!gApi) setUp();
    if (size < 2) return 0;
    std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
    ApiRequest req;
    size_t eol = text.find('\n');
    std::string line = text.substr(0, eol);
    size_t sp = line.find(' ');
    req.method = line.substr(0, sp);
    req.target = sp == std::string::npos ? "" : line.substr(sp + 1);
    size_t at = eol == std::string::npos ? text.size() : eol + 1;
    while (at < text.size()) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string h = text.substr(at, end - at);
        at = end + 1;
        if (h.empty()) break;
        size_t colon = h.find(':');
        if (colon == std::string::npos) continue;
        std::string name = h.substr(0, colon);
        for (char &c : name) c = (char)tolower((unsigned char)c);
        req.headers.emplace(name, h.substr(colon + 1 + (colon + 1 < h.size() && h[colon + 1] == ' ')));
    }
    if (at < text.size()) req.body = text.substr(at);
    // RSA keys of up to 8192 bits are legal and take the token seconds: not worth the time.
    if (req.method == "PUT" && req.target.rfind("/keys", 0) == 0 && req.body.find("rsa") != std::string::npos) return 0;

    ApiResponse r = gApi->handle(req, peerFor(data[0]));

    bool paired = (r.status < 300 && r.rsc >= 2000 && r.rsc < 3000) || (r.status >= 400 && r.rsc >= 4000);
    if (!paired || r.status < 200 || r.status > 599) {
        fprintf(stderr, "HTTP %d with X-M2M-RSC %d\n", r.status, r.rsc);
        abort();
    }
    if (r.contentType == "application/json") {
        try {
            secsf::svc::parseJson(r.body);
        } catch (...) {
            fprintf(stderr, "a JSON answer that is not JSON: %s\n", r.body.c_str());
            abort();
        }
    }
    if (r.body.find("1234") != std::string::npos && text.find("1234") == std::string::npos &&
        r.contentType == "application/json" && r.body.find("\"error\"") != std::string::npos) {
        fprintf(stderr, "an error that may hold the PIN: %s\n", r.body.c_str());
        abort();
    }
    return 0;
}
