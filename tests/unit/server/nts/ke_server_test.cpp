// The NTS-KE server against a client made here with OpenSSL, over loopback, with a throwaway
// self-signed certificate.
#include "server/nts/ke_server.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "server/nts/cookie.hpp"

namespace {

using namespace std::chrono_literals;

struct Pkey {
  EVP_PKEY* key;
  explicit Pkey(EVP_PKEY* k) : key(k) {}
  Pkey(const Pkey&) = delete;
  Pkey& operator=(const Pkey&) = delete;
  ~Pkey() { EVP_PKEY_free(key); }
};

struct Certificate {
  X509* x509;
  explicit Certificate(X509* x) : x509(x) {}
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;
  ~Certificate() { X509_free(x509); }
};

EVP_PKEY* make_key() { return EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); }

X509* make_certificate(EVP_PKEY* key) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, nullptr);  // Ed25519 takes no digest
  return x;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "smeard-nts-ke-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { std::filesystem::remove_all(path); }
};

void write_pem(const std::filesystem::path& path, const std::function<int(FILE*)>& write) {
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  CHECK(write(f) == 1);
  std::fclose(f);
}

// One certificate and key for every test here, on disk and in memory.
struct Credentials {
  TempDir dir;
  Pkey key{make_key()};
  Certificate certificate{make_certificate(key.key)};
  std::string certificate_file = (dir.path / "tls.crt").string();
  std::string key_file = (dir.path / "tls.key").string();
  Credentials() {
    write_pem(certificate_file, [this](FILE* f) { return PEM_write_X509(f, certificate.x509); });
    write_pem(key_file, [this](FILE* f) {
      return PEM_write_PrivateKey(f, key.key, nullptr, nullptr, 0, nullptr, nullptr);
    });
  }
};

const Credentials& credentials() {
  static const Credentials c;
  return c;
}

nts::CookieKey test_cookie_key() {
  nts::CookieKey key{41, {}};
  for (std::size_t i = 0; i < key.key.size(); ++i) key.key[i] = static_cast<std::byte>(i * 7 + 3);
  return key;
}

std::shared_ptr<const nts::KeState> test_state() {
  nts::TlsLoadProblem problem;
  auto state = std::make_shared<nts::KeState>();
  state->tls = nts::load_tls_context(credentials().certificate_file, credentials().key_file, problem);
  REQUIRE_MESSAGE(state->tls, problem.message);
  state->cookie_key = test_cookie_key();
  state->endpoints = {nts::KeEndpoint{0x5eed, "ntp.example.net", 4123}};
  return state;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 2000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::uint64_t sessions(const nts::KeServer& server, nts::KeOutcome outcome) {
  return server.counters().sessions[static_cast<std::size_t>(outcome)].load();
}

class RunningServer {
 public:
  explicit RunningServer(nts::KeLimits limits = {}) {
    std::string error;
    io::UniqueFd fd =
        nts::open_ke_socket(config::SocketAddress{config::SocketAddress::Family::ipv4, {127, 0, 0, 1}, 0}, error);
    REQUIRE_MESSAGE(fd, error);
    sockaddr_in bound{};
    socklen_t length = sizeof bound;
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) == 0);
    port = ntohs(bound.sin_port);
    std::vector<io::UniqueFd> listeners;
    listeners.push_back(std::move(fd));
    server = std::make_unique<nts::KeServer>(std::move(listeners), limits, test_state());
    thread = std::thread{[this] { server->run(); }};
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  ~RunningServer() {
    server->request_stop();
    thread.join();
  }
  std::uint64_t count(nts::KeOutcome outcome) const { return sessions(*server, outcome); }

  std::unique_ptr<nts::KeServer> server;
  std::thread thread;
  std::uint16_t port = 0;
};

io::UniqueFd connect_to(std::uint16_t port) {
  io::UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  REQUIRE(fd);
  // No test waits on a silent server for long.
  const timeval limit{2, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0);
  return fd;
}

// Closed by the peer: EOF, or a reset.
bool closed_by_peer(int fd) {
  char byte = 0;
  const ssize_t n = ::recv(fd, &byte, 1, 0);
  return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
}

class Client {
 public:
  explicit Client(std::uint16_t port, const char* alpn = "ntske/1") : fd_(connect_to(port)) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), credentials().certificate.x509);
    if (alpn != nullptr) {
      std::vector<unsigned char> protocols{static_cast<unsigned char>(std::strlen(alpn))};
      protocols.insert(protocols.end(), alpn, alpn + std::strlen(alpn));
      SSL_CTX_set_alpn_protos(ctx_, protocols.data(), static_cast<unsigned>(protocols.size()));
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_.get());
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ERR_clear_error();
  }

  bool handshake() { return SSL_connect(ssl_) == 1; }

  // Sends `request` and reads to the end of the server's stream.
  std::vector<std::byte> exchange(const std::vector<std::byte>& request) {
    std::size_t written = 0;
    REQUIRE(SSL_write_ex(ssl_, request.data(), request.size(), &written) == 1);
    std::vector<std::byte> response;
    std::array<std::byte, 4096> buffer;
    std::size_t n = 0;
    while (SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n) == 1) response.insert(response.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK(SSL_get_error(ssl_, 0) == SSL_ERROR_ZERO_RETURN);  // the server's close_notify
    return response;
  }

  std::array<std::byte, nts::kMaxKeyLength> exported(std::uint16_t aead, unsigned char direction) {
    std::array<std::byte, nts::kMaxKeyLength> key{};
    const std::array<unsigned char, 5> context{0, 0, static_cast<unsigned char>(aead >> 8),
                                               static_cast<unsigned char>(aead & 0xFF), direction};
    const char label[] = "EXPORTER-network-time-security";
    REQUIRE(SSL_export_keying_material(ssl_, reinterpret_cast<unsigned char*>(key.data()),
                                       nts::key_length(static_cast<nts::Aead>(aead)), label, sizeof label - 1,
                                       context.data(), context.size(), 1) == 1);
    return key;
  }

  int fd() const { return fd_.get(); }

 private:
  io::UniqueFd fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

void put_record(std::vector<std::byte>& out, std::uint16_t type, std::vector<std::uint8_t> body) {
  for (const unsigned v : {unsigned{type}, static_cast<unsigned>(body.size())}) {
    out.push_back(static_cast<std::byte>(v >> 8));
    out.push_back(static_cast<std::byte>(v & 0xFF));
  }
  for (const std::uint8_t b : body) out.push_back(static_cast<std::byte>(b));
}

constexpr std::uint16_t kCritical = 0x8000;

// RFC 8915 §4: Next Protocol Negotiation (NTPv4), AEAD Algorithm Negotiation, End of Message.
std::vector<std::byte> ntpv4_request(std::vector<std::uint8_t> aeads = {0, 15}) {
  std::vector<std::byte> out;
  put_record(out, kCritical | 1, {0, 0});
  put_record(out, kCritical | 4, std::move(aeads));
  put_record(out, kCritical | 0, {});
  return out;
}

struct Record {
  std::uint16_t type = 0;  // without the critical bit
  bool critical = false;
  std::vector<std::byte> body;
};

std::vector<Record> records_of(const std::vector<std::byte>& bytes) {
  std::vector<Record> records;
  std::size_t at = 0;
  const auto u16 = [&bytes](std::size_t i) {
    return static_cast<std::uint16_t>(std::to_integer<unsigned>(bytes[i]) << 8 | std::to_integer<unsigned>(bytes[i + 1]));
  };
  while (bytes.size() - at >= 4) {
    const std::uint16_t head = u16(at);
    const std::size_t length = u16(at + 2);
    REQUIRE(bytes.size() - at - 4 >= length);
    records.push_back({static_cast<std::uint16_t>(head & ~kCritical), (head & kCritical) != 0,
                       {bytes.begin() + static_cast<std::ptrdiff_t>(at + 4),
                        bytes.begin() + static_cast<std::ptrdiff_t>(at + 4 + length)}});
    at += 4 + length;
  }
  CHECK(at == bytes.size());
  return records;
}

std::uint16_t u16_body(const Record& r) {
  REQUIRE(r.body.size() == 2);
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(r.body[0]) << 8 | std::to_integer<unsigned>(r.body[1]));
}

// A client the server drops mid-handshake must cost a failed test, not the process.
void ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }

}  // namespace

TEST_CASE("nts-ke: loading the certificate and key") {
  const Credentials& c = credentials();
  nts::TlsLoadProblem problem;
  CHECK(nts::load_tls_context(c.certificate_file, c.key_file, problem));
  CHECK(problem.message.empty());

  const std::string missing = (c.dir.path / "missing.crt").string();
  CHECK_FALSE(nts::load_tls_context(missing, c.key_file, problem));
  CHECK(problem.message.find(missing) == 0);
  CHECK(problem.message.find("No such file") != std::string::npos);
  CHECK_FALSE(problem.private_key);

  // A certificate where the key should be.
  CHECK_FALSE(nts::load_tls_context(c.certificate_file, c.certificate_file, problem));
  CHECK(problem.message.find(c.certificate_file) == 0);
  CHECK(problem.message.find("private key") != std::string::npos);
  CHECK(problem.private_key);

  TempDir other;
  const Pkey stranger{make_key()};
  const std::string stranger_file = (other.path / "other.key").string();
  write_pem(stranger_file, [&stranger](FILE* f) {
    return PEM_write_PrivateKey(f, stranger.key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  CHECK_FALSE(nts::load_tls_context(c.certificate_file, stranger_file, problem));
  CHECK(problem.message == stranger_file + ": no private key matching the certificate in " + c.certificate_file);
  CHECK(problem.private_key);
}

TEST_CASE("nts-ke: listening sockets") {
  std::string error;
  const io::UniqueFd first =
      nts::open_ke_socket(config::SocketAddress{config::SocketAddress::Family::ipv4, {127, 0, 0, 1}, 0}, error);
  REQUIRE_MESSAGE(first, error);
  sockaddr_in bound{};
  socklen_t length = sizeof bound;
  REQUIRE(::getsockname(first.get(), reinterpret_cast<sockaddr*>(&bound), &length) == 0);
  const io::UniqueFd taken = nts::open_ke_socket(
      config::SocketAddress{config::SocketAddress::Family::ipv4, {127, 0, 0, 1}, ntohs(bound.sin_port)}, error);
  CHECK_FALSE(taken);
  CHECK(error.find("bind: ") == 0);

  config::SocketAddress loopback6{config::SocketAddress::Family::ipv6, {}, 0};
  loopback6.bytes[15] = 1;
  error.clear();
  const io::UniqueFd v6 = nts::open_ke_socket(loopback6, error);
  // Some containers have no IPv6 at all; where there is, it must work.
  if (!v6) MESSAGE("no IPv6 listener: " << error);
}

TEST_CASE("nts-ke: outcome names") {
  CHECK(nts::to_string(nts::KeOutcome::ok) == "ok");
  CHECK(nts::to_string(nts::KeOutcome::tls_failed) == "tls_failed");
  CHECK(nts::to_string(nts::KeOutcome::internal_error) == "internal_error");
}

TEST_CASE("nts-ke: a session gives eight cookies sealing the keys the client exports") {
  ignore_sigpipe();
  RunningServer running;
  for (const std::uint16_t aead : {std::uint16_t{15}, std::uint16_t{17}}) {
    CAPTURE(aead);
    Client client{running.port};
    REQUIRE(client.handshake());
    // An unknown AEAD first: the first the server supports wins.
    const auto records = records_of(client.exchange(ntpv4_request({0x7f, 0x01, 0, static_cast<std::uint8_t>(aead)})));
    const auto c2s = client.exported(aead, 0);
    const auto s2c = client.exported(aead, 1);
    CHECK(c2s != s2c);

    REQUIRE(records.size() == 1 + 1 + 8 + 1 + 1 + 1);
    CHECK(records[0].type == 1);
    CHECK(u16_body(records[0]) == 0);
    CHECK(records[1].type == 4);
    CHECK(u16_body(records[1]) == aead);
    const nts::CookieKey keys[] = {test_cookie_key()};
    for (std::size_t i = 2; i < 10; ++i) {
      CHECK(records[i].type == 5);
      const auto opened = nts::open_cookie(keys, records[i].body);
      REQUIRE(opened);
      CHECK(opened->aead == static_cast<nts::Aead>(aead));
      CHECK(opened->timescale_id == 0x5eed);
      const std::size_t length = nts::key_length(opened->aead);
      CHECK(std::equal(c2s.begin(), c2s.begin() + static_cast<std::ptrdiff_t>(length), opened->c2s.begin()));
      CHECK(std::equal(s2c.begin(), s2c.begin() + static_cast<std::ptrdiff_t>(length), opened->s2c.begin()));
    }
    CHECK(records[2].body != records[3].body);  // fresh nonces
    CHECK(records[10].type == 6);
    CHECK(records[10].critical);
    CHECK(std::string(reinterpret_cast<const char*>(records[10].body.data()), records[10].body.size()) ==
          "ntp.example.net");
    CHECK(records[11].type == 7);
    CHECK(u16_body(records[11]) == 4123);
    CHECK(records[12].type == 0);
  }
  CHECK(wait_until([&] { return running.count(nts::KeOutcome::ok) == 2; }));
  CHECK(running.server->counters().cookies_issued.load() == 16);
  CHECK(wait_until([&] { return running.server->counters().open_connections.load() == 0; }));
}

TEST_CASE("nts-ke: a client without ALPN ntske/1 fails the handshake") {
  ignore_sigpipe();
  RunningServer running;
  {
    Client none{running.port, nullptr};
    CHECK_FALSE(none.handshake());
  }
  {
    Client other{running.port, "http/1.1"};
    CHECK_FALSE(other.handshake());
  }
  CHECK(wait_until([&] { return running.count(nts::KeOutcome::tls_failed) == 2; }));
  CHECK(running.count(nts::KeOutcome::ok) == 0);
}

TEST_CASE("nts-ke: bad requests get an Error record") {
  ignore_sigpipe();
  RunningServer running;
  {
    Client client{running.port};
    REQUIRE(client.handshake());
    std::vector<std::byte> request;
    put_record(request, kCritical | 0x1234, {});
    const auto records = records_of(client.exchange(request));
    REQUIRE(records.size() == 2);
    CHECK(records[0].type == 2);
    CHECK(u16_body(records[0]) == 0);  // unrecognized critical record
    CHECK(records[1].type == 0);
  }
  {
    // A record that would never end: the server stops listening at its bound.
    Client client{running.port};
    REQUIRE(client.handshake());
    std::vector<std::byte> request;
    put_record(request, 0x4321, std::vector<std::uint8_t>(1500, 0xAA));
    const auto records = records_of(client.exchange(request));
    REQUIRE(records.size() == 2);
    CHECK(records[0].type == 2);
    CHECK(u16_body(records[0]) == 1);  // bad request
  }
  {
    // No AEAD the server supports: NTPv4 refused, no cookies.
    Client client{running.port};
    REQUIRE(client.handshake());
    const auto records = records_of(client.exchange(ntpv4_request({0, 30})));
    REQUIRE(records.size() >= 2);
    CHECK(records.front().type == 1);
    CHECK(records.back().type == 0);
    CHECK(std::none_of(records.begin(), records.end(), [](const Record& r) { return r.type == 5; }));
  }
  CHECK(wait_until([&] { return running.count(nts::KeOutcome::bad_request) == 3; }));
  CHECK(running.server->counters().cookies_issued.load() == 0);
}

TEST_CASE("nts-ke: a silent client is dropped at the deadline") {
  ignore_sigpipe();
  nts::KeLimits limits;
  limits.handshake_timeout = 200ms;
  RunningServer running{limits};
  const io::UniqueFd idle = connect_to(running.port);
  const auto start = std::chrono::steady_clock::now();
  CHECK(closed_by_peer(idle.get()));
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 150ms);
  CHECK(waited < 1500ms);
  CHECK(wait_until([&] { return running.count(nts::KeOutcome::timeout) == 1; }));
}

TEST_CASE("nts-ke: beyond max_connections a connection is closed at once") {
  ignore_sigpipe();
  nts::KeLimits limits;
  limits.max_connections = 1;
  RunningServer running{limits};
  const io::UniqueFd idle = connect_to(running.port);
  REQUIRE(wait_until([&] { return running.server->counters().open_connections.load() == 1; }));
  const io::UniqueFd second = connect_to(running.port);
  CHECK(closed_by_peer(second.get()));
  CHECK(wait_until([&] { return running.count(nts::KeOutcome::overloaded) == 1; }));
  CHECK(running.server->counters().open_connections.load() == 1);
}

TEST_CASE("nts-ke: an address past its burst is refused") {
  ignore_sigpipe();
  nts::KeLimits limits;
  limits.rate_burst = 2;
  limits.rate_interval = 10s;
  RunningServer running{limits};
  for (int i = 0; i < 2; ++i) {
    Client client{running.port};
    REQUIRE(client.handshake());
    CHECK(records_of(client.exchange(ntpv4_request())).size() == 13);
  }
  Client third{running.port};
  CHECK_FALSE(third.handshake());
  CHECK(wait_until([&] { return running.count(nts::KeOutcome::rate_limited) == 1; }));
  CHECK(running.count(nts::KeOutcome::ok) == 2);
}

TEST_CASE("nts-ke: a published state serves the sessions after it") {
  ignore_sigpipe();
  RunningServer running;
  auto next = std::make_shared<nts::KeState>(*test_state());
  next->endpoints[0] = nts::KeEndpoint{77, "", std::nullopt};
  next->cookie_key.period = 42;
  running.server->publish(next);
  Client client{running.port};
  REQUIRE(client.handshake());
  const auto records = records_of(client.exchange(ntpv4_request()));
  REQUIRE(records.size() == 1 + 1 + 8 + 1);  // no Server, no Port
  const nts::CookieKey keys[] = {next->cookie_key};
  const auto opened = nts::open_cookie(keys, records[2].body);
  REQUIRE(opened);
  CHECK(opened->timescale_id == 77);
}

TEST_CASE("nts-ke: clients at once are served side by side") {
  ignore_sigpipe();
  RunningServer running;
  // Connected and handshaken before any sends its request, so all are open together.
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 12; ++i) {
    clients.push_back(std::make_unique<Client>(running.port));
    REQUIRE(clients.back()->handshake());
  }
  CHECK(wait_until([&] { return running.server->counters().open_connections.load() == 12; }));
  for (auto& client : clients) CHECK(records_of(client->exchange(ntpv4_request())).size() == 13);
  CHECK(wait_until([&] { return running.count(nts::KeOutcome::ok) == 12; }));
}

TEST_CASE("the KE state: each listener's timescale, Server and Port records, and the key that seals") {
  config::Nts nts;
  nts.listeners.resize(2);
  nts.listeners[0].timescale = "google";
  nts.listeners[0].server = "ntp.example.net";
  nts.listeners[0].port = 4123;
  nts.listeners[1].timescale = "utc";
  const auto state = nts::ke_state(nts, nullptr, test_cookie_key());
  CHECK(state->tls == nullptr);
  CHECK(state->cookie_key.period == 41);
  CHECK(state->cookie_key.key == test_cookie_key().key);
  REQUIRE(state->endpoints.size() == 2);
  CHECK(state->endpoints[0].timescale_id == nts::timescale_id("google"));
  CHECK(state->endpoints[0].server == "ntp.example.net");
  CHECK(state->endpoints[0].port == std::optional<std::uint16_t>{4123});
  CHECK(state->endpoints[1].timescale_id == nts::timescale_id("utc"));
  CHECK(state->endpoints[1].server.empty());
  CHECK_FALSE(state->endpoints[1].port.has_value());
}
