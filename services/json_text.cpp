#include <algorithm>

#include "jose.h"

namespace secsf::svc {

namespace {

constexpr int kMaxDepth = 64;

// Deeper than kMaxDepth, counting brackets outside strings; a quick scan before parsing.
bool tooDeep(const unsigned char *p, size_t n) {
    int depth = 0;
    bool inString = false, escaped = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (inString) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxDepth) return true;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return false;
}

}  // namespace

Json parseJson(const unsigned char *p, size_t n) {
    if (tooDeep(p, n)) return Json(Json::value_t::discarded);
    return Json::parse(p, p + n, nullptr, false);
}

std::string dumpJson(const Json &j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace secsf::svc
