// Strict readers for the values of secsf's configuration keys. A typo in a level
// or a handle must stop the configuration with the key's name in the message, not
// turn into level 0 or handle 0 the way atoi/strtoul would.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace secsf {

// A Secure Environment's or a function's security level: a whole number 1..9.
int parseSecurityLevel(const std::string &key, const std::string &value);
// Seconds, 1 to 3600.
int parseSeconds(const std::string &key, const std::string &value);
// A whole number from min to max (a count, a size in bytes).
uint64_t parseCount(const std::string &key, const std::string &value, uint64_t min, uint64_t max);

// A TPM persistent handle (0x81000000-0x81FFFFFF), hexadecimal with 0x or decimal.
uint32_t parsePersistentHandle(const std::string &key, const std::string &value);

// "signature=2, secure-storage=3": function name -> minimum level. Names are
// lower-case letters, digits and '-'; each name at most once.
std::map<std::string, int> parseFunctionLevels(const std::string &key, const std::string &value);

// Items separated by spaces or commas; none of them empty.
std::vector<std::string> parseList(const std::string &value);

// "/usr/lib/a.so /usr/lib/b.so" (spaces or commas between): absolute paths only.
std::vector<std::string> parsePathList(const std::string &key, const std::string &value);

// "node2=file:/etc/secsf/node2.pin, node3=env:NODE3_PIN": token label -> PIN source.
// A label is everything before the first '=' (trimmed); each label at most once.
std::map<std::string, std::string> parseTokenPinSources(const std::string &key, const std::string &value);

}  // namespace secsf
