// timescales: each a smear profile, how it shows in the refid, how early a leap is announced,
// and perhaps a rehearsal leap of its own.
#include "config/sections.hpp"

namespace config {

namespace {

// "smear: google", or "smear: {profile: linear, window: 600, anchor: end}", handed to the
// smear library's own parser so the two spellings can never disagree.
std::optional<smear::Profile> read_smear(Cursor in) {
  std::string spec;
  if (in.is_scalar()) {
    spec = in.string().value_or("");
  } else if (in.map()) {
    const auto name = in["profile"].required().string();
    bool complete = name.has_value();
    spec = name.value_or("") + ":";
    std::string_view separator;
    for (const std::string_view setting : {"window", "anchor", "wander", "max_frequency"}) {
      const Cursor value = in[setting];
      if (!value.exists()) continue;
      const auto text = value.string();
      complete = complete && text;
      spec += std::string{separator} + std::string{setting} + "=" + text.value_or("");
      separator = ",";
    }
    in.no_other_keys();
    if (!complete) return std::nullopt;
  } else {
    return std::nullopt;
  }
  smear::ProfileResult result = smear::parse_profile(spec);
  if (!result.profile) {
    in.fail(result.error);
    return std::nullopt;
  }
  return std::move(result.profile);
}

std::optional<Rehearsal> read_rehearsal(Cursor in) {
  if (!in.map()) return std::nullopt;
  const auto leap_at =
      in["leap_at"].required().as(leapdb::parse_rfc3339, "is not an RFC 3339 time, e.g. 2026-11-23T15:00:00Z");
  const auto sign = in["sign"].as(
      [](std::string_view text) -> std::optional<int> {
        if (text == "+" || text == "-") return text == "+" ? 1 : -1;
        return std::nullopt;
      },
      "must be \"+\" (inserted second) or \"-\" (deleted second)");
  in.no_other_keys();
  if (!leap_at) return std::nullopt;
  return Rehearsal{*leap_at, sign.value_or(1), in["leap_at"].location()};
}

Timescale read_timescale(Cursor in) {
  Timescale timescale;
  timescale.location = in.location();
  if (auto profile = read_smear(in["smear"].required())) timescale.profile = std::move(*profile);
  timescale.refid = in["refid"]
                        .one_of<RefidConvention>({{"ntpd", RefidConvention::ntpd},
                                                  {"chrony", RefidConvention::chrony},
                                                  {"reference", RefidConvention::reference}},
                                                 "ntpd, chrony or reference")
                        .value_or(timescale.refid);
  timescale.announce = in["announce"].seconds(31 * 86400).value_or(timescale.announce);
  timescale.rehearsal = read_rehearsal(in["rehearsal"]);
  in.no_other_keys();
  return timescale;
}

}  // namespace

void read_timescales(Cursor in, std::map<std::string, Timescale, std::less<>>& timescales) {
  if (!in.map()) return;
  for (Cursor::Member& member : in.members()) {
    if (member.name.empty()) {
      member.key.fail("a timescale needs a name");
      continue;
    }
    if (!member.value.map()) continue;
    if (!timescales.emplace(member.name, read_timescale(member.value)).second) {
      member.key.fail("timescale defined twice");
    }
  }
}

}  // namespace config
