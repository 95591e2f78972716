#include "server/reference/upstream/upstream.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "server/ntp/client.hpp"
#include "server/reference/clocks.hpp"
#include "server/reference/upstream/ensemble.hpp"
#include "server/reference/upstream/resolution.hpp"
#include "server/reference/upstream/resolver.hpp"

namespace reference {

namespace {

using upstream::Address;
using upstream::address_of;
using upstream::Resolved;
using upstream::resolve_in_background;
using upstream::to_sockaddr;

}  // namespace

std::uint32_t upstream_reference_id(const void* address, std::size_t length) {
  const std::optional<Address> a = address_of(static_cast<const sockaddr*>(address), length);
  return a ? upstream::reference_id(*a) : 0;
}

namespace {

using upstream::Drift;
using Kind = UpstreamEntry::Kind;

// Our own addresses' refids, for the loop check: interfaces come and go, so read again now and
// then (one netlink dump, or an ioctl and a small file: far from a DNS query).
constexpr leapdb::Nanoseconds kOwnAddressRefresh = std::chrono::minutes{1};
// Addresses an entry gave up on that it remembers, to try others first.
constexpr std::size_t kAbandonedKept = 16;

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Socket() { close(); }
  int fd() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

void add_reference_id(std::vector<std::uint32_t>& ids, const Address& address) {
  const std::uint32_t id = upstream::reference_id(address);
  if (std::ranges::find(ids, id) == ids.end()) ids.push_back(id);
}

// Without netlink (systemd's RestrictAddressFamilies, as smeard's unit sets it, makes
// getifaddrs fail): IPv4 addresses from SIOCGIFCONF, IPv6 ones from /proc/net/if_inet6.
std::vector<std::uint32_t> own_reference_ids_without_netlink() {
  std::vector<std::uint32_t> ids;
  if (Socket probe{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)}) {
    std::array<ifreq, 64> requests{};
    ifconf list{};
    list.ifc_len = static_cast<int>(sizeof requests);
    list.ifc_req = requests.data();
    if (::ioctl(probe.fd(), SIOCGIFCONF, &list) == 0) {
      for (std::size_t i = 0; i < static_cast<std::size_t>(list.ifc_len) / sizeof(ifreq); ++i) {
        if (const std::optional<Address> a = address_of(&requests[i].ifr_addr, sizeof(sockaddr_in))) {
          add_reference_id(ids, *a);
        }
      }
    }
  }
  // "fe800000000000000000000000000001 02 40 20 80 lo": the address in hex, then its details.
  std::ifstream in("/proc/net/if_inet6");
  std::string hex, rest;
  while (in >> hex && std::getline(in, rest)) {
    Address a;
    a.family = Address::Family::ipv6;
    bool parsed = hex.size() == 32;
    for (std::size_t i = 0; parsed && i < 16; ++i) {
      parsed = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, a.bytes[i], 16).ec == std::errc{};
    }
    if (parsed) add_reference_id(ids, a);
  }
  return ids;
}

std::vector<std::uint32_t> own_reference_ids() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return own_reference_ids_without_netlink();
  std::vector<std::uint32_t> ids;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    const std::size_t length = i->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (const std::optional<Address> a = address_of(i->ifa_addr, length)) add_reference_id(ids, *a);
  }
  ::freeifaddrs(list);
  return ids;
}

// A connected, non-blocking UDP socket with kernel receive timestamps; `error` says why not.
Socket open_socket(const Address& address, std::string& error) {
  sockaddr_storage storage;
  const socklen_t length = to_sockaddr(address, storage);
  Socket socket{::socket(storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  const int on = 1;
  if (!socket || ::setsockopt(socket.fd(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0 ||
      ::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    error = "cannot open a socket to " + address.to_string() + ": " + std::strerror(errno);
    return Socket{};
  }
  return socket;
}

// One association: a socket to one address, and how its exchanges are authenticated.
struct Association {
  Socket socket;
  std::optional<Address> address;
  std::optional<Address> peer;  // where the socket sends: the address, or where NTS-KE said
  std::unique_ptr<upstream::Authentication> authentication;  // null: none
};

// One configured entry and its slots [first, first + count) of the ensemble.
struct Entry {
  UpstreamEntry settings;
  std::size_t first = 0, count = 1;
  bool numeric = false;  // an address, never resolved again
  upstream::ResolutionSchedule schedule;
  std::optional<std::future<Resolved>> pending;
  std::vector<Address> abandoned;  // oldest first
  std::string resolve_error;       // as last logged
};

std::vector<upstream::ServerIdentity> vacant_identities(const std::vector<Entry>& entries) {
  std::vector<upstream::ServerIdentity> out;
  for (const Entry& e : entries) {
    for (std::size_t i = 0; i < e.count; ++i) out.push_back({e.settings.text, "", 0});
  }
  return out;
}

class UpstreamSource final : public Source {
 public:
  UpstreamSource(std::vector<Entry> entries, const UpstreamOptions& options, std::optional<Drift> stored,
                 std::optional<std::string> drift_problem)
      : entries_(std::move(entries)),
        associations_(vacant_identities(entries_).size()),
        drift_file_(options.drift_file),
        authentication_(options.authentication),
        ensemble_(vacant_identities(entries_), {options.minsources, options.poll, options.precision}, stored,
                  monotonic_raw_now()) {
    if (drift_problem) {
      notice(Notice::Level::warning, "drift_file_ignored",
             {{"problem", *drift_problem}, {"detail", "starting without a known frequency"}});
    } else if (stored) {
      notice(Notice::Level::info, "drift_file_loaded",
             {{"file", *drift_file_}, {"frequency_ppm", std::to_string(stored->ppm)}});
    }
    const leapdb::Nanoseconds raw = monotonic_raw_now();
    refresh_own_addresses(raw);
    for (Entry& entry : entries_) {
      if (entry.numeric) continue;
      entry.schedule.started(raw, true);
      entry.pending = resolve_in_background(entry.settings.host, entry.settings.port);
    }
  }
  ~UpstreamSource() override {
    if (const std::optional<Drift> drift = ensemble_.known_drift()) save(*drift);
  }
  UpstreamSource(const UpstreamSource&) = delete;
  UpstreamSource& operator=(const UpstreamSource&) = delete;

  // Numeric entries have their addresses from the start; false and `error` when a socket
  // cannot be opened.
  bool open_numeric(std::string& error) {
    for (Entry& entry : entries_) {
      if (!entry.numeric) continue;
      const std::optional<Address> address = upstream::parse_address(entry.settings.host, entry.settings.port);
      Socket socket = address ? open_socket(*address, error) : Socket{};
      if (!socket) {
        if (!address) error = "cannot parse " + entry.settings.text;
        return false;
      }
      assign(entry, entry.first, *address, std::move(socket), "");
    }
    take_ensemble_notices();
    return true;
  }

  Estimate poll(const Tick& tick) override {
    const leapdb::Nanoseconds raw = tick.monotonic_raw;
    for (std::size_t i = 0; i < associations_.size(); ++i) drain(i);
    Estimate estimate = ensemble_.update(tick);
    if (raw - own_addresses_read_ >= kOwnAddressRefresh) refresh_own_addresses(raw);
    for (Entry& entry : entries_) resolve(entry, raw);
    for (const std::size_t i : ensemble_.due(raw)) send(i);
    take_ensemble_notices();
    for (Association& a : associations_) {
      if (!a.authentication) continue;
      for (Notice& n : a.authentication->take_notices()) notice(n.level, std::move(n.event), std::move(n.fields));
    }
    if (const std::optional<Drift> drift = ensemble_.drift_to_save(raw)) save(*drift);
    return estimate;
  }

  std::vector<SourceReport> report() const override { return ensemble_.report(); }

 private:
  void take_ensemble_notices() {
    for (Notice& n : ensemble_.take_notices()) notice(n.level, std::move(n.event), std::move(n.fields));
  }

  void refresh_own_addresses(leapdb::Nanoseconds raw) {
    ensemble_.set_own_reference_ids(own_reference_ids());
    own_addresses_read_ = raw;
  }

  // Takes a finished resolution, and starts the next when it is due.
  void resolve(Entry& entry, leapdb::Nanoseconds raw) {
    if (entry.numeric) return;
    std::vector<upstream::AssociationHealth> health;
    for (std::size_t i = 0; i < entry.count; ++i) health.push_back(ensemble_.health(entry.first + i));
    if (upstream::healthy(health)) entry.schedule.healthy();
    if (entry.pending) {
      if (entry.pending->wait_for(std::chrono::seconds{0}) != std::future_status::ready) return;
      const Resolved resolved = entry.pending->get();
      entry.pending.reset();
      take(entry, resolved, health);
      return;
    }
    const bool want = std::ranges::any_of(health, upstream::wanting);
    if (!entry.schedule.due(raw, want)) return;
    entry.schedule.started(raw, want);
    entry.pending = resolve_in_background(entry.settings.host, entry.settings.port);
  }

  void take(Entry& entry, const Resolved& resolved, const std::vector<upstream::AssociationHealth>& health) {
    const std::string& name = entry.settings.text;
    if (!resolved.error.empty()) {
      if (entry.resolve_error != resolved.error) {
        notice(Notice::Level::warning, "upstream_resolve_failed",
               {{"server", name},
                {"error", resolved.error},
                {"retry_s", std::to_string(entry.schedule.retry().count() / 1'000'000'000)}});
      }
      entry.resolve_error = resolved.error;
      for (std::size_t i = 0; i < entry.count; ++i) {
        ensemble_.explain_vacancy(entry.first + i, "its name does not resolve: " + resolved.error);
      }
      return;
    }
    entry.resolve_error.clear();
    std::vector<upstream::Slot> slots;
    for (std::size_t i = 0; i < entry.count; ++i) slots.push_back({associations_[entry.first + i].address, health[i]});
    std::vector<Address> in_use;
    for (const Association& a : associations_) {
      if (a.address) in_use.push_back(*a.address);
    }
    const auto kind = entry.settings.kind == Kind::pool ? upstream::EntryKind::pool : upstream::EntryKind::server;
    for (const upstream::Replacement& r :
         upstream::plan_replacements(kind, slots, resolved.addresses, in_use, entry.abandoned)) {
      std::string error;
      Socket socket = open_socket(r.address, error);
      if (!socket) {
        notice(Notice::Level::warning, "upstream_socket_failed", {{"server", name}, {"error", error}});
        continue;
      }
      assign(entry, entry.first + r.slot, r.address, std::move(socket), r.why);
    }
    const std::string vacancy = "no address of its name (" + std::to_string(resolved.addresses.size()) +
                                " found) is free: each is in use or failed";
    for (std::size_t i = 0; i < entry.count; ++i) ensemble_.explain_vacancy(entry.first + i, vacancy);
  }

  void assign(Entry& entry, std::size_t slot, const Address& address, Socket socket, const std::string& why) {
    Association& a = associations_[slot];
    if (a.address) {
      std::erase(entry.abandoned, *a.address);
      entry.abandoned.push_back(*a.address);
      if (entry.abandoned.size() > kAbandonedKept) entry.abandoned.erase(entry.abandoned.begin());
    }
    a.socket = std::move(socket);
    a.address = address;
    a.peer = address;
    a.authentication = authentication_ ? authentication_(entry.settings, address) : nullptr;
    ensemble_.assign(slot, {entry.settings.text, address.to_string(), upstream::reference_id(address)}, why);
  }

  void drain(std::size_t index) {
    Association& association = associations_[index];
    if (!association.socket) return;
    std::array<std::byte, ntp::kMaxPacketLength> buffer;
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control;
    for (;;) {
      iovec iov{buffer.data(), buffer.size()};
      msghdr message{};
      message.msg_iov = &iov;
      message.msg_iovlen = 1;
      message.msg_control = control.data();
      message.msg_controllen = control.size();
      const ssize_t n = ::recvmsg(association.socket.fd(), &message, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        // An ICMP error for an earlier request, reported on the connected socket: said, then
        // the datagrams behind it.
        if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) {
          ensemble_.network_error(index, std::string{"the network says: "} + std::strerror(errno));
          continue;
        }
        return;  // EAGAIN
      }
      const ClockPair now = read_clock_pair();
      const std::span<const std::byte> datagram{buffer.data(), static_cast<std::size_t>(n)};
      if (association.authentication && !association.authentication->open(datagram)) {
        ensemble_.unauthentic(index);
        continue;
      }
      const leapdb::UtcTime arrival = kernel_receive_time(message).value_or(now.realtime);
      ensemble_.received(index, datagram, arrival, now.realtime, now.raw);
    }
  }

  // Moves the association's socket to where its authentication sends requests, if elsewhere;
  // false when that socket cannot be opened.
  bool follow(std::size_t index) {
    Association& a = associations_[index];
    const std::optional<Address> wanted = a.authentication->destination();
    if (!wanted || wanted == a.peer) return true;
    std::string error;
    Socket socket = open_socket(*wanted, error);
    if (!socket) {
      ensemble_.network_error(index, error);
      return false;
    }
    a.socket = std::move(socket);
    a.peer = wanted;
    ensemble_.moved(index, wanted->to_string(), upstream::reference_id(*wanted));
    return true;
  }

  void send(std::size_t index) {
    Association& association = associations_[index];
    upstream::Request request;
    std::uint64_t nonce = 0;
    if (::getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != sizeof nonce) {
      nonce = static_cast<std::uint64_t>(monotonic_raw_now().count()) * 0x9E3779B97F4A7C15ull;
    }
    request.nonce = ntp::Timestamp{static_cast<std::uint32_t>(nonce >> 32), static_cast<std::uint32_t>(nonce)};
    std::array<std::byte, ntp::kMaxPacketLength> packet{};
    const auto header = ntp::build_client_request(request.nonce);
    std::copy(header.begin(), header.end(), packet.begin());
    std::size_t length = header.size();
    // A request that cannot be authenticated yet is a request without a reply: reach says so.
    bool ready = !association.authentication || (association.authentication->ready() && follow(index));
    if (ready && association.authentication) {
      length = association.authentication->seal(packet);
      ready = length != 0;
    }
    const ClockPair now = read_clock_pair();
    request.sent_realtime = now.realtime;
    request.sent_raw = now.raw;
    // A failed send (no route yet) is a request without a reply too.
    if (ready) (void)::send(association.socket.fd(), packet.data(), length, MSG_DONTWAIT);
    ensemble_.sent(index, request);
  }

  void save(const Drift& drift) {
    if (!drift_file_) return;
    const std::string temporary = *drift_file_ + ".tmp";
    bool ok = false;
    {
      std::ofstream out(temporary, std::ios::trunc);
      out << upstream::format_drift(drift);
      ok = static_cast<bool>(out.flush());
    }
    if (ok) ok = std::rename(temporary.c_str(), drift_file_->c_str()) == 0;
    if (!ok && !save_failed_) {
      notice(Notice::Level::warning, "drift_file_unwritable",
             {{"file", *drift_file_}, {"error", std::strerror(errno)}});
    }
    save_failed_ = !ok;
  }

  std::vector<Entry> entries_;
  std::vector<Association> associations_;  // by slot
  std::optional<std::string> drift_file_;
  AuthenticationFactory authentication_;
  upstream::Ensemble ensemble_;
  leapdb::Nanoseconds own_addresses_read_{0};
  bool save_failed_ = false;
};

// The drift file as stored, none when absent (a first start), a problem when unreadable.
std::optional<Drift> load_drift(const std::string& path, std::optional<std::string>& problem) {
  std::ifstream in(path);
  if (!in) {
    if (errno != ENOENT) problem = path + ": cannot read: " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  std::optional<Drift> drift = upstream::parse_drift(text.str(), error);
  if (!drift) problem = path + ":1: " + error;
  return drift;
}

}  // namespace

std::unique_ptr<Source> make_upstream_source(const UpstreamOptions& options, std::string& error) {
  std::vector<Entry> entries;
  std::size_t slots = 0;
  for (const UpstreamEntry& settings : options.servers) {
    const std::size_t count = settings.kind == Kind::pool ? std::max<std::size_t>(settings.max_sources, 1) : 1;
    const bool numeric = upstream::parse_address(settings.host, settings.port).has_value();
    entries.push_back(Entry{settings, slots, count, numeric, upstream::ResolutionSchedule{options.poll}, {}, {}, {}});
    slots += count;
  }
  std::optional<std::string> problem;
  std::optional<Drift> stored;
  if (options.drift_file) stored = load_drift(*options.drift_file, problem);
  auto source = std::make_unique<UpstreamSource>(std::move(entries), options, stored, problem);
  if (!source->open_numeric(error)) return nullptr;
  return source;
}

}  // namespace reference
