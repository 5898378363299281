#include "caller_map.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cstdlib>

#include "../se-plugins/config_values.h"
#include "secsf/error.h"
#include "secsf/identifier.h"

namespace secsf::daemon {

namespace {

[[noreturn]] void bad(const std::string &entry, const std::string &why) {
    throw Error(Reason::Config, "secsfd-callers: '" + entry + "' " + why +
                                    " (entries are uid:N=ID, user:NAME=ID, gid:N=ID or group:NAME=ID)");
}

unsigned long number(const std::string &entry, const std::string &s) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) bad(entry, "has no numeric id");
    errno = 0;
    unsigned long v = strtoul(s.c_str(), nullptr, 10);
    if (errno || v >= 0xffffffffUL) bad(entry, "has an id out of range");
    return v;
}

}  // namespace

CallerMap CallerMap::parse(const std::string &text) {
    CallerMap m;
    // parseList splits at spaces and commas: an entry holds none.
    for (const std::string &entry : parseList(text)) {
        size_t colon = entry.find(':'), eq = entry.find('=');
        if (colon == std::string::npos || eq == std::string::npos || eq < colon) bad(entry, "is not KIND:WHO=ID");
        std::string kind = entry.substr(0, colon), who = entry.substr(colon + 1, eq - colon - 1), id = entry.substr(eq + 1);
        try {
            checkIdentifier("entity id", id);
        } catch (const Error &e) {
            bad(entry, std::string("maps to an unusable id: ") + e.what());
        }
        bool user = kind == "uid" || kind == "user";
        if (!user && kind != "gid" && kind != "group") bad(entry, "has an unknown kind '" + kind + "'");
        id_t n;
        if (kind == "uid" || kind == "gid") {
            n = (id_t)number(entry, who);
        } else if (user) {
            struct passwd *pw = getpwnam(who.c_str());
            if (!pw) bad(entry, "names a user this system does not have");
            n = pw->pw_uid;
        } else {
            struct group *gr = getgrnam(who.c_str());
            if (!gr) bad(entry, "names a group this system does not have");
            n = gr->gr_gid;
        }
        if (!(user ? m.byUid_ : m.byGid_).emplace(n, id).second)
            bad(entry, std::string("maps a ") + (user ? "uid" : "gid") + " that is mapped already");
    }
    return m;
}

std::optional<std::string> CallerMap::entityFor(uid_t uid, gid_t gid) const {
    auto u = byUid_.find(uid);
    if (u != byUid_.end()) return u->second;
    auto g = byGid_.find(gid);
    if (g != byGid_.end()) return g->second;
    return std::nullopt;
}

}  // namespace secsf::daemon
