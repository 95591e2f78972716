#include "server/app/reference_factory.hpp"

#include <tuple>

#include "server/reference/phc.hpp"
#include "server/reference/shm.hpp"
#include "server/reference/sock.hpp"
#include "server/reference/system.hpp"
#include "server/reference/upstream/upstream.hpp"

namespace app {

std::variant<OpenedReference, config::Problem> open_reference(const config::Reference& settings, std::int8_t precision) {
  OpenedReference opened;
  opened.policy = {settings.holdover, static_cast<std::uint8_t>(settings.local_stratum)};
  const std::uint32_t refid = reference::encode_refid(settings.reference_id_text());
  std::string error;
  std::string key;
  switch (settings.type) {
    case config::Reference::Type::system:
      opened.source = std::make_unique<reference::SystemSource>(
          reference::SystemOptions{settings.clock == config::Reference::Clock::tai, refid, precision});
      break;
    case config::Reference::Type::simulated:
      opened.source = std::make_unique<reference::SimulatedSource>(refid);
      break;
    case config::Reference::Type::phc:
      key = "reference.device";
      opened.source = reference::make_phc_source(
          reference::PhcOptions{settings.device, settings.timescale == config::Reference::Timescale::utc, refid}, error);
      break;
    case config::Reference::Type::upstream: {
      key = "reference.servers";
      reference::UpstreamOptions options{{}, settings.minsources, settings.drift_file, settings.poll, precision};
      for (const config::UpstreamServer& server : settings.servers) {
        options.servers.push_back({server.host, server.port, server.text});
      }
      opened.source = reference::make_upstream_source(options, error);
      break;
    }
    case config::Reference::Type::shm:
      key = "reference.unit";
      opened.source = reference::make_shm_source(reference::ShmOptions{settings.unit, refid}, error);
      break;
    case config::Reference::Type::sock:
      key = "reference.path";
      opened.source = reference::make_sock_source(reference::SockOptions{settings.path, refid}, error);
      break;
  }
  if (!opened.source) return config::Problem{settings.resource_location, key, error};
  return opened;
}

bool same_source(const config::Reference& a, const config::Reference& b) {
  const auto fields = [](const config::Reference& r) {
    return std::tie(r.type, r.refid, r.clock, r.device, r.timescale, r.unit, r.path, r.minsources, r.drift_file, r.poll,
                    r.start, r.rate_numerator, r.rate_denominator);
  };
  if (fields(a) != fields(b) || a.servers.size() != b.servers.size()) return false;
  for (std::size_t i = 0; i < a.servers.size(); ++i) {
    if (a.servers[i].host != b.servers[i].host || a.servers[i].port != b.servers[i].port) return false;
  }
  return true;
}

}  // namespace app
