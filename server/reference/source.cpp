#include "server/reference/source.hpp"

namespace reference {

std::string_view to_string(LeapWarning warning) {
  switch (warning) {
    case LeapWarning::none: return "none";
    case LeapWarning::insert: return "insert";
    case LeapWarning::remove: return "delete";
    case LeapWarning::unknown: return "unknown";
  }
  return "unknown";
}

std::string_view to_string(SourceState state) {
  switch (state) {
    case SourceState::selected: return "selected";
    case SourceState::candidate: return "candidate";
    case SourceState::falseticker: return "falseticker";
    case SourceState::unreachable: return "unreachable";
    case SourceState::refused: return "refused";
  }
  return "unknown";
}

}  // namespace reference
