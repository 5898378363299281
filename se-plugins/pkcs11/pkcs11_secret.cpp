// Symmetric keys in the token: the enrolment key Ke and keys derived from it, used
// for HMAC inside the token (CKM_SHA256_HMAC). SoftHSM cannot derive by HMAC into an
// object, so a derived key is brought back in with importSecret(): non-extractable,
// sensitive, and from then on used only inside the token.
#include "../../pkcs11/objects.h"
#include "../../pkcs11/rv.h"
#include "../../pkcs11/uri.h"
#include "pkcs11_key.h"
#include "pkcs11_plugin.h"
#include "secsf/device_call.h"

namespace secsf {

namespace {

std::shared_ptr<SeKey> makeSecret(const std::string &se, std::shared_ptr<p11::Module> module,
                                  std::shared_ptr<p11::Token> tok, CK_OBJECT_HANDLE h,
                                  p11::Session &s, const p11::PinSource &pin) {
    Pkcs11KeyRef ref;
    ref.module = std::move(module);
    ref.token = tok;
    ref.tokenSerial = tok->serial();
    ref.tokenLabel = tok->label();
    ref.cls = CKO_SECRET_KEY;
    ref.handle = h;
    if (auto id = p11::getBytes(s, h, CKA_ID)) ref.id = *id;
    ref.label = p11::getString(s, h, CKA_LABEL);
    ref.pin = pin;
    PublicKey none;
    none.type = KeyType::SECRET;
    return std::make_shared<Pkcs11Key>(se, std::move(ref), std::move(none), false);
}

}  // namespace

std::shared_ptr<SeKey> Pkcs11Plugin::findSecret(const std::string &text) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    p11::Uri uri = p11::Uri::parse(text);
    auto cls = uri.objectClass();
    if (cls && *cls != CKO_SECRET_KEY)
        throw Error(Reason::BadInput, uri.redacted() + " does not name a secret key");
    if (!uri.label() && !uri.id())
        throw Error(Reason::BadInput, uri.redacted() + " names no object: add object= or id=");
    // The token part of the URI selects the token, exactly as for key generation.
    p11::PinSource pin;
    auto tok = tokenFor(text, pin);
    p11::Session s = tok->session();
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_BBOOL onToken = CK_TRUE;
    std::vector<CK_ATTRIBUTE> t{{CKA_CLASS, &c, sizeof c}, {CKA_TOKEN, &onToken, sizeof onToken}};
    auto label = uri.label();
    auto id = uri.id();
    if (label) t.push_back({CKA_LABEL, (void *)label->data(), label->size()});
    if (id) t.push_back({CKA_ID, id->data(), id->size()});
    auto found = p11::findObjectsRemembered(s, t);
    if (found.empty()) throw Error(Reason::NotFound, "no secret key matches " + uri.redacted());
    if (found.size() > 1)
        throw Error(Reason::Ambiguous, uri.redacted() + " matches " + std::to_string(found.size()) +
                                           " secret keys; refusing to pick one");
    return makeSecret(name(), module_, tok, found[0], s, pin);
}

std::shared_ptr<SeKey> Pkcs11Plugin::importSecret(const SecureBytes &value, const std::string &label,
                                                  const std::string &where) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    p11::PinSource pin;
    auto tok = tokenFor(where, pin);
    p11::Session s = tok->session();
    CK_OBJECT_CLASS c = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    std::vector<CK_ATTRIBUTE> t{
        {CKA_CLASS, &c, sizeof c},           {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_TOKEN, &yes, sizeof yes},       {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},   {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_SIGN, &yes, sizeof yes},        {CKA_VERIFY, &yes, sizeof yes},
        {CKA_LABEL, (void *)label.data(), label.size()},
        {CKA_VALUE, const_cast<unsigned char *>(value.data()), value.size()}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    p11::check(s.fn()->C_CreateObject(s.handle(), t.data(), t.size(), &h),
               "storing secret key '" + label + "' on " + tok->describe());
    tok->forgetSearches();  // a remembered search would not see the new key
    return makeSecret(name(), module_, tok, h, s, pin);
}

}  // namespace secsf
