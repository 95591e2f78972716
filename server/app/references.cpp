#include "server/app/references.hpp"

#include <algorithm>
#include <utility>

#include "server/app/reference_factory.hpp"

namespace app {
namespace {

reference::SelectionOptions selection_options(const config::ReferenceSource& s) {
  using Type = config::ReferenceSource::Type;
  // Served time rides on the system clock, so a step of it is no source's jump to refuse.
  const bool gated = s.type != Type::system && s.type != Type::simulated;
  return reference::SelectionOptions{s.prefer, s.trust, s.require, s.noselect, gated};
}

// A source's rows as the selection sees it: a one-row source takes the verdict; an upstream
// source's selected server carries it, the others keeping their own judgement among its servers.
// A source not usable by its own account keeps its rows, but none of them steers anything.
void apply(const reference::SourceVerdict& verdict, std::vector<reference::SourceReport>& rows) {
  if (verdict.own) {
    for (reference::SourceReport& row : rows) {
      if (row.state != reference::SourceState::selected) continue;
      row.state = reference::SourceState::candidate;
      row.why = "its source is not usable yet (an upstream clock not locked, or lost)";
    }
    return;
  }
  for (reference::SourceReport& row : rows) {
    const bool carries = rows.size() == 1 || row.state == reference::SourceState::selected;
    if (!carries) continue;
    row.state = verdict.state;
    if (!verdict.why.empty() || verdict.state == reference::SourceState::selected) row.why = verdict.why;
  }
}

}  // namespace

References::References(config::Reference settings, std::vector<Member> members, std::int8_t precision,
                       leapdb::Nanoseconds raw)
    : settings_(std::move(settings)),
      members_(std::move(members)),
      precision_(precision),
      selector_(selector_settings(settings_), members_.size(), raw) {}

reference::SelectorSettings References::selector_settings(const config::Reference& settings) {
  return reference::SelectorSettings{settings.minsources, settings.max_step, settings.holdover};
}

std::variant<std::unique_ptr<References>, config::Problem> References::open(const config::Reference& settings,
                                                                            std::int8_t precision,
                                                                            leapdb::Nanoseconds raw,
                                                                            std::shared_ptr<const ntp::KeyRing> keys) {
  std::vector<Member> members;
  for (const config::ReferenceSource& source : settings.sources) {
    auto opened = open_source(source, precision, keys);
    if (auto* problem = std::get_if<config::Problem>(&opened)) return std::move(*problem);
    members.push_back(Member{source, source_name(source), std::move(std::get<0>(opened)), {}});
  }
  return std::unique_ptr<References>(new References(settings, std::move(members), precision, raw));
}

std::optional<config::Problem> References::check(const config::Reference& settings, std::int8_t precision,
                                                 const std::shared_ptr<const ntp::KeyRing>& keys) {
  for (const config::ReferenceSource& source : settings.sources) {
    if (auto problem = check_source(source, precision, keys)) return problem;
  }
  return std::nullopt;
}

std::variant<References::Opened, config::Problem> References::open_new(
    const config::Reference& settings, std::span<const std::optional<std::size_t>> kept,
    const std::shared_ptr<const ntp::KeyRing>& keys) const {
  Opened opened(settings.sources.size());
  for (std::size_t i = 0; i < settings.sources.size(); ++i) {
    if (kept[i]) continue;
    auto source = open_source(settings.sources[i], precision_, keys);
    if (auto* problem = std::get_if<config::Problem>(&source)) return std::move(*problem);
    opened[i] = std::move(std::get<0>(source));
  }
  return opened;
}

void References::reconfigure(const config::Reference& settings, std::span<const std::optional<std::size_t>> kept,
                             Opened opened, leapdb::Nanoseconds raw) {
  std::vector<Member> members(settings.sources.size());
  for (std::size_t i = 0; i < settings.sources.size(); ++i) {
    if (kept[i]) {
      members[i] = std::move(members_[*kept[i]]);
    } else {
      members[i].source = std::move(opened[i]);
    }
    // Selection options and where the entry is written may change on a kept source.
    members[i].settings = settings.sources[i];
    members[i].name = source_name(settings.sources[i]);
  }
  members_ = std::move(members);
  settings_ = settings;
  selector_.reconfigure(selector_settings(settings_), kept, raw);
}

reference::Estimate References::poll(const reference::Tick& tick) {
  std::vector<reference::SourceInput> inputs;
  for (Member& m : members_) {
    m.estimate = m.source->poll(tick);
    for (reference::Notice& n : m.source->take_notices()) notices_.push_back(std::move(n));
    const std::vector<reference::SourceReport> rows = m.source->report();
    const bool refused = !rows.empty() && std::ranges::all_of(rows, [](const reference::SourceReport& r) {
      return r.state == reference::SourceState::refused;
    });
    inputs.push_back({m.name, &m.estimate, selection_options(m.settings), refused});
  }
  const reference::Estimate served = selector_.update(tick, inputs);
  for (reference::Notice& n : selector_.take_notices()) notices_.push_back(std::move(n));
  return served;
}

std::vector<reference::SourceReport> References::report() const {
  std::vector<reference::SourceReport> out;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    std::vector<reference::SourceReport> rows = members_[i].source->report();
    apply(selector_.verdicts()[i], rows);
    for (reference::SourceReport& row : rows) {
      row.type = std::string{config::to_string(members_[i].settings.type)};
      out.push_back(std::move(row));
    }
  }
  return out;
}

std::vector<reference::Notice> References::take_notices() { return std::exchange(notices_, {}); }

reference::HoldoverPolicy References::policy() const {
  return {settings_.holdover, static_cast<std::uint8_t>(settings_.local_stratum)};
}

std::string References::types() const {
  std::string text;
  for (const Member& m : members_) text += (text.empty() ? "" : "+") + std::string{config::to_string(m.settings.type)};
  return text;
}

std::optional<std::string> References::selected() const {
  if (const auto primary = selector_.primary()) return members_[*primary].name;
  return std::nullopt;
}

}  // namespace app
