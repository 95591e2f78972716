#pragma once
// What an imported file says, in smeard's terms, before it is written out as YAML; shared by the
// three readers and the one writer. Private to the import library. Pure.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/import/import.hpp"

namespace config::import {

// The line a setting comes from, as the comment beside it quotes it.
struct Origin {
  int line = 0;
  std::string text;  // the directive as written, comment and surrounding blanks removed
};

// A value for the YAML (already in YAML syntax) and where it comes from.
struct Setting {
  std::string value;
  Origin origin;
};

// A directive with no equivalent, and why.
struct Note {
  Origin origin;
  std::string reason;
};

struct Server {
  bool pool = false;
  std::string host;
  std::optional<unsigned> port;
  std::optional<unsigned> max_sources;
  std::optional<std::uint32_t> key;
  bool nts = false;
  std::optional<unsigned> nts_port;
  std::optional<std::string> nts_ca;
  Origin origin;
  std::vector<Origin> also_from;  // further lines the entry is read from (ntp.toml's keys)
};

struct Draft {
  std::string file;                          // as comments name it
  std::string daemon;                        // "chronyd", "ntpd", "ntpd-rs"
  std::vector<Setting> listeners;            // "ADDRESS:PORT"; none: every address on port 123
  std::vector<Setting> hardware_timestamps;  // interface names, or "*"
  std::vector<Server> servers;
  std::vector<Setting> local_sources;  // reference sources other than upstream, as YAML flow mappings
  std::optional<Setting> minsources;
  std::optional<Setting> poll;
  std::optional<Setting> drift_file;
  std::optional<Setting> nts_dump_dir;
  std::optional<Setting> local_stratum;
  std::optional<Setting> keys;
  std::vector<Setting> leap_files;
  std::vector<Setting> allow;
  std::vector<Setting> deny;
  std::optional<Setting> denied;  // "kod" or "drop"
  std::optional<Origin> ratelimit;
  std::optional<Setting> ratelimit_interval, ratelimit_burst, ratelimit_leak;
  std::optional<Setting> smear;  // a preset name or a flow mapping; unset: true UTC
  std::string timescale = "utc";
  std::string refid = "ntpd";
  std::vector<std::string> header;  // remarks on the file as a whole
  std::vector<Note> notes;
  std::vector<Error> errors;

  void note(const Origin& origin, std::string reason) { notes.push_back({origin, std::move(reason)}); }
  void error(int line, std::string directive, std::string message) {
    errors.push_back({line, std::move(directive), std::move(message)});
  }
};

// The smeard YAML for a draft without errors. What needs an upstream source (drift file, NTS
// dump directory, minsources, poll) becomes a note when there is none.
std::string emit(Draft draft);

// Helpers the readers share.

// A double-quoted YAML scalar.
std::string quote(std::string_view text);
// "10.1.0.0/16" from chrony's "10.1/16", ntpd's "10.1.0.0" with mask "255.255.0.0", a bare address
// (a host), host bits below the prefix cleared; nullopt when it is not an address.
std::optional<std::string> network(std::string_view address, std::optional<unsigned> prefix_length);
std::optional<unsigned> prefix_from_mask(std::string_view mask);
// "24" or "10.1/16": the network text of chrony's allow/deny argument.
std::optional<std::string> chrony_network(std::string_view text);
// A whole decimal number without sign, at most `max`.
std::optional<unsigned long> whole(std::string_view text, unsigned long max);
std::optional<double> decimal(std::string_view text);
// The words of a line, '#'-style comments already removed.
std::vector<std::string_view> words(std::string_view line);
// 2^n seconds for a chrony or ntpd poll exponent, clamped to smeard's 1 to 1024 s.
unsigned poll_seconds(long exponent);

}  // namespace config::import
