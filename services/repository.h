// What the services must remember across a restart: enrolled identities, issued and
// revoked credentials (and, apart, which true identity holds which temporary one),
// challenges in flight, nonces seen, tokens, authorization status. A small interface
// so that a deployment that outgrows one machine can back it with PostgreSQL; the
// default is SQLite (openSqliteRepository).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace secsf::svc {

// Who is asking: the link between a temporary identity and the true identity is
// readable by an authority only (TS-0003 7.1.2: accountable, private).
enum class Role { Service, Authority };

struct Enrollee {
    std::string id;            // canonical identity (a node) or App-ID (an application)
    std::string kind;          // "node" | "app"
    std::string publicKeyPem;  // the key it authenticates with
    bool permitted = true;     // may enrol and request credentials
    bool authEnabled = true;   // false: authentication disabled by the operator
};

struct Credential {
    std::string id;    // the temporary identity
    std::string kind;  // "session" (nodes) | "sp" (applications)
    int64_t issued = 0, expires = 0;
    bool revoked = false;
};

struct TokenRecord {
    std::string jti, subject, audience;
    int64_t expires = 0;
    bool revoked = false;
};

struct AuthzStatus {
    std::string subject;
    std::string state = "active";  // active | disabled | removed
    int64_t until = 0;             // disabled: until when (0: until further notice)
    int64_t seq = 0;               // publication order, per issuer
};

class Repository {
public:
    virtual ~Repository() = default;
    // Runs fn in one transaction: all of its writes are durable when this returns,
    // or none are (fn threw). Nested calls join the outer transaction.
    virtual void atomically(const std::function<void()> &fn) = 0;

    virtual std::optional<Enrollee> enrollee(const std::string &id) = 0;
    virtual void putEnrollee(const Enrollee &e) = 0;

    virtual void putCredential(const Credential &c, const std::string &owner) = 0;
    virtual std::optional<Credential> credential(const std::string &id) = 0;
    virtual void revokeCredential(const std::string &id) = 0;
    // Throws Error(PinRequired) for Role::Service.
    virtual std::vector<Credential> credentialsOf(const std::string &owner, Role role) = 0;
    virtual std::optional<std::string> ownerOf(const std::string &credentialId, Role role) = 0;
    // Forgets a credential and its link (a node wiping what it held).
    virtual void deleteCredential(const std::string &id) = 0;

    virtual void putPending(const std::string &key, const std::string &value, int64_t expires) = 0;
    // Returns and removes it; nullopt when absent or expired.
    virtual std::optional<std::string> takePending(const std::string &key, int64_t now) = 0;
    // Returns it and leaves it.
    virtual std::optional<std::string> peekPending(const std::string &key, int64_t now) = 0;
    // Every unexpired entry whose key starts with prefix.
    virtual std::vector<std::pair<std::string, std::string>> pendingWithPrefix(const std::string &prefix, int64_t now) = 0;

    // False when the nonce was seen before (and its record has not expired).
    virtual bool rememberNonce(const std::string &nonce, int64_t expires, int64_t now) = 0;

    virtual void putToken(const TokenRecord &t) = 0;
    virtual std::optional<TokenRecord> token(const std::string &jti) = 0;
    virtual int activeTokens(const std::string &subject, int64_t now) = 0;
    virtual void revokeToken(const std::string &jti) = 0;
    virtual void revokeTokensOf(const std::string &subject) = 0;

    virtual void putStatus(const AuthzStatus &s) = 0;
    virtual std::optional<AuthzStatus> status(const std::string &subject) = 0;
};

// SQLite in WAL mode with synchronous=FULL: an acknowledged write survives a crash.
// Throws Error(Config) when the file cannot be opened or created.
std::unique_ptr<Repository> openSqliteRepository(const std::string &path);

}  // namespace secsf::svc
