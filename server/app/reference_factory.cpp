#include "server/app/reference_factory.hpp"

#include "server/reference/phc.hpp"
#include "server/reference/shm.hpp"
#include "server/reference/sock.hpp"
#include "server/reference/system.hpp"
#include "server/reference/upstream/upstream.hpp"

namespace app {

using Type = config::ReferenceSource::Type;

namespace {

reference::UpstreamOptions upstream_options(const config::ReferenceSource& settings, std::int8_t precision) {
  reference::UpstreamOptions options;
  options.minsources = settings.minsources;
  options.drift_file = settings.drift_file;
  options.poll = settings.poll;
  options.precision = precision;
  options.nts_dump_dir = settings.nts_dump_dir;
  for (const config::UpstreamServer& server : settings.servers) {
    reference::UpstreamEntry entry;
    entry.kind = server.kind == config::UpstreamServer::Kind::pool ? reference::UpstreamEntry::Kind::pool
                                                                   : reference::UpstreamEntry::Kind::server;
    entry.host = server.host;
    entry.port = server.port;
    entry.text = server.text;
    entry.max_sources = server.associations();
    entry.key = server.key_id;
    entry.nts = server.nts;
    entry.nts_port = server.nts_port;
    entry.nts_ca = server.nts_ca;
    options.servers.push_back(std::move(entry));
  }
  return options;
}

// Requests to upstream servers are not signed yet: a key or NTS on one is refused rather than
// ignored, so nobody believes them authenticated.
std::optional<config::Problem> unauthenticated_only(const config::ReferenceSource& settings) {
  for (const config::UpstreamServer& server : settings.servers) {
    if (server.key_id) {
      return config::Problem{server.key_id_location, server.key + ".key",
                             "authenticating upstream servers with a symmetric key is not implemented yet"};
    }
    if (server.nts) {
      return config::Problem{server.nts_location, server.key + ".nts",
                             "authenticating upstream servers with NTS is not implemented yet"};
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::unique_ptr<reference::Source>, config::Problem> open_source(const config::ReferenceSource& settings,
                                                                               std::int8_t precision) {
  const std::uint32_t refid = reference::encode_refid(settings.reference_id_text());
  std::unique_ptr<reference::Source> source;
  std::string error;
  std::string key;
  switch (settings.type) {
    case Type::system: {
      key = ".ptp4l";
      std::unique_ptr<reference::ptp4l::Monitor> ptp4l;
      if (settings.ptp4l && !(ptp4l = reference::ptp4l::Monitor::open(*settings.ptp4l, error))) break;
      source = std::make_unique<reference::SystemSource>(
          reference::SystemOptions{settings.clock == config::ReferenceSource::Clock::tai, refid, precision},
          std::move(ptp4l));
      break;
    }
    case Type::simulated: source = std::make_unique<reference::SimulatedSource>(refid); break;
    case Type::phc:
      key = ".device";
      source = reference::make_phc_source(
          reference::PhcOptions{settings.device, settings.timescale == config::ReferenceSource::Timescale::utc, refid,
                                settings.ptp4l},
          error);
      break;
    case Type::upstream: {
      key = ".servers";
      if (std::optional<config::Problem> problem = unauthenticated_only(settings)) return std::move(*problem);
      source = reference::make_upstream_source(upstream_options(settings, precision), error);
      break;
    }
    case Type::shm:
      key = ".unit";
      source = reference::make_shm_source(reference::ShmOptions{settings.unit, refid}, error);
      break;
    case Type::sock:
      key = ".path";
      source = reference::make_sock_source(reference::SockOptions{settings.path, refid}, error);
      break;
  }
  if (!source) return config::Problem{settings.resource_location, settings.key + key, error};
  return source;
}

std::string source_name(const config::ReferenceSource& settings) {
  switch (settings.type) {
    case Type::system: return "system";
    case Type::simulated: return "simulated";
    case Type::phc: return settings.device;
    case Type::shm: return "SHM(" + std::to_string(settings.unit) + ")";
    case Type::sock: return "SOCK(" + settings.path + ")";
    case Type::upstream: {
      std::string names;
      for (const config::UpstreamServer& server : settings.servers) {
        names += (names.empty() ? "" : ", ") +
                 std::string{server.kind == config::UpstreamServer::Kind::pool ? "pool " : ""} + server.text;
      }
      return "upstream(" + names + ")";
    }
  }
  return "unknown";
}

}  // namespace app
