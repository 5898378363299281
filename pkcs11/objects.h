// Object lookup and attribute reading on a session, and the mapping of EC and RSA
// key attributes to the plain public-key description the upper layers use.
#pragma once
#include <p11-kit/pkcs11.h>

#include <optional>
#include <string>
#include <vector>

#include "token.h"

namespace secsf::p11 {

using Bytes = std::vector<unsigned char>;

// All objects matching the template (C_FindObjectsInit/C_FindObjects/Final).
std::vector<CK_OBJECT_HANDLE> findObjects(Session &s, std::vector<CK_ATTRIBUTE> tmpl);

// The same for key lookups, remembering a search that found exactly one object: the
// next time, one C_GetAttributeValue checks that the remembered handle still has
// every attribute of the template before it is trusted; otherwise the search runs
// again. So a key deleted or replaced behind secsf's back is noticed; what is not
// noticed is a second matching object added by another program (the lookup keeps
// answering with the first until this process searches again).
std::vector<CK_OBJECT_HANDLE> findObjectsRemembered(Session &s, const std::vector<CK_ATTRIBUTE> &tmpl);

// One attribute's value; nullopt when the object lacks it or it is sensitive.
std::optional<Bytes> getBytes(Session &s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t);
std::optional<CK_ULONG> getULong(Session &s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t);
bool getBool(Session &s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, bool dflt);
std::string getString(Session &s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t);

// CKA_EC_POINT is specified as a DER OCTET STRING, but some modules return the raw
// point. Returns the raw point for a field of fieldBytes bytes.
Bytes unwrapEcPoint(const Bytes &v, size_t fieldBytes);

}  // namespace secsf::p11
