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

std::string trimmed(const std::string &s) {
    size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

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
    for (const std::string &raw : parseList(text)) {
        std::string entry = trimmed(raw);
        size_t colon = entry.find(':'), eq = entry.find('=');
        if (colon == std::string::npos || eq == std::string::npos || eq < colon) bad(entry, "is not KIND:WHO=ID");
        std::string kind = entry.substr(0, colon), who = trimmed(entry.substr(colon + 1, eq - colon - 1));
        std::string id = trimmed(entry.substr(eq + 1));
        try {
            checkIdentifier("entity id", id);
        } catch (const Error &e) {
            bad(entry, std::string("maps to an unusable id: ") + e.what());
        }
        if (kind == "uid" || kind == "user") {
            uid_t uid;
            if (kind == "uid") {
                uid = (uid_t)number(entry, who);
            } else {
                struct passwd *pw = getpwnam(who.c_str());
                if (!pw) bad(entry, "names a user this system does not have");
                uid = pw->pw_uid;
            }
            if (!m.byUid_.emplace(uid, id).second) bad(entry, "maps a uid that is mapped already");
        } else if (kind == "gid" || kind == "group") {
            gid_t gid;
            if (kind == "gid") {
                gid = (gid_t)number(entry, who);
            } else {
                struct group *gr = getgrnam(who.c_str());
                if (!gr) bad(entry, "names a group this system does not have");
                gid = gr->gr_gid;
            }
            if (!m.byGid_.emplace(gid, id).second) bad(entry, "maps a gid that is mapped already");
        } else {
            bad(entry, "has an unknown kind '" + kind + "'");
        }
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
