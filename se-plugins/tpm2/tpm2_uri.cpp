#include "tpm2_uri.h"

#include <cstdio>
#include <cstdlib>

#include "../attr_uri.h"
#include "secsf/error.h"

namespace secsf::tpm2 {

Uri Uri::parse(const std::string &text) {
    Uri u;
    auto onPath = [&](const std::string &k, const std::string &v) {
        if (k == "handle") {
            char *end = nullptr;
            unsigned long h = strtoul(v.c_str(), &end, 0);
            if (!end || *end || v.empty() || h < 0x81000000ul || h > 0x81ffffff)
                throw Error(Reason::BadUri, "handle=" + v + " is not a persistent handle (0x81000000-0x81FFFFFF)");
            u.handle = (uint32_t)h;
        } else if (k == "file") {
            u.file = v;
        } else if (k == "object") {
            u.label = v;
        } else {
            throw Error(Reason::BadUri, "TPM key URI attribute '" + k + "' is unknown (handle, file, object)");
        }
    };
    auto onQuery = [&](const std::string &k, const std::string &v) {
        if (k == "pin-source") u.pinSource = v;
        else if (k == "pin-value") u.pinValue = v;
        else throw Error(Reason::BadUri, "TPM key URI query '" + k + "' is unknown (pin-source, pin-value)");
    };
    parseAttrUri(text, "tpm2", "TPM key URI", onPath, onQuery);
    if (u.handle && u.file) throw Error(Reason::BadUri, "a TPM key URI names a handle or a file, not both");
    return u;
}

std::string Uri::format() const {
    std::string s = "tpm2:";
    std::string sep;
    if (handle) {
        char buf[16];
        snprintf(buf, sizeof buf, "0x%08x", *handle);
        s += "handle=" + std::string(buf);
        sep = ";";
    }
    if (file) {
        s += sep + "file=" + uriEncode(*file);
        sep = ";";
    }
    if (label) s += sep + "object=" + uriEncode(*label);
    if (pinSource) s += "?pin-source=" + uriEncode(*pinSource);
    return s;
}

}  // namespace secsf::tpm2
