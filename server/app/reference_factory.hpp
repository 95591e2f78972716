#pragma once
// Opens the configured reference: the one place that knows both the configuration and every
// source type. A reference that cannot be opened (a missing device, a path that is not a PHC)
// is a problem naming the file, line and key, at start and on reload alike.

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "config/config.hpp"
#include "server/reference/quality.hpp"
#include "server/reference/source.hpp"

namespace app {

struct OpenedReference {
  std::unique_ptr<reference::Source> source;
  reference::HoldoverPolicy policy;
};

// `precision`: the system clock's, measured at start.
std::variant<OpenedReference, config::Problem> open_reference(const config::Reference& settings, std::int8_t precision);

// The settings that need a new source when they change (holdover and the local stratum do not).
bool same_source(const config::Reference& a, const config::Reference& b);

}  // namespace app
