#include "server/app/reference_factory.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/nts/ke_client.hpp"
#include "server/nts/upstream_authentication.hpp"
#include "server/reference/phc.hpp"
#include "server/reference/shm.hpp"
#include "server/reference/sock.hpp"
#include "server/reference/system.hpp"
#include "server/reference/upstream/key_authentication.hpp"
#include "server/reference/upstream/upstream.hpp"

namespace app {

using Type = config::ReferenceSource::Type;

namespace {

// Each association's authentication: its entry's key from the keys file in force, or NTS with a
// session file of its own in nts_dump_dir.
reference::AuthenticationFactory authentication(std::shared_ptr<const ntp::KeyRing> keys,
                                                std::optional<std::string> nts_dump_dir) {
  return [keys = std::move(keys), nts_dump_dir = std::move(nts_dump_dir)](
             const reference::UpstreamEntry& entry,
             const reference::upstream::Address& address) -> std::unique_ptr<reference::upstream::Authentication> {
    if (entry.key) return reference::upstream::make_key_authentication(keys, *entry.key);
    if (!entry.nts) return nullptr;
    nts::UpstreamNtsOptions options;
    options.host = entry.host;
    options.ke_address = address;
    options.ke_address.port = entry.nts_port;
    options.ntp_port = entry.port;
    options.ca_file = entry.nts_ca;
    if (nts_dump_dir) options.dump_file = nts::session_file(*nts_dump_dir, options.ke_address);
    return nts::make_upstream_nts(std::move(options));
  };
}

reference::UpstreamOptions upstream_options(const config::ReferenceSource& settings, std::int8_t precision,
                                            std::shared_ptr<const ntp::KeyRing> keys) {
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
  options.authentication = authentication(std::move(keys), settings.nts_dump_dir);
  return options;
}

// What NTS upstreams read and write, checked where the configuration names them: each CA file
// must hold certificates (a typo would otherwise surface as failing key establishments), and the
// dump directory must be a directory.
std::optional<config::Problem> nts_files_problem(const config::ReferenceSource& settings) {
  for (const config::UpstreamServer& server : settings.servers) {
    if (!server.nts_ca) continue;
    if (std::string problem = nts::ca_file_problem(*server.nts_ca); !problem.empty()) {
      return config::Problem{server.nts_ca_location, server.key + ".nts_ca", problem};
    }
  }
  if (settings.nts_dump_dir) {
    struct stat status{};
    if (::stat(settings.nts_dump_dir->c_str(), &status) != 0 || !S_ISDIR(status.st_mode)) {
      return config::Problem{settings.nts_dump_dir_location, settings.key + ".nts_dump_dir",
                             *settings.nts_dump_dir + ": not a directory"};
    }
  }
  return std::nullopt;
}

// Binding would succeed: the path fits a socket address, its directory lets smeard (by its
// effective ids, as bind sees them) create it, and whatever is there already is a socket.
std::string sock_path_problem(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) return path + ": too long for a socket path";
  const std::string::size_type slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat status{};
  if (::stat(directory.c_str(), &status) != 0 || !S_ISDIR(status.st_mode)) return directory + ": no such directory";
  if (::faccessat(AT_FDCWD, directory.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
    return directory + ": smeard cannot create its socket here: " + std::strerror(errno);
  }
  if (::lstat(path.c_str(), &status) == 0 && !S_ISSOCK(status.st_mode)) {
    return path + ": exists and is not a socket (not removing it)";
  }
  return {};
}

}  // namespace

std::optional<config::Problem> check_source(const config::ReferenceSource& settings, std::int8_t precision,
                                            std::shared_ptr<const ntp::KeyRing> keys) {
  switch (settings.type) {
    case Type::sock:
      if (std::string problem = sock_path_problem(settings.path); !problem.empty()) {
        return config::Problem{settings.resource_location, settings.key + ".path", problem};
      }
      return std::nullopt;
    case Type::upstream: return nts_files_problem(settings);
    case Type::shm: {
      std::string error;
      if (!reference::open_shm_segment(settings.unit, error, reference::ShmOpening::existing) && !error.empty()) {
        return config::Problem{settings.resource_location, settings.key + ".unit", error};
      }
      return std::nullopt;
    }
    case Type::system:
    case Type::simulated:
    case Type::phc: break;
  }
  auto opened = open_source(settings, precision, std::move(keys));
  if (auto* problem = std::get_if<config::Problem>(&opened)) return std::move(*problem);
  return std::nullopt;
}

std::variant<std::unique_ptr<reference::Source>, config::Problem> open_source(const config::ReferenceSource& settings,
                                                                               std::int8_t precision,
                                                                               std::shared_ptr<const ntp::KeyRing> keys) {
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
      if (std::optional<config::Problem> problem = nts_files_problem(settings)) return std::move(*problem);
      source = reference::make_upstream_source(upstream_options(settings, precision, std::move(keys)), error);
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
