// The Security Transport (after the Open Mobile API): readers, a session on the
// card in one reader, channels to applets, and APDUs. Usable without the rest of
// secsf. What a caller never sees: GET RESPONSE on 61xx, the re-issue on 6Cxx,
// command chaining for long data, extended length when the card's ATR offers it,
// the channel number in CLA, and reconnecting after another process reset the card.
//
// A card application profile (the PIV application, a UICC's oneM2M application of
// TS-0003 Annex D) sits on a Channel and never talks to PC/SC itself.
#pragma once
#include <PCSC/winscard.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "secsf/error.h"

namespace secsf::pcsc {

using Bytes = std::vector<unsigned char>;

// What went wrong below the applet, for callers that react differently to each.
class TransportError : public Error {
public:
    enum Kind { NoService, ReaderRemoved, CardRemoved, CardReset, Protocol };
    TransportError(Kind k, const std::string &msg, bool nothingSent = false)
        : Error(Reason::DeviceError, msg), kind_(k), nothingSent_(nothingSent) {}
    Kind kind() const { return kind_; }
    // True when it happened before any command reached the card (reserving it):
    // the operation can be tried again on a fresh connection without harm.
    bool nothingSent() const { return nothingSent_; }

private:
    Kind kind_;
    bool nothingSent_;
};

struct Command {
    unsigned char cla = 0, ins = 0, p1 = 0, p2 = 0;
    Bytes data;
    size_t le = 0;  // expected response length; 0: none expected; 256 (or 65536): "all"
};

struct Response {
    Bytes data;
    uint16_t sw = 0;
    bool ok() const { return sw == 0x9000; }
};

// The PC/SC service (pcscd). PCSCLITE_CSOCK_NAME chooses a non-default socket.
class Service {
public:
    Service();
    ~Service();
    Service(const Service &) = delete;
    SCARDCONTEXT context() const { return ctx_; }
    std::vector<std::string> readers();
    // The first reader whose name matches: a glob (fnmatch) if it has *?[, else a
    // substring; empty matches every reader. Throws ReaderRemoved with the names seen.
    std::string findReader(const std::string &pattern);

private:
    SCARDCONTEXT ctx_ = 0;
};

class Channel;

// The card in one reader, shared with other processes.
class Session {
public:
    Session(std::shared_ptr<Service> svc, std::string reader);
    ~Session();
    Session(const Session &) = delete;

    const std::string &reader() const { return reader_; }
    const Bytes &atr() const { return atr_; }
    bool extendedLength() const { return extended_; }
    bool t0() const { return proto_ == SCARD_PROTOCOL_T0; }
    // Changes whenever the card was reset or reconnected: applets must re-select.
    unsigned generation() const { return generation_; }

    Channel basicChannel(const Bytes &aid);
    Channel logicalChannel(const Bytes &aid);  // MANAGE CHANNEL, then SELECT on it

    // One APDU as bytes, as the card answers it. Throws TransportError.
    Response transmitRaw(const Bytes &apdu);

    // Holds the card for this process (and this thread) until destroyed; other
    // processes' APDUs wait. Reconnects first when another process reset the card.
    class Transaction {
    public:
        explicit Transaction(Session &s);
        ~Transaction();
        // Ends by resetting the card (when its applet cannot drop a login otherwise).
        void resetOnEnd() { reset_ = true; }

    private:
        Session &s_;
        std::unique_lock<std::recursive_mutex> lock_;
        bool reset_ = false;
    };

private:
    void connect();
    void reconnect();
    // After a command went unanswered: whether the reader reports no card (waiting
    // up to waitMs for it to notice).
    bool cardGone(int waitMs);
    [[noreturn]] void fail(LONG rv, const std::string &what);

    std::shared_ptr<Service> svc_;
    std::string reader_;
    SCARDHANDLE card_ = 0;
    DWORD proto_ = 0;
    Bytes atr_;
    bool extended_ = false;
    unsigned generation_ = 0;
    Bytes rx_;
    std::recursive_mutex mutex_;
};

// A channel to one selected applet. transmit() applies the channel number and the
// T=0/T=1 rules; the caller builds APDUs as if on the basic channel.
class Channel {
public:
    Channel(Session &s, int number, Bytes aid);
    Channel(Channel &&o) noexcept;
    Channel &operator=(Channel &&) = delete;
    ~Channel();

    int number() const { return number_; }
    const Bytes &selectResponse() const { return selectResponse_; }
    // SELECT by AID again (after a reset, or when another process may have selected
    // something else). Throws Error(NotFound) if the card has no such applet.
    void select();
    // Re-selects first when the session's generation changed since the last SELECT.
    Response transmit(const Command &c);

private:
    Response exchange(Command c);
    unsigned char claFor(unsigned char cla) const;

    Session *s_;
    int number_;
    Bytes aid_;
    Bytes selectResponse_;
    unsigned selectedIn_ = ~0u;
    bool owned_ = true;
    friend class Session;
};

// Extended length support as the ATR's card capabilities (compact-TLV tag 7) say.
bool atrSaysExtendedLength(const Bytes &atr);
// "6A82" style, for messages.
std::string swText(uint16_t sw);

}  // namespace secsf::pcsc
