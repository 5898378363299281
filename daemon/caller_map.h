// Who a caller on secsfd's unix socket is: the kernel says which uid and gid the
// connecting process runs as (SO_PEERCRED); the configuration maps them to an AE-ID
// or CSE-ID. Nothing the caller sends can change the answer.
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

namespace secsf::daemon {

class CallerMap {
public:
    // "uid:1001=CAE-meter, user:www-data=CAE-web, gid:2000=CSE-gw, group:m2m=CSE-gw".
    // Users and groups are resolved now. Throws Error(Config) naming the bad entry.
    static CallerMap parse(const std::string &text);
    // A uid entry wins over a gid entry; nothing when neither is mapped.
    std::optional<std::string> entityFor(uid_t uid, gid_t gid) const;
    bool empty() const { return byUid_.empty() && byGid_.empty(); }

private:
    std::map<id_t, std::string> byUid_, byGid_;
};

}  // namespace secsf::daemon
