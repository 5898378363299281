#include "key_registry.h"

#include <ctime>
#include <memory>

#include "secsf/error.h"

namespace secsf::daemon {

namespace {

const char kSchema[] =
    "CREATE TABLE IF NOT EXISTS secsfd_key ("
    " owner TEXT NOT NULL, name TEXT NOT NULL, uri TEXT NOT NULL, se TEXT NOT NULL, type TEXT NOT NULL,"
    " created INTEGER NOT NULL, PRIMARY KEY (owner, name));";

using Stmt = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

[[noreturn]] void fail(sqlite3 *db, const char *what) {
    throw Error(Reason::DeviceError, std::string("the key registry: ") + what + ": " + sqlite3_errmsg(db));
}

Stmt prepare(sqlite3 *db, const char *sql, std::initializer_list<std::string> args) {
    sqlite3_stmt *s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) fail(db, "prepare");
    Stmt st(s, sqlite3_finalize);
    int i = 1;
    for (const std::string &a : args) sqlite3_bind_text(s, i++, a.data(), (int)a.size(), SQLITE_TRANSIENT);
    return st;
}

std::string text(sqlite3_stmt *s, int col) {
    const unsigned char *t = sqlite3_column_text(s, col);
    return t ? std::string((const char *)t, (size_t)sqlite3_column_bytes(s, col)) : "";
}

KeyRecord recordOf(sqlite3_stmt *s) {
    return KeyRecord{text(s, 0), text(s, 1), text(s, 2), text(s, 3), text(s, 4), sqlite3_column_int64(s, 5)};
}

}  // namespace

KeyRegistry::KeyRegistry(const std::string &path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
        SQLITE_OK) {
        std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error(Reason::Config, "cannot open the key registry " + path + ": " + why);
    }
    sqlite3_busy_timeout(db_, 5000);
    try {
        exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
        exec(kSchema);
        exec("DELETE FROM secsfd_key WHERE uri = ''");
    } catch (const Error &e) {
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error(Reason::Config, e.what());
    }
}

KeyRegistry::~KeyRegistry() { sqlite3_close(db_); }

void KeyRegistry::exec(const char *sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(db_, "update");
}

bool KeyRegistry::reserve(const std::string &owner, const std::string &name) {
    std::lock_guard<std::mutex> g(mu_);
    Stmt s = prepare(db_, "INSERT OR IGNORE INTO secsfd_key VALUES (?, ?, '', '', '', ?)",
                     {owner, name, std::to_string((long long)time(nullptr))});
    if (sqlite3_step(s.get()) != SQLITE_DONE) fail(db_, "reserve");
    return sqlite3_changes(db_) == 1;
}

void KeyRegistry::complete(const KeyRecord &r) {
    std::lock_guard<std::mutex> g(mu_);
    known_.erase({r.owner, r.name});
    Stmt s = prepare(db_, "UPDATE secsfd_key SET uri = ?, se = ?, type = ? WHERE owner = ? AND name = ?",
                     {r.uri, r.se, r.type, r.owner, r.name});
    if (sqlite3_step(s.get()) != SQLITE_DONE || sqlite3_changes(db_) != 1) fail(db_, "record");
}

std::optional<KeyRecord> KeyRegistry::create(const std::string &owner, const std::string &name,
                                             const std::function<KeyRecord()> &make) {
    if (!reserve(owner, name)) return std::nullopt;
    try {
        KeyRecord r = make();
        r.owner = owner;
        r.name = name;
        complete(r);
    } catch (...) {
        release(owner, name);
        throw;
    }
    return find(owner, name);
}

void KeyRegistry::release(const std::string &owner, const std::string &name) {
    std::lock_guard<std::mutex> g(mu_);
    known_.erase({owner, name});
    Stmt s = prepare(db_, "DELETE FROM secsfd_key WHERE owner = ? AND name = ?", {owner, name});
    if (sqlite3_step(s.get()) != SQLITE_DONE) fail(db_, "delete");
}

std::optional<KeyRecord> KeyRegistry::find(const std::string &owner, const std::string &name) {
    std::lock_guard<std::mutex> g(mu_);
    auto hit = known_.find({owner, name});
    if (hit != known_.end()) return hit->second;
    Stmt s = prepare(db_, "SELECT owner, name, uri, se, type, created FROM secsfd_key WHERE owner = ? AND name = ? AND uri != ''",
                     {owner, name});
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_ROW) {
        if (known_.size() >= 65536) known_.clear();  // bounded: read again on use
        return known_[{owner, name}] = recordOf(s.get());
    }
    if (rc != SQLITE_DONE) fail(db_, "read");
    return std::nullopt;
}

std::vector<KeyRecord> KeyRegistry::list(const std::string &owner) {
    std::lock_guard<std::mutex> g(mu_);
    Stmt s = prepare(db_, "SELECT owner, name, uri, se, type, created FROM secsfd_key WHERE owner = ? AND uri != '' ORDER BY name",
                     {owner});
    std::vector<KeyRecord> out;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(recordOf(s.get()));
    if (rc != SQLITE_DONE) fail(db_, "read");
    return out;
}

}  // namespace secsf::daemon
