#include "openssl_error.h"

#include <openssl/err.h>

namespace secsf::svc {

std::string takeOpensslError() {
    const char *data = nullptr;
    int flags = 0;
    unsigned long e = ERR_peek_last_error_data(&data, &flags);
    char buf[256] = "no further detail";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    // The reason alone is a category ("not found"); secsf's sentence is the data.
    std::string out = buf;
    if (e && data && *data && (flags & ERR_TXT_STRING)) out += ": " + std::string(data);
    ERR_clear_error();
    return out;
}

}  // namespace secsf::svc
