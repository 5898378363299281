// The PIV card application (NIST SP 800-73-4 part 2) as a card profile on the
// Security Transport. Each call is one PC/SC transaction that
//   - selects the application again (another process may have selected another),
//   - verifies the PIN when the slot needs it (never spending the last try),
//   - runs the command, and
//   - drops the PIN status before letting go (VERIFY with P1=FF, or a card reset
//     on cards without it), so no other process inherits the login.
#pragma once
#include <memory>
#include <optional>

#include "../../pkcs11/pin.h"
#include "secsf/secure_bytes.h"
#include "transport.h"

namespace secsf::pcsc {

// PIV algorithm identifiers (SP 800-78-4).
enum PivAlg : unsigned char {
    PivTdes = 0x03, PivRsa2048 = 0x07, PivAes128 = 0x08, PivAes192 = 0x0A, PivAes256 = 0x0C,
    PivEccP256 = 0x11, PivEccP384 = 0x14,
};

struct PivSlot {
    unsigned char ref;
    unsigned certTag;  // the X.509 certificate container of this slot
    const char *name;
    bool needsPin;
};
// Throws Error(BadInput) for a slot secsf does not use.
const PivSlot &pivSlot(unsigned char ref);

// The card's management key (9B) and its algorithm, to generate keys and write objects.
struct ManagementKey {
    SecureBytes key;
    PivAlg alg = PivTdes;
    // Reads hex text from a pin-source form (file:/path, env:NAME). The algorithm
    // follows the length (24 bytes: 3DES, as PIV cards ship; 16/32: AES-128/256)
    // unless `alg` names one ("3des", "aes128", "aes192", "aes256").
    static ManagementKey fromSource(const std::string &source, const std::string &alg);
};

class PivCard {
public:
    static const Bytes kAid;
    explicit PivCard(std::shared_ptr<Session> s);

    const std::string &reader() const { return session_->reader(); }
    // GET DATA: the contents of the object's 53 template; nullopt if absent.
    std::optional<Bytes> readObject(unsigned tag);
    // Several objects in one transaction; absent ones are left out.
    std::vector<std::pair<unsigned, Bytes>> readObjects(const std::vector<unsigned> &tags);
    // PUT DATA (empty value deletes), after management-key authentication.
    void writeObject(unsigned tag, const Bytes &value, const ManagementKey &mk);
    // GENERATE ASYMMETRIC KEY PAIR: the public key template's contents (86 / 81 82).
    Bytes generate(unsigned char slot, PivAlg alg, const ManagementKey &mk);
    // GENERAL AUTHENTICATE with the slot's private key: tag 0x81 (sign or raw RSA)
    // or 0x85 (ECDH with a peer point); returns the card's 0x82 response.
    SecureBytes authenticate(unsigned char slot, PivAlg alg, unsigned char tag, const Bytes &in,
                             const p11::PinSource &pin);

private:
    template <class F> auto transaction(F fn) -> decltype(fn(std::declval<Session::Transaction &>()));
    Response send(const Command &c);
    void verifyPin(const p11::PinSource &pin);
    void dropPin(Session::Transaction &t);
    void authenticateManagement(const ManagementKey &mk);
    [[noreturn]] void refuse(uint16_t sw, const std::string &what);

    std::shared_ptr<Session> session_;
    Channel channel_;
    Bytes goodPinHash_;  // SHA-256 of the PIN last accepted: skips the tries check
};

}  // namespace secsf::pcsc
