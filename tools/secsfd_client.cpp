#include "secsfd_client.h"

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "../services/jose.h"
#include "secsf/error.h"

namespace secsf::cli {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

SecsfdClient::SecsfdClient(std::string socketPath, std::string origin)
    : socket_(std::move(socketPath)), origin_(std::move(origin)) {}

std::string SecsfdClient::segment(const std::string &s) {
    std::string out;
    for (unsigned char c : s) {
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += (char)c;
        } else {
            char buf[4];
            snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

Json SecsfdClient::call(const std::string &method, const std::string &target, const std::string &body, std::string *raw) const {
    net::io_context ioc;
    net::local::stream_protocol::socket sock(ioc);
    beast::error_code ec;
    sock.connect(net::local::stream_protocol::endpoint(socket_), ec);
    if (ec)
        throw Error(Reason::DeviceError, "cannot reach secsfd at " + socket_ + " (" + ec.message() +
                                             "): start it (systemctl start secsfd.socket), or add --direct to use the SEs "
                                             "without it");
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, "secsfd");
    if (!origin_.empty()) req.set("X-M2M-Origin", origin_);
    req.body() = body;
    req.prepare_payload();
    http::response<http::string_body> res;
    beast::flat_buffer buf;
    http::write(sock, req, ec);
    if (!ec) http::read(sock, buf, res, ec);
    if (ec) throw Error(Reason::DeviceError, "secsfd at " + socket_ + " did not answer (" + ec.message() + ")");
    std::string text = res.body();
    bool isJson = res[http::field::content_type] == "application/json";
    Json j = isJson ? svc::parseJson(text) : Json();
    int status = (int)res.result_int();
    if (status >= 400) {
        std::string why = j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                                          : "HTTP " + std::to_string(status);
        if (status == 403) throw Denied(why);
        Reason r = status == 404 ? Reason::NotFound : status == 400 || status == 413 ? Reason::BadInput
                 : status == 501 ? Reason::Unsupported : Reason::DeviceError;
        throw Error(r, why);
    }
    if (raw) *raw = text;
    return j;
}

std::string SecsfdClient::entity() const {
    Json h = call("GET", "/health");
    if (!h.is_object() || !h.contains("entity") || !h["entity"].is_string())
        throw Error(Reason::DeviceError, "secsfd's /health did not say who the caller is");
    return h["entity"].get<std::string>();
}

}  // namespace secsf::cli
