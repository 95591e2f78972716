#include "server/nts/ke_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "server/nts/ke_records.hpp"
#include "server/nts/session_keys.hpp"

namespace nts {
namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned char kAlpnList[] = {7, 'n', 't', 's', 'k', 'e', '/', '1'};
constexpr std::array kOffered{Aead::aes_siv_cmac_256, Aead::aes_siv_cmac_512};
// A response is eight cookies and a few records; anything much longer is not one.
constexpr std::size_t kMaxResponseLength = 16384;

struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};
struct SslContextFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

std::string tls_error(std::string_view what) {
  std::string out{what};
  if (const unsigned long code = ERR_get_error(); code != 0) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    out += ": ";
    out += text.data();
  }
  ERR_clear_error();
  return out;
}

class Exchange {
 public:
  explicit Exchange(const KeClientOptions& options) : options_(options), deadline_(Clock::now() + options.timeout) {}

  KeClientOutcome run() {
    KeClientOutcome out;
    if (!connect() || !handshake() || !send_request()) {
      out.error = error_;
      return out;
    }
    std::optional<KeResponseParse> parsed = read_response();
    if (!parsed) {
      out.error = error_;
      return out;
    }
    ClientSession session;
    session.aead = *parsed->response.aead;
    if (!export_session_keys(ssl_.get(), session.aead, session.c2s, session.s2c)) {
      out.error = tls_error("cannot export the session keys");
      return out;
    }
    session.ntp_server = parsed->response.server;
    session.ntp_port = parsed->response.port.value_or(options_.default_ntp_port);
    for (auto& cookie : parsed->response.cookies) {
      session.add_cookie(cookie);
      OPENSSL_cleanse(cookie.data(), cookie.size());
    }
    SSL_shutdown(ssl_.get());
    out.session = std::move(session);
    return out;
  }

 private:
  bool fail(std::string error) {
    error_ = std::move(error);
    return false;
  }

  // Waits for `events` until the deadline; false (and why) when it passes.
  bool wait(short events) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) return fail("timed out after " + std::to_string(options_.timeout.count()) + " ms");
      pollfd p{socket_.fd, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return fail(std::string{"poll: "} + std::strerror(errno));
    }
  }

  bool connect() {
    socket_.fd = ::socket(options_.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (socket_.fd < 0) return fail(std::string{"socket: "} + std::strerror(errno));
    if (::connect(socket_.fd, reinterpret_cast<const sockaddr*>(&options_.address), options_.address_length) != 0) {
      if (errno != EINPROGRESS) return fail(std::string{"connect: "} + std::strerror(errno));
      if (!wait(POLLOUT)) return false;
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(socket_.fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) return fail(std::string{"connect: "} + std::strerror(error));
    }
    return true;
  }

  bool handshake() {
    context_.reset(SSL_CTX_new(TLS_client_method()));
    if (!context_) return fail(tls_error("cannot make a TLS context"));
    SSL_CTX* ctx = context_.get();
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (options_.ca_file) {
      if (SSL_CTX_load_verify_locations(ctx, options_.ca_file->c_str(), nullptr) != 1) {
        return fail(tls_error(*options_.ca_file + ": cannot load CA certificates"));
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return fail(tls_error("cannot load the system's CA certificates"));
    }
    if (SSL_CTX_set_alpn_protos(ctx, kAlpnList, sizeof kAlpnList) != 0) return fail(tls_error("cannot set ALPN"));
    ssl_.reset(SSL_new(ctx));
    if (!ssl_) return fail(tls_error("cannot make a TLS session"));
    SSL* ssl = ssl_.get();
    // An address is verified as one (its IP SAN); a name by its DNS SAN, and sent as SNI.
    std::array<unsigned char, 16> literal{};
    const bool is_address = ::inet_pton(AF_INET, options_.host.c_str(), literal.data()) == 1 ||
                            ::inet_pton(AF_INET6, options_.host.c_str(), literal.data()) == 1;
    if (is_address) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options_.host.c_str()) != 1) {
        return fail(tls_error("cannot verify against " + options_.host));
      }
    } else if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                        const_cast<char*>(options_.host.c_str())) != 1 || SSL_set1_host(ssl, options_.host.c_str()) != 1) {
      return fail(tls_error("cannot verify against " + options_.host));
    }
    SSL_set_fd(ssl, socket_.fd);
    for (;;) {
      const int r = SSL_connect(ssl);
      if (r == 1) break;
      const int error = SSL_get_error(ssl, r);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        if (!wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) return false;
        continue;
      }
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        ERR_clear_error();
        return fail(std::string{"certificate not trusted: "} + X509_verify_cert_error_string(verify));
      }
      return fail(tls_error("TLS handshake failed"));
    }
    const unsigned char* protocol = nullptr;
    unsigned protocol_length = 0;
    SSL_get0_alpn_selected(ssl, &protocol, &protocol_length);
    if (protocol_length != sizeof kAlpnList - 1 || std::memcmp(protocol, kAlpnList + 1, protocol_length) != 0) {
      return fail("the server did not agree to ALPN ntske/1");
    }
    return true;
  }

  bool send_request() {
    const std::vector<std::byte> request = encode_ke_request(kOffered);
    std::size_t sent = 0;
    while (sent < request.size()) {
      std::size_t n = 0;
      const int r = SSL_write_ex(ssl_.get(), request.data() + sent, request.size() - sent, &n);
      if (r == 1) {
        sent += n;
        continue;
      }
      const int error = SSL_get_error(ssl_.get(), r);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) return fail(tls_error("sending the request"));
      if (!wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) return false;
    }
    return true;
  }

  std::optional<KeResponseParse> read_response() {
    std::vector<std::byte> received;
    std::array<std::byte, 4096> chunk;
    for (;;) {
      std::size_t n = 0;
      const int r = SSL_read_ex(ssl_.get(), chunk.data(), chunk.size(), &n);
      if (r == 1) {
        received.insert(received.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
        KeResponseParse parsed = parse_ke_response(received, kOffered);
        OPENSSL_cleanse(chunk.data(), n);
        if (parsed.status == KeResponseParse::Status::complete) {
          OPENSSL_cleanse(received.data(), received.size());
          return parsed;
        }
        if (parsed.status == KeResponseParse::Status::error) {
          fail(parsed.detail);
          return std::nullopt;
        }
        if (received.size() > kMaxResponseLength) {
          fail("a response longer than " + std::to_string(kMaxResponseLength) + " bytes");
          return std::nullopt;
        }
        continue;
      }
      const int error = SSL_get_error(ssl_.get(), r);
      if (error == SSL_ERROR_ZERO_RETURN) {
        fail("the server closed the connection before End of Message");
        return std::nullopt;
      }
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        fail(tls_error("reading the response"));
        return std::nullopt;
      }
      if (!wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) return std::nullopt;
    }
  }

  const KeClientOptions& options_;
  Clock::time_point deadline_;
  Descriptor socket_;
  std::unique_ptr<SSL_CTX, SslContextFree> context_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::string error_;
};

}  // namespace

KeClientOutcome establish_session(const KeClientOptions& options) { return Exchange{options}.run(); }

std::string ca_file_problem(const std::string& path) {
  std::unique_ptr<SSL_CTX, SslContextFree> context{SSL_CTX_new(TLS_client_method())};
  if (!context) return tls_error("cannot make a TLS context");
  if (SSL_CTX_load_verify_locations(context.get(), path.c_str(), nullptr) != 1) {
    return tls_error(path + ": no CA certificate could be loaded");
  }
  return {};
}

}  // namespace nts
