#include "fixture.h"

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace testfix {

namespace {
std::string gWork;

void run(const std::string &cmd) {
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("fixture command failed: " + cmd);
}

std::string env(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}
}  // namespace

const std::string &workDir() { return gWork; }
std::string softhsmModule() { return env("SOFTHSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so"); }
std::string pinFile(const std::string &token) { return gWork + "/" + token + ".pin"; }

void globalSetUp() {
    std::string base = env("TEST_WORKDIR", "work");
    std::string prog = env("TEST_NAME", "unit");
    char buf[64];
    snprintf(buf, sizeof buf, "/unit.%d", (int)getpid());
    gWork = base + buf;
    std::string module = softhsmModule();
    run("rm -rf '" + gWork + "' && mkdir -p '" + gWork + "/tokens'");
    {
        std::ofstream c(gWork + "/softhsm2.conf");
        c << "directories.tokendir = " << gWork << "/tokens\nobjectstore.backend = file\n"
          << "log.level = ERROR\n";
    }
    setenv("SOFTHSM2_CONF", (gWork + "/softhsm2.conf").c_str(), 1);
    for (auto [label, pin] : {std::pair{"node1", "1234"}, std::pair{"node2", "5678"}}) {
        run(std::string("OPENSSL_CONF=/dev/null softhsm2-util --init-token --free --label ") +
            label + " --so-pin 87654321 --pin " + pin + " >/dev/null");
        std::ofstream(pinFile(label)) << pin << "\n";
        chmod(pinFile(label).c_str(), 0600);  // secsf refuses secrets others can read
    }
    {
        std::ofstream c(gWork + "/openssl.cnf");
        if (&secsf_test_needs_swtpm && secsf_test_needs_swtpm) startSwtpm();
        c << "openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n"
          << "[provider_sect]\ndefault = default_sect\nsecsf = secsf_sect\n"
          << "[default_sect]\nactivate = 1\n[secsf_sect]\n"
          << "module = " << env("SECSF_MODULE", "secsf") << "\nactivate = 1\n"
          << "pkcs11-module-path = " << module << "\npkcs11-token = node1\n"
          << "pkcs11-pin-source = file:" << pinFile("node1") << "\n";
        if (&secsf_test_needs_swtpm && secsf_test_needs_swtpm)
            c << "tpm2-tcti = swtpm:path=" << gWork << "/tpm/sock\n";
    }
    if (&secsf_test_needs_card && secsf_test_needs_card) startCardReader();
    setenv("OPENSSL_CONF", (gWork + "/openssl.cnf").c_str(), 1);
}

void startSwtpm() {
    std::string d = gWork + "/tpm";
    run("mkdir -p '" + d + "/state' && swtpm socket --tpm2 --server type=unixio,path=" + d +
        "/sock --ctrl type=unixio,path=" + d + "/sock.ctrl --tpmstate dir=" + d +
        "/state --flags not-need-init,startup-clear --daemon --pid file=" + d + "/pid");
    run("for i in $(seq 100); do swtpm_ioctl --unix '" + d + "/sock.ctrl' -g >/dev/null 2>&1 && exit 0; "
        "sleep 0.05; done; exit 1");
}

std::string cardDir() { return gWork + "/card"; }

int pcscShell(const std::string &script) {
    std::string lib = env("srcdir", ".") + "/lib/pcsc.sh";
    std::string cmd = "bash -c '. \"" + lib + "\"; export PCSCLITE_CSOCK_NAME=\"" + cardDir() +
                      "/run/pcscd.comm\"; " + script + "' >>'" + gWork + "/pcsc.log' 2>&1";
    return std::system(cmd.c_str());
}

void startCardReader() {
    setenv("PCSCLITE_CSOCK_NAME", (cardDir() + "/run/pcscd.comm").c_str(), 1);
    run("mkdir -p '" + cardDir() + "'");
    if (pcscShell("pcsc_start \"" + cardDir() + "\" && card_insert \"" + cardDir() + "\" --trace \"" +
                  cardDir() + "/trace\"") != 0)
        throw std::runtime_error("pcscd with the test card did not start (see " + gWork + "/pcsc.log)");
}

void stopCardReader() { pcscShell("pcsc_stop \"" + cardDir() + "\""); }

void stopSwtpm() {
    std::string d = gWork + "/tpm";
    std::system(("swtpm_ioctl --unix '" + d + "/sock.ctrl' -s >/dev/null 2>&1; "
                 "p=$(cat '" + d + "/pid' 2>/dev/null) && for i in $(seq 50); do kill -0 $p 2>/dev/null || break; "
                 "sleep 0.05; done; rm -f '" + d + "/pid'").c_str());
}

void globalTearDown(bool success) {
    if (&secsf_test_needs_swtpm && secsf_test_needs_swtpm) stopSwtpm();
    if (&secsf_test_needs_card && secsf_test_needs_card) stopCardReader();
    if (success && !getenv("KEEP_WORK")) run("rm -rf '" + gWork + "'");
}

std::string errors() {
    std::string out;
    unsigned long e;
    const char *data = nullptr;
    int flags = 0;
    while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += buf;
        if (data && (flags & ERR_TXT_STRING)) out += std::string(": ") + data;
        out += "\n";
    }
    return out;
}

EVP_PKEY *loadKey(const std::string &uri) {
    OSSL_STORE_CTX *s = OSSL_STORE_open(uri.c_str(), nullptr, nullptr, nullptr, nullptr);
    if (!s) return nullptr;
    EVP_PKEY *key = nullptr;
    while (!key && !OSSL_STORE_eof(s)) {
        OSSL_STORE_INFO *info = OSSL_STORE_load(s);
        if (!info) break;
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            key = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(s);
    return key;
}

EVP_PKEY *genEcKey(const std::string &label, const std::string &where) {
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(nullptr, "EC", "provider=secsf");
    EVP_PKEY *key = nullptr;
    // Test cases of one program share the token and may make a label again; what
    // they look up they hold as a key, not by its label.
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0),
        OSSL_PARAM_construct_utf8_string("secsf.label", (char *)label.c_str(), 0),
        OSSL_PARAM_construct_utf8_string("secsf.allow-duplicate-label", (char *)"1", 0),
        OSSL_PARAM_construct_utf8_string("secsf.uri", (char *)where.c_str(), 0),
        OSSL_PARAM_construct_end()};
    if (where.empty()) p[3] = OSSL_PARAM_construct_end();
    if (c && EVP_PKEY_keygen_init(c) > 0 && EVP_PKEY_CTX_set_params(c, p) > 0)
        EVP_PKEY_generate(c, &key);
    EVP_PKEY_CTX_free(c);
    return key;
}

Bytes sign(EVP_PKEY *key, const char *md, const std::string &data) {
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t len = 0;
    Bytes sig;
    if (EVP_DigestSignInit_ex(m, nullptr, md, nullptr, nullptr, key, nullptr) > 0 &&
        EVP_DigestSign(m, nullptr, &len, (const unsigned char *)data.data(), data.size()) > 0) {
        sig.resize(len);
        if (EVP_DigestSign(m, sig.data(), &len, (const unsigned char *)data.data(), data.size()) > 0)
            sig.resize(len);
        else
            sig.clear();
    }
    EVP_MD_CTX_free(m);
    return sig;
}

EVP_PKEY *publicOnly(EVP_PKEY *key) {
    unsigned char *der = nullptr;
    int len = i2d_PUBKEY(key, &der);
    const unsigned char *p = der;
    EVP_PKEY *pub = len > 0 ? d2i_PUBKEY_ex(nullptr, &p, len, nullptr, "provider=default") : nullptr;
    OPENSSL_free(der);
    return pub;
}

bool verifyWithDefault(EVP_PKEY *key, const char *md, const std::string &data, const Bytes &sig) {
    EVP_PKEY *pub = publicOnly(key);
    if (!pub) return false;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit_ex(m, nullptr, md, nullptr, "provider=default", pub, nullptr) > 0 &&
              EVP_DigestVerify(m, sig.data(), sig.size(), (const unsigned char *)data.data(),
                               data.size()) == 1;
    EVP_MD_CTX_free(m);
    EVP_PKEY_free(pub);
    return ok;
}

std::string providerOf(EVP_PKEY *key) {
    const OSSL_PROVIDER *p = EVP_PKEY_get0_provider(key);
    return p ? OSSL_PROVIDER_get0_name(p) : "(legacy)";
}

}  // namespace testfix
