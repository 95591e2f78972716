#include "server/nts/ke_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "server/ntp/client_address.hpp"
#include "server/nts/ke_records.hpp"
#include "server/nts/session_keys.hpp"

namespace nts {
namespace {

using Clock = std::chrono::steady_clock;

// A request is a few records; anything near this long is not one.
constexpr std::size_t kMaxRequestLength = 1024;
constexpr std::size_t kCookiesPerResponse = 8;
constexpr int kAcceptBatch = 32;
// Out of descriptors, the listener stays readable: pausing it keeps poll() from spinning.
constexpr std::chrono::milliseconds kAcceptPause{100};
constexpr std::array kSupportedAeads{nts::Aead::aes_siv_cmac_256, nts::Aead::aes_siv_cmac_512};
constexpr unsigned char kAlpn[] = {'n', 't', 's', 'k', 'e', '/', '1'};

void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

std::string errno_text(const char* call) { return std::string{call} + ": " + std::strerror(errno); }

// Empties the thread's error queue into one line, oldest first. "PEM lib", "system lib" and the
// like only say which layer passed a failure up: they are left out when there is more to say.
std::string openssl_errors() {
  std::vector<std::string> parts;
  while (const unsigned long code = ERR_get_error()) {
    const char* reason = ERR_SYSTEM_ERROR(code) ? std::strerror(ERR_GET_REASON(code)) : ERR_reason_error_string(code);
    std::string part = reason != nullptr ? reason : "OpenSSL error " + std::to_string(code);
    if (std::ranges::find(parts, part) == parts.end()) parts.push_back(std::move(part));
  }
  const auto layer = [](const std::string& part) { return part.ends_with(" lib"); };
  if (!std::ranges::all_of(parts, layer)) std::erase_if(parts, layer);
  std::string text;
  for (const auto& part : parts) text += (text.empty() ? "" : ": ") + part;
  return text.empty() ? "unknown OpenSSL error" : text;
}

// The ALPN extension's absence is not the ALPN callback's business (it is never called), so the
// ClientHello is checked here.
int require_alpn(SSL* ssl, int* alert, void*) {
  const unsigned char* extension = nullptr;
  std::size_t length = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &extension, &length) == 1) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
  return SSL_CLIENT_HELLO_ERROR;
}

// A fatal result makes OpenSSL send no_application_protocol.
int select_ntske(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                 unsigned int offered_length, void*) {
  for (unsigned int at = 0; at < offered_length;) {
    const unsigned int length = offered[at];
    if (length > offered_length - at - 1) break;
    if (length == sizeof kAlpn && std::memcmp(offered + at + 1, kAlpn, sizeof kAlpn) == 0) {
      *out = offered + at + 1;
      *out_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    at += 1 + length;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// OpenSSL's socket BIO writes with write(), which raises SIGPIPE on a connection the client has
// reset; this one sends with MSG_NOSIGNAL, so the process's signal dispositions do not matter.
int fd_of(BIO* bio) { return static_cast<const io::UniqueFd*>(BIO_get_data(bio))->get(); }

bool transient(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

int socket_write(BIO* bio, const char* data, int length) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::send(fd_of(bio), data, static_cast<std::size_t>(length), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (transient(errno)) BIO_set_retry_write(bio);
  return -1;
}

int socket_read(BIO* bio, char* data, int length) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::recv(fd_of(bio), data, static_cast<std::size_t>(length), 0);
  if (n >= 0) return static_cast<int>(n);
  if (transient(errno)) BIO_set_retry_read(bio);
  return -1;
}

long socket_control(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }

// Made once, kept for the life of the process.
const BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "smeard nts-ke socket");
    if (m != nullptr && (BIO_meth_set_write(m, socket_write) != 1 || BIO_meth_set_read(m, socket_read) != 1 ||
                         BIO_meth_set_ctrl(m, socket_control) != 1)) {
      BIO_meth_free(m);
      m = nullptr;
    }
    return m;
  }();
  return method;
}

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

struct Reply {
  std::vector<std::byte> bytes;
  KeOutcome outcome = KeOutcome::ok;
  std::size_t cookies = 0;
};

Reply reply_to(SSL* ssl, const KeState& state, const KeEndpoint& endpoint, const nts::KeRequest& request) {
  nts::KeResponse response{request.ntpv4, request.aead, {}, endpoint.server, endpoint.port};
  // Nothing agreed: the response says which half failed, and there is nothing to seal.
  if (!request.ntpv4 || !request.aead) return {nts::encode_ke_response(response), KeOutcome::bad_request, 0};
  const nts::Aead aead = *request.aead;
  // Wipes the session keys however the reply ends, exceptions included.
  nts::CookieContents contents{aead, endpoint.timescale_id, {}, {}};
  std::array<unsigned char, kCookiesPerResponse * nts::kCookieNonceLength> nonces{};
  if (!nts::export_session_keys(ssl, aead, contents.c2s, contents.s2c) ||
      RAND_bytes(nonces.data(), static_cast<int>(nonces.size())) != 1) {
    return {nts::encode_ke_error(nts::KeError::internal_server_error), KeOutcome::internal_error, 0};
  }
  const auto nonce_bytes = std::as_bytes(std::span{nonces});
  for (std::size_t i = 0; i < kCookiesPerResponse; ++i) {
    std::vector<std::byte> cookie(nts::cookie_length(aead));
    const auto nonce = nonce_bytes.subspan(i * nts::kCookieNonceLength).first<nts::kCookieNonceLength>();
    if (nts::seal_cookie(state.cookie_key, contents, nonce, cookie) != cookie.size()) {
      return {nts::encode_ke_error(nts::KeError::internal_server_error), KeOutcome::internal_error, 0};
    }
    response.cookies.push_back(std::move(cookie));
  }
  return {nts::encode_ke_response(response), KeOutcome::ok, kCookiesPerResponse};
}

// IPv4, or the /64 of IPv6 (a single host commonly has all of one), as one key.
std::array<std::uint8_t, 16> rate_key_of(const sockaddr_storage& peer) {
  ntp::ClientAddress key = ntp::ClientAddress::from(peer);
  if (!key.is_ipv4()) std::fill(key.ip.begin() + 8, key.ip.end(), std::uint8_t{0});
  return key.ip;
}

std::uint64_t random_seed() {
  std::uint64_t seed = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1) {
    seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  }
  ERR_clear_error();
  return seed;
}

}  // namespace

std::string_view to_string(KeOutcome outcome) {
  switch (outcome) {
    case KeOutcome::ok: return "ok";
    case KeOutcome::tls_failed: return "tls_failed";
    case KeOutcome::bad_request: return "bad_request";
    case KeOutcome::timeout: return "timeout";
    case KeOutcome::rate_limited: return "rate_limited";
    case KeOutcome::overloaded: return "overloaded";
    case KeOutcome::internal_error: return "internal_error";
  }
  return "unknown";
}

std::shared_ptr<SSL_CTX> load_tls_context(const std::string& certificate_file, const std::string& private_key_file,
                                          TlsLoadProblem& problem) {
  problem = {};
  std::string& error = problem.message;
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> tls{SSL_CTX_new(TLS_server_method()), SSL_CTX_free};
  if (!tls) {
    error = "cannot make a TLS context: " + openssl_errors();
    return nullptr;
  }
  SSL_CTX* ctx = tls.get();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) {
    error = "cannot require TLS 1.3: " + openssl_errors();
    return nullptr;
  }
  // Every session is a single exchange: a resumed one would save the client nothing worth
  // the tickets.
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_client_hello_cb(ctx, require_alpn, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx, select_ntske, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, certificate_file.c_str()) != 1) {
    error = certificate_file + ": cannot load a certificate chain: " + openssl_errors();
    return nullptr;
  }
  // OpenSSL checks the key against the certificate as it loads it, or later, depending on the
  // key type; either way a mismatch is reported as one.
  problem.private_key = true;
  const auto mismatch = [&] {
    error = private_key_file + ": no private key matching the certificate in " + certificate_file;
    ERR_clear_error();
    return nullptr;
  };
  if (SSL_CTX_use_PrivateKey_file(ctx, private_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_X509 &&
        ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return mismatch();
    }
    error = private_key_file + ": cannot load a private key: " + openssl_errors();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) return mismatch();
  return tls;
}

std::optional<CertificateValidity> certificate_validity(SSL_CTX* tls) {
  const X509* leaf = tls != nullptr ? SSL_CTX_get0_certificate(tls) : nullptr;
  if (leaf == nullptr) return std::nullopt;
  const auto utc = [](const ASN1_TIME* t) -> std::optional<leapdb::UtcTime> {
    std::tm tm{};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
    return leapdb::UtcTime{std::chrono::seconds{::timegm(&tm)}};
  };
  const auto not_before = utc(X509_get0_notBefore(leaf));
  const auto not_after = utc(X509_get0_notAfter(leaf));
  if (!not_before || !not_after) return std::nullopt;
  return CertificateValidity{*not_before, *not_after};
}

std::shared_ptr<const KeState> ke_state(const config::Nts& nts, std::shared_ptr<SSL_CTX> tls,
                                        const CookieKey& cookie_key) {
  auto state = std::make_shared<KeState>();
  state->tls = std::move(tls);
  state->cookie_key = cookie_key;
  for (const config::NtsKeListener& listener : nts.listeners) {
    state->endpoints.push_back({timescale_id(listener.timescale), listener.server, listener.port});
  }
  return state;
}

io::UniqueFd open_ke_socket(const config::SocketAddress& address, std::string& error) {
  const bool v6 = address.family == config::SocketAddress::Family::ipv6;
  io::UniqueFd fd{::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd) {
    error = errno_text("socket");
    return {};
  }
  const int on = 1;
  // A restart must not wait out the previous process's connections in TIME_WAIT.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    error = errno_text("setsockopt SO_REUSEADDR");
    return {};
  }
  if (v6) {
    // An IPv6 wildcard must not swallow IPv4: that is the IPv4 listener's job.
    if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) {
      error = errno_text("setsockopt IPV6_V6ONLY");
      return {};
    }
  }
  const io::SocketAddressStorage sa = io::to_sockaddr(address);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa.storage), sa.length) != 0) {
    error = errno_text("bind");
    return {};
  }
  if (::listen(fd.get(), 128) != 0) {
    error = errno_text("listen");
    return {};
  }
  return fd;
}

struct KeServer::Connection {
  enum class Phase : std::uint8_t { handshake, request, response, draining, done };
  io::UniqueFd fd;
  std::unique_ptr<SSL, SslFree> ssl;
  std::shared_ptr<const KeState> state;  // as published when it was accepted
  const KeEndpoint* endpoint = nullptr;  // within state
  Clock::time_point deadline;
  Phase phase = Phase::handshake;
  short events = POLLIN;
  bool counted = false;
  std::array<std::byte, kMaxRequestLength> request{};
  std::size_t received = 0;
  Reply reply;
};

KeServer::KeServer(std::vector<io::UniqueFd> listeners, KeLimits limits, std::shared_ptr<const KeState> initial)
    : listeners_(std::move(listeners)),
      limits_(limits),
      state_(std::move(initial)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      rates_(limits.rate_table_size, random_seed()) {
  if (!wake_) throw std::runtime_error{errno_text("eventfd")};
  // Accepting never reallocates, so never fails half-way through taking a connection on.
  connections_.reserve(limits_.max_connections);
}

KeServer::~KeServer() = default;

void KeServer::publish(std::shared_ptr<const KeState> state) {
  const std::lock_guard lock{state_mutex_};
  state_.swap(state);
  // The old state, if this held its last reference, goes when `state` does: after the unlock.
}

void KeServer::request_stop() {
  stopping_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(wake_.get(), &one, sizeof one);
}

void KeServer::run() {
  while (!stopping_.load()) {
    try {
      iterate();
    } catch (...) {
      // Memory ran out between sessions; the next round tries again.
    }
  }
  connections_.clear();
  counters_.open_connections.store(0, std::memory_order_relaxed);
}

void KeServer::settle(Connection& connection, KeOutcome outcome) {
  if (connection.counted) return;
  connection.counted = true;
  bump(counters_.sessions[static_cast<std::size_t>(outcome)]);
  if (outcome == KeOutcome::ok) bump(counters_.cookies_issued, connection.reply.cookies);
}

void KeServer::iterate() {
  Clock::time_point now = Clock::now();
  for (auto& c : connections_) {
    if (c->phase != Connection::Phase::done && now >= c->deadline) {
      settle(*c, KeOutcome::timeout);  // a draining connection was counted already
      c->phase = Connection::Phase::done;
    }
  }
  std::erase_if(connections_, [](const auto& c) { return c->phase == Connection::Phase::done; });
  counters_.open_connections.store(connections_.size(), std::memory_order_relaxed);

  const bool accepting = now >= accept_paused_until_;
  std::vector<pollfd> fds;
  fds.reserve(1 + listeners_.size() + connections_.size());
  fds.push_back({wake_.get(), POLLIN, 0});
  for (const auto& listener : listeners_) fds.push_back({accepting ? listener.get() : -1, POLLIN, 0});
  std::optional<Clock::time_point> wake_at;
  if (!accepting) wake_at = accept_paused_until_;
  for (const auto& c : connections_) {
    fds.push_back({c->fd.get(), c->events, 0});
    if (!wake_at || c->deadline < *wake_at) wake_at = c->deadline;
  }
  int timeout_ms = -1;
  if (wake_at) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*wake_at - now).count();
    timeout_ms = static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(wait, 0, INT_MAX));
  }
  if (::poll(fds.data(), fds.size(), timeout_ms) < 0) return;  // EINTR; nothing else is likely
  if (fds[0].revents != 0) {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(wake_.get(), &count, sizeof count);
    if (stopping_.load()) return;
  }

  const std::size_t first_connection = 1 + listeners_.size();
  // Only the connections polled: accepting below appends more.
  for (std::size_t i = first_connection; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    Connection& c = *connections_[i - first_connection];
    try {
      advance(c);
    } catch (...) {
      settle(c, KeOutcome::internal_error);
      c.phase = Connection::Phase::done;
    }
  }
  now = Clock::now();
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    if ((fds[1 + i].revents & POLLIN) != 0) accept_from(i, now);
  }
}

void KeServer::accept_from(std::size_t listener, Clock::time_point now) {
  std::shared_ptr<const KeState> state;
  {
    const std::lock_guard lock{state_mutex_};
    state = state_;
  }
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    io::UniqueFd fd{::accept4(listeners_[listener].get(), reinterpret_cast<sockaddr*>(&peer), &peer_length,
                              SOCK_NONBLOCK | SOCK_CLOEXEC)};
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Counted once a pause: the clients waiting in the backlog are not turned away yet.
        accept_paused_until_ = now + kAcceptPause;
        bump(counters_.sessions[static_cast<std::size_t>(KeOutcome::internal_error)]);
      }
      return;
    }
    // Refused without TLS, so a flood costs an accept and a close, not a handshake.
    if (connections_.size() >= limits_.max_connections) {
      bump(counters_.sessions[static_cast<std::size_t>(KeOutcome::overloaded)]);
      continue;
    }
    const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    const auto interval_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(limits_.rate_interval).count();
    if (!rates_.admit(rate_key_of(peer), now_ns, interval_ns, limits_.rate_burst).admitted) {
      bump(counters_.sessions[static_cast<std::size_t>(KeOutcome::rate_limited)]);
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->fd = std::move(fd);
    c->deadline = now + limits_.handshake_timeout;
    ERR_clear_error();
    const BIO_METHOD* method = socket_method();
    BIO* bio = nullptr;
    if (state && state->tls && listener < state->endpoints.size() && method != nullptr) {
      c->ssl.reset(SSL_new(state->tls.get()));
      bio = BIO_new(method);
    }
    if (!c->ssl || bio == nullptr) {
      BIO_free(bio);
      ERR_clear_error();
      bump(counters_.sessions[static_cast<std::size_t>(KeOutcome::internal_error)]);
      continue;
    }
    BIO_set_data(bio, &c->fd);
    BIO_set_init(bio, 1);
    SSL_set_bio(c->ssl.get(), bio, bio);
    SSL_set_accept_state(c->ssl.get());
    const int on = 1;
    // The response and the close_notify after it go out without waiting for an ACK.
    ::setsockopt(c->fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    c->endpoint = &state->endpoints[listener];
    c->state = state;
    connections_.push_back(std::move(c));
    Connection& added = *connections_.back();
    try {
      advance(added);
    } catch (...) {
      settle(added, KeOutcome::internal_error);
      added.phase = Connection::Phase::done;
    }
  }
}

void KeServer::advance(Connection& c) {
  using Phase = Connection::Phase;
  SSL* ssl = c.ssl.get();
  // True when OpenSSL only needs the socket ready again; sets what to poll for.
  const auto wait_on = [&c](int error) {
    if (error == SSL_ERROR_WANT_READ) c.events = POLLIN;
    if (error == SSL_ERROR_WANT_WRITE) c.events = POLLOUT;
    return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE;
  };
  const auto fail = [&](KeOutcome outcome) {
    ERR_clear_error();
    settle(c, outcome);
    c.phase = Phase::done;
  };
  for (;;) {
    ERR_clear_error();
    switch (c.phase) {
      case Phase::handshake: {
        const int r = SSL_accept(ssl);
        if (r == 1) {
          c.phase = Phase::request;
          break;
        }
        if (!wait_on(SSL_get_error(ssl, r))) fail(KeOutcome::tls_failed);
        return;
      }
      case Phase::request: {
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl, c.request.data() + c.received, c.request.size() - c.received, &n);
        if (r != 1) {
          const int error = SSL_get_error(ssl, r);
          if (!wait_on(error)) {
            fail(error == SSL_ERROR_ZERO_RETURN ? KeOutcome::bad_request : KeOutcome::tls_failed);
          }
          return;
        }
        c.received += n;
        const nts::KeParse parse = nts::parse_ke_request({c.request.data(), c.received}, kSupportedAeads);
        if (parse.status == nts::KeParse::Status::complete) {
          c.reply = reply_to(ssl, *c.state, *c.endpoint, parse.request);
        } else if (parse.status == nts::KeParse::Status::error) {
          c.reply = {nts::encode_ke_error(parse.error), KeOutcome::bad_request, 0};
        } else if (c.received == c.request.size()) {
          c.reply = {nts::encode_ke_error(nts::KeError::bad_request), KeOutcome::bad_request, 0};
        } else {
          break;
        }
        c.phase = Phase::response;
        break;
      }
      case Phase::response: {
        std::size_t n = 0;
        const int r = SSL_write_ex(ssl, c.reply.bytes.data(), c.reply.bytes.size(), &n);
        if (r != 1) {
          if (!wait_on(SSL_get_error(ssl, r))) fail(KeOutcome::tls_failed);
          return;
        }
        settle(c, c.reply.outcome);
        // Best effort: the client has what it came for. Then wait for its close rather than
        // close first: unread data at close() makes a reset, which can destroy the response
        // before the client reads it.
        SSL_shutdown(ssl);
        ERR_clear_error();
        ::shutdown(c.fd.get(), SHUT_WR);
        c.phase = Phase::draining;
        c.events = POLLIN;
        break;
      }
      case Phase::draining: {
        std::array<std::byte, 512> discarded;
        const ssize_t n = ::recv(c.fd.get(), discarded.data(), discarded.size(), 0);
        if (n < 0 && errno == EINTR) break;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) c.phase = Phase::done;
        return;
      }
      case Phase::done:
        return;
    }
  }
}

}  // namespace nts
