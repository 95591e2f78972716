#pragma once
// What NTS needs from disk, read and checked before anything serves from it: the TLS
// certificate and key as a ready server context, and the fleet's cookie secret.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/io/file.hpp"
#include "server/nts/ke_server.hpp"
#include "server/nts/secret.hpp"

namespace nts {

struct LoadedFiles {
  std::shared_ptr<SSL_CTX> tls;    // null when there are problems
  std::optional<nts::CertificateValidity> certificate;  // the leaf's validity, when it has one
  Secret secret;
  std::vector<std::string> problems;  // each naming the file and, for the secret, the line
};

LoadedFiles load_files(const config::Nts& nts);

// How an NTS client judges the certificate's dates at `now`.
enum class CertificateDates : std::uint8_t { valid, expired, not_yet_valid };
CertificateDates judge_dates(const nts::CertificateValidity& certificate, leapdb::UtcTime now);

// The files NTS reads, reread at every reload: certificate, private key, cookie key file.
std::vector<std::string> file_paths(const config::Nts& nts);
// Theirs, in that order: one that changes on disk is reread without a SIGHUP.
std::vector<std::optional<io::FileSignature>> file_signatures(const config::Nts& nts);

}  // namespace nts
