#include "server/app/reference_factory.hpp"

#include "server/reference/phc.hpp"
#include "server/reference/shm.hpp"
#include "server/reference/sock.hpp"
#include "server/reference/system.hpp"
#include "server/reference/upstream/upstream.hpp"

namespace app {

using Type = config::ReferenceSource::Type;

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
      reference::UpstreamOptions options{{}, settings.minsources, settings.drift_file, settings.poll, precision};
      for (const config::UpstreamServer& server : settings.servers) {
        options.servers.push_back({server.host, server.port, server.text});
      }
      source = reference::make_upstream_source(options, error);
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
      for (const config::UpstreamServer& server : settings.servers) names += (names.empty() ? "" : ", ") + server.text;
      return "upstream(" + names + ")";
    }
  }
  return "unknown";
}

}  // namespace app
