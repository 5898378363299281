#include "pkcs11_plugin.h"

#include <climits>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

#include "../../pkcs11/mechanisms.h"
#include "../../pkcs11/objects.h"
#include "../../pkcs11/rv.h"
#include "../../pkcs11/uri.h"
#include "secsf/device_call.h"
#include "pkcs11_key.h"
#include "pkcs11_pubkey.h"

namespace secsf {

namespace {

std::string basename(const std::string &path) {
    auto s = path.rfind('/');
    return s == std::string::npos ? path : path.substr(s + 1);
}

// "softhsm2" names /usr/lib/softhsm/libsofthsm2.so, as p11-kit's module names do.
bool moduleNameMatches(const std::string &name, const std::string &path) {
    std::string b = basename(path);
    return b == name || b == name + ".so" || b == "lib" + name + ".so";
}

std::string hex(const Bytes &b) {
    static const char *d = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) {
        s += d[c >> 4];
        s += d[c & 15];
    }
    return s;
}

// The object= and id= of a key generation's secsf.uri name the new key, as
// secsf.label and secsf.id do; the two ways must not disagree.
void namedByUri(const std::string &where, std::string &label, Bytes &id) {
    if (where.empty()) return;
    p11::Uri u = p11::Uri::parse(where);
    if (auto c = u.objectClass(); c && *c != CKO_PRIVATE_KEY)
        throw Error(Reason::BadInput, "secsf.uri " + u.redacted() +
                                          " names another object type; a key pair is made as type=private");
    if (auto l = u.label()) {
        if (!label.empty() && label != *l)
            throw Error(Reason::BadInput, "secsf.label '" + label + "' and object= '" + *l +
                                              "' in secsf.uri name the new key differently");
        label = *l;
    }
    if (auto i = u.id()) {
        if (!id.empty() && id != *i)
            throw Error(Reason::BadInput, "secsf.id and id= in secsf.uri name the new key differently");
        id = *i;
    }
}

// A private key already under this label or id would make every reference by it
// ambiguous: refused, naming that key, unless the request allows it.
void refuseDuplicate(p11::Session &s, p11::Token &tok, CK_ATTRIBUTE_TYPE attr, const Bytes &value,
                     const KeyGenRequest &req) {
    if (req.allowDuplicateLabel) return;
    CK_OBJECT_CLASS privc = CKO_PRIVATE_KEY;
    CK_BBOOL yes = CK_TRUE;
    std::vector<CK_ATTRIBUTE> t{{CKA_CLASS, &privc, sizeof privc},
                                {CKA_TOKEN, &yes, sizeof yes},
                                {attr, (void *)value.data(), value.size()}};
    auto found = p11::findObjects(s, t);
    if (found.empty()) return;
    auto id = p11::getBytes(s, found[0], CKA_ID);
    std::string existing = p11::formatUri(tok.label(), tok.serial(), p11::getString(s, found[0], CKA_LABEL),
                                          id ? *id : Bytes{}, CKO_PRIVATE_KEY);
    throw Error(Reason::BadInput,
                tok.describe() + " already holds a private key with this " +
                    (attr == CKA_LABEL ? "label" : "id") + ": " + existing +
                    ". A second one would make references by it ambiguous: choose another " +
                    (attr == CKA_LABEL ? "secsf.label" : "secsf.id") +
                    ", or set secsf.allow-duplicate-label:1 to make it anyway");
}

// " (this process, uid 33, sees: 'node1', 'node2')" for a message about a token
// that is not there: a wrong name and a user who cannot read the token look alike.
std::string visibleTokens(p11::Module &m) {
    std::string names;
    try {
        for (auto &t : m.tokensNow()) names += (names.empty() ? "'" : ", '") + t->label() + "'";
    } catch (const Error &) {
        return "";
    }
    return " (this process, uid " + std::to_string(geteuid()) + ", sees " +
           (names.empty() ? std::string("no initialised token") : names) + ")";
}

}  // namespace

Pkcs11Plugin::Pkcs11Plugin(Pkcs11Config cfg) : cfg_(std::move(cfg)) {
    if (cfg_.modulePath.empty())
        throw Error(Reason::Config, "SE '" + cfg_.name + "' has no pkcs11-module-path");
    if (!cfg_.pinSource.empty()) p11::PinSource::fromSource(cfg_.pinSource);  // validate
    for (auto &[label, source] : cfg_.tokenPinSources) p11::PinSource::fromSource(source);
    if (cfg_.token.compare(0, 7, "pkcs11:") == 0) tokenUri_ = p11::Uri::parse(cfg_.token);
    module_ = p11::Module::get(cfg_.modulePath);
}

bool Pkcs11Plugin::handlesUri(const std::string &uri) const {
    return uri.compare(0, 7, "pkcs11:") == 0;
}

std::vector<std::string> Pkcs11Plugin::declaredSecretSources() const {
    std::vector<std::string> out;
    if (!cfg_.pinSource.empty()) out.push_back(cfg_.pinSource);
    for (auto &[label, source] : cfg_.tokenPinSources) out.push_back(source);
    return out;
}

bool Pkcs11Plugin::isConfiguredToken(const p11::Token &t) const {
    if (cfg_.token.empty()) return false;
    if (tokenUri_) return tokenUri_->matchesToken(t.identity());
    return t.label() == cfg_.token;
}

p11::PinSource Pkcs11Plugin::pinFor(const p11::Token &t) const {
    // Never offer one token's PIN to another (a wrong PIN costs a retry), nor to a
    // token of the same label in another module.
    if (t.module() != module_.get()) return {};
    if (!cfg_.pinSource.empty() && isConfiguredToken(t))
        return p11::PinSource::fromSource(cfg_.pinSource);
    auto it = cfg_.tokenPinSources.find(t.label());
    if (it != cfg_.tokenPinSources.end()) return p11::PinSource::fromSource(it->second);
    return {};
}

std::shared_ptr<p11::Module> Pkcs11Plugin::moduleFor(const p11::Uri &uri) {
    auto mp = uri.modulePath();
    auto mn = uri.moduleName();
    if (!mp && !mn) return module_;
    // Compared as the files they are, so /usr/lib/x/../x/m.so is m.so, but loaded
    // by the path the configuration gives: the URI's text never reaches dlopen().
    auto same = [](const std::string &a, const std::string &b) {
        if (a == b) return true;
        char ra[PATH_MAX], rb[PATH_MAX];
        return realpath(a.c_str(), ra) && realpath(b.c_str(), rb) && strcmp(ra, rb) == 0;
    };
    std::vector<std::string> declared{cfg_.modulePath};
    declared.insert(declared.end(), cfg_.allowedModules.begin(), cfg_.allowedModules.end());
    for (const std::string &path : declared) {
        if (mp && !same(*mp, path)) continue;
        if (mn && !moduleNameMatches(*mn, path)) continue;
        return path == cfg_.modulePath ? module_ : p11::Module::get(path);
    }
    std::string named = mp ? "module-path '" + *mp + "'" : "module-name '" + *mn + "'";
    throw Error(Reason::Config,
                "refusing " + named + " in " + uri.redacted() +
                    ": a key reference may only select a PKCS#11 module the configuration "
                    "declares (pkcs11-module-path " + cfg_.modulePath + ", or one listed in "
                    "pkcs11-allowed-modules" + (cfg_.allowedModules.empty() ? ", which is empty)" : ")"));
}

std::shared_ptr<p11::Token> Pkcs11Plugin::defaultToken() {
    if (!cfg_.token.empty()) {
        auto tokens = module_->tokensWhere([&](const p11::Token &t) { return isConfiguredToken(t); });
        if (!tokens.empty()) return tokens[0];
        throw Error(Reason::NotFound, "configured token '" + cfg_.token + "' is not present in " +
                                          cfg_.modulePath + visibleTokens(*module_));
    }
    auto tokens = module_->tokens();
    if (tokens.size() == 1) return tokens[0];
    throw Error(Reason::Config, tokens.empty()
                                    ? "no token is present in " + cfg_.modulePath
                                    : "module " + cfg_.modulePath +
                                          " has several tokens: set pkcs11-token to pick one");
}

Found Pkcs11Plugin::find(const std::string &text) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    p11::Uri uri = p11::Uri::parse(text);
    std::shared_ptr<p11::Module> module = moduleFor(uri);
    for (int restarts = 0;; restarts++) {
        bool noToken = false;
        try {
            return findIn(module, uri, noToken);
        } catch (const Error &e) {
            // A token read half-rewritten by another process can leave the module in
            // a state only a fresh start mends (see Module::restart), if alone. Not
            // for a missing object: a restart would end the session copies that keep
            // keys loaded before working.
            bool mendable = e.reason() == Reason::DeviceError || noToken;
            if (!mendable || restarts == p11::kMaxRestarts || !module->restart()) throw;
        }
    }
}

Found Pkcs11Plugin::findIn(const std::shared_ptr<p11::Module> &module, const p11::Uri &uri, bool &noToken) {
    if (!uri.matchesModule(module->info()))
        throw Error(Reason::NotFound, "the module " + module->path() + " does not match " +
                                          uri.redacted());

    auto tokens = module->tokensWhere([&](const p11::Token &t) {
        if (!uri.matchesToken(t.identity())) return false;
        CK_SLOT_INFO si{};
        module->fn()->C_GetSlotInfo(t.slot(), &si);
        return uri.matchesSlot(t.slot(), si);
    });
    noToken = tokens.empty();
    if (noToken) throw Error(Reason::NotFound, "no token matches " + uri.redacted() + visibleTokens(*module));

    auto cls = uri.objectClass();
    bool wantPrivate = !cls || *cls == CKO_PRIVATE_KEY;
    if (cls && *cls != CKO_PRIVATE_KEY && *cls != CKO_PUBLIC_KEY && *cls != CKO_CERTIFICATE)
        throw Error(Reason::Unsupported, "secsf loads keys and certificates; " + uri.redacted() +
                                             " names another object type");

    struct Hit {
        std::shared_ptr<p11::Token> token;
        CK_OBJECT_HANDLE h;
        p11::PinSource pin;
    };
    std::vector<Hit> privs, pubs, certs;
    size_t needLogin = 0;
    for (auto &t : tokens)
        if (t->loginRequired()) needLogin++;

    for (auto &t : tokens) {
        p11::PinSource pin;
        if (auto v = uri.pinValue()) pin = p11::PinSource::fromValue(*v);
        else if (auto s = uri.pinSource()) pin = p11::PinSource::fromSource(*s);
        else pin = pinFor(*t);
        if (wantPrivate && t->loginRequired()) {
            // With several candidate tokens, logging in would try one PIN on all.
            if (tokens.size() > 1 && needLogin > 0) {
                if (cls)
                    throw Error(Reason::Ambiguous,
                                uri.redacted() + " matches " + std::to_string(tokens.size()) +
                                    " tokens; add token= to say which one to log in to");
            } else if (pin.present() || cls) {
                t->login(pin);  // throws with the reason (PIN wrong, locked, missing)
            }
        }
        p11::Session s = t->session();
        // Token objects only: session copies (see Token::fastHandle) are not keys of their own.
        CK_BBOOL onToken = CK_TRUE;
        std::vector<CK_ATTRIBUTE> tmpl{{CKA_TOKEN, &onToken, sizeof onToken}};
        auto label = uri.label();
        auto id = uri.id();
        if (label) tmpl.push_back({CKA_LABEL, (void *)label->data(), label->size()});
        if (id) tmpl.push_back({CKA_ID, id->data(), id->size()});
        CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE};
        for (CK_OBJECT_CLASS c : classes) {
            if (cls && *cls != c) continue;
            auto t2 = tmpl;
            t2.push_back({CKA_CLASS, &c, sizeof c});
            for (CK_OBJECT_HANDLE h : p11::findObjectsRemembered(s, t2)) {
                Hit hit{t, h, pin};
                (c == CKO_PRIVATE_KEY ? privs : c == CKO_PUBLIC_KEY ? pubs : certs).push_back(hit);
            }
        }
    }

    auto one = [&](std::vector<Hit> &v, const char *what) {
        if (v.size() > 1)
            throw Error(Reason::Ambiguous, uri.redacted() + " matches " + std::to_string(v.size()) +
                                               " " + what + "; refusing to pick one: add id= or "
                                                            "object= to the URI");
    };
    one(privs, "private keys");
    one(pubs, "public keys");
    one(certs, "certificates");

    auto makeKey = [&](Hit &hit, CK_OBJECT_CLASS c) {
        p11::Session s = hit.token->session();
        PublicKey pub;
        bool hasPub = readPublicKey(s, hit.h, pub);
        if (pub.bits == 0) return std::shared_ptr<SeKey>();  // not an EC or RSA key
        Pkcs11KeyRef ref;
        ref.module = module;
        ref.token = hit.token;
        ref.tokenSerial = hit.token->serial();
        ref.tokenLabel = hit.token->label();
        ref.cls = c;
        ref.handle = hit.h;
        auto id = p11::getBytes(s, hit.h, CKA_ID);
        if (id) ref.id = *id;
        ref.label = p11::getString(s, hit.h, CKA_LABEL);
        ref.pin = hit.pin;
        return std::shared_ptr<SeKey>(
            std::make_shared<Pkcs11Key>(cfg_.name, std::move(ref), std::move(pub), hasPub));
    };

    Found out;
    if (!privs.empty()) out.privateKey = makeKey(privs[0], CKO_PRIVATE_KEY);
    if (!pubs.empty()) out.publicKey = makeKey(pubs[0], CKO_PUBLIC_KEY);
    if (!certs.empty()) {
        p11::Session s = certs[0].token->session();
        if (auto v = p11::getBytes(s, certs[0].h, CKA_VALUE)) out.certificate = *v;
    }
    if (!out.privateKey && !out.publicKey && out.certificate.empty()) {
        if (cls && *cls == CKO_PRIVATE_KEY)
            throw Error(Reason::NotFound, "no private key matches " + uri.redacted());
        throw Error(Reason::NotFound, "no key or certificate matches " + uri.redacted());
    }
    return out;
}

std::shared_ptr<p11::Token> Pkcs11Plugin::tokenFor(const std::string &where, p11::PinSource &pin) {
    std::shared_ptr<p11::Token> tok;
    if (!where.empty()) {
        p11::Uri u = p11::Uri::parse(where);
        auto tokens = module_->tokensWhere([&](const p11::Token &t) { return u.matchesToken(t.identity()); });
        if (tokens.size() > 1) throw Error(Reason::Ambiguous, u.redacted() + " matches several tokens");
        if (!tokens.empty()) tok = tokens[0];
        if (!tok) throw Error(Reason::NotFound, "no token matches " + u.redacted() + visibleTokens(*module_));
        if (auto v = u.pinValue()) pin = p11::PinSource::fromValue(*v);
        else if (auto s = u.pinSource()) pin = p11::PinSource::fromSource(*s);
        else pin = pinFor(*tok);
    } else {
        tok = defaultToken();
        pin = pinFor(*tok);
    }
    tok->login(pin);
    return tok;
}

std::shared_ptr<SeKey> Pkcs11Plugin::generate(const KeyGenRequest &req) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    p11::PinSource pin;
    std::shared_ptr<p11::Token> tok = tokenFor(req.where, pin);
    p11::Session s = tok->session();
    CK_FUNCTION_LIST *f = s.fn();

    std::string label = req.label;
    Bytes id = req.id;
    namedByUri(req.where, label, id);
    if (!label.empty()) refuseDuplicate(s, *tok, CKA_LABEL, Bytes(label.begin(), label.end()), req);
    if (!id.empty()) refuseDuplicate(s, *tok, CKA_ID, id, req);
    if (id.empty()) {
        id.resize(8);
        p11::check(f->C_GenerateRandom(s.handle(), id.data(), id.size()),
                   "drawing a key id from " + tok->describe());
    }
    if (label.empty()) label = "secsf-" + hex(id);

    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM mech{0, nullptr, 0};
    Bytes ecParams;
    CK_ULONG bits = req.bits;
    unsigned char e65537[] = {0x01, 0x00, 0x01};
    std::vector<CK_ATTRIBUTE> pub{
        {CKA_TOKEN, &yes, sizeof yes},         {CKA_PRIVATE, &no, sizeof no},
        {CKA_VERIFY, &yes, sizeof yes},        {CKA_LABEL, (void *)label.data(), label.size()},
        {CKA_ID, id.data(), id.size()},
    };
    // No CKA_ALLOWED_MECHANISMS: SoftHSM then refuses RSA-PSS, which TLS 1.3 needs.
    std::vector<CK_ATTRIBUTE> priv{
        {CKA_TOKEN, &yes, sizeof yes},       {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},   {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_SIGN, &yes, sizeof yes},        {CKA_LABEL, (void *)label.data(), label.size()},
        {CKA_ID, id.data(), id.size()},
    };
    if (req.type == KeyType::ED25519) {
        mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
        ecParams = p11::ecParamsForCurve("ED25519");
        pub.push_back({CKA_EC_PARAMS, ecParams.data(), ecParams.size()});
    } else if (req.type == KeyType::EC) {
        mech.mechanism = CKM_EC_KEY_PAIR_GEN;
        ecParams = p11::ecParamsForCurve(req.group);
        pub.push_back({CKA_EC_PARAMS, ecParams.data(), ecParams.size()});
        priv.push_back({CKA_DERIVE, &yes, sizeof yes});
    } else {
        if (req.bits < 2048 || req.bits > 8192)
            throw Error(Reason::Unsupported, "RSA keys of " + std::to_string(req.bits) +
                                                 " bits are not supported (2048 to 8192)");
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        pub.push_back({CKA_MODULUS_BITS, &bits, sizeof bits});
        pub.push_back({CKA_PUBLIC_EXPONENT, e65537, sizeof e65537});
        pub.push_back({CKA_ENCRYPT, &yes, sizeof yes});
        priv.push_back({CKA_DECRYPT, &yes, sizeof yes});
    }
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE, hpriv = CK_INVALID_HANDLE;
    CK_RV rv = f->C_GenerateKeyPair(s.handle(), &mech, pub.data(), pub.size(), priv.data(),
                                    priv.size(), &hpub, &hpriv);
    p11::check(rv, "generating a key pair on " + tok->describe());
    tok->forgetSearches();  // a remembered search would not see the new key

    PublicKey pk;
    bool hasPub = readPublicKey(s, hpub, pk);
    if (!hasPub) throw Error(Reason::DeviceError, "the token returned no public key for the new key");
    Pkcs11KeyRef ref;
    ref.module = module_;
    ref.token = tok;
    ref.tokenSerial = tok->serial();
    ref.tokenLabel = tok->label();
    ref.cls = CKO_PRIVATE_KEY;
    ref.handle = hpriv;
    ref.id = id;
    ref.label = label;
    ref.pin = pin;
    return std::make_shared<Pkcs11Key>(cfg_.name, std::move(ref), std::move(pk), true);
}

Bytes Pkcs11Plugin::random(size_t n) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    auto tok = defaultToken();
    p11::Session s = tok->session();
    Bytes out(n);
    p11::check(s.fn()->C_GenerateRandom(s.handle(), out.data(), out.size()),
               "drawing random bytes from " + tok->describe());
    return out;
}

}  // namespace secsf
