#pragma once
// What NTS needs from disk, read and checked before anything serves from it: the TLS
// certificate and key as a ready server context, and the fleet's cookie secret.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/io/nts_ke.hpp"

namespace app {

struct LoadedNts {
  std::shared_ptr<SSL_CTX> tls;    // null when there are problems
  std::optional<io::CertificateValidity> certificate;  // the leaf's validity, when it has one
  std::vector<std::byte> secret;
  std::vector<std::string> problems;  // each naming the file and, for the secret, the line
};

LoadedNts load_nts(const config::Nts& nts);

}  // namespace app
