// chrony.conf: one directive a line; '#', '%', '!' and ';' start comment lines.
#include <algorithm>
#include <cmath>
#include <map>

#include "config/import/readers.hpp"

namespace config::import {

namespace {

// Directives chronyd has that smeard needs no equivalent for, and why.
const std::map<std::string_view, std::string_view>& unmapped() {
  static const std::map<std::string_view, std::string_view> reasons{
      {"makestep", kNeverSteers},
      {"maxupdateskew", kOwnSelection},
      {"maxchange", kNeverSteers},
      {"maxslewrate", kNeverSteers},
      {"maxclockerror", kOwnSelection},
      {"maxdrift", kNeverSteers},
      {"maxdistance", kOwnSelection},
      {"maxjitter", kOwnSelection},
      {"reselectdist", kOwnSelection},
      {"stratumweight", kOwnSelection},
      {"combinelimit", kOwnSelection},
      {"corrtimeratio", kNeverSteers},
      {"fallbackdrift", kNeverSteers},
      {"initstepslew", kNeverSteers},
      {"tempcomp", kNeverSteers},
      {"clockprecision", "not needed: smeard measures the precision of the clock it reads"},
      {"rtcsync", "no equivalent: smeard never sets the real-time clock"},
      {"rtcfile", "no equivalent: smeard never sets the real-time clock"},
      {"rtconutc", "no equivalent: smeard never sets the real-time clock"},
      {"rtcdevice", "no equivalent: smeard never sets the real-time clock"},
      {"rtcautotrim", "no equivalent: smeard never sets the real-time clock"},
      {"hwclockfile", "no equivalent: smeard never sets the real-time clock"},
      {"leapsecmode",
       "no equivalent: smeard never touches the system clock at a leap; what clients see is the timescale's "
       "smear (chrony's smoothtime), or true UTC with the leap announced"},
      {"logdir", kNoLogFiles},
      {"log", kNoLogFiles},
      {"logbanner", kNoLogFiles},
      {"logchange", kNoLogFiles},
      {"mailonchange", kNoLogFiles},
      {"dumpdir", "not needed: smeard keeps only its drift file (drift_file) and NTS cookies (nts_dump_dir)"},
      {"pidfile", kRunsUnderSystemd},
      {"user", "not carried over: smeard runs as its own user (`user:`, \"smeard\" by default), not chronyd's"},
      {"lock_all", "not needed: smeard allocates nothing while serving"},
      {"sched_priority", "no equivalent: smeard leaves scheduling to systemd (CPUSchedulingPolicy=)"},
      {"cmdallow", kNoRemoteControl},
      {"cmddeny", kNoRemoteControl},
      {"bindcmdaddress", kNoRemoteControl},
      {"bindcmddevice", kNoRemoteControl},
      {"cmdport", kNoRemoteControl},
      {"cmdratelimit", kNoRemoteControl},
      {"opencommands", kNoRemoteControl},
      {"noclientlog", "no equivalent: smeard keeps per-client state only for rate limiting (ratelimit)"},
      {"clientloglimit", "no direct equivalent: the rate limiter's table size is ratelimit.table_size"},
      {"acquisitionport", "no equivalent: smeard polls servers from ephemeral ports"},
      {"binddevice", "no equivalent: smeard binds listeners to addresses (listeners[].address), not devices"},
      {"bindacqaddress", "no equivalent: smeard polls servers from the address the kernel chooses"},
      {"bindacqdevice", "no equivalent: smeard polls servers from the address the kernel chooses"},
      {"dscp", "no equivalent: smeard does not set DSCP"},
      {"broadcast", "no equivalent: smeard serves client requests only (no broadcast mode)"},
      {"peer", "no equivalent: smeard has no symmetric (peer) mode; list the peer as a server if it serves time"},
      {"manual", "no equivalent: smeard takes no manual time input"},
      {"authselectmode", "no equivalent: smeard selects among authenticated and unauthenticated servers alike"},
      {"nosystemcert", "no equivalent: without nts_ca an NTS server is checked against the system's CAs"},
      {"ntstrustedcerts", "not carried over: give each NTS server its CA bundle with nts_ca in reference.servers"},
      {"ntsrefresh", "no equivalent: smeard renews NTS keys when its cookies run out or are refused"},
      {"ntsserverkey",
       "no direct equivalent: smeard's NTS-KE server takes nts.private_key, beside nts.certificate and a "
       "cookie key file shared by the fleet (see nts: in smeard's README)"},
      {"ntsservercert",
       "no direct equivalent: smeard's NTS-KE server takes nts.certificate, beside nts.private_key and a "
       "cookie key file shared by the fleet (see nts: in smeard's README)"},
      {"ntsport", "no direct equivalent: smeard's NTS-KE listeners are nts.listeners[].address"},
      {"ntsprocesses", "not needed: smeard's NTS-KE server has its own thread"},
      {"ntsrotate", "no direct equivalent: smeard's cookie keys rotate every nts.rotation seconds"},
      {"ntsntpserver", "no direct equivalent: nts.listeners[].server"},
      {"ntscachedir", "not needed: smeard keeps NTS cookies in nts_dump_dir"},
      {"ptpport", "no equivalent: smeard serves NTP over UDP only, not NTP over PTP"},
      {"ptpdomain", "no equivalent: smeard serves NTP over UDP only, not NTP over PTP"},
      {"refresh", "no equivalent: smeard resolves a name again when its server stops answering"},
      {"maxntsconnections", "no direct equivalent: nts.max_connections"},
      {"maxsamples", kOwnSelection},
      {"minsamples", kOwnSelection},
  };
  return reasons;
}

// Server options that take a value, and those that do not, with what becomes of them.
const std::map<std::string_view, std::string_view>& server_option_reasons() {
  static const std::map<std::string_view, std::string_view> reasons{
      {"iburst", kNoBurstStart},
      {"burst", kNoBurst},
      {"minpoll", kOnePollInterval},
      {"maxpoll", kOnePollInterval},
      {"polltarget", kOwnSelection},
      {"prefer", kWholeSourceOptions},
      {"trust", kWholeSourceOptions},
      {"require", kWholeSourceOptions},
      {"noselect", kWholeSourceOptions},
      {"offline", "no equivalent: smeard polls every server from the start, and backs off when one is unreachable"},
      {"auto_offline", "no equivalent: smeard backs off by itself when a server is unreachable"},
      {"xleave", "no equivalent: smeard polls servers in basic mode (it serves interleaved mode to its clients)"},
      {"version", "no equivalent: smeard polls with NTP version 4"},
      {"minstratum", kOwnSelection},
      {"maxdelay", kOwnSelection},
      {"maxdelayratio", kOwnSelection},
      {"maxdelaydevratio", kOwnSelection},
      {"maxdelayquant", kOwnSelection},
      {"mindelay", kOwnSelection},
      {"asymmetry", kOwnSelection},
      {"offset", "no equivalent: smeard corrects no server's offset"},
      {"presend", "no equivalent: smeard sends no extra requests"},
      {"minsamples", kOwnSelection},
      {"maxsamples", kOwnSelection},
      {"filter", kOwnSelection},
      {"certset", "no equivalent: NTS servers are checked against nts_ca or the system's CAs"},
      {"extfield", "no equivalent: smeard sends only the extension fields NTS needs"},
      {"copy", "no equivalent: smeard has no symmetric modes"},
      {"ipv4", "no equivalent: smeard uses every address a name resolves to"},
      {"ipv6", "no equivalent: smeard uses every address a name resolves to"},
  };
  return reasons;
}

bool takes_value(std::string_view option) {
  static constexpr std::string_view with_value[] = {
      "port",          "key",      "ntsport",    "maxsources", "minpoll",       "maxpoll",
      "polltarget",    "version",  "minstratum", "maxdelay",   "maxdelayratio", "maxdelaydevratio",
      "maxdelayquant", "mindelay", "asymmetry",  "offset",     "presend",       "minsamples",
      "maxsamples",    "filter",   "certset",    "extfield"};
  return std::find(std::begin(with_value), std::end(with_value), option) != std::end(with_value);
}

class Reader {
 public:
  Reader(std::string_view file) {
    draft_.file = std::string{file};
    draft_.daemon = "chronyd";
    draft_.refid = "chrony";
  }

  Draft read(std::string_view text) {
    int number = 0;
    while (!text.empty()) {
      std::string_view line = take_line(text);
      ++number;
      if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
      const std::vector<std::string_view> args = words(line);
      if (args.empty() || std::string_view{"%!;"}.find(args[0][0]) != std::string_view::npos) continue;
      std::string original;
      for (const std::string_view word : args) original += (original.empty() ? "" : " ") + std::string{word};
      directive(Origin{number, original}, args);
    }
    finish();
    return std::move(draft_);
  }

 private:
  void directive(const Origin& origin, const std::vector<std::string_view>& args) {
    const std::string_view name = args[0];
    const std::vector<std::string_view> rest(args.begin() + 1, args.end());
    if (name == "server" || name == "pool") return server(origin, name == "pool", rest);
    if (name == "refclock") return refclock(origin, rest);
    if (name == "allow" || name == "deny") return access(origin, name == "allow", rest);
    if (name == "ratelimit") return ratelimit(origin, rest);
    if (name == "local") return local(origin, rest);
    if (name == "smoothtime") return smoothtime(origin, rest);
    if (name == "minsources") {
      if (const auto n = number(origin, rest, 1, 64)) draft_.minsources = Setting{std::to_string(*n), origin};
      return;
    }
    if (name == "port") return port(origin, rest);
    if (name == "bindaddress") return bindaddress(origin, rest);
    if (name == "hwtimestamp") return hwtimestamp(origin, rest);
    if (name == "keyfile" || name == "driftfile" || name == "ntsdumpdir" || name == "leapsectz" ||
        name == "leapseclist") {
      return path_directive(origin, name, rest);
    }
    if (name == "confdir" || name == "include" || name == "sourcedir") {
      draft_.note(origin, name == "sourcedir"
                              ? "not followed: its .sources files hold server and pool lines; import them too"
                              : "not followed: import the files it names too, and merge their settings by hand");
      return;
    }
    if (const auto found = unmapped().find(name); found != unmapped().end()) {
      draft_.note(origin, std::string{found->second});
      return;
    }
    draft_.note(origin, "not a directive smearctl import knows: translate it by hand if it matters");
  }

  std::optional<unsigned long> number(const Origin& origin, const std::vector<std::string_view>& rest,
                                      unsigned long min, unsigned long max) {
    const auto n = rest.size() == 1 ? whole(rest[0], max) : std::nullopt;
    if (!n || *n < min) {
      error(origin, "needs one number from " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    return n;
  }

  void error(const Origin& origin, std::string message) {
    const std::size_t space = origin.text.find(' ');
    draft_.error(origin.line, origin.text.substr(0, space), std::move(message));
  }

  void server(const Origin& origin, bool pool, const std::vector<std::string_view>& rest) {
    if (rest.empty()) return error(origin, "needs a host name or address");
    Server server;
    server.pool = pool;
    server.host = std::string{rest[0]};
    server.origin = origin;
    for (std::size_t i = 1; i < rest.size(); ++i) {
      const std::string_view option = rest[i];
      std::optional<std::string_view> value;
      if (takes_value(option)) {
        if (i + 1 >= rest.size()) return error(origin, "option " + std::string{option} + " needs a value");
        value = rest[++i];
      }
      if (option == "port" || option == "ntsport" || option == "maxsources" || option == "key") {
        const unsigned long max = option == "key" ? 4294967295ul : option == "maxsources" ? 16 : 65535;
        const auto n = whole(*value, max);
        if (!n || *n == 0) {
          return error(origin, "option " + std::string{option} + " needs a number from 1 to " + std::to_string(max));
        }
        if (option == "port") server.port = static_cast<unsigned>(*n);
        if (option == "ntsport") server.nts_port = static_cast<unsigned>(*n);
        if (option == "key") server.key = static_cast<std::uint32_t>(*n);
        if (option == "maxsources" && pool) server.max_sources = static_cast<unsigned>(*n);
      } else if (option == "nts") {
        server.nts = true;
      } else if (const auto found = server_option_reasons().find(option); found != server_option_reasons().end()) {
        const std::string text = value ? std::string{option} + " " + std::string{*value} : std::string{option};
        draft_.note(origin, "option " + text + ": " + std::string{found->second});
      } else {
        return error(origin, "unknown option '" + std::string{option} + "'");
      }
    }
    if (server.nts && server.key) {
      draft_.note(origin, "option key: left out: NTS authenticates by itself, and smeard takes one or the other");
      server.key.reset();
    }
    if (pool && !server.max_sources) server.max_sources = 4;  // chrony's default too
    draft_.servers.push_back(std::move(server));
  }

  // PHC, SHM and SOCK have their smeard source types; PPS and the rest do not.
  void refclock(const Origin& origin, const std::vector<std::string_view>& rest) {
    if (rest.size() < 2) return error(origin, "needs a driver and its parameter");
    const std::string_view driver = rest[0];
    const std::string_view parameter = rest[1].substr(0, rest[1].find(':'));
    std::string source;
    if (driver == "PHC") {
      // chronyd takes a PHC for UTC unless told `tai`; smeard's default is TAI.
      const bool tai = std::find(rest.begin(), rest.end(), "tai") != rest.end();
      source = "type: phc, device: " + quote(parameter) + ", timescale: " + (tai ? "tai" : "utc");
    } else if (driver == "SHM") {
      const auto unit = whole(parameter, 255);
      if (!unit) return error(origin, "SHM needs a segment number from 0 to 255");
      source = "type: shm, unit: " + std::to_string(*unit);
    } else if (driver == "SOCK") {
      source = "type: sock, path: " + quote(parameter);
    } else {
      return draft_.note(origin,
                         "no equivalent: smeard reads PHC, SHM and SOCK reference clocks, not " + std::string{driver});
    }
    for (std::size_t i = 2; i < rest.size(); ++i) {
      const std::string_view option = rest[i];
      if (option == "refid" && i + 1 < rest.size()) {
        source += ", refid: " + quote(rest[++i]);
      } else if (option == "prefer" || option == "trust" || option == "require" || option == "noselect") {
        source += ", " + std::string{option} + ": true";
      } else if (option != "tai") {
        const bool with_value = option != "pps" && option != "local" && i + 1 < rest.size();
        const std::string text = with_value ? std::string{option} + " " + std::string{rest[++i]} : std::string{option};
        draft_.note(origin, "option " + text + ": " + std::string{kOwnSelection});
      }
    }
    draft_.local_sources.push_back(Setting{"{" + source + "}", origin});
  }

  void access(const Origin& origin, bool allow, const std::vector<std::string_view>& rest) {
    std::vector<std::string_view> networks = rest;
    if (!networks.empty() && networks[0] == "all") networks.erase(networks.begin());
    std::vector<Setting>& list = allow ? draft_.allow : draft_.deny;
    if (networks.empty()) {
      list.push_back(Setting{quote("0.0.0.0/0"), origin});
      list.push_back(Setting{quote("::/0"), origin});
      return;
    }
    if (networks.size() > 1) return error(origin, "takes at most one network");
    if (const auto net = chrony_network(networks[0])) {
      list.push_back(Setting{quote(*net), origin});
    } else if (networks[0].find('/') == std::string_view::npos &&
               networks[0].find_first_not_of("0123456789.:") != std::string_view::npos) {
      draft_.note(origin, "not carried over: a host name; smeard takes networks only: add its address by hand");
    } else {
      error(origin, "'" + std::string{networks[0]} + "' is not a network such as 192.168.1.0/24 or 2001:db8::/32");
    }
  }

  void ratelimit(const Origin& origin, const std::vector<std::string_view>& rest) {
    draft_.ratelimit = origin;
    for (std::size_t i = 0; i < rest.size(); i += 2) {
      const std::string_view option = rest[i];
      if (i + 1 >= rest.size()) return error(origin, "option " + std::string{option} + " needs a value");
      const std::string_view value = rest[i + 1];
      if (option == "interval") {
        const bool negative = value.starts_with('-');
        const auto n = whole(negative ? value.substr(1) : value, 19);
        if (!n) return error(origin, "interval needs a log2 of seconds from -19 to 12");
        const long interval = negative ? -static_cast<long>(*n) : static_cast<long>(*n);
        if (interval > 12) return error(origin, "interval needs a log2 of seconds from -19 to 12");
        const long clamped = std::max(interval, -4L);
        if (clamped != interval) draft_.note(origin, "interval " + std::string{value} + ": smeard's shortest is -4");
        draft_.ratelimit_interval = Setting{std::to_string(clamped), origin};
      } else if (option == "burst") {
        const auto n = whole(value, 255);
        if (!n || *n == 0) return error(origin, "burst needs a number from 1 to 255");
        draft_.ratelimit_burst = Setting{std::to_string(*n), origin};
      } else if (option == "leak") {
        const auto n = whole(value, 4);
        if (!n) return error(origin, "leak needs a number from 0 to 4");
        draft_.ratelimit_leak = Setting{std::to_string(*n), origin};
      } else if (option == "kod") {
        draft_.note(origin, "option kod " + std::string{value} + ": smeard sends at most one KoD RATE per interval");
      } else {
        return error(origin, "unknown option '" + std::string{option} + "'");
      }
    }
  }

  void local(const Origin& origin, const std::vector<std::string_view>& rest) {
    unsigned long stratum = 10;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      const std::string_view option = rest[i];
      if (option == "orphan") {
        draft_.note(origin, "option orphan: no equivalent: smeard never selects other servers by orphan stratum");
        continue;
      }
      if (i + 1 >= rest.size()) return error(origin, "option " + std::string{option} + " needs a value");
      const std::string_view value = rest[++i];
      if (option == "stratum") {
        const auto n = whole(value, 15);
        if (!n || *n == 0) return error(origin, "stratum needs a number from 1 to 15");
        stratum = *n;
      } else if (option == "distance" || option == "activate" || option == "waitsynced" || option == "waitunsynced") {
        draft_.note(origin, "option " + std::string{option} + " " + std::string{value} +
                                ": no equivalent: smeard falls back to its local stratum once `holdover` has passed");
      } else {
        return error(origin, "unknown option '" + std::string{option} + "'");
      }
    }
    draft_.local_stratum = Setting{std::to_string(stratum), origin};
  }

  // smoothtime MAXFREQ MAXWANDER [leaponly]: chronyd's quadratic smoothing, which smeard's chrony
  // preset is when the wander is chronyd's recommended 0.001024 ppm/s.
  void smoothtime(const Origin& origin, const std::vector<std::string_view>& rest) {
    const bool leaponly = rest.size() == 3 && rest[2] == "leaponly";
    if (rest.size() != 2 && !leaponly) return error(origin, "needs MAXFREQ MAXWANDER [leaponly]");
    const auto max_frequency = decimal(rest[0]);
    const auto wander = decimal(rest[1]);
    if (!max_frequency || !wander || *max_frequency <= 0 || *wander <= 0) {
      return error(origin, "MAXFREQ (ppm) and MAXWANDER (ppm per second) must be positive numbers");
    }
    if (!leaponly) {
      draft_.note(origin, "without leaponly: smeard smooths only leap seconds, so it is read as leaponly");
    }
    // The peak frequency of the two quadratic halves: the wander over a quarter of the window.
    const double peak = std::sqrt(*wander) * 1e3;
    if (std::abs(*wander - 0.001024) < 1e-12 && *max_frequency >= peak) {
      draft_.smear = Setting{"chrony", origin};
      draft_.timescale = "chrony";
    } else {
      draft_.smear = Setting{"{profile: quadratic, wander: " + std::string{rest[1]} +
                                 ", max_frequency: " + std::string{rest[0]} + ", anchor: start}",
                             origin};
      draft_.timescale = "smoothed";
    }
  }

  void port(const Origin& origin, const std::vector<std::string_view>& rest) {
    const auto n = rest.size() == 1 ? whole(rest[0], 65535) : std::nullopt;
    if (!n) return error(origin, "needs a port from 0 to 65535");
    if (*n == 0) {
      return draft_.note(origin,
                         "not carried over: chronyd served no clients; smeard's purpose is serving them, on "
                         "the listeners above");
    }
    port_ = Setting{std::to_string(*n), origin};
  }

  void bindaddress(const Origin& origin, const std::vector<std::string_view>& rest) {
    const auto address = rest.size() == 1 ? network(rest[0], std::nullopt) : std::nullopt;
    if (!address) return error(origin, "needs one IPv4 or IPv6 address");
    bind_.push_back(Setting{*address, origin});
  }

  void hwtimestamp(const Origin& origin, const std::vector<std::string_view>& rest) {
    if (rest.empty()) return error(origin, "needs an interface name or *");
    draft_.hardware_timestamps.push_back(Setting{quote(rest[0]), origin});
    if (rest.size() > 1) {
      draft_.note(origin, "its options: no equivalent: smeard asks the driver for every packet's stamps");
    }
  }

  void path_directive(const Origin& origin, std::string_view name, const std::vector<std::string_view>& rest) {
    if (rest.size() != 1) return error(origin, "needs one path");
    const std::string path{rest[0]};
    if (name == "keyfile") {
      draft_.keys = Setting{quote(path), origin};  // the same format
    } else if (name == "driftfile") {
      // chronyd's file belongs to chronyd's user; smeard keeps its own where systemd lets it write.
      draft_.drift_file = Setting{quote("/var/lib/smeard/drift"), origin};
      state_moved_ = true;
    } else if (name == "ntsdumpdir") {
      draft_.nts_dump_dir = Setting{quote("/var/lib/smeard"), origin};
      state_moved_ = true;
    } else if (name == "leapsectz") {
      add_leap_file(Setting{quote(path.starts_with('/') ? path : "/usr/share/zoneinfo/" + path), origin});
      // A TZif file records no expiry; the same tzdata's leap-seconds.list does, and must agree.
      add_leap_file(Setting{quote("/usr/share/zoneinfo/leap-seconds.list"), origin});
    } else {
      add_leap_file(Setting{quote(path), origin});
    }
  }

  // leapsectz brings the leap-seconds.list a leapseclist may name too: read once.
  void add_leap_file(Setting file) {
    for (const Setting& listed : draft_.leap_files) {
      if (listed.value == file.value) return;
    }
    draft_.leap_files.push_back(std::move(file));
  }

  void finish() {
    // chronyd keeps the last bindaddress of each family, and binds a family none names to its
    // wildcard address.
    const std::string port = port_ ? port_->value : "123";
    const Setting* last[2] = {nullptr, nullptr};
    for (const Setting& address : bind_) last[address.value.find(':') != std::string::npos ? 1 : 0] = &address;
    for (const Setting& address : bind_) {
      if (&address != last[0] && &address != last[1]) {
        draft_.note(address.origin, "replaced by a later bindaddress of the same family, as in chronyd");
      }
    }
    for (int v6 = 0; v6 < 2 && !bind_.empty(); ++v6) {
      if (last[v6] == nullptr) {
        const Setting& other = *last[1 - v6];
        draft_.listeners.push_back(Setting{quote(std::string{v6 ? "[::]" : "0.0.0.0"} + ":" + port), other.origin});
        continue;
      }
      const std::string& address = last[v6]->value;
      draft_.listeners.push_back(
          Setting{quote((v6 ? "[" + address + "]" : address) + ":" + port), last[v6]->origin});
    }
    if (port_ && bind_.empty()) {
      for (const char* wildcard : {"0.0.0.0", "[::]"}) {
        draft_.listeners.push_back(Setting{quote(std::string{wildcard} + ":" + port_->value), port_->origin});
      }
    }
    if (draft_.allow.empty()) {
      draft_.header.push_back(
          "chronyd served NTP clients only from networks named by allow, and here there are none: smeard serves "
          "everyone unless access.allow says otherwise.");
    } else if (!draft_.deny.empty()) {
      draft_.header.push_back(
          "chronyd lets the most specific allow or deny decide; smeard checks deny first: a network allowed "
          "inside a denied one is denied, so check access below.");
    }
    if (state_moved_ && !draft_.servers.empty()) {
      draft_.header.push_back(
          "chronyd's drift file and NTS cookies stay in chronyd's directories; smeard keeps its own in "
          "/var/lib/smeard (its systemd StateDirectory).");
    }
  }

  Draft draft_;
  std::optional<Setting> port_;
  std::vector<Setting> bind_;
  bool state_moved_ = false;
};

}  // namespace

Draft read_chrony(std::string_view text, std::string_view file) { return Reader{file}.read(text); }

}  // namespace config::import
