// secsf check: walks the configuration the way a user debugging it would, one line
// per finding, each problem with its fix. Exit 0 when nothing is wrong, 1 otherwise.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include <algorithm>
#include <cstdio>

#include "../services/openssl_error.h"
#include "../pkcs11/pin.h"
#include "../se-plugins/config_values.h"
#include "../se-plugins/registry_config.h"
#include "cli.h"
#include "secsf/error.h"

namespace secsf::cli {

namespace {

struct Finding {
    bool ok;
    std::string what, why, fix;
};

class Report {
public:
    void ok(const std::string &what) { f_.push_back({true, what, "", ""}); }
    void problem(const std::string &what, const std::string &why, const std::string &fix) {
        f_.push_back({false, what, why, fix});
    }
    int print(bool json) const {
        int problems = (int)std::count_if(f_.begin(), f_.end(), [](const Finding &f) { return !f.ok; });
        if (json) {
            Json out = Json::array();
            for (auto &f : f_) {
                Json j = {{"ok", f.ok}, {"check", f.what}};
                if (!f.ok) j["problem"] = f.why, j["fix"] = f.fix;
                out.push_back(j);
            }
            printf("%s\n", out.dump(2).c_str());
        } else {
            for (auto &f : f_) {
                if (f.ok) printf("ok       %s\n", f.what.c_str());
                else printf("PROBLEM  %s: %s\n         fix: %s\n", f.what.c_str(), f.why.c_str(), f.fix.c_str());
            }
            printf("%d problem%s found\n", problems, problems == 1 ? "" : "s");
        }
        return problems ? kFailed : kOk;
    }

private:
    std::vector<Finding> f_;
};


void checkPinSource(Report &r, const std::string &key, const std::string &source, const std::string &what) {
    if (source.empty()) return;
    try {
        SecureString pin = p11::PinSource::fromSource(source).read();
        if (pin.str().empty()) throw Error(Reason::PinRequired, "it is empty");
        r.ok(key + " " + source + " is readable");
    } catch (const Error &e) {
        r.problem(key + " " + source, e.what(),
                  "create it holding " + what + " on one line, readable by this service's user only (chmod 600), "
                  "or point " + key + " at the right place");
    }
}

std::string fixFor(const SePlugin &p, const Error &e, const ConfigFile &cfg) {
    std::string m = e.what();
    if (p.handlesUri("pkcs11:")) {
        switch (e.reason()) {
        case Reason::PinIncorrect: return "put the token's user PIN in " + cfg.get("pkcs11-pin-source");
        case Reason::PinLocked: return "unblock the user PIN with the SO PIN (pkcs11-tool --init-pin --login --login-type so)";
        case Reason::PinRequired:
            return "set pkcs11-pin-source = file:/path/to/pin for the token pkcs11-token names, and "
                   "pkcs11-token-pin-sources = LABEL=file:/path for others";
        default: break;
        }
        if (m.find("not present") != std::string::npos || m.find("no token") != std::string::npos)
            return "list the tokens this user sees (pkcs11-tool --module " + cfg.get("pkcs11-module-path") +
                   " -L) and set pkcs11-token to one of them; if the token exists for another user, give this "
                   "user read access to the module's token storage (SoftHSM: directories.tokendir). Do not "
                   "initialise a new token of the same name: it would be a second, empty token";
        if (m.find("several tokens") != std::string::npos) return "set pkcs11-token to the token's label or pkcs11:serial=...";
        return "check pkcs11-module-path and the token (pkcs11-tool --module " + cfg.get("pkcs11-module-path") + " -L)";
    }
    if (p.handlesUri("tpm2:"))
        return "check tpm2-tcti (" + cfg.get("tpm2-tcti") + "): is the TPM, its resource manager or swtpm running, "
               "and may this user open it?";
    if (m.find("pcscd") != std::string::npos) return "start pcscd (systemctl start pcscd.socket)";
    if (m.find("no card reader matches") != std::string::npos || m.find("is gone") != std::string::npos)
        return "plug in the reader or set pcsc-reader to a pattern matching one of the readers listed";
    if (m.find("removed") != std::string::npos || m.find("no card") != std::string::npos) return "insert the card";
    if (e.reason() == Reason::PinIncorrect || e.reason() == Reason::PinLocked)
        return "put the card PIN in " + cfg.get("pcsc-pin-source") + " (unblock a blocked PIN with the PUK)";
    return "check the reader and the card (opensc-tool -l, opensc-tool -n)";
}

}  // namespace

int cmdCheck(Context &c, const Args &a) {
    parseOptions(a, {}, {});
    Report r;
    r.ok("configuration " + c.config.path + " has secsf's section [" + c.config.section + "]");
    // Keys nobody reads are usually typos.
    const auto &known = configKeys();
    for (auto &[k, v] : c.config.keys)
        if (k != "module" && k != "activate" && k != "identity" &&
            std::find(known.begin(), known.end(), k) == known.end())
            r.problem("key '" + k + "' in [" + c.config.section + "]", "secsf does not know it",
                      "fix the spelling or remove it (known keys: see `secsf --help`)");

    // The provider, loaded the way OpenSSL will, in a library context of its own.
    OSSL_LIB_CTX *lib = OSSL_LIB_CTX_new();
    if (OSSL_LIB_CTX_load_config(lib, c.config.path.c_str()) == 1 && OSSL_PROVIDER_available(lib, "secsf"))
        r.ok("the secsf provider loads (" + (c.config.get("module").empty() ? std::string("from OpenSSL's modules directory")
                                                                             : c.config.get("module")) + ")");
    else
        r.problem("loading the secsf provider", svc::takeOpensslError(),
                  "set module = the path of secsf.so in [" + c.config.section +
                      "], or install it into OpenSSL's modules directory (make install; openssl version -m)");
    OSSL_LIB_CTX_free(lib);

    if (!c.registryError.empty()) {
        r.problem("the Secure Environments of [" + c.config.section + "]", c.registryError,
                  "correct the key it names (pkcs11-module-path must be a PKCS#11 module that exists)");
        return r.print(c.json);
    }
    if (c.registry.empty())
        r.problem("Secure Environments", "none is configured",
                  "add pkcs11-module-path (and pkcs11-token, pkcs11-pin-source), tpm2-tcti or pcsc-reader");
    checkPinSource(r, "pkcs11-pin-source", c.config.get("pkcs11-pin-source"), "the token's user PIN");
    for (auto &[label, source] : parseTokenPinSources("pkcs11-token-pin-sources", c.config.get("pkcs11-token-pin-sources")))
        checkPinSource(r, "pkcs11-token-pin-sources (" + label + ")", source, "token " + label + "'s user PIN");
    checkPinSource(r, "tpm2-owner-auth-source", c.config.get("tpm2-owner-auth-source"), "the owner authorization");
    for (auto &source : parseList(c.config.get("tpm2-auth-sources")))
        checkPinSource(r, "tpm2-auth-sources", source, "a TPM key's authorization value");
    checkPinSource(r, "pcsc-pin-source", c.config.get("pcsc-pin-source"), "the card PIN");
    checkPinSource(r, "pcsc-management-key-source", c.config.get("pcsc-management-key-source"), "the management key in hex");
    for (auto &p : c.registry.all()) {
        std::string name = "SE '" + p->name() + "'";
        try {
            p->checkAccess();  // module, token and login; TPM; reader and card
            r.ok(name + ": " + p->info().device + (p->handlesUri("pkcs11:") ? " present, the PIN is accepted" : " present"));
        } catch (const Error &e) {
            r.problem(name, e.what(), fixFor(*p, e, c.config));
            continue;
        }
        uint32_t caps = p->capabilities();
        std::string missing;
        for (auto [bit, what] : {std::pair{CapKeyGen, "key generation"}, std::pair{CapSign, "signing"}})
            if (!(caps & bit)) missing += (missing.empty() ? "" : ", ") + std::string(what);
        if (p->handlesUri("pkcs11:") && !(caps & CapHmac)) missing += (missing.empty() ? "" : ", ") + std::string("HMAC (TS-0003 derivations)");
        if (missing.empty()) r.ok(name + ": mechanisms for " + capabilityNames(caps));
        else r.problem(name + ": mechanisms", "missing " + missing, "use a token or HMAC-capable HSM that offers them (pkcs11-tool -M)");
    }
    if (!c.config.get("access-policy").empty()) r.ok("access policy " + c.config.get("access-policy") + " is valid");
    return r.print(c.json);
}

}  // namespace secsf::cli
