// Which entity owns which key secsfd made: owner/name -> the key's URI in its SE.
// The SEs know keys, not oneM2M entities; secsfd records the owner when it makes a
// key, so the access policy can decide on the owner and a caller names its keys
// without ever seeing (or choosing) a URI. SQLite, durable on return.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace secsf::daemon {

// The record type of a secret (a symmetric key); key pairs carry their key type.
constexpr const char *kSecretType = "secret";

struct KeyRecord {
    std::string owner, name, uri, se, type;
    int64_t created = 0;  // Unix time
};

class KeyRegistry {
public:
    // Opens or creates the file; names reserved by a make that never finished (a crash
    // between reserving and making) are released. Throws Error(Config).
    explicit KeyRegistry(const std::string &path);
    ~KeyRegistry();
    KeyRegistry(const KeyRegistry &) = delete;

    // Reserves owner/name, runs make() (which puts the key into an SE and returns its
    // uri, se and type) and records it: nothing is recorded when make() throws, and
    // nothing is made when owner/name is taken (then std::nullopt).
    std::optional<KeyRecord> create(const std::string &owner, const std::string &name,
                                    const std::function<KeyRecord()> &make);
    // The key was deleted.
    void release(const std::string &owner, const std::string &name);
    // Complete records only.
    std::optional<KeyRecord> find(const std::string &owner, const std::string &name);
    std::vector<KeyRecord> list(const std::string &owner);

private:
    bool reserve(const std::string &owner, const std::string &name);
    void complete(const KeyRecord &r);
    void exec(const char *sql);
    sqlite3 *db_ = nullptr;
    std::mutex mu_;
    // Complete records read before (every request that uses a key looks it up); the
    // file stays the truth: changes go there first, and drop their entry here.
    std::map<std::pair<std::string, std::string>, KeyRecord> known_;
};

}  // namespace secsf::daemon
