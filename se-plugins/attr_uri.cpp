#include "attr_uri.h"

#include <cctype>
#include <set>

#include "secsf/error.h"

namespace secsf {

namespace {

constexpr size_t kMaxUri = 4096;

int hexDigit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

}  // namespace

std::string uriDecode(const std::string &s, const std::string &what) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size() || hexDigit(s[i + 1]) < 0 || hexDigit(s[i + 2]) < 0)
            throw Error(Reason::BadUri, "bad percent-encoding in " + what);
        out += (char)(hexDigit(s[i + 1]) * 16 + hexDigit(s[i + 2]));
        i += 2;
    }
    if (out.find('\0') != std::string::npos) throw Error(Reason::BadUri, what + " contains a NUL byte");
    return out;
}

namespace {

void eachPair(const std::string &part, char sep, const std::string &what, const AttrFn &f) {
    size_t start = 0;
    while (start <= part.size()) {
        size_t end = part.find(sep, start);
        if (end == std::string::npos) end = part.size();
        std::string item = part.substr(start, end - start);
        if (!item.empty()) {
            size_t eq = item.find('=');
            if (eq == std::string::npos || eq == 0)
                throw Error(Reason::BadUri, what + " attribute '" + item + "' has no value");
            f(item.substr(0, eq), uriDecode(item.substr(eq + 1), what));
        }
        start = end + 1;
    }
}

}  // namespace

void parseAttrUri(const std::string &text, const std::string &scheme, const std::string &what,
                  const AttrFn &onPath, const AttrFn &onQuery) {
    if (text.size() > kMaxUri) throw Error(Reason::BadUri, what + " is too long");
    std::string prefix = scheme + ":";
    if (text.compare(0, prefix.size(), prefix) != 0)
        throw Error(Reason::BadUri, "not a " + what + " (" + prefix + "...)");
    std::string rest = text.substr(prefix.size());
    std::string path = rest, query;
    auto q = rest.find('?');
    if (q != std::string::npos) {
        path = rest.substr(0, q);
        query = rest.substr(q + 1);
    }
    // One meaning per URI: a repeated attribute would have the last one win unseen,
    // and two PIN attributes would leave the user guessing which one was used.
    std::set<std::string> seen;
    auto once = [&](const AttrFn &f) {
        return [&, f](const std::string &name, const std::string &value) {
            if (!seen.insert(name).second)
                throw Error(Reason::BadUri, what + " gives '" + name + "' more than once: give it once");
            f(name, value);
        };
    };
    eachPair(path, ';', what, once(onPath));
    eachPair(query, '&', what, once(onQuery));
    if (seen.count("pin-source") && seen.count("pin-value"))
        throw Error(Reason::BadUri, what + " carries both pin-source and pin-value: give one of them");
}

std::string uriEncode(const std::string &s) {
    static const char *d = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += (char)c;
        } else {
            out += '%';
            out += d[c >> 4];
            out += d[c & 15];
        }
    }
    return out;
}

}  // namespace secsf
