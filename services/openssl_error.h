// OpenSSL's last error as a sentence (and the queue cleared), for messages that
// say why a call into OpenSSL failed.
#pragma once
#include <string>

namespace secsf::svc {

std::string takeOpensslError();

}  // namespace secsf::svc
