#include "server/app/keys_file.hpp"

#include <stdexcept>

#include "server/io/file.hpp"

namespace app {

LoadedKeys load_keys(const config::Config& config) {
  if (!config.keys) return {std::make_shared<const ntp::KeyRing>(), {}};
  const io::FileRead file = io::read_file(*config.keys);
  if (!file.ok()) return {nullptr, {config::Problem{config.keys_location, "keys", file.error}.to_string()}};
  ntp::KeysResult parsed = ntp::parse_keys(file.bytes);
  LoadedKeys loaded;
  for (const ntp::KeyProblem& problem : parsed.problems) loaded.problems.push_back(problem.to_string(*config.keys));
  if (!loaded.problems.empty()) return loaded;
  auto ring = std::make_shared<const ntp::KeyRing>(std::move(parsed.keys));
  // Keys named by upstream servers, found here, where the file is read.
  for (const config::ReferenceSource& source : config.reference.sources) {
    for (const config::UpstreamServer& server : source.servers) {
      if (!server.key_id || ring->index_of(*server.key_id) != ntp::KeyRing::npos) continue;
      loaded.problems.push_back(config::Problem{server.key_id_location, server.key + ".key",
                                                "key " + std::to_string(*server.key_id) + " is not in " + *config.keys}
                                    .to_string());
    }
  }
  if (!loaded.problems.empty()) return loaded;
  try {
    const ntp::Authenticator trial{ring};
  } catch (const std::exception& error) {
    return {nullptr, {*config.keys + ": " + error.what()}};
  }
  loaded.ring = std::move(ring);
  return loaded;
}

}  // namespace app
