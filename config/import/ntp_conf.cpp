// ntp.conf, ntpd's and NTPsec's: one command a line, '#' starts a comment anywhere.
#include <algorithm>
#include <map>

#include "config/import/readers.hpp"

namespace config::import {

namespace {

const std::map<std::string_view, std::string_view>& unmapped() {
  static const std::map<std::string_view, std::string_view> reasons{
      {"tinker", kNeverSteers},
      {"enable", "no equivalent: smeard has no such system flags (kernel discipline, monitoring, statistics)"},
      {"disable", "no equivalent: smeard has no such system flags (kernel discipline, monitoring, statistics)"},
      {"statsdir", kNoLogFiles},
      {"statistics", kNoLogFiles},
      {"filegen", kNoLogFiles},
      {"logfile", kNoLogFiles},
      {"logconfig", kNoLogFiles},
      {"trustedkey", "not needed: smeard trusts every key of its keys file for the server that names it"},
      {"requestkey", kNoRemoteControl},
      {"controlkey", kNoRemoteControl},
      {"mru", "no direct equivalent: the rate limiter's table size is ratelimit.table_size"},
      {"peer", "no equivalent: smeard has no symmetric (peer) mode; list the peer as a server if it serves time"},
      {"broadcast", "no equivalent: smeard serves client requests only (no broadcast mode)"},
      {"broadcastclient", "no equivalent: smeard polls servers; it does not listen for broadcasts"},
      {"multicastclient", "no equivalent: smeard polls servers; it does not listen for multicasts"},
      {"manycastclient", "no equivalent: smeard polls servers and pools, not manycast"},
      {"manycastserver", "no equivalent: smeard serves client requests only (no manycast)"},
      {"broadcastdelay", "no equivalent: smeard serves client requests only (no broadcast mode)"},
      {"setvar", kNoRemoteControl},
      {"trap", kNoRemoteControl},
      {"crypto", "no equivalent: Autokey is obsolete; smeard authenticates servers with NTS or symmetric keys"},
      {"keysdir", "no equivalent: Autokey is obsolete; smeard authenticates servers with NTS or symmetric keys"},
      {"revoke", "no equivalent: Autokey is obsolete; smeard authenticates servers with NTS or symmetric keys"},
      {"automax", "no equivalent: Autokey is obsolete; smeard authenticates servers with NTS or symmetric keys"},
      {"phone", "no equivalent: smeard has no modem reference clock"},
      {"calldelay", "no equivalent: smeard has no modem reference clock"},
      {"ttl", "no equivalent: smeard serves client requests only (no manycast)"},
      {"saveconfigdir", "no equivalent: smeard's configuration changes only by editing it and reloading"},
      {"rlimit", "not needed: smeard allocates nothing while serving, and its stack is its own"},
      {"dscp", "no equivalent: smeard does not set DSCP"},
      {"mdnstries", "no equivalent: smeard does not register with mDNS"},
      {"pollskewlist", kOwnSelection},
      {"reset", kNoLogFiles},
      {"leapsmearfile", kNoLogFiles},
      {"nts",
       "no direct equivalent: smeard's NTS-KE server takes nts.certificate, nts.private_key and a cookie key "
       "file shared by the fleet (see nts: in smeard's README)"},
      {"ca", "not carried over: give each NTS server its CA bundle with nts_ca in reference.servers"},
      {"device", kNoDevice},
      {"fudge", kNoFudge},
  };
  return reasons;
}

const std::map<std::string_view, std::string_view>& server_option_reasons() {
  static const std::map<std::string_view, std::string_view> reasons{
      {"iburst", kNoBurstStart},
      {"burst", kNoBurst},
      {"minpoll", kOnePollInterval},
      {"maxpoll", kOnePollInterval},
      {"prefer", kWholeSourceOptions},
      {"true", kWholeSourceOptions},
      {"noselect", kWholeSourceOptions},
      {"preempt", "no equivalent: smeard keeps every configured server"},
      {"version", "no equivalent: smeard polls with NTP version 4"},
      {"xleave", "no equivalent: smeard polls servers in basic mode (it serves interleaved mode to its clients)"},
      {"autokey", "no equivalent: Autokey is obsolete; smeard authenticates servers with NTS or symmetric keys"},
      {"mode", "no equivalent: a reference clock's mode"},
      {"ttl", "no equivalent: smeard serves client requests only (no manycast)"},
      {"bias", kOwnSelection},
      {"noval", "no equivalent: smeard always checks an NTS server's certificate"},
      {"expire", "no equivalent: smeard checks an NTS server's certificate's dates"},
      {"aead", "no equivalent: smeard negotiates the AEAD (AES-SIV-CMAC-256)"},
      {"cert", "no equivalent: smeard presents no client certificate"},
      {"ask", "no equivalent: smeard asks the NTS-KE server for its NTP server"},
      {"require", kWholeSourceOptions},
      {"subtype", "no equivalent: a reference clock's subtype"},
      {"path", "no equivalent: a reference clock's device"},
      {"ppspath", "no equivalent: a reference clock's device"},
      {"baud", "no equivalent: a reference clock's device"},
      {"holdover", "no per-server equivalent: the reference's holdover"},
  };
  return reasons;
}

bool takes_value(std::string_view option) {
  static constexpr std::string_view with_value[] = {
      "key",  "minpoll", "maxpoll", "version", "mode",  "ttl",     "bias",    "ca",       "aead",
      "cert", "ask",     "port",    "unit",    "refid", "stratum", "subtype", "path",     "ppspath",
      "baud", "time1",   "time2",   "flag1",   "flag2", "flag3",   "flag4",   "holdover", "expire"};
  return std::find(std::begin(with_value), std::end(with_value), option) != std::end(with_value);
}

constexpr std::string_view kQueryFlags[] = {
    "nomodify", "noquery", "nopeer",  "notrap",         "lowpriotrap", "nomrulist", "ntpport",   "notrust",
    "nomodify", "noepeer", "version", "serverresponse", "fuzz",        "mssntp",    "interface", "nomrulist"};

struct Restriction {
  Origin origin;
  std::optional<std::string> network;  // unset: default
  int family = 0;                      // 4, 6, or 0 for both (default without -4/-6)
  bool denied = false;                 // ignore or noserve
};

class Reader {
 public:
  explicit Reader(std::string_view file) {
    draft_.file = std::string{file};
    draft_.daemon = "ntpd";
    ntpsec_ = file.find("ntpsec") != std::string_view::npos;  // Debian's /etc/ntpsec/ntp.conf
  }

  Draft read(std::string_view text) {
    int number = 0;
    std::vector<std::pair<Origin, std::vector<std::string_view>>> lines;
    while (!text.empty()) {
      std::string_view line = take_line(text);
      ++number;
      if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
      std::vector<std::string_view> args = words(line);
      if (args.empty()) continue;
      std::string original;
      for (const std::string_view word : args) original += (original.empty() ? "" : " ") + std::string{word};
      if (args[0] == "nts" || (args[0] == "server" && std::find(args.begin(), args.end(), "nts") != args.end())) {
        ntpsec_ = true;
      }
      lines.emplace_back(Origin{number, original}, std::move(args));
    }
    // fudge lines may come before or after the local clock they calibrate; stratum may be any
    // of their options (fudge 127.127.1.0 refid LOCL stratum 10).
    for (const auto& [origin, args] : lines) {
      if (args[0] != "fudge" || args.size() < 4 || !args[1].starts_with("127.127.1.")) continue;
      for (std::size_t i = 2; i + 1 < args.size(); ++i) {
        if (args[i] == "stratum") local_stratum_ = whole(args[i + 1], 15);
      }
    }
    for (const auto& [origin, args] : lines) directive(origin, args);
    finish();
    return std::move(draft_);
  }

 private:
  void directive(const Origin& origin, const std::vector<std::string_view>& args) {
    const std::string_view name = args[0];
    const std::vector<std::string_view> rest(args.begin() + 1, args.end());
    if (name == "server" || name == "pool") return server(origin, name == "pool", rest);
    if (name == "refclock") return refclock(origin, rest);
    if (name == "restrict") return restrict(origin, rest);
    if (name == "discard") return discard(origin, rest);
    if (name == "tos") return tos(origin, rest);
    if (name == "leapsmearinterval") return leapsmear(origin, rest);
    if (name == "interface" || name == "nic") return interface(origin, rest);
    if (name == "fudge" && !rest.empty() && rest[0].starts_with("127.127.1.")) {
      return draft_.note(origin, "read with the local clock it calibrates (unsynchronized.local_stratum)");
    }
    if (name == "keys" || name == "driftfile" || name == "leapfile") return path_directive(origin, name, rest);
    if (name == "includefile") {
      return draft_.note(origin, "not followed: import the file it names too, and merge its settings by hand");
    }
    if (const auto found = unmapped().find(name); found != unmapped().end()) {
      return draft_.note(origin, std::string{found->second});
    }
    draft_.note(origin, "not a command smearctl import knows: translate it by hand if it matters");
  }

  void error(const Origin& origin, std::string message) {
    draft_.error(origin.line, origin.text.substr(0, origin.text.find(' ')), std::move(message));
  }

  void server(const Origin& origin, bool pool, const std::vector<std::string_view>& rest) {
    if (rest.empty()) return error(origin, "needs a host name or address");
    std::vector<std::string_view> args = rest;
    if (args[0] == "-4" || args[0] == "-6") args.erase(args.begin());
    if (args.empty()) return error(origin, "needs a host name or address");
    if (args[0].starts_with("127.127.")) {
      if (args.size() > 1) draft_.note(origin, "its options: " + std::string{kOwnSelection});
      return old_refclock(origin, args[0]);
    }
    Server server;
    server.pool = pool;
    server.host = std::string{args[0]};
    server.origin = origin;
    for (std::size_t i = 1; i < args.size(); ++i) {
      const std::string_view option = args[i];
      std::optional<std::string_view> value;
      if (takes_value(option)) {
        if (i + 1 >= args.size()) return error(origin, "option " + std::string{option} + " needs a value");
        value = args[++i];
      }
      if (option == "key") {
        const auto n = whole(*value, 65535);
        if (!n || *n == 0) return error(origin, "option key needs a key number from 1 to 65535");
        server.key = static_cast<std::uint32_t>(*n);
      } else if (option == "port") {
        const auto n = whole(*value, 65535);
        if (!n || *n == 0) return error(origin, "option port needs a port from 1 to 65535");
        server.port = static_cast<unsigned>(*n);
      } else if (option == "nts") {
        server.nts = true;
      } else if (option == "ca") {
        if (!value->starts_with('/')) return error(origin, "option ca needs an absolute path");
        server.nts_ca = std::string{*value};
      } else if (const auto found = server_option_reasons().find(option); found != server_option_reasons().end()) {
        const std::string text = value ? std::string{option} + " " + std::string{*value} : std::string{option};
        draft_.note(origin, "option " + text + ": " + std::string{found->second});
      } else {
        return error(origin, "unknown option '" + std::string{option} + "'");
      }
    }
    if (server.nts_ca && !server.nts) {
      draft_.note(origin, "option ca: not needed without nts");
      server.nts_ca.reset();
    }
    if (server.nts && server.key) {
      draft_.note(origin, "option key: left out: NTS authenticates by itself, and smeard takes one or the other");
      server.key.reset();
    }
    draft_.servers.push_back(std::move(server));
  }

  // ntpd's reference clocks as pseudo-addresses 127.127.TYPE.UNIT.
  void old_refclock(const Origin& origin, std::string_view address) {
    const std::string_view rest = address.substr(8);
    const std::size_t dot = rest.find('.');
    const auto type = whole(rest.substr(0, dot), 255);
    const auto unit = dot == std::string_view::npos ? std::nullopt : whole(rest.substr(dot + 1), 255);
    if (!type || !unit) return error(origin, "'" + std::string{address} + "' is not 127.127.TYPE.UNIT");
    if (*type == 28) {
      draft_.local_sources.push_back(Setting{"{type: shm, unit: " + std::to_string(*unit) + "}", origin});
    } else if (*type == 1) {
      draft_.local_stratum = Setting{std::to_string(local_stratum_.value_or(5)), origin};
      if (!local_stratum_) draft_.note(origin, "no fudge stratum: ntpd's local clock default, stratum 5");
    } else {
      draft_.note(origin, "no equivalent: smeard reads PHC, SHM and SOCK reference clocks, not ntpd's driver " +
                              std::to_string(*type) + " (run gpsd or the like and read it through SHM or SOCK)");
    }
  }

  // NTPsec: refclock NAME unit N [options].
  void refclock(const Origin& origin, const std::vector<std::string_view>& rest) {
    if (rest.empty()) return error(origin, "needs a driver name");
    std::optional<unsigned long> unit = 0;
    std::string options;
    std::vector<std::string> dropped;
    for (std::size_t i = 1; i < rest.size(); ++i) {
      const std::string_view option = rest[i];
      const bool has_value = takes_value(option) || option == "minpoll" || option == "maxpoll";
      if (has_value && i + 1 >= rest.size()) return error(origin, "option " + std::string{option} + " needs a value");
      if (option == "unit") {
        unit = whole(rest[++i], 255);
      } else if (option == "refid") {
        options += ", refid: " + quote(rest[++i]);
      } else if (option == "prefer" || option == "noselect") {
        options += ", " + std::string{option} + ": true";
      } else {
        dropped.push_back(has_value ? std::string{option} + " " + std::string{rest[++i]} : std::string{option});
      }
    }
    if (!unit) return error(origin, "unit needs a number from 0 to 255");
    if (rest[0] != "shm") {
      return draft_.note(origin, "no equivalent: smeard reads PHC, SHM and SOCK reference clocks, not " +
                                     std::string{rest[0]} + " (read it through SHM or SOCK, e.g. from gpsd)");
    }
    draft_.local_sources.push_back(Setting{"{type: shm, unit: " + std::to_string(*unit) + options + "}", origin});
    for (const std::string& option : dropped)
      draft_.note(origin, "option " + option + ": " + std::string{kOwnSelection});
  }

  void restrict(const Origin& origin, const std::vector<std::string_view>& rest) {
    std::vector<std::string_view> args = rest;
    Restriction r;
    r.origin = origin;
    if (!args.empty() && (args[0] == "-4" || args[0] == "-6")) {
      r.family = args[0] == "-4" ? 4 : 6;
      args.erase(args.begin());
    }
    if (args.empty()) return error(origin, "needs an address, default or source");
    const std::string_view address = args[0];
    std::optional<unsigned> prefix;
    std::vector<std::string> query_flags;
    bool limited = false;
    for (std::size_t i = 1; i < args.size(); ++i) {
      const std::string_view flag = args[i];
      if (flag == "mask") {
        if (i + 1 >= args.size() || !(prefix = prefix_from_mask(args[++i]))) {
          return error(origin, "mask needs a network mask such as 255.255.255.0");
        }
      } else if (flag == "ignore" || flag == "noserve") {
        r.denied = true;
      } else if (flag == "limited") {
        limited = true;
      } else if (flag == "kod") {
        kod_ = true;
      } else if (std::find(std::begin(kQueryFlags), std::end(kQueryFlags), flag) != std::end(kQueryFlags)) {
        query_flags.emplace_back(flag);
      } else {
        return error(origin, "unknown flag '" + std::string{flag} + "'");
      }
    }
    if (!query_flags.empty()) {
      std::string list;
      for (const std::string& flag : query_flags) list += (list.empty() ? "" : " ") + flag;
      draft_.note(origin, list + ": not needed: smeard answers no ntpq or ntpdc queries and has no peers");
    }
    if (limited) {
      draft_.ratelimit = origin;
      limited_ = true;
    }
    if (address == "source") {
      return draft_.note(origin, "not needed: smeard polls its servers whatever restrict says");
    }
    if (address != "default") {
      r.network = network(address, prefix);
      if (!r.network) {
        if (address.find_first_not_of("0123456789.:") != std::string_view::npos) {
          return draft_.note(origin,
                             "not carried over: a host name; smeard takes networks only: add its address by hand");
        }
        return error(origin, "'" + std::string{address} + "' is not an address");
      }
      r.family = r.network->find(':') != std::string::npos ? 6 : 4;
    }
    restrictions_.push_back(std::move(r));
  }

  // discard average A minimum M monitor P: ntpd's rate limit, the average interval as smeard's.
  void discard(const Origin& origin, const std::vector<std::string_view>& rest) {
    for (std::size_t i = 0; i < rest.size(); i += 2) {
      if (i + 1 >= rest.size()) return error(origin, "option " + std::string{rest[i]} + " needs a value");
      const auto n = whole(rest[i + 1], 255);
      if (!n) return error(origin, "option " + std::string{rest[i]} + " needs a number");
      if (rest[i] == "average") {
        draft_.ratelimit_interval = Setting{std::to_string(std::clamp<unsigned long>(*n, 0, 12)), origin};
      } else if (rest[i] == "minimum" || rest[i] == "monitor") {
        draft_.note(origin, "option " + std::string{rest[i]} + " " + std::string{rest[i + 1]} +
                                ": no equivalent: smeard's limit is an average with a burst (ratelimit.burst)");
      } else {
        return error(origin, "unknown option '" + std::string{rest[i]} + "'");
      }
    }
  }

  void tos(const Origin& origin, const std::vector<std::string_view>& rest) {
    for (std::size_t i = 0; i < rest.size(); i += 2) {
      if (i + 1 >= rest.size()) return error(origin, "option " + std::string{rest[i]} + " needs a value");
      const std::string_view option = rest[i];
      const std::string_view value = rest[i + 1];
      if (option == "orphan") {
        const auto n = whole(value, 16);
        if (!n || *n == 0) return error(origin, "orphan needs a stratum from 1 to 16");
        if (*n == 16) {
          draft_.note(origin, "orphan 16: not needed: an unsynchronized smeard says so");
        } else {
          draft_.local_stratum = Setting{std::to_string(*n), origin};
        }
      } else if (option == "minsane") {
        const auto n = whole(value, 64);
        if (!n) return error(origin, "minsane needs a number");
        if (*n > 0) draft_.minsources = Setting{std::to_string(*n), origin};
      } else if (option == "orphanwait") {
        draft_.note(origin, "option orphanwait " + std::string{value} +
                                ": no equivalent: smeard falls back to its local stratum once `holdover` has passed");
      } else {
        draft_.note(origin,
                    "option " + std::string{option} + " " + std::string{value} + ": " + std::string{kOwnSelection});
      }
    }
  }

  // ntpd smears cosine-shaped, NTPsec linearly, over the window that ends at the leap.
  void leapsmear(const Origin& origin, const std::vector<std::string_view>& rest) {
    const auto window = rest.size() == 1 ? whole(rest[0], 30 * 86400) : std::nullopt;
    if (!window) return error(origin, "needs a number of seconds");
    if (*window == 0) return draft_.note(origin, "not needed: 0 turns smearing off, as smeard's smear: none does");
    if (*window < 60) return error(origin, "smeard smears over 60 seconds at least");
    smear_ = Setting{std::to_string(*window), origin};
  }

  void interface(const Origin& origin, const std::vector<std::string_view>& rest) {
    if (rest.size() == 2 && rest[0] == "listen") {
      if (const auto address = network(rest[1], std::nullopt)) {
        const bool v6 = address->find(':') != std::string::npos;
        draft_.listeners.push_back(Setting{quote((v6 ? "[" + *address + "]" : *address) + ":123"), origin});
        return;
      }
    }
    draft_.note(origin,
                "no equivalent: smeard listens on the addresses listeners names (interface names and "
                "wildcards are not translated)");
  }

  void path_directive(const Origin& origin, std::string_view name, const std::vector<std::string_view>& rest) {
    if (rest.empty()) return error(origin, "needs a path");
    const std::string path{rest[0]};
    if (name == "keys") {
      draft_.keys = Setting{quote(path), origin};
      draft_.header.push_back(
          "keys: ntpd's keys file is \"ID TYPE KEY\", a key of up to 20 characters being ASCII and a longer "
          "one hex. smeard reads chrony's format: the same lines, but a hex key needs the prefix HEX:, type M "
          "is written MD5, and the types are MD5, SHA1, SHA256, SHA384, SHA512, AES128 and AES256 (NTPsec's "
          "aes-128 is AES128). A file of ASCII keys of those types is read as it is.");
    } else if (name == "driftfile") {
      draft_.drift_file = Setting{quote("/var/lib/smeard/drift"), origin};
    } else {
      draft_.leap_files.push_back(Setting{quote(path), origin});
    }
  }

  // Who is served: per family, everyone unless the default is denied, then only the networks
  // allowed; networks denied besides. A denied client of ntpd hears nothing.
  void finish() {
    bool default_denied[2] = {false, false};
    for (const Restriction& r : restrictions_) {
      if (r.network || !r.denied) continue;
      if (r.family != 6) default_denied[0] = true;
      if (r.family != 4) default_denied[1] = true;
    }
    for (int index = 0; index < 2; ++index) {
      if (!default_denied[0] && !default_denied[1]) break;
      const int family = index == 0 ? 4 : 6;
      if (!default_denied[index]) {
        const Restriction* line = nullptr;
        for (const Restriction& r : restrictions_) {
          if (!r.network && r.denied) line = &r;
        }
        draft_.allow.push_back(Setting{quote(family == 4 ? "0.0.0.0/0" : "::/0"), line->origin});
        continue;
      }
      bool allowed = false;
      for (const Restriction& r : restrictions_) {
        if (r.network && !r.denied && r.family == family) {
          draft_.allow.push_back(Setting{quote(*r.network), r.origin});
          allowed = true;
        }
      }
      // ntpd serves nobody of this family: an allow list without it would not say so when the
      // other family has none either, so the whole family is denied (deny is checked first).
      if (!allowed) {
        const Restriction* line = nullptr;
        for (const Restriction& r : restrictions_) {
          if (!r.network && r.denied && r.family != (family == 4 ? 6 : 4)) line = &r;
        }
        draft_.deny.push_back(Setting{quote(family == 4 ? "0.0.0.0/0" : "::/0"), line->origin});
      }
    }
    for (const Restriction& r : restrictions_) {
      if (r.network && r.denied) draft_.deny.push_back(Setting{quote(*r.network), r.origin});
    }
    for (const Restriction& r : restrictions_) {
      if (!r.network && r.denied) {
        draft_.note(r.origin, "carried over: only the networks of access.allow are served (a family it lists none of "
                              "is denied whole)");
        continue;
      }
      const bool mapped = r.denied || (r.network && (default_denied[0] || default_denied[1]));
      if (!mapped && !limited_on(r)) {
        draft_.note(r.origin, "not needed: smeard serves these clients (nothing here denies them)");
      }
    }
    if (!draft_.deny.empty() || default_denied[0] || default_denied[1]) {
      for (const Restriction& r : restrictions_) {
        if (r.denied) {
          draft_.denied = Setting{"drop", r.origin};  // ignore and noserve: silence
          break;
        }
      }
    }
    if (draft_.ratelimit_interval && !limited_) {
      draft_.note(draft_.ratelimit_interval->origin, "not needed: no restrict line here says limited");
      draft_.ratelimit_interval.reset();
    }
    if (limited_ && !kod_) {
      draft_.header.push_back(
          "ntpd dropped rate-limited requests silently (no kod flag); smeard sends at most one KoD RATE per "
          "client and interval, and answers 1 in 2^leak anyway.");
    }
    if (smear_) {
      const std::string& window = smear_->value;
      draft_.timescale = ntpsec_ ? "ntpsec" : "ntpd";
      draft_.smear = Setting{window == "86400" ? draft_.timescale
                                               : std::string{"{profile: "} + (ntpsec_ ? "linear" : "cosine") +
                                                     ", window: " + window + ", anchor: end}",
                             smear_->origin};
      draft_.header.push_back(std::string{"leapsmearinterval: read as "} + (ntpsec_ ? "NTPsec's" : "ntpd's") +
                              " smear (" + (ntpsec_ ? "linear" : "cosine") + ", ending at the leap), as this file " +
                              (ntpsec_ ? "uses NTS" : "does not use NTS") + "; for " +
                              (ntpsec_ ? "ntpd's" : "NTPsec's") + " use the " + (ntpsec_ ? "ntpd" : "ntpsec") +
                              " preset or profile " + (ntpsec_ ? "cosine" : "linear") + ".");
    }
    if (draft_.drift_file && !draft_.servers.empty()) {
      draft_.header.push_back(
          "ntpd's drift file stays in ntpd's directory; smeard keeps its own in /var/lib/smeard (its systemd "
          "StateDirectory).");
    }
    if (ntpsec_) draft_.daemon = "NTPsec";
  }

  bool limited_on(const Restriction& r) const {
    return limited_ && draft_.ratelimit && draft_.ratelimit->line == r.origin.line;
  }

  Draft draft_;
  std::vector<Restriction> restrictions_;
  std::optional<unsigned long> local_stratum_;
  std::optional<Setting> smear_;
  bool ntpsec_ = false;
  bool kod_ = false;
  bool limited_ = false;
};

}  // namespace

Draft read_ntp_conf(std::string_view text, std::string_view file) { return Reader{file}.read(text); }

}  // namespace config::import
