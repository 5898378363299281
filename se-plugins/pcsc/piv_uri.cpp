#include "piv_uri.h"

#include <cstdio>

#include "../attr_uri.h"
#include "secsf/error.h"

namespace secsf::pcsc {

namespace {

unsigned char slotOf(const std::string &v) {
    struct Name {
        const char *hex, *word;
        unsigned char ref;
    };
    static const Name names[] = {{"9a", "auth", 0x9A}, {"9c", "sign", 0x9C}, {"9d", "keymgmt", 0x9D},
                                 {"9e", "cardauth", 0x9E}};
    std::string l;
    for (char c : v) l += (char)tolower((unsigned char)c);
    if (l.compare(0, 2, "0x") == 0) l = l.substr(2);
    for (const Name &n : names)
        if (l == n.hex || l == n.word) return n.ref;
    throw Error(Reason::BadUri, "slot=" + v + " is not a PIV key slot (9a, 9c, 9d, 9e)");
}

}  // namespace

PivUri PivUri::parse(const std::string &text) {
    PivUri u;
    auto onPath = [&](const std::string &k, const std::string &v) {
        if (k == "slot") u.slot = slotOf(v);
        else if (k == "reader") u.reader = v;
        else throw Error(Reason::BadUri, "PIV key URI attribute '" + k + "' is unknown (slot, reader)");
    };
    auto onQuery = [&](const std::string &k, const std::string &v) {
        if (k == "pin-source") u.pinSource = v;
        else if (k == "pin-value") u.pinValue = v;
        else throw Error(Reason::BadUri, "PIV key URI query '" + k + "' is unknown (pin-source, pin-value)");
    };
    parseAttrUri(text, "piv", "PIV key URI", onPath, onQuery);
    if (!u.slot) throw Error(Reason::BadUri, "a PIV key URI needs slot= (9a, 9c, 9d or 9e)");
    return u;
}

std::string PivUri::format() const {
    char s[16];
    snprintf(s, sizeof s, "piv:slot=%02x", slot);
    std::string out = s;
    if (reader) out += ";reader=" + uriEncode(*reader);
    if (pinSource) out += "?pin-source=" + uriEncode(*pinSource);
    return out;
}

}  // namespace secsf::pcsc
