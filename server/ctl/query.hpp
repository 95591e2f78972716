#pragma once

#include <chrono>

#include "server/ctl/target.hpp"

namespace ctl {

struct QueryOptions {
  Target target;
  bool json = false;
  std::chrono::milliseconds timeout{2000};
  std::uint8_t version = 4;
};

// Sends one request, prints the result (text or JSON) on stdout; returns the exit status.
int run_query(const QueryOptions& options);

}  // namespace ctl
