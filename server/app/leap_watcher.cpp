#include "server/app/leap_watcher.hpp"

#include "server/app/log.hpp"

namespace app {
namespace {

std::string optional_time(const std::optional<leapdb::UtcTime>& t) {
  return t ? leapdb::format_rfc3339(*t) : "unknown";
}

}  // namespace

LeapWatcher::LeapWatcher(const config::LeapDb& settings) : settings_(settings) {}

std::vector<std::optional<io::FileSignature>> LeapWatcher::signatures() const {
  std::vector<std::optional<io::FileSignature>> out;
  for (const std::string& path : settings_.files) out.push_back(io::file_signature(path));
  return out;
}

bool LeapWatcher::start(leapdb::UtcTime now, const Acceptor& accept) {
  if (settings_.files.empty()) {
    log(Level::warning, "leap_table_none", {{"detail", "no leap files configured (leapdb.files): leaps are unknown"}});
    const std::vector<std::string> refusals = accept(table_);
    for (const auto& refusal : refusals) log(Level::error, "config_rejected", {{"problem", refusal}});
    return refusals.empty();
  }
  return load("start", now, accept);
}

bool LeapWatcher::poll(leapdb::UtcTime now, const Acceptor& accept) {
  if (settings_.files.empty()) return false;
  if (signatures() != seen_) return load("changed on disk", now, accept);
  report_freshness(now, false);
  return false;
}

bool LeapWatcher::reload(std::string_view reason, leapdb::UtcTime now, const Acceptor& accept) {
  return !settings_.files.empty() && load(reason, now, accept);
}

bool LeapWatcher::load(std::string_view reason, leapdb::UtcTime now, const Acceptor& accept) {
  // Signatures first: a write racing with the read below changes them again, so the
  // next poll retries instead of missing it.
  seen_ = signatures();
  std::vector<leapdb::SourceBytes> inputs;
  std::vector<leapdb::Problem> unreadable;
  for (const std::string& path : settings_.files) {
    io::FileRead file = io::read_file(path);
    if (!file.ok()) {
      unreadable.push_back(leapdb::Problem{path, 0, "file", file.error});
      continue;
    }
    inputs.push_back({path, std::move(file.bytes)});
  }
  leapdb::Combined combined = leapdb::combine(inputs, leapdb::ParseOptions{.allow_unhashed = settings_.allow_unhashed});
  combined.problems.insert(combined.problems.begin(), unreadable.begin(), unreadable.end());
  if (!unreadable.empty()) combined.table.reset();

  for (const auto& warning : combined.warnings) log(Level::warning, "leap_file_warning", {{"problem", warning.to_string()}});
  std::vector<std::string> refusals;
  std::shared_ptr<const leapdb::LeapTable> candidate;
  if (combined.table) {
    candidate = std::make_shared<const leapdb::LeapTable>(std::move(*combined.table));
    refusals = accept(candidate);
  }
  if (!candidate || !refusals.empty()) {
    for (const auto& problem : combined.problems) {
      log(Level::error, "leap_file_rejected", {{"problem", problem.to_string()}});
    }
    for (const auto& refusal : refusals) log(Level::error, "leap_table_refused", {{"problem", refusal}});
    log(Level::error, "leap_load_failed",
        {{"reason", std::string{reason}},
         {"kept", loaded_ ? "the previous table from " + table_->source : "nothing (no table loaded yet)"}});
    return false;
  }

  table_ = std::move(candidate);
  loaded_ = true;
  const leapdb::Leap* next = table_->next_leap_after(now);
  log(Level::info, "leap_table_loaded",
      {{"reason", std::string{reason}},
       {"source", table_->source},
       {"files", std::to_string(settings_.files.size())},
       {"leaps", std::to_string(table_->leaps.size())},
       {"tai_utc", std::to_string(table_->tai_utc_at(now))},
       {"last_leap", table_->leaps.empty() ? "none" : leapdb::format_date(table_->leaps.back().day())},
       {"next_leap", next ? leapdb::format_date(next->day()) + (next->sign > 0 ? " +1" : " -1") : "none"},
       {"expires", optional_time(table_->expires)},
       {"last_update", optional_time(table_->last_update)},
       {"hash", std::string{leapdb::to_string(table_->hash)}}});
  report_freshness(now, true);
  return true;
}

void LeapWatcher::report_freshness(leapdb::UtcTime now, bool always) {
  if (!loaded_) return;
  const auto warning = std::chrono::duration_cast<leapdb::Nanoseconds>(std::chrono::days{settings_.expiry_warning_days});
  const leapdb::Freshness state = leapdb::freshness(*table_, now, warning);
  if (state == freshness_ && !always) return;
  freshness_ = state;
  const Field expires{"expires", optional_time(table_->expires)};
  const Field source{"source", table_->source};
  if (state == leapdb::Freshness::expiring) {
    const auto left = std::chrono::floor<std::chrono::days>(*table_->expires - now).count();
    log(Level::warning, "leap_table_expiring",
        {expires, source, {"days_left", std::to_string(left)}, {"detail", "update tzdata or the leap file"}});
  } else if (state == leapdb::Freshness::expired) {
    log(Level::warning, "leap_table_expired",
        {expires, source, {"detail", "leaps announced after the expiry are unknown: update tzdata or the leap file"}});
  }
}

}  // namespace app
