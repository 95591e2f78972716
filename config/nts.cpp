// nts: the TLS files, the fleet's cookie key, and the NTS-KE listeners with their limits.
#include "config/sections.hpp"

namespace config {

namespace {

std::optional<SocketAddress> parse_ke_address(std::string_view text) {
  const auto address = parse_socket_address(text);
  return address && address->port != 0 ? address : std::nullopt;
}

// Sent as is in the Server record: a name or an address, no port.
std::optional<std::string> parse_server_record(std::string_view text) {
  const auto parsed = parse_upstream_server(text);
  if (!parsed || parsed->host.size() != text.size() || text.size() > 255) return std::nullopt;
  return std::string{text};
}

NtsKeListener read_ke_listener(Cursor in) {
  NtsKeListener listener;
  listener.key = in.path();
  const Cursor address = in["address"].required();
  if (address.exists()) listener.location = address.location();
  const auto parsed = address.as(parse_ke_address,
                                 "is not a numeric address with a port, e.g. \"0.0.0.0:4460\" or "
                                 "\"[::]:4460\"");
  listener.address = parsed.value_or(listener.address);
  const Cursor timescale = in["timescale"].required();
  if (timescale.exists()) listener.timescale_location = timescale.location();
  listener.timescale = timescale.string().value_or("");
  listener.server = in["server"].as(parse_server_record, "is not a host name or address without a port").value_or("");
  if (const auto port = in["port"].count(65535, {1, "must be a port from 1 to 65535"})) {
    listener.port = static_cast<std::uint16_t>(*port);
  }
  in.no_other_keys();
  return listener;
}

void read_ke_listeners(Cursor in, Nts& nts) {
  if (!in.list()) return;
  if (in.size() == 0) in.fail("at least one NTS-KE listener is needed");
  for (const Cursor& item : in.items()) {
    if (item.map()) nts.listeners.push_back(read_ke_listener(item));
  }
}

// KE sessions per client address.
void read_ke_ratelimit(Cursor in, Nts& nts) {
  if (!in.map()) return;
  nts.rate_interval = in["interval"].seconds(3600, {1, "must be from 1 to 3600 seconds"}).value_or(nts.rate_interval);
  nts.rate_burst = in["burst"].count(1000, {1, "must be from 1 to 1000"}).value_or(nts.rate_burst);
  in.no_other_keys();
}

std::string read_file(Cursor in, SourceLocation& location) {
  if (in.exists()) location = in.location();
  return in.non_empty("a path is needed").value_or("");
}

}  // namespace

void read_nts(Cursor in, std::optional<Nts>& nts) {
  if (!in.map()) return;
  Nts read;
  read.certificate = read_file(in["certificate"].required(), read.certificate_location);
  read.private_key = read_file(in["private_key"].required(), read.private_key_location);
  read.cookie_key_file = read_file(in["cookie_key_file"].required(), read.cookie_key_file_location);
  read.rotation = in["rotation"].seconds(30 * 86400, {60, "must be at least 60 seconds"}).value_or(read.rotation);
  read_ke_listeners(in["listeners"].required(), read);
  read.max_connections =
      in["max_connections"].count(65536, {1, "must be from 1 to 65536"}).value_or(read.max_connections);
  read.handshake_timeout =
      in["handshake_timeout"].seconds(60, {1, "must be from 1 to 60 seconds"}).value_or(read.handshake_timeout);
  read_ke_ratelimit(in["ratelimit"], read);
  in.no_other_keys();
  nts = std::move(read);
}

}  // namespace config
