#include "transport.h"

#include <PCSC/pcsclite.h>
#include <fnmatch.h>
#include <openssl/crypto.h>

#include <chrono>
#include <cstdio>

namespace secsf::pcsc {

namespace {

// A response bigger than this is a broken (or hostile) card, not data.
constexpr size_t kMaxResponse = 65536;

std::string hex(const Bytes &b) {
    std::string s;
    char t[3];
    for (unsigned char c : b) {
        snprintf(t, sizeof t, "%02X", c);
        s += t;
    }
    return s;
}

Bytes encode(unsigned char cla, const Command &c, const Bytes &data, size_t le, bool ext) {
    Bytes a = {cla, c.ins, c.p1, c.p2};
    if (!ext) {
        if (!data.empty()) {
            a.push_back((unsigned char)data.size());
            a.insert(a.end(), data.begin(), data.end());
        }
        if (le) a.push_back((unsigned char)(le >= 256 ? 0 : le));
        return a;
    }
    a.push_back(0);
    if (!data.empty()) {
        a.push_back((unsigned char)(data.size() >> 8));
        a.push_back((unsigned char)data.size());
        a.insert(a.end(), data.begin(), data.end());
    }
    if (le) {
        size_t l = le >= 65536 ? 0 : le;
        a.push_back((unsigned char)(l >> 8));
        a.push_back((unsigned char)l);
    }
    return a;
}

TransportError::Kind kindOf(LONG rv) {
    switch (rv) {
    case SCARD_E_NO_SERVICE:
    case SCARD_E_SERVICE_STOPPED:
    case SCARD_E_INVALID_HANDLE:
    case SCARD_E_NO_MEMORY: return TransportError::NoService;
    case SCARD_E_UNKNOWN_READER:
    case SCARD_E_READER_UNAVAILABLE:
    case SCARD_E_NO_READERS_AVAILABLE: return TransportError::ReaderRemoved;
    case SCARD_E_NO_SMARTCARD:
    case SCARD_W_REMOVED_CARD:
    case SCARD_W_UNPOWERED_CARD:
    case SCARD_W_UNRESPONSIVE_CARD: return TransportError::CardRemoved;
    case SCARD_W_RESET_CARD: return TransportError::CardReset;
    default: return TransportError::Protocol;
    }
}

}  // namespace

std::string swText(uint16_t sw) {
    char t[8];
    snprintf(t, sizeof t, "%04X", sw);
    return t;
}

bool atrSaysExtendedLength(const Bytes &atr) {
    if (atr.size() < 2) return false;
    size_t k = atr[1] & 0x0F, i = 2;
    unsigned y = atr[1] >> 4;
    for (;;) {
        for (unsigned bit = 1; bit <= 4; bit <<= 1)
            if (y & bit && bit != 8) i++;
        if (!(y & 8)) break;
        if (i >= atr.size()) return false;
        y = atr[i++] >> 4;
    }
    if (i + k > atr.size() || k < 1 || (atr[i] != 0x00 && atr[i] != 0x80)) return false;
    size_t end = i + k - (atr[i] == 0x00 ? 3 : 0);
    for (size_t j = i + 1; j < end;) {
        unsigned tag = atr[j] >> 4, len = atr[j] & 0x0F;
        if (j + 1 + len > end) return false;
        if (tag == 7 && len >= 3) return (atr[j + 3] & 0x40) != 0;
        j += 1 + len;
    }
    return false;
}

Service::Service() {
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &ctx_);
    if (rv != SCARD_S_SUCCESS)
        throw TransportError(TransportError::NoService,
                             std::string("the PC/SC service (pcscd) is not reachable: ") + pcsc_stringify_error(rv));
}

Service::~Service() { SCardReleaseContext(ctx_); }

std::vector<std::string> Service::readers() {
    DWORD len = 0;
    LONG rv = SCardListReaders(ctx_, nullptr, nullptr, &len);
    if (rv == SCARD_E_NO_READERS_AVAILABLE) return {};
    if (rv != SCARD_S_SUCCESS)
        throw TransportError(kindOf(rv) == TransportError::ReaderRemoved ? TransportError::Protocol : kindOf(rv),
                             std::string("listing the card readers: ") + pcsc_stringify_error(rv));
    std::string buf(len, '\0');
    rv = SCardListReaders(ctx_, nullptr, buf.data(), &len);
    if (rv == SCARD_E_NO_READERS_AVAILABLE) return {};
    if (rv != SCARD_S_SUCCESS)
        throw TransportError(TransportError::NoService, std::string("listing the card readers: ") + pcsc_stringify_error(rv));
    std::vector<std::string> out;
    for (const char *p = buf.c_str(); *p; p += out.back().size() + 1) out.emplace_back(p);
    return out;
}

std::string Service::findReader(const std::string &pattern) {
    std::vector<std::string> all = readers();
    bool glob = pattern.find_first_of("*?[") != std::string::npos;
    std::string seen;
    for (const std::string &r : all) {
        if (pattern.empty() || (glob ? fnmatch(pattern.c_str(), r.c_str(), 0) == 0 : r.find(pattern) != std::string::npos))
            return r;
        seen += (seen.empty() ? "" : ", ") + ("'" + r + "'");
    }
    throw TransportError(TransportError::ReaderRemoved,
                         "no card reader matches '" + pattern + "' (readers: " + (seen.empty() ? "none" : seen) + ")");
}

Session::Session(std::shared_ptr<Service> svc, std::string reader) : svc_(std::move(svc)), reader_(std::move(reader)) {
    connect();
}

Session::~Session() {
    if (card_) SCardDisconnect(card_, SCARD_LEAVE_CARD);
}

void Session::fail(LONG rv, const std::string &what) {
    TransportError::Kind k = kindOf(rv);
    if (k == TransportError::CardRemoved || k == TransportError::ReaderRemoved) {
        // The handle is dead; the next use connects again (the card may be back).
        if (card_) SCardDisconnect(card_, SCARD_LEAVE_CARD);
        card_ = 0;
        generation_++;
    }
    std::string msg;
    switch (k) {
    case TransportError::CardRemoved: msg = "the card was removed from reader '" + reader_ + "'"; break;
    case TransportError::ReaderRemoved: msg = "card reader '" + reader_ + "' is gone"; break;
    case TransportError::NoService: msg = "the PC/SC service (pcscd) went away"; break;
    case TransportError::CardReset: msg = "the card in '" + reader_ + "' was reset by another process"; break;
    default: msg = "card reader '" + reader_ + "' failed"; break;
    }
    throw TransportError(k, msg + " while " + what + " (" + pcsc_stringify_error(rv) + ")");
}

void Session::connect() {
    LONG rv = SCardConnect(svc_->context(), reader_.c_str(), SCARD_SHARE_SHARED,
                           SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card_, &proto_);
    if (rv != SCARD_S_SUCCESS) {
        card_ = 0;
        fail(rv, "connecting to the card");
    }
    BYTE atr[MAX_ATR_SIZE];
    DWORD atrLen = sizeof atr, state = 0, proto = 0, nameLen = 0;
    rv = SCardStatus(card_, nullptr, &nameLen, &state, &proto, atr, &atrLen);
    if (rv != SCARD_S_SUCCESS) fail(rv, "reading the card's ATR");
    atr_.assign(atr, atr + atrLen);
    extended_ = proto_ != SCARD_PROTOCOL_T0 && atrSaysExtendedLength(atr_);
    generation_++;
}

void Session::reconnect() {
    LONG rv = SCardReconnect(card_, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD,
                             &proto_);
    if (rv != SCARD_S_SUCCESS) fail(rv, "reconnecting after a card reset");
    generation_++;
}

Response Session::transmitRaw(const Bytes &apdu) {
    std::lock_guard<std::recursive_mutex> g(mutex_);
    if (!card_) connect();
    // One receive buffer per session (calls are serialised by mutex_), wiped after use:
    // answers can be ECDH secrets or decrypted keys.
    Bytes &buf = rx_;
    if (buf.size() < kMaxResponse + 2) buf.resize(kMaxResponse + 2);
    DWORD len = (DWORD)buf.size();
    const SCARD_IO_REQUEST *pci = proto_ == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    LONG rv = SCardTransmit(card_, pci, apdu.data(), (DWORD)apdu.size(), nullptr, buf.data(), &len);
    if (rv == SCARD_W_RESET_CARD) {
        reconnect();
        fail(rv, "sending a command");
    }
    if (rv != SCARD_S_SUCCESS || len < 2) {
        // A card that vanished mid-command shows as a transfer error or as an empty
        // answer (vpcd): ask the reader whether the card is still there.
        DWORD state = 0, proto = 0, nameLen = 0, atrLen = 0;
        LONG st = SCardStatus(card_, nullptr, &nameLen, &state, &proto, nullptr, &atrLen);
        if (st != SCARD_S_SUCCESS && kindOf(st) != TransportError::Protocol) fail(st, "sending a command");
        if (cardGone(2000)) fail(SCARD_W_REMOVED_CARD, "sending a command");
        if (rv != SCARD_S_SUCCESS) fail(rv, "sending a command");
        throw TransportError(TransportError::Protocol, "the card in '" + reader_ + "' answered with " +
                                                           std::to_string(len) + " bytes, not even a status word");
    }
    Response r;
    r.sw = (uint16_t)(buf[len - 2] << 8 | buf[len - 1]);
    r.data.assign(buf.begin(), buf.begin() + (long)len - 2);
    OPENSSL_cleanse(buf.data(), len);
    return r;
}

bool Session::cardGone(int waitMs) {
    // pcscd polls a reader a few times a second: wait for it to notice, or not.
    SCARD_READERSTATE rs{};
    rs.szReader = reader_.c_str();
    rs.dwCurrentState = SCARD_STATE_UNAWARE;
    if (SCardGetStatusChange(svc_->context(), 0, &rs, 1) != SCARD_S_SUCCESS) return false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
    while (!(rs.dwEventState & (SCARD_STATE_EMPTY | SCARD_STATE_UNAVAILABLE))) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        rs.dwCurrentState = rs.dwEventState & ~SCARD_STATE_CHANGED;
        LONG rv = SCardGetStatusChange(svc_->context(), (DWORD)left.count(), &rs, 1);
        if (rv == SCARD_E_TIMEOUT) return false;
        if (rv != SCARD_S_SUCCESS) return true;
    }
    return true;
}

Channel Session::basicChannel(const Bytes &aid) {
    Channel c(*this, 0, aid);
    c.owned_ = false;  // selected on first use: the caller may want it inside a transaction
    return c;
}

Channel Session::logicalChannel(const Bytes &aid) {
    Transaction t(*this);
    Response r = transmitRaw({0x00, 0x70, 0x00, 0x00, 0x01});
    if (!r.ok() || r.data.size() != 1 || r.data[0] == 0 || r.data[0] > 19)
        throw TransportError(TransportError::Protocol,
                             "the card in '" + reader_ + "' opens no logical channel (status " + swText(r.sw) + ")");
    Channel c(*this, r.data[0], aid);
    c.select();
    return c;
}

Session::Transaction::Transaction(Session &s) : s_(s), lock_(s.mutex_) {
    try {
        if (!s_.card_) s_.connect();
        for (int attempt = 0;; attempt++) {
            LONG rv = SCardBeginTransaction(s_.card_);
            if (rv == SCARD_S_SUCCESS) return;
            if (rv == SCARD_W_RESET_CARD && attempt == 0) {
                s_.reconnect();  // someone reset the card: our applet state is gone, not the card
                continue;
            }
            s_.fail(rv, "reserving the card");
        }
    } catch (const TransportError &e) {
        throw TransportError(e.kind(), e.what(), true);
    }
}

Session::Transaction::~Transaction() {
    if (!s_.card_) return;
    if (SCardEndTransaction(s_.card_, reset_ ? SCARD_RESET_CARD : SCARD_LEAVE_CARD) == SCARD_S_SUCCESS && reset_)
        s_.generation_++;
}

Channel::Channel(Session &s, int number, Bytes aid) : s_(&s), number_(number), aid_(std::move(aid)) {}

Channel::Channel(Channel &&o) noexcept
    : s_(o.s_), number_(o.number_), aid_(std::move(o.aid_)), selectResponse_(std::move(o.selectResponse_)),
      selectedIn_(o.selectedIn_), owned_(o.owned_) {
    o.owned_ = false;
}

Channel::~Channel() {
    if (!owned_ || number_ == 0) return;
    try {
        s_->transmitRaw({0x00, 0x70, 0x80, (unsigned char)number_});
    } catch (...) {
        // The card or reader is gone; so is the channel.
    }
}

unsigned char Channel::claFor(unsigned char cla) const {
    if (number_ < 4) return (unsigned char)((cla & 0xFC) | number_);
    return (unsigned char)(0x40 | (cla & 0x10) | (number_ - 4));
}

void Channel::select() {
    Command c{0x00, 0xA4, 0x04, 0x00, aid_, 256};
    Response r = exchange(c);
    if (r.sw == 0x6A82 || r.sw == 0x6A81 || r.sw == 0x6999)
        throw Error(Reason::NotFound, "the card in '" + s_->reader() + "' has no application " + hex(aid_));
    if (!r.ok())
        throw TransportError(TransportError::Protocol, "selecting application " + hex(aid_) + " failed (status " +
                                                           swText(r.sw) + ")");
    selectResponse_ = std::move(r.data);
    selectedIn_ = s_->generation();
}

Response Channel::transmit(const Command &c) {
    if (selectedIn_ != s_->generation()) select();
    return exchange(c);
}

Response Channel::exchange(Command c) {
    unsigned char cla = claFor(c.cla);
    bool ext = s_->extendedLength() && (c.data.size() > 255 || c.le > 256);
    Bytes data = c.data;
    if (!ext && data.size() > 255) {
        // Command chaining: every block but the last carries the chaining bit.
        size_t off = 0;
        for (; data.size() - off > 255; off += 255) {
            Bytes block(data.begin() + (long)off, data.begin() + (long)off + 255);
            Response r = s_->transmitRaw(encode((unsigned char)(cla | 0x10), c, block, 0, false));
            if (!r.ok()) return r;
        }
        data.erase(data.begin(), data.begin() + (long)off);
    }
    size_t le = c.le;
    if (!ext && le > 256) le = 256;
    if (s_->t0() && !data.empty()) le = 0;  // T=0 has no Le on case 4: 61xx says how much
    Response r = s_->transmitRaw(encode(cla, c, data, le, ext));
    if ((r.sw >> 8) == 0x6C) {  // "wrong Le": the card did nothing; ask again with its length
        size_t exact = (r.sw & 0xFF) ? (r.sw & 0xFF) : 256;
        r = s_->transmitRaw(encode(cla, c, data, exact, false));
    }
    Bytes out = std::move(r.data);
    while ((r.sw >> 8) == 0x61) {
        size_t n = (r.sw & 0xFF) ? (r.sw & 0xFF) : 256;
        Command get{0x00, 0xC0, 0x00, 0x00, {}, n};
        r = s_->transmitRaw(encode(claFor(0x00), get, {}, n, false));
        if ((r.sw >> 8) == 0x6C) {
            size_t exact = (r.sw & 0xFF) ? (r.sw & 0xFF) : 256;
            r = s_->transmitRaw(encode(claFor(0x00), get, {}, exact, false));
        }
        out.insert(out.end(), r.data.begin(), r.data.end());
        if (out.size() > kMaxResponse)
            throw TransportError(TransportError::Protocol,
                                 "the card in '" + s_->reader() + "' sends more than 64 KiB for one command");
    }
    r.data = std::move(out);
    return r;
}

}  // namespace secsf::pcsc
