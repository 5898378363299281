#include "config_values.h"

#include <cctype>
#include <sstream>

#include "secsf/error.h"

namespace secsf {

namespace {

[[noreturn]] void bad(const std::string &key, const std::string &value, const std::string &want) {
    // Values here are levels, handles and names, never secrets: quoting them helps.
    // `want` may quote part of the value too: the whole message is made printable.
    std::string msg = key + " = '" + (value.size() > 64 ? value.substr(0, 64) + "..." : value) + "': " + want;
    for (char &ch : msg)
        if (!std::isprint((unsigned char)ch)) ch = '?';
    throw Error(Reason::Config, msg);
}

std::string trimmed(const std::string &s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Digits only in `base`; no sign, no spaces inside, no overflow past `max`.
bool parseUnsigned(const std::string &s, int base, uint64_t max, uint64_t &out) {
    if (s.empty() || s.size() > 20) return false;
    uint64_t v = 0;
    for (char ch : s) {
        int d;
        if (ch >= '0' && ch <= '9') d = ch - '0';
        else if (base == 16 && ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
        else if (base == 16 && ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
        else return false;
        v = v * base + d;
        if (v > max) return false;
    }
    out = v;
    return true;
}

}  // namespace

int parseSecurityLevel(const std::string &key, const std::string &value) {
    uint64_t v = 0;
    if (!parseUnsigned(trimmed(value), 10, 9, v) || v < 1) bad(key, value, "a security level is a whole number from 1 to 9");
    return (int)v;
}

int parseSeconds(const std::string &key, const std::string &value) {
    uint64_t v = 0;
    if (!parseUnsigned(trimmed(value), 10, 3600, v) || v < 1) bad(key, value, "a time in whole seconds from 1 to 3600");
    return (int)v;
}

uint64_t parseCount(const std::string &key, const std::string &value, uint64_t min, uint64_t max) {
    uint64_t v = 0;
    if (!parseUnsigned(trimmed(value), 10, max, v) || v < min)
        bad(key, value, "a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return v;
}

uint32_t parsePersistentHandle(const std::string &key, const std::string &value) {
    std::string s = trimmed(value);
    uint64_t v = 0;
    bool ok = (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? parseUnsigned(s.substr(2), 16, 0xffffffff, v)
                                                                              : parseUnsigned(s, 10, 0xffffffff, v);
    if (!ok || v < 0x81000000 || v > 0x81ffffff)
        bad(key, value, "a TPM persistent handle is 0x81000000 to 0x81FFFFFF (e.g. 0x81000001)");
    return (uint32_t)v;
}

std::map<std::string, int> parseFunctionLevels(const std::string &key, const std::string &value) {
    std::map<std::string, int> out;
    if (trimmed(value).empty()) return out;
    std::istringstream items(value);
    std::string item;
    while (std::getline(items, item, ',')) {
        if (items.eof() && trimmed(item).empty()) break;  // "a=1, " ends in a blank
        size_t eq = item.find('=');
        if (eq == std::string::npos) bad(key, value, "each item is function=level, e.g. signature=2,secure-storage=3");
        std::string name = trimmed(item.substr(0, eq));
        bool nameOk = !name.empty() && name.size() <= 64;
        for (char ch : name) nameOk = nameOk && (std::islower((unsigned char)ch) || std::isdigit((unsigned char)ch) || ch == '-');
        if (!nameOk) bad(key, value, "'" + name + "' is not a function name (lower-case letters, digits, '-')");
        if (out.count(name)) bad(key, value, name + " is given twice");
        out[name] = parseSecurityLevel(key, item.substr(eq + 1));
    }
    return out;
}

std::vector<std::string> parseList(const std::string &value) {
    std::vector<std::string> out;
    std::string cur;
    for (char ch : value + ' ') {
        if (ch != ' ' && ch != '\t' && ch != ',') {
            cur += ch;
        } else if (!cur.empty()) {
            out.push_back(cur);
            cur.clear();
        }
    }
    return out;
}

std::vector<std::string> parsePathList(const std::string &key, const std::string &value) {
    std::vector<std::string> out = parseList(value);
    for (const std::string &p : out)
        if (p[0] != '/') bad(key, value, "'" + p + "' is not an absolute path");
    return out;
}

std::map<std::string, std::string> parseTokenPinSources(const std::string &key, const std::string &value) {
    std::map<std::string, std::string> out;
    std::istringstream items(value);
    std::string item;
    while (std::getline(items, item, ',')) {
        if (trimmed(item).empty()) continue;
        size_t eq = item.find('=');
        std::string label = eq == std::string::npos ? std::string() : trimmed(item.substr(0, eq));
        std::string source = eq == std::string::npos ? std::string() : trimmed(item.substr(eq + 1));
        if (label.empty() || source.empty())
            bad(key, value, "each item is token-label=pin-source, e.g. node2=file:/etc/secsf/node2.pin");
        if (label.size() > 32) bad(key, value, "'" + label + "' is longer than a token label (32 bytes)");
        if (out.count(label)) bad(key, value, "token '" + label + "' is given twice");
        out[label] = source;
    }
    return out;
}

}  // namespace secsf
