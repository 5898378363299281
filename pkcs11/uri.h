// RFC 7512 PKCS#11 URIs, parsed by p11-kit (every attribute of the RFC, percent-
// encoding, pin-source/pin-value, module-name/module-path). This wrapper adds the
// checks p11-kit leaves to its caller: unknown attributes, size, emptiness.
#pragma once
#include <p11-kit/pkcs11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <p11-kit/uri.h>

namespace secsf::p11 {

class Uri {
public:
    // Throws Error(BadUri) with a sentence naming what is wrong.
    static Uri parse(const std::string &text);

    const std::string &text() const { return text_; }

    bool matchesToken(const CK_TOKEN_INFO &info) const;
    bool matchesSlot(CK_SLOT_ID id, const CK_SLOT_INFO &info) const;
    bool matchesModule(const CK_INFO &info) const;
    // True when the URI says anything about which token (token, serial, slot...).
    bool namesToken() const;

    std::optional<std::string> label() const;            // object=
    std::optional<std::vector<unsigned char>> id() const;  // id=
    std::optional<CK_OBJECT_CLASS> objectClass() const;    // type=
    std::optional<std::string> pinValue() const;
    std::optional<std::string> pinSource() const;
    std::optional<std::string> moduleName() const;
    std::optional<std::string> modulePath() const;

    // The URI without pin-value, safe to print or log.
    std::string redacted() const;

private:
    struct Free { void operator()(P11KitUri *u) const; };
    std::shared_ptr<P11KitUri> uri_;
    std::string text_;
};

// Formats token/object attributes into a canonical pkcs11: URI.
std::string formatUri(const std::string &tokenLabel, const std::string &serial,
                      const std::string &objectLabel,
                      const std::vector<unsigned char> &id, CK_OBJECT_CLASS cls);

}  // namespace secsf::p11
