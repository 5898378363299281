#include "card_state.h"

#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace card {

namespace {

std::string hex(const Bytes &b) {
    static const char d[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) {
        s += d[c >> 4];
        s += d[c & 15];
    }
    return s;
}

Bytes unhex(const std::string &s) {
    if (s.size() % 2) throw std::runtime_error("odd hex string in card state");
    Bytes b;
    for (size_t i = 0; i < s.size(); i += 2) b.push_back((unsigned char)std::stoi(s.substr(i, 2), nullptr, 16));
    return b;
}

}  // namespace

State State::load(const std::string &path) {
    State st;
    std::ifstream f(path);
    if (!f) return st;
    std::string line;
    while (std::getline(f, line)) {
        std::istringstream in(line);
        std::string name, a, b;
        in >> name >> a >> b;
        if (name == "pin") st.pin = unhex(a), st.pinTries = std::stoi(b);
        else if (name == "puk") st.puk = unhex(a), st.pukTries = std::stoi(b);
        else if (name == "mgmt") st.mgmtKey = unhex(a);
        else if (name == "key") {
            Bytes der = unhex(b);
            const unsigned char *p = der.data();
            EVP_PKEY *k = d2i_AutoPrivateKey(nullptr, &p, (long)der.size());
            if (!k) throw std::runtime_error("bad key in card state");
            st.keys[std::stoi(a, nullptr, 16)].reset(k);
        } else if (name == "obj") {
            st.objects[std::stoi(a, nullptr, 16)] = unhex(b);
        }
    }
    return st;
}

void State::save(const std::string &path) const {
    std::ostringstream out;
    out << "pin " << hex(pin) << ' ' << pinTries << '\n';
    out << "puk " << hex(puk) << ' ' << pukTries << '\n';
    out << "mgmt " << hex(mgmtKey) << '\n';
    for (const auto &[slot, key] : keys) {
        unsigned char *der = nullptr;
        int n = i2d_PrivateKey(key.get(), &der);
        if (n <= 0) throw std::runtime_error("cannot encode a card key");
        out << "key " << std::hex << slot << std::dec << ' ' << hex(Bytes(der, der + n)) << '\n';
        OPENSSL_free(der);
    }
    for (const auto &[tag, value] : objects)
        out << "obj " << std::hex << tag << std::dec << ' ' << hex(value) << '\n';
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << out.str();
        if (!f.flush()) throw std::runtime_error("cannot write card state " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot replace card state");
}

}  // namespace card
