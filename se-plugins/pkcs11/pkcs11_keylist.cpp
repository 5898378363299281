// Listing and deleting the keys of a token, for `secsf key list|delete`.
#include "../../pkcs11/objects.h"
#include "../../pkcs11/rv.h"
#include "../../pkcs11/uri.h"
#include "pkcs11_plugin.h"
#include "secsf/device_call.h"

namespace secsf {

void Pkcs11Plugin::checkAccess() {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    auto tok = defaultToken();
    if (tok->loginRequired()) tok->login(pinFor(*tok));
}

std::vector<KeyListing> Pkcs11Plugin::listKeys() {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    auto tok = defaultToken();
    p11::PinSource pin = pinFor(*tok);
    if (tok->loginRequired()) tok->login(pin);
    std::vector<std::pair<std::string, std::string>> found;  // uri, label
    {
        p11::Session s = tok->session();
        CK_OBJECT_CLASS c = CKO_PRIVATE_KEY;
        CK_BBOOL yes = CK_TRUE;
        for (CK_OBJECT_HANDLE h : p11::findObjects(s, {{CKA_CLASS, &c, sizeof c}, {CKA_TOKEN, &yes, sizeof yes}})) {
            std::string label = p11::getString(s, h, CKA_LABEL);
            Bytes id = p11::getBytes(s, h, CKA_ID).value_or(Bytes{});
            found.emplace_back(p11::formatUri(tok->label(), tok->serial(), label, id, CKO_PRIVATE_KEY), label);
        }
    }
    std::vector<KeyListing> out;
    for (auto &[uri, label] : found) out.push_back(listingOf(*this, uri, label));
    return out;
}

void Pkcs11Plugin::deleteKey(const std::string &text) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    Found f = find(text);  // exactly one key, or the reason why not
    if (!f.privateKey && !f.publicKey) throw Error(Reason::NotFound, "no key matches " + text);
    p11::Uri key = p11::Uri::parse(f.privateKey ? f.privateKey->uri() : f.publicKey->uri());
    p11::PinSource pin;
    auto tok = tokenFor(text, pin);
    p11::Session s = tok->session();
    auto label = key.label();
    auto id = key.id();
    int gone = 0;
    for (CK_OBJECT_CLASS c : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE}) {
        CK_BBOOL yes = CK_TRUE;
        std::vector<CK_ATTRIBUTE> t{{CKA_CLASS, &c, sizeof c}, {CKA_TOKEN, &yes, sizeof yes}};
        if (label) t.push_back({CKA_LABEL, (void *)label->data(), label->size()});
        if (id) t.push_back({CKA_ID, id->data(), id->size()});
        for (CK_OBJECT_HANDLE h : p11::findObjects(s, t)) {
            p11::check(s.fn()->C_DestroyObject(s.handle(), h), "deleting an object of " + key.redacted());
            gone++;
        }
    }
    s.token()->forgetSearches();
    if (!gone) throw Error(Reason::NotFound, "no object of " + key.redacted() + " could be deleted");
}

}  // namespace secsf
