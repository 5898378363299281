#include "objects.h"

#include <cstring>
#include <shared_mutex>

#include "rv.h"

namespace secsf::p11 {

std::vector<CK_OBJECT_HANDLE> findObjects(Session &s, std::vector<CK_ATTRIBUTE> tmpl) {
    std::shared_lock<std::shared_mutex> noCopyInProgress(s.token()->objectsMutex());
    CK_FUNCTION_LIST *f = s.fn();
    CK_RV rv = f->C_FindObjectsInit(s.handle(), tmpl.data(), tmpl.size());
    if (rv != CKR_OK) s.discard();
    check(rv, "searching for objects");
    std::vector<CK_OBJECT_HANDLE> out;
    CK_OBJECT_HANDLE batch[64];
    for (;;) {
        CK_ULONG n = 0;
        rv = f->C_FindObjects(s.handle(), batch, 64, &n);
        if (rv != CKR_OK) break;
        out.insert(out.end(), batch, batch + n);
        if (n < 64) break;
    }
    CK_RV rv2 = f->C_FindObjectsFinal(s.handle());
    if (rv != CKR_OK || rv2 != CKR_OK) s.discard();
    check(rv, "searching for objects");
    return out;
}

namespace {

// The template as bytes: the key of a remembered search.
std::string templateKey(const std::vector<CK_ATTRIBUTE> &tmpl) {
    std::string k;
    for (const CK_ATTRIBUTE &a : tmpl) {
        k.append(reinterpret_cast<const char *>(&a.type), sizeof a.type);
        k.append(reinterpret_cast<const char *>(&a.ulValueLen), sizeof a.ulValueLen);
        k.append(static_cast<const char *>(a.pValue), a.ulValueLen);
    }
    return k;
}

// Does object h (still) carry every attribute value of the template?
bool stillMatches(Session &s, CK_OBJECT_HANDLE h, const std::vector<CK_ATTRIBUTE> &tmpl) {
    std::vector<Bytes> values;
    std::vector<CK_ATTRIBUTE> read = tmpl;
    values.reserve(tmpl.size());
    for (CK_ATTRIBUTE &a : read) {
        values.emplace_back(a.ulValueLen + 1);  // one more: a longer value must not fit
        a.pValue = values.back().data();
        a.ulValueLen = values.back().size();
    }
    if (s.fn()->C_GetAttributeValue(s.handle(), h, read.data(), read.size()) != CKR_OK) return false;
    for (size_t i = 0; i < tmpl.size(); i++)
        if (read[i].ulValueLen != tmpl[i].ulValueLen ||
            (tmpl[i].ulValueLen && memcmp(read[i].pValue, tmpl[i].pValue, tmpl[i].ulValueLen) != 0))
            return false;
    return true;
}

}  // namespace

std::vector<CK_OBJECT_HANDLE> findObjectsRemembered(Session &s, const std::vector<CK_ATTRIBUTE> &tmpl) {
    Token *t = s.token();
    std::string key = templateKey(tmpl);
    if (auto h = t->rememberedSearch(key)) {
        std::shared_lock<std::shared_mutex> noCopyInProgress(t->objectsMutex());
        if (stillMatches(s, *h, tmpl)) return {*h};
    }
    auto found = findObjects(s, tmpl);
    if (found.size() == 1) t->rememberSearch(key, found[0]);
    return found;
}

std::optional<Bytes> getBytes(Session &s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t) {
    CK_ATTRIBUTE a{t, nullptr, 0};
    CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), o, &a, 1);
    if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID) return std::nullopt;
    check(rv, "reading an object attribute");
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION) return std::nullopt;
    Bytes v(a.ulValueLen);
    a.pValue = v.data();
    check(s.fn()->C_GetAttributeValue(s.handle(), o, &a, 1), "reading an object attribute");
    v.resize(a.ulValueLen);
    return v;
}

std::optional<CK_ULONG> getULong(Session &s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t) {
    CK_ULONG v = 0;
    CK_ATTRIBUTE a{t, &v, sizeof v};
    if (s.fn()->C_GetAttributeValue(s.handle(), o, &a, 1) != CKR_OK) return std::nullopt;
    if (a.ulValueLen != sizeof v) return std::nullopt;
    return v;
}

bool getBool(Session &s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, bool dflt) {
    CK_BBOOL v = CK_FALSE;
    CK_ATTRIBUTE a{t, &v, sizeof v};
    if (s.fn()->C_GetAttributeValue(s.handle(), o, &a, 1) != CKR_OK) return dflt;
    return v == CK_TRUE;
}

std::string getString(Session &s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t) {
    auto b = getBytes(s, o, t);
    if (!b) return {};
    return std::string(b->begin(), b->end());
}

Bytes unwrapEcPoint(const Bytes &v, size_t fieldBytes) {
    size_t raw = 1 + 2 * fieldBytes;
    if (v.size() == raw && v[0] == 0x04) return v;
    // DER OCTET STRING: 04 len point, len in short or long form.
    if (v.size() >= 2 && v[0] == 0x04) {
        size_t hdr = 2, len = v[1];
        if (v[1] == 0x81 && v.size() >= 3) {
            hdr = 3;
            len = v[2];
        }
        if (hdr + len == v.size()) return Bytes(v.begin() + hdr, v.end());
    }
    return v;
}

}  // namespace secsf::p11
