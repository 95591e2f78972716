#include "server/nts/upstream_authentication.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include "server/ntp/packet.hpp"
#include "server/nts/ke_client.hpp"
#include "server/reference/upstream/resolver.hpp"

namespace nts {
namespace {

using reference::Notice;
using reference::upstream::Address;
using Clock = std::chrono::steady_clock;

// After a failed key establishment (or a NAK) the next waits this long, doubling to the maximum.
constexpr std::chrono::seconds kFirstRetry{8};
constexpr std::chrono::seconds kMaxRetry{1024};

struct Established {
  std::optional<ClientSession> session;
  std::optional<Address> destination;  // where NTP goes
  std::string error;
};

// Where the session says NTP goes: its server (resolved, the KE address's family first) or the
// KE server's address, at its port.
std::optional<Address> destination_of(const ClientSession& session, const Address& ke_address, std::string& error) {
  if (session.ntp_server.empty()) {
    Address out = ke_address;
    out.port = session.ntp_port;
    return out;
  }
  const reference::upstream::Resolved resolved = reference::upstream::resolve(session.ntp_server, session.ntp_port);
  if (resolved.addresses.empty()) {
    error = "the NTPv4 server it named, " + session.ntp_server + ", does not resolve: " + resolved.error;
    return std::nullopt;
  }
  const auto same_family = std::ranges::find(resolved.addresses, ke_address.family, &Address::family);
  return same_family != resolved.addresses.end() ? *same_family : resolved.addresses.front();
}

Established establish(const UpstreamNtsOptions& options) {
  KeClientOptions ke;
  ke.host = options.host;
  ke.address_length = reference::upstream::to_sockaddr(options.ke_address, ke.address);
  ke.ca_file = options.ca_file;
  ke.timeout = options.timeout;
  ke.default_ntp_port = options.ntp_port;
  KeClientOutcome outcome = establish_session(ke);
  Established out;
  if (!outcome.session) {
    out.error = std::move(outcome.error);
    return out;
  }
  out.destination = destination_of(*outcome.session, options.ke_address, out.error);
  if (out.destination) out.session = std::move(outcome.session);
  return out;
}

Established resolve_loaded(ClientSession session, const Address& ke_address) {
  Established out;
  out.destination = destination_of(session, ke_address, out.error);
  if (out.destination) out.session = std::move(session);
  return out;
}

// Key establishment takes seconds and cannot be cancelled: it runs on a thread of its own, and a
// source closed meanwhile (a reload, the end) does not wait for it.
template <class Work>
std::future<Established> in_background(Work work) {
  std::promise<Established> promise;
  std::future<Established> future = promise.get_future();
  try {
    std::thread([promise = std::move(promise), work = std::move(work)]() mutable { promise.set_value(work()); })
        .detach();
  } catch (const std::system_error& e) {
    std::promise<Established> failed;
    future = failed.get_future();
    Established out;
    out.error = std::string{"cannot start a thread: "} + e.what();
    failed.set_value(std::move(out));
  }
  return future;
}

class UpstreamNts final : public reference::upstream::Authentication {
 public:
  explicit UpstreamNts(UpstreamNtsOptions options) : options_(std::move(options)) { load(); }

  ~UpstreamNts() override {
    if (pending_.valid() && pending_.wait_for(std::chrono::seconds{0}) == std::future_status::ready) {
      take(pending_.get());
    }
    save();
  }
  UpstreamNts(const UpstreamNts&) = delete;
  UpstreamNts& operator=(const UpstreamNts&) = delete;

  bool ready() override {
    if (pending_.valid() && pending_.wait_for(std::chrono::seconds{0}) == std::future_status::ready) {
      take(pending_.get());
    }
    if (session_ && !session_->cookies.empty()) return true;
    if (!pending_.valid() && Clock::now() >= next_attempt_) start_key_establishment();
    return false;
  }

  std::size_t seal(std::span<std::byte> packet) override {
    if (!session_) return 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(unique_id_.data()), static_cast<int>(unique_id_.size())) != 1 ||
        RAND_bytes(reinterpret_cast<unsigned char*>(nonce_.data()), static_cast<int>(nonce_.size())) != 1) {
      return 0;
    }
    awaiting_ = true;
    return write_client_request(packet, *session_, unique_id_, nonce_);
  }

  bool open(std::span<const std::byte> reply) override {
    if (!session_ || !awaiting_) return false;
    switch (open_server_reply(reply, unique_id_, *session_)) {
      case ReplyAuthenticity::authentic:
        awaiting_ = false;  // a replay of this reply is refused too
        failures_ = 0;
        return true;
      case ReplyAuthenticity::nak:
        awaiting_ = false;
        notice(Notice::Level::warning, "nts_nak",
               {{"server", options_.host}, {"detail", "the server no longer knows our cookies: new key establishment"}});
        session_.reset();
        back_off();
        next_attempt_ = Clock::now();  // the first attempt after a NAK is at once
        return false;
      case ReplyAuthenticity::forged: return false;
    }
    return false;
  }

  std::optional<Address> destination() const override { return destination_; }

  std::vector<Notice> take_notices() override { return std::exchange(notices_, {}); }

 private:
  void notice(Notice::Level level, std::string event, std::vector<std::pair<std::string, std::string>> fields) {
    notices_.push_back(Notice{level, std::move(event), std::move(fields)});
  }

  void back_off() {
    const auto wait = std::min<std::chrono::seconds>(kFirstRetry * (std::int64_t{1} << std::min(failures_, 10)), kMaxRetry);
    ++failures_;
    next_attempt_ = Clock::now() + wait;
  }

  void start_key_establishment() {
    pending_ = in_background([options = options_] { return establish(options); });
    loading_ = false;
  }

  void take(Established established) {
    unresolved_.reset();
    if (!established.session) {
      notice(Notice::Level::warning, loading_ ? "nts_session_unusable" : "nts_key_establishment_failed",
             {{"server", options_.host}, {"address", options_.ke_address.to_string()}, {"error", established.error}});
      back_off();
      return;
    }
    session_ = std::move(established.session);
    destination_ = established.destination;
    if (!loading_) {
      notice(Notice::Level::info, "nts_key_established",
             {{"server", options_.host},
              {"address", options_.ke_address.to_string()},
              {"ntp", destination_->to_string()},
              {"cookies", std::to_string(session_->cookies.size())}});
      // A server that keeps handing out cookies it then NAKs is not asked again at once.
      next_attempt_ = Clock::now() + kFirstRetry;
    }
  }

  // The stored session, if any: used once, so removed now and written again at exit.
  void load() {
    if (!options_.dump_file) return;
    std::ifstream in(*options_.dump_file);
    if (!in) return;
    std::stringstream text;
    text << in.rdbuf();
    std::string content = text.str();
    std::remove(options_.dump_file->c_str());
    std::string problem;
    std::optional<ClientSession> session = parse_client_session(content, problem);
    OPENSSL_cleanse(content.data(), content.size());
    if (!session || session->cookies.empty()) {
      notice(Notice::Level::warning, "nts_session_unusable",
             {{"server", options_.host},
              {"file", *options_.dump_file},
              {"error", session ? std::string{"no cookie left"} : problem}});
      return;
    }
    notice(Notice::Level::info, "nts_session_loaded",
           {{"server", options_.host}, {"file", *options_.dump_file}, {"cookies", std::to_string(session->cookies.size())}});
    loading_ = true;
    unresolved_ = *session;
    pending_ = in_background([session = std::move(*session), address = options_.ke_address]() mutable {
      return resolve_loaded(std::move(session), address);
    });
  }

  // The session in use, or the loaded one whose server is still being resolved (it was removed
  // from the file and must not be lost to an early stop).
  void save() {
    const ClientSession* keep = session_ ? &*session_ : unresolved_ ? &*unresolved_ : nullptr;
    if (!options_.dump_file || keep == nullptr || keep->cookies.empty()) return;
    std::string text = format_client_session(*keep);
    const std::string temporary = *options_.dump_file + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::fchmod(fd, 0600) == 0 &&
              ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0) ok = ::close(fd) == 0 && ok;
    OPENSSL_cleanse(text.data(), text.size());
    if (ok) ok = std::rename(temporary.c_str(), options_.dump_file->c_str()) == 0;
    if (!ok) std::remove(temporary.c_str());
  }

  UpstreamNtsOptions options_;
  std::optional<ClientSession> session_;
  std::optional<ClientSession> unresolved_;
  std::optional<Address> destination_;
  std::future<Established> pending_;
  bool loading_ = false;
  int failures_ = 0;
  Clock::time_point next_attempt_{};
  std::array<std::byte, kClientUniqueIdLength> unique_id_{};
  std::array<std::byte, kClientNonceLength> nonce_{};
  bool awaiting_ = false;
  std::vector<Notice> notices_;
};

}  // namespace

std::string session_file(const std::string& directory, const Address& ke_address) {
  std::string name = ke_address.to_string();
  std::ranges::replace(name, ':', '_');
  std::erase(name, '[');
  std::erase(name, ']');
  return directory + "/" + name + ".nts";
}

std::unique_ptr<reference::upstream::Authentication> make_upstream_nts(UpstreamNtsOptions options) {
  return std::make_unique<UpstreamNts>(std::move(options));
}

}  // namespace nts
