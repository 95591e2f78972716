#include "server/nts/files.hpp"

#include "server/io/file.hpp"
#include "server/nts/master_key.hpp"

namespace nts {

LoadedFiles load_files(const config::Nts& nts) {
  LoadedFiles loaded;
  io::FileRead file = io::read_file(nts.cookie_key_file);
  if (!file.ok()) {
    loaded.problems.push_back(config::Problem{nts.cookie_key_file_location, "nts.cookie_key_file", file.error}.to_string());
  } else if (nts::MasterKeyResult key = nts::parse_master_key(file.bytes); !key.problem.empty()) {
    loaded.problems.push_back(nts.cookie_key_file + (key.line > 0 ? ":" + std::to_string(key.line) : "") + ": " +
                              key.problem);
  } else {
    loaded.secret = std::move(key.secret);
  }
  wipe(std::as_writable_bytes(std::span{file.bytes}));  // the secret, in hex
  nts::TlsLoadProblem problem;
  std::shared_ptr<SSL_CTX> tls = nts::load_tls_context(nts.certificate, nts.private_key, problem);
  if (!tls) {
    loaded.problems.push_back(problem.private_key
                                  ? config::Problem{nts.private_key_location, "nts.private_key", problem.message}.to_string()
                                  : config::Problem{nts.certificate_location, "nts.certificate", problem.message}.to_string());
  }
  if (loaded.problems.empty()) {
    loaded.certificate = nts::certificate_validity(tls.get());
    loaded.tls = std::move(tls);
  }
  return loaded;
}

CertificateDates judge_dates(const nts::CertificateValidity& certificate, leapdb::UtcTime now) {
  if (now >= certificate.not_after) return CertificateDates::expired;
  if (now < certificate.not_before) return CertificateDates::not_yet_valid;
  return CertificateDates::valid;
}

std::vector<std::string> file_paths(const config::Nts& nts) {
  return {nts.certificate, nts.private_key, nts.cookie_key_file};
}

std::vector<std::optional<io::FileSignature>> file_signatures(const config::Nts& nts) {
  std::vector<std::optional<io::FileSignature>> signatures;
  for (const std::string& path : file_paths(nts)) signatures.push_back(io::file_signature(path));
  return signatures;
}

}  // namespace nts
