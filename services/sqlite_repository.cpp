#include <sqlite3.h>

#include <mutex>

#include "repository.h"
#include "secsf/error.h"

namespace secsf::svc {

namespace {

const char kSchema[] = R"(
CREATE TABLE IF NOT EXISTS enrollee(id TEXT PRIMARY KEY, kind TEXT NOT NULL, pubkey TEXT NOT NULL,
                                    permitted INTEGER NOT NULL, auth_enabled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS credential(id TEXT PRIMARY KEY, kind TEXT NOT NULL, issued INTEGER NOT NULL,
                                      expires INTEGER NOT NULL, revoked INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS credential_link(credential TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS credential_link_owner ON credential_link(owner);
CREATE TABLE IF NOT EXISTS pending(key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nonce(nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS token(jti TEXT PRIMARY KEY, subject TEXT NOT NULL, audience TEXT NOT NULL,
                                 expires INTEGER NOT NULL, revoked INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS token_subject ON token(subject);
CREATE TABLE IF NOT EXISTS authz_status(subject TEXT PRIMARY KEY, state TEXT NOT NULL, until INTEGER NOT NULL,
                                        seq INTEGER NOT NULL);
)";

// One bound statement, stepped and finalised by its owner.
class Stmt {
public:
    Stmt(sqlite3 *db, const char *sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail("preparing");
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt &bind(const std::string &v) {
        sqlite3_bind_text(s_, ++n_, v.c_str(), (int)v.size(), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt &bind(int64_t v) {
        sqlite3_bind_int64(s_, ++n_, v);
        return *this;
    }
    bool row() {
        int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc != SQLITE_DONE) fail("running");
        return false;
    }
    void run() {
        while (row()) {
        }
    }
    std::string text(int i) {
        const unsigned char *t = sqlite3_column_text(s_, i);
        return t ? std::string((const char *)t, (size_t)sqlite3_column_bytes(s_, i)) : std::string();
    }
    int64_t integer(int i) { return sqlite3_column_int64(s_, i); }

private:
    [[noreturn]] void fail(const char *what) {
        throw Error(Reason::DeviceError, std::string("state store: ") + what + ": " + sqlite3_errmsg(db_));
    }
    sqlite3 *db_;
    sqlite3_stmt *s_ = nullptr;
    int n_ = 0;
};

void requireAuthority(Role r) {
    if (r != Role::Authority)
        throw Error(Reason::PinRequired, "only an authority may read which identity holds a credential");
}

class SqliteRepository : public Repository {
public:
    explicit SqliteRepository(const std::string &path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                            nullptr) != SQLITE_OK) {
            std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            throw Error(Reason::Config, "cannot open the state store " + path + ": " + why);
        }
        sqlite3_busy_timeout(db_, 5000);
        exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
        exec(kSchema);
    }
    ~SqliteRepository() override { sqlite3_close(db_); }

    void atomically(const std::function<void()> &fn) override {
        std::lock_guard<std::recursive_mutex> g(mutex_);
        if (depth_ > 0) {
            depth_++;
            try {
                fn();
            } catch (...) {
                depth_--;
                throw;
            }
            depth_--;
            return;
        }
        exec("BEGIN IMMEDIATE");
        depth_ = 1;
        try {
            fn();
            exec("COMMIT");
        } catch (...) {
            depth_ = 0;
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
        depth_ = 0;
    }

    std::optional<Enrollee> enrollee(const std::string &id) override {
        auto g = lock();
        Stmt s(db_, "SELECT id, kind, pubkey, permitted, auth_enabled FROM enrollee WHERE id = ?");
        s.bind(id);
        if (!s.row()) return std::nullopt;
        return Enrollee{s.text(0), s.text(1), s.text(2), s.integer(3) != 0, s.integer(4) != 0};
    }
    void putEnrollee(const Enrollee &e) override {
        auto g = lock();
        Stmt(db_, "INSERT OR REPLACE INTO enrollee VALUES (?, ?, ?, ?, ?)")
            .bind(e.id).bind(e.kind).bind(e.publicKeyPem).bind((int64_t)e.permitted).bind((int64_t)e.authEnabled)
            .run();
    }

    void putCredential(const Credential &c, const std::string &owner) override {
        atomically([&] {
            Stmt(db_, "INSERT OR REPLACE INTO credential VALUES (?, ?, ?, ?, ?)")
                .bind(c.id).bind(c.kind).bind(c.issued).bind(c.expires).bind((int64_t)c.revoked)
                .run();
            Stmt(db_, "INSERT OR REPLACE INTO credential_link VALUES (?, ?)").bind(c.id).bind(owner).run();
        });
    }
    std::optional<Credential> credential(const std::string &id) override {
        auto g = lock();
        Stmt s(db_, "SELECT id, kind, issued, expires, revoked FROM credential WHERE id = ?");
        s.bind(id);
        if (!s.row()) return std::nullopt;
        return Credential{s.text(0), s.text(1), s.integer(2), s.integer(3), s.integer(4) != 0};
    }
    void revokeCredential(const std::string &id) override {
        auto g = lock();
        Stmt(db_, "UPDATE credential SET revoked = 1 WHERE id = ?").bind(id).run();
    }
    std::vector<Credential> credentialsOf(const std::string &owner, Role role) override {
        requireAuthority(role);
        auto g = lock();
        Stmt s(db_, "SELECT c.id, c.kind, c.issued, c.expires, c.revoked FROM credential c "
                    "JOIN credential_link l ON l.credential = c.id WHERE l.owner = ? ORDER BY c.id");
        s.bind(owner);
        std::vector<Credential> out;
        while (s.row()) out.push_back({s.text(0), s.text(1), s.integer(2), s.integer(3), s.integer(4) != 0});
        return out;
    }
    std::optional<std::string> ownerOf(const std::string &credentialId, Role role) override {
        requireAuthority(role);
        auto g = lock();
        Stmt s(db_, "SELECT owner FROM credential_link WHERE credential = ?");
        s.bind(credentialId);
        if (!s.row()) return std::nullopt;
        return s.text(0);
    }
    void deleteCredential(const std::string &id) override {
        atomically([&] {
            Stmt(db_, "DELETE FROM credential WHERE id = ?").bind(id).run();
            Stmt(db_, "DELETE FROM credential_link WHERE credential = ?").bind(id).run();
        });
    }

    void putPending(const std::string &key, const std::string &value, int64_t expires) override {
        auto g = lock();
        Stmt(db_, "INSERT OR REPLACE INTO pending VALUES (?, ?, ?)").bind(key).bind(value).bind(expires).run();
    }
    std::optional<std::string> takePending(const std::string &key, int64_t now) override {
        std::optional<std::string> out;
        atomically([&] {
            Stmt s(db_, "SELECT value, expires FROM pending WHERE key = ?");
            s.bind(key);
            if (s.row() && s.integer(1) > now) out = s.text(0);
            Stmt(db_, "DELETE FROM pending WHERE key = ?").bind(key).run();
        });
        return out;
    }

    std::optional<std::string> peekPending(const std::string &key, int64_t now) override {
        auto g = lock();
        Stmt s(db_, "SELECT value FROM pending WHERE key = ? AND expires > ?");
        s.bind(key).bind(now);
        if (!s.row()) return std::nullopt;
        return s.text(0);
    }

    std::vector<std::pair<std::string, std::string>> pendingWithPrefix(const std::string &prefix, int64_t now) override {
        auto g = lock();
        Stmt s(db_, "SELECT key, value FROM pending WHERE substr(key, 1, length(?)) = ? AND expires > ? ORDER BY key");
        s.bind(prefix).bind(prefix).bind(now);
        std::vector<std::pair<std::string, std::string>> out;
        while (s.row()) out.emplace_back(s.text(0), s.text(1));
        return out;
    }

    bool rememberNonce(const std::string &nonce, int64_t expires, int64_t now) override {
        bool fresh = false;
        atomically([&] {
            Stmt(db_, "DELETE FROM nonce WHERE expires <= ?").bind(now).run();
            Stmt s(db_, "SELECT 1 FROM nonce WHERE nonce = ?");
            s.bind(nonce);
            if (s.row()) return;
            Stmt(db_, "INSERT INTO nonce VALUES (?, ?)").bind(nonce).bind(expires).run();
            fresh = true;
        });
        return fresh;
    }

    void putToken(const TokenRecord &t) override {
        auto g = lock();
        Stmt(db_, "INSERT OR REPLACE INTO token VALUES (?, ?, ?, ?, ?)")
            .bind(t.jti).bind(t.subject).bind(t.audience).bind(t.expires).bind((int64_t)t.revoked)
            .run();
    }
    std::optional<TokenRecord> token(const std::string &jti) override {
        auto g = lock();
        Stmt s(db_, "SELECT jti, subject, audience, expires, revoked FROM token WHERE jti = ?");
        s.bind(jti);
        if (!s.row()) return std::nullopt;
        return TokenRecord{s.text(0), s.text(1), s.text(2), s.integer(3), s.integer(4) != 0};
    }
    int activeTokens(const std::string &subject, int64_t now) override {
        auto g = lock();
        Stmt s(db_, "SELECT COUNT(*) FROM token WHERE subject = ? AND revoked = 0 AND expires > ?");
        s.bind(subject).bind(now);
        return s.row() ? (int)s.integer(0) : 0;
    }
    void revokeToken(const std::string &jti) override {
        auto g = lock();
        Stmt(db_, "UPDATE token SET revoked = 1 WHERE jti = ?").bind(jti).run();
    }
    void revokeTokensOf(const std::string &subject) override {
        auto g = lock();
        Stmt(db_, "UPDATE token SET revoked = 1 WHERE subject = ?").bind(subject).run();
    }

    void putStatus(const AuthzStatus &st) override {
        auto g = lock();
        Stmt(db_, "INSERT OR REPLACE INTO authz_status VALUES (?, ?, ?, ?)")
            .bind(st.subject).bind(st.state).bind(st.until).bind(st.seq)
            .run();
    }
    std::optional<AuthzStatus> status(const std::string &subject) override {
        auto g = lock();
        Stmt s(db_, "SELECT subject, state, until, seq FROM authz_status WHERE subject = ?");
        s.bind(subject);
        if (!s.row()) return std::nullopt;
        return AuthzStatus{s.text(0), s.text(1), s.integer(2), s.integer(3)};
    }

private:
    std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock<std::recursive_mutex>(mutex_); }
    void exec(const char *sql) {
        char *err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string why = err ? err : "unknown";
            sqlite3_free(err);
            throw Error(Reason::DeviceError, "state store: " + why);
        }
    }

    sqlite3 *db_ = nullptr;
    std::recursive_mutex mutex_;
    int depth_ = 0;
};

}  // namespace

std::unique_ptr<Repository> openSqliteRepository(const std::string &path) {
    return std::make_unique<SqliteRepository>(path);
}

}  // namespace secsf::svc
