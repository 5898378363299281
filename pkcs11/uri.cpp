#include "uri.h"

#include <p11-kit/uri.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <set>

#include "secsf/error.h"

namespace secsf::p11 {

namespace {

// Longer than any real key reference; stops a hostile input before p11-kit sees it.
constexpr size_t kMaxUriLength = 4096;

std::string attrString(P11KitUri *u, CK_ATTRIBUTE_TYPE t) {
    CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(u, t);
    if (!a || !a->pValue) return {};
    return std::string(static_cast<const char *>(a->pValue), a->ulValueLen);
}

// The attribute names of a pkcs11: URI, path and query, in order.
std::vector<std::string> attributeNames(const std::string &text) {
    std::vector<std::string> names;
    std::string rest = text.substr(7);
    for (size_t at = 0; at < rest.size();) {
        size_t end = rest.find_first_of(";?&", at);
        if (end == std::string::npos) end = rest.size();
        std::string name = rest.substr(at, rest.find('=', at) < end ? rest.find('=', at) - at : end - at);
        if (!name.empty()) names.push_back(name);
        at = end + 1;
    }
    return names;
}

std::string printable(std::string name) {
    if (name.size() > 40) name = name.substr(0, 40) + "...";
    for (char &ch : name)
        if (!isprint((unsigned char)ch)) ch = '?';
    return name;
}

// " ('objet')": the first attribute name RFC 7512 does not define, for the message.
std::string unknownAttribute(const std::string &text) {
    static const std::set<std::string> known = {
        "token", "manufacturer", "serial", "model", "library-manufacturer", "library-description",
        "library-version", "object", "type", "id", "slot-description", "slot-manufacturer", "slot-id",
        "pin-source", "pin-value", "module-name", "module-path"};
    for (const std::string &name : attributeNames(text))
        if (!known.count(name)) return " ('" + printable(name) + "')";
    return "";
}

// One meaning per URI: p11-kit lets the last of a repeated attribute win, unseen.
void refuseRepeats(const std::string &text) {
    std::set<std::string> seen;
    for (const std::string &name : attributeNames(text))
        if (!seen.insert(name).second)
            throw Error(Reason::BadUri, "PKCS#11 URI gives '" + printable(name) + "' more than once: give it once");
    if (seen.count("pin-source") && seen.count("pin-value"))
        throw Error(Reason::BadUri, "PKCS#11 URI carries both pin-source and pin-value: give one of them");
}

}  // namespace

void Uri::Free::operator()(P11KitUri *u) const { p11_kit_uri_free(u); }

Uri Uri::parse(const std::string &text) {
    if (text.empty()) throw Error(Reason::BadUri, "empty key URI");
    if (text.size() > kMaxUriLength)
        throw Error(Reason::BadUri, "PKCS#11 URI is longer than " +
                                        std::to_string(kMaxUriLength) + " characters");
    if (text.compare(0, 7, "pkcs11:") != 0)
        throw Error(Reason::BadUri, "not a PKCS#11 URI (must start with 'pkcs11:')");
    if (text.find('\0') != std::string::npos)
        throw Error(Reason::BadUri, "PKCS#11 URI contains a NUL byte");

    Uri out;
    P11KitUri *raw = p11_kit_uri_new();
    if (!raw) throw Error(Reason::Generic, "out of memory parsing PKCS#11 URI");
    out.uri_.reset(raw, Free());
    out.text_ = text;
    int rc = p11_kit_uri_parse(text.c_str(), P11_KIT_URI_FOR_ANY, raw);
    if (rc != P11_KIT_URI_OK) {
        std::string why = p11_kit_uri_message(rc);
        throw Error(Reason::BadUri, "malformed PKCS#11 URI: " + why);
    }
    if (p11_kit_uri_any_unrecognized(raw))
        throw Error(Reason::BadUri, "PKCS#11 URI has an attribute that RFC 7512 does not define" +
                                        unknownAttribute(text));
    refuseRepeats(text);
    return out;
}

bool Uri::matchesToken(const CK_TOKEN_INFO &info) const {
    return p11_kit_uri_match_token_info(uri_.get(), &info) == 1;
}

bool Uri::matchesSlot(CK_SLOT_ID id, const CK_SLOT_INFO &info) const {
    CK_SLOT_ID want = p11_kit_uri_get_slot_id(uri_.get());
    if (want != (CK_SLOT_ID)-1 && want != id) return false;
    return p11_kit_uri_match_slot_info(uri_.get(), &info) == 1;
}

bool Uri::matchesModule(const CK_INFO &info) const {
    return p11_kit_uri_match_module_info(uri_.get(), &info) == 1;
}

bool Uri::namesToken() const {
    CK_TOKEN_INFO *t = p11_kit_uri_get_token_info(uri_.get());
    auto set = [](const unsigned char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
            if (p[i] != 0) return true;
        return false;
    };
    if (set(t->label, sizeof t->label) || set(t->serialNumber, sizeof t->serialNumber) ||
        set(t->model, sizeof t->model) || set(t->manufacturerID, sizeof t->manufacturerID))
        return true;
    return p11_kit_uri_get_slot_id(uri_.get()) != (CK_SLOT_ID)-1;
}

std::optional<std::string> Uri::label() const {
    if (!p11_kit_uri_get_attribute(uri_.get(), CKA_LABEL)) return std::nullopt;
    return attrString(uri_.get(), CKA_LABEL);
}

std::optional<std::vector<unsigned char>> Uri::id() const {
    CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(uri_.get(), CKA_ID);
    if (!a) return std::nullopt;
    auto *p = static_cast<const unsigned char *>(a->pValue);
    return std::vector<unsigned char>(p, p + a->ulValueLen);
}

std::optional<CK_OBJECT_CLASS> Uri::objectClass() const {
    CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(uri_.get(), CKA_CLASS);
    if (!a || a->ulValueLen != sizeof(CK_OBJECT_CLASS)) return std::nullopt;
    CK_OBJECT_CLASS c;
    std::memcpy(&c, a->pValue, sizeof c);
    return c;
}

static std::optional<std::string> opt(const char *s) {
    if (!s) return std::nullopt;
    return std::string(s);
}

std::optional<std::string> Uri::pinValue() const {
    return opt(p11_kit_uri_get_pin_value(uri_.get()));
}
std::optional<std::string> Uri::pinSource() const {
    return opt(p11_kit_uri_get_pin_source(uri_.get()));
}
std::optional<std::string> Uri::moduleName() const {
    return opt(p11_kit_uri_get_module_name(uri_.get()));
}
std::optional<std::string> Uri::modulePath() const {
    return opt(p11_kit_uri_get_module_path(uri_.get()));
}

std::string Uri::redacted() const {
    if (!p11_kit_uri_get_pin_value(uri_.get())) return text_;
    // Format a copy without the PIN: the PIN must never reach a message or log.
    P11KitUri *copy = p11_kit_uri_new();
    std::string out = "pkcs11:(unprintable)";
    if (copy && p11_kit_uri_parse(text_.c_str(), P11_KIT_URI_FOR_ANY, copy) == P11_KIT_URI_OK) {
        p11_kit_uri_set_pin_value(copy, nullptr);
        char *s = nullptr;
        if (p11_kit_uri_format(copy, P11_KIT_URI_FOR_ANY, &s) == P11_KIT_URI_OK && s) {
            out = s;
            free(s);
        }
    }
    if (copy) p11_kit_uri_free(copy);
    return out;
}

std::string formatUri(const std::string &tokenLabel, const std::string &serial,
                      const std::string &objectLabel,
                      const std::vector<unsigned char> &id, CK_OBJECT_CLASS cls) {
    P11KitUri *u = p11_kit_uri_new();
    if (!u) throw Error(Reason::Generic, "out of memory formatting PKCS#11 URI");
    CK_TOKEN_INFO *ti = p11_kit_uri_get_token_info(u);
    auto pad = [](unsigned char *dst, size_t n, const std::string &s) {
        std::memset(dst, ' ', n);
        std::memcpy(dst, s.data(), std::min(n, s.size()));
    };
    if (!tokenLabel.empty()) pad(ti->label, sizeof ti->label, tokenLabel);
    if (!serial.empty()) pad(ti->serialNumber, sizeof ti->serialNumber, serial);
    std::vector<CK_ATTRIBUTE> attrs;
    if (!objectLabel.empty())
        attrs.push_back({CKA_LABEL, (void *)objectLabel.data(), objectLabel.size()});
    if (!id.empty()) attrs.push_back({CKA_ID, (void *)id.data(), id.size()});
    attrs.push_back({CKA_CLASS, &cls, sizeof cls});
    for (auto &a : attrs) p11_kit_uri_set_attribute(u, &a);
    char *s = nullptr;
    int rc = p11_kit_uri_format(u, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &s);
    p11_kit_uri_free(u);
    if (rc != P11_KIT_URI_OK || !s) throw Error(Reason::Generic, "cannot format PKCS#11 URI");
    std::string out(s);
    free(s);
    return out;
}

}  // namespace secsf::p11
