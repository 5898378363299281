// Secure storage in the token: PKCS#11 data objects (CKO_DATA), private (readable
// only after login) and tagged with their owner in CKA_APPLICATION, so that one
// owner's objects are invisible to another through this interface.
#include "../../pkcs11/objects.h"
#include "../../pkcs11/rv.h"
#include "pkcs11_plugin.h"
#include "secsf/device_call.h"
#include "secsf/identifier.h"

namespace secsf {

namespace {

constexpr size_t kMaxObject = 64 * 1024;  // "small data objects": a bound, not a quota

std::string application(const std::string &owner, const std::string *name = nullptr) {
    if (owner.empty()) throw Error(Reason::BadInput, "secure storage needs an owner (AE-ID or CSE-ID)");
    checkIdentifier("owner id", owner);
    if (name) checkIdentifier("stored object's name", *name);
    return "secsf-owner:" + owner;
}

std::vector<CK_OBJECT_HANDLE> findData(p11::Session &s, const std::string &app,
                                       const std::string *name) {
    CK_OBJECT_CLASS c = CKO_DATA;
    std::vector<CK_ATTRIBUTE> t{{CKA_CLASS, &c, sizeof c},
                                {CKA_APPLICATION, (void *)app.data(), app.size()}};
    if (name) t.push_back({CKA_LABEL, (void *)name->data(), name->size()});
    return p11::findObjects(s, t);
}

}  // namespace

p11::Session Pkcs11Plugin::storageSession() {
    p11::PinSource pin;
    return tokenFor("", pin)->session();
}

void Pkcs11Plugin::storagePut(const std::string &owner, const std::string &name, const Bytes &data) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    std::string app = application(owner);
    checkStorageName(name);
    if (data.size() > kMaxObject)
        throw Error(Reason::BadInput, "secure storage holds objects up to 64 KiB");
    p11::Session s = storageSession();
    // Replace, not duplicate: create the new object first, then remove the old ones.
    auto old = findData(s, app, &name);
    CK_OBJECT_CLASS c = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    std::vector<CK_ATTRIBUTE> t{{CKA_CLASS, &c, sizeof c},
                                {CKA_TOKEN, &yes, sizeof yes},
                                {CKA_PRIVATE, &yes, sizeof yes},
                                {CKA_APPLICATION, (void *)app.data(), app.size()},
                                {CKA_LABEL, (void *)name.data(), name.size()},
                                {CKA_VALUE, const_cast<unsigned char *>(data.data()), data.size()}};
    CK_OBJECT_HANDLE h;
    p11::check(s.fn()->C_CreateObject(s.handle(), t.data(), t.size(), &h),
               "storing '" + name + "' on " + s.token()->describe());
    for (CK_OBJECT_HANDLE o : old) s.fn()->C_DestroyObject(s.handle(), o);
}

Bytes Pkcs11Plugin::storageGet(const std::string &owner, const std::string &name) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    p11::Session s = storageSession();
    auto found = findData(s, application(owner, &name), &name);
    if (found.empty())
        throw Error(Reason::NotFound, "owner '" + owner + "' has no stored object '" + name + "'");
    auto v = p11::getBytes(s, found[0], CKA_VALUE);
    if (!v) throw Error(Reason::DeviceError, "the token would not return '" + name + "'");
    return *v;
}

bool Pkcs11Plugin::storageDelete(const std::string &owner, const std::string &name) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    p11::Session s = storageSession();
    auto found = findData(s, application(owner, &name), &name);
    for (CK_OBJECT_HANDLE o : found)
        p11::check(s.fn()->C_DestroyObject(s.handle(), o), "deleting '" + name + "'");
    return !found.empty();
}

std::vector<std::string> Pkcs11Plugin::storageList(const std::string &owner) {
    p11::DeviceEntry inside;  // see pkcs11/module.h
    std::string app = application(owner);
    p11::Session s = storageSession();
    std::vector<std::string> names;
    for (CK_OBJECT_HANDLE o : findData(s, app, nullptr))
        names.push_back(p11::getString(s, o, CKA_LABEL));
    return names;
}

}  // namespace secsf
