#pragma once
// A decision's outcome in the shapes tests compare: optional, so a check on the wrong outcome
// fails instead of reading through a null pointer.

#include <optional>

#include "server/ntp/responder.hpp"

namespace test_decision {

inline std::optional<ntp::DropReason> drop_reason(const ntp::Decision& decision) {
  if (const auto* drop = decision.as<ntp::Drop>()) return drop->reason;
  return std::nullopt;
}

inline std::optional<ntp::Kiss> kiss(const ntp::Decision& decision) {
  if (const auto* kod = decision.as<ntp::KissOfDeath>()) return kod->code;
  return std::nullopt;
}

inline bool time_reply(const ntp::Decision& decision) { return decision.as<ntp::TimeReply>() != nullptr; }

inline bool nts_time(const ntp::Decision& decision) {
  const auto* time = decision.as<ntp::TimeReply>();
  return time != nullptr && time->nts.has_value();
}

inline bool nts_nak(const ntp::Decision& decision) { return decision.as<ntp::NtsNak>() != nullptr; }

inline ntp::MacKey mac_key(const ntp::Decision& decision) { return decision.mac_key(); }

// Interleaved mode's part of a time reply: whether to save its timestamps, and what it carries.
inline bool saves_interleaved(const ntp::Decision& decision) {
  const auto* time = decision.as<ntp::TimeReply>();
  return time != nullptr && time->save_interleaved;
}

inline std::optional<ntp::Timestamp> interleaved_transmit(const ntp::Decision& decision) {
  const auto* time = decision.as<ntp::TimeReply>();
  return time != nullptr ? time->interleaved_transmit : std::nullopt;
}

}  // namespace test_decision
