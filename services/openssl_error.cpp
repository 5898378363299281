#include "openssl_error.h"

#include <openssl/err.h>

namespace secsf::svc {

std::string takeOpensslError() {
    unsigned long e = ERR_peek_last_error();
    char buf[256] = "no further detail";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

}  // namespace secsf::svc
