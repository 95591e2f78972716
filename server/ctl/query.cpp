#include "server/ctl/query.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "server/reference/clocks.hpp"
#include "server/io/udp_socket.hpp"
#include "server/ntp/client.hpp"

namespace ctl {
namespace {

struct Exchange {
  ntp::Header reply;
  ntp::Sample sample;
};

double seconds(leapdb::Nanoseconds d) { return static_cast<double>(d.count()) / 1e9; }

std::string signed_seconds_text(leapdb::Nanoseconds d) {
  const std::int64_t ns = d.count();
  const std::uint64_t magnitude = ns < 0 ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  char text[48];
  std::snprintf(text, sizeof text, "%c%" PRIu64 ".%09" PRIu64 " s", ns < 0 ? '-' : '+', magnitude / 1'000'000'000,
                magnitude % 1'000'000'000);
  return text;
}

std::string_view leap_meaning(ntp::LeapIndicator leap) {
  switch (leap) {
    case ntp::LeapIndicator::none: return "no warning";
    case ntp::LeapIndicator::insert: return "last minute of the day has 61 seconds";
    case ntp::LeapIndicator::remove: return "last minute of the day has 59 seconds";
    case ntp::LeapIndicator::unsynchronized: return "server unsynchronized";
  }
  return "";
}

// Returns an error message, or an empty string with `out` filled in.
std::string exchange(const QueryOptions& options, Exchange& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* resolved = nullptr;
  if (const int rc = ::getaddrinfo(options.target.host.c_str(), options.target.port.c_str(), &hints, &resolved); rc != 0) {
    return "cannot resolve " + options.target.host + ": " + ::gai_strerror(rc);
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses{resolved, &::freeaddrinfo};

  io::UniqueFd fd{::socket(resolved->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  if (!fd) return std::string{"socket: "} + std::strerror(errno);
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  if (::connect(fd.get(), resolved->ai_addr, resolved->ai_addrlen) != 0) {
    return "connect " + options.target.to_string() + ": " + std::strerror(errno);
  }

  const leapdb::UtcTime t1 = reference::realtime_now();
  const ntp::Timestamp sent = ntp::to_ntp(t1);
  const auto request = ntp::build_client_request(sent, options.version);
  if (::send(fd.get(), request.data(), request.size(), 0) < 0) return std::string{"send: "} + std::strerror(errno);

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd waiting{fd.get(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&waiting, 1, static_cast<int>(left.count())) == 0) {
      return "no reply from " + options.target.to_string() + " within " + std::to_string(options.timeout.count()) + " ms";
    }
    std::array<std::byte, 2048> buffer{};
    std::array<std::byte, 256> control{};
    iovec iov{buffer.data(), buffer.size()};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    const ssize_t length = ::recvmsg(fd.get(), &message, 0);
    const leapdb::UtcTime read_at = reference::realtime_now();
    if (length < 0) {
      if (errno == EINTR) continue;
      return "receive from " + options.target.to_string() + ": " + std::strerror(errno);
    }
    const leapdb::UtcTime t4 = reference::kernel_receive_time(message).value_or(read_at);
    const ntp::ReplyCheck check = ntp::check_reply({buffer.data(), static_cast<std::size_t>(length)}, sent);
    if (check.problem == ntp::ReplyProblem::origin_mismatch) continue;  // a stray or late reply
    if (check.problem == ntp::ReplyProblem::kiss_of_death) {
      return "kiss-o'-death from " + options.target.to_string() + ": " +
             ntp::format_reference_id(0, check.header.reference_id);
    }
    if (check.problem != ntp::ReplyProblem::none) {
      return "bad reply from " + options.target.to_string() + ": " + std::string{ntp::to_string(check.problem)};
    }
    out.reply = check.header;
    out.sample = ntp::measure(check.header, t1, t4);
    return {};
  }
}

}  // namespace

int run_query(const QueryOptions& options) {
  Exchange result;
  if (const std::string error = exchange(options, result); !error.empty()) {
    std::cerr << "smearctl: " << error << "\n";
    return 1;
  }
  const ntp::Header& reply = result.reply;
  const std::string refid = ntp::format_reference_id(reply.stratum, reply.reference_id);
  const std::string server_time = leapdb::format_rfc3339(result.sample.server_transmit);
  const auto leap = static_cast<int>(reply.leap);
  if (options.json) {
    nlohmann::ordered_json json;
    json["offset_s"] = seconds(result.sample.offset);
    json["delay_s"] = seconds(result.sample.delay);
    json["stratum"] = reply.stratum;
    json["leap"] = leap;
    json["refid"] = refid;
    json["version"] = reply.version;
    json["server_time"] = server_time;
    std::cout << json.dump(2) << "\n";
    return 0;
  }
  std::cout << "server       " << options.target.to_string() << "\n"
            << "stratum      " << int{reply.stratum} << "\n"
            << "leap         " << leap << " (" << leap_meaning(reply.leap) << ")\n"
            << "refid        " << refid << "\n"
            << "version      " << int{reply.version} << "\n"
            << "offset       " << signed_seconds_text(result.sample.offset) << "\n"
            << "delay        " << signed_seconds_text(result.sample.delay).substr(1) << "\n"
            << "server time  " << server_time << "\n";
  return 0;
}

}  // namespace ctl
