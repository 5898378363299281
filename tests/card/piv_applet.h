// A PIV card application (NIST SP 800-73-4, part 2) for tests: SELECT, GET/PUT DATA,
// VERIFY (and reset), CHANGE REFERENCE DATA, RESET RETRY COUNTER, GENERATE
// ASYMMETRIC KEY PAIR, GENERAL AUTHENTICATE (management-key authentication, signing,
// ECDH, RSA decryption), MANAGE CHANNEL, command chaining and GET RESPONSE.
// Real cryptography through OpenSSL; the state persists in a file.
//
// Test knobs a real card has too: strictLe answers 6Cxx when Le is not the exact
// length (old T=0 cards); extended accepts extended-length APDUs (the ATR says so).
// A "fault file" next to the state makes the next private-key operation misbehave:
// truncate | badsw | oversize | garbage | die (the card vanishes mid-command).
#pragma once
#include <string>

#include "card_state.h"

namespace card {

struct Options {
    bool strictLe = false;
    bool extended = false;
};

class PivApplet {
public:
    PivApplet(std::string statePath, Options opt);
    Bytes process(const Bytes &capdu);
    void powerCycle();  // what power off, power on and reset do to volatile state
    Bytes atr() const;

private:
    struct Apdu {
        unsigned char cla = 0, ins = 0, p1 = 0, p2 = 0;
        Bytes data;
        size_t le = 0;
        bool hasLe = false, extended = false;
    };
    static bool parse(const Bytes &raw, Apdu &a);
    Bytes respond(const Apdu &a, Bytes data, unsigned sw = 0x9000);
    Bytes dispatch(const Apdu &a);
    Bytes select(const Apdu &a, int channel);
    Bytes getData(const Apdu &a);
    Bytes putData(const Apdu &a);
    Bytes verify(const Apdu &a);
    Bytes changePin(const Apdu &a);
    Bytes resetRetry(const Apdu &a);
    Bytes generate(const Apdu &a);
    Bytes generalAuthenticate(const Apdu &a);
    Bytes managementAuth(const Apdu &a, const Bytes &tlvs);
    Bytes privateKeyOp(const Apdu &a, const Bytes &tlvs);
    Bytes manageChannel(const Apdu &a);
    std::string fault();
    void save() { st_.save(statePath_); }

    std::string statePath_;
    Options opt_;
    State st_;
    // Volatile: lost on reset.
    bool selected_[4] = {};
    bool channelOpen_[4] = {true, false, false, false};
    bool pinVerified_ = false, mgmtAuthenticated_ = false;
    Bytes challenge_;          // management key: what we asked the host to encrypt
    Bytes chain_;              // command chaining: data so far
    unsigned char chainIns_ = 0;
    Bytes pending_;            // response data GET RESPONSE still has to give
};

}  // namespace card
